/* diff — field-level diff and apply of CKAN dicts. See diff.h.
 *
 * Order of operations (deterministic): top-level keys in byte order; inside
 * a list key (tags, groups, extras, resources) first the removed items in
 * a's order, then changed and added items in b's order (resource fields in
 * byte order), then an order op ["<list>"] when b's order is not the
 * "natural" one apply produces (a's kept items in a's order, added items
 * appended). A list key is diffed item by item only when both values are
 * keyable arrays (objects with a unique string key); otherwise the whole
 * value is replaced, as "remove" then "add" when one side is keyable, so that
 * a "change" on a list key over a keyable array always means a reorder. */
#include "diff.h"
#include "pkg.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *field;
	const char *key;
} list_keys[] = {
    {"tags", "name"},
    {"groups", "name"},
    {"extras", "key"},
    {"resources", "id"},
};

const char *cks_diff_list_key(const char *field)
{
	for (size_t i = 0; i < sizeof(list_keys) / sizeof(list_keys[0]); i++)
		if (strcmp(field, list_keys[i].field) == 0)
			return list_keys[i].key;
	return NULL;
}

const char *cks_diff_item_key(const json_t *item, const char *keyfield)
{
	return json_string_value(json_object_get(item, keyfield));
}

ssize_t cks_diff_item_find(const json_t *arr, const char *keyfield, const char *key)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *k = cks_diff_item_key(json_array_get(arr, i), keyfield);
		if (k && strcmp(k, key) == 0)
			return (ssize_t)i;
	}
	return -1;
}

bool cks_diff_keyable(const json_t *arr, const char *keyfield)
{
	if (!json_is_array(arr))
		return false;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *k = cks_diff_item_key(json_array_get(arr, i), keyfield);
		if (!k)
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(k, cks_diff_item_key(json_array_get(arr, j), keyfield)) == 0)
				return false;
	}
	return true;
}

