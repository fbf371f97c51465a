/* store — connection, schema migrations, error classification, transaction
 * control and the small helpers the other store_*.c files share. Writes are
 * in store_write.c, reads and the outbox in store_read.c. See store.h. */
#include "store_int.h"

#include "json_fast.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATION_DIR "common/sql/"

/* Server notices go through the log module: WARNINGs (e.g. a transaction
 * id wrap-around warning) as warnings, the rest (e.g. "already exists,
 * skipping" during init) as debug noise. */
static void notice_cb(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	bool warn = sev && strcmp(sev, "WARNING") == 0;
	CKS_LOG(warn ? CKS_LOG_WARN : CKS_LOG_DEBUG, "postgresql", "%s: %s", sev ? sev : "NOTICE",
	        msg ? msg : "");
}

cks_err cks_store_open(const char *conninfo, cks_store **out, char *errstr, size_t errstr_size)
{
	cks_store *st = NULL;
	PGresult *res = NULL;
	cks_err err = CKS_OK;

	*out = NULL;
	st = cks_calloc(1, sizeof(*st));
	st->conn = PQconnectdb(conninfo ? conninfo : "");
	if (PQstatus(st->conn) != CONNECTION_OK) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE,
		                 "cannot connect to PostgreSQL: %s", PQerrorMessage(st->conn));
		goto out;
	}
	PQsetNoticeReceiver(st->conn, notice_cb, NULL);
	if (PQsetClientEncoding(st->conn, "UTF8") != 0) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                 "cannot set client encoding UTF8: %s", PQerrorMessage(st->conn));
		goto out;
	}
	/* Fixed text, no data: PQexec is fine here. JIT off: ckansync runs many
	 * small statements, and compiling the recursive history queries (their
	 * cost estimates are huge) took 1.6 s per merge for a 0.1 s query. */
	res = PQexec(st->conn, "SET TIME ZONE 'UTC'; SET jit = off");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		err = cks_seterr(errstr, errstr_size, cks_store_classify(st, res),
		                 "cannot set time zone: %s", PQerrorMessage(st->conn));
		goto out;
	}
	*out = st;
	st = NULL;
out:
	PQclear(res);
	cks_store_close(st);
	return err;
}

void cks_store_close(cks_store *st)
{
	if (!st)
		return;
	PQfinish(st->conn);
	for (int i = 0; i < st->nprep; i++)
		free(st->prep[i].sql);
	free(st->txm);
	free(st);
}

const char *cks_store_instance(const cks_store *st)
{
	return st->instance;
}

PGconn *cks_store_conn(cks_store *st)
{
	return st->conn;
}

cks_err cks_store_classify(cks_store *st, const PGresult *res)
{
	if (PQstatus(st->conn) != CONNECTION_OK)
		return CKS_ERR_RETRIABLE;
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!code)
		return res ? CKS_ERR_PERMANENT : CKS_ERR_RETRIABLE;
	/* 23505: a concurrent writer inserted the same key first (two consumers,
	 * or two writers creating one name); a retry sees its row. */
	if (strcmp(code, "40001") == 0 || strcmp(code, "40P01") == 0 ||
	    strcmp(code, "23505") == 0 || strncmp(code, "08", 2) == 0 ||
	    strcmp(code, "57P01") == 0 || strcmp(code, "55P03") == 0 || strcmp(code, "53300") == 0)
		return CKS_ERR_RETRIABLE;
	/* undefined table / schema / function: not initialised or too old */
	if (strcmp(code, "42P01") == 0 || strcmp(code, "3F000") == 0 || strcmp(code, "42883") == 0)
		return CKS_ERR_FATAL;
	return CKS_ERR_PERMANENT;
}

cks_err cks_sti_fail(cks_store *st, const PGresult *res, const char *ctx, char *errstr,
                     size_t errstr_size)
{
	cks_err err = cks_store_classify(st, res);
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	if (!msg)
		msg = PQerrorMessage(st->conn);
	if (err == CKS_ERR_FATAL)
		return cks_seterr(errstr, errstr_size, err,
		                  "%s: %s (is the database initialised? run `ckansync init`)", ctx,
		                  msg);
	return cks_seterr(errstr, errstr_size, err, "%s: %s%s%s", ctx, msg, detail ? ": " : "",
	                  detail ? detail : "");
}

