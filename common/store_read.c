/* store_read — reads: show, log, diff, search, digest, the outbox for the
 * producer, and the read-side apply primitives (head_lock, objrev_state,
 * common_ancestor, ...). JSON listings are built by PostgreSQL
 * (jsonb_build_object) and parsed once here. Writes are in store_write.c. */
#include "store_int.h"

#include "diff.h"
#include "pkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a query returning one JSON text cell and parses it into *out. */
static cks_err json_query(cks_store *st, const char *ctx, const char *sql, int n,
                          const char *const *p, json_t **out, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	cks_err err = cks_sti_exec(st, ctx, sql, n, p, &res, errstr, errstr_size);
	*out = NULL;
	if (err == CKS_OK) {
		*out = PQntuples(res) == 1 ? cks_store_json(res, 0, 0) : NULL;
		if (!*out)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: bad result",
			                 ctx);
	}
	PQclear(res);
	return err;
}

cks_err cks_store_objrev_state(cks_store *st, const char *objrev_id, json_t **state, char *errstr,
                               size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[1] = {objrev_id};
	cks_err err;
	*state = NULL;
	if (!cks_uuid_valid(objrev_id))
		return cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND,
		                  "'%s' is not an object revision id", objrev_id);
	err = cks_sti_exec(st, "read object revision",
	                   "SELECT state::text FROM ckansync.object_revision WHERE id = $1", 1, p,
	                   &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 0)
		err = cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND,
		                 "object revision %s: not found", objrev_id);
	if (err == CKS_OK && !(*state = cks_store_json(res, 0, 0)))
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "object revision %s: unreadable state", objrev_id);
	PQclear(res);
	return err;
}

cks_err cks_store_objrev_exists(cks_store *st, const char *objrev_id, bool *exists, char *errstr,
                                size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[1] = {objrev_id};
	*exists = false;
	if (!cks_uuid_valid(objrev_id))
		return CKS_OK;
	cks_err err = cks_sti_exec(st, "look up object revision",
	                           "SELECT 1 FROM ckansync.object_revision WHERE id = $1", 1, p,
	                           &res, errstr, errstr_size);
	if (err == CKS_OK)
		*exists = PQntuples(res) > 0;
	PQclear(res);
	return err;
}

cks_err cks_store_head_lock(cks_store *st, const char *object_id, cks_head *head, bool want_state,
                            char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	cks_err err;
	memset(head, 0, sizeof(*head));
	if (!cks_uuid_valid(object_id))
		return cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND, "'%s': not an object id",
		                  object_id);
	/* One plan cached in the function (004_write_objrev.sql); the state is
	 * converted to text only when wanted. */
	const char *p[2] = {object_id, want_state ? "t" : "f"};
	err = cks_sti_exec(st, "lock object head", "SELECT * FROM ckansync.head_lock($1, $2)", 2, p,
	                   &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 0)
		err = cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND, "object %s: not found",
		                 object_id);
	if (err != CKS_OK)
		goto out;
	cks_sti_copy(res, 0, 0, head->object_id, sizeof(head->object_id));
	cks_sti_copy(res, 0, 1, head->objrev_id, sizeof(head->objrev_id));
	cks_sti_copy(res, 0, 2, head->name, sizeof(head->name));
	cks_sti_copy(res, 0, 3, head->origin, sizeof(head->origin));
	head->timestamp_us = cks_sti_int(res, 0, 4);
	if (want_state && !(head->state = cks_store_json(res, 0, 5)))
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "object %s: unreadable state", object_id);
out:
	PQclear(res);
	return err;
}

cks_err cks_store_common_ancestor(cks_store *st, const char *a, const char *b, cks_uuid_str out,
                                  char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[2] = {a, b};
	cks_err err;
	out[0] = '\0';
	if (!cks_uuid_valid(a) || !cks_uuid_valid(b))
		return CKS_OK;
	/* ckansync.common_ancestor (021): depth-first distances from both
	 * sides, the ancestor nearest to both, ties broken by id */
	err = cks_sti_exec(st, "common ancestor", "SELECT ckansync.common_ancestor($1, $2)", 2, p,
	                   &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 1)
		cks_sti_copy(res, 0, 0, out, sizeof(cks_uuid_str));
	PQclear(res);
	return err;
}

