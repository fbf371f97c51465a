/* Integration: messages from the libraries reach the log module. A
 * PostgreSQL WARNING raised on a store connection is a warn line with
 * context "postgresql" (a NOTICE only at debug); librdkafka's errors (a
 * broker that refuses connections) are lines with context "librdkafka";
 * and a password in the conninfo or in kafka.* settings appears in none. */
#include "harness.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "pw-never-in-logs-4711"

/* Starts sending stderr to a file; stop_capture returns its text. */
static int saved_fd = -1, cap_fd = -1;
static char cap_path[] = "/tmp/cks-itest-log.XXXXXX";

static void start_capture(void)
{
	fflush(stderr);
	cap_fd = mkstemp(cap_path);
	saved_fd = dup(STDERR_FILENO);
	dup2(cap_fd, STDERR_FILENO);
}

static char *stop_capture(void)
{
	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	char *buf = calloc(1, 1 << 20);
	lseek(cap_fd, 0, SEEK_SET);
	ssize_t n = read(cap_fd, buf, (1 << 20) - 1);
	assert_true(n >= 0);
	close(cap_fd);
	unlink(cap_path);
	strcpy(cap_path, "/tmp/cks-itest-log.XXXXXX");
	return buf;
}

static void raise_(cks_store *st, const char *level, const char *text)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "DO $$BEGIN RAISE %s '%s'; END$$", level, text);
	PGresult *res = PQexec(cks_store_conn(st), sql); /* fixed test text, no data */
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
}

static void test_postgresql_notices(void **state)
{
	if (!h_services_available())
		skip();
	char db[512], conninfo[600], err[512];
	h_fresh_db_into(db, sizeof(db));
	snprintf(conninfo, sizeof(conninfo), "%s password=" SECRET, db);
	cks_store *st = NULL;
	start_capture();
	cks_log_setup("itest", CKS_LOG_INFO, CKS_LOG_TEXT);
	cks_err e = cks_store_open(conninfo, &st, err, sizeof(err));
	if (!e) {
		raise_(st, "WARNING", "disk nearly full");
		raise_(st, "NOTICE", "chatty notice");
		cks_log_setup("itest", CKS_LOG_DEBUG, CKS_LOG_TEXT);
		raise_(st, "NOTICE", "notice at debug");
	}
	cks_store_close(st);
	char *out = stop_capture();
	cks_log_setup("itest", CKS_LOG_WARN, CKS_LOG_TEXT);
	assert_int_equal(e, CKS_OK);
	assert_non_null(strstr(out, "itest warn [postgresql]: WARNING: disk nearly full\n"));
	assert_null(strstr(out, "chatty notice"));
	assert_non_null(strstr(out, "itest debug [postgresql]: NOTICE: notice at debug\n"));
	assert_null(strstr(out, SECRET));
	free(out);
}

static void test_librdkafka_errors(void **state)
{
	char err[512];
	cks_config *cfg = cks_config_new();
	/* Nothing listens on port 1: librdkafka reports the refused connection. */
	assert_int_equal(cks_config_set(cfg, "brokers", "127.0.0.1:1", err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_config_set(cfg, "kafka.sasl.password", SECRET, err, sizeof(err)),
	                 CKS_OK);
	assert_int_equal(
	    cks_config_set(cfg, "kafka.security.protocol", "sasl_plaintext", err, sizeof(err)),
	    CKS_OK);
	assert_int_equal(cks_config_set(cfg, "kafka.sasl.mechanisms", "PLAIN", err, sizeof(err)),
	                 CKS_OK);
	assert_int_equal(cks_config_set(cfg, "kafka.sasl.username", "u", err, sizeof(err)), CKS_OK);
	rd_kafka_conf_t *conf = NULL;
	start_capture();
	cks_log_setup("itest", CKS_LOG_DEBUG, CKS_LOG_JSON);
	assert_int_equal(cks_kafka_conf_new(cfg, &conf, err, sizeof(err)), CKS_OK);
	assert_int_equal(cks_kafka_conf_set(conf, "debug", "broker,security", err, sizeof(err)),
	                 CKS_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(rk);
	for (int i = 0; i < 20; i++)
		rd_kafka_poll(rk, 100); /* error_cb is served from poll */
	rd_kafka_destroy(rk);
	char *out = stop_capture();
	cks_log_setup("itest", CKS_LOG_WARN, CKS_LOG_TEXT);
	assert_non_null(strstr(out, "\"context\":\"librdkafka\""));
	assert_non_null(strstr(out, "127.0.0.1:1"));
	assert_null(strstr(out, SECRET));
	free(out);
	cks_config_destroy(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_postgresql_notices),
	    cmocka_unit_test(test_librdkafka_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
