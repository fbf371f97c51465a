/* apply — see apply.h.
 *
 * Heads are a function of the history. An object's head here depends only
 * on the object revisions stored here (its DAG), never on the order in which
 * they arrived, so that two instances holding the same history hold the same
 * head, and a 2-way or mesh set-up with a symmetric policy converges:
 *
 *   E    = the object's *edits* (revisions that are not merges, plus merges
 *          some parent of which is not stored here) that are not an ancestor
 *          of another edit, sorted by id;
 *   head = E[0] if E has one element, else the merge fold
 *          M(...M(M(E[0], E[1]), E[2])..., E[n-1]),
 *
 * where M(x, y) is the merge revision of x and y: id cks_merge_id(x, y),
 * state cks_merge(base = nearest common ancestor, x, y), revision metadata
 * from the newer side. With a symmetric policy M(x, y) is the same bytes on
 * every instance, so an instance that receives a merge it already made skips
 * it, and one that receives a merge of two revisions it has already merged
 * past (a "stale" merge: a merge is never in E) just keeps it in history.
 * No ping-pong: a merge is made only for a set E never seen before.
 *
 * When. An incoming revision that is not an edit of the head (nor a new
 * object) goes into history at once and its object into pending_head; the
 * consumer calls cks_apply_settle when it has read what there is to read,
 * which computes the head once: B receiving Rev3 and Rev4 of A while it has
 * its own Rev5 makes one merge of Rev4 and Rev5, as the seed describes, and
 * an instance rebuilt from the topics makes no merge the original did not
 * (it finds them in the topics). Should a transaction still make a merge
 * that a later recomputation in the same transaction supersedes, it is
 * removed before commit (nobody has seen it): the store notes such merges
 * in the process (cks_store_tx_merge_note), forgets them at commit, and
 * with the savepoint or transaction that rolls them back.
 *
 * Name clashes: a package arriving under a name another package holds here
 * is stored as it is (same id and state as at its origin) and gets a local
 * rename revision on top ("<name>-<8 hex of its id>"); a group or
 * organization is merged by name into the local one (object_alias); a tag
 * is one tag per name (tag.id is md5 of the name), and a tag id that differs
 * from the one this instance knows is logged. Each clash is one conflict.
 *
 * Conflict ids are UUIDv5 of what the conflict is about (kind, object,
 * field, values), so the same conflict found again in a later merge, or
 * replayed, is recorded once. */
#include "apply.h"
#include "diff.h"
#include "json_fast.h"
#include "log.h"
#include "pkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ckansync merge namespace (merge.c); names below are prefixed by kind. */
#define APPLY_NS  "db516fca-6c86-5c89-87be-aafa1a738db7"
#define MAX_HEADS 64 /* effective heads merged at once (more: an error) */

static const char *outcome_names[] = {
    "fast-forward",
    "created",
    "merged",
    "missing-base",
    "purged",
    "history",
    "pending",
    "skipped-duplicate",
    "skipped-purged-here",
    "skipped-purged",
};

const char *const cks_conflict_kinds[CKS_CONFLICT_NKINDS] = {
    "field", "delete-modify", "missing-base", "name-clash", "purged-here",
};

const char *cks_apply_outcome_name(cks_apply_outcome o)
{
	return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ? outcome_names[o]
	                                                                      : "?";
}

bool cks_apply_merge_policy(const cks_revmsg *m, char *out, size_t out_size)
{
	const char *msg = m && m->kind == CKS_REV_MERGE ? m->message : NULL;
	size_t n = msg ? strlen(msg) : 0;
	if (!msg || strncmp(msg, "Merge of ", 9) != 0 || n < 3 || msg[n - 1] != ')')
		return false;
	const char *open = strrchr(msg, '(');
	if (!open || (size_t)(msg + n - 1 - open - 1) >= out_size)
		return false;
	snprintf(out, out_size, "%.*s", (int)(msg + n - 1 - open - 1), open + 1);
	return true;
}

/* ---- small helpers ----------------------------------------------------- */

static char *json_text(const json_t *v)
{
	return v ? cks_json_dumps(v, CKS_JSON_SORT_KEYS) : NULL; /* = jansson's, faster */
}

static const char *dict_name(const json_t *state)
{
	const char *s = state ? json_string_value(json_object_get(state, "name")) : NULL;
	return s ? s : "";
}

/* One parameterised statement on the store's connection (inside the
 * caller's transaction); *out (may be NULL) gets the result. */
static cks_err q(cks_store *st, const char *ctx, const char *sql, int n, const char *const *p,
                 PGresult **out, char *errstr, size_t errstr_size)
{
	PGresult *res = cks_store_exec_params(st, sql, n, p);
	ExecStatusType s = PQresultStatus(res);
	if (out)
		*out = NULL;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return CKS_OK;
	}
	cks_err err = cks_store_classify(st, res);
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	cks_seterr(errstr, errstr_size, err, "%s: %s", ctx,
	           msg ? msg : PQerrorMessage(cks_store_conn(st)));
	PQclear(res);
	return err;
}

