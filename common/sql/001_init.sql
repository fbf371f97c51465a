-- 001_init — the ckansync schema: history (revision, object_revision),
-- current state (object + CKAN-like typed tables with a search vector),
-- tombstones, unversioned objects, conflicts, sync state, outbox.
-- Run by cks_store_init inside one transaction; see docs/schema.md.

CREATE TABLE ckansync.revision (
	id uuid PRIMARY KEY,                 -- same on every instance
	origin text NOT NULL,                -- instance id where it was made
	"timestamp" timestamptz NOT NULL,    -- revision time (microseconds)
	author text NOT NULL DEFAULT '',
	message text NOT NULL DEFAULT '',
	kind text NOT NULL CHECK (kind IN ('edit', 'merge', 'purge')),
	local_seq bigserial UNIQUE,          -- local arrival order (log --since REV)
	applied_at timestamptz NOT NULL DEFAULT now() -- local bookkeeping
);
CREATE INDEX revision_timestamp_idx ON ckansync.revision ("timestamp");

CREATE TABLE ckansync.object_revision (
	id uuid PRIMARY KEY,
	revision_id uuid NOT NULL REFERENCES ckansync.revision (id),
	object_type text NOT NULL CHECK (object_type IN ('package', 'group', 'organization')),
	object_id uuid NOT NULL,
	parents uuid[] NOT NULL DEFAULT '{}', -- empty on create, 1 on edit, 2 on merge
	state jsonb NOT NULL,                 -- stripped CKAN dict after the change
	diff jsonb,                           -- from parents[1] (diff.h format)
	ord xid8,                             -- outbox order key (see outbox)
	seq bigint                            -- outbox tie-breaker
);
CREATE INDEX object_revision_object_idx ON ckansync.object_revision (object_id);
CREATE INDEX object_revision_revision_idx ON ckansync.object_revision (revision_id);

-- One row per live object; head is the current object revision.
CREATE TABLE ckansync.object (
	id uuid PRIMARY KEY,
	type text NOT NULL CHECK (type IN ('package', 'group', 'organization')),
	-- packages and groups/organizations have separate name spaces (as in CKAN)
	name_space text GENERATED ALWAYS AS
		(CASE WHEN type = 'package' THEN 'package' ELSE 'group' END) STORED,
	name text NOT NULL,
	head uuid REFERENCES ckansync.object_revision (id),
	private boolean NOT NULL DEFAULT false,
	created timestamptz NOT NULL,
	UNIQUE (name_space, name)
);

-- Typed current state, refreshed from the head by refresh_current().
CREATE TABLE ckansync.package (
	id uuid PRIMARY KEY REFERENCES ckansync.object (id) ON DELETE CASCADE,
	name text NOT NULL,
	title text,
	version text,
	url text,
	notes text,
	author text,
	author_email text,
	maintainer text,
	maintainer_email text,
	license_id text,
	type text,
	owner_org text,
	private boolean NOT NULL DEFAULT false,
	state text NOT NULL DEFAULT 'active',
	metadata_created timestamptz,
	metadata_modified timestamptz,
	objrev_id uuid NOT NULL,
	search tsvector NOT NULL
);
CREATE INDEX package_search_idx ON ckansync.package USING gin (search);
CREATE INDEX package_name_idx ON ckansync.package (name);

CREATE TABLE ckansync.tag (
	id uuid PRIMARY KEY,                 -- md5 of the name: same everywhere
	name text NOT NULL UNIQUE,
	vocabulary_id text
);

CREATE TABLE ckansync.package_tag (
	package_id uuid NOT NULL REFERENCES ckansync.package (id) ON DELETE CASCADE,
	tag_id uuid NOT NULL REFERENCES ckansync.tag (id),
	state text NOT NULL DEFAULT 'active',
	PRIMARY KEY (package_id, tag_id)
);

CREATE TABLE ckansync.package_extra (
	package_id uuid NOT NULL REFERENCES ckansync.package (id) ON DELETE CASCADE,
	key text NOT NULL,
	value text,
	state text NOT NULL DEFAULT 'active',
	PRIMARY KEY (package_id, key)
);

CREATE TABLE ckansync.resource (
	package_id uuid NOT NULL REFERENCES ckansync.package (id) ON DELETE CASCADE,
	id text NOT NULL,
	url text,
	format text,
	description text,
	name text,
	position integer NOT NULL,
	state text NOT NULL DEFAULT 'active',
	extras jsonb,                        -- the resource dict's other keys
	PRIMARY KEY (package_id, id)
);

