/* store_write — every write to the instance: local edits (put, delete, purge,
 * unversioned put) and the apply primitives that write (write_objrev,
 * apply_purge, conflict_add, uobject_apply, offset_set). Each public write is
 * one transaction, or one savepoint inside the caller's transaction. Outbox
 * rows get (ord, seq) as docs/schema.md explains; seq is always drawn after
 * the object row is locked. */
#include "store_int.h"

#include "diff.h"
#include "json_fast.h"
#include "pkg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* What ckansync.write_objrev answered (r), as an error: '' written,
 * 'name-missing', 'name-owner:<uuid>' (*name_taken, may be NULL). */
static cks_err write_answer(const cks_revmsg *m, const char *r, bool *name_taken, char *errstr,
                            size_t errstr_size)
{
	const char *name = json_string_value(json_object_get(m->state, "name"));
	if (!name) /* a window's revision whose state is not kept (consumer.c) */
		name = "?";
	if (strcmp(r, "name-missing") == 0)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "name: missing");
	if (strlen(r) > 11 && memcmp(r, "name-owner:", 11) == 0) {
		if (name_taken)
			*name_taken = true;
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "name: '%s' is already used by another %s (%s)", name,
		                  cks_sti_name_space(m->object_type), r + 11);
	}
	return CKS_OK;
}

/* The 17 parameters of ckansync.write_objrev for m; wp_free frees. */
typedef struct wparams {
	char ts[32];
	char parents[2 * (CKS_UUID_LEN + 1) + 4];
	char *state, *diff;
	const char *p[17];
} wparams;

static void wp_init(wparams *w, const cks_revmsg *m, bool set_head, bool exists)
{
	const char *name = json_string_value(json_object_get(m->state, "name"));
	bool private_ = json_is_true(json_object_get(m->state, "private"));
	w->state = cks_json_dumps(m->state, CKS_JSON_INSERTION_ORDER);
	/* a create's diff is not stored (019_create_without_diff.sql) */
	w->diff =
	    m->diff && m->nparents > 0 ? cks_json_dumps(m->diff, CKS_JSON_INSERTION_ORDER) : NULL;
	snprintf(w->ts, sizeof(w->ts), "%lld", (long long)m->timestamp_us);
	cks_sti_format_uuids(m->parents, m->nparents, w->parents, sizeof(w->parents));
	const char *p[17] = {m->objrev_id,
	                     m->revision_id,
	                     nz(m->origin),
	                     w->ts,
	                     nz(m->author),
	                     nz(m->message),
	                     cks_revkind_name(m->kind),
	                     cks_objtype_name(m->object_type),
	                     m->object_id,
	                     w->parents,
	                     w->state,
	                     w->diff,
	                     set_head ? "t" : "f",
	                     exists ? "t" : "f",
	                     name,
	                     private_ ? "t" : "f",
	                     CKS_OUTBOX_CHANNEL};
	memcpy(w->p, p, sizeof(p));
}

static void wp_free(wparams *w)
{
	free(w->state);
	free(w->diff);
}

/* History rows, head (SET_HEAD) and outbox for m, in one round trip:
 * ckansync.write_objrev (common/sql/004_write_objrev.sql, now 009) runs the same
 * statements in the same order with cached plans. Writes nothing more if the
 * object revision was already stored (replay). exists: the object row is
 * present and locked by this transaction. *name_taken (if not NULL) tells a
 * PERMANENT error that another object holds the name. */
static cks_err write_core(cks_store *st, const cks_revmsg *m, cks_write_flags flags, bool exists,
                          bool *name_taken, char *errstr, size_t errstr_size)
{
	wparams w;
	PGresult *res = NULL;
	wp_init(&w, m, flags & CKS_WRITE_SET_HEAD, exists);
	cks_err err =
	    cks_sti_exec(st, "write object revision",
	                 "SELECT ckansync.write_objrev($1, $2, $3, $4, $5, $6, $7, $8, $9, "
	                 "$10::uuid[], $11::jsonb, $12::jsonb, $13, $14, $15, $16, $17)",
	                 17, w.p, &res, errstr, errstr_size);
	if (err == CKS_OK)
		err = write_answer(m, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "", name_taken,
		                   errstr, errstr_size);
	PQclear(res);
	wp_free(&w);
	return err;
}

#define APPLY_FAST_SQL                                                                             \
	"SELECT * FROM ckansync.apply_fast($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, "  \
	"$12, $13::uuid[], $14::jsonb, $15::jsonb, $16, $17)"

/* apply_fast's 17 parameters for m: the window (NULL: alone), apply_probe's
 * six, then write_objrev's without set_head and exists (a create's diff
 * NULL). fast_free frees. */
typedef struct fparams {
	wparams w;
	char win[24];
	char *tags;
	const char *p[17];
} fparams;

static void fast_init(fparams *f, const cks_revmsg *m, const int64_t *window)
{
	const json_t *tags = json_object_get(m->state, "tags");
	f->tags = m->object_type == CKS_OBJ_PACKAGE && tags
	              ? cks_json_dumps(tags, CKS_JSON_INSERTION_ORDER)
	              : NULL;
	if (window)
		snprintf(f->win, sizeof(f->win), "%lld", (long long)*window);
	wp_init(&f->w, m, true, false);
	const char *const *w = f->w.p;
	const char *v[17] = {window ? f->win : NULL,
	                     m->objrev_id,
	                     m->object_id,
	                     w[7],
	                     w[6],
	                     w[14],
	                     f->tags,
	                     w[1],
	                     w[2],
	                     w[3],
	                     w[4],
	                     w[5],
	                     w[9],
	                     w[10],
	                     w[11],
	                     w[15],
	                     w[16]};
	memcpy(f->p, v, sizeof(v));
}

