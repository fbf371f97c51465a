/* Unit tests for common/avro_canon: Parsing Canonical Form and CRC-64-AVRO
 * against every case of the Avro specification's test vectors
 * (../shared/data/avro/schema-tests.txt), plus a few of our own. */
#include "harness.h"
#include "avro_canon.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One case of schema-tests.txt. Strings owned. */
struct vec {
	char *input;
	char *canonical;
	char *fingerprint; /* signed decimal, or NULL */
};

/* Reads "<<KEY rest" or a here-document "<<KEY\n...\nKEY" starting at line
 * *i; returns the owned text. */
static char *read_value(char **lines, size_t n, size_t *i, const char *key)
{
	const char *rest = lines[*i] + 2 + strlen(key);
	if (*rest == ' ')
		return cks_strdup(rest + 1);
	cks_buf b = CKS_BUF_INIT;
	for ((*i)++; *i < n && strcmp(lines[*i], key) != 0; (*i)++) {
		cks_buf_append(&b, lines[*i], strlen(lines[*i]));
		cks_buf_append(&b, "\n", 1);
	}
	return b.data ? b.data : cks_strdup("");
}

/* Parses the file into vecs; returns the count (0 if unreadable). */
static size_t load_vectors(const char *path, struct vec *v, size_t max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char **lines = NULL, *line = NULL;
	size_t n = 0, cap = 0, nv = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		lines = cks_realloc(lines, (n + 1) * sizeof(*lines));
		lines[n++] = cks_strdup(line);
	}
	free(line);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i];
		if (strncmp(l, "<<INPUT", 7) == 0) {
			assert_true(nv < max);
			v[nv++].input = read_value(lines, n, &i, "INPUT");
		} else if (strncmp(l, "<<canonical", 11) == 0 && nv) {
			v[nv - 1].canonical = read_value(lines, n, &i, "canonical");
		} else if (strncmp(l, "<<fingerprint", 13) == 0 && nv) {
			v[nv - 1].fingerprint = read_value(lines, n, &i, "fingerprint");
		}
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return nv;
}

static void test_spec_vectors(void **state)
{
	const char *path = h_data_path("avro/schema-tests.txt");
	if (!path) {
		print_message("skipped: ../shared/data/avro/schema-tests.txt is absent\n");
		skip();
	}
	struct vec v[128] = {{0}};
	size_t nv = load_vectors(path, v, 128);
	size_t nfp = 0;
	assert_true(nv >= 30); /* the spec file has 34 cases */
	for (size_t i = 0; i < nv; i++) {
		char err[256] = "";
		assert_non_null(v[i].canonical);
		char *c = cks_avro_canonical(v[i].input, err, sizeof(err));
		if (!c || strcmp(c, v[i].canonical) != 0)
			fail_msg("case %zu: input %s\n got  %s (%s)\n want %s", i, v[i].input,
			         c ? c : "NULL", err, v[i].canonical);
		if (v[i].fingerprint) {
			int64_t want = strtoll(v[i].fingerprint, NULL, 10);
			int64_t got = (int64_t)cks_avro_crc64(c, strlen(c));
			if (got != want)
				fail_msg("case %zu: fingerprint %" PRId64 ", want %" PRId64, i, got,
				         want);
			nfp++;
		}
		free(c);
		free(v[i].input);
		free(v[i].canonical);
		free(v[i].fingerprint);
	}
	print_message("%zu canonical forms, %zu fingerprints checked\n", nv, nfp);
}

static void test_own_cases(void **state)
{
	struct {
		const char *in, *want; /* want NULL: error expected */
	} cases[] = {
	    {"{\"type\":\"string\",\"logicalType\":\"uuid\"}", "\"string\""},
	    {"{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", "\"long\""},
	    {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":\"d\",\"fields\":"
	     "[{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\"]}},"
	     "{\"name\":\"f\",\"type\":\"E\"},{\"name\":\"g\",\"type\":\"c.F\"}]}",
	     "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":\"e\",\"type\":"
	     "{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"x\"]}},{\"name\":\"f\","
	     "\"type\":\"a.b.E\"},{\"name\":\"g\",\"type\":\"c.F\"}]}"},
	    {"{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"int\"}}",
	     "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"int\"}}"},
	    {"\"caf\\u00e9\"", "\"caf\xc3\xa9\""},
	    {"{\"type\":\"record\"}", NULL},
	    {"{\"type\":\"enum\",\"name\":\"E\"}", NULL},
	    {"not json", NULL},
	    {"42", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		char *c = cks_avro_canonical(cases[i].in, err, sizeof(err));
		if (cases[i].want) {
			assert_non_null(c);
			assert_string_equal(c, cases[i].want);
		} else {
			assert_null(c);
			assert_true(err[0] != 0);
		}
		free(c);
	}
}

static void test_crc64(void **state)
{
	/* "null" -> 7195948357588979594 (spec case 000); empty input -> the EMPTY constant */
	assert_int_equal((int64_t)cks_avro_crc64("\"null\"", 6), 7195948357588979594LL);
	assert_int_equal(cks_avro_crc64("", 0), 0xc15d213aa4d7a795ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec_vectors),
	    cmocka_unit_test(test_own_cases),
	    cmocka_unit_test(test_crc64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
