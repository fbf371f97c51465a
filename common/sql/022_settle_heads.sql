-- 022_settle_heads — what cks_apply_settle reads first for an object whose
-- heads wait, in one round trip instead of three (issue 8: benchmarks,
-- ninth pass): the object's row locked and its head (as head_lock, 008:
-- locked first, in a statement of its own, the head read after any wait),
-- the origin and name of the incoming revision (the "remote" side of the
-- conflicts; the consumer read its whole state for them), and the
-- object's effective heads (017), sorted, each flagged if the incoming
-- revision is in its ancestry.
--
-- One row per effective head (head, in_origin and in_name repeated); one
-- row with eff NULL if there is none; no row if the object does not exist
-- or has no head. in_origin is NULL if the incoming revision is not stored
-- here.
CREATE FUNCTION ckansync.settle_heads(p_object uuid, p_incoming uuid)
RETURNS TABLE (head uuid, in_origin text, in_name text, eff uuid, has_incoming boolean)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	PERFORM 1 FROM object o WHERE o.id = p_object FOR UPDATE;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	RETURN QUERY
	SELECT o.head, v.origin, r.state->>'name', e.head, e.has_incoming
	  FROM object o
	  LEFT JOIN object_revision r ON r.id = p_incoming
	  LEFT JOIN revision v ON v.id = r.revision_id
	  LEFT JOIN effective_heads(p_object, p_incoming) e ON true
	 WHERE o.id = p_object AND o.head IS NOT NULL
	 ORDER BY e.head;
END;
$$;