PGresult *cks_store_exec_params(cks_store *st, const char *sql, int nparams,
                                const char *const *params)
{
	char name[16];
	int i = 0;
	if (nparams == 0 || PQpipelineStatus(st->conn) != PQ_PIPELINE_OFF)
		return PQexecParams(st->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	/* by the caller's pointer (its SQL is a literal), the text compared
	 * too: a buffer reused for another statement is a new one */
	while (i < st->nprep && !(st->prep[i].key == sql && strcmp(st->prep[i].sql, sql) == 0))
		i++;
	snprintf(name, sizeof(name), "cks%d", i);
	if (i == st->nprep) {
		if (i == CKS_STI_PREPARED) /* full: dynamic SQL, most likely */
			return PQexecParams(st->conn, sql, nparams, NULL, params, NULL, NULL, 0);
		PGresult *res = PQprepare(st->conn, name, sql, nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return res; /* the error running it would give */
		PQclear(res);
		st->prep[i].key = sql;
		st->prep[i].sql = cks_strdup(sql);
		st->nprep++;
	}
	return PQexecPrepared(st->conn, name, nparams, params, NULL, NULL, 0);
}

cks_err cks_sti_exec(cks_store *st, const char *ctx, const char *sql, int nparams,
                     const char *const *params, PGresult **out, char *errstr, size_t errstr_size)
{
	PGresult *res = cks_store_exec_params(st, sql, nparams, params);
	ExecStatusType s = PQresultStatus(res);
	*out = NULL;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		*out = res;
		return CKS_OK;
	}
	cks_err err = cks_sti_fail(st, res, ctx, errstr, errstr_size);
	PQclear(res);
	return err;
}

cks_err cks_sti_run(cks_store *st, const char *ctx, const char *sql, int nparams,
                    const char *const *params, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	cks_err err = cks_sti_exec(st, ctx, sql, nparams, params, &res, errstr, errstr_size);
	PQclear(res);
	return err;
}

/* --- transactions ------------------------------------------------------- */

cks_err cks_store_begin(cks_store *st, char *errstr, size_t errstr_size)
{
	cks_err err = cks_sti_run(st, "begin", "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL,
	                          errstr, errstr_size);
	if (err == CKS_OK)
		st->in_tx = true;
	st->ntxm = st->txm_mark = 0;
	return err;
}

cks_err cks_store_commit(cks_store *st, char *errstr, size_t errstr_size)
{
	cks_err err = cks_sti_run(st, "commit", "COMMIT", 0, NULL, errstr, errstr_size);
	st->in_tx = st->in_sp = false;
	st->ntxm = st->txm_mark = 0;
	return err;
}

void cks_store_rollback(cks_store *st)
{
	PGresult *res = PQexec(st->conn, "ROLLBACK");
	PQclear(res);
	st->in_tx = st->in_sp = false;
	st->ntxm = st->txm_mark = 0;
}

cks_err cks_store_savepoint(cks_store *st, char *errstr, size_t errstr_size)
{
	cks_err err =
	    cks_sti_run(st, "savepoint", "SAVEPOINT cks_sp", 0, NULL, errstr, errstr_size);
	st->in_sp = err == CKS_OK && st->in_tx;
	st->txm_mark = st->ntxm;
	return err;
}

void cks_store_covered(cks_store *st, bool on)
{
	st->in_sp = on && st->in_tx;
}

cks_err cks_store_savepoint_release(cks_store *st, char *errstr, size_t errstr_size)
{
	st->in_sp = false;
	return cks_sti_run(st, "release savepoint", "RELEASE SAVEPOINT cks_sp", 0, NULL, errstr,
	                   errstr_size);
}

cks_err cks_store_savepoint_rollback(cks_store *st, char *errstr, size_t errstr_size)
{
	cks_err err = cks_sti_run(st, "rollback to savepoint", "ROLLBACK TO SAVEPOINT cks_sp", 0,
	                          NULL, errstr, errstr_size);
	if (st->ntxm > st->txm_mark)
		st->ntxm = st->txm_mark; /* those merges are gone with the savepoint */
	if (err == CKS_OK)
		err = cks_store_savepoint_release(st, errstr, errstr_size);
	return err;
}

void cks_store_tx_merge_note(cks_store *st, const char *target, const char *merge_id)
{
	if (!st->in_tx)
		return; /* committed already: nothing to take back */
	if (st->ntxm == st->captxm) {
		st->captxm = st->captxm ? 2 * st->captxm : 64;
		st->txm = cks_realloc(st->txm, st->captxm * sizeof(*st->txm));
	}
	snprintf(st->txm[st->ntxm].target, sizeof(cks_uuid_str), "%s", target);
	snprintf(st->txm[st->ntxm].id, sizeof(cks_uuid_str), "%s", merge_id);
	st->ntxm++;
}

bool cks_store_tx_merges(const cks_store *st, const char *target, cks_buf *ids)
{
	bool mine = false;
	cks_buf_appendf(ids, "{");
	for (size_t i = 0; i < st->ntxm; i++) {
		mine = mine || strcmp(st->txm[i].target, target) == 0;
		cks_buf_appendf(ids, "%s%s", i ? "," : "", st->txm[i].id);
	}
	cks_buf_appendf(ids, "}");
	return mine;
}

cks_err cks_sti_wtx_begin(cks_store *st, cks_sti_wtx *w, char *errstr, size_t errstr_size)
{
	w->savepoint = st->in_tx;
	w->covered = st->in_tx && st->in_sp;
	if (w->covered)
		return CKS_OK;
	if (w->savepoint)
		return cks_sti_run(st, "savepoint", "SAVEPOINT cks_w", 0, NULL, errstr,
		                   errstr_size);
	return cks_store_begin(st, errstr, errstr_size);
}

cks_err cks_sti_wtx_end(cks_store *st, cks_sti_wtx *w, cks_err err, char *errstr,
                        size_t errstr_size)
{
	if (w->covered)
		return err; /* the caller rolls back to its savepoint */
	if (err == CKS_OK) {
		if (w->savepoint)
			return cks_sti_run(st, "release", "RELEASE SAVEPOINT cks_w", 0, NULL,
			                   errstr, errstr_size);
		return cks_store_commit(st, errstr, errstr_size);
	}
	if (w->savepoint) {
		PGresult *res = PQexec(st->conn, "ROLLBACK TO SAVEPOINT cks_w");
		PQclear(res);
		res = PQexec(st->conn, "RELEASE SAVEPOINT cks_w");
		PQclear(res);
	} else {
		cks_store_rollback(st);
	}
	return err;
}

/* --- schema ------------------------------------------------------------- */

/* Instance ids become Kafka topic names: keep them to topic-safe characters. */
static bool instance_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("._-", id[i]))
			return false;
	return true;
}

