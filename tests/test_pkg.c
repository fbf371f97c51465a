/* Unit tests for common/pkg: validation (good real datasets, a table of bad
 * dicts each refused with a message naming the field), server-managed fields
 * (strip / add round trip), canonical JSON text. */
#include "harness.h"
#include "pkg.h"
#include "pkgdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOOD "\"name\":\"good-name_1\",\"title\":\"T\""

static void test_pkg_validate_table(void **state)
{
	struct {
		const char *json;
		cks_objtype type;
		const char *err; /* NULL: valid; else a substring of the message */
	} cases[] = {
	    {"{" GOOD "}", CKS_OBJ_PACKAGE, NULL},
	    {"{\"name\":\"ab\"}", CKS_OBJ_PACKAGE, NULL},
	    {"{" GOOD ",\"id\":\"6fb6dd5c-5886-4d2b-8d73-c8f2eacfc851\",\"private\":false,"
	     "\"notes\":null,\"x_custom\":{\"any\":[1,2.5,null]},"
	     "\"tags\":[{\"name\":\"地圖\"},{\"name\":\"Open Data v1.0\"},{\"name\":\"貓\"}],"
	     "\"groups\":[{\"name\":\"g\"},{\"id\":\"x\"}],\"extras\":[{\"key\":\"k\",\"value\":"
	     "\"v\"}],"
	     "\"resources\":[{\"id\":\"e9a82645-dcc2-4de8-a83a-f1bad87c40f6\",\"url\":\"u\"},{"
	     "\"url\":\"v\"}]}",
	     CKS_OBJ_PACKAGE, NULL},
	    {"{\"name\":\"grp\",\"is_organization\":true,\"description\":\"d\"}",
	     CKS_OBJ_ORGANIZATION, NULL},
	    {"[]", CKS_OBJ_PACKAGE, "package: must be a JSON object"},
	    {"\"name\"", CKS_OBJ_GROUP, "group: must be a JSON object"},
	    {"{\"title\":\"T\"}", CKS_OBJ_PACKAGE, "name: missing"},
	    {"{\"name\":\"a\"}", CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":\"" /* 101 chars */
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaa\"}",
	     CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":\"Upper\"}", CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":\"with space\"}", CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":\"pct%28shi%29x\"}", CKS_OBJ_PACKAGE,
	     NULL}, /* legacy escapes (real data) */
	    {"{\"name\":\"pct%2\"}", CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":\"pct%zz1\"}", CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":\"pct%\"}", CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":\"地圖地圖\"}", CKS_OBJ_PACKAGE, "name: must be 2-100"},
	    {"{\"name\":12}", CKS_OBJ_PACKAGE, "name: must be a string"},
	    {"{" GOOD ",\"id\":\"not-a-uuid\"}", CKS_OBJ_PACKAGE, "id: must be a UUID"},
	    {"{" GOOD ",\"id\":5}", CKS_OBJ_PACKAGE, "id: must be a UUID"},
	    {"{" GOOD ",\"title\":5}", CKS_OBJ_PACKAGE, "title: must be a string or null"},
	    {"{" GOOD ",\"private\":\"false\"}", CKS_OBJ_PACKAGE, "private: must be a boolean"},
	    {"{" GOOD ",\"tags\":\"a,b\"}", CKS_OBJ_PACKAGE, "tags: must be an array of objects"},
	    {"{" GOOD ",\"tags\":[\"a\"]}", CKS_OBJ_PACKAGE, "tags: must be an array of objects"},
	    {"{" GOOD ",\"tags\":[{\"display_name\":\"a\"}]}", CKS_OBJ_PACKAGE,
	     "tags[0].name: missing"},
	    {"{" GOOD ",\"tags\":[{\"name\":\"a/b\"}]}", CKS_OBJ_PACKAGE, "tags[0].name: must be"},
	    {"{" GOOD ",\"tags\":[{\"name\":\"\"}]}", CKS_OBJ_PACKAGE, "tags[0].name: must be"},
	    {"{" GOOD ",\"tags\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", CKS_OBJ_PACKAGE,
	     "tags[1].name: duplicate"},
	    {"{" GOOD ",\"resources\":{}}", CKS_OBJ_PACKAGE,
	     "resources: must be an array of objects"},
	    {"{" GOOD ",\"resources\":[{\"id\":\"r1\"}]}", CKS_OBJ_PACKAGE,
	     "resources[0].id: must be a UUID"},
	    {"{" GOOD ",\"resources\":[{\"id\":\"e9a82645-dcc2-4de8-a83a-f1bad87c40f6\"},"
	     "{\"id\":\"e9a82645-dcc2-4de8-a83a-f1bad87c40f6\"}]}",
	     CKS_OBJ_PACKAGE, "resources[1].id: duplicate"},
	    {"{" GOOD ",\"extras\":{\"k\":\"v\"}}", CKS_OBJ_PACKAGE,
	     "extras: must be an array of objects"},
	    {"{" GOOD ",\"extras\":[{\"value\":\"v\"}]}", CKS_OBJ_PACKAGE,
	     "extras[0].key: missing"},
	    {"{" GOOD ",\"extras\":[{\"key\":\"k\",\"value\":1}]}", CKS_OBJ_PACKAGE,
	     "extras[0].value: must be a string"},
	    {"{" GOOD ",\"extras\":[{\"key\":\"k\"},{\"key\":\"k\"}]}", CKS_OBJ_PACKAGE,
	     "extras[1].key: duplicate"},
	    {"{" GOOD ",\"groups\":[{\"title\":\"x\"}]}", CKS_OBJ_PACKAGE,
	     "groups[0]: needs a name"},
	    {"{" GOOD ",\"groups\":[{\"name\":1}]}", CKS_OBJ_PACKAGE,
	     "groups[0].name: must be a string"},
	    {"{" GOOD ",\"organization\":\"org\"}", CKS_OBJ_PACKAGE,
	     "organization: must be an object"},
	    {"{" GOOD ",\"num_tags\":\"3\"}", CKS_OBJ_PACKAGE, "num_tags: must be an integer"},
	    {"{\"name\":\"grp\",\"is_organization\":\"yes\"}", CKS_OBJ_ORGANIZATION,
	     "is_organization: must be a boolean"},
	    {"{\"name\":\"grp\",\"packages\":[1]}", CKS_OBJ_GROUP, "packages: must be an array"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		json_error_t je;
		json_t *d = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
		if (!d)
			fail_msg("bad test JSON %s: %s", cases[i].json, je.text);
		cks_err rc = cks_pkg_validate(d, cases[i].type, err, sizeof(err));
		if (!cases[i].err && rc != CKS_OK)
			fail_msg("case %zu refused: %s", i, err);
		if (cases[i].err && (rc != CKS_ERR_PERMANENT || !strstr(err, cases[i].err)))
			fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err,
			         cases[i].err);
		json_decref(d);
	}
}

