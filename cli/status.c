/* status — `ckansync status`: per origin this instance follows, the last
 * revision applied, the time of the last sync, offsets, conflicts in the
 * last hour and dead letters (store_ops.c); with --brokers, each
 * partition's end offset (high watermark) and the lag, including partitions
 * not consumed yet. kafka.* settings (TLS, SASL) come from the file named by
 * $CKANSYNC_CONFIG, if set. */
#include "cli.h"
#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATERMARK_TIMEOUT_MS 10000

rd_kafka_conf_t *cli_kafka_conf(const char *prog, const char *brokers)
{
	char err[1024];
	rd_kafka_conf_t *conf = NULL;
	cks_config *cfg = cks_config_new();
	const char *path = getenv("CKANSYNC_CONFIG");
	if (path && *path && cks_config_load_file(cfg, path, NULL, err, sizeof(err))) {
		cli_fail(prog, "%s", err);
		goto out;
	}
	if (cks_config_set(cfg, "brokers", brokers, err, sizeof(err)) ||
	    cks_kafka_conf_new(cfg, &conf, err, sizeof(err)))
		cli_fail(prog, "%s", err);
out:
	cks_config_destroy(cfg);
	return conf;
}

/* A librdkafka handle for metadata and watermark queries. */
static rd_kafka_t *status_kafka(const char *prog, const char *brokers)
{
	char err[1024];
	rd_kafka_t *rk = NULL;
	rd_kafka_conf_t *conf = cli_kafka_conf(prog, brokers);
	if (conf && !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
		rd_kafka_conf_destroy(conf);
		cli_fail(prog, "kafka: %s", err);
	}
	return rk; /* conf is owned by rk */
}

/* The partition entry of `parts` for (topic, partition), NULL if absent. */
static json_t *find_partition(json_t *parts, const char *topic, int32_t partition)
{
	size_t i;
	json_t *p;
	json_array_foreach(parts, i, p)
	{
		if (json_integer_value(json_object_get(p, "partition")) == partition &&
		    strcmp(json_string_value(json_object_get(p, "topic")), topic) == 0)
			return p;
	}
	return NULL;
}

/* Adds end_offset and lag to every partition of one topic of an origin
 * (partitions never consumed yet get an entry: their lag is all of it).
 * Returns the topic's lag, or -1 if the brokers did not answer. */
static int64_t topic_lag(rd_kafka_t *rk, const char *topic, json_t *parts, char *err,
                         size_t err_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int64_t total = 0;
	rd_kafka_resp_err_t rerr = rd_kafka_metadata(rk, 0, rkt, &md, WATERMARK_TIMEOUT_MS);
	if (rerr || md->topic_cnt != 1 || md->topics[0].err) {
		snprintf(err, err_size, "%s: %s", topic,
		         rd_kafka_err2str(rerr            ? rerr
		                          : md->topic_cnt ? md->topics[0].err
		                                          : rerr));
		total = -1;
		goto out;
	}
	for (int i = 0; i < md->topics[0].partition_cnt && total >= 0; i++) {
		int32_t part = md->topics[0].partitions[i].id;
		int64_t lo, hi;
		rerr = rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi,
		                                        WATERMARK_TIMEOUT_MS);
		if (rerr) {
			snprintf(err, err_size, "%s[%d]: %s", topic, (int)part,
			         rd_kafka_err2str(rerr));
			total = -1;
			break;
		}
		json_t *p = find_partition(parts, topic, part);
		if (!p) {
			p = json_pack("{s:s, s:i, s:n, s:n, s:n}", "topic", topic, "partition",
			              (int)part, "next_offset", "last_revision", "last_sync");
			json_array_append_new(parts, p);
		}
		json_t *next = json_object_get(p, "next_offset");
		int64_t from = json_is_integer(next) ? json_integer_value(next) : lo;
		int64_t lag = hi > from ? hi - from : 0;
		json_object_set_new(p, "end_offset", json_integer(hi));
		json_object_set_new(p, "lag", json_integer(lag));
		total += lag;
	}
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return total;
}

