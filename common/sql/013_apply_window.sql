-- 013_apply_window — a window of revisions applied in one call, set-based
-- where it can be (issue 8: benchmarks, fifth pass). The consumer sent each
-- revision of a window as its own apply_fast call (010/011, pipelined): some
-- thirty statements per revision, each a few rows, and the statement overhead
-- was most of the mirror's cost. apply_window takes the window as arrays (in
-- the consumer's order) and answers one row per revision, in order, with the
-- two columns of apply_fast's answer the consumer reads (found, written).
--
-- It walks the window in order. A run of consecutive revisions that are all
-- "plain" is written together, a few statements for the whole run; a
-- revision that is not plain is given to apply_fast alone (so every case
-- apply_fast handles is handled exactly as before, window stop included);
-- then the next run. Plain, against the database as it is when the run
-- starts (the objects of the window are locked first, as apply_probe locks
-- each in turn):
--   * a package; not stored yet; its object not purged; with a name (not
--     empty) held by no other object; a state and a diff;
--   * a create (no parent) of an object that has no row here, or a
--     fast-forward edit (its parent is the head) of a package whose current
--     rows exist;
--   * the first revision of its object and of its name in the run; one
--     whose object or name came earlier in the window (e.g. the next edit
--     of the same package) starts a new run, checked again against what
--     the window wrote before it (the others are checked once, for the
--     whole window, at its start: apply_plain; only a revision of the same
--     object or name can make a plain one not plain);
--   * no tag of it carries a CKAN tag id other than the one this instance or
--     an earlier revision of the run gives that tag name (a clash is left to
--     apply_fast, which declines it, as before).
-- Under those conditions the run's revisions touch disjoint objects and
-- names, so writing them together gives the rows writing them one by one
-- gives: the same history rows (revision rows in order of first arrival,
-- outbox order drawn in window order), heads, current rows (each child set
-- rewritten only when its section changed, as refresh_current does) and tag
-- rows (first arrival sets vocabulary_id and source_id, an id adopted
-- later). itest_store's test_window_like_one_by_one compares both ways.
-- Whether each revision is plain (see above) as the database is now, its
-- place in the window aside.
CREATE FUNCTION ckansync.apply_plain(
	p_objrev uuid[], p_object uuid[], p_type text[], p_name text[], p_parent uuid[],
	p_state jsonb[], p_diff jsonb[])
RETURNS boolean[]
LANGUAGE sql STABLE SET search_path = ckansync, pg_catalog AS $$
	SELECT array_agg(coalesce(u.typ = 'package' AND u.st IS NOT NULL AND u.df IS NOT NULL
		   AND u.nm <> ''
		   AND NOT EXISTS (SELECT 1 FROM object_revision r WHERE r.id = u.orv)
		   AND NOT EXISTS (SELECT 1 FROM tombstone t WHERE t.object_id = u.obj)
		   AND NOT EXISTS (SELECT 1 FROM object x
				    WHERE x.name_space = 'package' AND x.name = u.nm
				      AND x.id <> u.obj)
		   AND CASE WHEN u.par IS NULL
			    THEN NOT EXISTS (SELECT 1 FROM object o WHERE o.id = u.obj)
			    ELSE EXISTS (SELECT 1 FROM object o
					  WHERE o.id = u.obj AND o.head = u.par AND o.type = 'package')
				 AND EXISTS (SELECT 1 FROM package p WHERE p.id = u.obj)
		       END, false) ORDER BY u.i)
	  FROM unnest(p_objrev, p_object, p_type, p_name, p_parent, p_state, p_diff)
	       WITH ORDINALITY AS u(orv, obj, typ, nm, par, st, df, i)
$$;

CREATE FUNCTION ckansync.apply_window(
	p_window bigint, p_objrev uuid[], p_object uuid[], p_type text[], p_name text[],
	p_tags jsonb[], p_revision uuid[], p_origin text[], p_ts bigint[], p_author text[],
	p_message text[], p_parent uuid[], p_state jsonb[], p_diff jsonb[], p_private boolean[],
	p_channel text)
