/* Integration: the outbox order (docs/schema.md) with real concurrent
 * transactions — a transaction that commits after a later one is neither
 * skipped nor reordered, a child written by an older transaction still
 * follows its parent — and concurrent writers of one package producing one
 * linear history. */
#include "harness.h"

#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERR_SIZE 1024

static cks_store *open_store(const char *conninfo)
{
	char err[ERR_SIZE];
	cks_store *st = NULL;
	if (cks_store_open(conninfo, &st, err, sizeof(err)) != CKS_OK ||
	    cks_store_check(st, err, sizeof(err)) != CKS_OK)
		fail_msg("open: %s", err);
	return st;
}

static cks_store *init_db(char *conninfo, size_t n)
{
	char err[ERR_SIZE];
	cks_store *st = NULL;
	h_fresh_db_into(conninfo, n);
	assert_int_equal(cks_store_open(conninfo, &st, err, sizeof(err)), CKS_OK);
	if (cks_store_init(st, "A", err, sizeof(err)) != CKS_OK)
		fail_msg("init: %s", err);
	return st;
}

static void put(cks_store *st, const char *name, const char *title, cks_uuid_str objrev)
{
	char err[ERR_SIZE];
	cks_uuid_str rev;
	json_t *d = json_pack("{s:s, s:s}", "name", name, "title", title);
	if (cks_store_put(st, d, NULL, rev, objrev, err, sizeof(err)) != CKS_OK)
		fail_msg("put %s: %s", name, err);
	json_decref(d);
}

/* Fetches everything after *pos, advancing it; returns the entries. Rows
 * are final only once older than every running transaction of the cluster
 * (other tests' too), so this waits up to 20 s for `want` rows. */
static cks_outbox_entry *fetch(cks_store *st, cks_outbox_pos *pos, size_t *n, size_t want)
{
	char err[ERR_SIZE];
	cks_outbox_entry *e = NULL;
	int64_t deadline = cks_mono_us() + 20 * 1000000;
	for (;;) {
		if (cks_store_outbox_fetch(st, pos, 1000, &e, n, err, sizeof(err)) != CKS_OK)
			fail_msg("fetch: %s", err);
		if (*n >= want || cks_mono_us() > deadline)
			break;
		cks_outbox_free(e, *n);
		usleep(20000);
	}
	if (*n)
		*pos = e[*n - 1].pos;
	return e;
}

static int index_of(const cks_outbox_entry *e, size_t n, const char *objrev)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].rev.objrev_id, objrev) == 0)
			return (int)i;
	return -1;
}

/* T1 writes first but commits last: the producer sees neither T1's row nor
 * anything after it until T1 commits, and then gets both in order. */
static void test_out_of_order_commit(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_uuid_str o1, o2;
	cks_outbox_pos pos = {0, 0};
	size_t n = 0;
	cks_store *prod = init_db(conninfo, sizeof(conninfo));
	cks_store *t1 = open_store(conninfo), *t2 = open_store(conninfo);

	assert_int_equal(cks_store_begin(t1, err, sizeof(err)), CKS_OK);
	put(t1, "first-written", "T1", o1);
	put(t2, "second-written", "T2", o2); /* commits now */

	cks_outbox_entry *e = fetch(prod, &pos, &n, 0);
	assert_int_equal(index_of(e, n, o1), -1);
	assert_int_equal(index_of(e, n, o2), -1); /* held back behind T1 */
	cks_outbox_free(e, n);

	assert_int_equal(cks_store_commit(t1, err, sizeof(err)), CKS_OK);
	e = fetch(prod, &pos, &n, 2);
	assert_int_equal(n, 2);
	assert_int_equal(index_of(e, n, o1), 0);
	assert_int_equal(index_of(e, n, o2), 1);
	cks_outbox_free(e, n);
	e = fetch(prod, &pos, &n, 0);
	assert_int_equal(n, 0);
	cks_outbox_free(e, n);
	cks_store_close(t1);
	cks_store_close(t2);
	cks_store_close(prod);
}

/* T1 takes an xid on another object; T2 writes parent P of X and commits;
 * T1 then writes X's child of P and commits: P is handed out first. */