cks_err cks_store_name_owner(cks_store *st, cks_objtype type, const char *name,
                             cks_uuid_str object_id, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[2] = {cks_sti_name_space(type), name};
	object_id[0] = '\0';
	cks_err err =
	    cks_sti_exec(st, "look up name",
	                 "SELECT id FROM ckansync.object WHERE name_space = $1 AND name = $2", 2, p,
	                 &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 1)
		cks_sti_copy(res, 0, 0, object_id, sizeof(cks_uuid_str));
	PQclear(res);
	return err;
}

cks_err cks_store_tombstone_get(cks_store *st, const char *object_id, bool *purged,
                                char by_origin[64], char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[1] = {object_id};
	*purged = false;
	by_origin[0] = '\0';
	if (!cks_uuid_valid(object_id))
		return CKS_OK;
	cks_err err = cks_sti_exec(st, "look up tombstone",
	                           "SELECT by_origin FROM ckansync.tombstone WHERE object_id = $1",
	                           1, p, &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 1) {
		*purged = true;
		cks_sti_copy(res, 0, 0, by_origin, 64);
	}
	PQclear(res);
	return err;
}

/* --- show / log / diff / search ---------------------------------------- */

cks_err cks_store_show(cks_store *st, const char *name_or_id, const char *objrev_id, json_t **out,
                       char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	cks_sti_obj o;
	cks_err err;
	*out = NULL;
	err = cks_sti_obj_find(st, name_or_id, NULL, false, &o, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	if (objrev_id && !cks_uuid_valid(objrev_id))
		return cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND,
		                  "'%s' is not an object revision id", objrev_id);
	const char *p[2] = {o.id, objrev_id ? objrev_id : o.head};
	err = cks_sti_exec(st, "show",
	                   "SELECT r.state::text, r.revision_id, ckansync.us(v.\"timestamp\") "
	                   "FROM ckansync.object_revision r "
	                   "JOIN ckansync.revision v ON v.id = r.revision_id "
	                   "WHERE r.object_id = $1 AND r.id = $2",
	                   2, p, &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 0)
		err = cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND,
		                 "'%s' has no object revision %s", name_or_id, p[1]);
	if (err == CKS_OK && !(*out = cks_store_json(res, 0, 0)))
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "'%s': unreadable state",
		                 name_or_id);
	if (err == CKS_OK)
		cks_pkg_add_managed(*out, PQgetvalue(res, 0, 1), o.created_us,
		                    cks_sti_int(res, 0, 2));
	PQclear(res);
	return err;
}

cks_err cks_store_log(cks_store *st, const char *name_or_id, const char *since, json_t **out,
                      char *errstr, size_t errstr_size)
{
	char since_us[32] = "", *since_rev = NULL;
	cks_sti_obj o;
	cks_err err;
	int64_t us;
	*out = NULL;
	if (name_or_id) {
		err = cks_sti_obj_find(st, name_or_id, NULL, false, &o, errstr, errstr_size);
		if (err != CKS_OK)
			return err;
	}
	if (since && cks_uuid_valid(since))
		since_rev = (char *)since;
	else if (since && cks_time_parse(since, &us))
		snprintf(since_us, sizeof(since_us), "%lld", (long long)us);
	else if (since)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "--since '%s': neither a revision id nor an ISO time", since);
	const char *p[3] = {name_or_id ? o.id : NULL, since_rev, *since_us ? since_us : NULL};
	err = json_query(
	    st, "log",
	    "WITH s AS (SELECT local_seq FROM ckansync.revision WHERE id = $2::uuid) "
	    "SELECT coalesce(jsonb_agg(x.j ORDER BY x.k), '[]')::text FROM ("
	    " SELECT v.local_seq k, jsonb_build_object('revision_id', v.id, 'origin', v.origin, "
	    "  'timestamp', to_char(v.\"timestamp\" AT TIME ZONE 'UTC', "
	    "    'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'author', v.author, 'message', v.message, "
	    "  'kind', v.kind, 'objects', coalesce((SELECT jsonb_agg(jsonb_build_object("
	    "    'objrev_id', r.id, 'object_type', r.object_type, 'object_id', r.object_id, "
	    "    'name', r.state->>'name', 'parents', to_jsonb(r.parents)) ORDER BY r.id) "
	    "    FROM ckansync.object_revision r WHERE r.revision_id = v.id "
	    "    AND ($1::uuid IS NULL OR r.object_id = $1::uuid)), "
	    "   (SELECT jsonb_agg(jsonb_build_object('object_type', t.object_type, "
	    "    'object_id', t.object_id, 'name', t.name)) FROM ckansync.tombstone t "
	    "    WHERE t.revision_id = v.id), '[]')) j "
	    " FROM ckansync.revision v "
	    " WHERE ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM ckansync.object_revision r "
	    "   WHERE r.revision_id = v.id AND r.object_id = $1::uuid)) "
	    "  AND ($2::uuid IS NULL OR v.local_seq > coalesce((SELECT local_seq FROM s), 0)) "
	    "  AND ($3::bigint IS NULL OR v.\"timestamp\" > ckansync.ts($3::bigint))) x",
	    3, p, out, errstr, errstr_size);
	return err;
}