RETURNS TABLE (out_found boolean, out_written text)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
DECLARE
	n integer := coalesce(cardinality(p_objrev), 0);
	a integer := 1; -- first revision not handled yet
	b integer;      -- last revision of the run starting at a
	v_cut bigint;
	v_hard boolean; -- the run ends before a revision that is not plain
	v_ok boolean[];  -- plain, as the window found the database (apply_plain)
	v_rep boolean[]; -- its object or name came earlier in the window
	v_xid xid8;
	f record;
	found_ boolean[] := array_fill(NULL::boolean, ARRAY[n]);
	written text[] := array_fill(NULL::text, ARRAY[n]);
	-- per revision of the run, in order
	r_created timestamptz[];
	r_keep boolean[];   -- search vector kept (what it is made of is unchanged)
	r_tags boolean[];   -- child sets to rewrite
	r_extras boolean[];
	r_res boolean[];
	r_mem boolean[];
	-- the tags of the revisions whose tags are rewritten, in order
	e_obj uuid[];
	e_name text[];
	e_voc text[];
	e_id text[];
	e_state text[];
BEGIN
	IF n = 0 THEN
		RETURN;
	END IF;
	PERFORM 1 FROM object o WHERE o.id = ANY (p_object) FOR UPDATE;
	v_xid := pg_current_xact_id();
	v_ok := apply_plain(p_objrev, p_object, p_type, p_name, p_parent, p_state, p_diff);
	SELECT array_agg(r.rep ORDER BY r.i) INTO v_rep
	  FROM (SELECT u.i,
		       row_number() OVER (PARTITION BY u.obj ORDER BY u.i) > 1
			   OR (u.nm IS NOT NULL
			       AND row_number() OVER (PARTITION BY u.nm ORDER BY u.i) > 1) AS rep
		  FROM unnest(p_object, p_name) WITH ORDINALITY AS u(obj, nm, i)) r;
	WHILE a <= n LOOP
		-- the run: up to the first revision that is not plain, or the
		-- first whose object or name came earlier in the window (a new run
		-- starts there, that revision checked again against what the
		-- window wrote before it)
		b := a - 1;
		v_hard := false;
		FOR j IN a .. n LOOP
			EXIT WHEN v_rep[j] AND j > a;
			IF v_rep[j] THEN
				v_ok[j] := (apply_plain(p_objrev[j:j], p_object[j:j], p_type[j:j],
							p_name[j:j], p_parent[j:j], p_state[j:j],
							p_diff[j:j]))[1];
			END IF;
			IF NOT v_ok[j] THEN
				v_hard := true;
				EXIT;
			END IF;
			b := j;
		END LOOP;
		-- and up to the first one with a tag id other than the tag's
		IF b >= a THEN
			SELECT min(e.i) INTO v_cut
			  FROM (SELECT e.i, e.tid,
				       coalesce(tg.source_id,
						first_value(e.tid) OVER (PARTITION BY e.nm
									 ORDER BY e.tid IS NULL, e.i, e.k))
					   AS ref
				  FROM (SELECT u.i, x.k, x.t->>'name' AS nm, x.t->>'id' AS tid
					  FROM unnest(p_tags[a:b]) WITH ORDINALITY AS u(tags, i),
					       jsonb_array_elements(CASE WHEN jsonb_typeof(u.tags) = 'array'
									 THEN u.tags ELSE '[]' END)
					       WITH ORDINALITY AS x(t, k)
					 WHERE x.t->>'name' IS NOT NULL) e
				  LEFT JOIN tag tg ON tg.name = e.nm) e
			 WHERE e.tid IS NOT NULL AND e.tid <> e.ref;
			IF v_cut IS NOT NULL THEN
				b := a + v_cut::integer - 2;
				v_hard := true;
			END IF;
		END IF;
		IF b >= a THEN
			-- what refresh_current would decide for each, from the rows as
			-- they are (the state they were built from read once, detoasted)
			SELECT array_agg(c.created ORDER BY c.i),
			       array_agg(c.old IS NOT NULL AND c.old_name IS NOT DISTINCT FROM c.nm
					 AND c.old->'title' IS NOT DISTINCT FROM c.s->'title'
					 AND c.old->'notes' IS NOT DISTINCT FROM c.s->'notes'
					 AND c.old->'tags' IS NOT DISTINCT FROM c.s->'tags'
					 AND c.old->'extras' IS NOT DISTINCT FROM c.s->'extras'
					 ORDER BY c.i),
			       array_agg(c.old IS NULL OR c.old->'tags' IS DISTINCT FROM c.s->'tags'
					 ORDER BY c.i),
			       array_agg(c.old IS NULL OR c.old->'extras' IS DISTINCT FROM c.s->'extras'
					 ORDER BY c.i),
			       array_agg(c.old IS NULL
					 OR c.old->'resources' IS DISTINCT FROM c.s->'resources'
					 ORDER BY c.i),
			       array_agg(c.old IS NULL OR c.old->'groups' IS DISTINCT FROM c.s->'groups'
					 OR c.old->'owner_org' IS DISTINCT FROM c.s->'owner_org'
					 ORDER BY c.i)
			  INTO r_created, r_keep, r_tags, r_extras, r_res, r_mem
			  FROM (SELECT u.i, u.nm, u.s, coalesce(ob.created, ts(u.t)) AS created,
				       p.name AS old_name,
				       CASE WHEN orv.id IS NOT NULL THEN '{}'::jsonb || orv.state END AS old
				  FROM unnest(p_object[a:b], p_name[a:b], p_state[a:b], p_ts[a:b])
				       WITH ORDINALITY AS u(obj, nm, s, t, i)
				  LEFT JOIN object ob ON ob.id = u.obj
				  LEFT JOIN package p ON p.id = u.obj
				  LEFT JOIN object_revision orv ON orv.id = p.objrev_id
				OFFSET 0) c;

			-- history (as write_objrev): revisions, object revisions with
			-- their outbox order, the outbox rows
			INSERT INTO revision (id, origin, "timestamp", author, message, kind)
			SELECT u.rv, u.og, ts(u.t), u.au, u.ms, 'edit'
			  FROM unnest(p_revision[a:b], p_origin[a:b], p_ts[a:b], p_author[a:b],
				      p_message[a:b]) WITH ORDINALITY AS u(rv, og, t, au, ms, i)
			 ORDER BY u.i
			ON CONFLICT (id) DO NOTHING;
			WITH ins AS (
				INSERT INTO object_revision (id, revision_id, object_type, object_id,
							     parents, state, diff, ord, seq)
				SELECT u.orv, u.rv, 'package', u.obj,
				       CASE WHEN u.par IS NULL THEN '{}'::uuid[] ELSE ARRAY[u.par] END,
				       u.st, u.df,
				       greatest(v_xid, (SELECT max(x.ord) FROM outbox x
							 WHERE x.objrev_id = u.par)),
				       nextval('outbox_seq')
				  FROM (SELECT * FROM unnest(p_objrev[a:b], p_revision[a:b], p_object[a:b],
							   p_parent[a:b], p_state[a:b], p_diff[a:b])
					       WITH ORDINALITY AS u(orv, rv, obj, par, st, df, i)
					 ORDER BY u.i) u
				RETURNING ord, seq, id)
			INSERT INTO outbox (ord, seq, kind, objrev_id)
			SELECT ins.ord, ins.seq, 0, ins.id FROM ins;

			-- heads
			INSERT INTO object (id, head, name, private, type, created)
			SELECT u.obj, u.orv, u.nm, u.pv, 'package', ts(u.t)
			  FROM unnest(p_object[a:b], p_objrev[a:b], p_name[a:b], p_private[a:b],
				      p_ts[a:b], p_parent[a:b]) WITH ORDINALITY AS u(obj, orv, nm, pv, t, par, i)
			 WHERE u.par IS NULL
			 ORDER BY u.i;
			UPDATE object o SET head = u.orv, name = u.nm, private = u.pv
			  FROM unnest(p_object[a:b], p_objrev[a:b], p_name[a:b], p_private[a:b],
				      p_parent[a:b]) AS u(obj, orv, nm, pv, par)
			 WHERE u.par IS NOT NULL AND o.id = u.obj;

			-- current rows (as refresh_current): the package rows
			INSERT INTO package (id, name, title, version, url, notes, author,
					     author_email, maintainer, maintainer_email, license_id, type,
					     owner_org, private, state, metadata_created,
					     metadata_modified, objrev_id, search)
			SELECT u.obj, u.nm, s->>'title', s->>'version', s->>'url', s->>'notes',
			       s->>'author', s->>'author_email', s->>'maintainer',
			       s->>'maintainer_email', s->>'license_id', coalesce(s->>'type', 'dataset'),
			       s->>'owner_org', u.pv, coalesce(s->>'state', 'active'), u.created,
			       ts(u.t), u.orv, package_search(u.nm, s)
			  FROM unnest(p_object[a:b], p_objrev[a:b], p_name[a:b], p_private[a:b],
				      p_ts[a:b], p_parent[a:b], p_state[a:b], r_created)
			       WITH ORDINALITY AS u(obj, orv, nm, pv, t, par, s, created, i)
			 WHERE u.par IS NULL
			 ORDER BY u.i;
			UPDATE package p SET
				name = u.nm, title = s->>'title', version = s->>'version',
				url = s->>'url', notes = s->>'notes', author = s->>'author',
				author_email = s->>'author_email', maintainer = s->>'maintainer',
				maintainer_email = s->>'maintainer_email',
				license_id = s->>'license_id', type = coalesce(s->>'type', 'dataset'),
				owner_org = s->>'owner_org', private = u.pv,
				state = coalesce(s->>'state', 'active'), metadata_created = u.created,
				metadata_modified = ts(u.t), objrev_id = u.orv,
				search = CASE WHEN u.keep THEN p.search ELSE package_search(u.nm, s) END
			  FROM unnest(p_object[a:b], p_objrev[a:b], p_name[a:b], p_private[a:b],
				      p_ts[a:b], p_parent[a:b], p_state[a:b], r_created, r_keep)
			       AS u(obj, orv, nm, pv, t, par, s, created, keep)
			 WHERE u.par IS NOT NULL AND p.id = u.obj;

			-- tags: the tag rows (first arrival names it, an id is adopted
			-- by a tag that has none), then the package's tag rows
			SELECT array_agg(u.obj ORDER BY u.i, x.k), array_agg(x.t->>'name' ORDER BY u.i, x.k),
			       array_agg(x.t->>'vocabulary_id' ORDER BY u.i, x.k),
			       array_agg(x.t->>'id' ORDER BY u.i, x.k),
			       array_agg(coalesce(x.t->>'state', 'active') ORDER BY u.i, x.k)
			  INTO e_obj, e_name, e_voc, e_id, e_state
			  FROM unnest(p_object[a:b], p_state[a:b], r_tags)
			       WITH ORDINALITY AS u(obj, s, ch, i),
			       jsonb_array_elements(CASE WHEN jsonb_typeof(u.s->'tags') = 'array'
							 THEN u.s->'tags' ELSE '[]' END)
			       WITH ORDINALITY AS x(t, k)
			 WHERE u.ch AND x.t->>'name' IS NOT NULL;
			DELETE FROM package_tag pt
			 USING unnest(p_object[a:b], p_parent[a:b], r_tags) AS u(obj, par, ch)
			 WHERE u.ch AND u.par IS NOT NULL AND pt.package_id = u.obj;
			IF e_name IS NOT NULL THEN
				INSERT INTO tag (id, name, vocabulary_id, source_id)
				SELECT DISTINCT ON (e.nm) md5('tag:' || e.nm)::uuid, e.nm, e.voc, e.tid
				  FROM unnest(e_name, e_voc, e_id) WITH ORDINALITY AS e(nm, voc, tid, k)
				 ORDER BY e.nm, e.k
				ON CONFLICT (name) DO NOTHING;
				UPDATE tag SET source_id = e.tid
				  FROM (SELECT DISTINCT ON (e.nm) e.nm, e.tid
					  FROM unnest(e_name, e_id) WITH ORDINALITY AS e(nm, tid, k)
					 WHERE e.tid IS NOT NULL
					 ORDER BY e.nm, e.k) e
				 WHERE tag.name = e.nm AND tag.source_id IS NULL;
				INSERT INTO package_tag (package_id, tag_id, state)
				SELECT DISTINCT ON (e.obj, e.nm) e.obj, md5('tag:' || e.nm)::uuid, e.st
				  FROM unnest(e_obj, e_name, e_state) WITH ORDINALITY AS e(obj, nm, st, k)
				 ORDER BY e.obj, e.nm, e.k
				ON CONFLICT DO NOTHING;
			END IF;

			-- extras
			DELETE FROM package_extra pe
			 USING unnest(p_object[a:b], p_parent[a:b], r_extras) AS u(obj, par, ch)
			 WHERE u.ch AND u.par IS NOT NULL AND pe.package_id = u.obj;
			INSERT INTO package_extra (package_id, key, value, state)
			SELECT DISTINCT ON (u.obj, x.e->>'key') u.obj, x.e->>'key',
			       CASE WHEN jsonb_typeof(x.e->'value') = 'string' THEN x.e->>'value'
				    ELSE (x.e->'value')::text END,
			       coalesce(x.e->>'state', 'active')
			  FROM unnest(p_object[a:b], p_state[a:b], r_extras) AS u(obj, s, ch),
			       jsonb_array_elements(CASE WHEN jsonb_typeof(u.s->'extras') = 'array'
							 THEN u.s->'extras' ELSE '[]' END)
			       WITH ORDINALITY AS x(e, k)
			 WHERE u.ch AND x.e->>'key' IS NOT NULL
			 ORDER BY u.obj, x.e->>'key', x.k;

			-- resources
			DELETE FROM resource rs
			 USING unnest(p_object[a:b], p_parent[a:b], r_res) AS u(obj, par, ch)
			 WHERE u.ch AND u.par IS NOT NULL AND rs.package_id = u.obj;
			INSERT INTO resource (package_id, id, url, format, description, name, position,
					      state, extras)
			SELECT DISTINCT ON (u.obj, coalesce(x.r->>'id', 'position-' || (x.k - 1)))
			       u.obj, coalesce(x.r->>'id', 'position-' || (x.k - 1)), x.r->>'url',
			       x.r->>'format', x.r->>'description', x.r->>'name', (x.k - 1)::integer,
			       coalesce(x.r->>'state', 'active'),
			       x.r - ARRAY['id', 'url', 'format', 'description', 'name', 'state']
			  FROM unnest(p_object[a:b], p_state[a:b], r_res) AS u(obj, s, ch),
			       jsonb_array_elements(CASE WHEN jsonb_typeof(u.s->'resources') = 'array'
							 THEN u.s->'resources' ELSE '[]' END)
			       WITH ORDINALITY AS x(r, k)
			 WHERE u.ch
			 ORDER BY u.obj, coalesce(x.r->>'id', 'position-' || (x.k - 1)), x.k
			ON CONFLICT DO NOTHING;

			-- groups and organization
			DELETE FROM member m
			 USING unnest(p_object[a:b], p_parent[a:b], r_mem) AS u(obj, par, ch)
			 WHERE u.ch AND u.par IS NOT NULL AND m.table_id = u.obj;
			INSERT INTO member (table_id, group_ref, capacity)
			SELECT DISTINCT u.obj, coalesce(g->>'name', g->>'id'), 'public'
			  FROM unnest(p_object[a:b], p_state[a:b], r_mem) AS u(obj, s, ch),
			       jsonb_array_elements(CASE WHEN jsonb_typeof(u.s->'groups') = 'array'
							 THEN u.s->'groups' ELSE '[]' END) g
			 WHERE u.ch AND coalesce(g->>'name', g->>'id') IS NOT NULL;
			INSERT INTO member (table_id, group_ref, capacity)
			SELECT u.obj, u.s->>'owner_org', 'organization'
			  FROM unnest(p_object[a:b], p_state[a:b], r_mem) AS u(obj, s, ch)
			 WHERE u.ch AND u.s->>'owner_org' IS NOT NULL AND u.s->>'owner_org' <> ''
			ON CONFLICT DO NOTHING;

			PERFORM pg_notify(p_channel, '');
			FOR k IN a .. b LOOP
				found_[k] := p_parent[k] IS NOT NULL;
				written[k] := '';
			END LOOP;
			a := b + 1;
		END IF;
		IF v_hard THEN
			-- one revision alone, as before (it may stop the window)
			SELECT * INTO f
			  FROM apply_fast(p_window, p_objrev[a], p_object[a], p_type[a], 'edit',
					  p_name[a], p_tags[a], p_revision[a], p_origin[a], p_ts[a],
					  p_author[a], p_message[a],
					  CASE WHEN p_parent[a] IS NULL THEN '{}'::uuid[]
					       ELSE ARRAY[p_parent[a]] END,
					  p_state[a], p_diff[a], p_private[a], p_channel);
			found_[a] := f.out_found;
			written[a] := f.out_written;
			a := a + 1;
			IF f.out_written IS NULL OR f.out_written NOT IN ('', 'seen', 'pending') THEN
				EXIT; -- not written, or an answer the consumer turns into an error
			END IF;
		END IF;
	END LOOP;
	RETURN QUERY SELECT * FROM unnest(found_, written);
END;
$$;

-- The package's search vector, as refresh_current (009) computes it.
CREATE FUNCTION ckansync.package_search(p_name text, s jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE SET search_path = ckansync, pg_catalog AS $$
	SELECT setweight(to_tsvector('simple', coalesce(p_name, '') || ' ' ||
				     replace(replace(coalesce(p_name, ''), '-', ' '), '_', ' ') ||
				     ' ' || coalesce(s->>'title', '')), 'A') ||
	       setweight(to_tsvector('simple',
				     coalesce((SELECT string_agg(e->>'name', ' ')
						 FROM jsonb_array_elements(
							  CASE WHEN jsonb_typeof(s->'tags') = 'array'
							       THEN s->'tags' ELSE '[]' END) e), '')), 'B') ||
	       setweight(to_tsvector('simple', coalesce(s->>'notes', '') || ' ' ||
				     coalesce((SELECT string_agg(coalesce(e->>'key', '') || ' ' ||
								 coalesce(e->>'value', ''), ' ')
						 FROM jsonb_array_elements(
							  CASE WHEN jsonb_typeof(s->'extras') = 'array'
							       THEN s->'extras' ELSE '[]' END) e), '')),
			 'C')
$$;
