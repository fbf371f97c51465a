-- 005_clashes_and_pending_merges — name clashes (issue 7, seed: "Package/Tag/Group name
-- on Server A clashes with an existing one on Server B. Merge tag and group")
-- and deferred merges:
--   * object_alias: a group or organization that arrived from another
--     instance under a name a local one already holds is merged into the
--     local one; its own object revisions stay in history under its own id,
--     and later revisions of it are merged into the local object too.
--   * tag.source_id: the CKAN tag id the first dict carrying the tag gave it
--     here, so that a tag arriving under the same name with another id is
--     seen (and logged) as a clash; tags stay merged by name (tag.id is
--     md5 of the name on every instance).
-- See docs/schema.md and docs/scenarios/name-clashes.md.

CREATE TABLE ckansync.object_alias (
	alias_id uuid PRIMARY KEY,           -- the other instance's object id
	object_id uuid NOT NULL REFERENCES ckansync.object (id) ON DELETE CASCADE,
	name text NOT NULL,                  -- the name they share
	created timestamptz NOT NULL DEFAULT now() -- local bookkeeping
);
CREATE INDEX object_alias_object_idx ON ckansync.object_alias (object_id);

-- Objects whose head the consumer recomputes once it has read what is there
-- to read (cks_apply_settle): a divergent revision is stored in history at
-- once and merged at the end of the catch-up, so that a batch of incoming
-- revisions makes one merge, and a rebuild makes the merges the original made.
CREATE TABLE ckansync.pending_head (
	object_id uuid PRIMARY KEY,
	incoming uuid NOT NULL,              -- the latest incoming object revision
	since timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE ckansync.tag ADD COLUMN source_id text;
UPDATE ckansync.tag t SET source_id = x.tid
  FROM (SELECT DISTINCT ON (e->>'name') e->>'name' AS name, e->>'id' AS tid
	  FROM ckansync.object o
	  JOIN ckansync.object_revision r ON r.id = o.head,
	       jsonb_array_elements(CASE WHEN jsonb_typeof(r.state->'tags') = 'array'
				    THEN r.state->'tags' ELSE '[]' END) e
	 WHERE o.type = 'package' AND e->>'id' IS NOT NULL
	 ORDER BY e->>'name', o.created) x
 WHERE t.name = x.name AND t.source_id IS NULL;

-- Same as 001's, plus: a new tag records the id its dict gave it
-- (source_id); a tag first created without one adopts the first id seen.
-- Rows of tag are only written when they change, so concurrent writers of
-- packages sharing a tag do not wait for each other.
CREATE OR REPLACE FUNCTION ckansync.refresh_current(p_object uuid) RETURNS void
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
DECLARE
	o record;
	s jsonb;
	t jsonb;
	r jsonb;
	i integer := 0;
	tags_text text;
	extras_text text;
BEGIN
	DELETE FROM package WHERE id = p_object;
	DELETE FROM "group" WHERE id = p_object;
	SELECT ob.type, ob.name, ob.private, ob.created, orv.id AS objrev, orv.state,
	       rv."timestamp" AS modified
	  INTO o
	  FROM object ob
	  JOIN object_revision orv ON orv.id = ob.head
	  JOIN revision rv ON rv.id = orv.revision_id
	 WHERE ob.id = p_object;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	s := o.state;
	IF o.type <> 'package' THEN
		INSERT INTO "group" (id, name, title, description, image_url, type,
				     is_organization, approval_status, state, objrev_id)
		VALUES (p_object, o.name, s->>'title', s->>'description', s->>'image_url', o.type,
			o.type = 'organization', s->>'approval_status',
			coalesce(s->>'state', 'active'), o.objrev);
		RETURN;
	END IF;

	SELECT string_agg(e->>'name', ' ') INTO tags_text
	  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'tags') = 'array'
				    THEN s->'tags' ELSE '[]' END) e;
	SELECT string_agg(coalesce(e->>'key', '') || ' ' || coalesce(e->>'value', ''), ' ')
	  INTO extras_text
	  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'extras') = 'array'
				    THEN s->'extras' ELSE '[]' END) e;

	INSERT INTO package (id, name, title, version, url, notes, author, author_email,
			     maintainer, maintainer_email, license_id, type, owner_org,
			     private, state, metadata_created, metadata_modified, objrev_id,
			     search)
	VALUES (p_object, o.name, s->>'title', s->>'version', s->>'url', s->>'notes',
		s->>'author', s->>'author_email', s->>'maintainer', s->>'maintainer_email',
		s->>'license_id', coalesce(s->>'type', 'dataset'), s->>'owner_org',
		o.private, coalesce(s->>'state', 'active'), o.created, o.modified, o.objrev,
		setweight(to_tsvector('simple', coalesce(o.name, '') || ' ' ||
				      replace(replace(coalesce(o.name, ''), '-', ' '), '_', ' ') ||
				      ' ' || coalesce(s->>'title', '')), 'A') ||
		setweight(to_tsvector('simple', coalesce(tags_text, '')), 'B') ||
		setweight(to_tsvector('simple', coalesce(s->>'notes', '') || ' ' ||
				      coalesce(extras_text, '')), 'C'));

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
		VALUES (p_object, md5('tag:' || (t->>'name'))::uuid, coalesce(t->>'state', 'active'))
		ON CONFLICT DO NOTHING;
	END LOOP;

	INSERT INTO package_extra (package_id, key, value, state)
	SELECT DISTINCT ON (e->>'key') p_object, e->>'key',
	       CASE WHEN jsonb_typeof(e->'value') = 'string' THEN e->>'value'
		    ELSE (e->'value')::text END,
	       coalesce(e->>'state', 'active')
	  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s->'extras') = 'array'
				    THEN s->'extras' ELSE '[]' END) e
	 WHERE e->>'key' IS NOT NULL;

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
END;
$$;