static void fast_free(fparams *f)
{
	wp_free(&f->w);
	free(f->tags);
}

/* What apply_fast's (or apply_window's) out_written says was done. */
static cks_fast_state written_state(const char *w)
{
	return !w                          ? CKS_FAST_NOT_WRITTEN
	       : strcmp(w, "seen") == 0    ? CKS_FAST_SEEN
	       : strcmp(w, "pending") == 0 ? CKS_FAST_PENDING
	                                   : CKS_FAST_WRITTEN;
}

/* apply_fast's answer in res (*state, see cks_fast_state); *found: the
 * object existed. */
static cks_err fast_answer(const PGresult *res, const cks_revmsg *m, cks_fast_state *state,
                           bool *found, char *errstr, size_t errstr_size)
{
	if (PQntuples(res) != 1)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "apply revision: %d rows",
		                  PQntuples(res));
	*found = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	const char *w = PQgetisnull(res, 0, 12) ? NULL : PQgetvalue(res, 0, 12);
	*state = written_state(w);
	return *state == CKS_FAST_WRITTEN ? write_answer(m, w, NULL, errstr, errstr_size) : CKS_OK;
}

cks_err cks_store_apply_fast(cks_store *st, const cks_revmsg *m, PGresult **res,
                             cks_fast_state *state, char *errstr, size_t errstr_size)
{
	fparams f;
	bool found;
	*res = NULL;
	*state = CKS_FAST_FAILED;
	fast_init(&f, m, NULL);
	cks_err err =
	    cks_sti_exec(st, "apply revision", APPLY_FAST_SQL, 17, f.p, res, errstr, errstr_size);
	if (err == CKS_OK)
		err = fast_answer(*res, m, state, &found, errstr, errstr_size);
	if (err) {
		*state = CKS_FAST_FAILED;
		PQclear(*res);
		*res = NULL;
	}
	fast_free(&f);
	return err;
}

/* A one-dimensional PostgreSQL array in binary format (what array_recv
 * reads): ndim, has-nulls flag, element type, then size and lower bound of
 * the dimension, then each element as a length (-1: NULL) and its bytes in
 * the type's binary format. The window's arrays went as text literals before:
 * every quote of the JSON escaped here, and PostgreSQL's array_in scanned
 * every character again to find the elements (7 % of the mirror's backend
 * in perf; bench/RESULTS.md, sixth pass). */
typedef struct barr {
	cks_buf b;
	uint32_t oid; /* the element type */
	int32_t n;
	bool nulls;
} barr;

enum { OID_BOOL = 16, OID_INT8 = 20, OID_TEXT = 25, OID_UUID = 2950, OID_JSONB = 3802 };
enum { BARR_HEAD = 20 };

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void barr_init(barr *a, uint32_t oid)
{
	unsigned char head[BARR_HEAD] = {0}; /* filled in by barr_end */
	*a = (barr){.b = CKS_BUF_INIT, .oid = oid};
	cks_buf_append(&a->b, head, sizeof(head));
}

/* An element: n bytes at v, or NULL (v NULL); a jsonb element gets the
 * version byte jsonb_recv expects before its text. */
static void barr_add(barr *a, const void *v, size_t n)
{
	unsigned char len[4];
	bool jsonb = v && a->oid == OID_JSONB;
	be32(len, v ? (uint32_t)(n + jsonb) : UINT32_MAX);
	cks_buf_append(&a->b, len, 4);
	if (jsonb)
		cks_buf_append(&a->b, "\1", 1);
	if (v)
		cks_buf_append(&a->b, v, n);
	else
		a->nulls = true;
	a->n++;
}

static void barr_text(barr *a, const char *v)
{
	barr_add(a, v, v ? strlen(v) : 0);
}

/* The header, now that the elements are known; its length. An empty
 * array has no dimension. */
static int barr_end(barr *a)
{
	unsigned char *h = (unsigned char *)a->b.data;
	be32(h, a->n ? 1 : 0);
	be32(h + 4, a->nulls);
	be32(h + 8, a->oid);
	be32(h + 12, (uint32_t)a->n);
	be32(h + 16, 1);
	if (!a->n) { /* ndim 0: the header stops after the element type */
		memmove(h + 12, h + BARR_HEAD, a->b.len - BARR_HEAD);
		a->b.len -= BARR_HEAD - 12;
	}
	return (int)a->b.len;
}

/* apply_window_after's array parameters (013_apply_window.sql,
 * 014_apply_window_after.sql), in its order after the window numbers: the
 * element type of each and where fast_init put its text (-1: made here). */
