/* bench_merge — throughput of diff, apply, canonical text and 3-way merge
 * over the real CKAN datasets (../shared/data/depositar-datasets.jsonl.gz,
 * or the path given as argv[1]), each against seeded random edits of itself.
 * Prints a table; not a test. Usage: bench_merge [FILE.jsonl.gz] [ROUNDS] */
#include "diff.h"
#include "merge.h"
#include "pkg.h"
#include "../tests/pkgdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_set {
	json_t *b, *x, *y; /* owned: base, local, remote */
} bench_set;

static void row(const char *what, size_t n, int64_t us, size_t bytes)
{
	double s = (double)us / 1e6;
	printf("%-22s %10zu %10.3f %12.0f", what, n, s, s > 0 ? (double)n / s : 0.0);
	if (bytes)
		printf(" %10.1f", s > 0 ? (double)bytes / s / 1e6 : 0.0);
	printf("\n");
}

/* ../shared/data next to the source tree ($CKS_SOURCE_DIR, else found from
 * this file's path, which CMake passes absolute). */
static const char *default_path(void)
{
	static char path[4096];
	const char *src = getenv("CKS_SOURCE_DIR"), *cut = strstr(__FILE__, "/bench/");
	int len = src ? (int)strlen(src) : cut ? (int)(cut - __FILE__) : 1;
	snprintf(path, sizeof(path), "%.*s/../shared/data/depositar-datasets.jsonl.gz", len,
	         src   ? src
	         : cut ? __FILE__
	               : ".");
	return path;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : default_path();
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	json_t *all = pd_load(path, 0);
	if (!all || json_array_size(all) == 0) {
		fprintf(stderr, "bench_merge: cannot read %s\n", path);
		return 1;
	}
	size_t n = json_array_size(all), bytes = 0, nconf = 0, nops = 0;
	uint64_t rng = 20240501;
	bench_set *sets = calloc(n, sizeof(*sets));
	for (size_t i = 0; i < n; i++) {
		sets[i].b = json_incref(json_array_get(all, i));
		sets[i].x = pd_mutate(sets[i].b, &rng, 6);
		sets[i].y = pd_mutate(sets[i].b, &rng, 6);
		char *c = cks_json_canonical(sets[i].b);
		bytes += strlen(c);
		free(c);
	}
	cks_policy pol;
	char err[256];
	if (cks_policy_parse("origin-priority:A,B", &pol, err, sizeof(err)) != CKS_OK)
		return 1;
	printf("bench_merge: %zu datasets (%.1f MB canonical JSON), %d rounds, seed 20240501\n", n,
	       (double)bytes / 1e6, rounds);
	printf("%-22s %10s %10s %12s %10s\n", "operation", "count", "seconds", "per second",
	       "MB/s");

	int64_t t0 = cks_mono_us();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			char *c = cks_json_canonical(sets[i].b);
			free(c);
		}
	row("canonical", n * rounds, cks_mono_us() - t0, bytes * rounds);

	t0 = cks_mono_us();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			json_t *d = cks_diff(sets[i].b, sets[i].x);
			nops += json_array_size(d);
			json_decref(d);
		}
	row("diff (edited)", n * rounds, cks_mono_us() - t0, bytes * rounds);

	t0 = cks_mono_us();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			json_t *d = cks_diff(NULL, sets[i].b);
			json_decref(d);
		}
	row("diff (from nothing)", n * rounds, cks_mono_us() - t0, bytes * rounds);

	json_t **diffs = calloc(n, sizeof(*diffs));
	for (size_t i = 0; i < n; i++)
		diffs[i] = cks_diff(sets[i].b, sets[i].x);
	t0 = cks_mono_us();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			json_t *out = NULL;
			if (cks_diff_apply(sets[i].b, diffs[i], &out, err, sizeof(err)) != CKS_OK) {
				fprintf(stderr, "bench_merge: apply: %s\n", err);
				return 1;
			}
			json_decref(out);
		}
	row("apply", n * rounds, cks_mono_us() - t0, bytes * rounds);

	t0 = cks_mono_us();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			cks_merge_side l = {sets[i].x, "B", 2,
			                    "bbbbbbbb-0000-4000-8000-000000000000"};
			cks_merge_side rr = {sets[i].y, "A", 1,
			                     "aaaaaaaa-0000-4000-8000-000000000000"};
			cks_merge_result res = CKS_MERGE_RESULT_INIT;
			if (cks_merge(sets[i].b, &l, &rr, &pol, &res, err, sizeof(err)) != CKS_OK) {
				fprintf(stderr, "bench_merge: merge: %s\n", err);
				return 1;
			}
			nconf += res.nconflicts;
			cks_merge_result_release(&res);
		}
	row("merge (3-way)", n * rounds, cks_mono_us() - t0, bytes * rounds);
	printf("(%.1f diff ops and %.2f conflicts per edited dataset)\n",
	       (double)nops / (double)(n * rounds), (double)nconf / (double)(n * rounds));

	for (size_t i = 0; i < n; i++) {
		json_decref(diffs[i]);
		json_decref(sets[i].b);
		json_decref(sets[i].x);
		json_decref(sets[i].y);
	}
	free(diffs);
	free(sets);
	json_decref(all);
	return 0;
}