static void copy_col(const PGresult *res, int row, int col, char *out, size_t n)
{
	snprintf(out, n, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* UUIDv5 of "<kind>,<a>,<b>,..." (NULL parts as "-") in the apply namespace. */
static void id_of(cks_uuid_str out, const char *kind, const char *const *parts, size_t n)
{
	cks_buf b = CKS_BUF_INIT;
	cks_buf_appendf(&b, "%s", kind);
	for (size_t i = 0; i < n; i++)
		cks_buf_appendf(&b, ",%s", parts[i] ? parts[i] : "-");
	bool ok = cks_uuid_v5(APPLY_NS, b.data, b.len, out);
	(void)ok; /* constant namespace */
	cks_buf_release(&b);
}

/* ---- conflicts ----------------------------------------------------------- */

/* Fills the fields every conflict shares; the remote side is m. */
static void conflict_base(cks_conflict *c, cks_store *st, const cks_revmsg *m, const char *kind,
                          const char *path, const cks_policy *policy)
{
	char pol[256];
	memset(c, 0, sizeof(*c));
	c->detected_at = cks_strdup(cks_store_instance(st));
	c->detected_us = cks_now_us();
	c->kind = cks_strdup(kind);
	c->object_type = m->object_type;
	snprintf(c->object_id, sizeof(c->object_id), "%s", m->object_id);
	c->object_name = cks_strdup(dict_name(m->state));
	snprintf(c->remote_objrev, sizeof(c->remote_objrev), "%s", m->objrev_id);
	c->remote_origin = cks_strdup(m->origin ? m->origin : "");
	c->field_path = cks_strdup(path);
	cks_policy_format(policy, pol, sizeof(pol));
	c->resolution = cks_strdup(pol);
}

static void set_resolution(cks_conflict *c, const char *r)
{
	free(c->resolution);
	c->resolution = cks_strdup(r);
}

/* Records c unless a conflict with its id is already recorded here (the
 * same conflict found again); c->id must be set. Releases c. */
static cks_err add_conflict(cks_store *st, cks_conflict *c, cks_apply_result *out, char *errstr,
                            size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[1] = {c->id};
	cks_err err = q(st, "look up conflict", "SELECT 1 FROM ckansync.conflict WHERE id = $1", 1,
	                p, &res, errstr, errstr_size);
	bool seen = !err && PQntuples(res) > 0;
	PQclear(res);
	if (!err && !seen)
		err = cks_store_conflict_add(st, c, errstr, errstr_size);
	if (!err && !seen) {
		out->nconflicts++;
		for (size_t k = 0; k < CKS_CONFLICT_NKINDS; k++)
			out->by_kind[k] += strcmp(c->kind, cks_conflict_kinds[k]) == 0;
		CKS_LOG(CKS_LOG_WARN, c->object_name, "conflict %s on %s (%s): chose %s", c->kind,
		        *c->field_path ? c->field_path : "object", c->resolution,
		        c->chosen_value ? c->chosen_value : "-");
	}
	cks_conflict_release(c);
	return err;
}

/* ---- stored revisions ---------------------------------------------------- */

typedef struct rev_info {
	cks_uuid_str id;
	cks_uuid_str object_id;
	char origin[64];
	int64_t timestamp_us;
	json_t *state; /* owned */
} rev_info;

/* ri from row `row` of res, columns from `col` on: id, state (text),
 * origin, time (microseconds), object id. */
static cks_err rev_from_row(const PGresult *res, int row, int col, rev_info *ri, char *errstr,
                            size_t errstr_size)
{
	memset(ri, 0, sizeof(*ri));
	copy_col(res, row, col, ri->id, sizeof(ri->id));
	/* the store's fast reader (jansson's json_loads was 15 % of the
	 * consumer's CPU in a merge-heavy run: six states read per merge);
	 * an object or array, as json_loads without JSON_DECODE_ANY accepts */
	ri->state = cks_store_json(res, row, col + 1);
	if (ri->state && !json_is_object(ri->state) && !json_is_array(ri->state)) {
		json_decref(ri->state);
		ri->state = NULL;
	}
	copy_col(res, row, col + 2, ri->origin, sizeof(ri->origin));
	ri->timestamp_us = strtoll(PQgetvalue(res, row, col + 3), NULL, 10);
	copy_col(res, row, col + 4, ri->object_id, sizeof(ri->object_id));
	if (!ri->state)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "object revision %s: unreadable state", ri->id);
	return CKS_OK;
}

static cks_err load_rev(cks_store *st, const char *objrev, rev_info *ri, char *errstr,
                        size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[1] = {objrev};
	memset(ri, 0, sizeof(*ri));
	cks_err err = q(st, "read object revision",
	                "SELECT r.id, r.state::text, v.origin, ckansync.us(v.\"timestamp\"), "
	                "r.object_id FROM ckansync.object_revision r JOIN ckansync.revision v "
	                "ON v.id = r.revision_id WHERE r.id = $1",
	                1, p, &res, errstr, errstr_size);
	if (!err && PQntuples(res) != 1)
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "object revision %s: not stored here", objrev);
	if (!err)
		err = rev_from_row(res, 0, 0, ri, errstr, errstr_size);
	PQclear(res);
	return err;
}

static void rev_info_release(rev_info *ri)
{
	json_decref(ri->state);
	ri->state = NULL;
}

/* A copy of state whose "id" is the object's id here (a group merged by
 * name carries the other instance's id). Caller owns. */
static json_t *as_object(const json_t *state, const char *object_id)
{
	json_t *c = json_deep_copy(state);
	const char *id = json_string_value(json_object_get(c, "id"));
	if (c && id && strcmp(id, object_id) != 0)
		json_object_set_new(c, "id", json_string(object_id));
	return c;
}

/* ---- merges made in this transaction ------------------------------------ */

/* The ids of object $1 here: its own and those of the objects merged into it
 * by name (object_alias), as an array, so that a filter on
 * object_revision.object_id stays an index scan (an OR of the two sets made
 * PostgreSQL scan the whole table: ~2.5 s per merge on a 4,000-package
 * mirror). */
#define OBJECT_IDS                                                                                 \
	"ARRAY(SELECT $1::uuid UNION SELECT alias_id FROM ckansync.object_alias "                  \
	"WHERE object_id = $1::uuid)"

/* Removes the merges this transaction made (`made`, a uuid[] literal) for
 * object `target` that are no longer needed: not in `keep` (a uuid[]
 * literal), not a head, no child.
 * Repeats (a fold's inner merge loses its only child with the outer one).
 * Their conflicts go with them; nobody has seen either. A child of such a
 * merge is a revision of `target` or of an object merged into it (only
 * those can name it as a parent), which keeps the child check indexed; so
 * is the head check: only those objects' heads can be it (object.head has
 * no index: looking for it among all objects scanned the whole table on
 * every merge, 1.6 ms at 2,000 packages and growing with the catalog).
 * Their revision rows and conflicts are deleted by id, and only when there
 * are some: in the same statement, the planner expected dozens and read the
 * whole revision table for them on every merge (3.9 ms at 20,800
 * revisions, growing with the history), though nearly always none came. */
static cks_err drop_stale_tx_merges(cks_store *st, const char *target, const char *keep,
                                    const char *made, char *errstr, size_t errstr_size)
{
	const char *p[3] = {target, keep, made};
	for (;;) {
		PGresult *res = NULL;
		cks_err err =
		    q(st, "drop superseded merges",
		      "WITH d AS (DELETE FROM ckansync.object_revision r "
		      "  WHERE r.id = ANY ($3::uuid[]) "
		      "  AND r.object_id = ANY (" OBJECT_IDS ") "
		      "  AND NOT (r.id = ANY ($2::uuid[])) "
		      "  AND NOT EXISTS (SELECT 1 FROM ckansync.object o "
		      "    WHERE o.id = ANY (" OBJECT_IDS ") AND o.head = r.id) "
		      "  AND NOT EXISTS (SELECT 1 FROM ckansync.object_revision c "
		      "    WHERE c.object_id = ANY (" OBJECT_IDS ") AND r.id = ANY (c.parents)) "
		      "  RETURNING r.id, r.revision_id) "
		      "SELECT count(*), array_agg(revision_id)::text FROM d",
		      3, p, &res, errstr, errstr_size);
		long n = err ? 0 : strtol(PQgetvalue(res, 0, 0), NULL, 10);
		if (!err && n > 0) {
			const char *revs[1] = {PQgetvalue(res, 0, 1)};
			err = q(st, "drop superseded merges",
			        "WITH c AS (DELETE FROM ckansync.conflict "
			        "  WHERE merge_revision = ANY ($1::uuid[])) "
			        "DELETE FROM ckansync.revision WHERE kind = 'merge' "
			        "  AND id = ANY ($1::uuid[])",
			        1, revs, NULL, errstr, errstr_size);
		}
		PQclear(res);
		if (err || n == 0)
			return err;
	}
}

