/* store — one ckansync instance in PostgreSQL (schema "ckansync"): revisions,
 * immutable object revisions, current state in typed tables with a search
 * vector, tombstones, unversioned objects, conflicts, sync state and the
 * outbox the producer reads. All SQL is parameterised (PQexecParams).
 * Does not know about Kafka or Avro; the consumer's apply rules live in
 * apply.h on top of this module. One cks_store = one PGconn; not thread-safe. */
#ifndef CKS_STORE_H
#define CKS_STORE_H

#include <libpq-fe.h>
#include "model.h"

typedef struct cks_store cks_store;

/* 1. cks_store_open: connect (conninfo as libpq takes it). Retriable error if
 *    the server is unreachable. Caller owns *out; free with cks_store_close.
 * 2. cks_store_init (once per database; idempotent) or cks_store_check (every
 *    other open: fails FATAL if the schema is missing or too old).
 * 3. use; 4. cks_store_close. */
cks_err cks_store_open(const char *conninfo, cks_store **out, char *errstr,
                       size_t errstr_size) CKS_WUR;
void cks_store_close(cks_store *st);
/* Creates or migrates the schema and records instance_id. Refuses (FATAL) a
 * database that belongs to another instance id. */
cks_err cks_store_init(cks_store *st, const char *instance_id, char *errstr,
                       size_t errstr_size) CKS_WUR;
