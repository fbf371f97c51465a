/* Unit tests for common/progress: the line's text (count, percentage, rate,
 * ETA, unknown total) and that nothing is written without a terminal FILE,
 * and at most one redraw per 250 ms. */
#include "harness.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_format(void **state)
{
	static const struct {
		int64_t count, done, total;
		double elapsed;
		const char *want;
	} cases[] = {
	    {0, 0, 100, 0, "import: 0 datasets, 0%"},
	    {300, 300, 1000, 1.0, "import: 300 datasets, 30%, 300/s, ETA 0:02"},
	    {1200, 40, 100, 4.0, "import: 1200 datasets, 40%, 300/s, ETA 0:06"},
	    {50, 50, -1, 2.0, "import: 50 datasets, 25/s"},         /* total unknown */
	    {10, 100, 100, 1.0, "import: 10 datasets, 100%, 10/s"}, /* done: no ETA */
	    {1, 1, 10000, 1.0, "import: 1 datasets, 0%, 1/s, ETA 2:46:39"},
	    {5, 5, 10, 0.1, "import: 5 datasets, 50%"}, /* too early for a rate */
	};
	char out[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cks_progress_format(out, sizeof(out), "import", "datasets", cases[i].count,
		                    cases[i].done, cases[i].total, cases[i].elapsed);
		assert_string_equal(out, cases[i].want);
	}
	char tiny[8];
	cks_progress_format(tiny, sizeof(tiny), "import", "datasets", 1, 1, 2, 1.0);
	assert_int_equal(strlen(tiny), 7); /* truncated, terminated */
}

static void test_quiet_and_rate_limited(void **state)
{
	cks_progress p;
	cks_progress_init(&p, NULL, "sync", "messages"); /* not a terminal */
	cks_progress_update(&p, 1, 1, 10);
	cks_progress_end(&p);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cks_progress_init(&p, f, "sync", "messages");
	for (int i = 0; i < 1000; i++)
		cks_progress_update(&p, i, i, 1000);
	cks_progress_end(&p);
	fclose(f);
	int draws = 0;
	for (size_t i = 0; i < len; i++)
		draws += buf[i] == '\r';
	assert_int_equal(draws, 2); /* one redraw (fast loop), one clear */
	assert_non_null(strstr(buf, "\rsync: 0 messages, 0%"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_quiet_and_rate_limited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