static void test_child_after_parent(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_uuid_str o0, oz, op, oc;
	cks_outbox_pos pos = {0, 0};
	size_t n = 0;
	cks_store *prod = init_db(conninfo, sizeof(conninfo));
	cks_store *t1 = open_store(conninfo), *t2 = open_store(conninfo);
	put(prod, "pkg-x", "v0", o0);
	put(prod, "pkg-z", "v0", oz);
	cks_outbox_entry *e = fetch(prod, &pos, &n, 2);
	assert_int_equal(n, 2);
	cks_outbox_free(e, n);

	assert_int_equal(cks_store_begin(t1, err, sizeof(err)), CKS_OK);
	put(t1, "pkg-z", "v1 by T1", oz); /* T1's xid is now the older one */
	put(t2, "pkg-x", "parent by T2", op);
	put(t1, "pkg-x", "child by T1", oc);
	assert_int_equal(cks_store_commit(t1, err, sizeof(err)), CKS_OK);

	e = fetch(prod, &pos, &n, 3);
	assert_int_equal(n, 3);
	int ip = index_of(e, n, op), ic = index_of(e, n, oc);
	assert_true(ip >= 0 && ic >= 0);
	assert_true(ip < ic);
	assert_string_equal(e[ic].rev.parents[0], op);
	assert_true(e[ic].pos.ord >= e[ip].pos.ord);
	cks_outbox_free(e, n);
	cks_store_close(t1);
	cks_store_close(t2);
	cks_store_close(prod);
}

#define WRITES 15
struct writer {
	const char *conninfo;
	int id;
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char err[ERR_SIZE], title[64];
	cks_store *st = NULL;
	if (cks_store_open(w->conninfo, &st, err, sizeof(err)) != CKS_OK ||
	    cks_store_check(st, err, sizeof(err)) != CKS_OK) {
		w->failures = WRITES;
		cks_store_close(st);
		return NULL;
	}
	for (int i = 0; i < WRITES; i++) {
		snprintf(title, sizeof(title), "writer %d edit %d", w->id, i);
		json_t *d = json_pack("{s:s, s:s}", "name", "shared", "title", title);
		cks_uuid_str rev;
		if (cks_store_put(st, d, NULL, rev, NULL, err, sizeof(err)) != CKS_OK) {
			fprintf(stderr, "writer %d: %s\n", w->id, err);
			w->failures++;
		}
		json_decref(d);
	}
	cks_store_close(st);
	return NULL;
}

/* Two writers on one package at once: every put succeeds, and the history
 * is one chain (each object revision's parent is the previous one). */
static void test_concurrent_writers(void **state)
{
	char conninfo[512], err[ERR_SIZE];
	cks_uuid_str o0;
	cks_store *st = init_db(conninfo, sizeof(conninfo));
	put(st, "shared", "start", o0);
	struct writer w[2] = {{conninfo, 0, 0}, {conninfo, 1, 0}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(w[0].failures + w[1].failures, 0);

	json_t *log = NULL;
	assert_int_equal(cks_store_log(st, "shared", NULL, &log, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(log), 1 + 2 * WRITES);
	/* walk: in arrival order every object revision's parent is the previous */
	const char *prev = NULL;
	size_t i;
	json_t *rev;
	json_array_foreach(log, i, rev)
	{
		json_t *obj = json_array_get(json_object_get(rev, "objects"), 0);
		json_t *parents = json_object_get(obj, "parents");
		if (prev) {
			assert_int_equal(json_array_size(parents), 1);
			assert_string_equal(json_string_value(json_array_get(parents, 0)), prev);
		} else {
			assert_int_equal(json_array_size(parents), 0);
		}
		prev = json_string_value(json_object_get(obj, "objrev_id"));
	}
	json_decref(log);
	cks_store_close(st);
}

int main(void)
{
	if (!h_pg()) {
		fprintf(stderr, "skipping: CKANSYNC_PG not set\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_out_of_order_commit),
	    cmocka_unit_test(test_child_after_parent),
	    cmocka_unit_test(test_concurrent_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
