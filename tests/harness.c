/* harness — see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

const char *h_brokers(void)
{
	const char *s = getenv("CKANSYNC_BROKERS");
	return s && *s ? s : NULL;
}

const char *h_pg(void)
{
	const char *s = getenv("CKANSYNC_PG");
	return s && *s ? s : NULL;
}

bool h_services_available(void)
{
	if (h_brokers() && h_pg())
		return true;
	const char *ci = getenv("CI");
	fprintf(stderr, "CKANSYNC_BROKERS/CKANSYNC_PG not set: run under script/test or "
	                "eval \"$(script/services start)\" first\n");
	if (ci && strcmp(ci, "true") == 0)
		fail_msg("services not available under CI");
	return false;
}

static unsigned long h_counter;

static void unique_name(char *out, size_t n, const char *prefix)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, n, "%s%ld_%d_%lu_%ld", prefix, (long)ts.tv_sec % 1000000, (int)getpid(),
	         ++h_counter, ts.tv_nsec % 100000);
}

void h_fresh_db_into(char *out, size_t out_size)
{
	char name[64], admin[512];
	assert_non_null(h_pg());
	unique_name(name, sizeof(name), "cks_t");
	snprintf(admin, sizeof(admin), "%s dbname=postgres", h_pg());
	PGconn *conn = PQconnectdb(admin);
	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("connect %s: %s", admin, PQerrorMessage(conn));
	char *ident = PQescapeIdentifier(conn, name, strlen(name));
	char sql[256];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ident);
	PQfreemem(ident);
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	snprintf(out, out_size, "%s dbname=%s", h_pg(), name);
}

const char *h_fresh_db(void)
{
	static char buf[512];
	h_fresh_db_into(buf, sizeof(buf));
	return buf;
}

const char *h_topic_prefix(void)
{
	static char buf[64];
	unique_name(buf, sizeof(buf), "t");
	return buf;
}

const char *h_data_path(const char *rel)
{
	static char buf[1024];
	const char *src = getenv("CKS_SOURCE_DIR");
	snprintf(buf, sizeof(buf), "%s/../shared/data/%s", src ? src : CKS_SOURCE_DIR, rel);
	struct stat sb;
	if (stat(buf, &sb) != 0) {
		fprintf(stderr, "skipping: %s is absent (real CKAN data lives in ../shared/data)\n",
		        buf);
		return NULL;
	}
	return buf;
}

const char *h_bin(const char *name)
{
	static char buf[1024];
	const char *b = getenv("CKS_BUILD_DIR");
	snprintf(buf, sizeof(buf), "%s/%s", b ? b : CKS_BINARY_DIR, name);
	return buf;
}

int h_run(char **out, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	FILE *p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	buf[len] = '\0';
	int st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static rd_kafka_t *h_kafka(rd_kafka_type_t type, const char *group)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", h_brokers(), err, sizeof(err));
	if (group) {
		rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
		rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk)
		fail_msg("rd_kafka_new: %s", err);
	return rk;
}

size_t h_consume_all(const char *topic, h_msg_fn fn, void *opaque)
{
	rd_kafka_t *rk = h_kafka(RD_KAFKA_CONSUMER, "harness-reader");
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err)
		fail_msg("metadata for %s failed", topic);
	int nparts = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(nparts);
	for (int i = 0; i < nparts; i++)
		rd_kafka_topic_partition_list_add(tp, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	int eofs = 0;
	size_t count = 0;
	for (int idle = 0; eofs < nparts && idle < 300;) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		if (!rkm) {
			idle++;
			continue;
		}
		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eofs++;
		else if (!rkm->err) {
			count++;
			if (fn)
				fn(rkm, opaque);
		}
		rd_kafka_message_destroy(rkm);
	}
	if (eofs < nparts)
		fail_msg("%s: reached the end of %d of %d partitions", topic, eofs, nparts);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return count;
}

void h_create_topic(const char *topic, int partitions, const char *cfg_name, const char *cfg_value)
{
	char err[512];
	rd_kafka_t *rk = h_kafka(RD_KAFKA_PRODUCER, NULL);
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
	if (cfg_name)
		rd_kafka_NewTopic_set_config(nt, cfg_name, cfg_value);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	if (!ev || rd_kafka_event_error(ev))
		fail_msg("create topic %s failed", topic);
	size_t n;
	const rd_kafka_topic_result_t **tr =
	    rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	if (n != 1 || rd_kafka_topic_result_error(tr[0]))
		fail_msg("create topic %s: %s", topic,
		         n ? rd_kafka_topic_result_error_string(tr[0]) : "?");
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
}

char *h_capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/cks-test-stderr.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	if (fd < 0 || saved < 0) {
		perror("h_capture_stderr");
		exit(1);
	}
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char *buf = calloc(1, 65536);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, buf, 65535);
	if (n < 0)
		buf[0] = '\0';
	close(fd);
	unlink(path);
	return buf;
}
