/* bench_load — the write side of script/bench: makes revisions on an
 * instance from the real CKAN datasets (../shared/data/depositar-datasets.
 * jsonl.gz, or tests/data/sample-datasets.jsonl), through the same store API
 * the CLI uses (cks_store_put), and waits for a condition on a database.
 * Not a test.
 *
 *   bench_load gen    --db C --data F [--creates N] [--offset O] [--edits E]
 *                     [--edit-lo L --edit-hi H] [--per-tx K] [--seed S]
 *       creates packages O..O+N-1 (package i is dataset i % ndatasets with its
 *       own id and name), then E edits round-robin over packages L..H-1
 *       (default: the ones just created): read the current dict, make one
 *       seeded random edit (title, notes, tags, groups, extras, resources),
 *       put it back. One transaction per revision, or K per transaction.
 *   bench_load steady --db C --data F --rate R --seconds T --edit-lo L --edit-hi H
 *       the same edits, paced at R revisions/s (open loop) for T seconds (it
 *       stops at T even if it could not keep up: "rate" says what it made).
 *   bench_load wait   --db C --sql Q --value V [--timeout S] [--interval-ms M]
 *       polls Q (one cell) on one connection until it is >= V (integers) or
 *       equal (text); prints the wall clock (epoch seconds) when it held.
 *   bench_load rss    PID...   prints VmHWM (peak RSS, kB) of each process.
 *
 * gen/steady print one JSON line: {"revisions":n,"seconds":s,"failed":f,...}. */
#include "pkg.h"
#include "store.h"
#include "../tests/pkgdata.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS "5b0c6a52-3a55-4d7e-9f0e-b3c1e0d2a001" /* bench package ids */

typedef struct opts {
	const char *db, *data, *sql, *value;
	long creates, offset, edits, edit_lo, edit_hi, per_tx;
	uint64_t seed;
	double rate, seconds, timeout;
	long interval_ms;
} opts;

static json_t *load_data(const char *path)
{
	size_t n = strlen(path);
	if (n > 3 && strcmp(path + n - 3, ".gz") == 0)
		return pd_load(path, 0);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *d = json_loads(line, 0, NULL);
		if (json_is_object(d))
			json_array_append_new(all, d);
		else
			json_decref(d);
	}
	free(line);
	fclose(f);
	return all;
}

static void pkg_id(size_t i, cks_uuid_str out)
{
	char k[32];
	int n = snprintf(k, sizeof(k), "pkg-%zu", i);
	cks_uuid_v5(NS, k, (size_t)n, out);
}

/* Package i: dataset i % n with its own id and name (the original name, made
 * unique and valid, keeps the search vector realistic). */
static json_t *make_package(json_t *all, size_t i)
{
	json_t *d = json_deep_copy(json_array_get(all, i % json_array_size(all)));
	const char *orig = json_string_value(json_object_get(d, "name"));
	char name[101], clean[64] = "";
	size_t k = 0;
	for (const char *p = orig ? orig : ""; *p && k < 40; p++)
		if (isalnum((unsigned char)*p) || *p == '-' || *p == '_')
			clean[k++] = (char)tolower((unsigned char)*p);
	clean[k] = '\0';
	snprintf(name, sizeof(name), "b%07zu-%s", i, clean);
	cks_uuid_str id;
	pkg_id(i, id);
	json_object_set_new(d, "id", json_string(id));
	json_object_set_new(d, "name", json_string(name));
	json_object_set_new(d, "private", json_false());
	json_object_del(d, "organization"); /* server-side expansion, not input */
	return d;
}

static int fail(const char *what, const char *e)
{
	fprintf(stderr, "bench_load: %s: %s\n", what, e);
	return 1;
}

/* One revision; on a permanent error counts it as failed and goes on. */
static cks_err put_one(cks_store *st, json_t *d, const char *msg, long *failed)
{
	char e[1024];
	cks_put_opts po = CKS_PUT_OPTS_INIT;
	po.author = "bench";
	po.message = msg;
	cks_err err = cks_store_put(st, d, &po, NULL, NULL, e, sizeof(e));
	if (err == CKS_ERR_PERMANENT || err == CKS_ERR_NOTFOUND) {
		if (++*failed <= 5)
			fprintf(stderr, "bench_load: put skipped: %s\n", e);
		return CKS_OK;
	}
	if (err)
		fprintf(stderr, "bench_load: put: %s\n", e);
	return err;
}