cks_err cks_store_diff(cks_store *st, const char *objrev_a, const char *objrev_b, json_t **out,
                       char *errstr, size_t errstr_size)
{
	json_t *a = NULL, *b = NULL;
	cks_err err;
	*out = NULL;
	err = cks_store_objrev_state(st, objrev_a, &a, errstr, errstr_size);
	if (err == CKS_OK)
		err = cks_store_objrev_state(st, objrev_b, &b, errstr, errstr_size);
	if (err == CKS_OK)
		*out = cks_diff(a, b);
	json_decref(a);
	json_decref(b);
	return err;
}

cks_err cks_store_search(cks_store *st, const char *query, json_t **out, char *errstr,
                         size_t errstr_size)
{
	const char *p[1] = {query ? query : ""};
	return json_query(
	    st, "search",
	    "SELECT coalesce(jsonb_agg(name ORDER BY rank DESC, exact DESC, name), '[]')::text "
	    "FROM (SELECT p.name, ts_rank(p.search, q) rank, (p.name = $1) exact "
	    "  FROM ckansync.package p, websearch_to_tsquery('simple', $1) q "
	    "  WHERE p.state = 'active' AND (p.search @@ q OR p.name = $1)) x",
	    1, p, out, errstr, errstr_size);
}

/* Current objects and unversioned objects: identity, names and states, no
 * revision ids (two instances importing the same data separately agree). */
static const char digest_current_sql[] =
    "SELECT 'o' || jsonb_build_array(o.id, o.type, o.name, r.state)::text "
    "FROM ckansync.object o JOIN ckansync.object_revision r ON r.id = o.head "
    "UNION ALL SELECT 'u' || jsonb_build_array(u.type, u.id, u.state)::text "
    "FROM ckansync.uobject u";
/* History adds revisions, object revisions (ids, parents, states), heads,
 * tombstones and unversioned metadata. Local bookkeeping is left out. */
static const char digest_history_sql[] =
    " UNION ALL SELECT 'h' || jsonb_build_array(o.id, o.head)::text FROM ckansync.object o "
    "UNION ALL SELECT 'r' || jsonb_build_array(v.id, v.origin, ckansync.us(v.\"timestamp\"), "
    "  v.author, v.message, v.kind)::text FROM ckansync.revision v "
    "UNION ALL SELECT 'v' || jsonb_build_array(r.id, r.revision_id, r.object_type, "
    "  r.object_id, to_jsonb(r.parents), r.state)::text FROM ckansync.object_revision r "
    /* A tombstone's name is local: a purge message carries no name, so a
     * mirror that never held the object (rebuilt after the purge) has none. */
    "UNION ALL SELECT 't' || jsonb_build_array(t.object_id, t.object_type, "
    "  t.revision_id, t.by_origin)::text FROM ckansync.tombstone t "
    "UNION ALL SELECT 'm' || jsonb_build_array(u.type, u.id, u.origin, "
    "  ckansync.us(u.updated))::text FROM ckansync.uobject u";