enum { WIN_ARRAYS = 14 };
static const struct {
	uint32_t oid, array_oid;
	int from_fast;
} win_param[WIN_ARRAYS] = {
    {OID_UUID, 2951, 1},   /* objrev */
    {OID_UUID, 2951, 2},   /* object */
    {OID_TEXT, 1009, 3},   /* type */
    {OID_TEXT, 1009, 5},   /* name */
    {OID_JSONB, 3807, 6},  /* tags */
    {OID_UUID, 2951, 7},   /* revision */
    {OID_TEXT, 1009, 8},   /* origin */
    {OID_INT8, 1016, -1},  /* timestamp (us) */
    {OID_TEXT, 1009, 10},  /* author */
    {OID_TEXT, 1009, 11},  /* message */
    {OID_UUID, 2951, -1},  /* parent */
    {OID_JSONB, 3807, 13}, /* state */
    {OID_JSONB, 3807, 14}, /* diff */
    {OID_BOOL, 1000, 15},  /* private */
};

/* Revision m's element of array j; an error only for a UUID that is not
 * one (the codec checks them all, so only a bug gets here). */
static cks_err win_elem(barr *a, int j, const cks_revmsg *m, const fparams *f, char *errstr,
                        size_t errstr_size)
{
	const char *v = win_param[j].from_fast >= 0 ? f->p[win_param[j].from_fast]
	                : m->nparents == 1          ? m->parents[0]
	                                            : NULL;
	switch (win_param[j].oid) {
	case OID_UUID: {
		uuid_t u;
		if (!v) {
			barr_add(a, NULL, 0);
		} else if (uuid_parse(v, u) == 0) {
			barr_add(a, u, sizeof(u));
		} else {
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "apply revisions: '%s' is not a UUID", v);
		}
		return CKS_OK;
	}
	case OID_INT8: {
		unsigned char t[8];
		uint64_t us = (uint64_t)m->timestamp_us;
		be32(t, (uint32_t)(us >> 32));
		be32(t + 4, (uint32_t)us);
		barr_add(a, t, sizeof(t));
		return CKS_OK;
	}
	case OID_BOOL:
		barr_add(a, strcmp(v, "t") == 0 ? "\1" : "\0", 1);
		return CKS_OK;
	default:
		barr_text(a, v);
		return CKS_OK;
	}
}

cks_err cks_store_window_send(cks_store *st, int64_t window, int64_t after,
                              const cks_revmsg *const *m, size_t n, char *errstr,
                              size_t errstr_size)
{
	barr arr[WIN_ARRAYS];
	cks_err err = CKS_OK;
	for (size_t j = 0; j < WIN_ARRAYS; j++)
		barr_init(&arr[j], win_param[j].oid);
	for (size_t i = 0; i < n && !err; i++) {
		fparams f;
		fast_init(&f, m[i], &window);
		for (int j = 0; j < WIN_ARRAYS && !err; j++)
			err = win_elem(&arr[j], j, m[i], &f, errstr, errstr_size);
		fast_free(&f);
	}
	if (!err) {
		char win[24], aft[24];
		snprintf(win, sizeof(win), "%lld", (long long)window);
		snprintf(aft, sizeof(aft), "%lld", (long long)after);
		const char *p[WIN_ARRAYS + 3];
		Oid types[WIN_ARRAYS + 3] = {OID_INT8, OID_INT8};
		int lens[WIN_ARRAYS + 3] = {0}, formats[WIN_ARRAYS + 3] = {0};
		p[0] = after >= 0 ? aft : NULL;
		p[1] = win;
		for (size_t j = 0; j < WIN_ARRAYS; j++) {
			lens[j + 2] = barr_end(&arr[j]);
			p[j + 2] = arr[j].b.data;
			types[j + 2] = win_param[j].array_oid;
			formats[j + 2] = 1;
		}
		p[WIN_ARRAYS + 2] = CKS_OUTBOX_CHANNEL;
		types[WIN_ARRAYS + 2] = OID_TEXT;
		bool piped = PQpipelineStatus(st->conn) != PQ_PIPELINE_OFF;
		if (!PQsendQueryParams(
		        st->conn,
		        "SELECT * FROM ckansync.apply_window_after($1, $2, $3, $4, $5, "
		        "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
		        WIN_ARRAYS + 3, types, p, lens, formats, 0) ||
		    (piped && !PQsendFlushRequest(st->conn)) || PQflush(st->conn) != 0)
			err = cks_sti_fail(st, NULL, "apply revisions", errstr, errstr_size);
	}
	for (size_t j = 0; j < WIN_ARRAYS; j++)
		cks_buf_release(&arr[j].b);
	return err;
}

cks_err cks_store_window_recv(cks_store *st, const cks_revmsg *const *m, size_t n,
                              cks_fast_state *state, bool *found, char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	PGresult *res;
	bool got = false;
	for (size_t i = 0; i < n; i++) {
		state[i] = CKS_FAST_FAILED;
		found[i] = false;
	}
	/* every result up to the NULL that ends the query's */
	while ((res = PQgetResult(st->conn))) {
		if (!got && !err) {
			got = true;
			if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
				err = cks_seterr(
				    errstr, errstr_size, CKS_ERR_RETRIABLE,
				    "apply revisions: not run, the window before failed");
			} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
				err = cks_sti_fail(st, res, "apply revisions", errstr, errstr_size);
			} else if ((size_t)PQntuples(res) != n || PQnfields(res) != 2) {
				err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				                 "apply revisions: %d rows for %zu revisions",
				                 PQntuples(res), n);
			}
			for (size_t i = 0; !err && i < n; i++) {
				const char *w =
				    PQgetisnull(res, (int)i, 1) ? NULL : PQgetvalue(res, (int)i, 1);
				found[i] = strcmp(PQgetvalue(res, (int)i, 0), "t") == 0;
				state[i] = written_state(w);
				if (state[i] == CKS_FAST_WRITTEN &&
				    (err = write_answer(m[i], w, NULL, errstr, errstr_size)))
					state[i] = CKS_FAST_FAILED;
			}
		}
		PQclear(res);
	}
	if (!got && !err)
		err = cks_sti_fail(st, NULL, "apply revisions", errstr, errstr_size);
	return err;
}

