/* Broker faults under the daemons' own loops (common/producer.c and
 * common/consumer.c), injected with librdkafka's mock cluster
 * (rdkafka_mock.h): request errors, every broker down (at start and
 * mid-stream), responses that come too late (client-side timeouts), a
 * permanent produce error, group coordinator errors. Each time nothing may be
 * lost: every revision reaches the topic (exactly once where the mock can
 * tell), the producer's cursor ends on the last one, a mirror synced through
 * the faults equals the origin (history included), and the log says what
 * happened without flooding. PostgreSQL is real (h_fresh_db); Kafka is the
 * mock, so the test makes the topics and the daemons run with
 * create-topics = false (the mock has no controller for admin requests). */
#include "harness.h"
#include "consumer.h"
#include "log.h"
#include "producer.h"
#include "store.h"

#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NREV 120 /* revisions in the origin's outbox */

/* Kafka protocol API keys (librdkafka does not install rdkafka_protocol.h). */
enum {
	API_PRODUCE = 0,
	API_FETCH = 1,
	API_OFFSET_COMMIT = 8,
	API_JOIN_GROUP = 11,
	API_HEARTBEAT = 12,
	API_SYNC_GROUP = 14,
};

typedef struct fixture {
	rd_kafka_t *mrk; /* owns the mock cluster */
	rd_kafka_mock_cluster_t *mc;
	char brokers[256];
	char db[512];     /* origin A */
	char mirror[512]; /* mirror B */
	char prefix[64];
	char topic[128];
	char logpath[64];
	int saved_stderr;
} fixture;

/* One daemon run in a thread. */
typedef struct daemon_run {
	cks_config *cfg;
	bool consumer;
	volatile sig_atomic_t stop;
	volatile int done;
	cks_err err;
	char errstr[512];
	cks_producer_stats pstats;
	cks_consumer_stats cstats;
} daemon_run;

typedef void (*fault_fn)(fixture *f, int step);

static void put_origin(const char *db, int n)
{
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(db, &st, err, sizeof(err)) || cks_store_init(st, "A", err, sizeof(err)))
		fail_msg("init: %s", err);
	for (int i = 0; i < n; i++) {
		char name[32], title[64];
		cks_uuid_str rev;
		cks_put_opts o = CKS_PUT_OPTS_INIT;
		snprintf(name, sizeof(name), "mock-%d", i % 40);
		snprintf(title, sizeof(title), "edit %d", i);
		json_t *d = json_pack("{s:s, s:s, s:[{s:s}]}", "name", name, "title", title, "tags",
		                      "name", i % 2 ? "odd" : "even");
		if (cks_store_put(st, d, &o, rev, NULL, err, sizeof(err)))
			fail_msg("put: %s", err);
		json_decref(d);
	}
	cks_store_close(st);
}

static void fixture_init(fixture *f)
{
	char err[512];
	memset(f, 0, sizeof(*f));
	f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
	assert_non_null(f->mrk);
	f->mc = rd_kafka_mock_cluster_new(f->mrk, 3);
	assert_non_null(f->mc);
	snprintf(f->brokers, sizeof(f->brokers), "%s", rd_kafka_mock_cluster_bootstraps(f->mc));
	snprintf(f->prefix, sizeof(f->prefix), "%s", h_topic_prefix());
	snprintf(f->topic, sizeof(f->topic), "%s.A.revisions", f->prefix);
	const char *suffix[] = {"A.revisions", "A.objects", "conflicts", "deadletter"};
	for (int i = 0; i < 4; i++) {
		char t[128];
		snprintf(t, sizeof(t), "%s.%s", f->prefix, suffix[i]);
		assert_int_equal(rd_kafka_mock_topic_create(f->mc, t, 3, 3), 0);
	}
	h_fresh_db_into(f->db, sizeof(f->db));
	put_origin(f->db, NREV);
	h_fresh_db_into(f->mirror, sizeof(f->mirror));
	cks_store *st = NULL;
	if (cks_store_open(f->mirror, &st, err, sizeof(err)) ||
	    cks_store_init(st, "B", err, sizeof(err)))
		fail_msg("init: %s", err);
	cks_store_close(st);
}

static void fixture_release(fixture *f)
{
	rd_kafka_mock_cluster_destroy(f->mc);
	rd_kafka_destroy(f->mrk);
}