/* Sorted list of embedded migrations (borrowed). Returns the count. */
static size_t migrations(const struct cks_embedded **out, size_t max)
{
	size_t n = 0;
	for (const struct cks_embedded *e = cks_embedded_files; e->path; e++) {
		if (strncmp(e->path, MIGRATION_DIR, strlen(MIGRATION_DIR)) != 0 || n == max)
			continue;
		size_t i = n++;
		while (i > 0 && strcmp(out[i - 1]->path, e->path) > 0) {
			out[i] = out[i - 1];
			i--;
		}
		out[i] = e;
	}
	return n;
}

static int migration_version(const struct cks_embedded *e)
{
	return atoi(e->path + strlen(MIGRATION_DIR));
}

/* Applies every embedded migration not yet recorded, in order. */
static cks_err migrate(cks_store *st, char *errstr, size_t errstr_size)
{
	const struct cks_embedded *m[64];
	size_t n = migrations(m, 64);
	cks_err err = CKS_OK;
	for (size_t i = 0; i < n && err == CKS_OK; i++) {
		char ver[16];
		snprintf(ver, sizeof(ver), "%d", migration_version(m[i]));
		const char *p[2] = {ver, m[i]->path + strlen(MIGRATION_DIR)};
		PGresult *res = NULL;
		err = cks_sti_exec(st, "read migrations",
		                   "SELECT 1 FROM ckansync.migration WHERE version = $1", 1, p,
		                   &res, errstr, errstr_size);
		bool done = err == CKS_OK && PQntuples(res) > 0;
		PQclear(res);
		if (err != CKS_OK || done)
			continue;
		/* Embedded, trusted SQL with several statements: the one place we
		 * use PQexec on a script. No data is interpolated. */
		res = PQexec(st->conn, m[i]->data);
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			                 "migration %s failed: %s", m[i]->path,
			                 PQerrorMessage(st->conn));
		PQclear(res);
		if (err == CKS_OK)
			err = cks_sti_run(
			    st, "record migration",
			    "INSERT INTO ckansync.migration (version, name) VALUES ($1, $2)", 2, p,
			    errstr, errstr_size);
	}
	return err;
}

