-- 009_apply_cost — less server work per written object revision (issue 8:
-- benchmarks, third pass). Same rows, same order of effects as 004/006:
--   * object_revision.state and .diff are compressed with lz4 instead of
--     pglz where the server has it (PostgreSQL 14+ built with lz4, as
--     Debian's and the PGDG packages are): pglz was ~5 % of the mirror's CPU
--     (compress on every insert, decompress on every read). New rows only;
--     old rows stay readable as they are.
--   * refresh_current() takes the head state from its caller when it has it
--     (write_objrev does: the state it was given): a jsonb read from a table
--     inside a function stays a TOAST pointer, and every -> or ->> on it
--     fetched and decompressed the whole 6 KB document again (about twenty
--     times per package). The state the rows were built from is read once,
--     detoasted once ('{}' || state).
--   * the package's search vector is computed only when what it is made of
--     (name, title, tags, notes, extras) changed; otherwise the row keeps
--     its vector (and, with name and vector unchanged, the update touches no
--     index of the package table when the page has room: a HOT update).
--   * write_objrev looks up its parents' outbox order on the objrev_id
--     index, one parent at a time: the generic plan of 004's max() scanned
--     the whole outbox key backwards (a cost that grew with the outbox:
--     0.15 ms per write at 5,000 rows, and a create, which has no parents,
--     always read it all).
--   * write_objrev draws the outbox order (ord, seq) before it inserts the
--     object revision, and inserts it with them: no second version of the
--     object revision row (the UPDATE that set them wrote the 6 KB row
--     twice).
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'
		   AND 'lz4' = ANY (enumvals)) THEN
		EXECUTE 'ALTER TABLE ckansync.object_revision ALTER COLUMN state SET COMPRESSION lz4, '
			'ALTER COLUMN diff SET COMPRESSION lz4';
	END IF;
END;
$$;