cks_err cks_store_pipeline_on(cks_store *st, char *errstr, size_t errstr_size)
{
	if (PQpipelineStatus(st->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(st->conn))
		return cks_sti_fail(st, NULL, "pipeline", errstr, errstr_size);
	return CKS_OK;
}

cks_err cks_store_pipeline_off(cks_store *st, char *errstr, size_t errstr_size)
{
	PGresult *res;
	if (PQpipelineStatus(st->conn) == PQ_PIPELINE_OFF)
		return CKS_OK;
	if (!PQpipelineSync(st->conn))
		return cks_sti_fail(st, NULL, "pipeline end", errstr, errstr_size);
	/* what is left up to the sync point (nothing, or after a failure) */
	for (int guard = 0; guard < 100000; guard++) {
		res = PQgetResult(st->conn);
		if (!res) {
			if (PQstatus(st->conn) != CONNECTION_OK)
				return cks_sti_fail(st, NULL, "pipeline end", errstr, errstr_size);
			continue; /* between two queries' results */
		}
		ExecStatusType s = PQresultStatus(res);
		PQclear(res);
		if (s == PGRES_PIPELINE_SYNC)
			break;
	}
	if (!PQexitPipelineMode(st->conn))
		return cks_sti_fail(st, NULL, "pipeline end", errstr, errstr_size);
	return CKS_OK;
}

/* Fills the revision metadata of a local edit. */
static void local_meta(cks_store *st, cks_revmsg *m, const cks_put_opts *opts, cks_revkind kind)
{
	cks_uuid_v4(m->revision_id);
	cks_uuid_v4(m->objrev_id);
	m->origin = cks_strdup(st->instance);
	m->timestamp_us = opts && opts->timestamp_us ? opts->timestamp_us : cks_now_us();
	m->author = cks_strdup(opts && opts->author ? opts->author : "");
	m->message = cks_strdup(opts && opts->message ? opts->message : "");
	m->kind = kind;
}

static cks_err need_instance(cks_store *st, char *errstr, size_t errstr_size)
{
	if (!*st->instance)
		return cks_seterr(
		    errstr, errstr_size, CKS_ERR_FATAL,
		    "store not checked: call cks_store_check or cks_store_init first");
	return CKS_OK;
}

/* Gives every resource without an id a new one, as CKAN does. */
static void assign_resource_ids(json_t *state)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(state, "resources"), i, r)
	{
		if (json_is_object(r) && !json_object_get(r, "id")) {
			cks_uuid_str id;
			cks_uuid_v4(id);
			json_object_set_new(r, "id", json_string(id));
		}
	}
}

/* Edit of an existing or new object from a local dict: m->state is owned by
 * m. Locates and locks the object, then writes. */
static cks_err put_tx(cks_store *st, cks_revmsg *m, char *errstr, size_t errstr_size)
{
	const char *id = json_string_value(json_object_get(m->state, "id"));
	const char *name = json_string_value(json_object_get(m->state, "name"));
	const char *ns = cks_sti_name_space(m->object_type);
	json_t *head = NULL;
	cks_sti_obj o;
	cks_err err;

	err = cks_sti_obj_find(st, id ? id : name, ns, true, &o, errstr, errstr_size);
	if (err == CKS_ERR_NOTFOUND && id) {
		bool purged = false;
		char by[64];
		err = cks_store_tombstone_get(st, id, &purged, by, errstr, errstr_size);
		if (err == CKS_OK && purged)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                 "id %s: this object was purged (by %s); it cannot be "
			                 "recreated",
			                 id, by);
		if (err != CKS_OK)
			goto out;
		err = CKS_ERR_NOTFOUND;
	}
	if (err == CKS_ERR_NOTFOUND) {
		if (id)
			snprintf(m->object_id, sizeof(m->object_id), "%s", id);
		else
			cks_uuid_v4(m->object_id);
		json_object_set_new(m->state, "id", json_string(m->object_id));
		bool taken = false;
		err = write_core(st, m, CKS_WRITE_SET_HEAD, false, &taken, errstr, errstr_size);
		/* Not found by name a moment ago, taken now: a concurrent writer
		 * created it first. Retriable: the retry finds and updates it. */
		if (err == CKS_ERR_PERMANENT && taken && !id)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE,
			                 "name '%s' was just created by a concurrent writer", name);
		goto out;
	}
	if (err != CKS_OK)
		goto out;
	if (o.type != m->object_type) {
		err =
		    cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "'%s' is a %s, not a %s",
		               o.name, cks_objtype_name(o.type), cks_objtype_name(m->object_type));
		goto out;
	}
	snprintf(m->object_id, sizeof(m->object_id), "%s", o.id);
	json_object_set_new(m->state, "id", json_string(o.id));
	if (*o.head) {
		err = cks_store_objrev_state(st, o.head, &head, errstr, errstr_size);
		if (err != CKS_OK)
			goto out;
		snprintf(m->parents[0], sizeof(m->parents[0]), "%s", o.head);
		m->nparents = 1;
	}
	m->diff = cks_diff(head, m->state);
	err = write_core(st, m, CKS_WRITE_SET_HEAD, true, NULL, errstr, errstr_size);
