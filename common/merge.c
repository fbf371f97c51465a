/* merge — semantic 3-way merge of CKAN dicts. See merge.h and docs/merge.md.
 *
 * Every value slot (a top-level key, a tag/group/extra by name or key, a
 * resource by id, a resource's field) is merged by the same rule: equal
 * sides win; a side equal to the base yields to the other; otherwise both
 * changed it to different values (absent counts as a value, so a removal
 * against a change is a delete-modify) and the policy picks. Symmetry: the
 * policy ranks the two sides by labels that do not depend on which side is
 * "local" (origin, time, objrev id, at last the value's canonical text), and
 * list order is built from the two sides' orders by a rule that treats them
 * alike. Conflicts are sorted by path. */
#include "merge.h"
#include "diff.h"
#include "pkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ckansync merge namespace: uuid5(NAMESPACE_DNS, "merge.ckansync.org"). */
#define CKS_MERGE_NAMESPACE "db516fca-6c86-5c89-87be-aafa1a738db7"

typedef struct merge_ctx {
	const cks_policy *policy;
	const cks_merge_side *local, *remote;
	int rank;      /* <0 local wins, >0 remote wins, 0 tie: decided per value */
	bool has_base; /* false: no common ancestor, every difference conflicts */
	cks_merge_result *out;
	size_t cap; /* allocated conflicts */
} merge_ctx;

/* ---- policies ---------------------------------------------------------- */

static const char *policy_names[] = {"origin-priority", "newest-wins", "local-wins", "remote-wins"};

cks_err cks_policy_parse(const char *s, cks_policy *p, char *errstr, size_t errstr_size)
{
	memset(p, 0, sizeof(*p));
	if (!s)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "policy: missing");
	for (int i = 1; i < 4; i++)
		if (strcmp(s, policy_names[i]) == 0) {
			p->kind = (cks_policy_kind)i;
			return CKS_OK;
		}
	size_t plen = strlen(policy_names[0]);
	if (strncmp(s, policy_names[0], plen) != 0 || (s[plen] != ':' && s[plen] != '\0'))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "policy: unknown '%s' (newest-wins, local-wins, remote-wins, "
		                  "origin-priority:A,B,...)",
		                  s);
	p->kind = CKS_POLICY_ORIGIN_PRIORITY;
	for (const char *c = s[plen] ? s + plen + 1 : s + plen; *c;) {
		size_t n = strcspn(c, ",");
		if (n == 0 || n >= sizeof(p->origins[0]))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "policy: origin names must be 1-%zu characters",
			                  sizeof(p->origins[0]) - 1);
		if (p->norigins == CKS_POLICY_MAX_ORIGINS)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "policy: more than %d origins", CKS_POLICY_MAX_ORIGINS);
		memcpy(p->origins[p->norigins], c, n);
		p->origins[p->norigins][n] = '\0';
		for (size_t i = 0; i < p->norigins; i++)
			if (strcmp(p->origins[i], p->origins[p->norigins]) == 0)
				return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				                  "policy: origin '%s' listed twice",
				                  p->origins[i]);
		p->norigins++;
		c += n;
		if (*c == ',' && *++c == '\0')
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "policy: trailing comma");
	}
	return CKS_OK;
}

void cks_policy_format(const cks_policy *p, char *out, size_t out_size)
{
	cks_buf b = CKS_BUF_INIT;
	cks_buf_appendf(&b, "%s", (unsigned)p->kind < 4 ? policy_names[p->kind] : "?");
	for (size_t i = 0; p->kind == CKS_POLICY_ORIGIN_PRIORITY && i < p->norigins; i++)
		cks_buf_appendf(&b, "%c%s", i ? ',' : ':', p->origins[i]);
	snprintf(out, out_size, "%s", b.data);
	cks_buf_release(&b);
}

bool cks_policy_symmetric(const cks_policy *p)
{
	return p->kind == CKS_POLICY_ORIGIN_PRIORITY || p->kind == CKS_POLICY_NEWEST_WINS;
}

static size_t origin_rank(const cks_policy *p, const char *origin)
{
	for (size_t i = 0; origin && i < p->norigins; i++)
		if (strcmp(p->origins[i], origin) == 0)
			return i;
	return p->norigins; /* unlisted: after every listed origin */
}

static int cmp_str0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* <0: local wins, >0: remote wins, 0: tie (decided per value). Only labels
 * of the sides enter, never "which one is local", for symmetric policies. */
