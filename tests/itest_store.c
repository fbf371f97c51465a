/* Integration: the store on a real PostgreSQL, each test on a fresh database:
 * init (idempotent, wrong instance refused), put/show/history/parents,
 * delete, purge, digest, search, unversioned objects, apply primitives,
 * conflicts and sync state. Outbox order and concurrency are in
 * itest_store_outbox.c, bad input and the real data in itest_store_input.c. */
#include "harness.h"

#include "apply.h"
#include "diff.h"
#include "merge.h"
#include "pkg.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERR_SIZE 1024

/* Opens a store on a fresh database initialised as instance `id`. */
static cks_store *fresh_store(const char *id, char *conninfo, size_t n)
{
	char err[ERR_SIZE];
	cks_store *st = NULL;
	h_fresh_db_into(conninfo, n);
	assert_int_equal(cks_store_open(conninfo, &st, err, sizeof(err)), CKS_OK);
	if (cks_store_init(st, id, err, sizeof(err)) != CKS_OK)
		fail_msg("init: %s", err);
	return st;
}

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (!v)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return v;
}

static void put_ok(cks_store *st, const char *text, cks_uuid_str rev, cks_uuid_str objrev)
{
	char err[ERR_SIZE];
	json_t *d = js(text);
	cks_put_opts opts = CKS_PUT_OPTS_INIT;
	opts.author = "tester";
	if (cks_store_put(st, d, &opts, rev, objrev, err, sizeof(err)) != CKS_OK)
		fail_msg("put %s: %s", text, err);
	json_decref(d);
}

static long count(cks_store *st, const char *table_sql)
{
	PGresult *res = PQexec(cks_store_conn(st), table_sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* The producer only gets rows older than every running transaction of the
 * cluster (other tests' too), so wait until `want` rows are final. */
static cks_err fetch_wait(cks_store *st, const cks_outbox_pos *pos, size_t want,
                          cks_outbox_entry **e, size_t *n, char *err, size_t err_size)
{
	int64_t deadline = cks_mono_us() + 20 * 1000000;
	for (;;) {
		cks_err rc = cks_store_outbox_fetch(st, pos, 100, e, n, err, err_size);
		if (rc != CKS_OK || *n >= want || cks_mono_us() > deadline)
			return rc;
		cks_outbox_free(*e, *n);
		usleep(20000);
	}
}

static void test_init_idempotent_and_wrong_instance(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_store *st = fresh_store("A", conninfo, sizeof(conninfo));
	assert_int_equal(cks_store_init(st, "A", err, sizeof(err)), CKS_OK);
	assert_string_equal(cks_store_instance(st), "A");
	/* the search index merges its pending list in small steps (012): a
	 * 4 MB merge stalled a write for 0.3-0.5 s */
	PGresult *res =
	    PQexec(cks_store_conn(st), "SELECT array_to_string(reloptions, ',') FROM pg_class "
	                               "WHERE oid = 'ckansync.package_search_idx'::regclass");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "gin_pending_list_limit=256");
	PQclear(res);
	assert_int_equal(cks_store_init(st, "B", err, sizeof(err)), CKS_ERR_FATAL);
	assert_non_null(strstr(err, "belongs to instance 'A'"));
	assert_int_equal(cks_store_init(st, "bad id!", err, sizeof(err)), CKS_ERR_FATAL);
	cks_store_close(st);

	st = NULL;
	assert_int_equal(cks_store_open(conninfo, &st, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_check(st, err, sizeof(err)), CKS_OK);
	assert_string_equal(cks_store_instance(st), "A");
	cks_store_close(st);

	/* a database never initialised: check is FATAL with a clear message */
	h_fresh_db_into(conninfo, sizeof(conninfo));
	assert_int_equal(cks_store_open(conninfo, &st, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_check(st, err, sizeof(err)), CKS_ERR_FATAL);
	assert_non_null(strstr(err, "init"));
	cks_store_close(st);

	/* unreachable server: retriable */
	assert_int_equal(
	    cks_store_open("host=127.0.0.1 port=1 connect_timeout=2", &st, err, sizeof(err)),
	    CKS_ERR_RETRIABLE);
}

static void test_put_show_history(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_uuid_str r1, o1, r2, o2, r3, o3;
	json_t *shown = NULL, *log = NULL;
	cks_store *st = fresh_store("A", conninfo, sizeof(conninfo));

	put_ok(st, "{\"name\":\"pkg-one\",\"title\":\"One\",\"tags\":[{\"name\":\"t1\"}]}", r1, o1);
	put_ok(st, "{\"name\":\"pkg-one\",\"title\":\"One, again\"}", r2, o2);
	assert_int_equal(cks_store_show(st, "pkg-one", NULL, &shown, err, sizeof(err)), CKS_OK);
	assert_string_equal(json_string_value(json_object_get(shown, "title")), "One, again");
	assert_string_equal(json_string_value(json_object_get(shown, "revision_id")), r2);
	char id[40];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(shown, "id")));
	assert_true(cks_uuid_valid(id));
	assert_non_null(json_object_get(shown, "metadata_modified"));
	/* update by id, renaming */
	char buf[256];
	snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"name\":\"pkg-renamed\"}", id);
	put_ok(st, buf, r3, o3);
	json_decref(shown);

	assert_int_equal(cks_store_show(st, "pkg-renamed", o1, &shown, err, sizeof(err)), CKS_OK);
	assert_string_equal(json_string_value(json_object_get(shown, "title")), "One");
	json_decref(shown);
	assert_int_equal(cks_store_show(st, "pkg-one", NULL, &shown, err, sizeof(err)),
	                 CKS_ERR_NOTFOUND);

	assert_int_equal(cks_store_log(st, "pkg-renamed", NULL, &log, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(log), 3);
	json_t *objs = json_object_get(json_array_get(log, 2), "objects");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(objs, 0), "objrev_id")), o3);
	json_t *parents = json_object_get(json_array_get(objs, 0), "parents");
	assert_int_equal(json_array_size(parents), 1);
	assert_string_equal(json_string_value(json_array_get(parents, 0)), o2);
	json_t *p0 = json_object_get(
	    json_object_get(json_array_get(json_object_get(json_array_get(log, 0), "objects"), 0),
	                    "parents"),
	    "x");
	assert_null(p0);
	json_decref(log);
	assert_int_equal(cks_store_log(st, NULL, r1, &log, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(log), 2);
	json_decref(log);
	assert_int_equal(cks_store_log(st, NULL, "2000-01-01", &log, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(log), 3);
	json_decref(log);

	/* apply primitives over the same history */
	cks_uuid_str anc;
	assert_int_equal(cks_store_common_ancestor(st, o3, o2, anc, err, sizeof(err)), CKS_OK);
	assert_string_equal(anc, o2);
	bool exists = false;
	assert_int_equal(cks_store_objrev_exists(st, o1, &exists, err, sizeof(err)), CKS_OK);
	assert_true(exists);
	cks_head head;
	assert_int_equal(cks_store_begin(st, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_head_lock(st, id, &head, true, err, sizeof(err)), CKS_OK);
	assert_string_equal(head.objrev_id, o3);
	assert_string_equal(head.name, "pkg-renamed");
	assert_string_equal(head.origin, "A");
	json_decref(head.state);
	assert_int_equal(cks_store_commit(st, err, sizeof(err)), CKS_OK);
	cks_store_close(st);
}

static void test_diff_field_kinds(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_uuid_str r1, o1, r2, o2;
	json_t *diff = NULL;
	cks_store *st = fresh_store("A", conninfo, sizeof(conninfo));
	put_ok(st,
	       "{\"name\":\"d1\",\"title\":\"T\",\"tags\":[{\"name\":\"a\"}],\"extras\":[{\"key\":"
	       "\"k\","
	       "\"value\":\"1\"}],\"resources\":[{\"id\":\"11111111-1111-4111-8111-111111111111\","
	       "\"url\":\"http://x\"}],\"groups\":[{\"name\":\"g1\"}],\"custom\":1}",
	       r1, o1);
	put_ok(st,
	       "{\"name\":\"d1\",\"title\":\"T2\",\"tags\":[{\"name\":\"b\"}],\"extras\":[{\"key\":"
	       "\"k\","
	       "\"value\":\"2\"}],\"resources\":[{\"id\":\"11111111-1111-4111-8111-111111111111\","
	       "\"url\":\"http://y\"}],\"groups\":[],\"custom\":2}",
	       r2, o2);
	assert_int_equal(cks_store_diff(st, o1, o2, &diff, err, sizeof(err)), CKS_OK);
	char *text = json_dumps(diff, JSON_COMPACT);
	const char *expect[] = {"\"title\"",        "\"tags\",\"a\"", "\"tags\",\"b\"",
	                        "\"extras\",\"k\"", "\"url\"",        "\"groups\",\"g1\"",
	                        "\"custom\""};
	for (size_t i = 0; i < sizeof(expect) / sizeof(*expect); i++)
		if (!strstr(text, expect[i]))
			fail_msg("diff lacks %s: %s", expect[i], text);
	free(text);
	json_decref(diff);
	assert_int_equal(cks_store_diff(st, o1, "nope", &diff, err, sizeof(err)), CKS_ERR_NOTFOUND);
	/* typed tables follow the head */
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.package_tag pt JOIN "
	                           "ckansync.tag t ON t.id = pt.tag_id WHERE t.name = 'b'"),
	                 1);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.package_extra WHERE value = '2'"),
	                 1);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.resource WHERE url = 'http://y'"),
	                 1);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.member"), 0);
	cks_store_close(st);
}

/* Every typed current-state row (package, group, child and tag rows), as
 * one text. Caller frees. */
