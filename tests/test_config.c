/* Unit tests for common/config and common/options: files, types, lists,
 * kafka.* passthrough, secrets, required settings, command-line parsing. */
#include "harness.h"
#include "config.h"
#include "consumer.h"
#include "kafka.h"
#include "log.h"
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_defaults_and_types(void **state)
{
	char err[256];
	cks_config *cfg = cks_config_new();
	assert_string_equal(cks_config_get(cfg, "topic-prefix"), "ckansync");
	assert_int_equal(cks_config_get_int(cfg, "batch-size"), 500);
	assert_false(cks_config_get_bool(cfg, "publish.private"));
	struct {
		const char *key, *value;
		cks_err want;
		const char *msg;
	} cases[] = {
	    {"batch-size", "100", CKS_OK, NULL},
	    {"batch-size", "ten", CKS_ERR_PERMANENT, "not a whole number"},
	    {"batch-size", "10x", CKS_ERR_PERMANENT, "not a whole number"},
	    {"publish.private", "yes", CKS_OK, NULL},
	    {"publish.private", "maybe", CKS_ERR_PERMANENT, "not a boolean"},
	    {"no-such-thing", "1", CKS_ERR_PERMANENT, "unknown setting 'no-such-thing'"},
	    {"kafka.security.protocol", "SASL_SSL", CKS_OK, NULL},
	    {"kafka.", "x", CKS_ERR_PERMANENT, "empty kafka"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    cks_config_set(cfg, cases[i].key, cases[i].value, err, sizeof(err)),
		    cases[i].want);
		if (cases[i].msg)
			assert_non_null(strstr(err, cases[i].msg));
	}
	assert_int_equal(cks_config_get_int(cfg, "batch-size"), 100);
	assert_true(cks_config_get_bool(cfg, "publish.private"));
	cks_config_destroy(cfg);
}

static void test_file_and_lists(void **state)
{
	char err[256];
	cks_config *cfg = cks_config_new();
	const char *text = "# comment\n\n"
	                   "brokers = 127.0.0.1:9092\n"
	                   "origin = A, B ,C\n"
	                   "kafka.sasl.password = s3cret\n"
	                   "  policy=origin-priority:A,B  \n";
	assert_int_equal(cks_config_load_string(cfg, text, "t.conf", err, sizeof(err)), CKS_OK);
	size_t n;
	const char *const *o = cks_config_get_list(cfg, "origin", &n);
	assert_int_equal(n, 3);
	assert_string_equal(o[0], "A");
	assert_string_equal(o[1], "B");
	assert_string_equal(o[2], "C");
	assert_string_equal(cks_config_get(cfg, "policy"), "origin-priority:A,B");
	size_t it = 0;
	const char *k, *v;
	assert_true(cks_config_kafka_next(cfg, &it, &k, &v));
	assert_string_equal(k, "sasl.password");
	assert_string_equal(v, "s3cret");
	assert_false(cks_config_kafka_next(cfg, &it, &k, &v));
	/* Errors name the file and line. */
	assert_int_equal(
	    cks_config_load_string(cfg, "batch-size = 1\nnonsense\n", "bad.conf", err, sizeof(err)),
	    CKS_ERR_PERMANENT);
	assert_string_equal(err, "bad.conf:2: expected 'key = value'");
	assert_int_equal(
	    cks_config_load_string(cfg, "\n\nbatch-size = x\n", "b.conf", err, sizeof(err)),
	    CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "b.conf:3: batch-size"));
	cks_config_destroy(cfg);
}

static void test_secrets(void **state)
{
	assert_true(cks_config_is_secret("db"));
	assert_true(cks_config_is_secret("kafka.sasl.password"));
	assert_true(cks_config_is_secret("kafka.ssl.key.password"));
	assert_false(cks_config_is_secret("kafka.security.protocol"));
	assert_false(cks_config_is_secret("brokers"));
	/* A readable file holding a secret is flagged; a private one is not. */
	char path[] = "/tmp/cks-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "kafka.sasl.password = hunter2\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char err[256];
	bool insecure = false;
	chmod(path, 0644);
	cks_config *cfg = cks_config_new();
	assert_int_equal(cks_config_load_file(cfg, path, &insecure, err, sizeof(err)), CKS_OK);
	assert_true(insecure);
	cks_config_destroy(cfg);
	chmod(path, 0600);
	cfg = cks_config_new();
	assert_int_equal(cks_config_load_file(cfg, path, &insecure, err, sizeof(err)), CKS_OK);
	assert_false(insecure);
	cks_config_destroy(cfg);
	unlink(path);
	/* --help never prints a secret's value. */
	cks_buf b = CKS_BUF_INIT;
	cks_config_help(&b, CKS_CFG_PRODUCER);
	assert_non_null(strstr(b.data, "--db V"));
	assert_null(strstr(b.data, "hunter2"));
	cks_buf_release(&b);
}

