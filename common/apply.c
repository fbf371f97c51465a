/* apply — see apply.h. */
#include "apply.h"
#include "diff.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *outcome_names[] = {
	"fast-forward", "created", "merged", "missing-base", "purged",
	"history", "skipped-duplicate", "skipped-purged-here", "skipped-purged",
};

const char *const cks_conflict_kinds[CKS_CONFLICT_NKINDS] = {
	"field", "delete-modify", "missing-base", "name-clash", "purged-here",
};

const char *cks_apply_outcome_name(cks_apply_outcome o)
{
	return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ? outcome_names[o]
									      : "?";
}

static char *json_text(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
}

static const char *dict_name(const json_t *state)
{
	const char *s = state ? json_string_value(json_object_get(state, "name")) : NULL;
	return s ? s : "";
}

/* Fills the fields every conflict shares. */
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
	c->remote_origin = cks_strdup(m->origin);
	c->field_path = cks_strdup(path);
	cks_policy_format(policy, pol, sizeof(pol));
	c->resolution = cks_strdup(pol);
}

static cks_err add_conflict(cks_store *st, cks_conflict *c, cks_apply_result *out, char *errstr,
			    size_t errstr_size)
{
	cks_err err = cks_store_conflict_add(st, c, errstr, errstr_size);
	if (!err) {
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

/* If another object owns the state's name here, renames the package to
 * "<name>-<first 8 hex of its id>" (deterministic) and records a conflict.
 * *state may be replaced by a renamed copy (caller owns the new one). */
static cks_err resolve_name_clash(cks_store *st, const cks_revmsg *m, json_t **state,
				  const cks_policy *policy, cks_apply_result *out, char *errstr,
				  size_t errstr_size)
{
	cks_uuid_str owner;
	const char *name = dict_name(*state);
	if (!*name)
		return CKS_OK;
	cks_err err = cks_store_name_owner(st, m->object_type, name, owner, errstr, errstr_size);
	if (err || !*owner || strcmp(owner, m->object_id) == 0)
		return err;
	char renamed[128];
	snprintf(renamed, sizeof(renamed), "%.91s-%.8s", name, m->object_id);
	json_t *copy = json_deep_copy(*state);
	json_object_set_new(copy, "name", json_string(renamed));
	cks_conflict c;
	conflict_base(&c, st, m, "name-clash", "name", policy);
	json_t *lv = json_pack("{s:s, s:s}", "name", name, "id", owner);
	c.local_value = json_text(lv);
	json_decref(lv);
	json_t *rv = json_string(name), *cv = json_string(renamed);
	c.remote_value = json_text(rv);
	c.chosen_value = json_text(cv);
	json_decref(rv);
	json_decref(cv);
	free(c.resolution);
	c.resolution = cks_strdup("renamed");
	*state = copy;
	return add_conflict(st, &c, out, errstr, errstr_size);
}

/* Writes m (possibly with a disambiguated name) as the new head. */
static cks_err write_head(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
			  cks_apply_result *out, char *errstr, size_t errstr_size)
{
	json_t *state = m->state;
	cks_err err = resolve_name_clash(st, m, &state, policy, out, errstr, errstr_size);
	if (!err) {
		cks_revmsg w = *m;
		w.state = state;
		err = cks_store_write_objrev(st, &w, CKS_WRITE_SET_HEAD, errstr, errstr_size);
	}
	if (state != m->state)
		json_decref(state);
	return err;
}

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
	for (size_t i = 0; i < m->nparents; i++)
		if (strcmp(m->parents[i], m->objrev_id) == 0)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
					  "object revision %s is its own parent", m->objrev_id);
	return CKS_OK;
}

