/* Integration: hostile and real input through cks_store_put. Bad input is a
 * clear PERMANENT error with nothing written (row counts before/after);
 * quotes, SQL metacharacters, odd Unicode and a 10 MB field are stored
 * exactly; every real CKAN dataset in ../shared/data imports and shows back
 * JSON-equal to the input, server-managed fields aside. */
#include "harness.h"

#include "pkg.h"
#include "pkgdata.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_SIZE 2048

static cks_store *fresh(void)
{
	char err[ERR_SIZE];
	cks_store *st = NULL;
	assert_int_equal(cks_store_open(h_fresh_db(), &st, err, sizeof(err)), CKS_OK);
	if (cks_store_init(st, "A", err, sizeof(err)) != CKS_OK)
		fail_msg("init: %s", err);
	return st;
}

/* Total rows in every table a write touches. */
static long rows(cks_store *st)
{
	PGresult *res =
	    PQexec(cks_store_conn(st), "SELECT (SELECT count(*) FROM ckansync.revision) + "
	                               "(SELECT count(*) FROM ckansync.object_revision) + "
	                               "(SELECT count(*) FROM ckansync.object) + "
	                               "(SELECT count(*) FROM ckansync.package) + "
	                               "(SELECT count(*) FROM ckansync.resource) + "
	                               "(SELECT count(*) FROM ckansync.package_extra) + "
	                               "(SELECT count(*) FROM ckansync.package_tag) + "
	                               "(SELECT count(*) FROM ckansync.outbox)");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* Puts d and shows it back; asserts JSON equality ignoring managed fields. */
static void roundtrip(cks_store *st, json_t *d)
{
	char err[ERR_SIZE];
	cks_uuid_str rev;
	json_t *shown = NULL;
	if (cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err)) != CKS_OK)
		fail_msg("put: %s", err);
	const char *key = json_string_value(json_object_get(d, "name"));
	assert_int_equal(cks_store_show(st, key, NULL, &shown, err, sizeof(err)), CKS_OK);
	json_t *a = cks_pkg_strip_managed(d), *b = cks_pkg_strip_managed(shown);
	json_object_del(b, "id");
	json_object_del(a, "id");
	if (!json_equal(a, b)) {
		char *ta = cks_json_canonical(a), *tb = cks_json_canonical(b);
		fail_msg("not stored exactly:\n in:  %.300s\n out: %.300s", ta, tb);
	}
	json_decref(a);
	json_decref(b);
	json_decref(shown);
}

static void test_bad_input_nothing_written(void **state)
{
	static const char *bad[] = {
	    "[1,2]",
	    "\"just a string\"",
	    "{\"title\":\"no name\"}",
	    "{\"name\":\"\"}",
	    "{\"name\":\"x\"}",
	    "{\"name\":\"Upper-Case\"}",
	    "{\"name\":\"has space\"}",
	    "{\"name\":\"quote'name\"}",
	    "{\"name\":\"semi;colon\"}",
	    "{\"name\":5}",
	    "{\"name\":\"ok-name\",\"id\":\"not-a-uuid\"}",
	    "{\"name\":\"ok-name\",\"title\":5}",
	    "{\"name\":\"ok-name\",\"tags\":\"a,b\"}",
	    "{\"name\":\"ok-name\",\"tags\":[1]}",
	    "{\"name\":\"ok-name\",\"private\":\"yes\"}",
	    "{\"name\":\"ok-name\",\"resources\":[{\"id\":\"zz\"}]}",
	    "{\"name\":\"ok-name\",\"extras\":[{\"value\":\"no key\"}]}",
	    /* NUL inside a string: valid JSON, refused by PostgreSQL's jsonb */
	    "{\"name\":\"ok-name\",\"notes\":\"a\\u0000b\"}",
	};
	char err[ERR_SIZE];
	cks_uuid_str rev;
	cks_store *st = fresh();
	json_t *good = json_pack("{s:s}", "name", "existing");
	assert_int_equal(cks_store_put(st, good, NULL, rev, NULL, err, sizeof(err)), CKS_OK);
	json_decref(good);
	long before = rows(st);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *d = json_loads(bad[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		assert_non_null(d);
		err[0] = '\0';
		cks_err e = cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err));
		if (e != CKS_ERR_PERMANENT)
			fail_msg("%s: expected a permanent error, got %s (%s)", bad[i],
			         cks_err_name(e), err);
		assert_true(strlen(err) > 5);
		json_decref(d);
		assert_int_equal(rows(st), before);
	}
	/* a name already used by another package (different id) */
	json_t *d = json_pack("{s:s, s:s}", "name", "existing", "id",
	                      "00000000-0000-4000-8000-000000000001");
	assert_int_equal(cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "already used"));
	json_decref(d);
	assert_int_equal(rows(st), before);
	/* a failed write inside the caller's transaction leaves it usable */
	assert_int_equal(cks_store_begin(st, err, sizeof(err)), CKS_OK);
	d = json_pack("{s:i}", "name", 1);
	assert_int_equal(cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	json_decref(d);
	d = json_pack("{s:s, s:s}", "name", "ok-name", "notes", "a\0b");
	json_object_set_new(d, "notes", json_stringn("a\0b", 3));
	assert_int_equal(cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	json_decref(d);
	d = json_pack("{s:s}", "name", "in-tx");
	assert_int_equal(cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err)), CKS_OK);
	json_decref(d);
	assert_int_equal(cks_store_commit(st, err, sizeof(err)), CKS_OK);
	assert_true(rows(st) > before);
	cks_store_close(st);
}