/* jansson refuses invalid UTF-8 on load, but the _nocheck constructors let
 * it through: validate must catch it in values and in keys. */
static void test_pkg_validate_utf8(void **state)
{
	char err[256];
	json_t *d = json_pack("{s:s}", "name", "pkg");
	json_object_set_new(d, "notes", json_stringn_nocheck("bad \xff\xfe", 6));
	assert_int_equal(cks_pkg_validate(d, CKS_OBJ_PACKAGE, err, sizeof(err)), CKS_ERR_PERMANENT);
	assert_string_equal(err, "notes: invalid UTF-8");
	json_object_del(d, "notes");
	json_t *res = json_pack("[{s:s}]", "url", "u");
	json_object_set_new(json_array_get(res, 0), "name", json_string_nocheck("\xc0\xaf"));
	json_object_set_new(d, "resources", res);
	assert_int_equal(cks_pkg_validate(d, CKS_OBJ_PACKAGE, err, sizeof(err)), CKS_ERR_PERMANENT);
	assert_string_equal(err, "resources[0].name: invalid UTF-8");
	json_object_del(d, "resources");
	json_object_set_new_nocheck(d, "k\xed\xa0\x80", json_true()); /* surrogate */
	assert_int_equal(cks_pkg_validate(d, CKS_OBJ_PACKAGE, err, sizeof(err)), CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "invalid UTF-8"));
	json_decref(d);
}

static const char *const managed[] = {"metadata_modified", "metadata_created", "num_resources",
                                      "num_tags",          "revision_id",      "revision_timestamp",
                                      "tracking_summary"};

static void check_stripped(const json_t *s)
{
	for (size_t k = 0; k < sizeof(managed) / sizeof(managed[0]); k++)
		assert_null(json_object_get(s, managed[k]));
	const json_t *res = json_object_get(s, "resources");
	for (size_t r = 0; r < json_array_size(res); r++) {
		assert_null(json_object_get(json_array_get(res, r), "package_id"));
		assert_null(json_object_get(json_array_get(res, r), "position"));
		assert_null(json_object_get(json_array_get(res, r), "revision_id"));
	}
}