out:
	json_decref(head);
	return err;
}

cks_err cks_store_put(cks_store *st, const json_t *dict, const cks_put_opts *opts,
                      cks_uuid_str revision_id, cks_uuid_str objrev_id, char *errstr,
                      size_t errstr_size)
{
	cks_revmsg m = CKS_REVMSG_INIT;
	cks_objtype type = opts ? opts->type : CKS_OBJ_PACKAGE;
	cks_sti_wtx w;
	cks_err err;

	err = need_instance(st, errstr, errstr_size);
	if (err == CKS_OK)
		err = cks_pkg_validate(dict, type, errstr, errstr_size);
	if (err != CKS_OK)
		goto out;
	/* A concurrent writer creating the same name makes our insert fail with
	 * a unique violation (retriable): start again from the input, which then
	 * finds the other writer's object and updates it. */
	for (int attempt = 0;; attempt++) {
		local_meta(st, &m, opts, CKS_REV_EDIT);
		m.object_type = type;
		m.state = cks_pkg_strip_managed(dict);
		assign_resource_ids(m.state);
		err = cks_sti_wtx_begin(st, &w, errstr, errstr_size);
		if (err != CKS_OK)
			goto out;
		err = put_tx(st, &m, errstr, errstr_size);
		err = cks_sti_wtx_end(st, &w, err, errstr, errstr_size);
		if (err != CKS_ERR_RETRIABLE || w.savepoint || attempt == 4 ||
		    PQstatus(st->conn) != CONNECTION_OK)
			break;
		cks_revmsg_release(&m);
	}
	if (err == CKS_OK) {
		if (revision_id)
			memcpy(revision_id, m.revision_id, sizeof(cks_uuid_str));
		if (objrev_id)
			memcpy(objrev_id, m.objrev_id, sizeof(cks_uuid_str));
	}
out:
	cks_revmsg_release(&m);
	return err;
}

static cks_err delete_tx(cks_store *st, const char *name_or_id, cks_revmsg *m, char *errstr,
                         size_t errstr_size)
{
	cks_sti_obj o;
	cks_err err = cks_sti_obj_find(st, name_or_id, NULL, true, &o, errstr, errstr_size);
	if (err == CKS_OK && !*o.head)
		err = cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND, "'%s' has no head",
		                 name_or_id);
	if (err == CKS_OK)
		err = cks_store_objrev_state(st, o.head, &m->state, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	json_t *old = json_deep_copy(m->state);
	json_object_set_new(m->state, "state", json_string("deleted"));
	m->object_type = o.type;
	memcpy(m->object_id, o.id, sizeof(o.id));
	memcpy(m->parents[0], o.head, sizeof(o.head));
	m->nparents = 1;
	m->diff = cks_diff(old, m->state);
	json_decref(old);
	return write_core(st, m, CKS_WRITE_SET_HEAD, true, NULL, errstr, errstr_size);
}

/* A local edit of an existing object (delete, purge): metadata from opts,
 * fn does the work inside one write unit. */
typedef cks_err (*edit_fn)(cks_store *st, const char *name_or_id, cks_revmsg *m, char *errstr,
                           size_t errstr_size);