/* ---- heads ------------------------------------------------------------------ */

typedef struct eff_head {
	cks_uuid_str id;
	bool has_m; /* the incoming revision is this one or one of its ancestors */
} eff_head;

/* Logs each tag of a package state that arrives here with a CKAN tag id
 * other than the one this instance knows the tag by: the tag stays one tag
 * (merged by name), and a name-clash conflict says so, once per tag id. */
static cks_err tag_clashes(cks_store *st, const cks_revmsg *m, const json_t *state,
                           const cks_policy *policy, cks_apply_result *out, char *errstr,
                           size_t errstr_size)
{
	json_t *tags = json_object_get(state, "tags"), *t;
	size_t i;
	bool ids = false;
	if (m->object_type != CKS_OBJ_PACKAGE)
		return CKS_OK;
	json_array_foreach(tags, i, t) ids = ids || json_is_string(json_object_get(t, "id"));
	if (!ids)
		return CKS_OK; /* nothing to compare */
	char *text = json_text(tags);
	const char *p[1] = {text};
	PGresult *res = NULL;
	cks_err err = q(st, "tag clashes",
	                "SELECT e->>'name', e->>'id', t.source_id "
	                "FROM jsonb_array_elements($1::jsonb) e "
	                "JOIN ckansync.tag t ON t.name = e->>'name' "
	                "WHERE jsonb_typeof(e->'id') = 'string' AND t.source_id IS NOT NULL "
	                "AND t.source_id <> e->>'id' ORDER BY 1",
	                1, p, &res, errstr, errstr_size);
	free(text);
	for (int r = 0; !err && r < PQntuples(res); r++) {
		const char *name = PQgetvalue(res, r, 0), *rid = PQgetvalue(res, r, 1);
		const char *lid = PQgetvalue(res, r, 2);
		cks_conflict c;
		cks_buf path = CKS_BUF_INIT;
		cks_buf_appendf(&path, "tags.%s", name);
		conflict_base(&c, st, m, "name-clash", path.data, policy);
		cks_buf_release(&path);
		const char *parts[2] = {name, rid};
		id_of(c.id, "conflict,tag", parts, 2);
		json_t *lv = json_pack("{s:s, s:s}", "name", name, "id", lid);
		json_t *rv = json_pack("{s:s, s:s}", "name", name, "id", rid);
		c.local_value = json_text(lv);
		c.remote_value = json_text(rv);
		c.chosen_value = json_text(lv);
		json_decref(lv);
		json_decref(rv);
		set_resolution(&c, "merged");
		err = add_conflict(st, &c, out, errstr, errstr_size);
	}
	PQclear(res);
	return err;
}

/* If another object here holds state's name (packages: same name space),
 * returns its id in owner (else ""). */
static cks_err clash_owner(cks_store *st, cks_objtype type, const char *object_id,
                           const json_t *state, cks_uuid_str owner, char *errstr,
                           size_t errstr_size)
{
	owner[0] = '\0';
	const char *name = dict_name(state);
	if (!*name)
		return CKS_OK;
	cks_err err = cks_store_name_owner(st, type, name, owner, errstr, errstr_size);
	if (!err && *owner && strcmp(owner, object_id) == 0)
		owner[0] = '\0';
	return err;
}

/* The stored revision `top` (state `state`, of object `object_id`) would be
 * the head, but its name belongs to `owner`: writes a local rename revision
 * on top of it as the head, and a name-clash conflict. */
static cks_err rename_on_top(cks_store *st, const cks_revmsg *m, const char *object_id,
                             const char *top, const json_t *state, const char *owner,
                             const cks_policy *policy, cks_apply_result *out, char *errstr,
                             size_t errstr_size)
{
	const char *name = dict_name(state);
	char renamed[128], msg[512];
	snprintf(renamed, sizeof(renamed), "%.91s-%.8s", name, object_id);
	cks_revmsg r = CKS_REVMSG_INIT;
	const char *parts[2] = {top, renamed};
	id_of(r.objrev_id, "rename", parts, 2);
	bool ok = cks_uuid_v5(r.objrev_id, "revision", 8, r.revision_id);
	(void)ok;
	r.origin = cks_strdup(cks_store_instance(st));
	r.timestamp_us = cks_now_us();
	r.author = cks_strdup(CKS_MERGE_AUTHOR);
	snprintf(msg, sizeof(msg), "Renamed to '%s': '%s' is the name of another %s here (%s)",
	         renamed, name, m->object_type == CKS_OBJ_PACKAGE ? "package" : "group", owner);
	r.message = cks_strdup(msg);
	r.kind = CKS_REV_EDIT;
	r.object_type = m->object_type;
	snprintf(r.object_id, sizeof(r.object_id), "%s", object_id);
	r.nparents = 1;
	snprintf(r.parents[0], sizeof(r.parents[0]), "%s", top);
	r.state = as_object(state, object_id);
	json_object_set_new(r.state, "name", json_string(renamed));
	r.diff = cks_diff(state, r.state);
	cks_err err = cks_store_write_objrev(st, &r, CKS_WRITE_SET_HEAD, errstr, errstr_size);
	if (!err) {
		cks_conflict c;
		conflict_base(&c, st, m, "name-clash", "name", policy);
		snprintf(c.object_id, sizeof(c.object_id), "%s", object_id);
		const char *cp[2] = {object_id, name};
		id_of(c.id, "conflict,name-clash", cp, 2);
		json_t *lv = json_pack("{s:s, s:s}", "name", name, "id", owner);
		json_t *rv = json_string(name), *cv = json_string(renamed);
		c.local_value = json_text(lv);
		c.remote_value = json_text(rv);
		c.chosen_value = json_text(cv);
		json_decref(lv);
		json_decref(rv);
		json_decref(cv);
		set_resolution(&c, "renamed");
		err = add_conflict(st, &c, out, errstr, errstr_size);
	}
	cks_revmsg_release(&r);
	return err;
}

/* Makes the stored revision `objrev` (state `state`, read here if NULL)
 * the head of existing object `target` (current state tables and search
 * vector refreshed); a name clash puts a rename revision on top instead.
 * Who holds the name, setting the head and the refresh are one round trip
 * (set_merged_head, 021). */
static cks_err set_head(cks_store *st, const cks_revmsg *m, const char *target, const char *objrev,
                        const json_t *state, const cks_policy *policy, cks_apply_result *out,
                        char *errstr, size_t errstr_size)
{
	rev_info ri;
	PGresult *res = NULL;
	cks_uuid_str owner = "";
	cks_err err = CKS_OK;
	memset(&ri, 0, sizeof(ri));
	if (!state && !(err = load_rev(st, objrev, &ri, errstr, errstr_size)))
		state = ri.state;
	if (!err)
		err = tag_clashes(st, m, state, policy, out, errstr, errstr_size);
	if (!err) {
		bool private_ = json_is_true(json_object_get(state, "private"));
		const char *p[5] = {target, cks_objtype_name(m->object_type), objrev,
		                    dict_name(state), private_ ? "t" : "f"};
		err = q(st, "set head", "SELECT ckansync.set_merged_head($1, $2, $3, $4, $5)", 5, p,
		        &res, errstr, errstr_size);
		if (!err)
			copy_col(res, 0, 0, owner, sizeof(owner));
		PQclear(res);
	}
	if (!err && *owner)
		err = rename_on_top(st, m, target, objrev, state, owner, policy, out, errstr,
		                    errstr_size);
	rev_info_release(&ri);
	return err;
}