/* Adds lag figures to every origin of the status document. */
static int add_lag(const char *prog, const cli_args *a, json_t *status)
{
	rd_kafka_t *rk = status_kafka(prog, a->brokers);
	if (!rk)
		return CLI_ERR;
	int rc = CLI_OK;
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(status, "origins"), i, o)
	{
		const char *origin = json_string_value(json_object_get(o, "origin"));
		json_t *parts = json_object_get(o, "partitions");
		if (json_array_size(parts) == 0)
			continue; /* only seen in conflicts (an origin behind a chain) */
		char topic[512], err[1024];
		int64_t lag = 0;
		for (int k = 0; k < 2 && lag >= 0; k++) {
			(k ? cks_topic_objects : cks_topic_revisions)(a->prefix, origin, topic,
			                                              sizeof(topic));
			int64_t t = topic_lag(rk, topic, parts, err, sizeof(err));
			if (t < 0) {
				rc = cli_fail(prog, "lag of origin %s: %s", origin, err);
				lag = -1;
			} else {
				lag += t;
			}
		}
		json_object_set_new(o, "lag", lag >= 0 ? json_integer(lag) : json_null());
	}
	rd_kafka_destroy(rk);
	return rc;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static void print_text(const json_t *status)
{
	size_t i, k;
	json_t *o, *p;
	printf("instance %s\n", str_or(status, "instance", "?"));
	if (json_array_size(json_object_get(status, "origins")) == 0)
		printf("no sync yet\n");
	json_array_foreach(json_object_get(status, "origins"), i, o)
	{
		int64_t at;
		const char *sync = str_or(o, "last_sync", NULL);
		char ago[48] = "";
		if (sync && cks_time_parse(sync, &at))
			snprintf(ago, sizeof(ago), " (%.0f s ago)",
			         (double)(cks_now_us() - at) / 1e6);
		printf("origin %s: last revision %s, last sync %s%s%s", str_or(o, "origin", "?"),
		       str_or(o, "last_revision", "-"), sync ? sync : "never", sync ? "Z" : "",
		       ago);
		json_t *lag = json_object_get(o, "lag");
		if (json_is_integer(lag))
			printf(", lag %lld", (long long)json_integer_value(lag));
		printf(", conflicts %lld in the last hour (%lld in all), dead letters %lld\n",
		       (long long)json_integer_value(json_object_get(o, "conflicts_last_hour")),
		       (long long)json_integer_value(json_object_get(o, "conflicts_total")),
		       (long long)json_integer_value(json_object_get(o, "dead_letters")));
		json_array_foreach(json_object_get(o, "partitions"), k, p)
		{
			json_t *next = json_object_get(p, "next_offset");
			printf("  %s[%lld] next offset ", str_or(p, "topic", "?"),
			       (long long)json_integer_value(json_object_get(p, "partition")));
			if (json_is_integer(next))
				printf("%lld", (long long)json_integer_value(next));
			else
				printf("-");
			if (json_object_get(p, "lag"))
				printf(
				    ", end %lld, lag %lld",
				    (long long)json_integer_value(json_object_get(p, "end_offset")),
				    (long long)json_integer_value(json_object_get(p, "lag")));
			printf("\n");
		}
	}
}

int cli_status(const char *prog, const cli_args *a)
{
	char err[1024];
	json_t *status = NULL;
	if (!a->db) {
		fprintf(stderr, "%s: --db CONNINFO is required (or set CKANSYNC_DB)\n", prog);
		return CLI_USAGE;
	}
	cks_store *st = cli_open(prog, a);
	if (!st)
		return CLI_ERR;
	int rc = CLI_OK;
	if (cks_store_status(st, a->prefix, &status, err, sizeof(err)) != CKS_OK) {
		rc = cli_fail(prog, "%s", err);
		goto out;
	}
	if (a->brokers)
		rc = add_lag(prog, a, status);
	if (a->json)
		cli_print_json(status, false);
	else
		print_text(status);
out:
	json_decref(status);
	cks_store_close(st);
	return rc;
}