static cks_err local_edit(cks_store *st, const char *name_or_id, const cks_put_opts *opts,
                          cks_revkind kind, edit_fn fn, cks_uuid_str revision_id, char *errstr,
                          size_t errstr_size)
{
	cks_revmsg m = CKS_REVMSG_INIT;
	cks_sti_wtx w;
	cks_err err = need_instance(st, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	local_meta(st, &m, opts, kind);
	err = cks_sti_wtx_begin(st, &w, errstr, errstr_size);
	if (err == CKS_OK) {
		err = fn(st, name_or_id, &m, errstr, errstr_size);
		err = cks_sti_wtx_end(st, &w, err, errstr, errstr_size);
	}
	if (err == CKS_OK && revision_id)
		memcpy(revision_id, m.revision_id, sizeof(cks_uuid_str));
	cks_revmsg_release(&m);
	return err;
}

cks_err cks_store_delete(cks_store *st, const char *name_or_id, const cks_put_opts *opts,
                         cks_uuid_str revision_id, char *errstr, size_t errstr_size)
{
	return local_edit(st, name_or_id, opts, CKS_REV_EDIT, delete_tx, revision_id, errstr,
	                  errstr_size);
}

/* Erases object m->object_id and its history, keeps a tombstone, stores the
 * purge revision and queues it (once). The caller locked the object row. */
static cks_err purge_core(cks_store *st, const cks_revmsg *m, const char *name, char *errstr,
                          size_t errstr_size)
{
	char ts[32];
	PGresult *res = NULL;
	cks_err err;
	const char *p1[1] = {m->object_id};

	err = cks_sti_run(st, "purge object", "DELETE FROM ckansync.object WHERE id = $1", 1, p1,
	                  errstr, errstr_size);
	if (err == CKS_OK)
		err = cks_sti_run(
		    st, "purge history",
		    "WITH d AS (DELETE FROM ckansync.object_revision WHERE object_id = $1 "
		    "  RETURNING revision_id) "
		    "DELETE FROM ckansync.revision v WHERE v.id IN (SELECT revision_id FROM d) "
		    "  AND v.kind <> 'purge' AND NOT EXISTS (SELECT 1 FROM "
		    "  ckansync.object_revision r WHERE r.revision_id = v.id AND r.object_id <> "
		    "$1)",
		    1, p1, errstr, errstr_size);
	snprintf(ts, sizeof(ts), "%lld", (long long)m->timestamp_us);
	const char *pr[6] = {m->revision_id, nz(m->origin),  ts,
	                     nz(m->author),  nz(m->message), "purge"};
	if (err == CKS_OK)
		err =
		    cks_sti_run(st, "write purge revision",
		                "INSERT INTO ckansync.revision (id, origin, \"timestamp\", author, "
		                "message, kind) VALUES ($1, $2, ckansync.ts($3), $4, $5, $6) "
		                "ON CONFLICT (id) DO NOTHING",
		                6, pr, errstr, errstr_size);
	const char *pt[6] = {m->object_id,  cks_objtype_name(m->object_type),
	                     nz(name),      m->revision_id,
	                     nz(m->origin), CKS_OUTBOX_CHANNEL};
	if (err == CKS_OK)
		err = cks_sti_exec(
		    st, "write tombstone",
		    "WITH t AS (INSERT INTO ckansync.tombstone (object_id, object_type, name, "
		    "  revision_id, by_origin) VALUES ($1, $2, $3, $4, $5) "
		    "  ON CONFLICT (object_id) DO NOTHING RETURNING object_id), "
		    "o AS (INSERT INTO ckansync.outbox (ord, seq, kind, revision_id, object_type, "
		    "  object_id) SELECT pg_current_xact_id(), nextval('ckansync.outbox_seq'), 0, "
		    "  $4, $2, $1 FROM t RETURNING 1) "
		    "SELECT pg_notify($6, '') FROM o",
		    6, pt, &res, errstr, errstr_size);
	PQclear(res);
	return err;
}

static cks_err purge_tx(cks_store *st, const char *name_or_id, cks_revmsg *m, char *errstr,
                        size_t errstr_size)
{
	cks_sti_obj o;
	cks_err err = cks_sti_obj_find(st, name_or_id, NULL, true, &o, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	m->object_type = o.type;
	memcpy(m->object_id, o.id, sizeof(o.id));
	return purge_core(st, m, o.name, errstr, errstr_size);
}

cks_err cks_store_purge(cks_store *st, const char *name_or_id, const cks_put_opts *opts,
                        cks_uuid_str revision_id, char *errstr, size_t errstr_size)
{
	return local_edit(st, name_or_id, opts, CKS_REV_PURGE, purge_tx, revision_id, errstr,
	                  errstr_size);
}

cks_err cks_store_apply_purge(cks_store *st, const cks_revmsg *m, char *errstr, size_t errstr_size)
{
	cks_sti_obj o;
	cks_sti_wtx w;
	cks_err err;

	if (m->kind != CKS_REV_PURGE || !cks_uuid_valid(m->object_id) ||
	    !cks_uuid_valid(m->revision_id))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "apply purge: not a purge message with valid ids");
	err = cks_sti_wtx_begin(st, &w, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	err = cks_sti_obj_get(st, m->object_id, true, &o, errstr, errstr_size);
	if (err == CKS_ERR_NOTFOUND) {
		memset(&o, 0, sizeof(o));
		const char *n = json_string_value(json_object_get(m->state, "name"));
		snprintf(o.name, sizeof(o.name), "%s", n ? n : "");
		err = CKS_OK;
	}
	if (err == CKS_OK)
		err = purge_core(st, m, o.name, errstr, errstr_size);
	return cks_sti_wtx_end(st, &w, err, errstr, errstr_size);
}

/* Loads the first parent's state (if stored) and diffs it to m's state. */
static json_t *diff_from_parent(cks_store *st, const cks_revmsg *m)
{
	json_t *parent = NULL, *diff;
	char e[8];
	if (m->nparents > 0 &&
	    cks_store_objrev_state(st, m->parents[0], &parent, e, sizeof(e)) != CKS_OK)
		return NULL;
	diff = cks_diff(parent, m->state);
	json_decref(parent);
	return diff;
}

static cks_err write_objrev_tx(cks_store *st, const cks_revmsg *m, cks_write_flags flags,
                               char *errstr, size_t errstr_size)
{
	cks_sti_obj o;
	cks_revmsg copy = *m;
	bool exists = !(flags & CKS_WRITE_NEW); /* LOCKED: the caller found and locked it */
	cks_err err = CKS_OK;
	memset(&o, 0, sizeof(o));
	if (!(flags & (CKS_WRITE_LOCKED | CKS_WRITE_NEW))) {
		err = cks_sti_obj_get(st, m->object_id, true, &o, errstr, errstr_size);
		exists = err == CKS_OK;
		if (err == CKS_ERR_NOTFOUND)
			err = CKS_OK;
		if (err != CKS_OK)
			return err;
	}
	if (exists && !(flags & CKS_WRITE_LOCKED) &&
	    strcmp(cks_sti_name_space(o.type), cks_sti_name_space(m->object_type)) != 0)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "object %s is a %s here, not a %s", m->object_id,
		                  cks_objtype_name(o.type), cks_objtype_name(m->object_type));
	if (!m->diff && m->nparents > 0)
		copy.diff = diff_from_parent(st, m);
	err = write_core(st, &copy, flags, exists, NULL, errstr, errstr_size);
	if (copy.diff != m->diff)
		json_decref(copy.diff);
	return err;
}

cks_err cks_store_write_objrev(cks_store *st, const cks_revmsg *m, cks_write_flags flags,
                               char *errstr, size_t errstr_size)
{
	cks_sti_wtx w;
	cks_err err;
	if (!m->state)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "object revision %s: no state", m->objrev_id);
	if (!cks_uuid_valid(m->revision_id) || !cks_uuid_valid(m->objrev_id) ||
	    !cks_uuid_valid(m->object_id) || m->nparents > CKS_MAX_PARENTS)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "object revision '%s': invalid revision, object or object "
		                  "revision id",
		                  m->objrev_id);
	for (size_t i = 0; i < m->nparents; i++)
		if (!cks_uuid_valid(m->parents[i]))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "object revision %s: invalid parent id", m->objrev_id);
	err = cks_pkg_validate(m->state, m->object_type, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	err = cks_sti_wtx_begin(st, &w, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	err = write_objrev_tx(st, m, flags, errstr, errstr_size);
	return cks_sti_wtx_end(st, &w, err, errstr, errstr_size);
}

/* --- unversioned objects ---------------------------------------------- */

/* Upserts one unversioned object and queues it if it changed. lww: apply
 * only if (updated, origin) is newer (replays); otherwise a local write whose
 * time is bumped past the stored one. state may be NULL (deleted). */
static cks_err uobject_upsert(cks_store *st, const char *type, const char *id, const char *origin,
                              int64_t updated_us, const char *state, bool lww, char *errstr,
                              size_t errstr_size)
{
	char ts[32];
	snprintf(ts, sizeof(ts), "%lld", (long long)updated_us);
	const char *p[7] = {type, id, state, origin, ts, lww ? "t" : "f", CKS_OUTBOX_CHANNEL};
	return cks_sti_run(
	    st, "write unversioned object",
	    "WITH u AS (INSERT INTO ckansync.uobject AS x (type, id, state, origin, updated) "
	    "  VALUES ($1, $2, $3::jsonb, $4, ckansync.ts($5)) "
	    "  ON CONFLICT (type, id) DO UPDATE SET state = excluded.state, "
	    "  origin = excluded.origin, updated = CASE WHEN $6::boolean THEN excluded.updated "
	    "    ELSE greatest(excluded.updated, x.updated + interval '1 microsecond') END "
	    "  WHERE NOT $6::boolean OR (excluded.updated, excluded.origin) > (x.updated, "
	    "x.origin) "
	    "  RETURNING x.type, x.id, x.state, x.origin, x.updated), "
	    "o AS (INSERT INTO ckansync.outbox (ord, seq, kind, payload) "
	    "  SELECT pg_current_xact_id(), nextval('ckansync.outbox_seq'), 2, "
	    "  jsonb_build_object('type', u.type, 'id', u.id, 'origin', u.origin, "
	    "    'updated_us', ckansync.us(u.updated), 'state', u.state) FROM u RETURNING 1) "
	    "SELECT pg_notify($7, '') FROM o",
	    7, p, errstr, errstr_size);
}

/* Id of a user dict: its "id", else the stored user with that "name", else new. */
static cks_err uobject_id(cks_store *st, const char *type, json_t *dict, char *id, size_t n,
                          char *errstr, size_t errstr_size)
{
	const char *given = json_string_value(json_object_get(dict, "id"));
	const char *name = json_string_value(json_object_get(dict, "name"));
	PGresult *res = NULL;
	cks_err err = CKS_OK;
	if (given) {
		snprintf(id, n, "%s", given);
		return CKS_OK;
	}
	const char *p[2] = {type, name};
	err =
	    cks_sti_exec(st, "find unversioned object",
	                 "SELECT id FROM ckansync.uobject WHERE type = $1 AND state->>'name' = $2 "
	                 "ORDER BY id LIMIT 1 FOR UPDATE",
	                 2, p, &res, errstr, errstr_size);
	if (err == CKS_OK && PQntuples(res) == 1) {
		cks_sti_copy(res, 0, 0, id, n);
	} else if (err == CKS_OK) {
		cks_uuid_str u;
		cks_uuid_v4(u);
		snprintf(id, n, "%s", u);
	}
	PQclear(res);
	if (err == CKS_OK)
		json_object_set_new(dict, "id", json_string(id));
	return err;
}

cks_err cks_store_uobject_put(cks_store *st, const char *type, const json_t *dict, char *errstr,
                              size_t errstr_size)
{
	json_t *copy = NULL;
	char id[256], *text = NULL;
	cks_sti_wtx w;
	cks_err err = need_instance(st, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	if (!type || (strcmp(type, "user") != 0 && strcmp(type, "rating") != 0))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "unversioned object type must be 'user' or 'rating'");
	if (!json_is_object(dict))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "%s: must be a JSON object", type);
	json_t *jid = json_object_get(dict, "id"), *jname = json_object_get(dict, "name");
	if ((jid &&
	     (!json_is_string(jid) || !*json_string_value(jid) || json_string_length(jid) > 200)) ||
	    (!jid && (!json_is_string(jname) || !*json_string_value(jname))))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "%s: needs a non-empty string \"id\" (at most 200 characters) or "
		                  "\"name\"",
		                  type);
	copy = json_deep_copy(dict);
	err = cks_sti_wtx_begin(st, &w, errstr, errstr_size);
	if (err != CKS_OK)
		goto out;
	err = uobject_id(st, type, copy, id, sizeof(id), errstr, errstr_size);
	if (err == CKS_OK) {
		text = cks_json_dumps(copy, CKS_JSON_INSERTION_ORDER);
		err = uobject_upsert(st, type, id, st->instance, cks_now_us(), text, false, errstr,
		                     errstr_size);
	}
	err = cks_sti_wtx_end(st, &w, err, errstr, errstr_size);
