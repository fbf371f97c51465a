/* Unit tests for the pure parts of the store: the origin instance id of a
 * followed topic, with and without a known prefix (prefixes and instance ids
 * may both contain dots) (store_ops.c). The JSON text of a parameter is
 * json_fast's cks_json_dumps (test_json_fast.c). */
#include "harness.h"
#include "store.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_topic_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