/* What cks_apply_revision looks up before it decides: one call of
 * ckansync.apply_probe (007_apply_probe.sql), or the same look-ups one by
 * one for ids that are not UUIDs (those fail later, as before). */
typedef struct probe {
	bool seen;           /* m's object revision is stored here */
	bool purged;         /* m's object was purged here ... */
	char by[64];         /* ... by this instance */
	cks_uuid_str target; /* the object m applies to here ("" if not looked up) */
	bool found;          /* target exists with a head, its row locked */
	bool row;            /* target's row exists (and is locked) */
	cks_head head;       /* target's head (found) */
	bool same_space;     /* target is in m's name space (found) */
	bool hinted;         /* owner and tag_clash are known */
	cks_uuid_str owner;  /* another object holding m's name here, "" if none */
	bool tag_clash;      /* m's tags carry CKAN tag ids other than the known ones */
	cks_fast_state fast; /* what apply_fast did: m written as write_head or defer would */
} probe;

/* Writes m as the new head of its object (created if new); a name clash
 * keeps m as it is in history and puts a rename revision on top. pr (may be
 * NULL) holds what is known of m's object already. */
static cks_err write_head(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
                          const probe *pr, cks_apply_result *out, char *errstr, size_t errstr_size)
{
	cks_uuid_str owner;
	cks_err err = CKS_OK;
	bool hinted = pr && pr->hinted;
	if (hinted)
		memcpy(owner, pr->owner, sizeof(owner));
	else
		err = clash_owner(st, m->object_type, m->object_id, m->state, owner, errstr,
		                  errstr_size);
	if (!err && (!hinted || pr->tag_clash))
		err = tag_clashes(st, m, m->state, policy, out, errstr, errstr_size);
	if (err)
		return err;
	/* m's own object, found and locked, or not found: not looked up again */
	bool own = hinted && strcmp(pr->target, m->object_id) == 0;
	cks_write_flags locked = own && pr->found && pr->same_space ? CKS_WRITE_LOCKED
	                         : own && !pr->row                  ? CKS_WRITE_NEW
	                                                            : 0;
	if (!*owner)
		return cks_store_write_objrev(st, m, CKS_WRITE_SET_HEAD | locked, errstr,
		                              errstr_size);
	if ((err = cks_store_write_objrev(st, m, CKS_WRITE_HISTORY_ONLY | locked, errstr,
	                                  errstr_size)))
		return err;
	return rename_on_top(st, m, m->object_id, m->objrev_id, m->state, owner, policy, out,
	                     errstr, errstr_size);
}

/* ---- merging ----------------------------------------------------------- */

/* The merge revision of x and y (either order gives the same bytes with a
 * symmetric policy): parents sorted, metadata of the newer side. */
static void merge_revmsg(const rev_info *x, const rev_info *y, const char *target, cks_objtype type,
                         const cks_policy *policy, const cks_merge_result *mr,
                         const json_t *first_state, cks_revmsg *out)
{
	char pol[256], msg[512];
	const rev_info *lo = strcmp(x->id, y->id) < 0 ? x : y, *hi = lo == x ? y : x;
	const rev_info *newer = x->timestamp_us > y->timestamp_us   ? x
	                        : y->timestamp_us > x->timestamp_us ? y
	                        : strcmp(x->origin, y->origin) >= 0 ? x
	                                                            : y;
	*out = (cks_revmsg)CKS_REVMSG_INIT;
	snprintf(out->objrev_id, sizeof(out->objrev_id), "%s", mr->merge_id);
	bool ok = cks_uuid_v5(mr->merge_id, "revision", 8, out->revision_id);
	(void)ok;
	out->origin = cks_strdup(newer->origin);
	out->timestamp_us = newer->timestamp_us;
	cks_policy_format(policy, pol, sizeof(pol));
	snprintf(msg, sizeof(msg), "Merge of %s and %s (%s)", lo->id, hi->id, pol);
	out->author = cks_strdup(CKS_MERGE_AUTHOR);
	out->message = cks_strdup(msg);
	out->kind = CKS_REV_MERGE;
	out->object_type = type;
	snprintf(out->object_id, sizeof(out->object_id), "%s", target);
	out->nparents = 2;
	snprintf(out->parents[0], sizeof(out->parents[0]), "%s", lo->id);
	snprintf(out->parents[1], sizeof(out->parents[1]), "%s", hi->id);
	out->state = json_incref(mr->merged);
	out->diff = cks_diff(first_state, mr->merged);
}

static cks_err record_merge_conflicts(cks_store *st, const cks_revmsg *m, const char *target,
                                      const rev_info *local, const rev_info *remote,
                                      const char *base, const cks_revmsg *merged,
                                      const cks_merge_result *mr, const cks_policy *policy,
                                      cks_apply_result *out, char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	if (!*base && strcmp(local->object_id, remote->object_id) == 0) {
		cks_conflict c;
		conflict_base(&c, st, m, "missing-base", "", policy);
		snprintf(c.object_id, sizeof(c.object_id), "%s", target);
		free(c.object_name);
		c.object_name = cks_strdup(dict_name(merged->state));
		snprintf(c.local_objrev, sizeof(c.local_objrev), "%s", local->id);
		snprintf(c.remote_objrev, sizeof(c.remote_objrev), "%s", remote->id);
		snprintf(c.merge_revision, sizeof(c.merge_revision), "%s", merged->revision_id);
		const char *parts[2] = {target, merged->objrev_id};
		id_of(c.id, "conflict,missing-base", parts, 2);
		err = add_conflict(st, &c, out, errstr, errstr_size);
	}
	for (size_t i = 0; i < mr->nconflicts && !err; i++) {
		const cks_merge_conflict *mc = &mr->conflicts[i];
		const char *kind =
		    strcmp(mc->reason, "delete-modify") == 0 ? "delete-modify" : "field";
		cks_conflict c;
		conflict_base(&c, st, m, kind, mc->path, policy);
		snprintf(c.object_id, sizeof(c.object_id), "%s", target);
		free(c.object_name);
		c.object_name = cks_strdup(dict_name(merged->state));
		free(c.remote_origin);
		c.remote_origin = cks_strdup(remote->origin);
		snprintf(c.base_objrev, sizeof(c.base_objrev), "%s", base);
		snprintf(c.local_objrev, sizeof(c.local_objrev), "%s", local->id);
		snprintf(c.remote_objrev, sizeof(c.remote_objrev), "%s", remote->id);
		snprintf(c.merge_revision, sizeof(c.merge_revision), "%s", merged->revision_id);
		c.local_value = json_text(mc->local);
		c.remote_value = json_text(mc->remote);
		c.chosen_value = json_text(mc->chosen);
		/* Same field, same competing values: the same conflict. */
		char *bv = json_text(mc->base);
		const char *a = c.local_value ? c.local_value : "",
		           *b = c.remote_value ? c.remote_value : "";
		const char *parts[5] = {target, mc->path, bv, strcmp(a, b) < 0 ? a : b,
		                        strcmp(a, b) < 0 ? b : a};
		id_of(c.id, kind, parts, 5);
		free(bv);
		err = add_conflict(st, &c, out, errstr, errstr_size);
	}
	return err;
}

