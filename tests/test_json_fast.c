/* Unit: json_fast reads JSON text exactly as jansson's json_loadb(...,
 * JSON_DECODE_ANY | JSON_ALLOW_NUL) does, or leaves it to jansson: whenever
 * the fast reader returns a value, jansson returns the same (same types,
 * integer or real, key order, last of duplicate keys); it never accepts
 * what jansson refuses. Checked on crafted cases, on the samples and the
 * real datasets in PostgreSQL's jsonb text form and jansson's, and on
 * seeded random mutations of them (bytes changed, inserted, cut): about
 * 30,000 texts. And it writes what json_dumps(v, JSON_ENCODE_ANY |
 * JSON_COMPACT [| JSON_SORT_KEYS]) writes, byte for byte: crafted values,
 * keys that sort differently by byte, by locale or by strcmp (a NUL inside),
 * seeded random objects of hundreds of keys, the samples and real datasets. */
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

/* cks_json_dumps(v, ...) is json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT
 * [| JSON_SORT_KEYS]) in both orders, or both are NULL. */
static void same_dump(const json_t *v, const char *what)
{
	static const struct {
		cks_json_dump_flags ours;
		size_t jansson;
	} modes[] = {
	    {CKS_JSON_INSERTION_ORDER, JSON_ENCODE_ANY | JSON_COMPACT},
	    {CKS_JSON_SORT_KEYS, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS},
	};
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		char *want = json_dumps(v, modes[m].jansson);
		char *got = cks_json_dumps(v, modes[m].ours);
		if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
			fail_msg("%s (%s): jansson %s, ours %s", what,
			         modes[m].ours ? "sorted" : "unsorted", want ? want : "NULL",
			         got ? got : "NULL");
		free(want);
		free(got);
	}
}