CREATE TABLE ckansync."group" (
	id uuid PRIMARY KEY REFERENCES ckansync.object (id) ON DELETE CASCADE,
	name text NOT NULL,
	title text,
	description text,
	image_url text,
	type text NOT NULL,                  -- 'group' or 'organization'
	is_organization boolean NOT NULL,
	approval_status text,
	state text NOT NULL DEFAULT 'active',
	objrev_id uuid NOT NULL
);

-- Package membership in groups and its organization (CKAN's member table).
CREATE TABLE ckansync.member (
	table_id uuid NOT NULL REFERENCES ckansync.package (id) ON DELETE CASCADE,
	table_name text NOT NULL DEFAULT 'package',
	group_ref text NOT NULL,             -- group name or id as the dict gives it
	capacity text NOT NULL,              -- 'public' (group) or 'organization'
	state text NOT NULL DEFAULT 'active',
	PRIMARY KEY (table_id, group_ref, capacity)
);

CREATE TABLE ckansync.tombstone (
	object_id uuid PRIMARY KEY,
	object_type text NOT NULL,
	name text NOT NULL,
	revision_id uuid NOT NULL,           -- the purge revision
	by_origin text NOT NULL,             -- instance where the purge was made
	purged_at timestamptz NOT NULL DEFAULT now() -- local bookkeeping
);

CREATE TABLE ckansync.uobject (
	type text NOT NULL,                  -- 'user', 'rating'
	id text NOT NULL,
	state jsonb,                         -- NULL = deleted
	origin text NOT NULL,
	updated timestamptz NOT NULL,
	PRIMARY KEY (type, id)
);

CREATE TABLE ckansync.conflict (
	id uuid PRIMARY KEY,
	local_seq bigserial,
	detected_at text NOT NULL,
	detected timestamptz NOT NULL,
	kind text NOT NULL,
	object_type text NOT NULL,
	object_id uuid NOT NULL,
	object_name text NOT NULL DEFAULT '',
	base_objrev uuid,
	local_objrev uuid,
	remote_objrev uuid,
	remote_origin text NOT NULL DEFAULT '',
	field_path text NOT NULL DEFAULT '',
	local_value text,
	remote_value text,
	resolution text NOT NULL DEFAULT '',
	chosen_value text,
	merge_revision uuid
);

CREATE TABLE ckansync.sync_state (
	topic text NOT NULL,
	partition integer NOT NULL,
	next_offset bigint NOT NULL,
	last_revision uuid,
	last_sync timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition)
);

-- The outbox: what the producer publishes, in (ord, seq) order, only once
-- ord < xmin of every running transaction (docs/schema.md explains why).
CREATE SEQUENCE ckansync.outbox_seq;
CREATE TABLE ckansync.outbox (
	ord xid8 NOT NULL,
	seq bigint NOT NULL,
	kind smallint NOT NULL,              -- 0 revision/purge, 1 conflict, 2 unversioned
	objrev_id uuid REFERENCES ckansync.object_revision (id) ON DELETE CASCADE,
	revision_id uuid,                    -- purge: the purge revision
	object_type text,                    -- purge: purged object
	object_id uuid,
	conflict_id uuid REFERENCES ckansync.conflict (id) ON DELETE CASCADE,
	payload jsonb,                       -- unversioned: {type,id,origin,updated_us,state}
	PRIMARY KEY (ord, seq)
);
CREATE INDEX outbox_objrev_idx ON ckansync.outbox (objrev_id);
CREATE INDEX outbox_object_idx ON ckansync.outbox (object_id);

CREATE TABLE ckansync.producer_cursor (
	id integer PRIMARY KEY CHECK (id = 1),
	ord xid8 NOT NULL,
	seq bigint NOT NULL
);

-- Rebuilds the typed current-state rows of one object from its head.
CREATE FUNCTION ckansync.refresh_current(p_object uuid) RETURNS void
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
		INSERT INTO tag (id, name, vocabulary_id)
		VALUES (md5('tag:' || (t->>'name'))::uuid, t->>'name', t->>'vocabulary_id')
		ON CONFLICT (name) DO NOTHING;
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

-- Microseconds since the epoch <-> timestamptz, exact both ways.
CREATE FUNCTION ckansync.us(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;
CREATE FUNCTION ckansync.ts(us bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT 'epoch'::timestamptz + us * interval '1 microsecond' $$;