cks_err cks_store_digest(cks_store *st, bool history, char out[65], char *errstr,
                         size_t errstr_size)
{
	char sql[sizeof(digest_current_sql) + sizeof(digest_history_sql) + 256];
	PGresult *res = NULL;
	/* Fixed SQL text assembled from two constants, no data. */
	snprintf(sql, sizeof(sql),
	         "SELECT encode(sha256(convert_to(coalesce(string_agg(l, E'\\n' ORDER BY l "
	         "COLLATE \"C\"), ''), 'UTF8')), 'hex') FROM (%s%s) x(l)",
	         digest_current_sql, history ? digest_history_sql : "");
	cks_err err = cks_sti_exec(st, "digest", sql, 0, NULL, &res, errstr, errstr_size);
	if (err == CKS_OK)
		cks_sti_copy(res, 0, 0, out, 65);
	PQclear(res);
	return err;
}

/* --- outbox ----------------------------------------------------------- */

enum {
	C_ORD,
	C_SEQ,
	C_KIND,
	C_REV,
	C_ORIGIN,
	C_TS,
	C_AUTHOR,
	C_MSG,
	C_RKIND,
	C_OTYPE,
	C_OID,
	C_OBJREV,
	C_PARENTS,
	C_DIFF,
	C_STATE,
	C_PRIVATE,
	C_PAYLOAD,
	C_CONFLICT /* 17.. */
};

static const char outbox_sql[] =
    "SELECT b.ord::text, b.seq, b.kind, coalesce(r.revision_id, b.revision_id), v.origin, "
    " ckansync.us(v.\"timestamp\"), v.author, v.message, v.kind, "
    " coalesce(r.object_type, b.object_type, c.object_type), "
    " coalesce(r.object_id, b.object_id, c.object_id), r.id, r.parents::text, "
    /* a create has no diff (null on the wire); one stored before migration
     * 019 is not sent either */
    " CASE WHEN r.parents <> '{}' THEN r.diff::text END, "
    " r.state::text, coalesce(r.state->'private' = 'true'::jsonb, false), b.payload::text, "
    " c.id, c.detected_at, ckansync.us(c.detected), c.kind, c.object_name, c.base_objrev, "
    " c.local_objrev, c.remote_objrev, c.remote_origin, c.field_path, c.local_value, "
    " c.remote_value, c.resolution, c.chosen_value, c.merge_revision "
    "FROM ckansync.outbox b "
    "LEFT JOIN ckansync.object_revision r ON r.id = b.objrev_id "
    "LEFT JOIN ckansync.revision v ON v.id = coalesce(r.revision_id, b.revision_id) "
    "LEFT JOIN ckansync.conflict c ON c.id = b.conflict_id "
    "WHERE (b.ord, b.seq) > ($1::xid8, $2::bigint) "
    "  AND b.ord < pg_snapshot_xmin(pg_current_snapshot()) "
    "ORDER BY b.ord, b.seq LIMIT $3";

cks_err cks_store_outbox_backlog(cks_store *st, const cks_outbox_pos *after, int64_t *count,
                                 char *errstr, size_t errstr_size)
{
	char ord[32], seq[32];
	PGresult *res = NULL;
	snprintf(ord, sizeof(ord), "%llu", (unsigned long long)after->ord);
	snprintf(seq, sizeof(seq), "%lld", (long long)after->seq);
	const char *p[2] = {ord, seq};
	cks_err err = cks_sti_exec(st, "outbox backlog",
	                           "SELECT count(*) FROM ckansync.outbox "
	                           "WHERE (ord, seq) > ($1::xid8, $2::bigint)",
	                           2, p, &res, errstr, errstr_size);
	*count = err == CKS_OK ? cks_sti_int(res, 0, 0) : 0;
	PQclear(res);
	return err;
}

static char *col_dup(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : cks_strdup(PQgetvalue(res, row, col));
}