static int rank_sides(const cks_policy *p, const cks_merge_side *l, const cks_merge_side *r)
{
	int c = 0;
	switch (p->kind) {
	case CKS_POLICY_LOCAL_WINS:
		return -1;
	case CKS_POLICY_REMOTE_WINS:
		return 1;
	case CKS_POLICY_NEWEST_WINS:
		if (l->timestamp_us != r->timestamp_us)
			return l->timestamp_us > r->timestamp_us ? -1 : 1;
		c = cmp_str0(l->origin, r->origin);
		break;
	default: {
		size_t rl = origin_rank(p, l->origin), rr = origin_rank(p, r->origin);
		if (rl != rr)
			return rl < rr ? -1 : 1;
		break;
	}
	}
	return c ? c : cmp_str0(l->objrev_id, r->objrev_id);
}

/* ---- value slots ------------------------------------------------------- */

static bool eq(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	return json_equal((json_t *)a, (json_t *)b);
}

/* Per-value tie-break: the smaller canonical text (absent first). */
static bool local_chosen(const merge_ctx *ctx, const json_t *l, const json_t *r)
{
	if (ctx->rank)
		return ctx->rank < 0;
	if (!l || !r)
		return !l;
	char *a = cks_json_canonical(l), *b = cks_json_canonical(r);
	int c = strcmp(a, b);
	free(a);
	free(b);
	return c <= 0;
}

static void add_conflict(merge_ctx *ctx, const char *path, const json_t *b, const json_t *l,
                         const json_t *r, const json_t *chosen)
{
	cks_merge_result *out = ctx->out;
	if (out->nconflicts == ctx->cap) {
		ctx->cap = ctx->cap ? 2 * ctx->cap : 8;
		out->conflicts = cks_realloc(out->conflicts, ctx->cap * sizeof(*out->conflicts));
	}
	const char *reason = !ctx->has_base ? "no common ancestor"
	                     : !b           ? "both added"
	                     : (!l || !r)   ? "delete-modify"
	                                    : "both changed";
	cks_merge_conflict *c = &out->conflicts[out->nconflicts++];
	c->path = cks_strdup(path);
	c->base = json_deep_copy(b);
	c->local = json_deep_copy(l);
	c->remote = json_deep_copy(r);
	c->chosen = json_deep_copy(chosen);
	c->reason = cks_strdup(reason);
}

/* 3-way merge of one slot; NULL = absent. Returns the chosen value
 * (borrowed from l or r) and records a conflict when both changed it. */
static const json_t *pick3(merge_ctx *ctx, const char *path, const json_t *b, const json_t *l,
                           const json_t *r)
{
	if (eq(l, r))
		return l;
	if (ctx->has_base && eq(l, b))
		return r;
	if (ctx->has_base && eq(r, b))
		return l;
	const json_t *chosen = local_chosen(ctx, l, r) ? l : r;
	add_conflict(ctx, path, b, l, r, chosen);
	return chosen;
}

/* ---- lists ------------------------------------------------------------- */

/* Key sequences of the three sides (NULL = empty) as C arrays. */
typedef struct keyseq {
	const char **k; /* borrowed from the items */
	size_t n;
} keyseq;

static keyseq seq_of(const json_t *arr, const char *keyfield)
{
	keyseq s = {cks_malloc((json_array_size(arr) + 1) * sizeof(char *)), 0};
	for (size_t i = 0; i < json_array_size(arr); i++)
		s.k[s.n++] = cks_diff_item_key(json_array_get(arr, i), keyfield);
	return s;
}

static bool seq_eq(const keyseq *a, const keyseq *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->k[i], b->k[i]) != 0)
			return false;
	return true;
}

static int seq_cmp(const keyseq *a, const keyseq *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		int c = strcmp(a->k[i], b->k[i]);
		if (c)
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

static ssize_t seq_find(const keyseq *s, const char *k)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->k[i], k) == 0)
			return (ssize_t)i;
	return -1;
}

/* Adds src's keys that are kept (in `merged`) and not yet placed in res,
 * each after its nearest placed predecessor in src (or first), and after the
 * items following it that src does not hold: appends from both sides end up
 * one after the other, the template's first. */
