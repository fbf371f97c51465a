-- 014_apply_window_after — a window sent while the one before it is still
-- being applied (issue 8: benchmarks, fifth pass). The consumer keeps
-- PostgreSQL busy by sending the next window (libpq pipeline mode) before it
-- has read the answer of the one before. If that one stopped (a revision it
-- could not write: the consumer applies it and the rest of that window one
-- by one first), the next one must write nothing: apply_window_after(after,
-- ...) answers "not written" for all its revisions when window `after`
-- stopped, and counts as stopped itself (so a third one chained after it
-- writes nothing either); the consumer sends it again after the slow part.
-- A window stops when apply_fast stops it (010/011: it sets
-- ckansync.window_stopped to the window's number, for the session, the
-- only way apply_window, 013, stops). Otherwise it is apply_window.
CREATE FUNCTION ckansync.apply_window_after(
	p_after bigint, p_window bigint, p_objrev uuid[], p_object uuid[], p_type text[],
	p_name text[], p_tags jsonb[], p_revision uuid[], p_origin text[], p_ts bigint[],
	p_author text[], p_message text[], p_parent uuid[], p_state jsonb[], p_diff jsonb[],
	p_private boolean[], p_channel text)
RETURNS TABLE (out_found boolean, out_written text)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	IF p_after IS NOT NULL
	   AND current_setting('ckansync.window_stopped', true) = p_after::text THEN
		PERFORM set_config('ckansync.window_stopped', p_window::text, false);
		RETURN QUERY SELECT NULL::boolean, NULL::text
			       FROM generate_series(1, coalesce(cardinality(p_objrev), 0));
		RETURN;
	END IF;
	RETURN QUERY SELECT * FROM apply_window(p_window, p_objrev, p_object, p_type, p_name, p_tags,
						p_revision, p_origin, p_ts, p_author, p_message,
						p_parent, p_state, p_diff, p_private, p_channel);
END;
$$;