static cks_config *daemon_config(fixture *f, bool consumer)
{
	cks_config *cfg = cks_config_new();
	const char *settings[][2] = {
	    {"db", consumer ? f->mirror : f->db},
	    {"brokers", f->brokers},
	    {"topic-prefix", f->prefix},
	    {"create-topics", "false"},
	    {"batch-size", "50"},
	    {consumer ? "until-idle" : "once", "true"},
	    {consumer ? "origin" : "log-level", consumer ? "A" : "info"},
	};
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (cks_config_set(cfg, settings[i][0], settings[i][1], NULL, 0))
			fail_msg("config %s", settings[i][0]);
	return cfg;
}

/* The daemon's log (stderr) goes to a file while it runs. */
static void capture_log(fixture *f, const char *program)
{
	static int nlog;
	snprintf(f->logpath, sizeof(f->logpath), "/tmp/cks-mock-%d-%d.log", (int)getpid(), ++nlog);
	fflush(stderr);
	f->saved_stderr = dup(2);
	FILE *lf = fopen(f->logpath, "w");
	assert_non_null(lf);
	dup2(fileno(lf), 2);
	fclose(lf);
	cks_log_setup(program, CKS_LOG_INFO, CKS_LOG_TEXT);
}

/* Restores stderr; returns the captured log (caller frees) and echoes a few
 * of its warnings, so the test output shows what an operator sees. */
static char *release_log(fixture *f)
{
	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	FILE *lf = fopen(f->logpath, "r");
	assert_non_null(lf);
	cks_buf b = CKS_BUF_INIT;
	char line[2048];
	int shown = 0;
	while (fgets(line, sizeof(line), lf)) {
		cks_buf_append(&b, line, strlen(line));
		if ((strstr(line, " warn") || strstr(line, " error")) && shown++ < 4)
			fprintf(stderr, "    log: %.220s%s", line + 28,
			        strlen(line) > 248 ? "\n" : "");
	}
	fclose(lf);
	if (!getenv("CKS_MOCK_KEEP_LOG"))
		unlink(f->logpath);
	cks_buf_append(&b, "", 0);
	return b.data;
}

static void *daemon_thread(void *arg)
{
	daemon_run *d = arg;
	if (d->consumer) {
		cks_consumer *c = NULL;
		d->err = cks_consumer_new(d->cfg, &c, d->errstr, sizeof(d->errstr));
		if (d->err == CKS_OK) {
			d->err = cks_consumer_run(c, &d->stop, d->errstr, sizeof(d->errstr));
			cks_consumer_get_stats(c, &d->cstats);
		}
		cks_consumer_destroy(c);
	} else {
		cks_producer *p = NULL;
		d->err = cks_producer_new(d->cfg, &p, d->errstr, sizeof(d->errstr));
		if (d->err == CKS_OK) {
			d->err = cks_producer_run(p, &d->stop, d->errstr, sizeof(d->errstr));
			cks_producer_get_stats(p, &d->pstats);
		}
		cks_producer_destroy(p);
	}
	d->done = 1;
	return NULL;
}

/* Runs a daemon (producer --once or consumer --until-idle) in a thread;
 * fault(f, step) is called every 100 ms meanwhile; extra: more settings
 * (key, value, ..., NULL). Stops it after 120 s.
 * Fails the test if it failed; returns its log (caller frees). */
static char *run_daemon(fixture *f, daemon_run *d, bool consumer, fault_fn fault,
                        const char *const *extra)
{
	pthread_t t;
	memset(d, 0, sizeof(*d));
	d->consumer = consumer;
	d->cfg = daemon_config(f, consumer);
	for (size_t i = 0; extra && extra[i]; i += 2)
		assert_int_equal(cks_config_set(d->cfg, extra[i], extra[i + 1], NULL, 0), CKS_OK);
	capture_log(f, consumer ? "ckansync-consumer" : "ckansync-producer");
	assert_int_equal(pthread_create(&t, NULL, daemon_thread, d), 0);
	for (int step = 0; step < 1200 && !d->done; step++) {
		if (fault)
			fault(f, step);
		usleep(100 * 1000);
	}
	d->stop = 1; /* no-op if done */
	pthread_join(t, NULL);
	char *log = release_log(f);
	cks_config_destroy(d->cfg);
	if (d->err)
		fail_msg("%s failed: %s\n%.4000s", consumer ? "consumer" : "producer", d->errstr,
		         log);
	return log;
}