/* Edit number j: package lo + j % (hi - lo), current dict from the store. */
static cks_err edit_one(cks_store *st, const opts *o, long j, uint64_t *rng, long *failed)
{
	char e[1024];
	cks_uuid_str id;
	json_t *cur = NULL;
	pkg_id((size_t)(o->edit_lo + j % (o->edit_hi - o->edit_lo)), id);
	cks_err err = cks_store_show(st, id, NULL, &cur, e, sizeof(e));
	if (err == CKS_ERR_NOTFOUND) {
		++*failed;
		return CKS_OK;
	}
	if (err)
		return fail("show", e), err;
	pd_edit(cur, rng);
	err = put_one(st, cur, "edit", failed);
	json_decref(cur);
	return err;
}

static int64_t now_us(void)
{
	return cks_mono_us();
}

static int cmd_gen(const opts *o, bool steady)
{
	char e[1024];
	cks_store *st = NULL;
	json_t *all = load_data(o->data);
	if (!all || !json_array_size(all))
		return fail("data", o->data);
	if (cks_store_open(o->db, &st, e, sizeof(e)) || cks_store_check(st, e, sizeof(e)))
		return fail("open", e);
	long done = 0, failed = 0, ntx = 0;
	uint64_t rng = o->seed;
	int64_t t0 = now_us(), behind_max = 0;
	cks_err err = CKS_OK;
	bool in_tx = false;
#define TX_BEGIN()                                                                                 \
	if (o->per_tx > 1 && !in_tx) {                                                             \
		if ((err = cks_store_begin(st, e, sizeof(e))))                                     \
			break;                                                                     \
		in_tx = true;                                                                      \
	}
#define TX_END(force)                                                                              \
	if (in_tx && (force || ++ntx % o->per_tx == 0)) {                                          \
		if ((err = cks_store_commit(st, e, sizeof(e))))                                    \
			break;                                                                     \
		in_tx = false;                                                                     \
	}
	if (!steady) {
		for (long i = 0; i < o->creates && !err; i++) {
			TX_BEGIN();
			json_t *d = make_package(all, (size_t)(o->offset + i));
			err = put_one(st, d, "create", &failed);
			json_decref(d);
			done++;
			TX_END(false);
		}
		for (long j = 0; j < o->edits && !err; j++) {
			TX_BEGIN();
			err = edit_one(st, o, j, &rng, &failed);
			done++;
			TX_END(false);
		}
		if (!err)
			do {
				TX_END(true);
			} while (0);
	} else {
		double period_us = 1e6 / o->rate;
		long total = (long)(o->rate * o->seconds);
		int64_t end = t0 + (int64_t)(o->seconds * 1e6);
		for (long j = 0; j < total && !err; j++) {
			int64_t due = t0 + (int64_t)(j * period_us), now = now_us();
			if (now >= end)
				break; /* time-bounded: a writer that cannot keep up says so in
				          "rate" */
			if (due > now)
				usleep((useconds_t)(due - now));
			else if (now - due > behind_max)
				behind_max = now - due;
			err = edit_one(st, o, j, &rng, &failed);
			done++;
		}
	}
	double secs = (double)(now_us() - t0) / 1e6;
	if (in_tx)
		cks_store_rollback(st);
	cks_store_close(st);
	json_decref(all);
	if (err)
		return fail("gen", e);
	printf("{\"revisions\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"rate\":%.1f,"
	       "\"max_behind_ms\":%.1f}\n",
	       done - failed, failed, secs, secs > 0 ? (double)(done - failed) / secs : 0,
	       (double)behind_max / 1e3);
	return 0;
}

