/* Unit tests for common/diff: one table case per field kind, apply(diff)
 * identity on every real dataset against seeded random edits of itself,
 * misfitting diffs refused, the human-readable format. */
#include "harness.h"
#include "diff.h"
#include "pkg.h"
#include "pkgdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, e.text);
	return v;
}

/* diff(a, b) must equal `expected` (canonical bytes) and apply back to b. */
static void check_roundtrip(const json_t *a, const json_t *b)
{
	char err[256] = "";
	json_t *d = cks_diff(a, b);
	json_t *out = NULL;
	if (cks_diff_apply(a, d, &out, err, sizeof(err)) != CKS_OK)
		fail_msg("apply failed: %s", err);
	if (!json_equal(out, (json_t *)b)) {
		char *x = cks_json_canonical(out), *y = cks_json_canonical(b);
		fail_msg("apply(a, diff(a,b)) != b\n got  %.400s\n want %.400s", x, y);
	}
	json_decref(out);
	json_decref(d);
}

static void test_diff_table(void **state)
{
	struct {
		const char *name, *a, *b, *diff;
	} cases[] = {
	    {"scalar change", "{\"name\":\"p\",\"title\":\"A\"}",
	     "{\"name\":\"p\",\"title\":\"B\"}",
	     "[{\"new\":\"B\",\"old\":\"A\",\"op\":\"change\",\"path\":[\"title\"]}]"},
	    {"no change", "{\"name\":\"p\",\"tags\":[{\"name\":\"x\"}]}",
	     "{\"tags\":[{\"name\":\"x\"}],\"name\":\"p\"}", "[]"},
	    {"unknown key add", "{\"name\":\"p\"}", "{\"name\":\"p\",\"x_min\":\"120.5\"}",
	     "[{\"new\":\"120.5\",\"op\":\"add\",\"path\":[\"x_min\"]}]"},
	    {"unknown key remove", "{\"name\":\"p\",\"spatial\":null}", "{\"name\":\"p\"}",
	     "[{\"old\":null,\"op\":\"remove\",\"path\":[\"spatial\"]}]"},
	    {"nested unknown change", "{\"k\":{\"a\":[1,2]}}", "{\"k\":{\"a\":[1,2.5]}}",
	     "[{\"new\":{\"a\":[1,2.5]},\"old\":{\"a\":[1,2]},\"op\":\"change\",\"path\":[\"k\"]}"
	     "]"},
	    {"null to value", "{\"notes\":null}", "{\"notes\":\"n\"}",
	     "[{\"new\":\"n\",\"old\":null,\"op\":\"change\",\"path\":[\"notes\"]}]"},
	    {"keys in byte order", "{\"b\":1,\"a\":1}", "{\"b\":2,\"a\":2}",
	     "[{\"new\":2,\"old\":1,\"op\":\"change\",\"path\":[\"a\"]},"
	     "{\"new\":2,\"old\":1,\"op\":\"change\",\"path\":[\"b\"]}]"},
	    {"tags add and remove", "{\"tags\":[{\"name\":\"a\"},{\"name\":\"b\"}]}",
	     "{\"tags\":[{\"name\":\"b\"},{\"name\":\"c\"}]}",
	     "[{\"old\":{\"name\":\"a\"},\"op\":\"remove\",\"path\":[\"tags\",\"a\"]},"
	     "{\"new\":{\"name\":\"c\"},\"op\":\"add\",\"path\":[\"tags\",\"c\"]}]"},
	    {"tag changed", "{\"tags\":[{\"name\":\"a\",\"state\":\"active\"}]}",
	     "{\"tags\":[{\"name\":\"a\",\"state\":\"deleted\"}]}",
	     "[{\"new\":{\"name\":\"a\",\"state\":\"deleted\"},\"old\":{\"name\":\"a\",\"state\":"
	     "\"active\"},\"op\":\"change\",\"path\":[\"tags\",\"a\"]}]"},
	    {"groups add", "{\"groups\":[]}", "{\"groups\":[{\"name\":\"g\"}]}",
	     "[{\"new\":{\"name\":\"g\"},\"op\":\"add\",\"path\":[\"groups\",\"g\"]}]"},
	    {"extras per key",
	     "{\"extras\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"b\",\"value\":\"2\"}]}",
	     "{\"extras\":[{\"key\":\"a\",\"value\":\"9\"},{\"key\":\"b\",\"value\":\"2\"},"
	     "{\"key\":\"c\",\"value\":\"3\"}]}",
	     "[{\"new\":{\"key\":\"a\",\"value\":\"9\"},\"old\":{\"key\":\"a\",\"value\":\"1\"},"
	     "\"op\":\"change\",\"path\":[\"extras\",\"a\"]},"
	     "{\"new\":{\"key\":\"c\",\"value\":\"3\"},\"op\":\"add\",\"path\":[\"extras\",\"c\"]}"
	     "]"},
	    {"resource add", "{\"resources\":[{\"id\":\"r1\"}]}",
	     "{\"resources\":[{\"id\":\"r1\"},{\"id\":\"r2\",\"url\":\"u\"}]}",
	     "[{\"new\":{\"id\":\"r2\",\"url\":\"u\"},\"op\":\"add\",\"path\":[\"resources\","
	     "\"r2\"]}]"},
	    {"resource remove", "{\"resources\":[{\"id\":\"r1\"},{\"id\":\"r2\"}]}",
	     "{\"resources\":[{\"id\":\"r2\"}]}",
	     "[{\"old\":{\"id\":\"r1\"},\"op\":\"remove\",\"path\":[\"resources\",\"r1\"]}]"},
	    {"resource fields", "{\"resources\":[{\"id\":\"r1\",\"url\":\"u\",\"size\":1}]}",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"v\",\"format\":\"CSV\"}]}",
	     "[{\"new\":\"CSV\",\"op\":\"add\",\"path\":[\"resources\",\"r1\",\"format\"]},"
	     "{\"old\":1,\"op\":\"remove\",\"path\":[\"resources\",\"r1\",\"size\"]},"
	     "{\"new\":\"v\",\"old\":\"u\",\"op\":\"change\",\"path\":[\"resources\",\"r1\","
	     "\"url\"]}]"},
	    {"resources reordered", "{\"resources\":[{\"id\":\"r1\"},{\"id\":\"r2\"}]}",
	     "{\"resources\":[{\"id\":\"r2\"},{\"id\":\"r1\"}]}",
	     "[{\"new\":[\"r2\",\"r1\"],\"old\":[\"r1\",\"r2\"],\"op\":\"change\",\"path\":["
	     "\"resources\"]}]"},
	    {"resource inserted first", "{\"resources\":[{\"id\":\"r1\"}]}",
	     "{\"resources\":[{\"id\":\"r0\"},{\"id\":\"r1\"}]}",
	     "[{\"new\":{\"id\":\"r0\"},\"op\":\"add\",\"path\":[\"resources\",\"r0\"]},"
	     "{\"new\":[\"r0\",\"r1\"],\"old\":[\"r1\"],\"op\":\"change\",\"path\":[\"resources\"]}"
	     "]"},
	    {"list not keyable: whole value", "{\"tags\":[{\"name\":\"a\"}]}", "{\"tags\":[\"a\"]}",
	     "[{\"old\":[{\"name\":\"a\"}],\"op\":\"remove\",\"path\":[\"tags\"]},"
	     "{\"new\":[\"a\"],\"op\":\"add\",\"path\":[\"tags\"]}]"},
	    {"list not keyable both sides", "{\"tags\":[\"a\"]}", "{\"tags\":[\"b\"]}",
	     "[{\"new\":[\"b\"],\"old\":[\"a\"],\"op\":\"change\",\"path\":[\"tags\"]}]"},
	    {"tags added where absent", "{\"name\":\"p\"}",
	     "{\"name\":\"p\",\"tags\":[{\"name\":\"a\"}]}",
	     "[{\"new\":[{\"name\":\"a\"}],\"op\":\"add\",\"path\":[\"tags\"]}]"},
	    {"from nothing", NULL, "{\"name\":\"p\"}",
	     "[{\"new\":\"p\",\"op\":\"add\",\"path\":[\"name\"]}]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *a = cases[i].a ? J(cases[i].a) : NULL;
		json_t *b = J(cases[i].b);
		json_t *d = cks_diff(a, b);
		char *got = cks_json_canonical(d);
		if (strcmp(got, cases[i].diff) != 0)
			fail_msg("case '%s':\n got  %s\n want %s", cases[i].name, got,
			         cases[i].diff);
		check_roundtrip(a, b);
		free(got);
		json_decref(d);
		json_decref(a);
		json_decref(b);
	}
}

static void test_diff_apply_refuses_misfit(void **state)
{
	struct {
		const char *a, *diff;
	} cases[] = {
	    {"{\"title\":\"X\"}",
	     "[{\"op\":\"change\",\"path\":[\"title\"],\"old\":\"A\",\"new\":\"B\"}]"},
	    {"{\"title\":\"X\"}", "[{\"op\":\"add\",\"path\":[\"title\"],\"new\":\"B\"}]"},
	    {"{}", "[{\"op\":\"remove\",\"path\":[\"title\"],\"old\":\"B\"}]"},
	    {"{\"tags\":[]}",
	     "[{\"op\":\"remove\",\"path\":[\"tags\",\"a\"],\"old\":{\"name\":\"a\"}}]"},
	    {"{\"resources\":[]}",
	     "[{\"op\":\"add\",\"path\":[\"resources\",\"r\",\"url\"],\"new\":\"u\"}]"},
	    {"{\"resources\":[{\"id\":\"r\"}]}",
	     "[{\"op\":\"change\",\"path\":[\"resources\"],\"new\":[\"q\"]}]"},
	    {"{}", "[{\"op\":\"frobnicate\",\"path\":[\"x\"]}]"},
	    {"{}", "[{\"op\":\"add\"}]"},
	    {"{}", "{}"},
	    {"{\"title\":\"A\"}", "[{\"op\":\"add\",\"path\":[\"title\",\"x\"],\"new\":1}]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		json_t *a = J(cases[i].a), *d = J(cases[i].diff), *out = (json_t *)1;
		assert_int_equal(cks_diff_apply(a, d, &out, err, sizeof(err)), CKS_ERR_PERMANENT);
		assert_null(out);
		assert_non_null(strstr(err, "diff"));
		json_decref(a);
		json_decref(d);
	}
}

static void test_diff_format(void **state)
{
	json_t *a = J("{\"title\":\"a\",\"tags\":[{\"name\":\"x\"}]}");
	json_t *b = J("{\"title\":\"b\",\"tags\":[{\"name\":\"y\"}]}");
	json_t *d = cks_diff(a, b);
	char *s = cks_diff_format(d);
	assert_string_equal(s, "- tags: x\n+ tags: y\n~ title: \"a\" -> \"b\"\n");
	free(s);
	json_decref(d);
	json_decref(a);
	json_decref(b);
}

static uint64_t seed_from_env(void)
{
	const char *e = getenv("CKS_SEED");
	uint64_t seed = e ? strtoull(e, NULL, 0) : 20240501;
	print_message("test_diff seed %llu (override with CKS_SEED)\n", (unsigned long long)seed);
	return seed;
}

/* Every real dataset against 3 random edits of itself, both directions, and
 * from nothing; diff(a, a) is empty. */
static void test_diff_real_data(void **state)
{
	json_t *all;
	PD_LOAD_OR_SKIP(all, 0);
	uint64_t s = seed_from_env();
	size_t n = json_array_size(all), ops = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_array_get(all, i);
		json_t *same = cks_diff(a, a);
		assert_int_equal(json_array_size(same), 0);
		json_decref(same);
		check_roundtrip(NULL, a);
		for (int k = 0; k < 3; k++) {
			json_t *b = pd_mutate(a, &s, 6);
			json_t *d = cks_diff(a, b);
			ops += json_array_size(d);
			json_decref(d);
			check_roundtrip(a, b);
			check_roundtrip(b, a);
			json_decref(b);
		}
	}
	print_message("diff: %zu datasets, %zu ops checked\n", n, ops);
	assert_true(n >= 1000);
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff_table),
	    cmocka_unit_test(test_diff_apply_refuses_misfit),
	    cmocka_unit_test(test_diff_format),
	    cmocka_unit_test(test_diff_real_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
