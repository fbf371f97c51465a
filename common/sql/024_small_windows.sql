-- 024_small_windows — a window of a few revisions is written one revision
-- at a time by apply_fast (010/011) instead of set-based by apply_window
-- (013) (issue 8: benchmarks, tenth pass). A steady stream reaches the
-- consumer a revision or two at a time; apply_window's twenty statements
-- cost about the same whatever the window's size (2.4-2.8 ms for one or two
-- revisions, measured), apply_fast ~1 ms per revision, and apply_window
-- only costs less per revision from about seven revisions on. The answer is
-- the one apply_window gives: per revision out_found and out_written, the
-- revisions after one that apply_fast did not write (or stopped the window
-- on) answered "not written" (NULL), for the consumer to apply them the
-- slow way; apply_window also goes to apply_fast for every revision that is
-- not a plain one, so both paths write the same rows.
CREATE OR REPLACE FUNCTION ckansync.apply_window_after(
	p_after bigint, p_window bigint, p_objrev uuid[], p_object uuid[], p_type text[],
	p_name text[], p_tags jsonb[], p_revision uuid[], p_origin text[], p_ts bigint[],
	p_author text[], p_message text[], p_parent uuid[], p_state jsonb[], p_diff jsonb[],
	p_private boolean[], p_channel text)
RETURNS TABLE (out_found boolean, out_written text)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
DECLARE
	n integer := coalesce(cardinality(p_objrev), 0);
	f record;
	stopped boolean := false;
BEGIN
	IF p_after IS NOT NULL
	   AND current_setting('ckansync.window_stopped', true) = p_after::text THEN
		PERFORM set_config('ckansync.window_stopped', p_window::text, false);
		RETURN QUERY SELECT NULL::boolean, NULL::text FROM generate_series(1, n);
		RETURN;
	END IF;
	IF n > 4 THEN
		RETURN QUERY SELECT * FROM apply_window(p_window, p_objrev, p_object, p_type, p_name,
							p_tags, p_revision, p_origin, p_ts, p_author,
							p_message, p_parent, p_state, p_diff, p_private,
							p_channel);
		RETURN;
	END IF;
	FOR i IN 1 .. n LOOP
		out_found := NULL;
		out_written := NULL;
		IF NOT stopped THEN
			-- the parents: none for a create (its parent is NULL)
			f := apply_fast(p_window, p_objrev[i], p_object[i], p_type[i], 'edit', p_name[i],
					p_tags[i], p_revision[i], p_origin[i], p_ts[i], p_author[i],
					p_message[i], array_remove(ARRAY[p_parent[i]], NULL),
					p_state[i], p_diff[i], p_private[i], p_channel);
			out_found := f.out_found;
			out_written := f.out_written;
			stopped := f.out_written IS NULL
				   OR f.out_written NOT IN ('', 'seen', 'pending');
		END IF;
		RETURN NEXT;
	END LOOP;
END;
$$;
