-- 011_apply_fast_defer — apply_fast (010) also stores a revision that
-- diverges from the head (issue 8: benchmarks, merge-heavy case). Such a
-- revision (an edit whose parent is not the head here: the object changed
-- here too) goes into history at once and its object into pending_head; the
-- consumer merges the waiting heads when it has caught up (apply.c, defer and
-- cks_apply_settle). apply_fast left it unwritten, which stopped its
-- pipelined window: the rest of the window was applied one revision per
-- round trip, and in a backlog where 20 % of the revisions diverge most
-- windows stopped early. It is now written here exactly as defer() writes it,
-- when:
--   * not stored yet, not a purge, its object not purged, an edit;
--   * the object it applies to is its own (no group alias) and exists here
--     with a head, in the same name space (a package stays a package);
--   * a diff is given;
--   * and it is not a plain fast-forward (those are written as in 010, or,
--     with a name or tag clash, left to the C code's write_head).
-- out_written is then 'pending'; the window goes on. A name or tag clash does
-- not matter here: nothing of the head or the current rows changes until
-- the merge, which handles them.
CREATE OR REPLACE FUNCTION ckansync.apply_fast(
	p_window bigint, p_objrev uuid, p_object uuid, p_type text, p_kind text, p_name text,
	p_tags jsonb, p_revision uuid, p_origin text, p_ts bigint, p_author text,
	p_message text, p_parents uuid[], p_state jsonb, p_diff jsonb, p_private boolean,
	p_channel text)
RETURNS TABLE (out_seen boolean, out_purged_by text, out_target uuid, out_found boolean,
	       out_head uuid, out_head_name text, out_head_origin text, out_head_ts bigint,
	       out_head_type text, out_owner uuid, out_tag_clash boolean, out_row boolean,
	       out_written text)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
DECLARE
	v_ff boolean;
BEGIN
	IF p_window IS NOT NULL
	   AND current_setting('ckansync.window_stopped', true) = p_window::text THEN
		RETURN NEXT;
		RETURN;
	END IF;
	SELECT * INTO out_seen, out_purged_by, out_target, out_found, out_head, out_head_name,
		      out_head_origin, out_head_ts, out_head_type, out_owner, out_tag_clash, out_row
	  FROM apply_probe(p_objrev, p_object, p_type, p_kind, p_name, p_tags);
	-- what cks_apply_revision takes for a fast-forward (step 5)
	v_ff := out_found AND p_kind = 'edit' AND cardinality(p_parents) = 1
		AND p_parents[1] = out_head AND out_target = p_object;
	IF out_seen AND p_kind <> 'purge' THEN
		out_written := 'seen'; -- stored already: skipped, whatever its place
	ELSIF NOT out_seen AND p_kind = 'edit' AND out_purged_by IS NULL
	   AND out_target = p_object AND out_owner IS NULL AND NOT out_tag_clash
	   AND p_state IS NOT NULL AND p_diff IS NOT NULL
	   AND ((v_ff AND (out_head_type = 'package') = (p_type = 'package'))
		OR (NOT out_found AND NOT out_row AND p_type = 'package'
		    AND cardinality(p_parents) = 0)) THEN
		out_written := write_objrev(p_objrev, p_revision, p_origin, p_ts, p_author,
					    p_message, p_kind, p_type, p_object, p_parents,
					    p_state, p_diff, true, out_found, p_name,
					    p_private, p_channel);
	ELSIF NOT out_seen AND p_kind = 'edit' AND out_purged_by IS NULL
	   AND out_found AND NOT v_ff AND out_target = p_object
	   AND (out_head_type = 'package') = (p_type = 'package')
	   AND p_state IS NOT NULL AND p_diff IS NOT NULL THEN
		-- apply.c, defer(): history only, the head waits for the merge
		out_written := write_objrev(p_objrev, p_revision, p_origin, p_ts, p_author,
					    p_message, p_kind, p_type, p_object, p_parents,
					    p_state, p_diff, false, true, p_name,
					    p_private, p_channel);
		IF out_written IN ('', 'duplicate') THEN
			INSERT INTO pending_head (object_id, incoming) VALUES (out_target, p_objrev)
			ON CONFLICT (object_id) DO UPDATE SET incoming = excluded.incoming;
			out_written := 'pending';
		END IF;
	END IF;
	IF p_window IS NOT NULL AND out_written IS DISTINCT FROM ''
	   AND out_written IS DISTINCT FROM 'seen' AND out_written IS DISTINCT FROM 'pending' THEN
		-- session-wide, not transaction-local: a SET LOCAL made inside a
		-- function that has a SET clause ends with the function call. Window
		-- numbers never repeat in a session.
		PERFORM set_config('ckansync.window_stopped', p_window::text, false);
	END IF;
	RETURN NEXT;
END;
$$;
