/* Unit: json_fast reads JSON text exactly as jansson's json_loadb(...,
 * JSON_DECODE_ANY | JSON_ALLOW_NUL) does, or leaves it to jansson: whenever
 * the fast reader returns a value, jansson returns the same (same types,
 * integer or real, key order, last of duplicate keys); it never accepts
 * what jansson refuses. Checked on crafted cases, on the samples and the
 * real datasets in PostgreSQL's jsonb text form and jansson's, and on
 * seeded random mutations of them (bytes changed, inserted, cut): about
 * 30,000 texts. */
#include "harness.h"
#include "json_fast.h"
#include "pkgdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t JFLAGS = JSON_DECODE_ANY | JSON_ALLOW_NUL;

/* the value's exact text: types, key order, integer or real all show */
static char *exact(const json_t *v)
{
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* fast must be NULL or exactly what jansson reads; returns whether fast read it */
static bool check(const char *s, size_t n, const char *what)
{
	json_t *f = cks_json_fast_only(s, n);
	json_t *j = json_loadb(s, n, JFLAGS, NULL);
	bool got = f != NULL;
	if (f) {
		if (!j)
			fail_msg("%s: fast read %.*s, jansson refuses it", what,
			         (int)(n > 200 ? 200 : n), s);
		char *a = exact(f), *b = exact(j);
		if (!a || !b || strcmp(a, b) != 0 || !json_equal(f, j))
			fail_msg("%s: fast %s, jansson %s", what, a ? a : "?", b ? b : "?");
		free(a);
		free(b);
	}
	json_decref(f);
	json_decref(j);
	return got;
}

static void test_crafted(void **state)
{
	static const char *const ok[] = {"{}",
	                                 "[]",
	                                 " { \"a\" : [ 1 , 2 ] }\n",
	                                 "0",
	                                 "-0",
	                                 "-1",
	                                 "123456789012345678",
	                                 "9223372036854775807",
	                                 "-9223372036854775808",
	                                 "0.5",
	                                 "-0.0",
	                                 "1e5",
	                                 "1E+5",
	                                 "1e-5",
	                                 "2.5e-400", /* underflow: jansson keeps it */
	                                 "3.141592653589793238462643383279",
	                                 "true",
	                                 "false",
	                                 "null",
	                                 "\"\"",
	                                 "\"plain\"",
	                                 "\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
	                                 "\"\\u00e9\\u4e2d\\u0041\"",
	                                 "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"",
	                                 "\"nul \\u0000 inside\"",
	                                 "{\"a\":1,\"a\":2}", /* last wins, first place */
	                                 "{\"z\":1,\"a\":{\"y\":[],\"b\":null}}",
	                                 "[[[[[]]]]]",
	                                 "{\"\":\"\"}",
	                                 "{\"k\\u00e9y\":\"v\\n\",\"k2\":\"x\"}",
	                                 "[1.0, 10, 1e2, -0.25]"};
	static const char *const bad[] = {"",
	                                  " ",
	                                  "{",
	                                  "}",
	                                  "[1,]",
	                                  "{\"a\":1,}",
	                                  "{\"a\" 1}",
	                                  "{a:1}",
	                                  "01",
	                                  "-",
	                                  "+1",
	                                  ".5",
	                                  "1.",
	                                  "1.e5",
	                                  "1e",
	                                  "1e+",
	                                  "0x10",
	                                  "tru",
	                                  "truex",
	                                  "nul",
	                                  "True",
	                                  "[1 2]",
	                                  "\"open",
	                                  "\"bad \\x\"",
	                                  "\"\\u12\"",
	                                  "\"\\ud800\"",
	                                  "\"\\udc00\"",
	                                  "\"ctl \x01\"",
	                                  "\"\xff\xfe\"",
	                                  "\"\xc0\xaf\"",
	                                  "1 2",
	                                  "{} x",
	                                  "9223372036854775808",
	                                  "-9223372036854775809",
	                                  "1e400",
	                                  "-1e400",
	                                  "{\"n\\u0000l\":1}",
	                                  "[\"a\"]]",
	                                  "\x00"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		check(ok[i], strlen(ok[i]), ok[i]);
		json_t *j = json_loadb(ok[i], strlen(ok[i]), JFLAGS, NULL);
		assert_non_null(j); /* the cases are valid JSON */
		json_decref(j);
	}
	/* the ones the fast reader must read itself (not leave to jansson) */
	static const char *const fast[] = {"{\"a\":[1,2.5,\"x\\n\",true,null]}", "\"\\u00e9\"",
	                                   "-12", "1e5", "{\"a\":1,\"a\":2}"};
	for (size_t i = 0; i < sizeof(fast) / sizeof(fast[0]); i++)
		assert_true(check(fast[i], strlen(fast[i]), fast[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]) + (bad[i][0] == '\0' && i > 0 ? 1 : 0);
		json_t *f = cks_json_fast_only(bad[i], n);
		if (f)
			fail_msg("fast read invalid or jansson-refused text %s", bad[i]);
		json_error_t e;
		json_t *v = cks_json_loadb(bad[i], n, &e);
		json_t *j = json_loadb(bad[i], n, JFLAGS, NULL);
		assert_true((v == NULL) == (j == NULL)); /* jansson decides */
		json_decref(v);
		json_decref(j);
	}
	/* deeper than the fast reader goes: left to jansson, same value */
	char deep[4000];
	size_t d = 0;
	for (int i = 0; i < 1000; i++)
		deep[d++] = '[';
	for (int i = 0; i < 1000; i++)
		deep[d++] = ']';
	assert_false(cks_json_fast_only(deep, d));
	json_t *v = cks_json_loadb(deep, d, NULL);
	assert_non_null(v);
	json_decref(v);
}

/* Every text form of the datasets: jansson's compact and indented dumps
 * and PostgreSQL's jsonb text (", " and ": "), then seeded mutations. */
static void run_corpus(json_t *all, size_t mutations)
{
	size_t i, fast = 0, total = 0;
	json_t *d;
	uint64_t seed = 42;
	json_array_foreach(all, i, d)
	{
		char *forms[3] = {json_dumps(d, JSON_COMPACT), json_dumps(d, JSON_INDENT(2)),
		                  json_dumps(d, 0)}; /* 0: ", " and ": ", as jsonb::text */
		for (int f = 0; f < 3; f++) {
			assert_non_null(forms[f]);
			size_t n = strlen(forms[f]);
			assert_true(check(forms[f], n, "dataset"));
			fast++, total++;
		}
		for (size_t m = 0; m < mutations; m++) {
			char *t = forms[m % 3];
			size_t n = strlen(t), k = (size_t)(pd_rand(&seed) % n);
			char *c = malloc(n + 2);
			memcpy(c, t, n + 1);
			static const char pool[] = "{}[]\",:\\u0e-+.1 \x01\xc3\xff";
			switch (pd_rand(&seed) % 3) {
			case 0:
				c[k] = pool[pd_rand(&seed) % (sizeof(pool) - 1)];
				break;
			case 1:
				n = k;
				break; /* cut */
			default:
				memmove(c + k + 1, c + k, n - k + 1);
				c[k] = pool[pd_rand(&seed) % (sizeof(pool) - 1)];
				n++;
			}
			fast += check(c, n, "mutation");
			total++;
			free(c);
		}
		for (int f = 0; f < 3; f++)
			free(forms[f]);
	}
	print_message("%zu texts, %zu read by the fast reader, the rest left to jansson\n", total,
	              fast);
}

static void test_samples(void **state)
{
	FILE *f = fopen(CKS_SOURCE_DIR "/tests/data/sample-datasets.jsonl", "r");
	assert_non_null(f);
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0)
		json_array_append_new(all, json_loads(line, 0, NULL));
	free(line);
	fclose(f);
	assert_true(json_array_size(all) > 0);
	run_corpus(all, 2000);
	json_decref(all);
}

static void test_real_datasets(void **state)
{
	json_t *all;
	PD_LOAD_OR_SKIP(all, 0);
	run_corpus(all, 15);
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crafted),
	    cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_real_datasets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
