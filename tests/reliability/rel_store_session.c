/* Reliability: the PostgreSQL session every daemon and command opens
 * (cks_store_open) is set up for many small statements: UTC, UTF-8 and no
 * JIT. With PostgreSQL's default jit = on, the recursive history queries of
 * a merge (huge cost estimates) were JIT-compiled on every call: 1.6 s per
 * merge on the test machine for a 0.1 s query, so a crash-and-restart
 * recovery through a history with merges crawled. */
#include "harness.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *show(cks_store *st, const char *setting)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "SHOW %s", setting); /* fixed names only */
	PGresult *res = PQexec(cks_store_conn(st), sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	char *v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void test_session_settings(void **state)
{
	if (!h_services_available())
		skip();
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(h_fresh_db(), &st, err, sizeof(err)))
		fail_msg("open: %s", err);
	const char *want[][2] = {{"jit", "off"}, {"TimeZone", "UTC"}, {"client_encoding", "UTF8"}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *v = show(st, want[i][0]);
		if (strcmp(v, want[i][1]) != 0)
			fail_msg("%s = %s, want %s", want[i][0], v, want[i][1]);
		free(v);
	}
	cks_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