static void fill_revision(const PGresult *res, int i, cks_outbox_entry *e)
{
	cks_revmsg *m = &e->rev;
	cks_sti_copy(res, i, C_REV, m->revision_id, sizeof(m->revision_id));
	m->origin = cks_strdup(PQgetvalue(res, i, C_ORIGIN));
	m->timestamp_us = cks_sti_int(res, i, C_TS);
	m->author = cks_strdup(PQgetvalue(res, i, C_AUTHOR));
	m->message = cks_strdup(PQgetvalue(res, i, C_MSG));
	if (!cks_revkind_parse(PQgetvalue(res, i, C_RKIND), &m->kind))
		m->kind = CKS_REV_EDIT;
	if (!cks_objtype_parse(PQgetvalue(res, i, C_OTYPE), &m->object_type))
		m->object_type = CKS_OBJ_PACKAGE;
	cks_sti_copy(res, i, C_OID, m->object_id, sizeof(m->object_id));
	if (m->kind == CKS_REV_PURGE) {
		/* a purge has no object revision: its id is the purge revision's */
		memcpy(m->objrev_id, m->revision_id, sizeof(m->objrev_id));
		return;
	}
	cks_sti_copy(res, i, C_OBJREV, m->objrev_id, sizeof(m->objrev_id));
	m->nparents =
	    cks_sti_parse_uuids(PQgetvalue(res, i, C_PARENTS), m->parents, CKS_MAX_PARENTS);
	m->diff = cks_store_json(res, i, C_DIFF);
	m->state = cks_store_json(res, i, C_STATE);
	e->private_ = strcmp(PQgetvalue(res, i, C_PRIVATE), "t") == 0;
}

static void fill_conflict(const PGresult *res, int i, cks_outbox_entry *e)
{
	cks_conflict *c = &e->conflict;
	int k = C_CONFLICT;
	cks_sti_copy(res, i, k++, c->id, sizeof(c->id));
	c->detected_at = col_dup(res, i, k++);
	c->detected_us = cks_sti_int(res, i, k++);
	c->kind = col_dup(res, i, k++);
	if (!cks_objtype_parse(PQgetvalue(res, i, C_OTYPE), &c->object_type))
		c->object_type = CKS_OBJ_PACKAGE;
	cks_sti_copy(res, i, C_OID, c->object_id, sizeof(c->object_id));
	c->object_name = col_dup(res, i, k++);
	cks_sti_copy(res, i, k++, c->base_objrev, sizeof(c->base_objrev));
	cks_sti_copy(res, i, k++, c->local_objrev, sizeof(c->local_objrev));
	cks_sti_copy(res, i, k++, c->remote_objrev, sizeof(c->remote_objrev));
	c->remote_origin = col_dup(res, i, k++);
	c->field_path = col_dup(res, i, k++);
	c->local_value = col_dup(res, i, k++);
	c->remote_value = col_dup(res, i, k++);
	c->resolution = col_dup(res, i, k++);
	c->chosen_value = col_dup(res, i, k++);
	cks_sti_copy(res, i, k++, c->merge_revision, sizeof(c->merge_revision));
}

static void fill_object(const PGresult *res, int i, cks_outbox_entry *e)
{
	json_t *p = cks_store_json(res, i, C_PAYLOAD);
	cks_objmsg *o = &e->obj;
	o->type = cks_strdup(json_string_value(json_object_get(p, "type")) ?: "");
	o->id = cks_strdup(json_string_value(json_object_get(p, "id")) ?: "");
	o->origin = cks_strdup(json_string_value(json_object_get(p, "origin")) ?: "");
	o->updated_us = json_integer_value(json_object_get(p, "updated_us"));
	json_t *s = json_object_get(p, "state");
	o->state = json_is_null(s) || !s ? NULL : json_incref(s);
	json_decref(p);
}

void cks_outbox_entry_release(cks_outbox_entry *e)
{
	if (!e)
		return;
	cks_revmsg_release(&e->rev);
	cks_conflict_release(&e->conflict);
	cks_objmsg_release(&e->obj);
}

void cks_outbox_free(cks_outbox_entry *entries, size_t n)
{
	for (size_t i = 0; entries && i < n; i++)
		cks_outbox_entry_release(&entries[i]);
	free(entries);
}

