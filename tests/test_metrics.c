/* Unit tests for common/metrics: exact text-format rendering of counters,
 * gauges and histograms, label escaping, NULL families (metrics off), the
 * librdkafka statistics mapping, concurrent updates while rendering, and the
 * HTTP server (/metrics, /healthz 503 → 200, 404, port in use). */
#include "harness.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_render_exact(void **state)
{
	cks_metrics *m = cks_metrics_new();
	cks_metric *c =
	    cks_metrics_family(m, "x_total", CKS_METRIC_COUNTER, "things\nseen", NULL, 0);
	cks_metric *g = cks_metrics_family(m, "x_gauge", CKS_METRIC_GAUGE, "a gauge", NULL, 0);
	const double b[] = {0.1, 1};
	cks_metric *h = cks_metrics_family(m, "x_seconds", CKS_METRIC_HISTOGRAM, "durations", b, 2);
	char l[128];
	cks_metric_add(c, NULL, 2);
	cks_metric_add(c, NULL, 1);
	cks_metric_add(c, cks_metrics_labels(l, sizeof(l), "kind", "a\"b\\c\nd", NULL), 1);
	cks_metric_set(g, "p=\"0\"", 1.5);
	cks_metric_set(g, "p=\"0\"", -2);
	cks_metric_observe(h, NULL, 0.05);
	cks_metric_observe(h, NULL, 0.1); /* le is inclusive */
	cks_metric_observe(h, NULL, 0.5);
	cks_metric_observe(h, NULL, 7);
	cks_metric_observe(c, NULL, 1); /* wrong type: ignored */
	cks_metric_add(h, NULL, 1);     /* wrong type: ignored */
	assert_ptr_equal(cks_metrics_family(m, "x_total", CKS_METRIC_COUNTER, "", NULL, 0), c);
	assert_null(cks_metrics_family(m, "x_total", CKS_METRIC_GAUGE, "", NULL, 0));
	cks_buf out = CKS_BUF_INIT;
	cks_metrics_render(m, &out);
	assert_string_equal(out.data, "# HELP x_total things\\nseen\n"
	                              "# TYPE x_total counter\n"
	                              "x_total 3\n"
	                              "x_total{kind=\"a\\\"b\\\\c\\nd\"} 1\n"
	                              "# HELP x_gauge a gauge\n"
	                              "# TYPE x_gauge gauge\n"
	                              "x_gauge{p=\"0\"} -2\n"
	                              "# HELP x_seconds durations\n"
	                              "# TYPE x_seconds histogram\n"
	                              "x_seconds_bucket{le=\"0.1\"} 2\n"
	                              "x_seconds_bucket{le=\"1\"} 3\n"
	                              "x_seconds_bucket{le=\"+Inf\"} 4\n"
	                              "x_seconds_sum 7.65\n"
	                              "x_seconds_count 4\n");
	assert_true(cks_metric_get(c, NULL) == 3);
	assert_true(cks_metric_get(h, NULL) == 4);
	assert_true(cks_metric_get(g, "nope") == 0);
	cks_metric_clear(g);
	cks_buf_reset(&out);
	cks_metrics_render(m, &out);
	assert_null(strstr(out.data, "x_gauge{"));
	assert_non_null(strstr(out.data, "# TYPE x_gauge gauge\n"));
	cks_buf_release(&out);
	cks_metrics_destroy(m);
}

static void test_null_and_labels(void **state)
{
	/* Metrics off: every call is a no-op. */
	assert_null(cks_metrics_family(NULL, "a", CKS_METRIC_COUNTER, "", NULL, 0));
	cks_metric_add(NULL, NULL, 1);
	cks_metric_set(NULL, "x=\"1\"", 1);
	cks_metric_observe(NULL, NULL, 1);
	cks_metric_clear(NULL);
	cks_metrics_set_health(NULL, true, NULL);
	cks_metrics_rdkafka_stats(NULL, "c", "{}", 2);
	cks_metrics_destroy(NULL);
	char l[16];
	/* A pair that does not fit whole is dropped, never cut. */
	assert_string_equal(cks_metrics_labels(l, sizeof(l), "a", "1", "bbbbb", "22222", NULL),
	                    "a=\"1\"");
	assert_string_equal(cks_metrics_labels(l, sizeof(l), NULL), "");
}

