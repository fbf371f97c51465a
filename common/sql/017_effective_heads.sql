-- 017_effective_heads — a merge's effective heads, in a function that runs
-- with a small work_mem (issue 8: benchmarks, seventh pass). Before each
-- merge the consumer asks for the heads of the object's revision graph
-- (its own revisions and those of objects merged into it by name), each
-- flagged if the incoming revision is in its ancestry: three recursive
-- walks. PostgreSQL cannot estimate a recursive walk; it assumed millions
-- of rows for walks of a few, and each walk's UNION built its hash table
-- for that many, up to work_mem x hash_mem_multiplier: 8 MB allocated and
-- zeroed twice per merge with the default 4 MB work_mem, 10-25 ms of a
-- merge's ~26 ms, where the walks themselves took under a millisecond
-- (200 merges of real datasets, EXPLAIN ANALYZE: planned 0.6 ms of
-- execution, 21 ms reported). Under work_mem = 64kB the tables start small
-- and grow as the walk needs (a hash table of a recursive UNION is not
-- limited by work_mem, only sized by it), so a long history still works.
-- The query is the one apply.c sent (same rows, same order); PL/pgSQL keeps
-- its plan for the session.
CREATE FUNCTION ckansync.effective_heads(p_object uuid, p_incoming uuid)
RETURNS TABLE (head uuid, has_incoming boolean)
LANGUAGE plpgsql STABLE SET search_path = ckansync, pg_catalog SET work_mem = '64kB' AS $$
BEGIN
	RETURN QUERY
	WITH RECURSIVE
	revs AS (SELECT r.id, r.parents FROM object_revision r
		  WHERE r.object_id = ANY (ARRAY(SELECT p_object UNION SELECT a.alias_id
						  FROM object_alias a WHERE a.object_id = p_object))),
	edits AS (SELECT v.id, v.parents FROM revs v
		   WHERE cardinality(v.parents) < 2
		      OR EXISTS (SELECT 1 FROM unnest(v.parents) x(p)
				  WHERE NOT EXISTS (SELECT 1 FROM object_revision y WHERE y.id = x.p))),
	anc(id) AS (SELECT unnest(ed.parents) FROM edits ed
		    UNION
		    SELECT unnest((SELECT r.parents FROM object_revision r WHERE r.id = anc.id))
		      FROM anc),
	e AS (SELECT ed.id FROM edits ed WHERE ed.id NOT IN (SELECT anc.id FROM anc)),
	up(h, id) AS (SELECT e.id, e.id FROM e
		      UNION
		      SELECT up.h, unnest((SELECT r.parents FROM object_revision r WHERE r.id = up.id))
			FROM up)
	SELECT e.id, EXISTS (SELECT 1 FROM up WHERE up.h = e.id AND up.id = p_incoming)
	  FROM e ORDER BY e.id;
END;
$$;