cks_err cks_store_outbox_fetch(cks_store *st, const cks_outbox_pos *after, size_t max,
                               cks_outbox_entry **out, size_t *n, char *errstr, size_t errstr_size)
{
	char ord[32], seq[32], lim[32];
	PGresult *res = NULL;
	cks_outbox_entry *e = NULL;
	*out = NULL;
	*n = 0;
	snprintf(ord, sizeof(ord), "%llu", (unsigned long long)(after ? after->ord : 0));
	snprintf(seq, sizeof(seq), "%lld", (long long)(after ? after->seq : 0));
	snprintf(lim, sizeof(lim), "%zu", max);
	const char *p[3] = {ord, seq, lim};
	cks_err err = cks_sti_exec(st, "read outbox", outbox_sql, 3, p, &res, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	int rows = PQntuples(res);
	e = cks_calloc(rows ? (size_t)rows : 1, sizeof(*e));
	for (int i = 0; i < rows; i++) {
		e[i].rev = (cks_revmsg)CKS_REVMSG_INIT;
		e[i].pos.ord = strtoull(PQgetvalue(res, i, C_ORD), NULL, 10);
		e[i].pos.seq = cks_sti_int(res, i, C_SEQ);
		e[i].kind = (cks_outbox_kind)cks_sti_int(res, i, C_KIND);
		if (e[i].kind == CKS_OUTBOX_REVISION)
			fill_revision(res, i, &e[i]);
		else if (e[i].kind == CKS_OUTBOX_CONFLICT)
			fill_conflict(res, i, &e[i]);
		else
			fill_object(res, i, &e[i]);
	}
	PQclear(res);
	*out = e;
	*n = (size_t)rows;
	return CKS_OK;
}

cks_err cks_store_cursor_get(cks_store *st, cks_outbox_pos *pos, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	pos->ord = 0;
	pos->seq = 0;
	cks_err err =
	    cks_sti_exec(st, "read producer cursor",
	                 "SELECT ord::text, seq FROM ckansync.producer_cursor WHERE id = 1", 0,
	                 NULL, &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 1) {
		pos->ord = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		pos->seq = cks_sti_int(res, 0, 1);
	}
	PQclear(res);
	return err;
}

/* --- conflicts and sync state ------------------------------------------ */

cks_err cks_store_conflicts_list(cks_store *st, json_t **out, char *errstr, size_t errstr_size)
{
	return json_query(
	    st, "list conflicts",
	    "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'detected_at', "
	    " detected_at, 'detected', to_char(detected AT TIME ZONE 'UTC', "
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'kind', kind, 'object_type', object_type, "
	    " 'object_id', object_id, 'object_name', object_name, 'base_objrev', base_objrev, "
	    " 'local_objrev', local_objrev, 'remote_objrev', remote_objrev, 'remote_origin', "
	    " remote_origin, 'field_path', field_path, 'local_value', local_value, "
	    " 'remote_value', remote_value, 'resolution', resolution, 'chosen_value', "
	    " chosen_value, 'merge_revision', merge_revision) ORDER BY local_seq), '[]')::text "
	    "FROM ckansync.conflict",
	    0, NULL, out, errstr, errstr_size);
}

cks_err cks_store_offset_get(cks_store *st, const char *topic, int32_t partition,
                             int64_t *next_offset, char *errstr, size_t errstr_size)
{
	char part[16];
	PGresult *res = NULL;
	snprintf(part, sizeof(part), "%d", (int)partition);
	const char *p[2] = {topic, part};
	*next_offset = -1;
	cks_err err = cks_sti_exec(st, "read offset",
	                           "SELECT next_offset FROM ckansync.sync_state WHERE topic = $1 "
	                           "AND partition = $2",
	                           2, p, &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 1)
		*next_offset = cks_sti_int(res, 0, 0);
	PQclear(res);
	return err;
}

cks_err cks_store_sync_state(cks_store *st, json_t **out, char *errstr, size_t errstr_size)
{
	return json_query(st, "read sync state",
	                  "SELECT coalesce(jsonb_agg(jsonb_build_object('topic', topic, "
	                  " 'partition', partition, 'next_offset', next_offset, 'last_revision', "
	                  " last_revision, 'last_sync', to_char(last_sync AT TIME ZONE 'UTC', "
	                  " 'YYYY-MM-DD\"T\"HH24:MI:SS.US')) ORDER BY topic, partition), "
	                  " '[]')::text FROM ckansync.sync_state",
	                  0, NULL, out, errstr, errstr_size);
}