/* Reads the mock topic: every message's "key/revision_id". */
typedef struct seen {
	int n;
	char ids[NREV * 4][80];
} seen;

static void read_topic(fixture *f, seen *s)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", f->brokers, err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", "mock-reader", err, sizeof(err));
	rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(3);
	for (int i = 0; i < 3; i++)
		rd_kafka_topic_partition_list_add(tp, f->topic, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	s->n = 0;
	for (int eofs = 0, idle = 0; eofs < 3 && idle < 200;) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		if (!rkm) {
			idle++;
			continue;
		}
		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eofs++;
		} else if (!rkm->err && s->n < NREV * 4) {
			rd_kafka_headers_t *h = NULL;
			const void *v = NULL;
			size_t vs = 0;
			if (rd_kafka_message_headers(rkm, &h) == 0)
				rd_kafka_header_get_last(h, "revision_id", &v, &vs);
			snprintf(s->ids[s->n++], 80, "%.*s/%.*s", (int)rkm->key_len,
			         (const char *)rkm->key, (int)vs, v ? (const char *)v : "");
		}
		rd_kafka_message_destroy(rkm);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Every revision in the topic (exactly once unless dups_ok: librdkafka
 * 2.0's mock broker does not deduplicate an idempotent producer's retries
 * as Kafka does), and the producer's cursor on the last one. */
static void assert_delivered(fixture *f, bool dups_ok)
{
	char err[512];
	seen *s = calloc(1, sizeof(*s));
	read_topic(f, s);
	qsort(s->ids, (size_t)s->n, sizeof(s->ids[0]), cmp);
	int dups = 0;
	for (int i = 1; i < s->n; i++)
		dups += strcmp(s->ids[i], s->ids[i - 1]) == 0;
	if (s->n - dups != NREV || (dups && !dups_ok))
		fail_msg("topic holds %d messages (%d duplicates), want %d once each", s->n, dups,
		         NREV);
	if (dups)
		printf("    topic: %d messages, %d duplicates\n", s->n, dups);
	free(s);
	cks_store *st = NULL;
	cks_outbox_pos cur;
	int64_t backlog = -1;
	if (cks_store_open(f->db, &st, err, sizeof(err)) || cks_store_check(st, err, sizeof(err)) ||
	    cks_store_cursor_get(st, &cur, err, sizeof(err)) ||
	    cks_store_outbox_backlog(st, &cur, &backlog, err, sizeof(err)))
		fail_msg("cursor: %s", err);
	cks_store_close(st);
	assert_int_equal(backlog, 0);
}

static void digest(const char *db, char out[65])
{
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(db, &st, err, sizeof(err)) ||
	    cks_store_digest(st, true, out, err, sizeof(err)))
		fail_msg("digest: %s", err);
	cks_store_close(st);
}

/* The end-to-end oracle: the mirror, synced from the mock topic by the real
 * consumer under `fault`, equals the origin, history included. Returns the
 * consumer's log (caller frees). */
static char *sync_mirror(fixture *f, fault_fn fault, const char *const *extra)
{
	char da[65], dbb[65];
	daemon_run d;
	char *log = run_daemon(f, &d, true, fault, extra);
	printf("    mirror: %llu applied, %llu skipped, %llu batches, %llu reconnects\n",
	       (unsigned long long)d.cstats.applied, (unsigned long long)d.cstats.skipped,
	       (unsigned long long)d.cstats.batches, (unsigned long long)d.cstats.reconnects);
	assert_int_equal(d.cstats.dead_letters, 0);
	digest(f->db, da);
	digest(f->mirror, dbb);
	if (strcmp(da, dbb) != 0)
		fail_msg("mirror differs from the origin; consumer log:\n%.4000s", log);
	return log;
}

static void assert_log_has(const char *log, const char *what)
{
	if (!strstr(log, what))
		fail_msg("the log does not say '%s':\n%.3000s", what, log);
}

