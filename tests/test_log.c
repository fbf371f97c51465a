/* Unit tests for common/log: the level threshold (arguments not evaluated
 * below it), text and JSON line formats with program, pid, instance and
 * context, JSON escaping of hostile text, and one line per event. */
#include "harness.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int evaluated;
static int side_effect(void)
{
	return ++evaluated;
}

static void log_levels(void)
{
	cks_log_setup("prog", CKS_LOG_WARN, CKS_LOG_TEXT);
	cks_log_set_instance(NULL);
	CKS_LOG(CKS_LOG_DEBUG, NULL, "debug %d", side_effect());
	CKS_LOG(CKS_LOG_INFO, NULL, "info %d", side_effect());
	CKS_LOG(CKS_LOG_WARN, "ctx[0]@1", "warn %d", side_effect());
	CKS_LOG(CKS_LOG_ERROR, NULL, "error");
}

static void test_levels_and_text(void **state)
{
	evaluated = 0;
	char *out = h_capture_stderr(log_levels);
	assert_int_equal(evaluated, 1); /* below the threshold: not evaluated */
	assert_null(strstr(out, "debug"));
	assert_null(strstr(out, "info"));
	assert_non_null(strstr(out, "Z prog warn [ctx[0]@1]: warn 1\n"));
	assert_non_null(strstr(out, "Z prog error: error\n"));
	assert_null(strchr(out, '\r')); /* not a terminal: no line clearing */
	free(out);
}

static void log_json(void)
{
	cks_log_setup("ckansync-consumer", CKS_LOG_DEBUG, CKS_LOG_JSON);
	cks_log_set_instance("B");
	CKS_LOG(CKS_LOG_INFO, "t.A.revisions[2]@7", "quote \" backslash \\ newline \n tab \t end");
	CKS_LOG(CKS_LOG_DEBUG, NULL, "no context");
	cks_log_set_instance(NULL);
}

static void test_json(void **state)
{
	char *out = h_capture_stderr(log_json);
	char want[256];
	snprintf(
	    want, sizeof(want),
	    "\"level\":\"info\",\"program\":\"ckansync-consumer\",\"pid\":%d,\"instance\":\"B\","
	    "\"context\":\"t.A.revisions[2]@7\",\"msg\":\"quote \\\" backslash \\\\ newline "
	    "\\u000a tab \\u0009 end\"}\n",
	    (int)getpid());
	if (!strstr(out, want))
		fail_msg("want %s in %s", want, out);
	assert_non_null(strstr(out, "\"level\":\"debug\""));
	assert_non_null(strstr(out, "\"msg\":\"no context\"}\n"));
	/* two events, two lines, each a {...} object starting with the time */
	assert_int_equal(strncmp(out, "{\"ts\":\"", 7), 0);
	int lines = 0;
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2);
	free(out);
}

static void log_instance_text(void)
{
	cks_log_setup("ckansync-producer", CKS_LOG_INFO, CKS_LOG_TEXT);
	cks_log_set_instance("A");
	CKS_LOG(CKS_LOG_INFO, NULL, "publishing");
	cks_log_set_instance(NULL);
}

static void test_instance_text(void **state)
{
	char *out = h_capture_stderr(log_instance_text);
	assert_non_null(strstr(out, "Z ckansync-producer@A info: publishing\n"));
	free(out);
}

static void test_level_parse(void **state)
{
	cks_log_level l;
	assert_true(cks_log_level_parse("debug", &l) && l == CKS_LOG_DEBUG);
	assert_true(cks_log_level_parse("error", &l) && l == CKS_LOG_ERROR);
	assert_false(cks_log_level_parse("verbose", &l));
	assert_false(cks_log_level_parse("", &l));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_levels_and_text),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_instance_text),
	    cmocka_unit_test(test_level_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