CREATE FUNCTION ckansync.refresh_current(p_object uuid, p_state jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
DECLARE
	o record;
	s jsonb;
	old jsonb; -- the state the current rows were built from; NULL: unknown
	old_name text; -- the name the package row has
	t jsonb;
	r jsonb;
	i integer := 0;
	tags_text text;
	extras_text text;
	keep_search boolean;
BEGIN
	SELECT ob.type, ob.name, ob.private, ob.created, orv.id AS objrev,
	       CASE WHEN p_state IS NULL THEN '{}'::jsonb || orv.state END AS state,
	       rv."timestamp" AS modified
	  INTO o
	  FROM object ob
	  JOIN object_revision orv ON orv.id = ob.head
	  JOIN revision rv ON rv.id = orv.revision_id
	 WHERE ob.id = p_object;
	IF NOT FOUND THEN
		DELETE FROM package WHERE id = p_object;
		DELETE FROM "group" WHERE id = p_object;
		RETURN;
	END IF;
	s := coalesce(p_state, o.state);
	IF o.type <> 'package' THEN
		DELETE FROM package WHERE id = p_object;
		INSERT INTO "group" (id, name, title, description, image_url, type,
				     is_organization, approval_status, state, objrev_id)
		VALUES (p_object, o.name, s->>'title', s->>'description', s->>'image_url', o.type,
			o.type = 'organization', s->>'approval_status',
			coalesce(s->>'state', 'active'), o.objrev)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name, title = excluded.title,
			description = excluded.description, image_url = excluded.image_url,
			type = excluded.type, is_organization = excluded.is_organization,
			approval_status = excluded.approval_status, state = excluded.state,
			objrev_id = excluded.objrev_id;
		RETURN;
	END IF;
	DELETE FROM "group" WHERE id = p_object;

	-- The rows of the package were built from this state (no row: none).
	SELECT p.name, '{}'::jsonb || orv.state INTO old_name, old
	  FROM package p JOIN object_revision orv ON orv.id = p.objrev_id
	 WHERE p.id = p_object;

	keep_search := old IS NOT NULL AND old_name IS NOT DISTINCT FROM o.name
		AND old->'title' IS NOT DISTINCT FROM s->'title'
		AND old->'notes' IS NOT DISTINCT FROM s->'notes'
		AND old->'tags' IS NOT DISTINCT FROM s->'tags'
		AND old->'extras' IS NOT DISTINCT FROM s->'extras';
	IF NOT keep_search THEN
		SELECT string_agg(e->>'name', ' ') INTO tags_text
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'tags') = 'array'
					    THEN s->'tags' ELSE '[]' END) e;
		SELECT string_agg(coalesce(e->>'key', '') || ' ' || coalesce(e->>'value', ''), ' ')
		  INTO extras_text
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'extras') = 'array'
					    THEN s->'extras' ELSE '[]' END) e;
	END IF;
	INSERT INTO package (id, name, title, version, url, notes, author, author_email,
			     maintainer, maintainer_email, license_id, type, owner_org,
			     private, state, metadata_created, metadata_modified, objrev_id,
			     search)
	VALUES (p_object, o.name, s->>'title', s->>'version', s->>'url', s->>'notes',
		s->>'author', s->>'author_email', s->>'maintainer', s->>'maintainer_email',
		s->>'license_id', coalesce(s->>'type', 'dataset'), s->>'owner_org',
		o.private, coalesce(s->>'state', 'active'), o.created, o.modified, o.objrev,
		CASE WHEN keep_search THEN ''::tsvector ELSE
		setweight(to_tsvector('simple', coalesce(o.name, '') || ' ' ||
				      replace(replace(coalesce(o.name, ''), '-', ' '), '_', ' ') ||
				      ' ' || coalesce(s->>'title', '')), 'A') ||
		setweight(to_tsvector('simple', coalesce(tags_text, '')), 'B') ||
		setweight(to_tsvector('simple', coalesce(s->>'notes', '') || ' ' ||
				      coalesce(extras_text, '')), 'C') END)
	ON CONFLICT (id) DO UPDATE SET
		name = excluded.name, title = excluded.title, version = excluded.version,
		url = excluded.url, notes = excluded.notes, author = excluded.author,
		author_email = excluded.author_email, maintainer = excluded.maintainer,
		maintainer_email = excluded.maintainer_email, license_id = excluded.license_id,
		type = excluded.type, owner_org = excluded.owner_org, private = excluded.private,
		state = excluded.state, metadata_created = excluded.metadata_created,
		metadata_modified = excluded.metadata_modified, objrev_id = excluded.objrev_id,
		search = CASE WHEN keep_search THEN package.search ELSE excluded.search END;

	IF old IS NULL OR old->'tags' IS DISTINCT FROM s->'tags' THEN
		DELETE FROM package_tag WHERE package_id = p_object;
		FOR t IN SELECT e FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'tags') = 'array'
							     THEN s->'tags' ELSE '[]' END) e LOOP
			CONTINUE WHEN t->>'name' IS NULL;
			INSERT INTO tag (id, name, vocabulary_id, source_id)
			VALUES (md5('tag:' || (t->>'name'))::uuid, t->>'name', t->>'vocabulary_id',
				t->>'id')
			ON CONFLICT (name) DO NOTHING;
			IF t->>'id' IS NOT NULL THEN
				UPDATE tag SET source_id = t->>'id'
				 WHERE name = t->>'name' AND source_id IS NULL;
			END IF;
			INSERT INTO package_tag (package_id, tag_id, state)
			VALUES (p_object, md5('tag:' || (t->>'name'))::uuid,
				coalesce(t->>'state', 'active'))
			ON CONFLICT DO NOTHING;
		END LOOP;
	END IF;

	IF old IS NULL OR old->'extras' IS DISTINCT FROM s->'extras' THEN
		DELETE FROM package_extra WHERE package_id = p_object;
		INSERT INTO package_extra (package_id, key, value, state)
		SELECT DISTINCT ON (e->>'key') p_object, e->>'key',
		       CASE WHEN jsonb_typeof(e->'value') = 'string' THEN e->>'value'
			    ELSE (e->'value')::text END,
		       coalesce(e->>'state', 'active')
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'extras') = 'array'
					    THEN s->'extras' ELSE '[]' END) e
		 WHERE e->>'key' IS NOT NULL;
	END IF;

	IF old IS NULL OR old->'resources' IS DISTINCT FROM s->'resources' THEN
		DELETE FROM resource WHERE package_id = p_object;
		FOR r IN SELECT e FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'resources') = 'array'
							     THEN s->'resources' ELSE '[]' END) e LOOP
			INSERT INTO resource (package_id, id, url, format, description, name, position,
					      state, extras)
			VALUES (p_object, coalesce(r->>'id', 'position-' || i), r->>'url', r->>'format',
				r->>'description', r->>'name', i, coalesce(r->>'state', 'active'),
				r - ARRAY['id', 'url', 'format', 'description', 'name', 'state'])
			ON CONFLICT DO NOTHING;
			i := i + 1;
		END LOOP;
	END IF;

	IF old IS NULL OR old->'groups' IS DISTINCT FROM s->'groups'
	   OR old->'owner_org' IS DISTINCT FROM s->'owner_org' THEN
		DELETE FROM member WHERE table_id = p_object;
		INSERT INTO member (table_id, group_ref, capacity)
		SELECT DISTINCT p_object, coalesce(g->>'name', g->>'id'), 'public'
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'groups') = 'array'
					    THEN s->'groups' ELSE '[]' END) g
		 WHERE coalesce(g->>'name', g->>'id') IS NOT NULL;
		IF s->>'owner_org' IS NOT NULL AND s->>'owner_org' <> '' THEN
			INSERT INTO member (table_id, group_ref, capacity)
			VALUES (p_object, s->>'owner_org', 'organization')
			ON CONFLICT DO NOTHING;
		END IF;
	END IF;