static char *current_rows(cks_store *st)
{
	PGresult *res =
	    PQexec(cks_store_conn(st),
	           "SELECT coalesce(string_agg(l, E'\\n' ORDER BY l), '') FROM ("
	           " SELECT 'p' || row(id, name, title, version, url, notes, author, author_email,"
	           "  maintainer, maintainer_email, license_id, type, owner_org, private, state,"
	           "  metadata_created, metadata_modified, objrev_id, search)::text l"
	           "  FROM ckansync.package"
	           " UNION ALL SELECT 'g' || row(x.*)::text FROM ckansync.\"group\" x"
	           " UNION ALL SELECT 't' || row(x.*)::text FROM ckansync.package_tag x"
	           " UNION ALL SELECT 'T' || row(x.*)::text FROM ckansync.tag x"
	           " UNION ALL SELECT 'e' || row(x.*)::text FROM ckansync.package_extra x"
	           " UNION ALL SELECT 'r' || row(x.*)::text FROM ckansync.resource x"
	           " UNION ALL SELECT 'm' || row(x.*)::text FROM ckansync.member x) y");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	char *rows = cks_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return rows;
}

/* The row versions (xmin) of one child table, as one text. Caller frees. */
static char *row_versions(cks_store *st, const char *table)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(string_agg(xmin::text, ',' ORDER BY ctid), '') FROM "
	         "ckansync.%s",
	         table);
	PGresult *res = PQexec(cks_store_conn(st), sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	char *v = cks_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* refresh_current updates the current state in place and rewrites only the
 * child sets whose section changed; after every kind of edit the rows equal
 * a rebuild from scratch. */
static void test_current_state_incremental(void **state)
{
	static const char *const first =
	    "{\"name\":\"inc\",\"title\":\"T\",\"notes\":\"n\",\"owner_org\":\"o1\","
	    "\"tags\":[{\"name\":\"a\",\"id\":\"ta\"},{\"name\":\"b\"}],"
	    "\"extras\":[{\"key\":\"k1\",\"value\":\"1\"},{\"key\":\"k2\",\"value\":\"2\"}],"
	    "\"resources\":[{\"id\":\"11111111-1111-4111-8111-000000000001\",\"url\":\"http://1\","
	    "\"size\":1},{\"id\":\"11111111-1111-4111-8111-000000000002\",\"url\":\"http://2\"}],"
	    "\"groups\":[{\"name\":\"g1\"}]}";
	/* Each edit: keys set on the previous version (null: removed). */
	static const char *const edits[] = {
	    "{\"title\":\"T2\"}", /* title only: no child set is rewritten */
	    "{\"tags\":[{\"name\":\"b\"},{\"name\":\"c\",\"id\":\"tc\"}]}",
	    "{\"extras\":[{\"key\":\"k1\",\"value\":\"3\"}],\"resources\":[{\"id\":"
	    "\"11111111-1111-4111-8111-000000000003\",\"url\":\"http://3\"},{\"id\":"
	    "\"11111111-1111-4111-8111-000000000001\",\"url\":\"http://1\"}]}",
	    "{\"groups\":[{\"name\":\"g2\"},{\"id\":\"g3\"}],\"owner_org\":null}",
	    /* resources only: the search vector is kept, not computed again */
	    "{\"resources\":[{\"id\":\"11111111-1111-4111-8111-000000000004\",\"url\":"
	    "\"http://4\"}]}",
	    "{\"notes\":\"new words\"}", /* notes: the vector changes */
	    "{\"name\":\"inc2\",\"private\":true,\"notes\":null,\"tags\":[],\"extras\":[],"
	    "\"resources\":[],\"groups\":[]}",
	};
	static const char *const children[] = {"package_tag", "package_extra", "resource",
	                                       "member"};
	char conninfo[512];
	cks_uuid_str rev, objrev;
	cks_store *st = fresh_store("A", conninfo, sizeof(conninfo));
	json_t *dict = js(first);
	put_ok(st, "{\"name\":\"other\",\"title\":\"O\",\"tags\":[{\"name\":\"a\"}]}", rev, objrev);
	for (size_t i = 0; i <= sizeof(edits) / sizeof(edits[0]) + 1; i++) {
		char *before[4];
		if (i > 0 && i <= sizeof(edits) / sizeof(edits[0])) {
			json_t *patch = js(edits[i - 1]), *v;
			const char *key;
			json_object_foreach(patch, key, v)
			{
				if (json_is_null(v))
					json_object_del(dict, key);
				else
					json_object_set(dict, key, v);
			}
			json_decref(patch);
		} else if (i > 0) { /* everything back, under the new name */
			json_decref(dict);
			dict = js(first);
			json_object_set_new(dict, "name", json_string("inc2"));
		}
		for (size_t k = 0; k < 4; k++)
			before[k] = row_versions(st, children[k]);
		char *text = json_dumps(dict, JSON_COMPACT);
		put_ok(st, text, rev, objrev);
		free(text);
		for (size_t k = 0; k < 4; k++) {
			char *after = row_versions(st, children[k]);
			if (i == 1 && strcmp(before[k], after) != 0)
				fail_msg("title edit rewrote %s: %s -> %s", children[k], before[k],
				         after);
			free(after);
			free(before[k]);
		}
		char *incremental = current_rows(st);
		PGresult *res =
		    PQexec(cks_store_conn(st), "DELETE FROM ckansync.package; SELECT "
		                               "ckansync.refresh_current(id) FROM ckansync.object");
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		PQclear(res);
		char *rebuilt = current_rows(st);
		if (strcmp(incremental, rebuilt) != 0)
			fail_msg("edit %zu: rows differ from a rebuild:\n%s\n--- rebuilt:\n%s", i,
			         incremental, rebuilt);
		free(incremental);
		free(rebuilt);
	}
	json_decref(dict);
	cks_store_close(st);
}

static char *one_text(cks_store *st, const char *sql)
{
	PGresult *res = PQexec(cks_store_conn(st), sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(cks_store_conn(st)));
	char *v = cks_strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void test_delete_purge(void **state)
{
	char conninfo[512], err[ERR_SIZE], by[64];
	cks_uuid_str r1, o1, rd, rp;
	json_t *shown = NULL;
	bool purged = false;
	cks_store *st = fresh_store("A", conninfo, sizeof(conninfo));
	put_ok(st,
	       "{\"name\":\"gone\",\"notes\":\"soon gone\",\"tags\":[{\"name\":\"t1\"},{\"name\":"
	       "\"t2\"}],\"extras\":[{\"key\":\"k\",\"value\":\"v\"}],\"resources\":[{\"url\":"
	       "\"http://r\"}],\"groups\":[{\"name\":\"g\"}],\"owner_org\":\"org\"}",
	       r1, o1);
	put_ok(st,
	       "{\"name\":\"stays\",\"tags\":[{\"name\":\"t1\"}],\"extras\":[{\"key\":\"k\","
	       "\"value\":\"w\"}],\"resources\":[{\"url\":\"http://s\"}],\"owner_org\":\"org\"}",
	       r1, o1);
	/* tags / extras / resources / members of both packages; the purge below
	 * takes "gone"'s with its package row (migration 016's trigger) */
	static const char derived[] =
	    "SELECT (SELECT count(*) FROM ckansync.package_tag) || '/' || (SELECT count(*) FROM "
	    "ckansync.package_extra) || '/' || (SELECT count(*) FROM ckansync.resource) || '/' || "
	    "(SELECT count(*) FROM ckansync.member)";
	char *rows = one_text(st, derived);
	assert_string_equal(rows, "3/2/2/3");
	free(rows);
	assert_int_equal(cks_store_delete(st, "gone", NULL, rd, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_show(st, "gone", NULL, &shown, err, sizeof(err)), CKS_OK);
	assert_string_equal(json_string_value(json_object_get(shown, "state")), "deleted");
	const char *id = json_string_value(json_object_get(shown, "id"));
	char idbuf[40];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	json_decref(shown);
	json_t *found = NULL;
	assert_int_equal(cks_store_search(st, "gone", &found, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(found), 0);
	json_decref(found);

	assert_int_equal(cks_store_purge(st, "gone", NULL, rp, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_show(st, idbuf, NULL, &shown, err, sizeof(err)),
	                 CKS_ERR_NOTFOUND);
	assert_int_equal(cks_store_tombstone_get(st, idbuf, &purged, by, err, sizeof(err)), CKS_OK);
	assert_true(purged);
	assert_string_equal(by, "A");
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM ckansync.object_revision WHERE object_id = '%s'", idbuf);
	assert_int_equal(count(st, sql), 0);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.revision WHERE kind = 'edit'"),
	                 1);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.package"), 1);
	rows = one_text(st, derived);
	assert_string_equal(rows, "1/1/1/1");
	free(rows);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.package_extra WHERE value = 'w'"),
	                 1);

	/* the outbox: the survivor's revision, then the purge event */
	cks_outbox_pos pos = {0, 0};
	cks_outbox_entry *e = NULL;
	size_t n = 0;
	assert_int_equal(fetch_wait(st, &pos, 2, &e, &n, err, sizeof(err)), CKS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(e[1].kind, CKS_OUTBOX_REVISION);
	assert_int_equal(e[1].rev.kind, CKS_REV_PURGE);
	assert_null(e[1].rev.state);
	assert_string_equal(e[1].rev.revision_id, rp);
	assert_string_equal(e[1].rev.object_id, idbuf);
	cks_outbox_free(e, n);

	/* a purged id cannot come back by put */
	char buf[128];
	snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"name\":\"gone\"}", idbuf);
	json_t *d = js(buf);
	cks_uuid_str rr;
	assert_int_equal(cks_store_put(st, d, NULL, rr, NULL, err, sizeof(err)), CKS_ERR_PERMANENT);
	json_decref(d);
	cks_store_close(st);
}

static void test_digest_across_databases(void **state)
{
	char c1[512], c2[512], err[ERR_SIZE];
	char d1[65], d2[65], h1[65], h2[65];
	cks_uuid_str r, o;
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	cks_store *b = fresh_store("B", c2, sizeof(c2));
	const char *pk[] = {"{\"id\":\"aaaaaaaa-1111-4111-8111-111111111111\",\"name\":\"p1\","
	                    "\"title\":\"x\"}",
	                    "{\"id\":\"bbbbbbbb-1111-4111-8111-111111111111\",\"name\":\"p2\","
	                    "\"notes\":\"y\"}"};
	for (int i = 0; i < 2; i++) {
		put_ok(a, pk[i], r, o);
		put_ok(b, pk[1 - i], r, o);
	}
	assert_int_equal(cks_store_digest(a, false, d1, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_digest(b, false, d2, err, sizeof(err)), CKS_OK);
	assert_int_equal(strlen(d1), 64);
	assert_string_equal(d1, d2);
	/* history differs: separate revisions */
	assert_int_equal(cks_store_digest(a, true, h1, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_digest(b, true, h2, err, sizeof(err)), CKS_OK);
	assert_string_not_equal(h1, h2);
	/* one changed byte changes it */
	put_ok(b,
	       "{\"id\":\"aaaaaaaa-1111-4111-8111-111111111111\",\"name\":\"p1\",\"title\":\"X\"}",
	       r, o);
	assert_int_equal(cks_store_digest(b, false, d2, err, sizeof(err)), CKS_OK);
	assert_string_not_equal(d1, d2);
	cks_store_close(a);
	cks_store_close(b);
}

/* The consumer's path: write_objrev keeps ids, parents and metadata, so a
 * replica has the same history digest as its origin. */
/* Object revisions that break the rule: a create (no parent) has no diff
 * stored (019_create_without_diff.sql), an edit has one. */
#define CREATE_DIFFS_WRONG                                                                         \
	"SELECT count(*) FROM ckansync.object_revision WHERE (parents = '{}') <> (diff IS NULL)"

static void test_write_objrev_replica(void **state)
{
	char c1[512], c2[512], err[ERR_SIZE], h1[65], h2[65];
	cks_uuid_str r, o;
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	cks_store *b = fresh_store("B", c2, sizeof(c2));
	put_ok(a, "{\"name\":\"rep\",\"title\":\"1\"}", r, o);
	put_ok(a, "{\"name\":\"rep\",\"title\":\"2\"}", r, o);
	json_t *u = js("{\"name\":\"alice\",\"email\":\"a@x\"}");
	assert_int_equal(cks_store_uobject_put(a, "user", u, err, sizeof(err)), CKS_OK);
	json_decref(u);

	/* a create's diff is not stored (019), an edit's is; one stored before
	 * 019 (an "add" per key) is not sent */
	assert_int_equal(count(a, CREATE_DIFFS_WRONG), 0);
	assert_int_equal(count(a, "SELECT count(*) FROM ckansync.object_revision "
	                          "WHERE diff IS NULL"),
	                 1);
	PGresult *res = PQexec(cks_store_conn(a),
	                       "UPDATE ckansync.object_revision SET diff = '[{\"op\": \"add\", "
	                       "\"new\": \"rep\", \"path\": [\"name\"]}]' WHERE parents = '{}'");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	cks_outbox_pos pos = {0, 0};
	cks_outbox_entry *e = NULL;
	size_t n = 0;
	assert_int_equal(fetch_wait(a, &pos, 3, &e, &n, err, sizeof(err)), CKS_OK);
	assert_int_equal(n, 3);
	assert_null(e[0].rev.diff);
	assert_int_equal(json_array_size(e[1].rev.diff), 1); /* the title */
	/* an older producer sent a create's diff: not stored either */
	e[0].rev.diff = cks_diff(NULL, e[0].rev.state);
	assert_non_null(e[0].rev.diff);
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	for (size_t i = 0; i < n; i++) {
		if (e[i].kind == CKS_OUTBOX_OBJECT) {
			assert_int_equal(cks_store_uobject_apply(b, &e[i].obj, err, sizeof(err)),
			                 CKS_OK);
			continue;
		}
		if (cks_store_write_objrev(b, &e[i].rev, CKS_WRITE_SET_HEAD, err, sizeof(err)) !=
		    CKS_OK)
			fail_msg("write_objrev: %s", err);
		/* replay is a no-op */
		assert_int_equal(
		    cks_store_write_objrev(b, &e[i].rev, CKS_WRITE_SET_HEAD, err, sizeof(err)),
		    CKS_OK);
	}
	assert_int_equal(cks_store_offset_set(b, "ckansync.A.revisions", 0, 3, e[1].rev.revision_id,
	                                      err, sizeof(err)),
	                 CKS_OK);
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	assert_int_equal(count(b, CREATE_DIFFS_WRONG), 0);
	int64_t off = 0;
	assert_int_equal(cks_store_offset_get(b, "ckansync.A.revisions", 0, &off, err, sizeof(err)),
	                 CKS_OK);
	assert_int_equal(off, 3);
	assert_int_equal(cks_store_offset_get(b, "other", 0, &off, err, sizeof(err)), CKS_OK);
	assert_int_equal(off, -1);
	json_t *ss = NULL;
	assert_int_equal(cks_store_sync_state(b, &ss, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(ss), 1);
	json_decref(ss);

	assert_int_equal(cks_store_digest(a, true, h1, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_digest(b, true, h2, err, sizeof(err)), CKS_OK);
	assert_string_equal(h1, h2);
	/* an older unversioned state does not win */
	e[2].obj.updated_us -= 1000000;
	json_object_set_new(e[2].obj.state, "email", json_string("old"));
	assert_int_equal(cks_store_uobject_apply(b, &e[2].obj, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_digest(b, true, h2, err, sizeof(err)), CKS_OK);
	assert_string_equal(h1, h2);
	/* B republishes what it imported (chains), origin preserved */
	cks_outbox_entry *eb = NULL;
	size_t nb = 0;
	assert_int_equal(fetch_wait(b, &pos, 3, &eb, &nb, err, sizeof(err)), CKS_OK);
	assert_int_equal(nb, 3);
	assert_string_equal(eb[0].rev.origin, "A");
	assert_string_equal(eb[1].rev.parents[0], e[0].rev.objrev_id);
	assert_null(eb[0].rev.diff);
	assert_int_equal(json_array_size(eb[1].rev.diff), 1);
	cks_outbox_free(eb, nb);
	cks_outbox_free(e, n);
	cks_store_close(a);
	cks_store_close(b);
}

/* A package may be named like another object's id (a CKAN name may look like
 * a UUID): writing a revision of the object with that id must create or
 * update that object, never the one so named. */
static void test_name_like_an_id(void **state)
{
	char c1[512], c2[512], err[ERR_SIZE], sql[256];
	cks_uuid_str r, o;
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	cks_store *b = fresh_store("B", c2, sizeof(c2));
	put_ok(a, "{\"name\":\"real\",\"title\":\"1\"}", r, o);
	cks_outbox_pos pos = {0, 0};
	cks_outbox_entry *e = NULL;
	size_t n = 0;
	assert_int_equal(fetch_wait(a, &pos, 1, &e, &n, err, sizeof(err)), CKS_OK);
	assert_int_equal(n, 1);
	const char *id = e[0].rev.object_id;
	/* on B, another package is named like A's package's id */
	char text[128];
	snprintf(text, sizeof(text), "{\"name\":\"%s\",\"title\":\"impostor\"}", id);
	put_ok(b, text, r, o);
	assert_string_not_equal(o, id);
	if (cks_store_write_objrev(b, &e[0].rev, CKS_WRITE_SET_HEAD, err, sizeof(err)) != CKS_OK)
		fail_msg("write_objrev: %s", err);
	snprintf(sql, sizeof(sql),
	         "SELECT (SELECT name FROM ckansync.object WHERE id = '%s') || ',' || "
	         "(SELECT title FROM ckansync.package WHERE name = '%s')",
	         id, id);
	PGresult *res = PQexec(cks_store_conn(b), sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "real,impostor");
	PQclear(res);
	/* show by id finds the object with that id */
	json_t *d = NULL;
	assert_int_equal(cks_store_show(b, id, NULL, &d, err, sizeof(err)), CKS_OK);
	assert_string_equal(json_string_value(json_object_get(d, "name")), "real");
	json_decref(d);
	cks_outbox_free(e, n);
	cks_store_close(a);
	cks_store_close(b);
}

/* A makes the revisions on_a (three package dicts, in order); B gets the
 * first from A's outbox, then makes its own edit on_b (*local: its object
 * revision), so that A's next revisions diverge from B's head. Returns A's
 * three outbox entries (cks_outbox_free(e, 3)). */
static cks_outbox_entry *diverged(cks_store *a, cks_store *b, const char *const on_a[3],
                                  const char *on_b, cks_uuid_str local)
{
	char err[ERR_SIZE];
	cks_uuid_str r, o;
	for (int i = 0; i < 3; i++)
		put_ok(a, on_a[i], r, o);
	cks_outbox_pos pos = {0, 0};
	cks_outbox_entry *e = NULL;
	size_t n = 0;
	assert_int_equal(fetch_wait(a, &pos, 3, &e, &n, err, sizeof(err)), CKS_OK);
	assert_int_equal(n, 3);
	if (cks_store_write_objrev(b, &e[0].rev, CKS_WRITE_SET_HEAD, err, sizeof(err)) != CKS_OK)
		fail_msg("write_objrev: %s", err);
	put_ok(b, on_b, r, local); /* B's own edit */
	return e;
}

/* A merge whose state takes a name another package holds here: A renamed
 * the package to "taken" while B changed its title, and B has a package
 * named "taken" of its own. The merge is stored as it is and a local rename
 * revision goes on top as the head (the name plus 8 hex of the object's
 * id), with a name-clash conflict; B's "taken" is untouched
 * (ckansync.set_merged_head, 021, says who holds the name). */
static void test_merged_name_taken(void **state)
{
	char c1[512], c2[512], err[ERR_SIZE], sql[512];
	cks_uuid_str local, r, other; /* other: the head of B's own "taken" */
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	cks_store *b = fresh_store("B", c2, sizeof(c2));
#define MT_ID "5e1f0000-0000-4000-8000-000000000001"
	static const char *const on_a[3] = {
	    "{\"id\":\"" MT_ID "\",\"name\":\"mt\",\"title\":\"base\"}",
	    "{\"id\":\"" MT_ID "\",\"name\":\"taken\",\"title\":\"base\"}",
	    "{\"name\":\"next\",\"title\":\"n\"}"};
	cks_outbox_entry *e = diverged(a, b, on_a, "{\"name\":\"mt\",\"title\":\"B\"}", local);
#undef MT_ID
	put_ok(b, "{\"name\":\"taken\",\"title\":\"B's own\"}", r, other);
	cks_policy pol;
	assert_int_equal(cks_policy_parse("newest-wins", &pol, err, sizeof(err)), CKS_OK);
	cks_apply_result res;
	size_t merges = 0;
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	if (cks_apply_revision(b, &e[1].rev, &pol, &res, err, sizeof(err)) != CKS_OK ||
	    cks_apply_settle(b, &pol, 0, NULL, &merges, NULL, err, sizeof(err)) != CKS_OK)
		fail_msg("apply: %s", err);
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	assert_int_equal(res.outcome, CKS_APPLIED_PENDING);
	assert_int_equal(merges, 1);
	const char *oid = e[0].rev.object_id;
	/* head: the rename, on top of the merge of A's rename and B's edit */
	snprintf(sql, sizeof(sql),
	         "SELECT o.name || ',' || p.title || ',' || (h.state->>'name') || ',' || "
	         "(SELECT count(*) FROM ckansync.object_revision m WHERE m.id = h.parents[1] AND "
	         "cardinality(m.parents) = 2 AND m.state->>'name' = 'taken') || ',' || "
	         "(SELECT count(*) FROM ckansync.conflict WHERE kind = 'name-clash' AND "
	         "object_id = o.id) FROM ckansync.object o JOIN ckansync.package p ON p.id = o.id "
	         "JOIN ckansync.object_revision h ON h.id = o.head WHERE o.id = '%s'",
	         oid);
	char *row = one_text(b, sql), want[256];
	snprintf(want, sizeof(want), "taken-%.8s,B,taken-%.8s,1,1", oid, oid);
	assert_string_equal(row, want);
	free(row);
	snprintf(sql, sizeof(sql),
	         "SELECT o.head || ',' || p.title FROM ckansync.object o JOIN ckansync.package p "
	         "ON p.id = o.id WHERE o.name = 'taken'");
	row = one_text(b, sql);
	snprintf(want, sizeof(want), "%s,B's own", other);
	assert_string_equal(row, want);
	free(row);
	cks_outbox_free(e, 3);
	cks_store_close(a);
	cks_store_close(b);
	(void)state;
}

/* Settling a chunk in which one object cannot be merged (its incoming
 * revision is not stored here): cks_apply_settle tries the chunk under one
 * savepoint, then again with one per object; the object before it (its
 * merge written in the undone try) is merged once, with its conflict
 * once; the bad one stays at its head; both leave pending_head, and so
 * does a waiting head of an object that is gone (purged meanwhile). */
static void test_settle_chunk_with_bad_object(void **state)
{
	char c1[512], c2[512], err[ERR_SIZE], sql[512];
	cks_uuid_str local, r, bad_head;
#define FIRST_ID "00000000-0000-4000-8000-00000000000f"
	static const char *const on_a[3] = {
	    "{\"id\":\"" FIRST_ID "\",\"name\":\"first\",\"title\":\"base\"}",
	    "{\"id\":\"" FIRST_ID "\",\"name\":\"first\",\"title\":\"A\"}",
	    "{\"name\":\"other\",\"title\":\"n\"}"};
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	cks_store *b = fresh_store("B", c2, sizeof(c2));
	cks_outbox_entry *e = diverged(a, b, on_a, "{\"name\":\"first\",\"title\":\"B\"}", local);
	put_ok(b, "{\"id\":\"ffffffff-0000-4000-8000-00000000000f\",\"name\":\"bad\"}", r,
	       bad_head);
	cks_policy pol;
	assert_int_equal(cks_policy_parse("newest-wins", &pol, err, sizeof(err)), CKS_OK);
	cks_apply_result res, sum;
	size_t merges = 0;
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	if (cks_apply_revision(b, &e[1].rev, &pol, &res, err, sizeof(err)) != CKS_OK)
		fail_msg("apply: %s", err);
	assert_int_equal(res.outcome, CKS_APPLIED_PENDING);
	PGresult *pr = PQexec(cks_store_conn(b),
	                      "INSERT INTO ckansync.pending_head (object_id, incoming) VALUES "
	                      "('ffffffff-0000-4000-8000-00000000000f', gen_random_uuid()), "
	                      "(gen_random_uuid(), gen_random_uuid())");
	assert_int_equal(PQresultStatus(pr), PGRES_COMMAND_OK);
	PQclear(pr);
	if (cks_apply_settle(b, &pol, 100, &sum, &merges, NULL, err, sizeof(err)) != CKS_OK)
		fail_msg("settle: %s", err);
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	assert_int_equal(merges, 1);
	assert_int_equal(sum.nconflicts, 1);
	snprintf(sql, sizeof(sql),
	         "SELECT (SELECT count(*) FROM ckansync.revision WHERE kind = 'merge') || ',' || "
	         "(SELECT count(*) FROM ckansync.conflict) || ',' || (SELECT count(*) FROM "
	         "ckansync.pending_head) || ',' || (SELECT cardinality(r.parents) FROM "
	         "ckansync.object o JOIN ckansync.object_revision r ON r.id = o.head WHERE o.id = "
	         "'" FIRST_ID "') || ',' || (SELECT head FROM ckansync.object WHERE name = 'bad')");
#undef FIRST_ID
	char *row = one_text(b, sql), want[128];
	snprintf(want, sizeof(want), "1,1,0,2,%s", bad_head);
	assert_string_equal(row, want);
	free(row);
	cks_outbox_free(e, 3);
	cks_store_close(a);
	cks_store_close(b);
	(void)state;
}

/* Merges a transaction wrote are noted in the process (apply.c removes
 * one a later recomputation no longer needs): only inside a transaction,
 * forgotten with the savepoint rolled back after them, and at commit and
 * rollback. The ids are all the transaction's; "mine" says whether any is
 * the target's. */
static void test_tx_merges_forgotten(void **state)
{
	char c1[512], err[ERR_SIZE];
	cks_store *st = fresh_store("A", c1, sizeof(c1));
	static const char *const t1 = "11111111-1111-4111-8111-111111111111",
	                         *t2 = "22222222-2222-4222-8222-222222222222",
	                         *m1 = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
	                         *m2 = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
	                         *m3 = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
	cks_buf ids = CKS_BUF_INIT;
#define TXM(target, want_mine, want_ids)                                                           \
	do {                                                                                       \
		cks_buf_reset(&ids);                                                               \
		assert_int_equal(cks_store_tx_merges(st, target, &ids), want_mine);                \
		assert_string_equal(ids.data, want_ids);                                           \
	} while (0)
	cks_store_tx_merge_note(st, t1, m1); /* no transaction: committed already */
	TXM(t1, false, "{}");
	assert_int_equal(cks_store_begin(st, err, sizeof(err)), CKS_OK);
	cks_store_tx_merge_note(st, t1, m1);
	assert_int_equal(cks_store_savepoint(st, err, sizeof(err)), CKS_OK);
	cks_store_tx_merge_note(st, t2, m2);
	TXM(t2, true,
	    "{aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa,bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb}");
	assert_int_equal(cks_store_savepoint_rollback(st, err, sizeof(err)), CKS_OK);
	TXM(t2, false, "{aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa}");
	TXM(t1, true, "{aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa}");
	assert_int_equal(cks_store_savepoint(st, err, sizeof(err)), CKS_OK);
	cks_store_tx_merge_note(st, t2, m3);
	assert_int_equal(cks_store_savepoint_release(st, err, sizeof(err)), CKS_OK);
	TXM(t2, true,
	    "{aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa,cccccccc-cccc-4ccc-8ccc-cccccccccccc}");
	assert_int_equal(cks_store_commit(st, err, sizeof(err)), CKS_OK);
	TXM(t1, false, "{}");
	assert_int_equal(cks_store_begin(st, err, sizeof(err)), CKS_OK);
	for (int i = 0; i < 100; i++) /* grows past its first allocation */
		cks_store_tx_merge_note(st, t2, m2);
	cks_buf_reset(&ids);
	assert_true(cks_store_tx_merges(st, t2, &ids));
	assert_int_equal(ids.len, 2 + 100 * 36 + 99); /* {id,...,id} */
	assert_false(cks_store_tx_merges(st, t1, &ids));
	cks_store_rollback(st);
	TXM(t2, false, "{}");
#undef TXM
	cks_buf_release(&ids);
	cks_store_close(st);
	(void)state;
}

/* The consumer's apply of a window (ckansync.apply_window, 013, which gives
 * a revision that is not plain to apply_fast, 010/011): a revision
 * that diverges from the head here (its parent is not the head: the object
 * changed here too) is stored in history and its object left waiting for the
 * merge (pending_head), head and current rows untouched, and the later
 * revisions of its window are still written (before 011 such a revision
 * stopped its window: the create below came back unwritten). */
static void test_fast_defer_keeps_window(void **state)
{
	char c1[512], c2[512], err[ERR_SIZE], sql[512];
	cks_uuid_str local;
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	cks_store *b = fresh_store("B", c2, sizeof(c2));
	static const char *const on_a[3] = {"{\"name\":\"div\",\"title\":\"1\"}",
	                                    "{\"name\":\"div\",\"title\":\"2\"}",
	                                    "{\"name\":\"next\",\"title\":\"n\"}"};
	cks_outbox_entry *e = diverged(a, b, on_a, "{\"name\":\"div\",\"title\":\"B\"}", local);
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	cks_store_covered(b, true);
	const cks_revmsg *win[2] = {&e[1].rev, &e[2].rev};
	cks_fast_state st[2];
	bool found[2];
	if (cks_store_window_send(b, 7, -1, win, 2, err, sizeof(err)) != CKS_OK ||
	    cks_store_window_recv(b, win, 2, st, found, err, sizeof(err)) != CKS_OK)
		fail_msg("apply window: %s", err);
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	assert_int_equal(st[0], CKS_FAST_PENDING);
	assert_true(found[0]);
	assert_int_equal(st[1], CKS_FAST_WRITTEN);
	assert_false(found[1]);
	snprintf(sql, sizeof(sql),
	         "SELECT (SELECT incoming::text FROM ckansync.pending_head WHERE object_id = '%s') "
	         "|| ',' || (SELECT head::text FROM ckansync.object WHERE id = '%s') || ',' || "
	         "(SELECT title FROM ckansync.package WHERE id = '%s') || ',' || "
	         "(SELECT count(*) FROM ckansync.object_revision WHERE id = '%s') || ',' || "
	         "(SELECT title FROM ckansync.package WHERE name = 'next')",
	         e[1].rev.object_id, e[1].rev.object_id, e[1].rev.object_id, e[1].rev.objrev_id);
	PGresult *res = PQexec(cks_store_conn(b), sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	char want[256];
	snprintf(want, sizeof(want), "%s,%s,B,1,n", e[1].rev.objrev_id, local);
	assert_string_equal(PQgetvalue(res, 0, 0), want);
	PQclear(res);
	cks_outbox_free(e, 3);
	cks_store_close(a);
	cks_store_close(b);
}

/* Two revisions of A, each settled in turn in one transaction, on a package
 * B changed too: the first is merged with B's head (a merge with a
 * conflict on the title), the second supersedes it and is merged in its
 * place; the first merge, its revision and its conflict, made in this
 * transaction and needed by nothing, go (apply.c, drop_stale_tx_merges). */
static void test_superseded_merge_dropped(void **state)
{
	char c1[512], c2[512], err[ERR_SIZE];
	cks_uuid_str local;
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	cks_store *b = fresh_store("B", c2, sizeof(c2));
	static const char *const on_a[3] = {"{\"name\":\"sup\",\"title\":\"base\"}",
	                                    "{\"name\":\"sup\",\"title\":\"A1\"}",
	                                    "{\"name\":\"sup\",\"title\":\"A1\",\"notes\":\"A2\"}"};
	cks_outbox_entry *e = diverged(a, b, on_a, "{\"name\":\"sup\",\"title\":\"B\"}", local);
	cks_policy pol;
	assert_int_equal(cks_policy_parse("newest-wins", &pol, err, sizeof(err)), CKS_OK);
	cks_apply_result res;
	size_t merges[2] = {0, 0};
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	for (int i = 0; i < 2; i++) {
		if (cks_apply_revision(b, &e[1 + i].rev, &pol, &res, err, sizeof(err)) != CKS_OK ||
		    cks_apply_settle(b, &pol, 0, NULL, &merges[i], NULL, err, sizeof(err)) !=
		        CKS_OK)
			fail_msg("apply %d: %s", i, err);
		assert_int_equal(res.outcome, CKS_APPLIED_PENDING);
	}
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	assert_int_equal(merges[0], 1);
	assert_int_equal(merges[1], 1);
	/* one merge left: of B's edit and A's second revision, the head, with
	 * the title conflict; no merge revision, object revision or conflict of
	 * the first */
	char *rows = one_text(
	    b, "SELECT (SELECT count(*) FROM ckansync.revision WHERE kind = 'merge') || ',' || "
	       "(SELECT count(*) FROM ckansync.object_revision WHERE cardinality(parents) = 2) "
	       "|| ',' || (SELECT count(*) FROM ckansync.conflict) || ',' || (SELECT count(*) "
	       "FROM ckansync.conflict c JOIN ckansync.object_revision r ON r.revision_id = "
	       "c.merge_revision JOIN ckansync.object o ON o.head = r.id)");
	assert_string_equal(rows, "1,1,1,1");
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT array_to_string(r.parents, ',') FROM ckansync.object o JOIN "
	         "ckansync.object_revision r ON r.id = o.head WHERE o.id = '%s'",
	         e[0].rev.object_id);
	char *parents = one_text(b, sql);
	if (!strstr(parents, e[2].rev.objrev_id) || !strstr(parents, local))
		fail_msg("head's parents %s: want %s and %s", parents, e[2].rev.objrev_id, local);
	free(parents);
	free(rows);
	cks_outbox_free(e, 3);
	cks_store_close(a);
	cks_store_close(b);
	(void)state;
}

static void put_on(cks_store *st, const char *fmt, const char *arg)
{
	char text[2048];
	cks_uuid_str r, o;
	snprintf(text, sizeof(text), fmt, arg);
	put_ok(st, text, r, o);
}

/* What a mirror holds, for comparing two: current rows, history digest,
 * the order of revisions and outbox rows, waiting heads and conflicts. */
static char *mirror_rows(cks_store *st)
{
	char err[ERR_SIZE], digest[65];
	if (cks_store_digest(st, true, digest, err, sizeof(err)) != CKS_OK)
		fail_msg("digest: %s", err);
	char *cur = current_rows(st);
	char *order = one_text(
	    st, "SELECT (SELECT string_agg(id::text, ',' ORDER BY local_seq) FROM "
	        "ckansync.revision) || ' | ' || (SELECT string_agg(kind || ':' || "
	        "coalesce(objrev_id::text, conflict_id::text, ''), ',' ORDER BY ord, seq) FROM "
	        "ckansync.outbox) || ' | ' || coalesce((SELECT string_agg(object_id || '=' || "
	        "incoming, ',' ORDER BY object_id) FROM ckansync.pending_head), '') || ' | ' || "
	        "coalesce((SELECT string_agg(id || kind, ',' ORDER BY id) FROM ckansync.conflict), "
	        "'') || ' | ' || (SELECT string_agg(id || '=' || head || name, ',' ORDER BY id) "
	        "FROM ckansync.object) || ' | ' || (SELECT string_agg(id || '=' || "
	        "coalesce(md5(diff::text), '-'), ',' ORDER BY id) FROM ckansync.object_revision)");
	cks_buf b = CKS_BUF_INIT;
	cks_buf_appendf(&b, "%s\n%s\n%s", order, cur, digest);
	free(cur);
	free(order);
	return b.data;
}

/* An edit that changes no indexed column of its package (here the version)
 * is a HOT update: the new row version stays on its page (015: package pages
 * are filled to half, so that it fits), no new index entries. At fillfactor
 * 100 these rows fill their pages and nearly every edit moved. */
static void test_edits_stay_on_page(void **state)
{
	char c1[512];
	cks_store *a = fresh_store("A", c1, sizeof(c1));
	char text[2048], notes[1201];
	memset(notes, 'n', sizeof(notes) - 1);
	notes[sizeof(notes) - 1] = '\0';
	enum { PKGS = 40 };
	for (int i = 0; i < PKGS; i++) {
		cks_uuid_str r, o;
		snprintf(text, sizeof(text), "{\"name\":\"hot%d\",\"notes\":\"%s\"}", i, notes);
		put_ok(a, text, r, o);
	}
	char *before = one_text(
	    a, "SELECT string_agg(name || '@' || (ctid::text::point)[0], ',' ORDER BY name) "
	       "FROM ckansync.package");
	for (int i = 0; i < PKGS; i++) {
		cks_uuid_str r, o;
		snprintf(text, sizeof(text),
		         "{\"name\":\"hot%d\",\"notes\":\"%s\",\"version\":\"2\"}", i, notes);
		put_ok(a, text, r, o);
	}
	char *after = one_text(
	    a, "SELECT string_agg(name || '@' || (ctid::text::point)[0], ',' ORDER BY name) "
	       "FROM ckansync.package");
	int stayed = 0;
	for (char *p = before, *q = after; *p && *q;) {
		size_t lp = strcspn(p, ","), lq = strcspn(q, ",");
		stayed += lp == lq && memcmp(p, q, lp) == 0;
		p += lp + (p[lp] == ',');
		q += lq + (q[lq] == ',');
	}
	if (stayed < PKGS * 9 / 10)
		fail_msg("%d of %d edited package rows stayed on their page", stayed, PKGS);
	free(before);
	free(after);
	cks_store_close(a);
	(void)state;
}

static char *exec_one(cks_store *st, const char *sql, const char *arg)
{
	const char *p[1] = {arg};
	PGresult *res = cks_store_exec_params(st, sql, 1, p);
	char *v = PQresultStatus(res) == PGRES_TUPLES_OK ? cks_strdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	return v;
}

/* apply_window runs with enable_seqscan = off (018): its plans, kept for the
 * session and made on a fresh mirror while the tables are empty, reach rows
 * by key instead of scanning whole tables once they have grown. */
static void test_window_plans_by_key(void **state)
{
	char c1[512];
	cks_store *st = fresh_store("A", c1, sizeof(c1));
	char *cfg = one_text(st, "SELECT array_to_string(proconfig, ',') FROM pg_proc "
	                         "WHERE oid = 'ckansync.apply_window'::regproc");
	if (!strstr(cfg, "enable_seqscan=off"))
		fail_msg("apply_window runs with %s", cfg);
	free(cfg);
	cks_store_close(st);
	(void)state;
}

/* The first `count` outbox entries of st, as revision messages in `in`
 * (the caller releases and frees each: free_revmsgs). */
static void fetch_revmsgs(cks_store *st, size_t count, const cks_revmsg **in)
{
	char err[ERR_SIZE];
	cks_outbox_pos pos = {0, 0};
	cks_outbox_entry *e = NULL;
	size_t n = 0;
	for (size_t got = 0; got < count; got += n) {
		assert_int_equal(fetch_wait(st, &pos, 1, &e, &n, err, sizeof(err)), CKS_OK);
		for (size_t i = 0; i < n && got + i < count; i++) {
			cks_revmsg *m = cks_calloc(1, sizeof(*m));
			*m = e[i].rev; /* taken over */
			memset(&e[i].rev, 0, sizeof(e[i].rev));
			in[got + i] = m;
		}
		pos = e[n - 1].pos;
		cks_outbox_free(e, n);
	}
}

static void free_revmsgs(const cks_revmsg **in, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		cks_revmsg_release((cks_revmsg *)in[i]);
		free((void *)in[i]);
	}
}

/* Applies in[from..to) to b in windows of `size` (at most 100), in the
 * caller's transaction; each revision must be written. */
static void apply_windows(cks_store *b, const cks_revmsg **in, size_t from, size_t to, size_t size)
{
	char err[ERR_SIZE];
	for (size_t w = from; w < to; w += size) {
		cks_fast_state st[100];
		bool found[100];
		size_t k = to - w < size ? to - w : size;
		if (cks_store_window_send(b, (int64_t)w + 1, -1, in + w, k, err, sizeof(err)) ||
		    cks_store_window_recv(b, in + w, k, st, found, err, sizeof(err)))
			fail_msg("window %zu: %s", w, err);
		for (size_t i = 0; i < k; i++)
			assert_int_equal(st[i], CKS_FAST_WRITTEN);
	}
}

/* A window's object revisions take their outbox order from their parents'
 * (020): one look-up by key each, whatever the statistics were when the
 * session planned apply_window. Planned on a mirror of some thousand rows
 * whose statistics did not know objrev_id is unique, the look-up walked the
 * outbox's primary key back from the newest row (the whole of it for a
 * create, whose parent is NULL), for the rest of the session. Counted in heap rows the mirror's
 * session fetched from the outbox by index while it applied windows of
 * creates and of edits of the oldest packages. */
static void test_window_outbox_order_by_key(void **state)
{
	char ca[512], cb[512], err[ERR_SIZE];
	cks_store *a = fresh_store("A", ca, sizeof(ca));
	cks_store *b = fresh_store("B", cb, sizeof(cb));
	enum { OLD = 600, NEW = 40 };
	char name[32];
	for (int i = 0; i < OLD + NEW; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		put_on(a, "{\"name\":\"%s\"}", name);
	}
	for (int i = 0; i < NEW; i++) { /* edits of the oldest packages */
		snprintf(name, sizeof(name), "o%d", i);
		put_on(a, "{\"name\":\"%s\",\"title\":\"edited\"}", name);
	}
	const cks_revmsg *in[OLD + 2 * NEW];
	fetch_revmsgs(a, OLD + 2 * NEW, in);
	/* B holds the old packages; a new session plans apply_window on it */
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	apply_windows(b, in, 0, OLD, 100);
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	cks_store_close(b);
	assert_int_equal(cks_store_open(cb, &b, err, sizeof(err)), CKS_OK);
	/* statistics that do not know objrev_id is unique, as before the
	 * first ANALYZE of a growing outbox (no statistics: 200 values assumed) */
	PGresult *res = PQexec(cks_store_conn(b), "ALTER TABLE ckansync.outbox ALTER COLUMN "
	                                          "objrev_id SET (n_distinct = 10); "
	                                          "ANALYZE ckansync.outbox");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	apply_windows(b, in, OLD, OLD + 2 * NEW, 10);
	char *fetched =
	    one_text(b, "SELECT coalesce(idx_tup_fetch, 0) FROM "
	                "pg_stat_xact_user_tables WHERE relid = 'ckansync.outbox'::regclass");
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	/* one parent row per edit, none per create; walking back read hundreds each */
	if (atol(fetched) > 4 * NEW)
		fail_msg("%s outbox rows fetched by index for %d creates and %d edits", fetched,
		         NEW, NEW);
	free(fetched);
	char ha[65], hb[65];
	assert_int_equal(cks_store_digest(a, true, ha, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_digest(b, true, hb, err, sizeof(err)), CKS_OK);
	assert_string_equal(ha, hb);
	free_revmsgs(in, OLD + 2 * NEW);
	cks_store_close(a);
	cks_store_close(b);
	(void)state;
}

/* The window's tag-id check (013) looks each tag of the window up by name
 * (023: apply_window runs without hash or merge joins). Planned for the
 * session with the usual estimate of a window's tags (a thousand), it read
 * the whole tag table through its index for every window, a window of one
 * revision with a few tags included, growing with the catalog. Counted in
 * tag rows the mirror's session fetched by index while it applied windows
 * of one edit each (the tags unchanged: only the check reads them). */
static void test_window_tags_by_key(void **state)
{
	char ca[512], cb[512], err[ERR_SIZE], text[512];
	cks_store *a = fresh_store("A", ca, sizeof(ca));
	cks_store *b = fresh_store("B", cb, sizeof(cb));
	enum { OLD = 300, NEW = 30 };
	cks_uuid_str r, o;
	for (int i = 0; i < OLD; i++) {
		snprintf(text, sizeof(text),
		         "{\"name\":\"t%d\",\"tags\":[{\"name\":\"a%d\"},{\"name\":\"b%d\"},"
		         "{\"name\":\"c%d\"},{\"name\":\"d%d\"}]}",
		         i, i, i, i, i);
		put_ok(a, text, r, o);
	}
	for (int i = 0; i < NEW; i++) { /* the title only */
		snprintf(text, sizeof(text),
		         "{\"name\":\"t%d\",\"title\":\"edited\",\"tags\":[{\"name\":\"a%d\"},"
		         "{\"name\":\"b%d\"},{\"name\":\"c%d\"},{\"name\":\"d%d\"}]}",
		         i, i, i, i, i);
		put_ok(a, text, r, o);
	}
	const cks_revmsg *in[OLD + NEW];
	fetch_revmsgs(a, OLD + NEW, in);
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	apply_windows(b, in, 0, OLD, 100);
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	cks_store_close(b);
	assert_int_equal(cks_store_open(cb, &b, err, sizeof(err)), CKS_OK);
	PGresult *res = PQexec(cks_store_conn(b), "ANALYZE ckansync.tag");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	apply_windows(b, in, OLD, OLD + NEW, 1);
	char *fetched =
	    one_text(b, "SELECT coalesce(idx_tup_fetch, 0) FROM "
	                "pg_stat_xact_user_tables WHERE relid = 'ckansync.tag'::regclass");
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	/* four look-ups a window; hashing the table read its 1,200 rows each */
	if (atol(fetched) > 8 * NEW)
		fail_msg("%s tag rows fetched by index for %d windows of one edit with 4 tags",
		         fetched, NEW);
	free(fetched);
	char ha[65], hb[65];
	assert_int_equal(cks_store_digest(a, true, ha, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_digest(b, true, hb, err, sizeof(err)), CKS_OK);
	assert_string_equal(ha, hb);
	free_revmsgs(in, OLD + NEW);
	cks_store_close(a);
	cks_store_close(b);
	(void)state;
}

/* Statements with parameters are prepared once per connection and run by
 * name after that; the cache goes by the SQL text, so a buffer reused for
 * another statement runs the new one; a statement that does not prepare
 * gives its error and leaves the connection usable. */
static void test_prepared_statements(void **state)
{
	char c1[512];
	cks_store *st = fresh_store("A", c1, sizeof(c1));
	char sql[64];
	snprintf(sql, sizeof(sql), "SELECT $1::int + 1");
	for (int i = 0; i < 3; i++) {
		char *v = exec_one(st, sql, "41");
		assert_non_null(v);
		assert_string_equal(v, "42");
		free(v);
	}
	char *n =
	    one_text(st, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'cks%'");
	long before = atol(n);
	free(n);
	assert_true(before >= 1);
	snprintf(sql, sizeof(sql), "SELECT $1::int * 10"); /* same buffer */
	char *v = exec_one(st, sql, "41");
	assert_non_null(v);
	assert_string_equal(v, "410");
	free(v);
	n = one_text(st, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'cks%'");
	assert_int_equal(atol(n), before + 1);
	free(n);
	const char *p[1] = {"1"};
	PGresult *res = cks_store_exec_params(st, "SELEC $1", 1, p);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQresultErrorMessage(res), "syntax error"));
	PQclear(res);
	v = exec_one(st, sql, "2");
	assert_non_null(v);
	assert_string_equal(v, "20");
	free(v);
	cks_store_close(st);
	(void)state;
}

/* An empty window (binary arrays with no dimension) is a valid call that
 * answers nothing. */
static void test_window_empty(void **state)
{
	char c1[512], err[ERR_SIZE];
	cks_store *b = fresh_store("B", c1, sizeof(c1));
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	if (cks_store_window_send(b, 1, -1, NULL, 0, err, sizeof(err)) != CKS_OK ||
	    cks_store_window_recv(b, NULL, 0, NULL, NULL, err, sizeof(err)) != CKS_OK)
		fail_msg("empty window: %s", err);
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	char *revs = one_text(b, "SELECT count(*) FROM ckansync.object_revision");
	assert_string_equal(revs, "0");
	free(revs);
	cks_store_close(b);
	(void)state;
}

/* A window applied in one call (apply_window: runs of plain revisions
 * written together, the others alone by apply_fast, the rest of a window
 * after one that comes back unwritten by cks_apply_revision, as the
 * consumer's drain does) leaves a mirror exactly as applying every revision
 * one by one does: creates, edits of each section, chains of edits of one
 * package inside a window, a rename freeing a name taken in the same
 * window, a duplicate, a tag id clash, a name clash with a local package, a
 * revision that diverges (waits for a merge) and a package made private,
 * public and private again. And most of the revisions go
 * through the set-based runs, not apply_fast. */
/* Applies in[0..n) in windows of size, inside one transaction, as the
 * consumer's drain does: a revision a window did not write, and the rest of
 * that window, one by one. Returns the calls of each function made
 * meanwhile ("apply_fast,apply_window" counts, comma-separated; caller
 * frees). */
static char *apply_by_windows(cks_store *b, const cks_revmsg *const *in, size_t n, size_t size,
                              const cks_policy *pol, size_t *applied, size_t *slow)
{
	char err[ERR_SIZE];
	cks_apply_result r;
	PGresult *res = PQexec(cks_store_conn(b), "SET track_functions = 'pl'");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(cks_store_begin(b, err, sizeof(err)), CKS_OK);
	*applied = *slow = 0;
	for (size_t w = 0; w < n; w += size) {
		size_t k = n - w < size ? n - w : size, i;
		cks_fast_state st[8];
		bool found[8];
		assert_true(k <= 8);
		cks_store_covered(b, true);
		if (cks_store_window_send(b, (int64_t)w + 1, -1, in + w, k, err, sizeof(err)) !=
		        CKS_OK ||
		    cks_store_window_recv(b, in + w, k, st, found, err, sizeof(err)) != CKS_OK)
			fail_msg("window %zu: %s", w, err);
		for (i = 0; i < k && st[i] != CKS_FAST_NOT_WRITTEN; i++)
			(*applied)++;
		for (; i < k; i++, (*slow)++)
			if (cks_apply_revision(b, in[w + i], pol, &r, err, sizeof(err)) != CKS_OK)
				fail_msg("apply %zu: %s", w + i, err);
		cks_store_covered(b, false);
	}
	char *calls = one_text(
	    b, "SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'apply_fast'), 0) || ',' || "
	       "coalesce(sum(calls) FILTER (WHERE funcname = 'apply_window'), 0) "
	       "FROM pg_stat_xact_user_functions");
	assert_int_equal(cks_store_commit(b, err, sizeof(err)), CKS_OK);
	return calls;
}

static void test_window_like_one_by_one(void **state)
{
	char ca[512], cc[512], c1[512], c2[512], c3[512], err[ERR_SIZE];
	cks_store *a = fresh_store("A", ca, sizeof(ca));
	cks_store *c = fresh_store("C", cc, sizeof(cc));
	cks_store *b1 = fresh_store("B", c1, sizeof(c1));
	cks_store *b2 = fresh_store("B", c2, sizeof(c2));
	cks_store *b3 = fresh_store("B", c3, sizeof(c3));
	/* C: a local package named "clash" and, later, its own edit of p5 */
	put_on(c, "{\"name\":\"clash\",\"title\":\"%s\"}", "C's");
	static const char *const pkg =
	    "{\"name\":\"%s\",\"title\":\"t\",\"notes\":\"n\",\"owner_org\":\"o1\","
	    "\"tags\":[{\"name\":\"x\",\"id\":\"id-x\",\"vocabulary_id\":\"v\"},{\"name\":\"y\"}],"
	    "\"extras\":[{\"key\":\"k\",\"value\":\"1\"},{\"key\":\"j\",\"value\":\"2\"}],"
	    "\"resources\":[{\"id\":\"11111111-1111-4111-8111-000000000001\",\"url\":\"http://"
	    "1\",\"size\":3},{\"url\":\"http://2\"}],"
	    "\"groups\":[{\"name\":\"g1\"},{\"id\":\"g2\"}]}";
	put_on(a, pkg, "p1");
	put_on(a, "{\"name\":\"%s\",\"tags\":[{\"name\":\"y\",\"id\":\"id-y\"},{\"name\":\"z\"}]}",
	       "p2");
	put_on(a, pkg, "p5");
	put_on(a, "{\"name\":\"p1\",\"title\":\"%s\",\"notes\":\"n\",\"owner_org\":\"o1\"}", "t2");
	put_on(a,
	       "{\"name\":\"p1\",\"title\":\"t2\",\"tags\":[{\"name\":\"%s\"}],\"extras\":[],"
	       "\"groups\":[{\"name\":\"g3\"}],\"owner_org\":\"o2\",\"resources\":[{\"url\":"
	       "\"http://3\"}]}",
	       "w");
	put_on(a, "{\"name\":\"p3\",\"tags\":[{\"name\":\"x\",\"id\":\"%s\"}]}", "other-id");
	char *p2id = one_text(a, "SELECT id::text FROM ckansync.object WHERE name = 'p2'");
	put_on(a, "{\"id\":\"%s\",\"name\":\"p2b\"}", p2id);
	put_on(a, "{\"name\":\"p2\",\"title\":\"%s\"}", "new p2");
	put_on(a, "{\"name\":\"clash\",\"title\":\"%s\"}", "A's");
	put_on(a, "{\"name\":\"p5\",\"title\":\"%s\"}", "A's edit");
	for (int i = 0; i < 12; i++) {
		char name[32];
		snprintf(name, sizeof(name), "q%d", i % 6);
		put_on(a, pkg, name);
		put_on(
		    a,
		    "{\"name\":\"%s\",\"title\":\"edited\",\"tags\":[{\"name\":\"x\"}],"
		    "\"resources\":[{\"url\":\"http://9\"},{\"id\":"
		    "\"11111111-1111-4111-8111-000000000002\",\"url\":\"http://8\"}],"
		    "\"extras\":[{\"key\":\"e\",\"value\":\"v\"}],\"groups\":[{\"name\":\"g9\"}]}",
		    name);
	}
	/* a new tag named first without an id, then with one (adopted); notes
	 * alone changed (the search vector is made again) */
	put_on(a,
	       "{\"name\":\"%s\",\"notes\":\"one\",\"tags\":[{\"name\":\"nv\",\"vocabulary_id\":"
	       "\"v1\"}]}",
	       "r1");
	put_on(a, "{\"name\":\"%s\",\"tags\":[{\"name\":\"nv\",\"id\":\"id-nv\"}]}", "r2");
	put_on(a,
	       "{\"name\":\"%s\",\"notes\":\"two\",\"tags\":[{\"name\":\"nv\",\"vocabulary_id\":"
	       "\"v1\"}]}",
	       "r1");
	/* private, made public, private again (the flag's own array) */
	put_on(a, "{\"name\":\"%s\",\"private\":true}", "pv");
	put_on(a, "{\"name\":\"pv\",\"private\":false,\"title\":\"%s\"}", "open");
	put_on(a, "{\"name\":\"pv\",\"private\":true,\"title\":\"%s\"}", "closed");
	cks_outbox_pos pos = {0, 0};
	cks_outbox_entry *ea = NULL, *ec = NULL, *ec2 = NULL;
	size_t na = 0, nc = 0, nc2 = 0;
	assert_int_equal(fetch_wait(a, &pos, 40, &ea, &na, err, sizeof(err)), CKS_OK);
	assert_int_equal(na, 40);
	assert_int_equal(fetch_wait(c, &pos, 1, &ec, &nc, err, sizeof(err)), CKS_OK);
	assert_int_equal(nc, 1);
	/* C gets p5 from A, then edits it */
	if (cks_store_write_objrev(c, &ea[2].rev, CKS_WRITE_SET_HEAD, err, sizeof(err)) != CKS_OK)
		fail_msg("write_objrev: %s", err);
	put_on(c, "{\"name\":\"p5\",\"title\":\"%s\"}", "C's edit");
	assert_int_equal(fetch_wait(c, &pos, 3, &ec2, &nc2, err, sizeof(err)), CKS_OK);
	assert_int_equal(nc2, 3);
	/* the stream: C's create, A's revisions with C's edit of p5 after p5's
	 * create and a duplicate of A's fourth */
	const cks_revmsg *in[48];
	size_t n = 0;
	in[n++] = &ec[0].rev;
	for (size_t i = 0; i < na; i++) {
		in[n++] = &ea[i].rev;
		if (i == 2)
			in[n++] = &ec2[2].rev;
		if (i == 5)
			in[n++] = &ea[3].rev;
	}
	assert_int_equal(n, 43);
	/* an older producer sent p2's create with its diff */
	assert_null(ea[1].rev.diff);
	ea[1].rev.diff = cks_diff(NULL, ea[1].rev.state);
	cks_policy pol;
	assert_int_equal(cks_policy_parse("newest-wins", &pol, err, sizeof(err)), CKS_OK);
	cks_apply_result r;
	/* one by one */
	assert_int_equal(cks_store_begin(b2, err, sizeof(err)), CKS_OK);
	for (size_t i = 0; i < n; i++)
		if (cks_apply_revision(b2, in[i], &pol, &r, err, sizeof(err)) != CKS_OK)
			fail_msg("apply %zu: %s", i, err);
	assert_int_equal(cks_store_commit(b2, err, sizeof(err)), CKS_OK);
	/* by windows of 8, as the consumer's drain: set-based (apply_window) */
	size_t slow = 0, applied = 0;
	char *calls = apply_by_windows(b1, in, n, 8, &pol, &applied, &slow);
	long fast = atol(calls), set = atol(strchr(calls, ',') + 1);
	assert_int_equal(applied + slow, n);
	assert_true(slow >= 2); /* the name clash and the tag id clash */
	assert_true(fast > 0);  /* the duplicate, the rename, the divergence */
	/* most of the windows of 8 set-based; the last window, of 3, is a small
	 * one: through apply_fast (024) */
	if (((size_t)fast - n % 8) * 3 > applied)
		fail_msg("%s of %zu revisions went through apply_fast alone", calls, applied);
	assert_int_equal(set, (long)(n / 8));
	/* by windows of 3, a steady stream's: one revision at a time (024) */
	size_t slow3 = 0, applied3 = 0;
	char *calls3 = apply_by_windows(b3, in, n, 3, &pol, &applied3, &slow3);
	assert_int_equal(applied3 + slow3, n);
	/* the clashes, as above; apply_fast writes what apply_window does and
	 * more (a divergence), so no more of them the slow way */
	assert_true(slow3 >= 2 && slow3 <= slow);
	assert_int_equal(atol(strchr(calls3, ',') + 1), 0); /* no apply_window */
	assert_true(atol(calls3) >= (long)applied3);
	/* B's own revisions (the rename of the clashing name) are stamped with
	 * the time they were made: the same time on both mirrors, for comparing */
	cks_store *both[3] = {b1, b2, b3};
	for (size_t i = 0; i < 3; i++) {
		PGresult *res = PQexec(
		    cks_store_conn(both[i]),
		    "UPDATE ckansync.package p SET metadata_created = 'epoch', "
		    "metadata_modified = 'epoch' FROM ckansync.object_revision o JOIN "
		    "ckansync.revision v ON v.id = o.revision_id WHERE o.id = p.objrev_id "
		    "AND v.origin = 'B'; UPDATE ckansync.revision SET \"timestamp\" = 'epoch' "
		    "WHERE origin = 'B'");
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
	}
	assert_int_equal(count(a, CREATE_DIFFS_WRONG), 0);
	assert_int_equal(count(b1, CREATE_DIFFS_WRONG), 0);
	assert_int_equal(count(b2, CREATE_DIFFS_WRONG), 0);
	assert_int_equal(count(b3, CREATE_DIFFS_WRONG), 0);
	char *one = mirror_rows(b2), *wins[2] = {mirror_rows(b1), mirror_rows(b3)};
	for (size_t j = 0; j < 2; j++) {
		const char *win = wins[j];
		if (strcmp(one, win) == 0)
			continue;
		size_t at = 0, line = 0;
		while (one[at] == win[at])
			if (one[at++] == '\n')
				line = at;
		fail_msg("the mirror of windows of %d differs from line %.60s...: windows: "
		         "%.300s\n--- one by one: %.300s",
		         j ? 3 : 8, one + line, win + at, one + at);
	}
	char *pending = one_text(b1, "SELECT count(*) FROM ckansync.pending_head");
	char *clashes =
	    one_text(b1, "SELECT string_agg(DISTINCT kind, ',') FROM ckansync.conflict");
	assert_string_equal(pending, "1");
	assert_non_null(strstr(clashes, "name-clash"));
	free(pending);
	free(clashes);
	free(one);
	free(wins[0]);
	free(wins[1]);
	free(calls);
	free(calls3);
	free(p2id);
	cks_outbox_free(ea, na);
	cks_outbox_free(ec, nc);
	cks_outbox_free(ec2, nc2);
	cks_store_close(a);
	cks_store_close(c);
	cks_store_close(b1);
	cks_store_close(b2);
	cks_store_close(b3);
}

static void test_conflicts_and_cursor(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_store *st = fresh_store("A", conninfo, sizeof(conninfo));
	cks_conflict c;
	memset(&c, 0, sizeof(c));
	c.kind = cks_strdup("field");
	c.object_type = CKS_OBJ_PACKAGE;
	cks_uuid_v4(c.object_id);
	c.object_name = cks_strdup("p'; DROP TABLE x; --");
	c.remote_origin = cks_strdup("B");
	c.field_path = cks_strdup("title");
	c.local_value = cks_strdup("\"a\"");
	c.remote_value = cks_strdup("\"b\"");
	c.resolution = cks_strdup("local-wins");
	c.chosen_value = cks_strdup("\"a\"");
	assert_int_equal(cks_store_conflict_add(st, &c, err, sizeof(err)), CKS_OK);
	assert_true(cks_uuid_valid(c.id));
	json_t *list = NULL;
	assert_int_equal(cks_store_conflicts_list(st, &list, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(list, 0), "object_name")),
	    "p'; DROP TABLE x; --");
	json_decref(list);

	cks_outbox_pos pos = {0, 0}, got;
	cks_outbox_entry *e = NULL;
	size_t n = 0;
	assert_int_equal(fetch_wait(st, &pos, 1, &e, &n, err, sizeof(err)), CKS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].kind, CKS_OUTBOX_CONFLICT);
	assert_string_equal(e[0].conflict.id, c.id);
	assert_string_equal(e[0].conflict.detected_at, "A");
	assert_string_equal(e[0].conflict.field_path, "title");
	assert_int_equal(cks_store_cursor_get(st, &got, err, sizeof(err)), CKS_OK);
	assert_int_equal(got.ord, 0);
	assert_int_equal(cks_store_cursor_set(st, &e[0].pos, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_store_cursor_get(st, &got, err, sizeof(err)), CKS_OK);
	assert_int_equal(got.ord, e[0].pos.ord);
	assert_int_equal(got.seq, e[0].pos.seq);
	cks_outbox_free(e, n);
	assert_int_equal(cks_store_outbox_fetch(st, &got, 10, &e, &n, err, sizeof(err)), CKS_OK);
	assert_int_equal(n, 0);
	cks_outbox_free(e, n);
	cks_conflict_release(&c);
	cks_store_close(st);
}

static void test_search_and_users(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_uuid_str r, o;
	cks_store *st = fresh_store("A", conninfo, sizeof(conninfo));
	put_ok(st, "{\"name\":\"river-data\",\"title\":\"Rivers\",\"notes\":\"water\"}", r, o);
	put_ok(st, "{\"name\":\"lakes\",\"title\":\"Lakes\",\"notes\":\"water river\"}", r, o);
	put_ok(st, "{\"name\":\"other\",\"tags\":[{\"name\":\"river\"}]}", r, o);
	json_t *found = NULL;
	assert_int_equal(cks_store_search(st, "river", &found, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(found), 3);
	assert_string_equal(json_string_value(json_array_get(found, 0)), "river-data");
	assert_string_equal(json_string_value(json_array_get(found, 2)), "lakes");
	json_decref(found);

	json_t *u = js("{\"name\":\"bob\",\"fullname\":\"Bob\"}");
	assert_int_equal(cks_store_uobject_put(st, "user", u, err, sizeof(err)), CKS_OK);
	json_object_set_new(u, "fullname", json_string("Bobby"));
	assert_int_equal(cks_store_uobject_put(st, "user", u, err, sizeof(err)), CKS_OK);
	json_decref(u);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.uobject"), 1);
	assert_int_equal(count(st, "SELECT count(*) FROM ckansync.uobject WHERE "
	                           "state->>'fullname' = 'Bobby'"),
	                 1);
	u = js("{\"fullname\":\"nobody\"}");
	assert_int_equal(cks_store_uobject_put(st, "user", u, err, sizeof(err)), CKS_ERR_PERMANENT);
	json_decref(u);
	cks_store_close(st);
}

int main(void)
{
	if (!h_pg()) {
		fprintf(stderr, "skipping: CKANSYNC_PG not set\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_idempotent_and_wrong_instance),
	    cmocka_unit_test(test_put_show_history),
	    cmocka_unit_test(test_diff_field_kinds),
	    cmocka_unit_test(test_current_state_incremental),
	    cmocka_unit_test(test_delete_purge),
	    cmocka_unit_test(test_digest_across_databases),
	    cmocka_unit_test(test_write_objrev_replica),
	    cmocka_unit_test(test_name_like_an_id),
	    cmocka_unit_test(test_fast_defer_keeps_window),
	    cmocka_unit_test(test_superseded_merge_dropped),
	    cmocka_unit_test(test_tx_merges_forgotten),
	    cmocka_unit_test(test_settle_chunk_with_bad_object),
	    cmocka_unit_test(test_merged_name_taken),
	    cmocka_unit_test(test_window_like_one_by_one),
	    cmocka_unit_test(test_window_empty),
	    cmocka_unit_test(test_prepared_statements),
	    cmocka_unit_test(test_edits_stay_on_page),
	    cmocka_unit_test(test_window_plans_by_key),
	    cmocka_unit_test(test_window_outbox_order_by_key),
	    cmocka_unit_test(test_window_tags_by_key),
	    cmocka_unit_test(test_conflicts_and_cursor),
	    cmocka_unit_test(test_search_and_users),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