static void test_rdkafka_stats(void **state)
{
	static const char json[] =
	    "{\"name\":\"rdkafka#consumer-1\",\"type\":\"consumer\",\"msg_cnt\":7,"
	    "\"txmsgs\":10,\"rxmsgs\":20,\"txerrs\":0,\"rxerrs\":1,"
	    "\"brokers\":{\"b:9092/bootstrap\":{\"name\":\"b:9092/bootstrap\",\"nodeid\":-1,"
	    "\"state\":\"UP\"},\"b:9092/1\":{\"name\":\"b:9092/1\",\"nodeid\":1,"
	    "\"state\":\"UP\",\"rtt\":{\"avg\":1500}},\"c:9092/2\":{\"name\":\"c:9092/2\","
	    "\"nodeid\":2,\"state\":\"DOWN\",\"rtt\":{\"avg\":0}},\"GroupCoordinator\":{"
	    "\"name\":\"GroupCoordinator\",\"nodeid\":1,\"source\":\"logical\",\"state\":\"UP\"}},"
	    "\"topics\":{\"t.A.revisions\":{\"partitions\":{\"0\":{\"consumer_lag\":5},"
	    "\"1\":{\"consumer_lag\":-1},\"-1\":{\"consumer_lag\":3}}}},"
	    "\"cgrp\":{\"rebalance_cnt\":2,\"assignment_size\":1}}";
	cks_metrics *m = cks_metrics_new();
	cks_metrics_rdkafka_stats(m, "consumer", json, strlen(json));
	cks_metrics_rdkafka_stats(m, "consumer", "not json", 8); /* ignored */
	cks_buf out = CKS_BUF_INIT;
	cks_metrics_render(m, &out);
	const char *want[] = {
	    "ckansync_kafka_queue_messages{client=\"consumer\"} 7\n",
	    "ckansync_kafka_tx_messages_total{client=\"consumer\"} 10\n",
	    "ckansync_kafka_rx_errors_total{client=\"consumer\"} 1\n",
	    "ckansync_kafka_broker_up{client=\"consumer\",broker=\"b:9092/1\"} 1\n",
	    "ckansync_kafka_broker_up{client=\"consumer\",broker=\"c:9092/2\"} 0\n",
	    "ckansync_kafka_broker_rtt_seconds{client=\"consumer\",broker=\"b:9092/1\"} 0.0015\n",
	    "ckansync_kafka_consumer_lag{client=\"consumer\",topic=\"t.A.revisions\","
	    "partition=\"0\"} 5\n",
	    "ckansync_kafka_rebalances_total{client=\"consumer\"} 2\n",
	    "ckansync_kafka_assigned_partitions{client=\"consumer\"} 1\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out.data, want[i]))
			fail_msg("missing %s in:\n%s", want[i], out.data);
	assert_null(strstr(out.data, "bootstrap"));
	assert_null(strstr(out.data, "GroupCoordinator"));
	assert_null(strstr(out.data, "partition=\"1\""));
	assert_null(strstr(out.data, "partition=\"-1\""));
	cks_buf_release(&out);
	cks_metrics_destroy(m);
}

typedef struct worker {
	cks_metric *c, *h;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < 20000; i++) {
		cks_metric_add(w->c, NULL, 1);
		cks_metric_observe(w->h, "k=\"v\"", 0.001 * (i % 100));
	}
	return NULL;
}

static void test_threads(void **state)
{
	cks_metrics *m = cks_metrics_new();
	worker w = {cks_metrics_family(m, "n_total", CKS_METRIC_COUNTER, "", NULL, 0),
	            cks_metrics_family(m, "d_seconds", CKS_METRIC_HISTOGRAM, "",
	                               cks_metrics_latency_buckets, cks_metrics_latency_nbuckets)};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, work, &w);
	for (int i = 0; i < 50; i++) { /* scrapes while they write */
		cks_buf out = CKS_BUF_INIT;
		cks_metrics_render(m, &out);
		cks_buf_release(&out);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(cks_metric_get(w.c, NULL) == 80000);
	assert_true(cks_metric_get(w.h, "k=\"v\"") == 80000);
	cks_metrics_destroy(m);
}

/* Minimal HTTP GET on 127.0.0.1:port; returns status, body into out. */
static int http_get(int port, const char *path, char *out, size_t n)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char req[256], buf[65536];
	size_t got = 0;
	ssize_t r;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
	if (write(fd, req, strlen(req)) < 0)
		goto out;
	while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	sscanf(buf, "HTTP/1.%*d %d", &status);
	const char *body = strstr(buf, "\r\n\r\n");
	snprintf(out, n, "%s", body ? body + 4 : "");
out:
	close(fd);
	return status;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_http(void **state)
{
	char err[256], body[65536];
	int port = free_port();
	cks_metrics *m = cks_metrics_new();
	cks_metric_add(
	    cks_metrics_family(m, "ckansync_test_total", CKS_METRIC_COUNTER, "t", NULL, 0), NULL,
	    42);
	assert_int_equal(cks_metrics_serve(m, 0, err, sizeof(err)), CKS_ERR_FATAL);
	assert_int_equal(cks_metrics_serve(m, port, err, sizeof(err)), CKS_OK);
	assert_int_equal(http_get(port, "/metrics", body, sizeof(body)), 200);
	assert_non_null(strstr(body, "ckansync_test_total 42\n"));
	assert_int_equal(http_get(port, "/healthz", body, sizeof(body)), 503);
	assert_string_equal(body, "starting\n");
	cks_metrics_set_health(m, true, NULL);
	assert_int_equal(http_get(port, "/healthz", body, sizeof(body)), 200);
	assert_string_equal(body, "ok\n");
	cks_metrics_set_health(m, false, "PostgreSQL connection lost");
	assert_int_equal(http_get(port, "/healthz", body, sizeof(body)), 503);
	assert_string_equal(body, "PostgreSQL connection lost\n");
	assert_int_equal(http_get(port, "/nope", body, sizeof(body)), 404);
	/* A second server on the same port: refused with a clear message. */
	cks_metrics *m2 = cks_metrics_new();
	assert_int_equal(cks_metrics_serve(m2, port, err, sizeof(err)), CKS_ERR_FATAL);
	assert_non_null(strstr(err, "cannot listen on port"));
	cks_metrics_destroy(m2);
	cks_metrics_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_exact),  cmocka_unit_test(test_null_and_labels),
	    cmocka_unit_test(test_rdkafka_stats), cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