/* Builds the merge revision of heads `local` and incoming m. */
static void merge_revmsg(const cks_head *local, const cks_revmsg *m, const cks_policy *policy,
			 const cks_merge_result *mr, cks_revmsg *out)
{
	char pol[256], msg[512];
	bool local_first = strcmp(local->objrev_id, m->objrev_id) < 0;
	bool local_newer = local->timestamp_us > m->timestamp_us ||
			   (local->timestamp_us == m->timestamp_us && strcmp(local->origin, m->origin) > 0);
	*out = (cks_revmsg)CKS_REVMSG_INIT;
	snprintf(out->objrev_id, sizeof(out->objrev_id), "%s", mr->merge_id);
	cks_uuid_v5(mr->merge_id, "revision", 8, out->revision_id);
	out->origin = cks_strdup(local_newer ? local->origin : m->origin);
	out->timestamp_us = local_newer ? local->timestamp_us : m->timestamp_us;
	cks_policy_format(policy, pol, sizeof(pol));
	snprintf(msg, sizeof(msg), "Merge of %s and %s (%s)",
		 local_first ? local->objrev_id : m->objrev_id,
		 local_first ? m->objrev_id : local->objrev_id, pol);
	out->author = cks_strdup(CKS_MERGE_AUTHOR);
	out->message = cks_strdup(msg);
	out->kind = CKS_REV_MERGE;
	out->object_type = m->object_type;
	snprintf(out->object_id, sizeof(out->object_id), "%s", m->object_id);
	out->nparents = 2;
	snprintf(out->parents[0], sizeof(out->parents[0]), "%s",
		 local_first ? local->objrev_id : m->objrev_id);
	snprintf(out->parents[1], sizeof(out->parents[1]), "%s",
		 local_first ? m->objrev_id : local->objrev_id);
	out->state = json_incref(mr->merged);
	out->diff = cks_diff(local_first ? local->state : m->state, mr->merged);
}

static cks_err record_merge_conflicts(cks_store *st, const cks_revmsg *m, const cks_head *local,
				      const char *base, const cks_merge_result *mr,
				      const cks_policy *policy, cks_apply_result *out,
				      char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	for (size_t i = 0; i < mr->nconflicts && !err; i++) {
		const cks_merge_conflict *mc = &mr->conflicts[i];
		cks_conflict c;
		conflict_base(&c, st, m, strcmp(mc->reason, "delete-modify") == 0 ? "delete-modify"
										   : "field",
			      mc->path, policy);
		snprintf(c.base_objrev, sizeof(c.base_objrev), "%s", base);
		snprintf(c.local_objrev, sizeof(c.local_objrev), "%s", local->objrev_id);
		snprintf(c.merge_revision, sizeof(c.merge_revision), "%s", out->merge_revision);
		c.local_value = json_text(mc->local);
		c.remote_value = json_text(mc->remote);
		c.chosen_value = json_text(mc->chosen);
		err = add_conflict(st, &c, out, errstr, errstr_size);
	}
	return err;
}

/* Rule 5: incoming m diverges from the local head. */
static cks_err diverge(cks_store *st, const cks_revmsg *m, cks_head *head, const cks_policy *policy,
		       cks_apply_result *out, char *errstr, size_t errstr_size)
{
	cks_uuid_str base = "";
	json_t *base_state = NULL;
	cks_merge_result mr = CKS_MERGE_RESULT_INIT;
	cks_revmsg merged = CKS_REVMSG_INIT;
	cks_err err;
	/* Already part of the head's history (a merge that named it arrived first)? */
	if ((err = cks_store_common_ancestor(st, head->objrev_id, m->objrev_id, base, errstr,
					     errstr_size)))
		goto out;
	if (strcmp(base, m->objrev_id) == 0) {
		err = cks_store_write_objrev(st, m, CKS_WRITE_HISTORY_ONLY, errstr, errstr_size);
		out->outcome = CKS_APPLIED_HISTORY;
		goto out;
	}
	for (size_t i = 0; i < m->nparents && !*base; i++)
		if ((err = cks_store_common_ancestor(st, head->objrev_id, m->parents[i], base, errstr,
						     errstr_size)))
			goto out;
	if (*base && strcmp(base, head->objrev_id) == 0) {
		/* The head is an ancestor of the incoming revision: fast-forward. */
		err = write_head(st, m, policy, out, errstr, errstr_size);
		out->outcome = CKS_APPLIED_FAST_FORWARD;
		goto out;
	}
	if ((err = cks_store_write_objrev(st, m, CKS_WRITE_HISTORY_ONLY, errstr, errstr_size)))
		goto out;
	if (*base && (err = cks_store_objrev_state(st, base, &base_state, errstr, errstr_size)))
		goto out;
	cks_merge_side local = {head->state, head->origin, head->timestamp_us, head->objrev_id};
	cks_merge_side remote = {m->state, m->origin, m->timestamp_us, m->objrev_id};
	if ((err = cks_merge(base_state, &local, &remote, policy, &mr, errstr, errstr_size)))
		goto out;
	merge_revmsg(head, m, policy, &mr, &merged);
	snprintf(out->merge_revision, sizeof(out->merge_revision), "%s", merged.revision_id);
	if ((err = write_head(st, &merged, policy, out, errstr, errstr_size)))
		goto out;
	if (!*base) {
		cks_conflict c;
		conflict_base(&c, st, m, "missing-base", "", policy);
		snprintf(c.local_objrev, sizeof(c.local_objrev), "%s", head->objrev_id);
		snprintf(c.merge_revision, sizeof(c.merge_revision), "%s", merged.revision_id);
		if ((err = add_conflict(st, &c, out, errstr, errstr_size)))
			goto out;
	}
	err = record_merge_conflicts(st, m, head, base, &mr, policy, out, errstr, errstr_size);
	out->outcome = CKS_APPLIED_MERGED;
out:
	json_decref(base_state);
	cks_merge_result_release(&mr);
	cks_revmsg_release(&merged);
	return err;
}

