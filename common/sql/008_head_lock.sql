-- 008_head_lock — head_lock (004) locked the object row inside the join
-- with its head revision: when another transaction moved the head while
-- this one waited for the lock, PostgreSQL re-checked the join with the new
-- head against the old revision row and dropped the row, so an existing
-- object read as not found (the merge of waiting heads and the group-alias
-- path use it). Now the row is locked first, in a statement of its own, and
-- the head read after the wait (READ COMMITTED: a fresh snapshot that sees
-- the committed head), as apply_probe (007) does.
CREATE OR REPLACE FUNCTION ckansync.head_lock(p_object uuid, p_state boolean)
RETURNS TABLE (id uuid, head uuid, name text, origin text, ts_us bigint, state text)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	PERFORM 1 FROM object o WHERE o.id = p_object FOR UPDATE;
	RETURN QUERY
	SELECT o.id, o.head, o.name, v.origin, us(v."timestamp"),
	       CASE WHEN p_state THEN r.state::text END
	  FROM object o
	  JOIN object_revision r ON r.id = o.head
	  JOIN revision v ON v.id = r.revision_id
	 WHERE o.id = p_object;
END;
$$;
