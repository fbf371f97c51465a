/* Unit tests for the pure parts of the store: the origin instance id of a
 * followed topic, with and without a known prefix (prefixes and instance ids
 * may both contain dots) (store_ops.c); the JSON text of a parameter
 * (store.c, cks_sti_dumps), byte for byte jansson's compact dump. */
#include "harness.h"
#include "pkgdata.h"
#include "store.h"
#include "store_int.h"

#include <string.h>

static void test_topic_origin(void **state)
{
	static const struct {
		const char *topic, *prefix, *want;
	} cases[] = {
	    {"ckansync.A.revisions", "ckansync", "A"},
	    {"ckansync.A.objects", "ckansync", "A"},
	    {"ckansync.data.gov.uk.revisions", "ckansync", "data.gov.uk"},
	    {"prod.sync.B.revisions", "prod.sync", "B"},
	    {"prod.sync.B.revisions", NULL, "B"},       /* no prefix: last component */
	    {"prod.sync.B.revisions", "ckansync", "B"}, /* prefix does not match */
	    {"other.C.revisions", "ckansync", "C"},
	    {"plain", NULL, "plain"},
	    {"ckansync.revisions", "ckansync", "ckansync"}, /* no origin part: the rest */
	};
	char out[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cks_store_topic_origin(cases[i].topic, cases[i].prefix, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s (prefix %s): got '%s', want '%s'", cases[i].topic,
			         cases[i].prefix ? cases[i].prefix : "-", out, cases[i].want);
	}
	char tiny[3];
	cks_store_topic_origin("ckansync.ABCDEF.revisions", "ckansync", tiny, sizeof(tiny));
	assert_string_equal(tiny, "AB");
}

/* cks_sti_dumps(v) is json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), or
 * both are NULL. */
static void same_as_jansson(const json_t *v, const char *what)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	char *got = cks_sti_dumps(v);
	if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
		fail_msg("%s: jansson %s, ours %s", what, want ? want : "NULL", got ? got : "NULL");
	free(want);
	free(got);
}

static void test_dumps_like_jansson(void **state)
{
	static const char *const texts[] = {
	    "{}",
	    "[]",
	    "{\"a\":[],\"b\":{},\"c\":[[],[{}]]}",
	    "\"plain\"",
	    "\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"",
	    "\"ctl \\u0001 \\u001f del \\u007f\"",
	    "\"caf\u00e9 \u4e2d\u6587 \\ud83d\\ude00 \\u2028\"",
	    "[0,-1,9223372036854775807,-9223372036854775808]",
	    "[0.1,1.5e300,-2.0,1e-7,100.0,3.141592653589793]",
	    "[true,false,null]",
	    "{\"z\":1,\"a\":2,\"m\":{\"y\":true,\"b\":null}}", /* insertion order kept */
	    "{\"k\\\"ey\":\"v\",\"\\u00e9\":\"\\n\"}",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_error_t e;
		json_t *v = json_loads(texts[i], JSON_DECODE_ANY, &e);
		if (!v)
			fail_msg("bad test JSON %s: %s", texts[i], e.text);
		same_as_jansson(v, texts[i]);
		json_decref(v);
	}
	/* a NUL inside a string, a key with a NUL, and invalid UTF-8 (NULL for both) */
	json_t *o = json_object();
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	json_object_setn_new(o, "k\0y", 3, json_true());
	same_as_jansson(o, "NUL");
	json_object_set_new(o, "bad", json_stringn_nocheck("\xff\xfe", 2));
	same_as_jansson(o, "invalid UTF-8");
	json_decref(o);
	assert_null(cks_sti_dumps(NULL));
	/* the sample datasets (always here) and the real ones (where present) */
	FILE *f = fopen(CKS_SOURCE_DIR "/tests/data/sample-datasets.jsonl", "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0, n = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *d = json_loads(line, 0, NULL);
		assert_non_null(d);
		same_as_jansson(d, "sample dataset");
		json_decref(d);
		n++;
	}
	free(line);
	fclose(f);
	assert_true(n > 0);
	size_t i;
	json_t *d, *all;
	const char *real = h_data_path("depositar-datasets.jsonl.gz");
	if (!real)
		return;
	all = pd_load(real, 0);
	assert_non_null(all);
	json_array_foreach(all, i, d) same_as_jansson(d, "real dataset");
	print_message("%zu real datasets dumped as jansson dumps them\n", json_array_size(all));
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_topic_origin),
	    cmocka_unit_test(test_dumps_like_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