json_t *cks_diff_key_order(const json_t *arr, const char *keyfield)
{
	json_t *order = json_array(); /* caller owns */
	for (size_t i = 0; i < json_array_size(arr); i++)
		json_array_append_new(
		    order, json_string(cks_diff_item_key(json_array_get(arr, i), keyfield)));
	return order;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **cks_diff_union_keys(const json_t *a, const json_t *b, const json_t *c, size_t *n)
{
	const json_t *objs[3] = {a, b, c};
	size_t cap = json_object_size(a) + json_object_size(b) + json_object_size(c) + 1;
	const char **keys = cks_malloc(cap * sizeof(*keys)); /* caller frees; keys borrowed */
	size_t len = 0;
	for (int o = 0; o < 3; o++) {
		const char *key;
		json_t *v;
		if (!json_is_object(objs[o]))
			continue;
		json_object_foreach((json_t *)objs[o], key, v)
		{
			bool seen = false;
			for (int p = 0; p < o && !seen; p++)
				seen = json_is_object(objs[p]) && json_object_get(objs[p], key);
			if (!seen)
				keys[len++] = key;
		}
	}
	qsort(keys, len, sizeof(*keys), cmp_str);
	*n = len;
	return keys;
}

/* ---- building ops ------------------------------------------------------ */

static void push_op(json_t *diff, const char *op, json_t *path, const json_t *old,
                    const json_t *new)
{
	json_t *o = json_object();
	json_object_set_new(o, "op", json_string(op));
	json_object_set_new(o, "path", path); /* takes ownership */
	if (old)
		json_object_set(o, "old", (json_t *)old);
	if (new)
		json_object_set(o, "new", (json_t *)new);
	json_array_append_new(diff, o);
}

static json_t *path1(const char *a)
{
	return json_pack("[s]", a);
}

static json_t *path2(const char *a, const char *b)
{
	return json_pack("[ss]", a, b);
}

/* add/remove/change of one value slot (NULL = absent). */
static void diff_slot(json_t *diff, json_t *path, const json_t *a, const json_t *b)
{
	if (a && !b)
		push_op(diff, "remove", path, a, NULL);
	else if (!a && b)
		push_op(diff, "add", path, NULL, b);
	else if (a && b && !json_equal((json_t *)a, (json_t *)b))
		push_op(diff, "change", path, a, b);
	else
		json_decref(path);
}

static void diff_resource(json_t *diff, const char *id, const json_t *ra, const json_t *rb)
{
	size_t n;
	const char **keys = cks_diff_union_keys(ra, rb, NULL, &n);
	for (size_t i = 0; i < n; i++)
		diff_slot(diff, json_pack("[sss]", "resources", id, keys[i]),
		          json_object_get(ra, keys[i]), json_object_get(rb, keys[i]));
	free(keys);
}

/* Item-level diff of two keyable arrays, then the order op if needed. */
static void diff_list(json_t *diff, const char *field, const char *keyfield, const json_t *a,
                      const json_t *b)
{
	bool per_field = strcmp(field, "resources") == 0;
	json_t *natural = json_array();
	for (size_t i = 0; i < json_array_size(a); i++) {
		const json_t *ia = json_array_get(a, i);
		const char *k = cks_diff_item_key(ia, keyfield);
		if (cks_diff_item_find(b, keyfield, k) < 0)
			push_op(diff, "remove", path2(field, k), ia, NULL);
		else
			json_array_append_new(natural, json_string(k));
	}
	for (size_t i = 0; i < json_array_size(b); i++) {
		const json_t *ib = json_array_get(b, i);
		const char *k = cks_diff_item_key(ib, keyfield);
		ssize_t j = cks_diff_item_find(a, keyfield, k);
		if (j < 0) {
			push_op(diff, "add", path2(field, k), NULL, ib);
			json_array_append_new(natural, json_string(k));
		} else if (per_field && !json_equal(json_array_get(a, (size_t)j), (json_t *)ib)) {
			diff_resource(diff, k, json_array_get(a, (size_t)j), ib);
		} else if (!per_field) {
			diff_slot(diff, path2(field, k), json_array_get(a, (size_t)j), ib);
		}
	}
	json_t *order = cks_diff_key_order(b, keyfield);
	if (!json_equal(natural, order)) {
		json_t *old = cks_diff_key_order(a, keyfield);
		push_op(diff, "change", path1(field), old, order);
		json_decref(old);
	}
	json_decref(order);
	json_decref(natural);
}

json_t *cks_diff(const json_t *a, const json_t *b)
{
	json_t *diff = json_array(); /* caller owns */
	size_t n;
	const char **keys = cks_diff_union_keys(a, b, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const json_t *va = json_object_get(a, keys[i]);
		const json_t *vb = json_object_get(b, keys[i]);
		const char *keyfield = cks_diff_list_key(keys[i]);
		bool ka = keyfield && cks_diff_keyable(va, keyfield);
		bool kb = keyfield && cks_diff_keyable(vb, keyfield);
		if (va && vb && json_equal((json_t *)va, (json_t *)vb))
			continue;
		if (ka && kb) {
			diff_list(diff, keys[i], keyfield, va, vb);
		} else if (va && vb && (ka || kb) && !json_equal((json_t *)va, (json_t *)vb)) {
			push_op(diff, "remove", path1(keys[i]), va, NULL);
			push_op(diff, "add", path1(keys[i]), NULL, vb);
		} else {
			diff_slot(diff, path1(keys[i]), va, vb);
		}
	}
	free(keys);
	return diff;
}

/* ---- apply ------------------------------------------------------------- */

/* Applies add/remove/change to the slot `key` of object obj. */
static cks_err apply_slot(json_t *obj, const char *key, const char *op, const json_t *old,
                          const json_t *new, const char *where, char *errstr, size_t errstr_size)
{
	json_t *cur = json_object_get(obj, key);
	if (strcmp(op, "add") == 0) {
		if (cur || !new)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "diff: cannot add %s: already present or no value",
			                  where);
		json_object_set(obj, key, (json_t *)new);
		return CKS_OK;
	}
	if (!cur || !old || !json_equal(cur, (json_t *)old))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "diff: cannot %s %s: current value differs from \"old\"", op,
		                  where);
	if (strcmp(op, "remove") == 0)
		json_object_del(obj, key);
	else if (strcmp(op, "change") == 0 && new)
		json_object_set(obj, key, (json_t *)new);
	else
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "diff: bad op '%s' at %s",
		                  op, where);
	return CKS_OK;
}

/* Reorders the keyable array cur (in place) to the key order `order`. */
static cks_err apply_order(json_t *cur, const char *keyfield, const json_t *order,
                           const char *field, char *errstr, size_t errstr_size)
{
	if (!json_is_array(order) || json_array_size(order) != json_array_size(cur))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "diff: order of %s does not fit", field);
	json_t *sorted = json_array();
	for (size_t i = 0; i < json_array_size(order); i++) {
		const char *k = json_string_value(json_array_get(order, i));
		ssize_t j = k ? cks_diff_item_find(cur, keyfield, k) : -1;
		if (j < 0) {
			json_decref(sorted);
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "diff: order of %s names unknown item '%s'", field,
			                  k ? k : "?");
		}
		json_array_append(sorted, json_array_get(cur, (size_t)j));
	}
	json_array_clear(cur);
	json_array_extend(cur, sorted);
	json_decref(sorted);
	return CKS_OK;
}