/* What merging x and y into `merge` needs, in one round trip
 * (merge_inputs, 021): *exists if `merge` is stored already (nothing else
 * read); else x's and y's revisions and their nearest common ancestor
 * (base "" and *base_state NULL if none is stored here). */
static cks_err merge_inputs(cks_store *st, const char *x, const char *y, const char *merge,
                            bool *exists, rev_info *rx, rev_info *ry, cks_uuid_str base,
                            json_t **base_state, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	const char *p[3] = {x, y, merge};
	*exists = false;
	cks_err err = q(st, "merge inputs", "SELECT * FROM ckansync.merge_inputs($1, $2, $3)", 3, p,
	                &res, errstr, errstr_size);
	int n = err ? 0 : PQntuples(res);
	if (n > 0 && strcmp(PQgetvalue(res, 0, 0), "merged") == 0) {
		*exists = true;
		n = 0;
	}
	const char *side[2] = {x, y}, *role[2] = {"x", "y"};
	rev_info *ri[2] = {rx, ry};
	for (int k = 0; !err && !*exists && k < 2; k++) {
		if (k >= n || strcmp(PQgetvalue(res, k, 0), role[k]) != 0)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                 "object revision %s: not stored here", side[k]);
		else
			err = rev_from_row(res, k, 1, ri[k], errstr, errstr_size);
	}
	if (!err && n == 3) {
		rev_info rb;
		err = rev_from_row(res, 2, 1, &rb, errstr, errstr_size);
		memcpy(base, rb.id, sizeof(cks_uuid_str));
		*base_state = rb.state; /* the caller's now */
	}
	PQclear(res);
	return err;
}

/* The merge revision of stored revisions x and y, made (with its conflicts)
 * unless already stored. The side whose ancestry holds the incoming
 * revision is "remote" in the conflicts. *made true if written now, and
 * then *state (the caller's) its state. Its object, `target`, is locked
 * (cks_apply_settle). */
static cks_err merge_pair(cks_store *st, const cks_revmsg *m, const char *target, const eff_head *x,
                          const eff_head *y, const cks_policy *policy, eff_head *res, bool *made,
                          json_t **state, cks_apply_result *out, char *errstr, size_t errstr_size)
{
	rev_info rx, ry;
	cks_uuid_str base = "";
	json_t *base_state = NULL, *sl = NULL, *sr = NULL, *sb = NULL;
	cks_merge_result mr = CKS_MERGE_RESULT_INIT;
	cks_revmsg merged = CKS_REVMSG_INIT;
	bool exists = false;
	cks_err err;

	*made = false;
	memset(&rx, 0, sizeof(rx));
	memset(&ry, 0, sizeof(ry));
	cks_merge_id(x->id, y->id, res->id);
	res->has_m = x->has_m || y->has_m;
	if ((err = merge_inputs(st, x->id, y->id, res->id, &exists, &rx, &ry, base, &base_state,
	                        errstr, errstr_size)) ||
	    exists)
		goto out;
	/* local: the side the incoming revision is not in (else the smaller id) */
	bool x_local = x->has_m != y->has_m ? !x->has_m : strcmp(x->id, y->id) < 0;
	const rev_info *lr = x_local ? &rx : &ry, *rr = x_local ? &ry : &rx;
	sl = as_object(lr->state, target);
	sr = as_object(rr->state, target);
	sb = base_state ? as_object(base_state, target) : NULL;
	if (!sb && strcmp(lr->object_id, rr->object_id) != 0)
		/* Two objects merged by name share their id here and their name,
		 * nothing else: what only one of them has is kept. */
		sb = json_pack("{s:s, s:s}", "id", target, "name", dict_name(lr->state));
	cks_merge_side local = {sl, lr->origin, lr->timestamp_us, lr->id};
	cks_merge_side remote = {sr, rr->origin, rr->timestamp_us, rr->id};
	if ((err = cks_merge(sb, &local, &remote, policy, &mr, errstr, errstr_size)))
		goto out;
	if (!mr.merged) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "merge of %s and %s has no state", x->id, y->id);
		goto out;
	}
	/* the diff is from the first parent (the smaller id), as on every instance */
	merge_revmsg(&rx, &ry, target, m->object_type, policy, &mr,
	             strcmp(lr->id, rr->id) < 0 ? sl : sr, &merged);
	if ((err = cks_store_write_objrev(st, &merged, CKS_WRITE_HISTORY_ONLY | CKS_WRITE_LOCKED,
	                                  errstr, errstr_size)))
		goto out;
	cks_store_tx_merge_note(st, target, merged.objrev_id);
	*made = true;
	*state = json_incref(mr.merged);
	snprintf(out->merge_revision, sizeof(out->merge_revision), "%s", merged.revision_id);
	err = record_merge_conflicts(st, m, target, lr, rr, base, &merged, &mr, policy, out, errstr,
	                             errstr_size);
out:
	rev_info_release(&rx);
	rev_info_release(&ry);
	json_decref(base_state);
	json_decref(sl);
	json_decref(sr);
	json_decref(sb);
	cks_merge_result_release(&mr);
	cks_revmsg_release(&merged);
	return err;
}

/* m is stored in history: recomputes the head of `target` from its
 * effective heads e (see the top of this file; ckansync.effective_heads,
 * 017, sorted by id, each flagged if m is in its ancestry). */
