-- 010_apply_fast — the probe of an incoming revision (007) and, when it is a
-- plain fast-forward or create, its write (write_objrev, 009) in one round
-- trip (issue 8: benchmarks, third pass). The consumer used to ask
-- apply_probe, decide in C, then send write_objrev: two round trips and two
-- function calls per revision, when nearly every revision of a backlog is a
-- fast-forward. Written here only when the C code (apply.c,
-- cks_apply_revision) would write it the same way, straight away:
--   * not stored yet, not a purge, its object not purged;
--   * the object it applies to is its own (no group alias);
--   * no other object holds its name, no tag id clash;
--   * a diff is given (the C code computes a missing one from the parent);
--   * and either an edit of the current head (one parent, that head, same
--     name space), or a package new here (no row, no parents).
-- Otherwise nothing is written and out_written is NULL: the caller goes on
-- with the probe's answers, as after apply_probe ('seen' when the revision
-- is stored here already: the caller skips it, as it would).
-- p_window (not NULL): the call is one of several the consumer pipelined in
-- one transaction (libpq pipeline mode). Once one of them has not been
-- written, the later ones of the same window write nothing either (and
-- probe nothing: all NULL): the consumer applies them one by one after it,
-- in order, exactly as if they had not been sent.
CREATE FUNCTION ckansync.apply_fast(
	p_window bigint, p_objrev uuid, p_object uuid, p_type text, p_kind text, p_name text,
	p_tags jsonb, p_revision uuid, p_origin text, p_ts bigint, p_author text,
	p_message text, p_parents uuid[], p_state jsonb, p_diff jsonb, p_private boolean,
	p_channel text)
RETURNS TABLE (out_seen boolean, out_purged_by text, out_target uuid, out_found boolean,
	       out_head uuid, out_head_name text, out_head_origin text, out_head_ts bigint,
	       out_head_type text, out_owner uuid, out_tag_clash boolean, out_row boolean,
	       out_written text)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	IF p_window IS NOT NULL
	   AND current_setting('ckansync.window_stopped', true) = p_window::text THEN
		RETURN NEXT;
		RETURN;
	END IF;
	SELECT * INTO out_seen, out_purged_by, out_target, out_found, out_head, out_head_name,
		      out_head_origin, out_head_ts, out_head_type, out_owner, out_tag_clash, out_row
	  FROM apply_probe(p_objrev, p_object, p_type, p_kind, p_name, p_tags);
	IF out_seen AND p_kind <> 'purge' THEN
		out_written := 'seen'; -- stored already: skipped, whatever its place
	ELSIF NOT out_seen AND p_kind = 'edit' AND out_purged_by IS NULL
	   AND out_target = p_object AND out_owner IS NULL AND NOT out_tag_clash
	   AND p_state IS NOT NULL AND p_diff IS NOT NULL
	   AND ((out_found AND (out_head_type = 'package') = (p_type = 'package')
		 AND cardinality(p_parents) = 1 AND p_parents[1] = out_head)
		OR (NOT out_found AND NOT out_row AND p_type = 'package'
		    AND cardinality(p_parents) = 0)) THEN
		out_written := write_objrev(p_objrev, p_revision, p_origin, p_ts, p_author,
					    p_message, p_kind, p_type, p_object, p_parents,
					    p_state, p_diff, true, out_found, p_name,
					    p_private, p_channel);
	END IF;
	IF p_window IS NOT NULL AND out_written IS DISTINCT FROM ''
	   AND out_written IS DISTINCT FROM 'seen' THEN
		-- session-wide, not transaction-local: a SET LOCAL made inside a
		-- function that has a SET clause ends with the function call. Window
		-- numbers never repeat in a session.
		PERFORM set_config('ckansync.window_stopped', p_window::text, false);
	END IF;
	RETURN NEXT;
END;
$$;
