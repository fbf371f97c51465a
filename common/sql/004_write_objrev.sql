-- 004_write_objrev — the write of one object revision (history rows, head,
-- current state, outbox) in one round trip with cached plans (issue 8:
-- benchmarks). Same statements, same order and same effects as the six
-- statements store_write.c used to send one by one:
--   revision (if absent), object revision (stop if already stored),
--   with p_set_head: name check, object row update/insert, refresh_current,
--   then the outbox row (ord = max(own xid, parents' ord), seq drawn now:
--   the caller holds the object's row lock) and the NOTIFY.
-- Returns '' when written, 'duplicate' when the object revision was already
-- stored (nothing else written), 'name-missing', or 'name-owner:<uuid>' when
-- another object of the same name space holds the name (the caller turns
-- those into errors and rolls back).
CREATE FUNCTION ckansync.write_objrev(
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
BEGIN
	INSERT INTO revision (id, origin, "timestamp", author, message, kind)
	VALUES (p_revision, p_origin, ts(p_ts), p_author, p_message, p_kind)
	ON CONFLICT (id) DO NOTHING;
	INSERT INTO object_revision (id, revision_id, object_type, object_id, parents, state, diff)
	VALUES (p_objrev, p_revision, p_type, p_object, p_parents, p_state, p_diff)
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
		PERFORM refresh_current(p_object);
	END IF;
	INSERT INTO outbox (ord, seq, kind, objrev_id)
	SELECT greatest(pg_current_xact_id(), (SELECT max(b.ord) FROM outbox b
					       WHERE b.objrev_id = ANY (p_parents))),
	       nextval('outbox_seq'), 0, p_objrev
	RETURNING ord, seq INTO v_ord, v_seq;
	UPDATE object_revision SET ord = v_ord, seq = v_seq WHERE id = p_objrev;
	PERFORM pg_notify(p_channel, '');
	RETURN '';
END;
$$;

-- The object's current head, its row locked (FOR UPDATE), as
-- cks_store_head_lock reads it; the state as text only when asked for.
CREATE FUNCTION ckansync.head_lock(p_object uuid, p_state boolean)
RETURNS TABLE (id uuid, head uuid, name text, origin text, ts_us bigint, state text)
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	RETURN QUERY
	SELECT o.id, o.head, o.name, v.origin, us(v."timestamp"),
	       CASE WHEN p_state THEN r.state::text END
	  FROM object o
	  JOIN object_revision r ON r.id = o.head
	  JOIN revision v ON v.id = r.revision_id
	 WHERE o.id = p_object
	   FOR UPDATE OF o;
END;
$$;