static cks_err init_tx(cks_store *st, const char *instance_id, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	cks_err err;
	const char *p[1] = {instance_id};

	err = cks_sti_run(st, "init lock", "SELECT pg_advisory_xact_lock(7710001)", 0, NULL, errstr,
	                  errstr_size);
	if (err == CKS_OK)
		err = cks_sti_run(st, "create schema", "CREATE SCHEMA IF NOT EXISTS ckansync; ", 0,
		                  NULL, errstr, errstr_size);
	if (err == CKS_OK)
		err = cks_sti_run(st, "create meta",
		                  "CREATE TABLE IF NOT EXISTS ckansync.meta "
		                  "(key text PRIMARY KEY, value text NOT NULL)",
		                  0, NULL, errstr, errstr_size);
	if (err == CKS_OK)
		err =
		    cks_sti_run(st, "create migration",
		                "CREATE TABLE IF NOT EXISTS ckansync.migration (version integer "
		                "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
		                "DEFAULT now())",
		                0, NULL, errstr, errstr_size);
	if (err == CKS_OK)
		err = cks_sti_exec(st, "read instance id",
		                   "SELECT value FROM ckansync.meta WHERE key = 'instance_id'", 0,
		                   NULL, &res, errstr, errstr_size);
	if (err != CKS_OK)
		goto out;
	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), instance_id) != 0) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                 "this database belongs to instance '%s', not '%s': refusing to "
		                 "initialise it again",
		                 PQgetvalue(res, 0, 0), instance_id);
		goto out;
	}
	err = migrate(st, errstr, errstr_size);
	if (err == CKS_OK)
		err =
		    cks_sti_run(st, "record instance id",
		                "INSERT INTO ckansync.meta (key, value) VALUES ('instance_id', $1) "
		                "ON CONFLICT (key) DO NOTHING",
		                1, p, errstr, errstr_size);
out:
	PQclear(res);
	return err;
}

cks_err cks_store_init(cks_store *st, const char *instance_id, char *errstr, size_t errstr_size)
{
	cks_sti_wtx w;
	cks_err err;
	if (!instance_id_valid(instance_id))
		return cks_seterr(
		    errstr, errstr_size, CKS_ERR_FATAL,
		    "invalid instance id '%s': 1-63 characters of a-z, A-Z, 0-9, '.', "
		    "'_' and '-'",
		    instance_id ? instance_id : "");
	err = cks_sti_wtx_begin(st, &w, errstr, errstr_size);
	if (err != CKS_OK)
		return err;
	err = init_tx(st, instance_id, errstr, errstr_size);
	if (err == CKS_ERR_PERMANENT)
		err = CKS_ERR_FATAL;
	err = cks_sti_wtx_end(st, &w, err, errstr, errstr_size);
	if (err == CKS_OK)
		snprintf(st->instance, sizeof(st->instance), "%s", instance_id);
	return err;
}

cks_err cks_store_check(cks_store *st, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	const struct cks_embedded *m[64];
	size_t n = migrations(m, 64);
	int latest = n ? migration_version(m[n - 1]) : 0;
	cks_err err =
	    cks_sti_exec(st, "check schema",
	                 "SELECT (SELECT value FROM ckansync.meta WHERE key = 'instance_id'), "
	                 "(SELECT coalesce(max(version), 0) FROM ckansync.migration)",
	                 0, NULL, &res, errstr, errstr_size);
	if (err == CKS_ERR_FATAL || err == CKS_ERR_PERMANENT) {
		char why[512];
		snprintf(why, sizeof(why), "%s", errstr ? errstr : "");
		err = cks_seterr(
		    errstr, errstr_size, CKS_ERR_FATAL,
		    "database is not initialised for ckansync (run `ckansync init`): %s", why);
	}
	if (err != CKS_OK)
		goto out;
	if (PQgetisnull(res, 0, 0)) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                 "database is not initialised: run `ckansync init`");
		goto out;
	}
	if (atoi(PQgetvalue(res, 0, 1)) < latest) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                 "database schema is at version %s, this program needs %d: run "
		                 "`ckansync init` to migrate it",
		                 PQgetvalue(res, 0, 1), latest);
		goto out;
	}
	snprintf(st->instance, sizeof(st->instance), "%s", PQgetvalue(res, 0, 0));
out:
	PQclear(res);
	return err;
}

