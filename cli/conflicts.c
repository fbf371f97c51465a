/* conflicts — `ckansync conflicts --brokers B [--topic-prefix P] [--follow]
 * [--json]`: the conflict events every instance publishes on
 * <prefix>.conflicts, decoded (codec.h) and printed one per line, oldest
 * first per partition. Without --follow: what the topic holds now, then exit.
 * With --follow: keeps printing as events arrive (also waits for the topic
 * to be created) until SIGINT or SIGTERM, then exits 0.
 * Reads with assign(), not a consumer group: a monitor never moves anyone's
 * offsets and starts at once. */
#include "cli.h"

#include "codec.h"
#include "kafka.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

/* librdkafka's own log lines stay quiet: errors that matter are reported
 * by this command in one line. */
static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk, (void)level, (void)fac, (void)buf;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The same keys as `conflicts --db --json`, plus where the event was read. */
static json_t *conflict_json(const cks_conflict *c, const char *topic, int32_t partition,
                             int64_t offset)
{
	char when[40];
	cks_time_format(c->detected_us, when, sizeof(when));
	json_t *o = json_object();
#define S(k, v) json_object_set_new(o, k, (v) && *(v) ? json_string(v) : json_null())
	S("id", c->id);
	S("detected_at", c->detected_at);
	json_object_set_new(o, "detected", json_string(when));
	S("kind", c->kind);
	json_object_set_new(o, "object_type", json_string(cks_objtype_name(c->object_type)));
	S("object_id", c->object_id);
	json_object_set_new(o, "object_name", json_string(c->object_name ? c->object_name : ""));
	S("base_objrev", c->base_objrev);
	S("local_objrev", c->local_objrev);
	S("remote_objrev", c->remote_objrev);
	S("remote_origin", c->remote_origin);
	json_object_set_new(o, "field_path", json_string(c->field_path ? c->field_path : ""));
	S("local_value", c->local_value);
	S("remote_value", c->remote_value);
	S("resolution", c->resolution);
	S("chosen_value", c->chosen_value);
	S("merge_revision", c->merge_revision);
#undef S
	json_object_set_new(o, "topic", json_string(topic));
	json_object_set_new(o, "partition", json_integer(partition));
	json_object_set_new(o, "offset", json_integer(offset));
	return o;
}

/* Tab-separated: detected, instance, kind, object, field, local, remote,
 * resolution, chosen ("-" for none). */
static void print_text(const cks_conflict *c)
{
	char when[40];
	cks_time_format(c->detected_us, when, sizeof(when));
	const char *cols[] = {when,           c->detected_at, c->kind,         c->object_name,
	                      c->field_path,  c->local_value, c->remote_value, c->resolution,
	                      c->chosen_value};
	for (size_t i = 0; i < sizeof(cols) / sizeof(*cols); i++)
		printf("%s%s", i ? "\t" : "", cols[i] && *cols[i] ? cols[i] : "-");
	printf("\n");
}

/* Partition count of topic, 0 if it does not exist (yet); -1 on error. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, char *err, size_t err_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
	int n = -1;
	if (e) {
		snprintf(err, err_size, "metadata: %s", rd_kafka_err2str(e));
	} else if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		n = md->topics[0].partition_cnt;
	} else if (md->topic_cnt == 1 &&
	           (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	            md->topics[0].err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)) {
		n = 0;
	} else {
		snprintf(err, err_size, "metadata of %s: %s", topic,
		         md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no answer");
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return n;
}

int cli_conflicts_kafka(const char *prog, const cli_args *a)
{
	char err[512], topic[256], group[64];
	cks_codec *codec = NULL;
	rd_kafka_t *rk = NULL;
	int rc = CLI_OK, nparts = 0;
	bool *eof = NULL;

	cks_topic_conflicts(a->prefix && *a->prefix ? a->prefix : "ckansync", topic, sizeof(topic));
	if (cks_codec_new(&codec, err, sizeof(err)) != CKS_OK)
		return cli_fail(prog, "%s", err);
	rd_kafka_conf_t *conf = cli_kafka_conf(prog, a->brokers);
	if (!conf) {
		cks_codec_destroy(codec);
		return CLI_ERR;
	}
	snprintf(group, sizeof(group), "ckansync-monitor-%ld", (long)getpid());
	const char *settings[][2] = {
	    {"group.id", group},
	    {"enable.auto.commit", "false"},
	    {"enable.partition.eof", "true"},
	    {"auto.offset.reset", "earliest"},
	    {"fetch.wait.max.ms", "50"},
	};
	for (size_t i = 0; i < sizeof(settings) / sizeof(*settings); i++)
		if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof(err)) !=
		    RD_KAFKA_CONF_OK) {
			rd_kafka_conf_destroy(conf);
			cks_codec_destroy(codec);
			return cli_fail(prog, "%s: %s", settings[i][0], err);
		}
	rd_kafka_conf_set_log_cb(conf, quiet_log);
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
		cks_codec_destroy(codec);
		return cli_fail(prog, "kafka: %s", err);
	}
	rd_kafka_poll_set_consumer(rk);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (a->follow)
		setvbuf(stdout, NULL, _IOLBF, 0);

	/* The topic appears with the first conflict an instance publishes. */
	while (!stop_flag && (nparts = topic_partitions(rk, topic, err, sizeof(err))) == 0 &&
	       a->follow)
		usleep(500 * 1000);
	if (nparts < 0) {
		rc = cli_fail(prog, "cannot read %s from %s: %s", topic, a->brokers, err);
		goto out;
	}
	if (nparts == 0 || stop_flag)
		goto out; /* nothing published yet */
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
	for (int i = 0; i < nparts; i++)
		rd_kafka_topic_partition_list_add(parts, topic, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (aerr) {
		rc = cli_fail(prog, "assign %s: %s", topic, rd_kafka_err2str(aerr));
		goto out;
	}
	eof = cks_calloc((size_t)nparts, sizeof(bool));
	int neof = 0;
	int64_t deadline = cks_mono_us() + 30 * 1000000LL; /* without --follow */
	while (!stop_flag) {
		if (!a->follow && (neof == nparts || cks_mono_us() > deadline))
			break;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition < nparts && !eof[m->partition]) {
				eof[m->partition] = true;
				neof++;
			}
		} else if (m->err) {
			fprintf(stderr, "%s: %s\n", prog, rd_kafka_message_errstr(m));
		} else {
			cks_conflict c;
			memset(&c, 0, sizeof(c));
			if (m->partition >= 0 && m->partition < nparts && eof[m->partition]) {
				eof[m->partition] = false;
				neof--;
			}
			if (cks_codec_decode_conflict(codec, m->payload, m->len, &c, err,
			                              sizeof(err)) != CKS_OK) {
				fprintf(stderr,
				        "%s: %s[%" PRId32 "]@%" PRId64 ": undecodable: %s\n", prog,
				        topic, m->partition, m->offset, err);
			} else if (a->json) {
				json_t *o = conflict_json(&c, topic, m->partition, m->offset);
				char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
				printf("%s\n", s);
				free(s);
				json_decref(o);
			} else {
				print_text(&c);
			}
			cks_conflict_release(&c);
		}
		rd_kafka_message_destroy(m);
	}
out:
	fflush(stdout);
	free(eof);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	cks_codec_destroy(codec);
	return rc;
}