END;
$$;

-- The one-argument form (apply.c after a merge, older callers): the head
-- state read from the table.
CREATE OR REPLACE FUNCTION ckansync.refresh_current(p_object uuid) RETURNS void
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	PERFORM refresh_current(p_object, NULL::jsonb);
END;
$$;

CREATE OR REPLACE FUNCTION ckansync.write_objrev(
	p_objrev uuid, p_revision uuid, p_origin text, p_ts bigint, p_author text,
	p_message text, p_kind text, p_type text, p_object uuid, p_parents uuid[],
	p_state jsonb, p_diff jsonb, p_set_head boolean, p_exists boolean,
	p_name text, p_private boolean, p_channel text)
RETURNS text
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
DECLARE
	v_owner uuid;
	v_ord xid8;
	v_seq bigint;
	v_parent uuid;
	v_pord xid8;
BEGIN
	INSERT INTO revision (id, origin, "timestamp", author, message, kind)
	VALUES (p_revision, p_origin, ts(p_ts), p_author, p_message, p_kind)
	ON CONFLICT (id) DO NOTHING;
	-- Not "SELECT max(b.ord) FROM outbox b WHERE b.objrev_id = ANY (...)":
	-- in the generic plan of a function PostgreSQL turns that max into a
	-- backward scan of the whole outbox key (a create, with no parents,
	-- always scanned it all), or plans = ANY as a sequential scan when the
	-- outbox was small at planning time (a new mirror): either way a cost
	-- that grew with the outbox. One equality look-up per parent stays on
	-- outbox_objrev_idx.
	v_ord := pg_current_xact_id();
	FOREACH v_parent IN ARRAY coalesce(p_parents, '{}') LOOP
		FOR v_pord IN SELECT b.ord FROM outbox b WHERE b.objrev_id = v_parent LOOP
			v_ord := greatest(v_ord, v_pord);
		END LOOP;
	END LOOP;
	v_seq := nextval('outbox_seq');
	INSERT INTO object_revision (id, revision_id, object_type, object_id, parents, state, diff,
				     ord, seq)
	VALUES (p_objrev, p_revision, p_type, p_object, p_parents, p_state, p_diff, v_ord, v_seq)
	ON CONFLICT (id) DO NOTHING;
	IF NOT FOUND THEN
		RETURN 'duplicate';
	END IF;
	IF p_set_head THEN
		IF p_name IS NULL THEN
			RETURN 'name-missing';
		END IF;
		SELECT id INTO v_owner FROM object
		 WHERE name_space = CASE WHEN p_type = 'package' THEN 'package' ELSE 'group' END
		   AND name = p_name;
		IF v_owner IS NOT NULL AND v_owner <> p_object THEN
			RETURN 'name-owner:' || v_owner;
		END IF;
		IF p_exists THEN
			UPDATE object SET head = p_objrev, name = p_name, private = p_private
			 WHERE id = p_object;
		ELSE
			INSERT INTO object (id, head, name, private, type, created)
			VALUES (p_object, p_objrev, p_name, p_private, p_type, ts(p_ts));
		END IF;
		PERFORM refresh_current(p_object, p_state);
	END IF;
	INSERT INTO outbox (ord, seq, kind, objrev_id) VALUES (v_ord, v_seq, 0, p_objrev);
	PERFORM pg_notify(p_channel, '');
	RETURN '';
END;
$$;