static cks_err recompute_head(cks_store *st, const cks_revmsg *m, const char *target,
                              const char *old_head, const eff_head *e, size_t n,
                              const cks_policy *policy, cks_apply_result *out, char *errstr,
                              size_t errstr_size)
{
	eff_head acc;
	cks_err err = CKS_OK;
	if (n == 0) {
		out->outcome = CKS_APPLIED_HISTORY;
		return CKS_OK;
	}
	/* The fold's merge ids, known before anything is written. */
	cks_buf keep = CKS_BUF_INIT;
	acc = e[0];
	cks_buf_appendf(&keep, "{%s", acc.id);
	for (size_t i = 1; i < n; i++) {
		cks_uuid_str next;
		cks_merge_id(acc.id, e[i].id, next);
		memcpy(acc.id, next, sizeof(next));
		cks_buf_appendf(&keep, ",%s", acc.id);
	}
	cks_buf_appendf(&keep, "}");
	bool moves = strcmp(acc.id, old_head) != 0;
	/* Merges this transaction made for target: only targets (objects with
	 * a row, never an alias) are noted, so none is missed; usually none
	 * (cks_apply_settle recomputes each object once per transaction). */
	cks_buf made_ids = CKS_BUF_INIT;
	if (moves && cks_store_tx_merges(st, target, &made_ids)) {
		/* The old head may be a merge of this transaction the new fold no
		 * longer needs: unhook it so that it can go. */
		const char *p[3] = {target, keep.data, made_ids.data};
		err = q(st, "release head",
		        "UPDATE ckansync.object SET head = NULL WHERE id = $1 AND "
		        "head = ANY ($3::uuid[]) AND NOT (head = ANY ($2::uuid[]))",
		        3, p, NULL, errstr, errstr_size);
		if (!err)
			err = drop_stale_tx_merges(st, target, keep.data, made_ids.data, errstr,
			                           errstr_size);
	}
	cks_buf_release(&made_ids);
	bool merged = false;
	json_t *top = NULL; /* the state of acc if this fold made it */
	acc = e[0];
	for (size_t i = 1; i < n && !err; i++) {
		eff_head next;
		bool made = false;
		json_t *state = NULL;
		err = merge_pair(st, m, target, &acc, &e[i], policy, &next, &made, &state, out,
		                 errstr, errstr_size);
		merged = merged || made;
		json_decref(top);
		top = state;
		acc = next;
	}
	if (!err && moves)
		err = set_head(st, m, target, acc.id, top, policy, out, errstr, errstr_size);
	json_decref(top);
	if (!err)
		out->outcome = merged  ? CKS_APPLIED_MERGED
		               : moves ? CKS_APPLIED_FAST_FORWARD
		                       : CKS_APPLIED_HISTORY;
	cks_buf_release(&keep);
	return err;
}

/* m goes into history now; the head of `target` is recomputed by
 * cks_apply_settle. */
static cks_err defer(cks_store *st, const cks_revmsg *m, const char *target, cks_apply_result *out,
                     char *errstr, size_t errstr_size)
{
	cks_err err = cks_store_write_objrev(st, m, CKS_WRITE_HISTORY_ONLY, errstr, errstr_size);
	const char *p[2] = {target, m->objrev_id};
	if (!err)
		err = q(st, "pending head",
		        "INSERT INTO ckansync.pending_head (object_id, incoming) VALUES ($1, $2) "
		        "ON CONFLICT (object_id) DO UPDATE SET incoming = excluded.incoming",
		        2, p, NULL, errstr, errstr_size);
	if (!err)
		out->outcome = CKS_APPLIED_PENDING;
	return err;
}

/* ---- rules --------------------------------------------------------------- */

static cks_err check_shape(const cks_revmsg *m, char *errstr, size_t errstr_size)
{
	if (m->nparents > CKS_MAX_PARENTS)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "parents: %zu > 2",
		                  m->nparents);
	if (m->kind == CKS_REV_MERGE && m->nparents != 2)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "merge revision with %zu parent(s), needs 2", m->nparents);
	if (m->kind == CKS_REV_EDIT && m->nparents > 1)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "edit revision with %zu parents", m->nparents);
	if (m->kind != CKS_REV_PURGE && !json_is_object(m->state))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "%s revision without a state", cks_revkind_name(m->kind));
	if (m->kind == CKS_REV_PURGE && m->state)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "purge revision with a state");
	/* the codec only decodes UUIDs; a caller's own message is checked here */
	const char *ids[3] = {m->revision_id, m->objrev_id, m->object_id};
	static const char *const what[3] = {"revision_id", "objrev_id", "object_id"};
	for (size_t i = 0; i < 3; i++)
		if (!cks_uuid_valid(ids[i]))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: not a UUID",
			                  what[i]);
	for (size_t i = 0; i < m->nparents; i++)
		if (!cks_uuid_valid(m->parents[i]))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "parents[%zu]: not a UUID", i);
	for (size_t i = 0; i < m->nparents; i++)
		if (strcmp(m->parents[i], m->objrev_id) == 0)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "object revision %s is its own parent", m->objrev_id);
	return CKS_OK;
}

static cks_err apply_purge(cks_store *st, const cks_revmsg *m, bool purged, cks_apply_result *out,
                           char *errstr, size_t errstr_size)
{
	if (purged) {
		out->outcome = CKS_SKIPPED_DUPLICATE;
		return CKS_OK;
	}
	out->outcome = CKS_APPLIED_PURGED;
	return cks_store_apply_purge(st, m, errstr, errstr_size);
}

/* A new group or organization whose name a local one of the same type
 * holds: merge it into that one (alias) and log the clash. target "" if
 * there is no such local object. */
static cks_err merge_by_name(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
                             cks_uuid_str target, cks_apply_result *out, char *errstr,
                             size_t errstr_size)
{
	PGresult *res = NULL;
	target[0] = '\0';
	if (m->object_type == CKS_OBJ_PACKAGE || !*dict_name(m->state))
		return CKS_OK;
	const char *p[3] = {m->object_id, dict_name(m->state), cks_objtype_name(m->object_type)};
	cks_err err =
	    q(st, "merge by name",
	      "INSERT INTO ckansync.object_alias (alias_id, object_id, name) "
	      "SELECT $1, o.id, o.name FROM ckansync.object o WHERE o.name_space = 'group' "
	      "AND o.name = $2 AND o.type = $3 AND o.id <> $1 "
	      "ON CONFLICT (alias_id) DO NOTHING RETURNING object_id",
	      3, p, &res, errstr, errstr_size);
	if (!err && PQntuples(res) == 1)
		copy_col(res, 0, 0, target, sizeof(cks_uuid_str));
	PQclear(res);
	if (err || !*target)
		return err;
	cks_conflict c;
	conflict_base(&c, st, m, "name-clash", "name", policy);
	snprintf(c.object_id, sizeof(c.object_id), "%s", target);
	const char *parts[2] = {m->object_id, dict_name(m->state)};
	id_of(c.id, "conflict,name-clash", parts, 2);
	json_t *lv = json_pack("{s:s, s:s}", "name", dict_name(m->state), "id", target);
	json_t *rv = json_pack("{s:s, s:s}", "name", dict_name(m->state), "id", m->object_id);
	c.local_value = json_text(lv);
	c.remote_value = json_text(rv);
	c.chosen_value = json_text(lv);
	json_decref(lv);
	json_decref(rv);
	set_resolution(&c, "merged");
	return add_conflict(st, &c, out, errstr, errstr_size);
}