static void test_required_and_options(void **state)
{
	char err[256];
	cks_config *cfg = cks_config_new();
	assert_int_equal(cks_config_check_required(cfg, CKS_CFG_CONSUMER, err, sizeof(err)),
	                 CKS_ERR_FATAL);
	assert_non_null(strstr(err, "missing required setting 'db'"));
	char *argv[] = {"prog", "--db",     "dbname=x", "--brokers=h:1", "--origin",
	                "A",    "--origin", "B",        "--until-idle",  NULL};
	assert_int_equal(
	    cks_options_parse(9, argv, CKS_CFG_CONSUMER, "prog", "prog ...", cfg, err, sizeof(err)),
	    CKS_OPT_RUN);
	assert_int_equal(cks_config_check_required(cfg, CKS_CFG_CONSUMER, err, sizeof(err)),
	                 CKS_OK);
	size_t n;
	const char *const *o = cks_config_get_list(cfg, "origin", &n);
	assert_int_equal(n, 2);
	assert_string_equal(o[1], "B");
	assert_true(cks_config_get_bool(cfg, "until-idle"));
	assert_string_equal(cks_config_get(cfg, "brokers"), "h:1");
	char *bad1[] = {"prog", "--once", NULL}; /* producer-only option */
	assert_int_equal(
	    cks_options_parse(2, bad1, CKS_CFG_CONSUMER, "prog", "", cfg, err, sizeof(err)),
	    CKS_OPT_USAGE);
	assert_non_null(strstr(err, "unknown option '--once'"));
	char *bad2[] = {"prog", "--brokers", NULL};
	assert_int_equal(
	    cks_options_parse(2, bad2, CKS_CFG_CONSUMER, "prog", "", cfg, err, sizeof(err)),
	    CKS_OPT_USAGE);
	assert_non_null(strstr(err, "--brokers needs a value"));
	char *bad3[] = {"prog", "stray", NULL};
	assert_int_equal(
	    cks_options_parse(2, bad3, CKS_CFG_CONSUMER, "prog", "", cfg, err, sizeof(err)),
	    CKS_OPT_USAGE);
	cks_config_destroy(cfg);
}

/* The consumer's librdkafka settings: its defaults, an operator's kafka.*
 * over a default, never over a setting its correctness rests on. */
static void expect_conf(rd_kafka_conf_t *conf, const char *key, const char *want)
{
	char v[256];
	size_t n = sizeof(v);
	assert_int_equal(rd_kafka_conf_get(conf, key, v, &n), RD_KAFKA_CONF_OK);
	if (strcmp(v, want) != 0)
		fail_msg("%s = %s, want %s", key, v, want);
}

static void test_consumer_kafka_settings(void **state)
{
	char err[256];
	for (int operator= 0; operator<2; operator++) {
		cks_config *cfg = cks_config_new();
		if (operator)
			assert_int_equal(
			    cks_config_load_string(cfg,
			                           "kafka.queued.max.messages.kbytes = 4096\n"
			                           "kafka.enable.auto.commit = true\n"
			                           "kafka.auto.offset.reset = latest\n",
			                           "t.conf", err, sizeof(err)),
			    CKS_OK);
		rd_kafka_conf_t *conf = NULL;
		assert_int_equal(cks_kafka_conf_new(cfg, &conf, err, sizeof(err)), CKS_OK);
		assert_int_equal(cks_consumer_kafka_conf(cfg, "ckansync-B", conf, err, sizeof(err)),
		                 CKS_OK);
		expect_conf(conf, "group.id", "ckansync-B");
		expect_conf(conf, "queued.max.messages.kbytes", operator? "4096" : "16384");
		expect_conf(conf, "queued.min.messages", "100000");
		expect_conf(conf, "max.partition.fetch.bytes", "262144");
		expect_conf(conf, "fetch.wait.max.ms", "10");
		expect_conf(conf, "enable.auto.commit", "false");
		expect_conf(conf, "enable.auto.offset.store", "false");
		expect_conf(conf, "enable.partition.eof", "true");
		expect_conf(conf, "auto.offset.reset", "smallest"); /* = earliest */
		rd_kafka_conf_destroy(conf);
		cks_config_destroy(cfg);
	}
	(void)state;
}

/* The consumer's dead-letter producer gets every kafka.* of the consumer's
 * config: librdkafka's warning that a consumer property is ignored by a
 * producer is said at debug there (an operator who tunes the prefetch sees
 * no warning), and still at warn for any other producer. */
static bool quiet_conf;
static void make_side_producer(void)
{
	char err[256], e[256];
	cks_log_setup("t", CKS_LOG_WARN, CKS_LOG_TEXT);
	cks_config *cfg = cks_config_new();
	assert_int_equal(cks_config_load_string(cfg, "kafka.queued.min.messages = 5\n", "t.conf",
	                                        err, sizeof(err)),
	                 CKS_OK);
	rd_kafka_conf_t *conf = NULL;
	assert_int_equal(cks_kafka_conf_new(cfg, &conf, err, sizeof(err)), CKS_OK);
	if (quiet_conf)
		cks_kafka_conf_quiet_consumer_props(conf);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	assert_non_null(rk);
	rd_kafka_destroy(rk);
	cks_config_destroy(cfg);
}

static void test_side_producer_quiet(void **state)
{
	for (int quiet = 0; quiet < 2; quiet++) {
		quiet_conf = quiet;
		char *out = h_capture_stderr(make_side_producer);
		bool warned = strstr(out, "queued.min.messages is a consumer property") != NULL;
		if (warned == (bool)quiet)
			fail_msg("quiet %d: %s", quiet, out);
		free(out);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_and_types),
	    cmocka_unit_test(test_file_and_lists),
	    cmocka_unit_test(test_secrets),
	    cmocka_unit_test(test_required_and_options),
	    cmocka_unit_test(test_consumer_kafka_settings),
	    cmocka_unit_test(test_side_producer_quiet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
