/* apply — the consumer's apply rules (DESIGN.md §5) for one incoming object
 * revision, on top of store.h, inside the caller's transaction:
 *   1. already applied → skip        2. purged here → skip, record conflict
 *   3. purge from origin → purge here 4. create, or fast-forward an edit of
 *      the head
 *   5. anything else → kept in history; the head is recomputed from the
 *      history: the "effective heads" (latest edits) merged pairwise by a
 *      3-way merge into merge revisions with two parents (UUIDv5), one
 *      conflict per conflicting field. The head depends on the history only,
 *      not on arrival order, so instances with a symmetric policy converge
 *      (docs/two-way.md)
 *   6. name clash → the package keeps its history and gets a local rename
 *      revision to a disambiguated name; groups/organizations merge by name
 *      into the local one; tags are one per name (a different tag id is
 *      logged); a conflict for each
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
	CKS_APPLIED_HISTORY, /* stored in history only (an ancestor of the head) */
	CKS_APPLIED_PENDING, /* stored in history; head recomputed by cks_apply_settle */
	CKS_SKIPPED_DUPLICATE,
	CKS_SKIPPED_PURGED_HERE,
	CKS_SKIPPED_PURGED, /* purged by an origin before; late revision dropped */
} cks_apply_outcome;

const char *cks_apply_outcome_name(cks_apply_outcome o);

/* Conflict kinds (cks_conflict.kind), the indexes of cks_apply_result.by_kind. */
#define CKS_CONFLICT_NKINDS 5
extern const char *const cks_conflict_kinds[CKS_CONFLICT_NKINDS];

typedef struct cks_apply_result {
	cks_apply_outcome outcome;
	size_t nconflicts;                   /* conflicts recorded */
	size_t by_kind[CKS_CONFLICT_NKINDS]; /* the same, per kind (metrics) */
	cks_uuid_str merge_revision;         /* if merged */
} cks_apply_result;

/* Merge revisions' fixed author. */
#define CKS_MERGE_AUTHOR "ckansync"

/* Applies m inside the caller's transaction (the caller owns begin/commit and
 * savepoints). PERMANENT for a record that cannot be applied (bad state,
 * more than 2 parents, a merge whose parents are unknown...), RETRIABLE on
 * lost connection / serialization failure. */
cks_err cks_apply_revision(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
                           cks_apply_result *out, char *errstr, size_t errstr_size) CKS_WUR;

/* May m be sent in a window (cks_store_window_send), several at once? An edit
 * or create whose shape and state are valid and which carries its diff (or
 * is a create): one that ckansync.apply_fast writes when it is a plain
 * fast-forward or create (ckansync.apply_window writes runs of those
 * together), or stores in history to wait for a merge when it diverges. If
 * it comes back unwritten, cks_apply_revision applies it as usual. */
bool cks_apply_can_pipeline(const cks_revmsg *m);

/* Recomputes the head of every object a CKS_APPLIED_PENDING revision left
 * waiting (merging divergent heads, recording conflicts), inside the
 * caller's transaction (an object another consumer holds is waited for).
 * The consumer calls it once it has read everything there is to read (or
 * when revisions have waited long), so that what arrived together is merged
 * once. *sum (may be NULL) gets the conflicts recorded; *merges the number
 * of objects merged. At most max objects (0: all), *more (may be NULL) true
 * when some still wait: the caller commits and calls again, so that a
 * thousand waiting heads are not merged in one long transaction. An object
 * that cannot be merged (PERMANENT) is logged and left at its head;
 * RETRIABLE means roll back and retry. */
cks_err cks_apply_settle(cks_store *st, const cks_policy *policy, size_t max, cks_apply_result *sum,
                         size_t *merges, bool *more, char *errstr, size_t errstr_size) CKS_WUR;

/* The policy a merge revision was made with (its message ends "(policy)"),
 * into out; false if m is not a merge made by ckansync. 2-way sync checks
 * that every instance merges with the same symmetric policy. */
bool cks_apply_merge_policy(const cks_revmsg *m, char *out, size_t out_size);

#endif