static cks_err apply_purge(cks_store *st, const cks_revmsg *m, bool purged,
			   cks_apply_result *out, char *errstr, size_t errstr_size)
{
	if (purged) {
		out->outcome = CKS_SKIPPED_DUPLICATE;
		return CKS_OK;
	}
	out->outcome = CKS_APPLIED_PURGED;
	return cks_store_apply_purge(st, m, errstr, errstr_size);
}

cks_err cks_apply_revision(cks_store *st, const cks_revmsg *m, const cks_policy *policy,
			   cks_apply_result *out, char *errstr, size_t errstr_size)
{
	cks_head head;
	bool exists = false, purged = false;
	char by[64] = "";
	cks_err err;
	memset(out, 0, sizeof(*out));
	memset(&head, 0, sizeof(head));
	if ((err = check_shape(m, errstr, errstr_size)))
		return err;
	/* 1. already applied (replays, chains, 2-way loops) */
	if (m->kind != CKS_REV_PURGE &&
	    (err = cks_store_objrev_exists(st, m->objrev_id, &exists, errstr, errstr_size)))
		return err;
	if (exists) {
		out->outcome = CKS_SKIPPED_DUPLICATE;
		return CKS_OK;
	}
	/* 2./3. purges */
	if ((err = cks_store_tombstone_get(st, m->object_id, &purged, by, errstr, errstr_size)))
		return err;
	if (m->kind == CKS_REV_PURGE)
		return apply_purge(st, m, purged, out, errstr, errstr_size);
	if (purged) {
		if (strcmp(by, cks_store_instance(st)) != 0) {
			out->outcome = CKS_SKIPPED_PURGED;
			return CKS_OK;
		}
		cks_conflict c;
		conflict_base(&c, st, m, "purged-here", "", policy);
		free(c.resolution);
		c.resolution = cks_strdup("kept-purged");
		out->outcome = CKS_SKIPPED_PURGED_HERE;
		return add_conflict(st, &c, out, errstr, errstr_size);
	}
	/* 4. fast-forward / create / missing base */
	err = cks_store_head_lock(st, m->object_id, &head, true, errstr, errstr_size);
	if (err == CKS_ERR_NOTFOUND) {
		if ((err = write_head(st, m, policy, out, errstr, errstr_size)))
			return err;
		if (m->nparents == 0) {
			out->outcome = CKS_APPLIED_CREATED;
			return CKS_OK;
		}
		cks_conflict c;
		conflict_base(&c, st, m, "missing-base", "", policy);
		free(c.resolution);
		c.resolution = cks_strdup("applied-full-state");
		out->outcome = CKS_APPLIED_MISSING_BASE;
		return add_conflict(st, &c, out, errstr, errstr_size);
	}
	if (err)
		return err;
	/* Another consumer may have applied m while we waited for the lock. */
	if ((err = cks_store_objrev_exists(st, m->objrev_id, &exists, errstr, errstr_size)) ||
	    exists) {
		if (!err)
			out->outcome = CKS_SKIPPED_DUPLICATE;
		json_decref(head.state);
		return err;
	}
	bool ff = false;
	for (size_t i = 0; i < m->nparents; i++)
		ff = ff || strcmp(m->parents[i], head.objrev_id) == 0;
	if (ff) {
		err = write_head(st, m, policy, out, errstr, errstr_size);
		out->outcome = CKS_APPLIED_FAST_FORWARD;
	} else {
		/* 5. divergent heads */
		err = diverge(st, m, &head, policy, out, errstr, errstr_size);
	}
	json_decref(head.state);
	return err;
}