static void test_dumps_crafted(void **state)
{
	static const char *const texts[] = {
	    "{}",
	    "[]",
	    "\"\"",
	    "{\"a\":[],\"b\":{},\"c\":[[],[{}]]}",
	    "\"plain\"",
	    "\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"",
	    "\"ctl \\u0001 \\u001f \\u0000 del \\u007f\"",
	    "\"caf\u00e9 \u4e2d\u6587 \\ud83d\\ude00 \\u2028 \\u2029 \\ufeff\"",
	    "[0,-1,9223372036854775807,-9223372036854775808]",
	    "[0.1,1.5e300,-2.0,1e-7,100.0,3.141592653589793,-0.0,2.5e-320]",
	    "[true,false,null]",
	    "{\"z\":1,\"a\":2,\"m\":{\"y\":true,\"b\":null}}",
	    "{\"k\\\"ey\":\"v\",\"\\u00e9\":\"\\n\",\"\\\\\":\"\\t\",\"\\n\":0}",
	    /* byte order, not the locale's nor case-folded: B < _ < a < aa < b < é < 中 < 😀 */
	    "{\"a\":1,\"B\":2,\"_\":3,\"\u00e9\":4,\"aa\":5,\"\":6,\"b\":7,\"A\":8,\"~\":9,"
	    "\"\u4e2d\":10,\"\\ud83d\\ude00\":11,\"\\u007f\":12,\"a b\":13,\"a\\u0001\":14,"
	    "\"Z\":15,\"0\":16,\"-\":17}",
	    "{\"a\":{\"c\":[{\"z\":1,\"y\":2}],\"b\":{\"d\":{\"f\":1,\"e\":2}}},\"0\":[{\"b\":1,"
	    "\"a\":[{\"d\":1,\"c\":2}]}]}",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_error_t e;
		json_t *v = json_loads(texts[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		if (!v)
			fail_msg("bad test JSON %s: %s", texts[i], e.text);
		same_dump(v, texts[i]);
		json_decref(v);
	}
	/* values jansson's parser cannot make: INT64 extremes as integers, NUL in keys */
	json_t *o = json_object();
	json_object_set_new(o, "max", json_integer(INT64_MAX));
	json_object_set_new(o, "min", json_integer(INT64_MIN));
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	json_object_setn_new(o, "a\0b", 3, json_integer(1));
	json_object_setn_new(o, "a\0", 2, json_integer(2));
	json_object_setn_new(o, "\0", 1, json_integer(3));
	json_object_setn_new(o, "", 0, json_integer(4));
	json_object_set_new(o, "a\x01", json_integer(5));
	json_object_set_new(o, "a", json_integer(6));
	same_dump(o, "NUL in keys");
	/* jansson's order spelt out, so a change on either side shows:
	 * memcmp, then the shorter first (strcmp would tie "a", "a\0", "a\0b") */
	char *got = cks_json_dumps(o, CKS_JSON_SORT_KEYS);
	assert_string_equal(got, "{\"\":4,\"\\u0000\":3,\"a\":6,\"a\\u0000\":2,\"a\\u0000b\":1,"
	                         "\"a\\u0001\":5,\"max\":9223372036854775807,"
	                         "\"min\":-9223372036854775808,\"nul\":\"a\\u0000b\"}");
	free(got);
	json_t *wrap = json_pack("[{sO}]", "in", o);
	same_dump(wrap, "nested NUL keys");
	json_decref(wrap);
	/* invalid UTF-8 in a value: NULL for both, in both orders */
	json_object_set_new(o, "bad", json_stringn_nocheck("\xff\xfe", 2));
	same_dump(o, "invalid UTF-8");
	json_decref(o);
	assert_null(cks_json_dumps(NULL, CKS_JSON_INSERTION_ORDER));
	assert_null(cks_json_dumps(NULL, CKS_JSON_SORT_KEYS));
}

/* A random key: 0-5 pieces, some sharing prefixes, one a NUL byte. */
static size_t random_key(uint64_t *seed, char *out)
{
	static const char *const pieces[] = {"a",
	                                     "B",
	                                     "_",
	                                     "\xc3\xa9",
	                                     "aa",
	                                     "A",
	                                     "z",
	                                     "~",
	                                     "0",
	                                     "\xe4\xb8\xad",
	                                     "\xf0\x9f\x98\x80",
	                                     "\xe2\x80\xa8",
	                                     "\x7f",
	                                     "\x01",
	                                     "\"",
	                                     "\\",
	                                     " ",
	                                     ""};
	size_t n = 0, pieces_n = (size_t)(pd_rand(seed) % 6);
	for (size_t p = 0; p < pieces_n; p++) {
		if (pd_rand(seed) % 12 == 0) {
			out[n++] = '\0';
			continue;
		}
		const char *s = PD_POOL(seed, pieces);
		memcpy(out + n, s, strlen(s));
		n += strlen(s);
	}
	return n;
}

/* A random value up to depth levels deep; objects of up to 150 keys. */
static json_t *random_value(uint64_t *seed, int depth)
{
	char key[64];
	switch (depth > 0 ? pd_rand(seed) % 8 : 4 + pd_rand(seed) % 4) {
	case 0:
	case 1: {
		json_t *o = json_object();
		size_t n = (size_t)(pd_rand(seed) % (pd_rand(seed) % 4 ? 8 : 150));
		for (size_t i = 0; i < n; i++) {
			size_t kl = random_key(seed, key);
			json_object_setn_new(o, key, kl, random_value(seed, depth - 1));
		}
		return o;
	}
	case 2:
	case 3: {
		json_t *a = json_array();
		for (size_t i = pd_rand(seed) % 5; i > 0; i--)
			json_array_append_new(a, random_value(seed, depth - 1));
		return a;
	}
	case 4: {
		size_t kl = random_key(seed, key);
		return json_stringn(key, kl);
	}
	case 5:
		return json_integer((json_int_t)pd_rand(seed));
	case 6:
		return json_real((double)(int64_t)pd_rand(seed) / 1e6);
	default:
		return pd_rand(seed) % 3 ? json_boolean(pd_rand(seed) % 2) : json_null();
	}
}

static void test_dumps_random(void **state)
{
	uint64_t seed = 7;
	size_t big = 0;
	for (int i = 0; i < 3000; i++) {
		json_t *v = random_value(&seed, 4);
		big += json_object_size(v) > 100;
		same_dump(v, "random value");
		json_decref(v);
	}
	/* one flat object of 500 keys, inserted in random order */
	json_t *o = json_object();
	char key[64];
	for (int i = 0; i < 500; i++) {
		size_t kl = random_key(&seed, key);
		json_object_setn_new(o, key, kl, json_integer(i));
	}
	assert_true(json_object_size(o) > 100);
	same_dump(o, "many keys");
	json_decref(o);
	assert_true(big > 0); /* some objects sorted past the stack array */
}

static void test_dumps_datasets(void **state)
{
	FILE *f = fopen(CKS_SOURCE_DIR "/tests/data/sample-datasets.jsonl", "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0, n = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *d = json_loads(line, 0, NULL);
		assert_non_null(d);
		same_dump(d, "sample dataset");
		json_decref(d);
		n++;
	}
	free(line);
	fclose(f);
	assert_true(n > 0);
	size_t i;
	json_t *d, *all;
	PD_LOAD_OR_SKIP(all, 0);
	json_array_foreach(all, i, d) same_dump(d, "real dataset");
	print_message("%zu real datasets dumped as jansson dumps them, both orders\n",
	              json_array_size(all));
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crafted),       cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_real_datasets), cmocka_unit_test(test_dumps_crafted),
	    cmocka_unit_test(test_dumps_random),  cmocka_unit_test(test_dumps_datasets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