static void seq_insert_missing(keyseq *res, const keyseq *src, const json_t *merged,
                               const char *keyfield)
{
	for (size_t i = 0; i < src->n; i++) {
		const char *k = src->k[i];
		if (seq_find(res, k) >= 0 || cks_diff_item_find(merged, keyfield, k) < 0)
			continue;
		size_t at = 0;
		for (size_t j = i; j-- > 0;) {
			ssize_t p = seq_find(res, src->k[j]);
			if (p >= 0) {
				at = (size_t)p + 1;
				break;
			}
		}
		while (at < res->n && seq_find(src, res->k[at]) < 0)
			at++; /* after the items src does not know (the template's adds) */
		memmove(res->k + at + 1, res->k + at, (res->n - at) * sizeof(char *));
		res->k[at] = k;
		res->n++;
	}
}

/* Order of the merged items: the order of the side that changed it (the
 * policy's winner if both did), then the other side's and the base's kept
 * items inserted after their predecessors. `merged` holds the items, in any
 * order; returns them ordered (new array, caller owns). */
static json_t *order_items(const merge_ctx *ctx, const json_t *bv, const json_t *lv,
                           const json_t *rv, const json_t *merged, const char *keyfield)
{
	keyseq ob = seq_of(bv, keyfield), ol = seq_of(lv, keyfield), or = seq_of(rv, keyfield);
	const keyseq *t, *o;
	if (seq_eq(&ol, &ob))
		t = & or, o = &ol;
	else if (seq_eq(& or, &ob) || seq_eq(&ol, & or))
		t = &ol, o = & or ;
	else if (ctx->rank ? ctx->rank < 0 : seq_cmp(&ol, & or) <= 0)
		t = &ol, o = & or ;
	else
		t = & or, o = &ol;
	size_t cap = ob.n + ol.n + or.n + 1;
	keyseq res = {cks_malloc(cap * sizeof(char *)), 0};
	for (size_t i = 0; i < t->n; i++)
		if (cks_diff_item_find(merged, keyfield, t->k[i]) >= 0)
			res.k[res.n++] = t->k[i];
	seq_insert_missing(&res, o, merged, keyfield);
	seq_insert_missing(&res, &ob, merged, keyfield);
	json_t *arr = json_array(); /* caller owns */
	for (size_t i = 0; i < res.n; i++)
		json_array_append(arr, json_array_get(merged, (size_t)cks_diff_item_find(
		                                                  merged, keyfield, res.k[i])));
	free(res.k);
	free(ob.k);
	free(ol.k);
	free(or.k);
	return arr;
}

/* Resource present on both sides (and in the base, or no base at all):
 * merged field by field. New object, caller owns. */
static json_t *merge_fields(merge_ctx *ctx, const char *prefix, const json_t *b, const json_t *l,
                            const json_t *r)
{
	json_t *res = json_object();
	size_t n;
	const char **keys = cks_diff_union_keys(b, l, r, &n);
	cks_buf path = CKS_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		cks_buf_reset(&path);
		cks_buf_appendf(&path, "%s.%s", prefix, keys[i]);
		const json_t *v = pick3(ctx, path.data, json_object_get(b, keys[i]),
		                        json_object_get(l, keys[i]), json_object_get(r, keys[i]));
		if (v)
			json_object_set_new(res, keys[i], json_deep_copy(v));
	}
	cks_buf_release(&path);
	free(keys);
	return res;
}

/* Keyed list (tags, groups, extras by name/key; resources by id). */
static json_t *merge_list(merge_ctx *ctx, const char *field, const char *keyfield, const json_t *bv,
                          const json_t *lv, const json_t *rv)
{
	bool per_field = strcmp(field, "resources") == 0;
	json_t *merged = json_array(), *ordered = NULL;
	json_t *objs[3] = {json_object(), json_object(), json_object()}; /* key -> item */
	const json_t *lists[3] = {bv, lv, rv};
	for (int s = 0; s < 3; s++)
		for (size_t i = 0; i < json_array_size(lists[s]); i++) {
			json_t *it = json_array_get(lists[s], i);
			json_object_set(objs[s], cks_diff_item_key(it, keyfield), it);
		}
	size_t n;
	const char **keys = cks_diff_union_keys(objs[0], objs[1], objs[2], &n);
	cks_buf path = CKS_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const json_t *b = json_object_get(objs[0], keys[i]);
		const json_t *l = json_object_get(objs[1], keys[i]);
		const json_t *r = json_object_get(objs[2], keys[i]);
		cks_buf_reset(&path);
		cks_buf_appendf(&path, "%s.%s", field, keys[i]);
		if (per_field && l && r && (b || !ctx->has_base) && !eq(l, r)) {
			json_array_append_new(merged, merge_fields(ctx, path.data, b, l, r));
			continue;
		}
		const json_t *v = pick3(ctx, path.data, b, l, r);
		if (v)
			json_array_append_new(merged, json_deep_copy(v));
	}
	ordered = order_items(ctx, bv, lv, rv, merged, keyfield);
	cks_buf_release(&path);
	free(keys);
	for (int s = 0; s < 3; s++)
		json_decref(objs[s]);
	json_decref(merged);
	return ordered;
}

