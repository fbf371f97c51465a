/* store_int — private helpers shared by store.c, store_write.c and
 * store_read.c (one module split in three files). Not part of the API. */
#ifndef CKS_STORE_INT_H
#define CKS_STORE_INT_H

#include "store.h"

enum { CKS_STI_PREPARED = 96 }; /* named statements a connection keeps */

struct cks_store {
	PGconn *conn;      /* owned */
	char instance[64]; /* "" until init/check */
	bool in_tx;        /* inside cks_store_begin .. commit/rollback */
	bool in_sp;        /* inside cks_store_savepoint .. release/rollback */
	/* merges this transaction wrote (cks_store_tx_merge_note); txm_mark:
	 * how many were noted when cks_store_savepoint was made */
	struct cks_sti_txm {
		cks_uuid_str target, id;
	} * txm;
	size_t ntxm, captxm, txm_mark;
	/* statements prepared on conn (cks_sti_exec_params), "cks<i>": the
	 * caller's SQL pointer and a copy of its text */
	struct {
		const char *key;
		char *sql;
	} prep[CKS_STI_PREPARED];
	int nprep;
};

/* The error of a failed statement (res; NULL: the connection's), classified
 * as cks_store_classify does, into errstr with ctx. */
cks_err cks_sti_fail(cks_store *st, const PGresult *res, const char *ctx, char *errstr,
                     size_t errstr_size);
/* Runs one parameterised statement (text parameters, NULL = SQL NULL).
 * On success *res is set (caller PQclears); on failure *res is NULL and
 * errstr says "<ctx>: <server message>", classified (cks_store_classify). */
cks_err cks_sti_exec(cks_store *st, const char *ctx, const char *sql, int nparams,
                     const char *const *params, PGresult **res, char *errstr,
                     size_t errstr_size) CKS_WUR;
/* Same, for statements whose result is not needed. */
cks_err cks_sti_run(cks_store *st, const char *ctx, const char *sql, int nparams,
                    const char *const *params, char *errstr, size_t errstr_size) CKS_WUR;

/* A write unit: its own transaction, or a savepoint inside the caller's, so
 * that a failed write leaves nothing behind either way. Inside a
 * cks_store_savepoint the caller's savepoint is the unit: no savepoint of
 * its own (a consumer batch would otherwise open two subtransactions per
 * message), and a failed write is undone by the caller's rollback to it. */
typedef struct cks_sti_wtx {
	bool savepoint; /* true: inside the caller's transaction */
	bool covered;   /* true: ... and inside its cks_store_savepoint (no own) */
} cks_sti_wtx;
cks_err cks_sti_wtx_begin(cks_store *st, cks_sti_wtx *w, char *errstr, size_t errstr_size) CKS_WUR;
/* Commits/releases if err == CKS_OK (returning a commit failure), else rolls
 * back and returns err unchanged. */
cks_err cks_sti_wtx_end(cks_store *st, cks_sti_wtx *w, cks_err err, char *errstr,
                        size_t errstr_size) CKS_WUR;

/* Copies a column into out (size n), "" for NULL. */
void cks_sti_copy(const PGresult *res, int row, int col, char *out, size_t n);
/* Column as int64 (0 for NULL). */
int64_t cks_sti_int(const PGresult *res, int row, int col);
/* Parses a uuid[] text ("{a,b}") into up to max uuids; returns the count. */
size_t cks_sti_parse_uuids(const char *s, cks_uuid_str *out, size_t max);
/* Formats uuids as a uuid[] literal "{a,b}" into a buffer of n bytes. */
void cks_sti_format_uuids(const cks_uuid_str *ids, size_t count, char *out, size_t n);

/* A located object (current row in "object"). */
typedef struct cks_sti_obj {
	cks_uuid_str id;
	cks_uuid_str head; /* "" if none */
	cks_objtype type;
	char name[128];
	int64_t created_us;
} cks_sti_obj;
/* Finds an object by id (if name_or_id is a UUID; when no object has that
 * id, by name: a CKAN name may look like a UUID) else by name; lock adds
 * FOR UPDATE. name_space: "package", "group" or NULL for any. For what
 * users type (CLI, import). NOTFOUND (with a message) if absent. */
cks_err cks_sti_obj_find(cks_store *st, const char *name_or_id, const char *name_space, bool lock,
                         cks_sti_obj *o, char *errstr, size_t errstr_size) CKS_WUR;
/* The object with this id, never one named so (revisions name their object
 * by id); PERMANENT if id is not a UUID, NOTFOUND if absent. */
cks_err cks_sti_obj_get(cks_store *st, const char *id, bool lock, cks_sti_obj *o, char *errstr,
                        size_t errstr_size) CKS_WUR;
/* "package" for packages, "group" for groups and organizations. */
const char *cks_sti_name_space(cks_objtype t);

#endif