/* m's object does not exist here: create it (or merge it by name). */
static cks_err create_object(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
                             const probe *pr, cks_apply_result *out, char *errstr,
                             size_t errstr_size)
{
	cks_uuid_str target;
	cks_err err = merge_by_name(st, m, policy, target, out, errstr, errstr_size);
	if (err)
		return err;
	if (*target) {
		cks_head head;
		if ((err = cks_store_head_lock(st, target, &head, false, errstr, errstr_size)))
			return err;
		return defer(st, m, target, out, errstr, errstr_size);
	}
	if ((err = write_head(st, m, policy, pr, out, errstr, errstr_size)))
		return err;
	if (m->nparents == 0) {
		out->outcome = CKS_APPLIED_CREATED;
		return CKS_OK;
	}
	cks_conflict c;
	conflict_base(&c, st, m, "missing-base", "", policy);
	const char *parts[2] = {m->object_id, m->objrev_id};
	id_of(c.id, "conflict,missing-base", parts, 2);
	set_resolution(&c, "applied-full-state");
	out->outcome = CKS_APPLIED_MISSING_BASE;
	return add_conflict(st, &c, out, errstr, errstr_size);
}

/* Fills pr for m: stored? purged? the object it applies to here, whose row
 * it locks; the name and tag clashes m would make. One round trip. */
static cks_err probe_revision(cks_store *st, const cks_revmsg *m, probe *pr, char *errstr,
                              size_t errstr_size)
{
	memset(pr, 0, sizeof(*pr));
	PGresult *res = NULL;
	cks_err err;
	/* A plain fast-forward or create is written in the same round trip
	 * (ckansync.apply_fast, 010), as write_head would write it, and a
	 * diverging edit as defer would (011). */
	if (cks_apply_can_pipeline(m)) {
		err = cks_store_apply_fast(st, m, &res, &pr->fast, errstr, errstr_size);
	} else {
		const char *name = json_string_value(json_object_get(m->state, "name"));
		char *tags = m->object_type == CKS_OBJ_PACKAGE
		                 ? json_text(json_object_get(m->state, "tags"))
		                 : NULL;
		const char *p[6] = {m->objrev_id,
		                    m->object_id,
		                    cks_objtype_name(m->object_type),
		                    cks_revkind_name(m->kind),
		                    name,
		                    tags};
		err = q(st, "probe revision",
		        "SELECT * FROM ckansync.apply_probe($1, $2, $3, $4, $5, $6::jsonb)", 6, p,
		        &res, errstr, errstr_size);
		if (!err && PQntuples(res) != 1)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                 "probe revision: %d rows", PQntuples(res));
		free(tags);
	}
	if (err) {
		PQclear(res);
		return err;
	}
	pr->seen = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	pr->purged = !PQgetisnull(res, 0, 1);
	copy_col(res, 0, 1, pr->by, sizeof(pr->by));
	copy_col(res, 0, 2, pr->target, sizeof(pr->target));
	pr->found = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	if (pr->found) {
		cks_objtype type;
		copy_col(res, 0, 2, pr->head.object_id, sizeof(pr->head.object_id));
		copy_col(res, 0, 4, pr->head.objrev_id, sizeof(pr->head.objrev_id));
		copy_col(res, 0, 5, pr->head.name, sizeof(pr->head.name));
		copy_col(res, 0, 6, pr->head.origin, sizeof(pr->head.origin));
		pr->head.timestamp_us = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
		pr->same_space = cks_objtype_parse(PQgetvalue(res, 0, 8), &type) &&
		                 (type == CKS_OBJ_PACKAGE) == (m->object_type == CKS_OBJ_PACKAGE);
	}
	pr->hinted = true;
	copy_col(res, 0, 9, pr->owner, sizeof(pr->owner));
	pr->tag_clash = strcmp(PQgetvalue(res, 0, 10), "t") == 0;
	pr->row = strcmp(PQgetvalue(res, 0, 11), "t") == 0;
	PQclear(res);
	return CKS_OK;
}

bool cks_apply_can_pipeline(const cks_revmsg *m)
{
	char e[256];
	return m->kind == CKS_REV_EDIT && (m->diff || m->nparents == 0) &&
	       check_shape(m, e, sizeof(e)) == CKS_OK &&
	       cks_pkg_validate(m->state, m->object_type, e, sizeof(e)) == CKS_OK;
}

cks_err cks_apply_revision(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
                           cks_apply_result *out, char *errstr, size_t errstr_size)
{
	probe pr;
	cks_err err;
	memset(out, 0, sizeof(*out));
	if ((err = check_shape(m, errstr, errstr_size)))
		return err;
	/* 1. already applied (replays, chains, 2-way loops); 2./3. purges; the
	 * object's row locked (groups merged by name into a local one live on
	 * as that one) */
	if ((err = probe_revision(st, m, &pr, errstr, errstr_size)))
		return err;
	if (pr.seen && m->kind != CKS_REV_PURGE) {
		out->outcome = CKS_SKIPPED_DUPLICATE;
		return CKS_OK;
	}
	if (m->kind == CKS_REV_PURGE)
		return apply_purge(st, m, pr.purged, out, errstr, errstr_size);
	if (pr.purged) {
		if (strcmp(pr.by, cks_store_instance(st)) != 0) {
			out->outcome = CKS_SKIPPED_PURGED;
			return CKS_OK;
		}
		cks_conflict c;
		conflict_base(&c, st, m, "purged-here", "", policy);
		const char *parts[2] = {m->object_id, m->objrev_id};
		id_of(c.id, "conflict,purged-here", parts, 2);
		set_resolution(&c, "kept-purged");
		out->outcome = CKS_SKIPPED_PURGED_HERE;
		return add_conflict(st, &c, out, errstr, errstr_size);
	}
	if (pr.fast == CKS_FAST_WRITTEN) { /* a plain create or fast-forward, in the probe's trip */
		out->outcome = pr.found ? CKS_APPLIED_FAST_FORWARD : CKS_APPLIED_CREATED;
		return CKS_OK;
	}
	if (pr.fast == CKS_FAST_PENDING) { /* step 6 below, in the probe's round trip */
		out->outcome = CKS_APPLIED_PENDING;
		return CKS_OK;
	}
	/* 4. create */
	if (!pr.found)
		return create_object(st, m, policy, &pr, out, errstr, errstr_size);
	/* 5. fast-forward: an edit of the head */
	if (m->kind == CKS_REV_EDIT && m->nparents == 1 &&
	    strcmp(m->parents[0], pr.head.objrev_id) == 0 && strcmp(pr.target, m->object_id) == 0) {
		out->outcome = CKS_APPLIED_FAST_FORWARD;
		return write_head(st, m, policy, &pr, out, errstr, errstr_size);
	}
	/* 6. anything else: into history; the head from the history, later */
	return defer(st, m, pr.target, out, errstr, errstr_size);
}

/* Merges the heads of object `oid` that wait since revision `incoming`
 * arrived (recompute_head). What it needs first comes in one round trip
 * (ckansync.settle_heads, 022): the object's row locked, its head, the
 * incoming revision's origin and name, the effective heads. */