/* Checks the schema is present and current; fills the instance id. */
cks_err cks_store_check(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;
/* Borrowed; valid until close. "" before init/check. */
const char *cks_store_instance(const cks_store *st);
/* The underlying connection, borrowed (for apply.c and tests). */
PGconn *cks_store_conn(cks_store *st);
/* PQexecParams(st's connection, sql, text parameters), through a statement
 * prepared on the connection the first time this SQL text is run with
 * parameters: parse, analysis and planning once per connection, not per
 * call (merges run a dozen statements each; planning them was a sixth of
 * the merge-heavy case's time in PostgreSQL). A statement without
 * parameters (BEGIN, COMMIT, ...) runs as it is. Never NULL but for out of
 * memory; the caller checks the status and PQclears. */
PGresult *cks_store_exec_params(cks_store *st, const char *sql, int nparams,
                                const char *const *params);
/* A column value parsed as JSON (the fast reader, json_fast.h: states are
 * large); NULL for SQL NULL or bad JSON. Caller owns. */
json_t *cks_store_json(const PGresult *res, int row, int col);

/* Map a PGresult / connection failure to an error class: connection lost,
 * serialization failure, deadlock → RETRIABLE; everything else PERMANENT. */
cks_err cks_store_classify(cks_store *st, const PGresult *res);

/* --- writes made on this instance (CLI, tests) ------------------------- */
typedef struct cks_put_opts {
	const char *author;   /* NULL → "" */
	const char *message;  /* NULL → "" */
	cks_objtype type;     /* package, group or organization */
	int64_t timestamp_us; /* 0 → now */
} cks_put_opts;
#define CKS_PUT_OPTS_INIT                                                                          \
	{                                                                                          \
		NULL, NULL, CKS_OBJ_PACKAGE, 0                                                     \
	}

/* Creates or updates an object from a CKAN dict (found by "id", else by
 * "name"): validates, strips server-managed fields, writes one revision and
 * one object revision (parent = current head), updates the current state and
 * the outbox, all in one transaction. Fills revision_id (and objrev_id if not
 * NULL). PERMANENT with a clear message for invalid input; nothing written. */
cks_err cks_store_put(cks_store *st, const json_t *dict, const cks_put_opts *opts,
                      cks_uuid_str revision_id, cks_uuid_str objrev_id, char *errstr,
                      size_t errstr_size) CKS_WUR;
/* Marks an object deleted (a revision whose state has "state": "deleted"). */
cks_err cks_store_delete(cks_store *st, const char *name_or_id, const cks_put_opts *opts,
                         cks_uuid_str revision_id, char *errstr, size_t errstr_size) CKS_WUR;
/* Erases an object and its whole history, keeps a tombstone, and queues a
 * purge event for the producer. */
cks_err cks_store_purge(cks_store *st, const char *name_or_id, const cks_put_opts *opts,
                        cks_uuid_str revision_id, char *errstr, size_t errstr_size) CKS_WUR;
/* Creates or replaces an unversioned object ("user" dict keyed by id/name,
 * or "rating"); queues it for the objects topic. */
cks_err cks_store_uobject_put(cks_store *st, const char *type, const json_t *dict, char *errstr,
                              size_t errstr_size) CKS_WUR;

/* --- reads --------------------------------------------------------------- */
/* Current dict (server-managed fields added) or, with objrev_id, that object
 * revision's dict. *out: caller owns (json_decref). NOTFOUND if absent. */
cks_err cks_store_show(cks_store *st, const char *name_or_id, const char *objrev_id, json_t **out,
                       char *errstr, size_t errstr_size) CKS_WUR;
/* Revision log as a JSON array of {revision_id, origin, timestamp, author,
 * message, kind, objects: [{objrev_id, object_type, object_id, name,
 * parents}]}, oldest first; name_or_id NULL = instance-wide; since = NULL, a
 * revision id (exclusive) or an ISO time. Caller owns *out. */
cks_err cks_store_log(cks_store *st, const char *name_or_id, const char *since, json_t **out,
                      char *errstr, size_t errstr_size) CKS_WUR;
/* Field-level diff of two object revisions (diff.h format). Caller owns. */
cks_err cks_store_diff(cks_store *st, const char *objrev_a, const char *objrev_b, json_t **out,
                       char *errstr, size_t errstr_size) CKS_WUR;
/* Full-text search over current (active) packages; JSON array of names,
 * best first. Caller owns. */
cks_err cks_store_search(cks_store *st, const char *query, json_t **out, char *errstr,
                         size_t errstr_size) CKS_WUR;
/* 64 hex chars into out[65]: equal on two instances iff same current objects
 * (and, with history, same revisions, object revisions, parents, states,
 * tombstones). Local bookkeeping (conflicts, offsets, times applied) excluded. */
cks_err cks_store_digest(cks_store *st, bool history, char out[65], char *errstr,
                         size_t errstr_size) CKS_WUR;

/* --- outbox (producer) --------------------------------------------------- */
/* Position in the outbox: rows are handed out ordered by (ord, seq), only once
 * final (ord older than every running transaction), so a cursor never skips a
 * row and an object's parent always precedes its child. */
typedef struct cks_outbox_pos {
	uint64_t ord; /* xid8-based order key */
	int64_t seq;  /* tie-breaker, drawn under the object's lock */
} cks_outbox_pos;

typedef enum cks_outbox_kind {
	CKS_OUTBOX_REVISION =
	    0, /* .rev: object revision or purge → <prefix>.<instance>.revisions */
	CKS_OUTBOX_CONFLICT = 1, /* .conflict → <prefix>.conflicts */
	CKS_OUTBOX_OBJECT = 2,   /* .obj → <prefix>.<instance>.objects */
} cks_outbox_kind;

typedef struct cks_outbox_entry {
	cks_outbox_pos pos;
	cks_outbox_kind kind;
	bool private_;         /* object is private: publish only if configured */
	cks_revmsg rev;        /* kind REVISION */
	cks_conflict conflict; /* kind CONFLICT */
	cks_objmsg obj;        /* kind OBJECT */
} cks_outbox_entry;
void cks_outbox_entry_release(cks_outbox_entry *e);

/* Up to max entries after `after`, in order. *out: array of *n entries,
 * caller owns; free with cks_outbox_free. Entries whose object was purged
 * after they were queued are skipped (the purge event follows). */
cks_err cks_store_outbox_fetch(cks_store *st, const cks_outbox_pos *after, size_t max,
                               cks_outbox_entry **out, size_t *n, char *errstr,
                               size_t errstr_size) CKS_WUR;
void cks_outbox_free(cks_outbox_entry *entries, size_t n);
/* Number of committed outbox rows after `after`, final or not (a row is not
 * final while an older transaction of this database still runs). */
cks_err cks_store_outbox_backlog(cks_store *st, const cks_outbox_pos *after, int64_t *count,
                                 char *errstr, size_t errstr_size) CKS_WUR;
/* The producer's cursor (last acknowledged position); {0,0} if none yet. */
cks_err cks_store_cursor_get(cks_store *st, cks_outbox_pos *pos, char *errstr,
                             size_t errstr_size) CKS_WUR;
cks_err cks_store_cursor_set(cks_store *st, const cks_outbox_pos *pos, char *errstr,
                             size_t errstr_size) CKS_WUR;
/* NOTIFY channel raised by every outbox insert. */
#define CKS_OUTBOX_CHANNEL "ckansync_outbox"

/* --- apply primitives (used by apply.c inside one transaction) ----------- */
/* Transaction control. begin starts READ COMMITTED; commit/rollback end it. */
cks_err cks_store_begin(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;
cks_err cks_store_commit(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;
void cks_store_rollback(cks_store *st);
/* Savepoints, so one bad message in a batch is undone alone. Between
 * cks_store_savepoint and its release or rollback, writes (cks_store_put,
 * cks_store_write_objrev, ...) open no savepoint of their own: after a
 * failed one the caller must roll back to this savepoint (or the whole
 * transaction) before anything else. */
cks_err cks_store_savepoint(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;
cks_err cks_store_savepoint_release(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;
cks_err cks_store_savepoint_rollback(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;
/* Inside a transaction, on: writes open no savepoint of their own, as
 * inside cks_store_savepoint, but none is made: after a failed write the
 * caller must roll the whole transaction back (the consumer's batches).
 * Off again with cks_store_covered(st, false) or at commit/rollback. */
void cks_store_covered(cks_store *st, bool on);
/* Merge revisions this transaction wrote (apply.c's fold), so that one a
 * later recomputation in the same transaction no longer needs can be
 * removed before anyone sees it. Noted only inside a transaction;
 * forgotten at commit, rollback, and rollback to the savepoint they were
 * noted after. Kept in the process: no round trip. */
void cks_store_tx_merge_note(cks_store *st, const char *target, const char *merge_id);
/* true if this transaction noted merges for object `target`; ids gets a
 * uuid[] literal of every merge it noted ("{}" if none). */
bool cks_store_tx_merges(const cks_store *st, const char *target, cks_buf *ids);

/* What apply_fast did with a revision (011_apply_fast_defer.sql). */
typedef enum cks_fast_state {
	CKS_FAST_FAILED = -1,     /* the call failed (errstr) */
	CKS_FAST_NOT_WRITTEN = 0, /* nothing written: apply it the usual way */
	CKS_FAST_WRITTEN = 1,     /* written as the new head (a fast-forward or a create) */
	CKS_FAST_SEEN = 2,        /* stored here already: skip it */
	CKS_FAST_PENDING = 3,     /* diverges: stored in history, its object in pending_head */
} cks_fast_state;

/* The consumer's fast path (apply.c): ckansync.apply_fast (010, 011), the
 * probe of m and, when m is a plain fast-forward or a new package, its write
 * as cks_store_write_objrev with SET_HEAD would make it, or when it diverges
 * from the head, its write to history and pending_head as apply.c's defer
 * would make it, in one round trip. m must be one cks_apply_can_pipeline
 * accepts. *res (caller clears): one row, apply_probe's columns then
 * out_written; *state: what was done (an answer other than success is an
 * error, as write_objrev's). */
cks_err cks_store_apply_fast(cks_store *st, const cks_revmsg *m, PGresult **res,
                             cks_fast_state *state, char *errstr, size_t errstr_size) CKS_WUR;

/* A window of revisions in one call (consumer.c): ckansync.apply_window
 * (013_apply_window.sql) does for m[0..n) in order what apply_fast would do
 * for each (writing runs of plain ones together); once one is neither
 * written, seen nor pending, it writes none after it. window_send sends the
 * call and returns without waiting (each m[i] one cks_apply_can_pipeline
 * accepts; nothing else may be sent on st before window_recv); window_recv
 * waits for the answer: state[i] and found[i] (its object existed) for each;
 * after (>= 0): the number of a window sent before on st, still in flight
 * (pipeline mode, cks_store_pipeline_on): if that one stopped, this one
 * writes nothing and stops too (014_apply_window_after.sql);
 * on an error (the whole call failed: nothing of it is written, the
 * transaction is aborted) every state is CKS_FAST_FAILED, except when the
 * answer itself is an error for m[i] (state[i] FAILED, those before it
 * valid). */
cks_err cks_store_window_send(cks_store *st, int64_t window, int64_t after,
                              const cks_revmsg *const *m, size_t n, char *errstr,
                              size_t errstr_size) CKS_WUR;
cks_err cks_store_window_recv(cks_store *st, const cks_revmsg *const *m, size_t n,
                              cks_fast_state *state, bool *found, char *errstr,
                              size_t errstr_size) CKS_WUR;

/* libpq pipeline mode, so that a window can be sent before the answer of
 * the one before is read: on; off reads what is left up to a sync point
 * (after a failure: the answers of the windows skipped) and leaves it. */
cks_err cks_store_pipeline_on(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;
cks_err cks_store_pipeline_off(cks_store *st, char *errstr, size_t errstr_size) CKS_WUR;

/* True in *exists if this object revision id is stored here. */
cks_err cks_store_objrev_exists(cks_store *st, const char *objrev_id, bool *exists, char *errstr,
                                size_t errstr_size) CKS_WUR;
/* The object's current head, locking the object row (FOR UPDATE) so the
 * caller's decision holds until commit. NOTFOUND if the object does not exist.
 * *state: caller owns (may be NULL-ed if not wanted: pass NULL). */
typedef struct cks_head {
	cks_uuid_str object_id;
	cks_uuid_str objrev_id;
	char name[128];       /* current name */
	char origin[64];      /* origin of the head's revision */
	int64_t timestamp_us; /* time of the head's revision */
	json_t *state;        /* owned if requested */
} cks_head;
cks_err cks_store_head_lock(cks_store *st, const char *object_id, cks_head *head, bool want_state,
                            char *errstr, size_t errstr_size) CKS_WUR;
/* State of a stored object revision; caller owns *state. NOTFOUND if absent. */
cks_err cks_store_objrev_state(cks_store *st, const char *objrev_id, json_t **state, char *errstr,
                               size_t errstr_size) CKS_WUR;
/* Nearest common ancestor of two object revisions of one object (walking
 * parents); "" in out if none is stored here. */
cks_err cks_store_common_ancestor(cks_store *st, const char *a, const char *b, cks_uuid_str out,
                                  char *errstr, size_t errstr_size) CKS_WUR;
/* Writes m (revision row if absent, object revision with m's ids, parents,
 * state, diff) exactly as given — ids, author, timestamp, message kept. With
 * CKS_WRITE_SET_HEAD the object's current state becomes m->state (typed
 * tables, search vector); the object row is created if absent. The outbox
 * gets the object revision. PERMANENT if m's state is invalid. */
typedef enum cks_write_flags {
	CKS_WRITE_HISTORY_ONLY = 0, /* store in history, head unchanged (second head) */
	CKS_WRITE_SET_HEAD = 1,
	/* The caller locked m's object (cks_store_head_lock or apply_probe, this
	 * transaction) and checked it is of m's name space: not looked up again. */
	CKS_WRITE_LOCKED = 2,
	/* The caller found no object with m's id in this transaction (apply_probe):
	 * it is created, not looked up again. */
	CKS_WRITE_NEW = 4,
} cks_write_flags;
cks_err cks_store_write_objrev(cks_store *st, const cks_revmsg *m, cks_write_flags flags,
                               char *errstr, size_t errstr_size) CKS_WUR;
/* Object id currently holding `name` for this object type, "" if none. */
cks_err cks_store_name_owner(cks_store *st, cks_objtype type, const char *name,
                             cks_uuid_str object_id, char *errstr, size_t errstr_size) CKS_WUR;
/* Tombstone lookup: *purged true if the object was purged here or at an
 * origin (by_origin filled with who purged it). */
cks_err cks_store_tombstone_get(cks_store *st, const char *object_id, bool *purged,
                                char by_origin[64], char *errstr, size_t errstr_size) CKS_WUR;
/* Purge made elsewhere and replayed here (m->kind == CKS_REV_PURGE): erase the
 * object and its history, keep a tombstone naming m->origin and
 * m->revision_id, queue the purge event (for chains). */
cks_err cks_store_apply_purge(cks_store *st, const cks_revmsg *m, char *errstr,
                              size_t errstr_size) CKS_WUR;
/* Records a conflict (fills c->id if empty) and queues it for the producer. */
cks_err cks_store_conflict_add(cks_store *st, cks_conflict *c, char *errstr,
                               size_t errstr_size) CKS_WUR;
/* Conflicts recorded here, newest last, as a JSON array (for the CLI). */
cks_err cks_store_conflicts_list(cks_store *st, json_t **out, char *errstr,
                                 size_t errstr_size) CKS_WUR;
/* Unversioned object from another instance: last writer (by updated_us, then
 * origin) wins; replay-safe. */
cks_err cks_store_uobject_apply(cks_store *st, const cks_objmsg *o, char *errstr,
                                size_t errstr_size) CKS_WUR;

/* --- sync state (consumer offsets, in the apply transaction) ----------- */
/* Stores next_offset (and the last revision applied, may be NULL) for a
 * topic partition, plus the time of the last sync. */
cks_err cks_store_offset_set(cks_store *st, const char *topic, int32_t partition,
                             int64_t next_offset, const char *last_revision, char *errstr,
                             size_t errstr_size) CKS_WUR;
/* Next offset to read for a topic partition; -1 if none stored. */
cks_err cks_store_offset_get(cks_store *st, const char *topic, int32_t partition,
                             int64_t *next_offset, char *errstr, size_t errstr_size) CKS_WUR;
/* Sync state rows as a JSON array [{topic, partition, next_offset,
 * last_revision, last_sync}] (for `ckansync status`). Caller owns. */
cks_err cks_store_sync_state(cks_store *st, json_t **out, char *errstr, size_t errstr_size) CKS_WUR;

/* --- operations bookkeeping (store_ops.c) ------------------------------- */
/* Records a message the consumer dead-lettered, inside its transaction (a
 * replayed offset overwrites the row). error_class: cks_err_name(). */
cks_err cks_store_deadletter_add(cks_store *st, const char *topic, int32_t partition,
                                 int64_t offset, const char *error_class, const char *reason,
                                 char *errstr, size_t errstr_size) CKS_WUR;
/* Origin instance id of a followed topic "<prefix>.<origin>.revisions|objects"
 * (prefix NULL or not matching: the last dot-separated component). */
void cks_store_topic_origin(const char *topic, const char *prefix, char *out, size_t n);
/* Per-origin summary for `ckansync status`: {instance, origins: [{origin,
 * last_revision, last_sync, partitions: [{topic, partition, next_offset,
 * last_revision, last_sync}], conflicts_last_hour, conflicts_total,
 * dead_letters, last_dead_letter}]}, origins sorted. Caller owns *out. */
cks_err cks_store_status(cks_store *st, const char *prefix, json_t **out, char *errstr,
                         size_t errstr_size) CKS_WUR;

#endif