/* Both sides present: every top-level key. New object, caller owns. */
static json_t *merge_dict(merge_ctx *ctx, const json_t *base, const json_t *l, const json_t *r)
{
	json_t *res = json_object();
	size_t n;
	const char **keys = cks_diff_union_keys(base, l, r, &n);
	for (size_t i = 0; i < n; i++) {
		const json_t *bv = json_object_get(base, keys[i]);
		const json_t *lv = json_object_get(l, keys[i]);
		const json_t *rv = json_object_get(r, keys[i]);
		const char *keyfield = cks_diff_list_key(keys[i]);
		if (keyfield && cks_diff_keyable(lv, keyfield) && cks_diff_keyable(rv, keyfield) &&
		    (!ctx->has_base || cks_diff_keyable(bv, keyfield)) && !eq(lv, rv)) {
			json_object_set_new(res, keys[i],
			                    merge_list(ctx, keys[i], keyfield, bv, lv, rv));
			continue;
		}
		const json_t *v = pick3(ctx, keys[i], bv, lv, rv);
		if (v)
			json_object_set_new(res, keys[i], json_deep_copy(v));
	}
	free(keys);
	return res;
}

static int cmp_conflict(const void *a, const void *b)
{
	return strcmp(((const cks_merge_conflict *)a)->path, ((const cks_merge_conflict *)b)->path);
}

cks_err cks_merge(const json_t *base, const cks_merge_side *local, const cks_merge_side *remote,
                  const cks_policy *policy, cks_merge_result *out, char *errstr, size_t errstr_size)
{
	if (!local || !remote || !policy || !out)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "merge: missing side, policy or result");
	const json_t *states[3] = {base, local->state, remote->state};
	for (int i = 0; i < 3; i++)
		if (states[i] && !json_is_object(states[i]))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "merge: %s is not a JSON object",
			                  i == 0   ? "base"
			                  : i == 1 ? "local"
			                           : "remote");
	*out = (cks_merge_result)CKS_MERGE_RESULT_INIT;
	merge_ctx ctx = {policy,       local, remote, rank_sides(policy, local, remote),
	                 base != NULL, out,   0};
	if (local->state && remote->state) {
		out->merged = merge_dict(&ctx, base, local->state, remote->state);
	} else {
		const json_t *v = pick3(&ctx, "", base, local->state, remote->state);
		out->merged = json_deep_copy(v); /* NULL: deleted */
	}
	if (out->nconflicts > 1)
		qsort(out->conflicts, out->nconflicts, sizeof(*out->conflicts), cmp_conflict);
	cks_merge_id(local->objrev_id ? local->objrev_id : "",
	             remote->objrev_id ? remote->objrev_id : "", out->merge_id);
	return CKS_OK;
}

void cks_merge_result_release(cks_merge_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nconflicts; i++) {
		cks_merge_conflict *c = &r->conflicts[i];
		free(c->path);
		json_decref(c->base);
		json_decref(c->local);
		json_decref(c->remote);
		json_decref(c->chosen);
		free(c->reason);
	}
	free(r->conflicts);
	json_decref(r->merged);
	*r = (cks_merge_result)CKS_MERGE_RESULT_INIT;
}

void cks_merge_id(const char *parent_a, const char *parent_b, cks_uuid_str out)
{
	cks_buf name = CKS_BUF_INIT;
	if (strcmp(parent_a, parent_b) > 0) {
		const char *t = parent_a;
		parent_a = parent_b;
		parent_b = t;
	}
	cks_buf_appendf(&name, "%s,%s", parent_a, parent_b);
	bool ok = cks_uuid_v5(CKS_MERGE_NAMESPACE, name.data, name.len, out);
	(void)ok; /* the namespace is a valid constant */
	cks_buf_release(&name);
}