/* --- helpers ------------------------------------------------------------ */

json_t *cks_store_json(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return cks_json_loadb(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), NULL);
}

void cks_sti_copy(const PGresult *res, int row, int col, char *out, size_t n)
{
	snprintf(out, n, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

int64_t cks_sti_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

size_t cks_sti_parse_uuids(const char *s, cks_uuid_str *out, size_t max)
{
	size_t n = 0;
	if (!s || *s != '{')
		return 0;
	s++;
	while (*s && *s != '}' && n < max) {
		size_t len = strcspn(s, ",}");
		if (len == CKS_UUID_LEN) {
			memcpy(out[n], s, CKS_UUID_LEN);
			out[n++][CKS_UUID_LEN] = '\0';
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return n;
}

void cks_sti_format_uuids(const cks_uuid_str *ids, size_t count, char *out, size_t n)
{
	size_t len = (size_t)snprintf(out, n, "{");
	for (size_t i = 0; i < count && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? "," : "", ids[i]);
	if (len < n)
		snprintf(out + len, n - len, "}");
}

const char *cks_sti_name_space(cks_objtype t)
{
	return t == CKS_OBJ_PACKAGE ? "package" : "group";
}

static cks_err obj_query(cks_store *st, const char *sql, const char *key, const char *ns,
                         PGresult **res, char *errstr, size_t errstr_size)
{
	const char *p[2] = {key, ns};
	return cks_sti_exec(st, "find object", sql, 2, p, res, errstr, errstr_size);
}

static cks_err obj_find(cks_store *st, const char *name_or_id, const char *name_space, bool lock,
                        bool id_only, cks_sti_obj *o, char *errstr, size_t errstr_size)
{
	static const char *const sql[2][2] = {
	    {"SELECT id, head, type, name, ckansync.us(created) FROM ckansync.object "
	     "WHERE name = $1 AND ($2::text IS NULL OR name_space = $2)",
	     "SELECT id, head, type, name, ckansync.us(created) FROM ckansync.object "
	     "WHERE name = $1 AND ($2::text IS NULL OR name_space = $2) FOR UPDATE"},
	    {"SELECT id, head, type, name, ckansync.us(created) FROM ckansync.object "
	     "WHERE id = $1::uuid AND ($2::text IS NULL OR name_space = $2)",
	     "SELECT id, head, type, name, ckansync.us(created) FROM ckansync.object "
	     "WHERE id = $1::uuid AND ($2::text IS NULL OR name_space = $2) FOR UPDATE"},
	};
	PGresult *res = NULL;
	cks_err err = CKS_OK;
	bool by_id = cks_uuid_valid(name_or_id);

	memset(o, 0, sizeof(*o));
	if (id_only && !by_id)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "'%s': not an object id",
		                  name_or_id);
	err = obj_query(st, sql[by_id][lock], name_or_id, name_space, &res, errstr, errstr_size);
	if (err == CKS_OK && by_id && !id_only && PQntuples(res) == 0) {
		PQclear(res); /* a name may look like a UUID */
		err =
		    obj_query(st, sql[0][lock], name_or_id, name_space, &res, errstr, errstr_size);
	}
	if (err != CKS_OK)
		goto out;
	if (PQntuples(res) == 0) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND, "'%s': no such %s",
		                 name_or_id, name_space ? name_space : "object");
		goto out;
	}
	cks_sti_copy(res, 0, 0, o->id, sizeof(o->id));
	cks_sti_copy(res, 0, 1, o->head, sizeof(o->head));
	if (!cks_objtype_parse(PQgetvalue(res, 0, 2), &o->type))
		o->type = CKS_OBJ_PACKAGE;
	cks_sti_copy(res, 0, 3, o->name, sizeof(o->name));
	o->created_us = cks_sti_int(res, 0, 4);
out:
	PQclear(res);
	return err;
}

cks_err cks_sti_obj_find(cks_store *st, const char *name_or_id, const char *name_space, bool lock,
                         cks_sti_obj *o, char *errstr, size_t errstr_size)
{
	return obj_find(st, name_or_id, name_space, lock, false, o, errstr, errstr_size);
}

cks_err cks_sti_obj_get(cks_store *st, const char *id, bool lock, cks_sti_obj *o, char *errstr,
                        size_t errstr_size)
{
	return obj_find(st, id, NULL, lock, true, o, errstr, errstr_size);
}