static void test_hostile_text_stored_exactly(void **state)
{
	/* tag names follow CKAN's tag rule, so they are not in this list */
	static const char *nasty[] = {
	    "'; DROP TABLE ckansync.revision; --",
	    "\"double\" and 'single' quotes, back\\slash, $1 $$ %s %n",
	    "E'\\x00' /* comment */ -- more",
	    "tab\tnewline\ncr\r unicode: 台灣 ü 🙂 \u2028",
	    "",
	};
	cks_store *st = fresh();
	for (size_t i = 0; i < sizeof(nasty) / sizeof(*nasty); i++) {
		const char *s = nasty[i];
		json_t *d = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s}], s:[{s:s, s:s}], "
		    "s:[{s:s, s:s, s:s, s:s}], s:s}",
		    "name", "hostile", "title", s, "notes", s, "author", s, "author_email", s,
		    "maintainer", s, "url", s, "version", s, "license_id", s, "tags", "name",
		    "tag-x", "extras", "key", *s ? s : "k", "value", s, "resources", "id",
		    "11111111-2222-4333-8444-555555555555", "url", s, "name", s, "description", s,
		    "custom_field", s);
		roundtrip(st, d);
		json_decref(d);
	}
	cks_store_close(st);
}

static void test_ten_megabyte_notes(void **state)
{
	size_t n = 10 * 1024 * 1024;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = "abcdefghij '\"\\;\n"[i % 16];
	big[n] = '\0';
	cks_store *st = fresh();
	json_t *d = json_pack("{s:s, s:s}", "name", "big-notes", "notes", big);
	roundtrip(st, d);
	json_decref(d);
	free(big);
	cks_store_close(st);
}

/* Every real dataset imports and shows back equal (server-managed aside). */
static void test_real_datasets(void **state)
{
	const char *path = h_data_path("depositar-datasets.jsonl.gz");
	if (!path)
		skip();
	json_t *all = pd_load(path, 0);
	assert_non_null(all);
	cks_store *st = fresh();
	size_t i, failed = 0;
	json_t *d;
	char err[ERR_SIZE];
	cks_uuid_str rev;
	int64_t t0 = cks_mono_us();
	json_array_foreach(all, i, d)
	{
		if (cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err)) != CKS_OK) {
			if (failed++ < 10)
				fprintf(stderr, "dataset %zu (%s): %s\n", i,
				        json_string_value(json_object_get(d, "name")), err);
			json_array_set_new(all, i, json_null());
		}
	}
	double secs = (double)(cks_mono_us() - t0) / 1e6;
	fprintf(stderr, "imported %zu of %zu datasets in %.1f s (%.0f/s)\n",
	        json_array_size(all) - failed, json_array_size(all), secs,
	        (double)json_array_size(all) / secs);
	size_t unequal = 0;
	json_array_foreach(all, i, d)
	{
		json_t *shown = NULL;
		if (json_is_null(d))
			continue;
		const char *id = json_string_value(json_object_get(d, "id"));
		assert_int_equal(cks_store_show(st, id, NULL, &shown, err, sizeof(err)), CKS_OK);
		json_t *a = cks_pkg_strip_managed(d), *b = cks_pkg_strip_managed(shown);
		if (!json_equal(a, b) && unequal++ < 5)
			fprintf(stderr, "dataset %s differs after show\n", id);
		json_decref(a);
		json_decref(b);
		json_decref(shown);
	}
	assert_int_equal(unequal, 0);
	assert_int_equal(failed, 0);
	json_decref(all);
	cks_store_close(st);
}

int main(void)
{
	if (!h_pg()) {
		fprintf(stderr, "skipping: CKANSYNC_PG not set\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_input_nothing_written),
	    cmocka_unit_test(test_hostile_text_stored_exactly),
	    cmocka_unit_test(test_ten_megabyte_notes),
	    cmocka_unit_test(test_real_datasets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