static int cmd_wait(const opts *o)
{
	PGconn *c = PQconnectdb(o->db);
	if (PQstatus(c) != CONNECTION_OK)
		return fail("connect", PQerrorMessage(c));
	char *end;
	long long want = strtoll(o->value, &end, 10);
	bool numeric = *o->value && !*end;
	int64_t t0 = now_us();
	for (;;) {
		PGresult *r = PQexec(c, o->sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "bench_load: wait: %s", PQerrorMessage(c));
			PQclear(r);
			PQfinish(c);
			return 1;
		}
		const char *v = PQntuples(r) ? PQgetvalue(r, 0, 0) : "";
		bool ok = numeric ? *v && strtoll(v, NULL, 10) >= want : strcmp(v, o->value) == 0;
		PQclear(r);
		if (ok)
			break;
		if ((double)(now_us() - t0) / 1e6 > o->timeout) {
			fprintf(stderr,
			        "bench_load: wait: timed out after %.0f s (last value '%s')\n",
			        o->timeout, v);
			PQfinish(c);
			return 1;
		}
		usleep((useconds_t)o->interval_ms * 1000);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%.6f\n", (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	PQfinish(c);
	return 0;
}

static int cmd_rss(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char path[64], line[256];
		long kb = -1;
		snprintf(path, sizeof(path), "/proc/%s/status", argv[i]);
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "VmHWM:", 6) == 0)
				kb = strtol(line + 6, NULL, 10);
		if (f)
			fclose(f);
		printf("%s%ld", i ? " " : "", kb);
	}
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	opts o = {.per_tx = 1,
	          .seed = 20261126,
	          .timeout = 600,
	          .interval_ms = 20,
	          .edit_lo = -1,
	          .edit_hi = -1};
	if (argc < 2) {
		fprintf(stderr,
		        "usage: bench_load gen|steady|wait|rss ... (see bench/bench_load.c)\n");
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "rss") == 0)
		return cmd_rss(argc - 2, argv + 2);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "bench_load: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--db"))
			o.db = v;
		else if (!strcmp(a, "--data"))
			o.data = v;
		else if (!strcmp(a, "--sql"))
			o.sql = v;
		else if (!strcmp(a, "--value"))
			o.value = v;
		else if (!strcmp(a, "--creates"))
			o.creates = atol(v);
		else if (!strcmp(a, "--offset"))
			o.offset = atol(v);
		else if (!strcmp(a, "--edits"))
			o.edits = atol(v);
		else if (!strcmp(a, "--edit-lo"))
			o.edit_lo = atol(v);
		else if (!strcmp(a, "--edit-hi"))
			o.edit_hi = atol(v);
		else if (!strcmp(a, "--per-tx"))
			o.per_tx = atol(v);
		else if (!strcmp(a, "--seed"))
			o.seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--rate"))
			o.rate = atof(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atof(v);
		else if (!strcmp(a, "--timeout"))
			o.timeout = atof(v);
		else if (!strcmp(a, "--interval-ms"))
			o.interval_ms = atol(v);
		else {
			fprintf(stderr, "bench_load: unknown option %s\n", a);
			return 2;
		}
	}
	if (!o.db) {
		fprintf(stderr, "bench_load: --db is required\n");
		return 2;
	}
	if (strcmp(cmd, "wait") == 0) {
		if (!o.sql || !o.value)
			return fail("wait", "--sql and --value are required");
		return cmd_wait(&o);
	}
	if (o.edit_lo < 0)
		o.edit_lo = o.offset;
	if (o.edit_hi < 0)
		o.edit_hi = o.offset + o.creates;
	if (!o.data || o.per_tx < 1 ||
	    ((o.edits > 0 || !strcmp(cmd, "steady")) && o.edit_hi <= o.edit_lo))
		return fail("usage",
		            "--data, --per-tx >= 1 and a non-empty edit range are required");
	if (strcmp(cmd, "gen") == 0)
		return cmd_gen(&o, false);
	if (strcmp(cmd, "steady") == 0) {
		if (o.rate <= 0 || o.seconds <= 0)
			return fail("steady", "--rate and --seconds are required");
		return cmd_gen(&o, true);
	}
	fprintf(stderr, "bench_load: unknown command %s\n", cmd);
	return 2;
}
