-- 021_merge_round_trips — a merge of waiting heads in fewer round trips
-- (issue 8: benchmarks, ninth pass). cks_apply_settle merged one object's
-- two heads in 21 statements, each a round trip; PostgreSQL executed them
-- in 2.3 ms, the merge took 6.5 ms (4,000 packages, 800 diverged, 16,000
-- origin edits on a 2-core machine: the rest was the consumer and the
-- backend waking each other up). apply.c now reads what a merge needs in
-- one call (merge_inputs) and makes the merge the head in another
-- (set_merged_head).

-- The nearest common ancestor of two object revisions (walking parents
-- depth-first from both; a DAG, so no cycles), the one nearest to both,
-- ties broken by id. Each step looks its parents up by id (a join there
-- can be planned as a hash join over all of object_revision, at every
-- step). NULL if none is stored here. Was the text of
-- cks_store_common_ancestor. PL/pgSQL, whose plan is kept for the session:
-- a SQL function that is not inlined is planned again at every call
-- (0.68 ms a merge for merge_inputs, half of it that).
CREATE FUNCTION ckansync.common_ancestor(p_a uuid, p_b uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = ckansync, pg_catalog AS $$
BEGIN
	RETURN (WITH RECURSIVE
	aa(id, d) AS (SELECT p_a, 0 UNION SELECT unnest((SELECT r.parents
		FROM object_revision r WHERE r.id = aa.id)), aa.d + 1
		FROM aa WHERE aa.d < 100000),
	bb(id, d) AS (SELECT p_b, 0 UNION SELECT unnest((SELECT r.parents
		FROM object_revision r WHERE r.id = bb.id)), bb.d + 1
		FROM bb WHERE bb.d < 100000)
	SELECT x.id FROM (SELECT id, min(d) d FROM aa GROUP BY id) x
	JOIN (SELECT id, min(d) d FROM bb GROUP BY id) y ON x.id = y.id
	WHERE EXISTS (SELECT 1 FROM object_revision r WHERE r.id = x.id)
	ORDER BY x.d + y.d, x.id LIMIT 1);
END;
$$;

-- What merging heads p_x and p_y into p_merge needs: one row 'merged' if
-- p_merge is stored already (nothing to do); else a row for each of p_x,
-- p_y ('x', 'y') and their nearest common ancestor ('base'), when stored:
-- its id, state as text, origin, time (microseconds) and object. Replaces
-- five round trips (is the merge stored, read x, read y, find the
-- ancestor, read it).
CREATE FUNCTION ckansync.merge_inputs(p_x uuid, p_y uuid, p_merge uuid)
RETURNS TABLE (role text, id uuid, state text, origin text, ts bigint, object_id uuid)
LANGUAGE plpgsql STABLE SET search_path = ckansync, pg_catalog AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM object_revision r WHERE r.id = p_merge) THEN
		RETURN QUERY SELECT 'merged'::text, p_merge, NULL::text, NULL::text,
			NULL::bigint, NULL::uuid;
		RETURN;
	END IF;
	RETURN QUERY
	SELECT w.role, r.id, r.state::text, v.origin, us(v."timestamp"), r.object_id
	FROM (VALUES ('x', p_x, 1), ('y', p_y, 2),
		('base', common_ancestor(p_x, p_y), 3)) w(role, rid, k)
	JOIN object_revision r ON r.id = w.rid
	JOIN revision v ON v.id = r.revision_id
	ORDER BY w.k;
END;
$$;

-- Makes stored revision p_head (named p_name) the head of object p_object
-- and refreshes its current state, unless another object of its name
-- space holds p_name here: then nothing is changed and that object's id is
-- returned (apply.c puts a rename on top). NULL when the head was set.
-- Replaces three round trips (who holds the name, set the head, refresh).
CREATE FUNCTION ckansync.set_merged_head(p_object uuid, p_type text, p_head uuid,
	p_name text, p_private boolean)
RETURNS uuid
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
DECLARE
	v_owner uuid;
BEGIN
	IF p_name <> '' THEN
		SELECT o.id INTO v_owner FROM object o
		 WHERE o.name_space = CASE WHEN p_type = 'package' THEN 'package' ELSE 'group' END
		   AND o.name = p_name;
		IF v_owner IS NOT NULL AND v_owner <> p_object THEN
			RETURN v_owner;
		END IF;
	END IF;
	UPDATE object SET head = p_head, name = p_name, private = p_private WHERE id = p_object;
	PERFORM refresh_current(p_object);
	RETURN NULL;
END;
$$;
