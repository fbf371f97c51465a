/* apply — the consumer's apply rules (DESIGN.md §5) for one incoming object
 * revision, on top of store.h, inside the caller's transaction:
 *   1. already applied → skip        2. purged here → skip, record conflict
 *   3. purge from origin → purge here 4. fast-forward
 *   5. divergent head → keep both heads, 3-way merge, merge revision with
 *      two parents (UUIDv5), one conflict per conflicting field
 *   6. name clash → disambiguated package name (tags/groups merge by name)
 *   missing base (mirror started mid-stream) → full state + conflict.
 * Knows nothing of Kafka; the consumer daemon calls it per message. */
#ifndef CKS_APPLY_H
#define CKS_APPLY_H

#include "merge.h"
#include "store.h"

typedef enum cks_apply_outcome {
	CKS_APPLIED_FAST_FORWARD = 0,
	CKS_APPLIED_CREATED,
	CKS_APPLIED_MERGED,
	CKS_APPLIED_MISSING_BASE,
	CKS_APPLIED_PURGED,
	CKS_APPLIED_HISTORY,     /* stored in history only (an ancestor of the head) */
	CKS_SKIPPED_DUPLICATE,
	CKS_SKIPPED_PURGED_HERE,
	CKS_SKIPPED_PURGED,      /* purged by an origin before; late revision dropped */
} cks_apply_outcome;

const char *cks_apply_outcome_name(cks_apply_outcome o);

/* Conflict kinds (cks_conflict.kind), the indexes of cks_apply_result.by_kind. */
#define CKS_CONFLICT_NKINDS 5
extern const char *const cks_conflict_kinds[CKS_CONFLICT_NKINDS];

typedef struct cks_apply_result {
	cks_apply_outcome outcome;
	size_t nconflicts;           /* conflicts recorded */
	size_t by_kind[CKS_CONFLICT_NKINDS]; /* the same, per kind (metrics) */
	cks_uuid_str merge_revision; /* if merged */
} cks_apply_result;

/* Merge revisions' fixed author. */
#define CKS_MERGE_AUTHOR "ckansync"

/* Applies m inside the caller's transaction (the caller owns begin/commit and
 * savepoints). PERMANENT for a record that cannot be applied (bad state,
 * more than 2 parents, a merge whose parents are unknown...), RETRIABLE on
 * lost connection / serialization failure. */
cks_err cks_apply_revision(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
			   cks_apply_result *out, char *errstr, size_t errstr_size) CKS_WUR;

#endif
