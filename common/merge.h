/* merge — semantic 3-way merge of CKAN dicts (DESIGN.md §5): scalars per
 * field, tags and groups as sets, extras and unknown keys per key, resources
 * by id per field; delete vs modify is a conflict. Deterministic: the same
 * inputs give the same bytes, and with a symmetric policy merge(b,x,y) ==
 * merge(b,y,x). No I/O. */
#ifndef CKS_MERGE_H
#define CKS_MERGE_H

#include "model.h"

typedef enum cks_policy_kind {
	CKS_POLICY_ORIGIN_PRIORITY = 0, /* ordered origin list; first wins (symmetric) */
	CKS_POLICY_NEWEST_WINS = 1, /* newer side wins; ties by origin then objrev id (symmetric) */
	CKS_POLICY_LOCAL_WINS = 2,  /* not symmetric: 1-way only */
	CKS_POLICY_REMOTE_WINS = 3, /* not symmetric: 1-way only */
} cks_policy_kind;

#define CKS_POLICY_MAX_ORIGINS 32
typedef struct cks_policy {
	cks_policy_kind kind;
	size_t norigins;                          /* origin-priority only */
	char origins[CKS_POLICY_MAX_ORIGINS][64]; /* highest priority first */
} cks_policy;

/* Parses "newest-wins", "local-wins", "remote-wins", "origin-priority:A,B,C".
 * PERMANENT with a message on error. */
cks_err cks_policy_parse(const char *s, cks_policy *p, char *errstr, size_t errstr_size) CKS_WUR;
/* Canonical name ("origin-priority:A,B"); into out. */
void cks_policy_format(const cks_policy *p, char *out, size_t out_size);
bool cks_policy_symmetric(const cks_policy *p);

/* One side of a merge. */
typedef struct cks_merge_side {
	const json_t *state;   /* borrowed; the side's dict (NULL = deleted/absent) */
	const char *origin;    /* instance the side's head revision came from */
	int64_t timestamp_us;  /* the side's head revision time */
	const char *objrev_id; /* the side's head object revision id */
} cks_merge_side;

typedef struct cks_merge_conflict {
	char *path;    /* owned; "title", "extras.<key>", "resources.<id>.<field>", "tags.<name>" */
	json_t *base;  /* owned, NULL if absent */
	json_t *local; /* owned, NULL if absent/removed */
	json_t *remote; /* owned, NULL if absent/removed */
	json_t *chosen; /* owned, NULL if removed */
	char *reason;   /* owned; "both changed", "delete-modify", ... */
} cks_merge_conflict;

typedef struct cks_merge_result {
	json_t *merged;                /* owned; NULL if the merge deletes the object */
	cks_merge_conflict *conflicts; /* owned array */
	size_t nconflicts;
	cks_uuid_str merge_id; /* cks_merge_id(local objrev, remote objrev) */
} cks_merge_result;
#define CKS_MERGE_RESULT_INIT                                                                      \
	{                                                                                          \
		NULL, NULL, 0, ""                                                                  \
	}
void cks_merge_result_release(cks_merge_result *r);

/* Merges local and remote against base (NULL base = no common ancestor:
 * every differing field is a conflict). A conflict is reported exactly when
 * both sides changed the same field to different values. */
cks_err cks_merge(const json_t *base, const cks_merge_side *local, const cks_merge_side *remote,
                  const cks_policy *policy, cks_merge_result *out, char *errstr,
                  size_t errstr_size) CKS_WUR;
/* UUIDv5 (fixed ckansync namespace) over the two parent ids, sorted. */
void cks_merge_id(const char *parent_a, const char *parent_b, cks_uuid_str out);

#endif