out:
	free(text);
	json_decref(copy);
	return err;
}

cks_err cks_store_uobject_apply(cks_store *st, const cks_objmsg *o, char *errstr,
                                size_t errstr_size)
{
	char *text = NULL;
	cks_sti_wtx w;
	cks_err err;
	if (!o->type || !o->id || !*o->id || !o->origin)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "unversioned object: type, id and origin are required");
	text = o->state ? cks_json_dumps(o->state, CKS_JSON_INSERTION_ORDER) : NULL;
	err = cks_sti_wtx_begin(st, &w, errstr, errstr_size);
	if (err == CKS_OK) {
		err = uobject_upsert(st, o->type, o->id, o->origin, o->updated_us, text, true,
		                     errstr, errstr_size);
		err = cks_sti_wtx_end(st, &w, err, errstr, errstr_size);
	}
	free(text);
	return err;
}

/* --- conflicts and sync state ----------------------------------------- */

static const char *uuid_or_null(const char *s)
{
	return s && *s ? s : NULL;
}

cks_err cks_store_conflict_add(cks_store *st, cks_conflict *c, char *errstr, size_t errstr_size)
{
	char ts[32];
	if (!*c->id)
		cks_uuid_v4(c->id);
	snprintf(ts, sizeof(ts), "%lld",
	         (long long)(c->detected_us ? c->detected_us : cks_now_us()));
	const char *p[18] = {c->id,
	                     c->detected_at ? c->detected_at : st->instance,
	                     ts,
	                     nz(c->kind),
	                     cks_objtype_name(c->object_type),
	                     c->object_id,
	                     nz(c->object_name),
	                     uuid_or_null(c->base_objrev),
	                     uuid_or_null(c->local_objrev),
	                     uuid_or_null(c->remote_objrev),
	                     nz(c->remote_origin),
	                     nz(c->field_path),
	                     c->local_value,
	                     c->remote_value,
	                     nz(c->resolution),
	                     c->chosen_value,
	                     uuid_or_null(c->merge_revision),
	                     CKS_OUTBOX_CHANNEL};
	return cks_sti_run(
	    st, "record conflict",
	    "WITH c AS (INSERT INTO ckansync.conflict (id, detected_at, detected, kind, "
	    "  object_type, object_id, object_name, base_objrev, local_objrev, remote_objrev, "
	    "  remote_origin, field_path, local_value, remote_value, resolution, chosen_value, "
	    "  merge_revision) VALUES ($1, $2, ckansync.ts($3), $4, $5, $6, $7, $8, $9, $10, "
	    "  $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (id) DO NOTHING RETURNING id), "
	    "o AS (INSERT INTO ckansync.outbox (ord, seq, kind, conflict_id) "
	    "  SELECT pg_current_xact_id(), nextval('ckansync.outbox_seq'), 1, id FROM c "
	    "  RETURNING 1) "
	    "SELECT pg_notify($18, '') FROM o",
	    18, p, errstr, errstr_size);
}