static int count(const char *log, const char *what)
{
	int n = 0;
	for (const char *p = log; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static void all_brokers(fixture *f, bool up)
{
	for (int id = 1; id <= 3; id++) {
		if (up)
			rd_kafka_mock_broker_set_up(f->mc, id);
		else
			rd_kafka_mock_broker_set_down(f->mc, id);
	}
}

static void set_rtt(fixture *f, int ms)
{
	for (int id = 1; id <= 3; id++)
		rd_kafka_mock_broker_set_rtt(f->mc, id, ms);
}

/* Publishes the origin without faults (for the consumer tests). */
static void publish(fixture *f)
{
	daemon_run d;
	free(run_daemon(f, &d, false, NULL, NULL));
	assert_delivered(f, false);
}

/* --- producer ----------------------------------------------------------- */

static void test_produce_request_errors(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	daemon_run d;
	fixture_init(&f);
	/* Retriable errors on the first produce requests: librdkafka retries them,
	 * idempotence keeps order and uniqueness. */
	rd_kafka_mock_push_request_errors(
	    f.mc, API_PRODUCE, 8, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
	    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	char *log = run_daemon(&f, &d, false, NULL, NULL);
	assert_int_equal(d.pstats.published, NREV);
	assert_int_equal(d.pstats.delivery_errors, 0);
	assert_delivered(&f, false);
	free(log);
	free(sync_mirror(&f, NULL, NULL));
	fixture_release(&f);
}

/* Every broker down for the first 3 s. */
static void down_at_start(fixture *f, int step)
{
	if (step == 30)
		all_brokers(f, true);
}

static void test_brokers_down_at_start(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	daemon_run d;
	fixture_init(&f);
	all_brokers(&f, false);
	char *log = run_daemon(&f, &d, false, down_at_start, NULL);
	assert_delivered(&f, false);
	assert_log_has(log, "brokers are down");
	free(log);
	free(sync_mirror(&f, NULL, NULL));
	fixture_release(&f);
}

/* Slow brokers (so that the stream lasts), all down 300 ms in, for 3 s. */
static void down_mid_stream(fixture *f, int step)
{
	if (step == 3)
		all_brokers(f, false);
	if (step == 33) {
		all_brokers(f, true);
		set_rtt(f, 0);
	}
}

static void test_brokers_down_mid_produce(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	daemon_run d;
	fixture_init(&f);
	set_rtt(&f, 30);
	const char *extra[] = {"kafka.batch.num.messages", "5", NULL};
	char *log = run_daemon(&f, &d, false, down_mid_stream, extra);
	assert_delivered(&f, true);
	assert_log_has(log, "brokers are down");
	free(log);
	free(sync_mirror(&f, NULL, NULL));
	fixture_release(&f);
}

/* Produce responses later than socket.timeout.ms: the client times the
 * requests out and retries them although the broker stored them. */
static void test_produce_timeouts(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	daemon_run d;
	fixture_init(&f);
	for (int id = 1; id <= 3; id++)
		rd_kafka_mock_broker_push_request_error_rtts(f.mc, id, API_PRODUCE, 2,
		                                             RD_KAFKA_RESP_ERR_NO_ERROR, 4000,
		                                             RD_KAFKA_RESP_ERR_NO_ERROR, 4000);
	const char *extra[] = {"kafka.socket.timeout.ms", "1500", NULL};
	char *log = run_daemon(&f, &d, false, NULL, extra);
	assert_delivered(&f, true);
	assert_log_has(log, "timed out");
	free(log);
	free(sync_mirror(&f, NULL, NULL));
	fixture_release(&f);
}

/* Produce errors librdkafka does not retry: the delivery reports fail, the
 * producer says so once per episode and resends from its cursor. */
static void test_permanent_produce_error(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	daemon_run d;
	fixture_init(&f);
	rd_kafka_mock_push_request_errors(f.mc, API_PRODUCE, 3, RD_KAFKA_RESP_ERR_INVALID_RECORD,
	                                  RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
	                                  RD_KAFKA_RESP_ERR_INVALID_RECORD);
	char *log = run_daemon(&f, &d, false, NULL, NULL);
	assert_true(d.pstats.delivery_errors > 0);
	assert_delivered(&f, true);
	assert_log_has(log, "delivery failed");
	assert_log_has(log, "resending");
	assert_true(count(log, "delivery failed") <= 6); /* not one line per message */
	free(log);
	free(sync_mirror(&f, NULL, NULL));
	fixture_release(&f);
}

/* --- consumer ----------------------------------------------------------- */

static void test_fetch_request_errors(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	fixture_init(&f);
	publish(&f);
	rd_kafka_mock_push_request_errors(
	    f.mc, API_FETCH, 8, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
	    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	    RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH, RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH,
	    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	free(sync_mirror(&f, NULL, NULL));
	fixture_release(&f);
}

/* Messages the mirror has applied so far (its stored offsets). */
static long mirror_applied(fixture *f)
{
	PGconn *conn = PQconnectdb(f->mirror);
	PGresult *res =
	    PQexec(conn, "SELECT coalesce(sum(next_offset), 0) FROM ckansync.sync_state");
	long n = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	PQfinish(conn);
	return n;
}

/* Slow fetches; every broker down for 3 s once the mirror has applied a
 * first batch. */
static void down_mid_consume(fixture *f, int step)
{
	static int down_at;
	if (step == 0) {
		down_at = 0;
		set_rtt(f, 100);
	}
	if (!down_at && step % 2 == 0 && mirror_applied(f) > 0) {
		all_brokers(f, false);
		down_at = step;
		printf("    brokers down after %ld message(s) applied\n", mirror_applied(f));
	}
	if (down_at && step == down_at + 30) {
		all_brokers(f, true);
		set_rtt(f, 0);
	}
}

static void test_brokers_down_mid_consume(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	fixture_init(&f);
	publish(&f);
	const char *extra[] = {"batch-size", "10", NULL};
	char *log = sync_mirror(&f, down_mid_consume, extra);
	assert_log_has(log, "brokers are down");
	assert_true(mirror_applied(&f) == NREV);
	free(log);
	fixture_release(&f);
}

static void test_fetch_timeouts(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	fixture_init(&f);
	publish(&f);
	for (int id = 1; id <= 3; id++)
		rd_kafka_mock_broker_push_request_error_rtts(f.mc, id, API_FETCH, 2,
		                                             RD_KAFKA_RESP_ERR_NO_ERROR, 4000,
		                                             RD_KAFKA_RESP_ERR_NO_ERROR, 4000);
	const char *extra[] = {"kafka.socket.timeout.ms", "1500", NULL};
	char *log = sync_mirror(&f, NULL, extra);
	assert_log_has(log, "timed out");
	free(log);
	fixture_release(&f);
}

/* The group coordinator fails joins, syncs, heartbeats (a rebalance in the
 * middle of a batch) and offset commits (kept for lag tooling only: the
 * offsets that count are in PostgreSQL). */
static void coordinator_faults(fixture *f, int step)
{
	if (step == 5)
		rd_kafka_mock_push_request_errors(f->mc, API_HEARTBEAT, 2,
		                                  RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
		                                  RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
	if (step == 5 || step == 15)
		rd_kafka_mock_push_request_errors(
		    f->mc, API_OFFSET_COMMIT, 3, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
		    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
}

static void test_coordinator_errors(void **state)
{
	if (!h_services_available())
		skip();
	fixture f;
	fixture_init(&f);
	publish(&f);
	rd_kafka_mock_push_request_errors(f.mc, API_JOIN_GROUP, 2,
	                                  RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
	                                  RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
	rd_kafka_mock_push_request_errors(f.mc, API_SYNC_GROUP, 1,
	                                  RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
	/* A member a failed join left behind holds the group until its session
	 * times out: the broker's minimum, not the 45 s default. */
	const char *extra[] = {"kafka.heartbeat.interval.ms", "100", "kafka.session.timeout.ms",
	                       "6000", NULL};
	free(sync_mirror(&f, coordinator_faults, extra));
	fixture_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_produce_request_errors),
	    cmocka_unit_test(test_brokers_down_at_start),
	    cmocka_unit_test(test_brokers_down_mid_produce),
	    cmocka_unit_test(test_produce_timeouts),
	    cmocka_unit_test(test_permanent_produce_error),
	    cmocka_unit_test(test_fetch_request_errors),
	    cmocka_unit_test(test_brokers_down_mid_consume),
	    cmocka_unit_test(test_fetch_timeouts),
	    cmocka_unit_test(test_coordinator_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