/* Every real dataset: valid (but for names CKAN's validator refuses today),
 * strip removes the managed fields, add_managed recomputes them, strip
 * again gives the same dict, canonical text reads back equal. */
static void test_pkg_real_data(void **state)
{
	json_t *all;
	PD_LOAD_OR_SKIP(all, 0);
	size_t valid = 0, n = json_array_size(all);
	for (size_t i = 0; i < n; i++) {
		json_t *d = json_array_get(all, i);
		char err[256] = "";
		if (cks_pkg_validate(d, CKS_OBJ_PACKAGE, err, sizeof(err)) == CKS_OK)
			valid++;
		else if (!strstr(err, "name: must be 2-100"))
			fail_msg("dataset %zu refused: %s", i, err);
		json_t *s = cks_pkg_strip_managed(d);
		check_stripped(s);
		json_t *m = json_deep_copy(s);
		cks_pkg_add_managed(m, "0e0a6c4e-6bb4-4ac2-8b2b-8e2c4f4b2a11", 1445870113330636LL,
		                    1445870113330637LL);
		assert_int_equal(json_integer_value(json_object_get(m, "num_tags")),
		                 json_array_size(json_object_get(d, "tags")));
		assert_int_equal(json_integer_value(json_object_get(m, "num_resources")),
		                 json_array_size(json_object_get(d, "resources")));
		assert_string_equal(json_string_value(json_object_get(m, "metadata_modified")),
		                    "2015-10-26T14:35:13.330637");
		json_t *res = json_object_get(m, "resources");
		for (size_t r = 0; r < json_array_size(res); r++) {
			json_t *rr = json_array_get(res, r);
			assert_int_equal(json_integer_value(json_object_get(rr, "position")), r);
			assert_true(json_equal(json_object_get(rr, "package_id"),
			                       json_object_get(d, "id")));
		}
		json_t *s2 = cks_pkg_strip_managed(m);
		assert_true(json_equal(s, s2));
		char *c = cks_json_canonical(d);
		json_t *back = json_loads(c, 0, NULL);
		assert_true(json_equal(back, d));
		json_decref(back);
		free(c);
		json_decref(s2);
		json_decref(m);
		json_decref(s);
	}
	print_message("pkg: %zu of %zu real datasets valid (the rest: names CKAN refuses)\n", valid,
	              n);
	assert_true(valid >= n - 5);
	json_decref(all);
}

static void test_pkg_canonical(void **state)
{
	struct {
		const char *in, *out;
	} cases[] = {
	    {"{\"b\":1,\"a\":{\"d\":[true,false,null],\"c\":\"x\"}}",
	     "{\"a\":{\"c\":\"x\",\"d\":[true,false,null]},\"b\":1}"},
	    {"[0.1, 1.5, 100.0, 1e300, -0.0, 0.30000000000000004, 2.5e-8]",
	     "[0.1,1.5,100.0,1e+300,-0.0,0.30000000000000004,2.5e-08]"},
	    {"[\"q\\\"\\\\/\\n\\t\\u0001é地\"]", "[\"q\\\"\\\\/\\n\\t\\u0001é地\"]"},
	    {"{\"B\":1,\"a\":2,\"_\":3,\"é\":4}", "{\"B\":1,\"_\":3,\"a\":2,\"é\":4}"},
	    {"[123456789012.5, 1e16, 1e17, 0.0001, 0.00001]",
	     "[123456789012.5,10000000000000000.0,1e+17,0.0001,1e-05]"},
	    {"-9007199254740993", "-9007199254740993"},
	    {"{}", "{}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].in, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		char *c = cks_json_canonical(v);
		assert_string_equal(c, cases[i].out);
		json_t *back = json_loads(c, JSON_DECODE_ANY, NULL);
		assert_true(json_equal(back, v));
		json_decref(back);
		free(c);
		json_decref(v);
	}
	char *n = cks_json_canonical(NULL);
	assert_string_equal(n, "null");
	free(n);
	json_t *s = json_stringn("a\0b", 3);
	char *z = cks_json_canonical(s);
	assert_string_equal(z, "\"a\\u0000b\"");
	free(z);
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pkg_validate_table),
	    cmocka_unit_test(test_pkg_validate_utf8),
	    cmocka_unit_test(test_pkg_real_data),
	    cmocka_unit_test(test_pkg_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