cks_err cks_store_offset_set(cks_store *st, const char *topic, int32_t partition,
                             int64_t next_offset, const char *last_revision, char *errstr,
                             size_t errstr_size)
{
	char part[16], off[32];
	snprintf(part, sizeof(part), "%d", (int)partition);
	snprintf(off, sizeof(off), "%lld", (long long)next_offset);
	const char *p[4] = {topic, part, off, uuid_or_null(last_revision)};
	return cks_sti_run(
	    st, "store offset",
	    "INSERT INTO ckansync.sync_state (topic, partition, next_offset, "
	    "last_revision, last_sync) VALUES ($1, $2, $3, $4, now()) "
	    "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = $3, "
	    "last_revision = coalesce($4, sync_state.last_revision), last_sync = now()",
	    4, p, errstr, errstr_size);
}

cks_err cks_store_cursor_set(cks_store *st, const cks_outbox_pos *pos, char *errstr,
                             size_t errstr_size)
{
	char ord[32], seq[32];
	snprintf(ord, sizeof(ord), "%llu", (unsigned long long)pos->ord);
	snprintf(seq, sizeof(seq), "%lld", (long long)pos->seq);
	const char *p[2] = {ord, seq};
	return cks_sti_run(st, "store producer cursor",
	                   "INSERT INTO ckansync.producer_cursor (id, ord, seq) VALUES (1, $1, $2) "
	                   "ON CONFLICT (id) DO UPDATE SET ord = $1, seq = $2",
	                   2, p, errstr, errstr_size);
}
