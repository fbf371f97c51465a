/* pkgdata — test/bench helpers for diff and merge: load the real CKAN
 * package dicts (../shared/data/depositar-datasets.jsonl.gz) and make seeded
 * random edits of one (title, notes, tags, groups, extras, resources, unknown
 * keys). Header-only (static functions) so bench/ can use it without the
 * cmocka harness. Values come from small pools, so two independent edits of
 * the same dict often touch the same field, to the same or another value. */
#ifndef CKS_PKGDATA_H
#define CKS_PKGDATA_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads up to max dicts (0 = all) from a gzip JSON-lines file. Returns a
 * JSON array (caller owns) or NULL if the file cannot be read. */
static inline json_t *pd_load(const char *path, size_t max)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0 && (max == 0 || json_array_size(all) < max)) {
		json_t *d = json_loads(line, 0, NULL);
		if (json_is_object(d))
			json_array_append_new(all, d);
		else
			json_decref(d);
	}
	free(line);
	if (pclose(f) != 0 && json_array_size(all) == 0) {
		json_decref(all);
		return NULL;
	}
	return all;
}

/* In a cmocka test (harness.h): loads up to max real datasets into var, or
 * skips the test, saying why, when ../shared/data is absent. */
#define PD_LOAD_OR_SKIP(var, max)                                                                  \
	do {                                                                                       \
		const char *pd_path_ = h_data_path("depositar-datasets.jsonl.gz");                 \
		(var) = pd_path_ ? pd_load(pd_path_, (max)) : NULL;                                \
		if (!(var)) {                                                                      \
			print_message("skip: ../shared/data/depositar-datasets.jsonl.gz "          \
			              "not found\n");                                              \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* splitmix64: small, seedable, the same on every platform. */
static inline uint64_t pd_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline size_t pd_pick(uint64_t *s, size_t n)
{
	return n ? (size_t)(pd_rand(s) % n) : 0;
}

static inline const char *pd_pool(uint64_t *s, const char *const *pool, size_t n)
{
	return pool[pd_pick(s, n)];
}
#define PD_POOL(s, arr) pd_pool(s, arr, sizeof(arr) / sizeof(arr[0]))

static const char *const pd_titles[] = {"Title A", "Title B", "標題 C"};
static const char *const pd_tags[] = {"water", "soil", "ecology", "地圖", "river", "survey"};
static const char *const pd_groups[] = {"env", "geo", "bio"};
static const char *const pd_extra_keys[] = {"spatial_note", "source", "frequency", "quality"};
static const char *const pd_values[] = {"one", "two", "三", ""};
static const char *const pd_unknown[] = {"x_custom", "spatial", "remarks", "x_nested"};
static const char *const pd_res_fields[] = {"name", "url", "format", "description", "x_note"};
static const char *const pd_res_ids[] = {"00000000-0000-4000-8000-000000000001",
                                         "00000000-0000-4000-8000-000000000002"};

/* A keyed array field, created empty if absent or not an array. */
static inline json_t *pd_list(json_t *d, const char *field)
{
	json_t *a = json_object_get(d, field);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(d, field, a);
	}
	return a;
}

static inline long pd_find(json_t *a, const char *keyfield, const char *key)
{
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *k = json_string_value(json_object_get(json_array_get(a, i), keyfield));
		if (k && strcmp(k, key) == 0)
			return (long)i;
	}
	return -1;
}

/* Toggles a pooled item: removes it if present, else adds it. */
static inline void pd_toggle(json_t *a, const char *keyfield, const char *key, json_t *item)
{
	long i = pd_find(a, keyfield, key);
	if (i >= 0) {
		json_array_remove(a, (size_t)i);
		json_decref(item);
	} else {
		json_array_append_new(a, item);
	}
}

static inline void pd_edit_resource(json_t *d, uint64_t *s)
{
	json_t *res = pd_list(d, "resources");
	size_t n = json_array_size(res);
	switch (pd_pick(s, 5)) {
	case 0: /* add or remove a pooled resource */
	{
		const char *id = PD_POOL(s, pd_res_ids);
		pd_toggle(res, "id", id,
		          json_pack("{s:s,s:s,s:s}", "id", id, "name", PD_POOL(s, pd_values), "url",
		                    "https://example.org/r"));
		break;
	}
	case 1: /* remove an existing one */
		if (n)
			json_array_remove(res, pd_pick(s, n));
		break;
	case 2: /* swap two */
		if (n >= 2) {
			size_t i = pd_pick(s, n), j = pd_pick(s, n);
			json_t *x = json_incref(json_array_get(res, i));
			json_array_set(res, i, json_array_get(res, j));
			json_array_set_new(res, j, x);
		}
		break;
	case 3: /* remove a field */
		if (n)
			json_object_del(json_array_get(res, pd_pick(s, n)),
			                PD_POOL(s, pd_res_fields));
		break;
	default: /* set a field */
		if (n)
			json_object_set_new(json_array_get(res, pd_pick(s, n)),
			                    PD_POOL(s, pd_res_fields),
			                    json_string(PD_POOL(s, pd_values)));
		break;
	}
}

/* One random edit of d (in place). */
static inline void pd_edit(json_t *d, uint64_t *s)
{
	switch (pd_pick(s, 9)) {
	case 0:
		json_object_set_new(d, "title", json_string(PD_POOL(s, pd_titles)));
		break;
	case 1:
		json_object_set_new(
		    d, "notes", pd_pick(s, 4) ? json_string(PD_POOL(s, pd_values)) : json_null());
		break;
	case 2: {
		const char *t = PD_POOL(s, pd_tags);
		pd_toggle(pd_list(d, "tags"), "name", t,
		          json_pack("{s:s,s:s}", "name", t, "state", "active"));
		break;
	}
	case 3: {
		const char *g = PD_POOL(s, pd_groups);
		pd_toggle(pd_list(d, "groups"), "name", g,
		          json_pack("{s:s,s:s}", "name", g, "title", g));
		break;
	}
	case 4: {
		json_t *ex = pd_list(d, "extras");
		const char *k = PD_POOL(s, pd_extra_keys);
		long i = pd_find(ex, "key", k);
		if (i >= 0 && pd_pick(s, 2))
			json_array_remove(ex, (size_t)i);
		else if (i >= 0)
			json_object_set_new(json_array_get(ex, (size_t)i), "value",
			                    json_string(PD_POOL(s, pd_values)));
		else
			json_array_append_new(
			    ex, json_pack("{s:s,s:s}", "key", k, "value", PD_POOL(s, pd_values)));
		break;
	}
	case 5: {
		const char *k = PD_POOL(s, pd_unknown);
		switch (pd_pick(s, 4)) {
		case 0:
			json_object_del(d, k);
			break;
		case 1:
			json_object_set_new(d, k, json_null());
			break;
		case 2:
			json_object_set_new(
			    d, k, json_pack("{s:[i,f],s:b}", "a", (int)pd_pick(s, 3), 0.5, "b", 1));
			break;
		default:
			json_object_set_new(d, k, json_string(PD_POOL(s, pd_values)));
		}
		break;
	}
	default:
		pd_edit_resource(d, s);
	}
}

/* Deep copy of d with 0..max_edits random edits. Caller owns. */
static inline json_t *pd_mutate(const json_t *d, uint64_t *s, size_t max_edits)
{
	json_t *m = json_deep_copy(d);
	size_t n = pd_pick(s, max_edits + 1);
	for (size_t i = 0; i < n; i++)
		pd_edit(m, s);
	return m;
}

#endif
