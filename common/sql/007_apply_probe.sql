-- 007_apply_probe — what the consumer looks up before it applies an
-- incoming revision, in one round trip with cached plans (issue 8:
-- benchmarks). The same statements, in the same order, as apply.c sent one
-- by one (cks_apply_revision):
--   1. is the object revision stored here; was its object purged (by whom);
--      stop there for a stored revision, a purge or a purged object;
--   2. the object it applies to here (a group or organization merged by
--      name into a local one: that one);
--   3. that object's row locked (FOR UPDATE), then its head as head_lock
--      reads it (in a statement of its own: after waiting for the lock it
--      sees the head the other writer committed; locking in the join could
--      drop the row when the head moved meanwhile), then again "is the
--      object revision stored here" (another consumer may have stored it
--      while we waited for the lock);
--   4. the object holding p_name in its name space, if not p_object, and
--      whether p_tags (a package state's "tags") carries a CKAN tag id other
--      than the one this instance knows a tag by (apply.c records those).
-- Statements run in READ COMMITTED, each with its own snapshot, as before.
CREATE FUNCTION ckansync.apply_probe(
	p_objrev uuid, p_object uuid, p_type text, p_kind text, p_name text, p_tags jsonb)
RETURNS TABLE (out_seen boolean, out_purged_by text, out_target uuid, out_found boolean,
	       out_head uuid, out_head_name text, out_head_origin text, out_head_ts bigint,
	       out_head_type text, out_owner uuid, out_tag_clash boolean, out_row boolean)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	out_seen := EXISTS (SELECT 1 FROM object_revision r WHERE r.id = p_objrev);
	SELECT t.by_origin INTO out_purged_by FROM tombstone t WHERE t.object_id = p_object;
	out_found := false;
	out_row := false;
	out_tag_clash := false;
	IF (out_seen AND p_kind <> 'purge') OR p_kind = 'purge' OR out_purged_by IS NOT NULL THEN
		RETURN NEXT;
		RETURN;
	END IF;
	out_target := p_object;
	IF p_type <> 'package' THEN
		SELECT a.object_id INTO out_target FROM object_alias a WHERE a.alias_id = p_object;
		IF NOT FOUND THEN
			out_target := p_object;
		END IF;
	END IF;
	PERFORM 1 FROM object o WHERE o.id = out_target FOR UPDATE;
	out_row := FOUND;
	IF out_row THEN
		SELECT o.head, o.name, v.origin, us(v."timestamp"), o.type
		  INTO out_head, out_head_name, out_head_origin, out_head_ts, out_head_type
		  FROM object o
		  JOIN object_revision r ON r.id = o.head
		  JOIN revision v ON v.id = r.revision_id
		 WHERE o.id = out_target;
		out_found := FOUND;
	END IF;
	IF out_found THEN
		out_seen := EXISTS (SELECT 1 FROM object_revision r WHERE r.id = p_objrev);
	END IF;
	IF p_name IS NOT NULL AND p_name <> '' THEN
		SELECT o.id INTO out_owner FROM object o
		 WHERE o.name_space = CASE WHEN p_type = 'package' THEN 'package' ELSE 'group' END
		   AND o.name = p_name;
		IF out_owner = p_object THEN
			out_owner := NULL;
		END IF;
	END IF;
	IF p_type = 'package' AND jsonb_typeof(p_tags) = 'array' THEN
		out_tag_clash := EXISTS (
			SELECT 1 FROM jsonb_array_elements(p_tags) e
			  JOIN tag t ON t.name = e->>'name'
			 WHERE jsonb_typeof(e->'id') = 'string' AND t.source_id IS NOT NULL
			   AND t.source_id <> e->>'id');
	END IF;
	RETURN NEXT;
END;
$$;
