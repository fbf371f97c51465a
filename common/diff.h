/* diff — field-level difference of two CKAN dicts (the seed's Diff object).
 * A diff is a JSON array of operations, in a deterministic order:
 *   {"op":"add"|"remove"|"change", "path":[...], "old":v, "new":v}
 * paths: ["title"] (any top-level key, unknown ones too), ["tags","<name>"],
 * ["groups","<name>"], ["extras","<key>"], ["resources","<id>"] (whole
 * resource added/removed), ["resources","<id>","<field>"] (a field of one),
 * ["resources"] with op "change" and old/new = id order when only the order
 * changed. "old" is absent for add, "new" absent for remove.
 * No I/O. */
#ifndef CKS_DIFF_H
#define CKS_DIFF_H

#include <sys/types.h>
#include "model.h"

/* Diff a → b. a NULL means "nothing" (every field added). Caller owns. */
json_t *cks_diff(const json_t *a, const json_t *b);
/* Applies a diff made by cks_diff(a, b) to a; *out = b. PERMANENT if the
 * diff does not fit a. Caller owns *out. */
cks_err cks_diff_apply(const json_t *a, const json_t *diff, json_t **out, char *errstr,
                       size_t errstr_size) CKS_WUR;
/* Human-readable lines ("~ title: \"a\" -> \"b\"", "+ tags: x"). Caller frees. */
char *cks_diff_format(const json_t *diff);

/* Helpers shared with merge.c (item-keyed lists). */
/* Item key field of a list field ("tags" -> "name", "extras" -> "key",
 * "resources" -> "id", "groups" -> "name"), or NULL for other fields. */
const char *cks_diff_list_key(const char *field);
/* True iff arr is an array of objects each with a unique string keyfield. */
bool cks_diff_keyable(const json_t *arr, const char *keyfield);
/* Item's key (borrowed from item) or NULL. */
const char *cks_diff_item_key(const json_t *item, const char *keyfield);
/* Index of the item with that key in arr, or -1. */
ssize_t cks_diff_item_find(const json_t *arr, const char *keyfield, const char *key);
/* Array of the items' keys, in order. Caller owns. */
json_t *cks_diff_key_order(const json_t *arr, const char *keyfield);
/* Sorted union of the keys of up to three objects (NULL or non-objects
 * skipped). Caller frees the array; the strings are borrowed from the objects. */
const char **cks_diff_union_keys(const json_t *a, const json_t *b, const json_t *c, size_t *n);

#endif