/* An op on ["<list>", "<key>"] or ["resources", "<id>", "<field>"]. */
static cks_err apply_item(json_t *arr, const char *field, const char *keyfield, const char *key,
                          const char *sub, const char *op, const json_t *old, const json_t *new,
                          char *errstr, size_t errstr_size)
{
	char where[200];
	snprintf(where, sizeof(where), "%s.%s%s%s", field, key, sub ? "." : "", sub ? sub : "");
	if (!cks_diff_keyable(arr, keyfield))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "diff: %s is not a list of items with a %s", field, keyfield);
	ssize_t j = cks_diff_item_find(arr, keyfield, key);
	if (sub) {
		if (j < 0)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "diff: no item %s.%s", field, key);
		return apply_slot(json_array_get(arr, (size_t)j), sub, op, old, new, where, errstr,
		                  errstr_size);
	}
	if (strcmp(op, "add") == 0) {
		if (j >= 0 || !json_is_object(new) ||
		    strcmp(key, cks_diff_item_key(new, keyfield) ? cks_diff_item_key(new, keyfield)
		                                                 : "") != 0)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "diff: cannot add %s", where);
		json_array_append(arr, (json_t *)new);
		return CKS_OK;
	}
	if (j < 0 || !old || !json_equal(json_array_get(arr, (size_t)j), (json_t *)old))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "diff: cannot %s %s: current value differs from \"old\"", op,
		                  where);
	if (strcmp(op, "remove") == 0)
		json_array_remove(arr, (size_t)j);
	else if (strcmp(op, "change") == 0 && json_is_object(new))
		json_array_set(arr, (size_t)j, (json_t *)new);
	else
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "diff: bad op '%s' at %s",
		                  op, where);
	return CKS_OK;
}

static cks_err apply_op(json_t *obj, const json_t *op, char *errstr, size_t errstr_size)
{
	const char *kind = json_string_value(json_object_get(op, "op"));
	const json_t *path = json_object_get(op, "path");
	const json_t *old = json_object_get(op, "old");
	const json_t *new = json_object_get(op, "new");
	size_t len = json_array_size(path);
	const char *p[3] = {NULL, NULL, NULL};
	for (size_t i = 0; i < len && i < 3; i++)
		p[i] = json_string_value(json_array_get(path, i));
	if (!kind || len < 1 || len > 3 || !p[0] || (len > 1 && !p[1]) || (len > 2 && !p[2]))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "diff: malformed operation");
	const char *keyfield = cks_diff_list_key(p[0]);
	json_t *cur = json_object_get(obj, p[0]);
	if (len == 1) {
		if (keyfield && strcmp(kind, "change") == 0 && cks_diff_keyable(cur, keyfield))
			return apply_order(cur, keyfield, new, p[0], errstr, errstr_size);
		return apply_slot(obj, p[0], kind, old, new, p[0], errstr, errstr_size);
	}
	if (!keyfield || (len == 3 && strcmp(p[0], "resources") != 0))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "diff: path too deep for %s", p[0]);
	return apply_item(cur, p[0], keyfield, p[1], p[2], kind, old, new, errstr, errstr_size);
}

cks_err cks_diff_apply(const json_t *a, const json_t *diff, json_t **out, char *errstr,
                       size_t errstr_size)
{
	cks_err err = CKS_OK;
	json_t *res = a ? json_deep_copy(a) : json_object();
	*out = NULL;
	if (!json_is_object(res) || !json_is_array(diff)) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "diff: needs an object and an array of operations");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(diff); i++)
		if ((err = apply_op(res, json_array_get(diff, i), errstr, errstr_size)))
			goto out;
	*out = res; /* caller owns */
	res = NULL;
out:
	json_decref(res);
	return err;
}

/* ---- human-readable ---------------------------------------------------- */

static void format_value(cks_buf *b, const json_t *v)
{
	char *s = cks_json_canonical(v);
	size_t n = strlen(s);
	if (n > 120)
		cks_buf_appendf(b, "%.117s...", s);
	else
		cks_buf_append(b, s, n);
	free(s);
}

char *cks_diff_format(const json_t *diff)
{
	cks_buf b = CKS_BUF_INIT;
	cks_buf_append(&b, "", 0);
	for (size_t i = 0; i < json_array_size(diff); i++) {
		const json_t *op = json_array_get(diff, i);
		const char *kind = json_string_value(json_object_get(op, "op"));
		const json_t *path = json_object_get(op, "path");
		char sign = kind && strcmp(kind, "add") == 0      ? '+'
		            : kind && strcmp(kind, "remove") == 0 ? '-'
		                                                  : '~';
		cks_buf_appendf(&b, "%c ", sign);
		for (size_t j = 0; j < json_array_size(path); j++)
			cks_buf_appendf(&b, "%s%s",
			                j == 1 ? ": "
			                : j    ? "."
			                       : "",
			                json_string_value(json_array_get(path, j)));
		if (sign == '~') {
			cks_buf_append(&b, ": ", 2);
			format_value(&b, json_object_get(op, "old"));
			cks_buf_append(&b, " -> ", 4);
			format_value(&b, json_object_get(op, "new"));
		} else if (json_array_size(path) == 1) {
			cks_buf_append(&b, ": ", 2);
			format_value(&b, json_object_get(op, sign == '+' ? "new" : "old"));
		}
		cks_buf_append(&b, "\n", 1);
	}
	return b.data; /* caller frees */
}