static cks_err settle_one(cks_store *st, const cks_policy *policy, const char *oid,
                          const char *incoming, const char *type, cks_apply_result *one,
                          char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	eff_head e[MAX_HEADS];
	size_t n = 0;
	cks_uuid_str head;
	cks_revmsg m = CKS_REVMSG_INIT;
	const char *p[2] = {oid, incoming};
	memset(one, 0, sizeof(*one));
	cks_err err = q(st, "lock object head", "SELECT * FROM ckansync.settle_heads($1, $2)", 2, p,
	                &res, errstr, errstr_size);
	int rows = err ? 0 : PQntuples(res);
	if (!err && rows == 0)
		err =
		    cks_seterr(errstr, errstr_size, CKS_ERR_NOTFOUND, "object %s: not found", oid);
	else if (!err && PQgetisnull(res, 0, 1))
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "object revision %s: not stored here", incoming);
	else if (!err && rows > MAX_HEADS)
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "object %s has %d divergent heads (at most %d are merged at once)",
		                 oid, rows, MAX_HEADS);
	for (int i = 0; !err && i < rows && !PQgetisnull(res, i, 3); i++, n++) {
		copy_col(res, i, 3, e[n].id, sizeof(e[n].id));
		e[n].has_m = strcmp(PQgetvalue(res, i, 4), "t") == 0;
	}
	if (!err) {
		copy_col(res, 0, 0, head, sizeof(head));
		/* the incoming revision, as the conflicts' "remote" side: its
		 * name is all they read of its state (conflict_base) */
		snprintf(m.objrev_id, sizeof(m.objrev_id), "%s", incoming);
		snprintf(m.object_id, sizeof(m.object_id), "%s", oid);
		if (!cks_objtype_parse(type, &m.object_type))
			m.object_type = CKS_OBJ_PACKAGE;
		m.origin = cks_strdup(PQgetvalue(res, 0, 1));
		m.state = json_pack("{s:s}", "name", PQgetvalue(res, 0, 2));
		err = recompute_head(st, &m, oid, head, e, n, policy, one, errstr, errstr_size);
	}
	PQclear(res);
	cks_revmsg_release(&m);
	return err;
}

/* One pass over the n objects of a chunk (rows of res: object, incoming
 * revision, type). careful: a savepoint per object, and an object that
 * cannot be merged is logged and left at its head; else no savepoint of
 * its own (the caller's covers the chunk), and such an object ends the
 * pass with *failed. The objects done are added to `settled` (a uuid[]
 * literal being built), their conflicts to acc, their merges to *merges. */
static cks_err settle_pass(cks_store *st, const cks_policy *policy, const PGresult *res, int n,
                           bool careful, cks_apply_result *acc, size_t *merges, cks_buf *settled,
                           bool *failed, char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	*failed = false;
	for (int i = 0; !err && i < n; i++) {
		char e[1024];
		cks_apply_result one;
		const char *oid = PQgetvalue(res, i, 0);
		if (careful && (err = cks_store_savepoint(st, errstr, errstr_size)))
			break;
		cks_err oe = settle_one(st, policy, oid, PQgetvalue(res, i, 1),
		                        PQgetvalue(res, i, 2), &one, e, sizeof(e));
		if (oe && oe != CKS_ERR_PERMANENT && oe != CKS_ERR_NOTFOUND)
			return cks_seterr(errstr, errstr_size, oe, "%s", e);
		if (oe && !careful) {
			*failed = true;
			break;
		}
		if (oe) {
			CKS_LOG(CKS_LOG_ERROR, oid,
			        "cannot merge the heads of object %s: %s; "
			        "it stays at its head",
			        oid, e);
			err = cks_store_savepoint_rollback(st, errstr, errstr_size);
		} else if (careful) {
			err = cks_store_savepoint_release(st, errstr, errstr_size);
		}
		cks_buf_appendf(settled, "%s%s", settled->len ? "," : "{", oid);
		if (!err && !oe) {
			acc->nconflicts += one.nconflicts;
			for (size_t k = 0; k < CKS_CONFLICT_NKINDS; k++)
				acc->by_kind[k] += one.by_kind[k];
			*merges += one.outcome == CKS_APPLIED_MERGED;
		}
	}
	return err;
}

cks_err cks_apply_settle(cks_store *st, const cks_policy *policy, size_t max, cks_apply_result *sum,
                         size_t *merges, bool *more, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	cks_apply_result acc;
	size_t nmerges = 0;
	cks_buf settled = CKS_BUF_INIT; /* uuid[] literal: the objects done */
	char limit[24];
	memset(&acc, 0, sizeof(acc));
	if (more)
		*more = false;
	if (max)
		snprintf(limit, sizeof(limit), "%zu", max + 1);
	const char *p1[1] = {max ? limit : NULL}; /* NULL: no limit */
	/* Waiting heads of objects purged meanwhile go. OFFSET 0 keeps the
	 * NOT EXISTS a look-up by key per waiting object: as an anti join it was
	 * planned as a hash of the whole object table, once per chunk (0.8 ms
	 * at 4,000 objects, growing with the catalog; in a steady stream with
	 * merges a chunk is an object or two). */
	cks_err err = q(st, "pending heads",
	                "WITH gone AS (DELETE FROM ckansync.pending_head p WHERE NOT EXISTS "
	                "  (SELECT 1 FROM ckansync.object o WHERE o.id = p.object_id OFFSET 0)) "
	                "SELECT p.object_id, p.incoming, o.type FROM ckansync.pending_head p "
	                "JOIN ckansync.object o ON o.id = p.object_id ORDER BY p.object_id "
	                "LIMIT $1::bigint",
	                1, p1, &res, errstr, errstr_size);
	int n = err ? 0 : PQntuples(res);
	if (max && (size_t)n > max) {
		n = (int)max;
		if (more)
			*more = true;
	}
	/* The chunk under one savepoint first (two round trips, not two per
	 * object). If an object cannot be merged, the chunk is rolled back to
	 * it and done again with a savepoint per object, that object left at
	 * its head; the conflicts of the objects before it are then logged
	 * twice (once in the try that was undone), recorded once. */
	bool failed = false;
	if (n > 0 && !(err = cks_store_savepoint(st, errstr, errstr_size)))
		err = settle_pass(st, policy, res, n, false, &acc, &nmerges, &settled, &failed,
		                  errstr, errstr_size);
	if (!err && n > 0 && failed) {
		err = cks_store_savepoint_rollback(st, errstr, errstr_size);
		memset(&acc, 0, sizeof(acc));
		nmerges = 0;
		cks_buf_reset(&settled);
		if (!err)
			err = settle_pass(st, policy, res, n, true, &acc, &nmerges, &settled,
			                  &failed, errstr, errstr_size);
	} else if (!err && n > 0) {
		err = cks_store_savepoint_release(st, errstr, errstr_size);
	}
	PQclear(res);
	if (!err && settled.len) { /* one statement for the chunk, not one per object */
		cks_buf_appendf(&settled, "}");
		const char *p[1] = {settled.data};
		err = q(st, "settled",
		        "DELETE FROM ckansync.pending_head WHERE object_id = ANY ($1::uuid[])", 1,
		        p, NULL, errstr, errstr_size);
	}
	cks_buf_release(&settled);
	if (sum)
		*sum = acc;
	if (merges)
		*merges = nmerges;
	return err;
}
