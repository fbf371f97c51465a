/* consumer — see consumer.h. */
#include "consumer.h"
#include "apply.h"
#include "codec.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "progress.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_MAX_AGE_US 250000 /* commit an open batch at least every 250 ms */
#define MAX_PARTS        1024   /* assigned partitions tracked at once */
#define SETTLE_CHUNK     100    /* objects whose waiting heads one transaction merges */
#define WINDOW_MAX       128    /* revisions sent in one apply_window call (drain) */

typedef struct part_state {
	char topic[256];
	int32_t partition;
	bool eof;               /* reached the end with nothing pending */
	int64_t batch_next;     /* next offset the open batch stores at commit, -1 if none */
	cks_uuid_str batch_rev; /* last revision id the open batch applied, "" if none */
	int64_t next;           /* next offset to apply as far as known, -1 if unknown (lag) */
	int64_t settle_at;      /* pending heads: settle once next reaches this high
	                           watermark (what there was when the last head began
	                           waiting); -1 = take it once it is known */
} part_state;

/* What the open batch did, counted into the stats and metrics only when it
 * commits: a batch rolled back and read again (a retriable failure, a
 * message to dead-letter) does not count its messages twice. */
typedef struct batch_acc {
	cks_consumer_stats stats; /* applied, skipped, merges, conflicts */
	uint64_t outcome[CKS_SKIPPED_PURGED + 1];
	uint64_t objects;                      /* unversioned objects applied */
	uint64_t by_kind[CKS_CONFLICT_NKINDS]; /* conflicts recorded */
	int64_t *ts; /* producer timestamps (ms) of the revisions applied, */
	size_t nts;  /* for the replication delay observed at commit */
	size_t capts;
} batch_acc;

struct cks_consumer {
	const cks_config *cfg; /* borrowed */
	const char *conninfo;
	const char *prefix;
	cks_policy policy;
	bool until_idle;
	int batch_max;
	cks_store *st; /* NULL while disconnected */
	cks_codec *codec;
	rd_kafka_t *rk;  /* consumer */
	rd_kafka_t *dlq; /* dead-letter producer (also used for admin calls) */
	char dlq_topic[256];
	char auth_error[512]; /* first Kafka authentication failure (fatal), "" if none */
	char **topics;        /* subscribed topics */
	size_t ntopics;
	part_state parts[MAX_PARTS];
	size_t nparts;
	bool assigned; /* an assignment has been received */
	bool in_batch; /* a transaction is open */
	int batch_count;
	int64_t batch_t0; /* when the open transaction began (monotonic us) */
	bool need_reseek; /* consumer position is ahead of PostgreSQL */
	bool connected;
	int dlq_failures;       /* dead-letter delivery failures since last check */
	char poison_topic[256]; /* last message whose apply failed as retriable */
	int32_t poison_partition;
	int64_t poison_offset;
	int poison_tries; /* consecutive retriable failures of that message */
	char poison_reason[1024];
	/* Messages are applied without a savepoint each (a batch is one
	 * transaction, any failure rolls it back). After a message failed for
	 * good, its batch is read again with a savepoint per message, so that
	 * the message alone is dead-lettered: until that message is handled, or
	 * careful_left messages later. */
	int careful_left;
	bool commit_now;  /* commit the open batch after this message */
	bool settle_more; /* merging waiting heads goes on: do not wait in poll */
	char careful_topic[256];
	int32_t careful_partition;
	int64_t careful_offset;
	batch_acc acc;
	/* Revisions kept for the next ckansync.apply_window call, in order
	 * (win), and up to two windows sent (fly, oldest at fly_head) whose
	 * answers are read when the one being filled is full and two are in
	 * flight, or at drain: PostgreSQL goes from one window to the next
	 * while the consumer reads and decodes the one after from Kafka. A
	 * window's states are freed once sent (decoded again from the message
	 * in the rare case one must be applied one by one). */
	struct queued {
		rd_kafka_message_t *rkm;
		cks_revmsg m;
		int64_t t0; /* kept (monotonic us) */
	} win[WINDOW_MAX];
	size_t nwin;
	struct flight {
		struct queued q[WINDOW_MAX];
		size_t n;
		int64_t id;  /* its window number */
		bool unread; /* its call sent, the answer not read yet */
		bool resend; /* wrote nothing (the window before stopped): send again */
		cks_err err; /* sending it failed: errstr */
		char errstr[512];
	} fly[2];
	size_t fly_head, nfly;
	int64_t window_id; /* never repeats in this process (010_apply_fast.sql) */
	cks_consumer_stats stats;
	cks_metrics *mx; /* borrowed; NULL = metrics off */
	cks_metric *m_applied, *m_merges, *m_conflicts, *m_dead, *m_apply_lat, *m_delay, *m_lag,
	    *m_pg, *m_batches; /* families in mx */
	FILE *progress;        /* borrowed; NULL = no progress line */
	cks_progress prog;     /* catching up: from when the backlog was seen */
	uint64_t prog_base;    /* messages handled when the catch-up started */
	int64_t prog_since_us; /* ... and when (the run's start, or last caught up) */
	bool prog_on;
	bool pending; /* heads may wait for cks_apply_settle */
};

/* Heads begin to wait: they are merged once this run has read what the
 * topics held at this moment (the first of them), which may hold the very
 * merges (made by their origin, or by another replica); heads that begin
 * waiting later are merged with them, so a busy topic delays no merge for
 * longer than it takes to read what was there. Not after a timer: a consumer waiting for
 * its group (session.timeout.ms after a crash, 45 s by default) or catching
 * up on a backlog would merge them itself and record conflicts the origin's
 * merge does not have. */
static void heads_wait(cks_consumer *c)
{
	c->pending = true;
	for (size_t i = 0; i < c->nparts; i++)
		c->parts[i].settle_at = -1;
}

static part_state *find_part(cks_consumer *c, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < c->nparts; i++)
		if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
			return &c->parts[i];
	return NULL;
}

static void dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	cks_consumer *c = opaque;
	if (rkm->err) {
		c->dlq_failures++;
		CKS_LOG(CKS_LOG_ERROR, "deadletter", "delivery failed: %s",
		        rd_kafka_err2str(rkm->err));
	}
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	cks_consumer *c = opaque;
	cks_metrics_rdkafka_stats(
	    c->mx, rd_kafka_type(rk) == RD_KAFKA_CONSUMER ? "consumer" : "deadletter", json, len);
	return 0; /* librdkafka frees json */
}

/* Sets each partition's offset in `parts` from PostgreSQL (BEGINNING if none). */
static cks_err load_offsets(cks_consumer *c, rd_kafka_topic_partition_list_t *parts, char *errstr,
                            size_t errstr_size)
{
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		int64_t next = -1;
		cks_err err = cks_store_offset_get(c->st, tp->topic, tp->partition, &next, errstr,
		                                   errstr_size);
		if (err)
			return err;
		tp->offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
	}
	return CKS_OK;
}

static void track_assignment(cks_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
	c->nparts = 0;
	cks_metric_clear(c->m_lag); /* no stale lag for partitions now elsewhere */
	for (int i = 0; parts && i < parts->cnt && c->nparts < MAX_PARTS; i++) {
		part_state *p = &c->parts[c->nparts++];
		snprintf(p->topic, sizeof(p->topic), "%s", parts->elems[i].topic);
		p->partition = parts->elems[i].partition;
		p->eof = false;
		p->batch_next = -1;
		p->batch_rev[0] = '\0';
		p->next = parts->elems[i].offset >= 0 ? parts->elems[i].offset : -1;
		p->settle_at = -1;
	}
}

static cks_err commit_batch(cks_consumer *c, char *errstr, size_t errstr_size);
static void acc_drop(cks_consumer *c);
static void acc_commit(cks_consumer *c);
static cks_err drain(cks_consumer *c, char *errstr, size_t errstr_size);
static void discard_window(cks_consumer *c);
static void abort_batch(cks_consumer *c);

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	cks_consumer *c = opaque;
	char e[512];
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (!c->st || load_offsets(c, parts, e, sizeof(e)) != CKS_OK) {
			/* Positions are fixed from PostgreSQL before anything is applied. */
			c->need_reseek = true;
			c->connected = c->connected && c->st;
		}
		rd_kafka_assign(rk, parts);
		track_assignment(c, parts);
		c->assigned = true;
		CKS_LOG(CKS_LOG_INFO, NULL, "assigned %d partition(s)", parts->cnt);
	} else {
		if (c->in_batch && commit_batch(c, e, sizeof(e)) != CKS_OK)
			CKS_LOG(CKS_LOG_WARN, NULL, "commit at revoke failed: %s", e);
		rd_kafka_assign(rk, NULL);
		track_assignment(c, NULL);
		CKS_LOG(CKS_LOG_INFO, NULL, "partitions revoked");
	}
}

/* Re-positions every assigned partition at the offset stored in PostgreSQL
 * (after a rollback, reconnect or an assignment made while disconnected). */
static cks_err reseek(cks_consumer *c, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_resp_err_t rerr = rd_kafka_assignment(c->rk, &parts);
	cks_err err = CKS_OK;
	if (rerr) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE, "assignment: %s",
		                 rd_kafka_err2str(rerr));
		goto out;
	}
	if ((err = load_offsets(c, parts, errstr, errstr_size)))
		goto out;
	/* Seek, not a new assign: re-assigning in quick succession (a batch
	 * rolled back again and again) trips librdkafka 2.0's assertion
	 * rktp_started in rd_kafka_assignment_partition_stopped at close. */
	rd_kafka_error_t *serr = rd_kafka_seek_partitions(c->rk, parts, 10000);
	for (int i = 0; !serr && !err && i < parts->cnt; i++)
		if (parts->elems[i].err)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE,
			                 "seek %s[%" PRId32 "]: %s", parts->elems[i].topic,
			                 parts->elems[i].partition,
			                 rd_kafka_err2str(parts->elems[i].err));
	if (serr) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE, "seek: %s",
		                 rd_kafka_error_string(serr));
		rd_kafka_error_destroy(serr);
	}
	if (err)
		goto out;
	track_assignment(c, parts);
	c->need_reseek = false;
out:
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	return err;
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	cks_consumer *c = opaque;
	cks_kafka_note_error(err, reason, c->auth_error, sizeof(c->auth_error));
}

/* Settings the consumer's correctness rests on: offsets live in PostgreSQL
 * (never committed or stored by librdkafka on its own), a partition's end
 * is reported (--until-idle, merges at settle points), a new group reads
 * from the beginning (a mirror is rebuilt by replaying the topics). */
static const char *const kafka_required[][2] = {
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"enable.partition.eof", "true"},
    {"auto.offset.reset", "earliest"},
};

/* Defaults an operator may change with kafka.* (docs/consumer.md). */
static const char *const kafka_defaults[][2] = {
    {"partition.assignment.strategy", "range,roundrobin"},
    {"fetch.wait.max.ms", "10"},
    /* Prefetch bounded by size only, 16 MB (librdkafka's default is 64 MB):
     * peak RSS stays flat whatever the backlog (issue 8), yet the queue
     * holds more than a second of applying. librdkafka 2.0 (Debian 12's)
     * looks again at a partition whose prefetch queue was full only about
     * once a second (2.4 added fetch.queue.backoff.ms for that): with the
     * earlier 1,000 messages / 8 MB, a catching-up consumer applied the
     * queue in half a second, then waited for the rest of it, and read at
     * most ~1,700 revisions a second however fast PostgreSQL went
     * (bench/RESULTS.md, seventh pass). A message larger than the bound
     * still passes. */
    {"queued.max.messages.kbytes", "16384"},
    {"queued.min.messages", "100000"},
    /* A fetch may bring this much per partition over the bound above
     * (librdkafka's default, 1 MB, with six partitions put peak RSS 10 MB
     * higher); a larger message still comes whole. */
    {"max.partition.fetch.bytes", "262144"},
};

cks_err cks_consumer_kafka_conf(const cks_config *cfg, const char *group, rd_kafka_conf_t *conf,
                                char *errstr, size_t errstr_size)
{
	cks_err err = cks_kafka_conf_set(conf, "group.id", group, errstr, errstr_size);
	for (size_t i = 0; !err && i < sizeof(kafka_required) / sizeof(kafka_required[0]); i++)
		err = cks_kafka_conf_set(conf, kafka_required[i][0], kafka_required[i][1], errstr,
		                         errstr_size);
	if (!err)
		err = cks_kafka_conf_defaults(conf, cfg, kafka_defaults,
		                              sizeof(kafka_defaults) / sizeof(kafka_defaults[0]),
		                              errstr, errstr_size);
	return err;
}

cks_err cks_consumer_new(const cks_config *cfg, cks_consumer **out, char *errstr,
                         size_t errstr_size)
{
	char e[512];
	cks_err err;
	rd_kafka_conf_t *conf = NULL, *dconf = NULL;
	cks_consumer *c = cks_calloc(1, sizeof(*c));
	*out = NULL;
	if ((err = cks_config_check_required(cfg, CKS_CFG_CONSUMER, errstr, errstr_size)))
		goto out;
	c->cfg = cfg;
	c->conninfo = cks_config_get(cfg, "db");
	c->prefix = cks_config_get(cfg, "topic-prefix");
	c->until_idle = cks_config_get_bool(cfg, "until-idle");
	c->batch_max = (int)cks_config_get_int(cfg, "batch-size");
	if (c->batch_max < 1) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "batch-size must be >= 1");
		goto out;
	}
	if ((err = cks_policy_parse(cks_config_get(cfg, "policy"), &c->policy, e, sizeof(e)))) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "policy: %s", e);
		goto out;
	}
	if (cks_config_get_bool(cfg, "two-way") && !cks_policy_symmetric(&c->policy)) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                 "two-way sync needs a symmetric policy (newest-wins or "
		                 "origin-priority with the same list everywhere), not '%s': "
		                 "otherwise instances never converge",
		                 cks_config_get(cfg, "policy"));
		goto out;
	}
	if ((err = cks_codec_new(&c->codec, errstr, errstr_size)))
		goto out;
	if ((err = cks_store_open(c->conninfo, &c->st, e, sizeof(e))) ||
	    (err = cks_store_check(c->st, e, sizeof(e)))) {
		err =
		    cks_seterr(errstr, errstr_size, err == CKS_ERR_RETRIABLE ? CKS_ERR_FATAL : err,
		               "instance database: %s", e);
		goto out;
	}
	c->connected = true;
	/* Heads an earlier run left waiting are merged like new ones: once this
	 * run has read what there is, which may hold the very merges (a merge
	 * read is not made again here, nor its conflicts recorded twice). */
	heads_wait(c);
	cks_log_set_instance(cks_store_instance(c->st));
	size_t norigins;
	const char *const *origins = cks_config_get_list(cfg, "origin", &norigins);
	c->topics = cks_calloc(norigins * 2, sizeof(char *));
	for (size_t i = 0; i < norigins; i++) {
		if (strcmp(origins[i], cks_store_instance(c->st)) == 0) {
			err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			                 "--origin %s is this instance itself", origins[i]);
			goto out;
		}
		char t[256];
		cks_topic_revisions(c->prefix, origins[i], t, sizeof(t));
		c->topics[c->ntopics++] = cks_strdup(t);
		cks_topic_objects(c->prefix, origins[i], t, sizeof(t));
		c->topics[c->ntopics++] = cks_strdup(t);
	}
	cks_topic_deadletter(c->prefix, c->dlq_topic, sizeof(c->dlq_topic));

	/* Consumer: offsets live in PostgreSQL; eager assignment (no cooperative). */
	if ((err = cks_kafka_conf_new(cfg, &conf, errstr, errstr_size)))
		goto out;
	char group[256];
	const char *gid = cks_config_get(cfg, "group-id");
	snprintf(group, sizeof(group), "%s", gid ? gid : "");
	if (!gid)
		/* prefix-instance: "ckansync-B" by default; instances that share a
		 * name under different prefixes (tests, demos) do not share a group. */
		snprintf(group, sizeof(group), "%s-%s", c->prefix, cks_store_instance(c->st));
	if ((err = cks_consumer_kafka_conf(cfg, group, conf, errstr, errstr_size)))
		goto out;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	rd_kafka_conf_set_opaque(conf, c);
	if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e)))) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "kafka consumer: %s", e);
		goto out;
	}
	conf = NULL;
	rd_kafka_poll_set_consumer(c->rk);

	if ((err = cks_kafka_conf_new(cfg, &dconf, errstr, errstr_size)) ||
	    (err = cks_kafka_conf_set(dconf, "enable.idempotence", "true", errstr, errstr_size)) ||
	    (err = cks_kafka_conf_set(dconf, "linger.ms", "0", errstr, errstr_size)))
		goto out;
	cks_kafka_conf_quiet_consumer_props(dconf);
	rd_kafka_conf_set_dr_msg_cb(dconf, dlq_dr_cb);
	rd_kafka_conf_set_error_cb(dconf, error_cb);
	rd_kafka_conf_set_stats_cb(dconf, stats_cb);
	rd_kafka_conf_set_opaque(dconf, c);
	if (!(c->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, dconf, e, sizeof(e)))) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "kafka producer: %s", e);
		goto out;
	}
	dconf = NULL;
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (dconf)
		rd_kafka_conf_destroy(dconf);
	if (err) {
		cks_consumer_destroy(c);
		return err;
	}
	*out = c;
	return CKS_OK;
}

void cks_consumer_destroy(cks_consumer *c)
{
	if (!c)
		return;
	if (c->rk) {
		rd_kafka_consumer_close(c->rk);
		rd_kafka_destroy(c->rk);
	}
	if (c->dlq) {
		rd_kafka_flush(c->dlq, 10000);
		rd_kafka_destroy(c->dlq);
	}
	discard_window(c);
	if (c->in_batch && c->st)
		cks_store_rollback(c->st);
	cks_store_close(c->st);
	cks_codec_destroy(c->codec);
	free(c->acc.ts);
	for (size_t i = 0; i < c->ntopics; i++)
		free(c->topics[i]);
	free(c->topics);
	free(c);
}

void cks_consumer_get_stats(const cks_consumer *c, cks_consumer_stats *stats)
{
	*stats = c->stats;
}

void cks_consumer_set_metrics(cks_consumer *c, cks_metrics *mx)
{
	static const struct {
		const char *name, *help;
		cks_metric_type type;
	} fams[] = {
	    {"ckansync_consumer_applied_total",
	     "messages handled, by outcome (fast-forward, created, merged, ..., skipped-duplicate, "
	     "object)",
	     CKS_METRIC_COUNTER},
	    {"ckansync_consumer_merges_total", "merge revisions written", CKS_METRIC_COUNTER},
	    {"ckansync_consumer_conflicts_total", "conflicts recorded, by kind",
	     CKS_METRIC_COUNTER},
	    {"ckansync_consumer_dead_letters_total",
	     "messages sent to the dead-letter topic, by error class", CKS_METRIC_COUNTER},
	    {"ckansync_consumer_apply_latency_seconds",
	     "time to decode and apply one message (inside its batch transaction)",
	     CKS_METRIC_HISTOGRAM},
	    {"ckansync_consumer_replication_delay_seconds",
	     "from the producer's message timestamp to the commit of its batch here",
	     CKS_METRIC_HISTOGRAM},
	    {"ckansync_consumer_lag_messages",
	     "messages not yet applied per assigned partition (high watermark - position)",
	     CKS_METRIC_GAUGE},
	    {"ckansync_postgresql_connected",
	     "1 while the connection to the instance database is up", CKS_METRIC_GAUGE},
	    {"ckansync_consumer_batches_total", "transactions committed", CKS_METRIC_COUNTER},
	};
	cks_metric **dst[] = {&c->m_applied, &c->m_merges,    &c->m_conflicts,
	                      &c->m_dead,    &c->m_apply_lat, &c->m_delay,
	                      &c->m_lag,     &c->m_pg,        &c->m_batches};
	c->mx = mx;
	for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
		*dst[i] =
		    cks_metrics_family(mx, fams[i].name, fams[i].type, fams[i].help,
		                       cks_metrics_latency_buckets, cks_metrics_latency_nbuckets);
}

void cks_consumer_set_progress(cks_consumer *c, FILE *f)
{
	c->progress = f;
}

#define PROGRESS_MIN 1000 /* a backlog this large is "long work": show progress */

/* The catch-up progress line: starts when the backlog is large, ends (with
 * a log line) when every assigned partition is applied to its end. */
static void show_progress(cks_consumer *c, int64_t remaining)
{
	uint64_t handled = c->stats.applied + c->stats.skipped + c->stats.dead_letters;
	/* The backlog is what was done since the last time there was none plus
	 * what remains: the first watermarks are known only after the first
	 * fetch, by when a fast mirror has already applied part of it. */
	if (!c->prog_on && remaining > 0 &&
	    (int64_t)(handled - c->prog_base) + remaining >= PROGRESS_MIN) {
		cks_progress_init(&c->prog, c->progress, "sync", "messages");
		c->prog.start_us = c->prog_since_us;
		c->prog_on = true;
	}
	if (!c->prog_on) {
		if (remaining == 0) {
			c->prog_base = handled;
			c->prog_since_us = cks_mono_us();
		}
		return;
	}
	int64_t done = (int64_t)(handled - c->prog_base);
	if (remaining > 0) {
		cks_progress_update(&c->prog, done, done, done + remaining);
		return;
	}
	cks_progress_end(&c->prog);
	c->prog_on = false;
	if (remaining == 0) /* < 0: stopped before the end */
		CKS_LOG(CKS_LOG_INFO, NULL, "caught up: %lld messages in %.1f s", (long long)done,
		        (double)(cks_mono_us() - c->prog.start_us) / 1e6);
	c->prog_base = handled;
	c->prog_since_us = cks_mono_us();
}

/* A few times a second: lag per assigned partition (librdkafka's cached high
 * watermark minus the position), connection state, health, progress. */
static void observe(cks_consumer *c)
{
	if (!c->mx && !c->progress)
		return;
	cks_metric_set(c->m_pg, NULL, c->connected);
	cks_metrics_set_health(c->mx, c->connected,
	                       c->connected ? NULL : "PostgreSQL connection lost");
	if (!c->assigned || c->nparts == 0)
		return;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->nparts);
	for (size_t i = 0; i < c->nparts; i++)
		rd_kafka_topic_partition_list_add(l, c->parts[i].topic, c->parts[i].partition);
	int64_t remaining = 0;
	bool known = rd_kafka_position(c->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR;
	for (int i = 0; known && i < l->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &l->elems[i];
		int64_t lo, hi;
		if (rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi) ||
		    hi < 0)
			continue; /* not fetched yet */
		/* Position reset by an assign: the offset stored in PostgreSQL, or
		 * none (all of it is to do, from the start). */
		int64_t pos = tp->offset >= 0         ? tp->offset
		              : c->parts[i].next >= 0 ? c->parts[i].next
		                                      : (lo >= 0 ? lo : 0);
		int64_t lag = hi > pos ? hi - pos : 0;
		char lb[320], part[16];
		snprintf(part, sizeof(part), "%d", (int)tp->partition);
		cks_metric_set(
		    c->m_lag,
		    cks_metrics_labels(lb, sizeof(lb), "topic", tp->topic, "partition", part, NULL),
		    (double)lag);
		remaining += lag;
	}
	rd_kafka_topic_partition_list_destroy(l);
	if (known && c->progress)
		show_progress(c, remaining);
}

/* Writes the offset row of each partition the open batch moved, once (not
 * once per message): it commits with the rows the batch applied. */
static cks_err store_offsets(cks_consumer *c, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < c->nparts; i++) {
		part_state *p = &c->parts[i];
		cks_err err;
		if (p->batch_next >= 0 &&
		    (err = cks_store_offset_set(c->st, p->topic, p->partition, p->batch_next,
		                                *p->batch_rev ? p->batch_rev : NULL, errstr,
		                                errstr_size)))
			return err;
	}
	return CKS_OK;
}

/* Commits the open batch; dead letters are made durable first so that no
 * offset moves past a message that is neither applied nor dead-lettered.
 * Then records the positions in Kafka too (lag tooling only). */
static cks_err commit_batch(cks_consumer *c, char *errstr, size_t errstr_size)
{
	if (!c->in_batch)
		return CKS_OK;
	cks_err derr = drain(c, errstr, errstr_size);
	if (derr) /* the batch is rolled back already (drain) */
		return derr;
	if (!c->in_batch)
		return CKS_OK;
	rd_kafka_flush(c->dlq, 30000);
	if (c->dlq_failures || rd_kafka_outq_len(c->dlq) > 0) {
		c->dlq_failures = 0;
		cks_store_rollback(c->st);
		acc_drop(c);
		c->in_batch = false;
		c->need_reseek = true;
		return cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE,
		                  "dead-letter topic %s did not acknowledge; batch rolled back",
		                  c->dlq_topic);
	}
	cks_err err = store_offsets(c, errstr, errstr_size);
	if (err) {
		cks_store_rollback(c->st);
		acc_drop(c);
		c->in_batch = false;
		c->batch_count = 0;
		c->need_reseek = true;
		return err;
	}
	err = cks_store_commit(c->st, errstr, errstr_size);
	c->in_batch = false;
	c->batch_count = 0;
	if (err) {
		acc_drop(c);
		c->need_reseek = true;
		return err;
	}
	c->stats.batches++;
	cks_metric_add(c->m_batches, NULL, 1);
	acc_commit(c);
	c->commit_now = false;
	rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)c->nparts);
	for (size_t i = 0; i < c->nparts; i++) {
		if (c->parts[i].batch_next < 0)
			continue;
		rd_kafka_topic_partition_list_add(offs, c->parts[i].topic, c->parts[i].partition)
		    ->offset = c->parts[i].batch_next;
		c->parts[i].batch_next = -1;
		c->parts[i].batch_rev[0] = '\0';
	}
	if (offs->cnt)
		rd_kafka_commit(c->rk, offs, 1);
	rd_kafka_topic_partition_list_destroy(offs);
	return CKS_OK;
}

static void abort_batch(cks_consumer *c)
{
	discard_window(c);
	if (c->in_batch && c->st)
		cks_store_rollback(c->st);
	acc_drop(c);
	c->commit_now = false;
	c->settle_more = false;
	if (!c->pending) /* what was settled in it is pending again */
		heads_wait(c);
	c->in_batch = false;
	c->batch_count = 0;
	for (size_t i = 0; i < c->nparts; i++) {
		c->parts[i].batch_next = -1;
		c->parts[i].batch_rev[0] = '\0';
	}
	c->need_reseek = true;
}

#define DLQ_MAX_PAYLOAD (900 * 1024) /* bytes of payload a dead letter carries at most */

static void dead_letter(cks_consumer *c, const rd_kafka_message_t *rkm, cks_err cls,
                        const char *reason)
{
	char part[16], off[24];
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	snprintf(part, sizeof(part), "%" PRId32, rkm->partition);
	snprintf(off, sizeof(off), "%" PRId64, rkm->offset);
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	rd_kafka_headers_t *orig = NULL;
	if (rd_kafka_message_headers(rkm, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const void *v;
		size_t vs;
		const char *name;
		for (size_t i = 0; rd_kafka_header_get_all(orig, i, &name, &v, &vs) == 0; i++)
			rd_kafka_header_add(h, name, -1, v, (ssize_t)vs);
	}
	rd_kafka_header_add(h, "source_topic", -1, topic, -1);
	rd_kafka_header_add(h, "source_partition", -1, part, -1);
	rd_kafka_header_add(h, "source_offset", -1, off, -1);
	rd_kafka_header_add(h, "error", -1, reason, -1);
	rd_kafka_header_add(h, "error_class", -1, cks_err_name(cls), -1);
	/* A dead letter must fit any dead-letter topic (the broker's default
	 * max.message.bytes is 1 MB), or it could never be acknowledged and the
	 * partition would stall: a larger payload is left out (the source topic
	 * keeps it forever at source_offset). */
	size_t len = rkm->len <= DLQ_MAX_PAYLOAD ? rkm->len : 0;
	char size[24];
	snprintf(size, sizeof(size), "%zu", rkm->len);
	if (len != rkm->len)
		rd_kafka_header_add(h, "payload_omitted", -1, size, -1);
	rd_kafka_resp_err_t rerr;
	do {
		rerr = rd_kafka_producev(c->dlq, RD_KAFKA_V_TOPIC(c->dlq_topic),
		                         RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
		                         RD_KAFKA_V_VALUE(rkm->payload, len), RD_KAFKA_V_HEADERS(h),
		                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(c->dlq, 100);
	} while (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL);
	if (rerr) {
		rd_kafka_headers_destroy(h);
		c->dlq_failures++;
		CKS_LOG(CKS_LOG_ERROR, "deadletter", "cannot produce to %s: %s", c->dlq_topic,
		        rd_kafka_err2str(rerr));
	}
	c->stats.dead_letters++;
	char l[64];
	cks_metric_add(c->m_dead,
	               cks_metrics_labels(l, sizeof(l), "class", cks_err_name(cls), NULL), 1);
	CKS_LOG(CKS_LOG_ERROR, NULL, "%s[%s]@%s dead-lettered (%s): %s", topic, part, off,
	        cks_err_name(cls), reason);
}

/* Merges made in the open batch and the conflicts they recorded. */
static void note_merged(cks_consumer *c, size_t merges, const cks_apply_result *r)
{
	c->acc.stats.merges += merges;
	c->acc.stats.conflicts += r->nconflicts;
	for (size_t k = 0; k < CKS_CONFLICT_NKINDS; k++)
		c->acc.by_kind[k] += r->by_kind[k];
}

/* One revision applied in the open batch: outcome, merges, conflicts per
 * kind, and its producer timestamp (the delay is observed at commit, when
 * the revision is visible here). */
static void note_applied(cks_consumer *c, const rd_kafka_message_t *rkm, const cks_apply_result *r)
{
	bool skipped = r->outcome >= CKS_SKIPPED_DUPLICATE;
	c->acc.stats.applied += !skipped;
	c->acc.stats.skipped += skipped;
	c->acc.outcome[r->outcome]++;
	note_merged(c, r->outcome == CKS_APPLIED_MERGED, r);
	int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
	if (!c->mx || ts <= 0 || skipped)
		return;
	if (c->acc.nts == c->acc.capts) {
		size_t cap = c->acc.capts ? c->acc.capts * 2 : 64;
		int64_t *n = realloc(c->acc.ts, cap * sizeof(*n));
		if (!n)
			return; /* one delay sample fewer */
		c->acc.ts = n, c->acc.capts = cap;
	}
	c->acc.ts[c->acc.nts++] = ts;
}

/* The open batch is rolled back: nothing it did counts. */
static void acc_drop(cks_consumer *c)
{
	int64_t *ts = c->acc.ts;
	size_t cap = c->acc.capts;
	memset(&c->acc, 0, sizeof(c->acc));
	c->acc.ts = ts, c->acc.capts = cap;
}

/* The open batch committed: what it did goes into the stats and metrics. */
static void acc_commit(cks_consumer *c)
{
	batch_acc *a = &c->acc;
	char l[96];
	c->stats.applied += a->stats.applied;
	c->stats.skipped += a->stats.skipped;
	c->stats.merges += a->stats.merges;
	c->stats.conflicts += a->stats.conflicts;
	if (c->mx) {
		for (size_t o = 0; o < sizeof(a->outcome) / sizeof(a->outcome[0]); o++)
			if (a->outcome[o])
				cks_metric_add(
				    c->m_applied,
				    cks_metrics_labels(l, sizeof(l), "outcome",
				                       cks_apply_outcome_name((cks_apply_outcome)o),
				                       NULL),
				    (double)a->outcome[o]);
		if (a->objects)
			cks_metric_add(c->m_applied, "outcome=\"object\"", (double)a->objects);
		if (a->stats.merges)
			cks_metric_add(c->m_merges, NULL, (double)a->stats.merges);
		for (size_t k = 0; k < CKS_CONFLICT_NKINDS; k++)
			if (a->by_kind[k])
				cks_metric_add(c->m_conflicts,
				               cks_metrics_labels(l, sizeof(l), "kind",
				                                  cks_conflict_kinds[k], NULL),
				               (double)a->by_kind[k]);
		int64_t now_ms = cks_now_us() / 1000;
		for (size_t i = 0; i < a->nts; i++)
			cks_metric_observe(c->m_delay, NULL, (double)(now_ms - a->ts[i]) / 1e3);
	}
	acc_drop(c);
}

static bool is_objects_topic(const char *topic)
{
	size_t n = strlen(topic);
	return n > 8 && strcmp(topic + n - 8, ".objects") == 0;
}

/* One revision applied (outcome r), counted with its batch. */
static void applied(cks_consumer *c, const rd_kafka_message_t *rkm, const cks_revmsg *m,
                    const cks_apply_result *r)
{
	if (r->outcome == CKS_APPLIED_PENDING && !c->pending)
		heads_wait(c);
	note_applied(c, rkm, r);
	CKS_LOG(CKS_LOG_DEBUG, NULL, "%s[%" PRId32 "]@%" PRId64 " %s %s rev %s: %s",
	        rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset,
	        cks_objtype_name(m->object_type), m->object_id, m->revision_id,
	        cks_apply_outcome_name(r->outcome));
}

/* Decodes and applies one message inside the open transaction; rev gets
 * the id of the revision it carried ("" for an object message). A plain
 * revision may instead be kept for a window (pipeline: not careful mode):
 * *queued, and rkm belongs to the window from then on (drain). A failure
 * of drain has rolled the batch back already: CKS_OK then, !c->in_batch. */
static cks_err apply_message(cks_consumer *c, rd_kafka_message_t *rkm, bool pipeline,
                             cks_uuid_str rev, bool *queued, char *errstr, size_t errstr_size)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	cks_err err;
	rev[0] = '\0';
	*queued = false;
	if (is_objects_topic(topic)) {
		cks_objmsg o;
		memset(&o, 0, sizeof(o));
		if ((err = drain(c, errstr, errstr_size)) || !c->in_batch)
			return err;
		err = cks_codec_decode_object(c->codec, rkm->payload, rkm->len, &o, errstr,
		                              errstr_size);
		if (!err)
			err = cks_store_uobject_apply(c->st, &o, errstr, errstr_size);
		if (!err) {
			c->acc.stats.applied++;
			c->acc.objects++;
		}
		cks_objmsg_release(&o);
		return err;
	}
	cks_revmsg m = CKS_REVMSG_INIT;
	cks_apply_result r;
	err = cks_codec_decode_revision(c->codec, rkm->payload, rkm->len, &m, errstr, errstr_size);
	if (!err && (rkm->key_len != strlen(m.object_id) ||
	             memcmp(rkm->key, m.object_id, rkm->key_len) != 0))
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "key '%.*s' disagrees with object_id %s",
		                 (int)(rkm->key_len > 64 ? 64 : rkm->key_len),
		                 rkm->key ? (const char *)rkm->key : "", m.object_id);
	char theirs[256], ours[256];
	if (!err && cks_config_get_bool(c->cfg, "two-way") &&
	    cks_apply_merge_policy(&m, theirs, sizeof(theirs))) {
		/* 2-way converges only if every instance merges alike. */
		cks_policy_format(&c->policy, ours, sizeof(ours));
		if (strcmp(theirs, ours) != 0)
			err =
			    cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			               "two-way sync: %s[%" PRId32 "]@%" PRId64 " is a merge made "
			               "with policy '%s', this instance merges with '%s': every "
			               "instance must use the same symmetric policy, or they never "
			               "converge (docs/two-way.md)",
			               topic, rkm->partition, rkm->offset, theirs, ours);
	}
	if (!err && pipeline && cks_apply_can_pipeline(&m)) {
		memcpy(rev, m.revision_id, sizeof(cks_uuid_str));
		c->win[c->nwin].rkm = rkm;
		c->win[c->nwin].m = m; /* moved */
		c->win[c->nwin].t0 = cks_mono_us();
		c->nwin++;
		*queued = true; /* handle drains a full window */
		return CKS_OK;
	}
	if (!err && ((err = drain(c, errstr, errstr_size)) || !c->in_batch)) {
		cks_revmsg_release(&m);
		return err;
	}
	if (!err)
		err = cks_apply_revision(c->st, &m, &c->policy, &r, errstr, errstr_size);
	if (!err) {
		applied(c, rkm, &m, &r);
		memcpy(rev, m.revision_id, sizeof(cks_uuid_str));
	}
	cks_revmsg_release(&m);
	return err;
}

#define POISON_TRIES 5 /* a "retriable" failure repeated this often is permanent */

static bool same_message(const cks_consumer *c, const rd_kafka_message_t *rkm)
{
	return c->poison_partition == rkm->partition && c->poison_offset == rkm->offset &&
	       strcmp(c->poison_topic, rd_kafka_topic_name(rkm->rkt)) == 0;
}

/* Counts consecutive retriable failures of one message while PostgreSQL is
 * reachable, so that a record that always fails cannot stall a partition. */
static void note_failure(cks_consumer *c, const rd_kafka_message_t *rkm, const char *reason)
{
	if (PQstatus(cks_store_conn(c->st)) != CONNECTION_OK)
		return;
	if (!same_message(c, rkm)) {
		snprintf(c->poison_topic, sizeof(c->poison_topic), "%s",
		         rd_kafka_topic_name(rkm->rkt));
		c->poison_partition = rkm->partition;
		c->poison_offset = rkm->offset;
		c->poison_tries = 0;
	}
	c->poison_tries++;
	snprintf(c->poison_reason, sizeof(c->poison_reason), "%s", reason);
}

static bool is_poison(const cks_consumer *c, const rd_kafka_message_t *rkm)
{
	return c->poison_tries >= POISON_TRIES && same_message(c, rkm);
}

static bool is_careful_message(const cks_consumer *c, const rd_kafka_message_t *rkm)
{
	return c->careful_partition == rkm->partition && c->careful_offset == rkm->offset &&
	       strcmp(c->careful_topic, rd_kafka_topic_name(rkm->rkt)) == 0;
}

/* rkm failed for good in a batch without savepoints: roll the batch back
 * and read it again in careful mode (a savepoint per message), where rkm is
 * undone alone and dead-lettered. */
static void go_careful(cks_consumer *c, const rd_kafka_message_t *rkm, const char *why)
{
	CKS_LOG(CKS_LOG_INFO, NULL,
	        "%s[%" PRId32 "]@%" PRId64 " failed (%s); applying its batch again with "
	        "a savepoint per message, to dead-letter it alone",
	        rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset, why);
	snprintf(c->careful_topic, sizeof(c->careful_topic), "%s", rd_kafka_topic_name(rkm->rkt));
	c->careful_partition = rkm->partition;
	c->careful_offset = rkm->offset;
	/* the batch so far plus what may arrive before the message again */
	c->careful_left = 2 * c->batch_max + 2;
	abort_batch(c); /* re-read from the stored offsets */
}

static void release_queued(cks_consumer *c)
{
	for (size_t i = 0; i < c->nwin; i++) {
		rd_kafka_message_destroy(c->win[i].rkm);
		cks_revmsg_release(&c->win[i].m);
	}
	c->nwin = 0;
	for (; c->nfly; c->nfly--, c->fly_head = (c->fly_head + 1) % 2) {
		struct flight *f = &c->fly[c->fly_head];
		for (size_t i = 0; i < f->n; i++) {
			rd_kafka_message_destroy(f->q[i].rkm);
			cks_revmsg_release(&f->q[i].m);
		}
		f->n = 0;
		f->unread = f->resend = false;
	}
}

/* Forgets every window (the batch is being rolled back); the answers of
 * those in flight are read first (the connection must be out of pipeline
 * mode for the rollback). */
static void discard_window(cks_consumer *c)
{
	char e[256];
	if (c->st && PQstatus(cks_store_conn(c->st)) == CONNECTION_OK &&
	    cks_store_pipeline_off(c->st, e, sizeof(e)) != CKS_OK)
		CKS_LOG(CKS_LOG_DEBUG, "postgresql", "ending pipeline mode: %s", e);
	release_queued(c);
}

/* A sent revision's state and diff are not kept (memory: windows in
 * flight); decoded again from its message if it must be applied alone. */
static void slim(struct queued *q)
{
	json_decref(q->m.state);
	json_decref(q->m.diff);
	q->m.state = q->m.diff = NULL;
}

static cks_err fatten(cks_consumer *c, struct queued *q, char *errstr, size_t errstr_size)
{
	cks_revmsg m = CKS_REVMSG_INIT;
	if (q->m.state)
		return CKS_OK;
	cks_err err = cks_codec_decode_revision(c->codec, q->rkm->payload, q->rkm->len, &m, errstr,
	                                        errstr_size);
	cks_revmsg_release(&q->m);
	q->m = m;
	return err;
}

/* Sends f (one ckansync.apply_window call, pipelined after the window
 * `after` when >= 0) without waiting; a failure is reported by
 * finish_oldest. */
static void send_flight(cks_consumer *c, struct flight *f, int64_t after)
{
	const cks_revmsg *ms[WINDOW_MAX];
	f->err = CKS_OK;
	for (size_t i = 0; i < f->n && !f->err; i++) {
		f->err = fatten(c, &f->q[i], f->errstr, sizeof(f->errstr));
		ms[i] = &f->q[i].m;
	}
	if (!f->err)
		f->err = cks_store_pipeline_on(c->st, f->errstr, sizeof(f->errstr));
	if (!f->err)
		f->err = cks_store_window_send(c->st, f->id, after, ms, f->n, f->errstr,
		                               sizeof(f->errstr));
	f->unread = f->err == CKS_OK;
	f->resend = false;
	for (size_t i = 0; i < f->n; i++)
		slim(&f->q[i]);
}

/* The window being filled goes in flight, after those in flight (at most
 * one). */
static void send_window(cks_consumer *c)
{
	struct flight *f = &c->fly[(c->fly_head + c->nfly) % 2];
	int64_t after = c->nfly ? c->fly[(c->fly_head + c->nfly - 1) % 2].id : -1;
	memcpy(f->q, c->win, c->nwin * sizeof(c->win[0]));
	f->n = c->nwin;
	c->nwin = 0;
	f->id = ++c->window_id;
	c->nfly++;
	send_flight(c, f, after);
}

/* Reads the answers of the oldest window in flight, in order: each one
 * written is counted; from the first one not written on (apply_window wrote
 * none after it, nor did the window sent after it: 014), each is applied the
 * usual way, one by one, in order, out of pipeline mode, and the window after
 * it is sent again. A failure rolls the batch back here (c->in_batch false
 * after): a retriable one counts against its message (poison), a permanent
 * one makes the batch be read again in careful mode; only FATAL is
 * returned. */
static cks_err finish_oldest(cks_consumer *c, char *errstr, size_t errstr_size)
{
	struct flight *f = &c->fly[c->fly_head];
	struct flight *next = c->nfly > 1 ? &c->fly[(c->fly_head + 1) % 2] : NULL;
	char e[1024] = "";
	size_t fail = 0, slow;
	const cks_revmsg *ms[WINDOW_MAX];
	cks_fast_state state[WINDOW_MAX];
	bool found[WINDOW_MAX];
	cks_err err = f->err;
	slow = f->n;
	for (size_t i = 0; i < f->n; i++) {
		ms[i] = &f->q[i].m;
		state[i] = CKS_FAST_FAILED;
	}
	if (err)
		snprintf(e, sizeof(e), "%s", f->errstr);
	else
		err = cks_store_window_recv(c->st, ms, f->n, state, found, e, sizeof(e));
	f->unread = false;
	if (err) {
		/* The call failed as a whole (which revision made it fail is not
		 * known: a permanent failure re-reads the batch in careful mode up
		 * to the window's last message, which finds it), or the answer
		 * for one is an error (that one). */
		fail = err == CKS_ERR_PERMANENT ? f->n - 1 : 0;
		for (size_t i = 0; i < f->n; i++)
			if (state[i] == CKS_FAST_FAILED) {
				if (i > 0)
					fail = i;
				break;
			}
	}
	for (size_t i = 0; !err && i < f->n; i++) {
		struct queued *qd = &f->q[i];
		if (state[i] != CKS_FAST_NOT_WRITTEN) {
			cks_apply_result r;
			memset(&r, 0, sizeof(r));
			r.outcome = state[i] == CKS_FAST_SEEN      ? CKS_SKIPPED_DUPLICATE
			            : state[i] == CKS_FAST_PENDING ? CKS_APPLIED_PENDING
			            : found[i]                     ? CKS_APPLIED_FAST_FORWARD
			                                           : CKS_APPLIED_CREATED;
			applied(c, qd->rkm, &qd->m, &r);
			cks_metric_observe(c->m_apply_lat, NULL,
			                   (double)(cks_mono_us() - qd->t0) / 1e6);
		} else {
			slow = i; /* this one and every later one: below */
			break;
		}
	}
	if (!err && slow < f->n && next && next->unread) {
		/* the window after it wrote nothing: read its answer, send it again
		 * after the slow part */
		const cks_revmsg *ms2[WINDOW_MAX];
		cks_fast_state state2[WINDOW_MAX];
		bool found2[WINDOW_MAX];
		for (size_t i = 0; i < next->n; i++)
			ms2[i] = &next->q[i].m;
		err = cks_store_window_recv(c->st, ms2, next->n, state2, found2, e, sizeof(e));
		next->unread = false;
		for (size_t i = 0; !err && i < next->n; i++)
			if (state2[i] != CKS_FAST_NOT_WRITTEN)
				err = cks_seterr(
				    e, sizeof(e), CKS_ERR_PERMANENT,
				    "apply revisions: a window sent after one that stopped "
				    "wrote revisions");
		next->resend = true;
		fail = f->n - 1;
	}
	if (!err && slow < f->n)
		err = cks_store_pipeline_off(c->st, e, sizeof(e));
	for (size_t i = slow; !err && i < f->n; i++) {
		struct queued *qd = &f->q[i];
		cks_apply_result r;
		fail = i;
		if ((err = fatten(c, qd, e, sizeof(e))))
			break;
		cks_store_covered(c->st, true);
		err = cks_apply_revision(c->st, &qd->m, &c->policy, &r, e, sizeof(e));
		cks_store_covered(c->st, false);
		if (!err)
			applied(c, qd->rkm, &qd->m, &r);
	}
	if (!err) {
		for (size_t i = 0; i < f->n; i++) {
			rd_kafka_message_destroy(f->q[i].rkm);
			cks_revmsg_release(&f->q[i].m);
		}
		f->n = 0;
		c->fly_head = (c->fly_head + 1) % 2;
		c->nfly--;
		if (next && next->resend) {
			CKS_LOG(CKS_LOG_DEBUG, "postgresql",
			        "window %" PRId64 " wrote nothing (window %" PRId64
			        " before it stopped): sent again",
			        next->id, f->id);
			send_flight(c, next, -1);
		}
		return CKS_OK;
	}
	rd_kafka_message_t *bad = f->q[fail].rkm;
	if (err == CKS_ERR_FATAL) {
		abort_batch(c);
		return cks_seterr(errstr, errstr_size, err, "%s", e);
	}
	if (err == CKS_ERR_PERMANENT) {
		go_careful(c, bad, e); /* rolls back, releases the windows */
		return CKS_OK;
	}
	note_failure(c, bad, e);
	CKS_LOG(CKS_LOG_WARN, NULL, "%s; rolling back the batch and retrying", e);
	c->connected = PQstatus(cks_store_conn(c->st)) == CONNECTION_OK;
	abort_batch(c);
	return CKS_OK;
}

/* Applies every window: the answers of those in flight, then the one being
 * filled, sent and read; pipeline mode ends. As finish_oldest. */
static cks_err drain(cks_consumer *c, char *errstr, size_t errstr_size)
{
	char e[256];
	cks_err err = CKS_OK;
	while (!err && c->in_batch && (c->nwin || c->nfly)) {
		if (c->nwin && c->nfly < 2)
			send_window(c);
		else
			err = finish_oldest(c, errstr, errstr_size);
	}
	if (err || !c->in_batch)
		return err;
	if ((err = cks_store_pipeline_off(c->st, e, sizeof(e)))) {
		if (err == CKS_ERR_FATAL) {
			abort_batch(c);
			return cks_seterr(errstr, errstr_size, err, "%s", e);
		}
		CKS_LOG(CKS_LOG_WARN, NULL, "%s; rolling back the batch and retrying", e);
		c->connected = PQstatus(cks_store_conn(c->st)) == CONNECTION_OK;
		abort_batch(c);
	}
	return CKS_OK;
}

/* The window being filled is full: with two in flight, the answers of the
 * oldest; then this one is sent, not waited for. As finish_oldest. */
static cks_err advance(cks_consumer *c, char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	if (c->nfly == 2)
		err = finish_oldest(c, errstr, errstr_size);
	if (!err && c->in_batch)
		send_window(c);
	return err;
}

/* One message, inside the batch's transaction, with no savepoint of its own
 * (writes open none either: cks_store_covered; a plain revision may be sent
 * kept for a window, see drain), then its offset (written at commit, see
 * store_offsets). RETRIABLE means the whole batch must be rolled back and
 * re-read. A message that fails for good cannot be undone alone there: the
 * batch is rolled back and read again in careful mode, a savepoint per
 * message, where that message is undone alone and dead-lettered (a savepoint
 * per message costs two round trips and a subtransaction each: only when
 * needed). *kept: rkm now belongs to the consumer (the caller must not
 * destroy it). */
static cks_err handle(cks_consumer *c, rd_kafka_message_t *rkm, bool *kept, char *errstr,
                      size_t errstr_size)
{
	char e[1024];
	cks_uuid_str rev = "";
	cks_err err;
	bool careful = c->careful_left > 0;
	*kept = false;
	if (!c->in_batch) {
		if ((err = cks_store_begin(c->st, errstr, errstr_size)))
			return err;
		c->in_batch = true;
		c->batch_t0 = cks_mono_us();
	}
	if (careful) {
		if ((err = cks_store_savepoint(c->st, errstr, errstr_size)))
			return err;
		if (is_careful_message(c, rkm)) {
			/* commit right after it: its dead letter is sent, and a
			 * later failure must not roll it back and send it twice */
			c->careful_left = 0;
			c->commit_now = true;
		} else {
			c->careful_left--;
		}
	} else {
		cks_store_covered(c->st, true);
	}
	bool poison = is_poison(c, rkm);
	if (poison && (err = drain(c, errstr, errstr_size)))
		return err;
	if (!c->in_batch)
		return CKS_OK; /* drain rolled the batch back: read again */
	if (poison) {
		err = cks_seterr(e, sizeof(e), CKS_ERR_PERMANENT,
		                 "failed %d times with the database connection up: %s",
		                 c->poison_tries, c->poison_reason);
	} else {
		int64_t t0 = cks_mono_us();
		err = apply_message(c, rkm, !careful, rev, kept, e, sizeof(e));
		if (!*kept)
			cks_metric_observe(c->m_apply_lat, NULL,
			                   (double)(cks_mono_us() - t0) / 1e6);
	}
	if (!careful && c->st)
		cks_store_covered(c->st, false);
	if (!err && !c->in_batch)
		return CKS_OK; /* drain rolled the batch back: read again */
	if (err == CKS_ERR_RETRIABLE)
		note_failure(c, rkm, e);
	if (err == CKS_ERR_RETRIABLE || err == CKS_ERR_FATAL)
		return cks_seterr(errstr, errstr_size, err, "%s", e);
	if (err && !careful) {
		go_careful(c, rkm, e);
		return CKS_OK;
	}
	if (err) {
		/* Permanent: undo what this message wrote (rolls back and releases
		 * the savepoint), dead-letter it, go on. */
		cks_err cls = err;
		if ((err = cks_store_savepoint_rollback(c->st, errstr, errstr_size)))
			return err;
		dead_letter(c, rkm, cls, e);
		rev[0] = '\0';
		if ((err = cks_store_deadletter_add(c->st, rd_kafka_topic_name(rkm->rkt),
		                                    rkm->partition, rkm->offset, cks_err_name(cls),
		                                    e, errstr, errstr_size)))
			return err;
	} else if (careful && (err = cks_store_savepoint_release(c->st, errstr, errstr_size))) {
		return err;
	}
	part_state *p = find_part(c, rd_kafka_topic_name(rkm->rkt), rkm->partition);
	c->batch_count++;
	if (!p) { /* not tracked (more than MAX_PARTS): its offset row now */
		char topic[256];
		int32_t partition = rkm->partition;
		int64_t next = rkm->offset + 1;
		snprintf(topic, sizeof(topic), "%s", rd_kafka_topic_name(rkm->rkt));
		if ((err = drain(c, errstr, errstr_size)) || !c->in_batch) /* may free rkm */
			return err;
		return cks_store_offset_set(c->st, topic, partition, next, *rev ? rev : NULL,
		                            errstr, errstr_size);
	}
	p->batch_next = rkm->offset + 1;
	if (*rev)
		memcpy(p->batch_rev, rev, sizeof(p->batch_rev));
	p->next = rkm->offset + 1;
	p->eof = false;
	return c->nwin == WINDOW_MAX ? advance(c, errstr, errstr_size) : CKS_OK;
}

/* Every assigned partition read to its end. */
static bool at_end(const cks_consumer *c)
{
	if (!c->assigned || c->need_reseek || c->nparts == 0)
		return false;
	for (size_t i = 0; i < c->nparts; i++)
		if (!c->parts[i].eof)
			return false;
	return true;
}

/* Has every assigned partition been read up to its settle_at? */
static bool settle_ready(cks_consumer *c)
{
	if (at_end(c))
		return true;
	if (!c->assigned || c->need_reseek || c->nparts == 0)
		return false;
	for (size_t i = 0; i < c->nparts; i++) {
		part_state *p = &c->parts[i];
		int64_t lo, hi;
		if (p->eof)
			continue;
		if (p->settle_at < 0) {
			if (rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo,
			                                   &hi) ||
			    hi < 0)
				return false; /* nothing fetched yet */
			p->settle_at = hi;
		}
		if (p->next < p->settle_at)
			return false;
	}
	return true;
}

/* Merges the heads pending revisions left divergent (apply.h), in the open
 * batch or a new one; the caller commits. */
static cks_err settle(cks_consumer *c, char *errstr, size_t errstr_size)
{
	cks_apply_result sum;
	size_t merges = 0;
	cks_err err;
	if ((c->nwin || c->nfly) && ((err = drain(c, errstr, errstr_size)) || !c->in_batch))
		return err; /* rolled back: the merge waits for the batch read again */
	if (!c->in_batch) {
		if ((err = cks_store_begin(c->st, errstr, errstr_size)))
			return err;
		c->in_batch = true;
		c->batch_t0 = cks_mono_us();
	}
	bool more = false;
	if ((err = cks_apply_settle(c->st, &c->policy, SETTLE_CHUNK, &sum, &merges, &more, errstr,
	                            errstr_size)))
		return err;
	c->pending = more; /* the rest after this batch commits */
	c->settle_more = more;
	if (more)
		CKS_LOG(CKS_LOG_INFO, NULL,
		        "merged the waiting heads of %d objects; committing, then the next ones",
		        SETTLE_CHUNK);
	note_merged(c, merges, &sum); /* deferred heads count like those of apply */
	return CKS_OK;
}

static bool all_idle(const cks_consumer *c)
{
	if (!c->assigned || c->in_batch || c->need_reseek || c->nparts == 0 || c->pending)
		return false;
	for (size_t i = 0; i < c->nparts; i++)
		if (!c->parts[i].eof)
			return false;
	return true;
}

static cks_err ensure_topics(cks_consumer *c, char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	int parts = (int)cks_config_get_int(c->cfg, "partitions");
	int rf = (int)cks_config_get_int(c->cfg, "replication-factor");
	for (size_t i = 0; i < c->ntopics && !err; i++)
		err = cks_kafka_ensure_topic(c->dlq, c->topics[i],
		                             is_objects_topic(c->topics[i]) ? CKS_TOPIC_COMPACTED
		                                                            : CKS_TOPIC_HISTORY,
		                             parts, rf, 10000, errstr, errstr_size);
	if (!err)
		err = cks_kafka_ensure_topic(c->dlq, c->dlq_topic, CKS_TOPIC_HISTORY, 1, rf, 10000,
		                             errstr, errstr_size);
	return err;
}

static void backoff_sleep(int *ms, volatile sig_atomic_t *stop)
{
	for (int w = 0; w < *ms && !*stop; w += 50)
		usleep(50 * 1000);
	*ms = *ms * 2 > 5000 ? 5000 : *ms * 2;
}

static bool reconnect(cks_consumer *c, char *e, size_t esz)
{
	cks_store_close(c->st);
	c->st = NULL;
	if (cks_store_open(c->conninfo, &c->st, e, esz) || cks_store_check(c->st, e, esz)) {
		cks_store_close(c->st);
		c->st = NULL;
		return false;
	}
	return true;
}

cks_err cks_consumer_run(cks_consumer *c, volatile sig_atomic_t *stop, char *errstr,
                         size_t errstr_size)
{
	char e[1024];
	cks_err err;
	int backoff = 100;
	bool logged = false;
	while (!*stop && cks_config_get_bool(c->cfg, "create-topics") &&
	       (err = ensure_topics(c, e, sizeof(e)))) {
		rd_kafka_poll(c->dlq, 0); /* serves error_cb */
		if (c->auth_error[0])
			return cks_kafka_auth_failed(c->auth_error, errstr, errstr_size);
		if (err != CKS_ERR_RETRIABLE)
			return cks_seterr(errstr, errstr_size, err, "%s", e);
		CKS_LOG(CKS_LOG_WARN, "kafka", "%s; retrying", e);
		backoff_sleep(&backoff, stop);
	}
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)c->ntopics);
	for (size_t i = 0; i < c->ntopics; i++)
		rd_kafka_topic_partition_list_add(subs, c->topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t rerr = rd_kafka_subscribe(c->rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (rerr)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "subscribe: %s",
		                  rd_kafka_err2str(rerr));
	CKS_LOG(CKS_LOG_INFO, NULL, "instance '%s' following %zu topic(s) from %s, policy %s",
	        cks_store_instance(c->st), c->ntopics, c->topics[0],
	        cks_config_get(c->cfg, "policy"));
	int64_t last_report = cks_mono_us(), last_observe = 0;
	c->prog_base = c->stats.applied + c->stats.skipped + c->stats.dead_letters;
	c->prog_since_us = cks_mono_us();
	int retry_ms = 100; /* backoff of failed commits and seeks, PostgreSQL up */
	backoff = 100;
	while (!*stop && !c->auth_error[0]) {
		if (cks_mono_us() - last_observe > 250000) {
			observe(c);
			last_observe = cks_mono_us();
		}
		if (!c->connected) {
			abort_batch(c);
			if (!reconnect(c, e, sizeof(e))) {
				if (!logged)
					CKS_LOG(CKS_LOG_WARN, "postgresql",
					        "lost connection: %s; retrying with backoff", e);
				logged = true;
				c->stats.reconnects++;
				/* Keep the group membership alive meanwhile. */
				rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
				if (m)
					rd_kafka_message_destroy(m);
				backoff_sleep(&backoff, stop);
				continue;
			}
			CKS_LOG(CKS_LOG_INFO, "postgresql", "reconnected");
			c->connected = true, logged = false, backoff = 100;
			c->need_reseek = true;
		}
		if (c->need_reseek && !c->in_batch && c->assigned) {
			if (reseek(c, e, sizeof(e))) {
				c->connected =
				    c->st && PQstatus(cks_store_conn(c->st)) == CONNECTION_OK;
				if (c->connected) { /* Kafka side: try again shortly */
					CKS_LOG(CKS_LOG_WARN, "kafka", "%s; retrying", e);
					backoff_sleep(&retry_ms, stop);
				}
				continue;
			}
		}
		rd_kafka_message_t *rkm =
		    rd_kafka_consumer_poll(c->rk, c->in_batch || c->settle_more ? 0 : 100);
		if (!rkm) {
			if (c->pending && c->connected && settle_ready(c) &&
			    (err = settle(c, e, sizeof(e)))) {
				CKS_LOG(CKS_LOG_WARN, NULL, "merging divergent heads failed: %s",
				        e);
				c->connected = PQstatus(cks_store_conn(c->st)) == CONNECTION_OK;
				abort_batch(c);
				backoff_sleep(&retry_ms, stop);
				continue;
			}
			if (c->in_batch && (err = commit_batch(c, e, sizeof(e)))) {
				CKS_LOG(CKS_LOG_WARN, NULL, "commit failed: %s", e);
				if (err == CKS_ERR_RETRIABLE)
					c->connected =
					    PQstatus(cks_store_conn(c->st)) == CONNECTION_OK;
				abort_batch(c);
				backoff_sleep(&retry_ms,
				              stop); /* e.g. dead letters not acknowledged */
			} else if (!c->in_batch) {
				retry_ms = 100;
			}
			if (c->until_idle && all_idle(c))
				break;
			continue;
		}
		if (rkm->err) {
			if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				part_state *p =
				    find_part(c, rd_kafka_topic_name(rkm->rkt), rkm->partition);
				if (p && !c->need_reseek)
					p->eof = true;
			} else {
				CKS_LOG(CKS_LOG_WARN, "kafka", "%s", rd_kafka_message_errstr(rkm));
			}
			rd_kafka_message_destroy(rkm);
			continue;
		}
		if (c->need_reseek) { /* stale position: drop, re-read after reseek */
			rd_kafka_message_destroy(rkm);
			continue;
		}
		bool kept = false;
		err = handle(c, rkm, &kept, e, sizeof(e));
		if (!kept)
			rd_kafka_message_destroy(rkm);
		if (err == CKS_ERR_FATAL) {
			abort_batch(c);
			return cks_seterr(errstr, errstr_size, err, "%s", e);
		}
		if (err) {
			CKS_LOG(CKS_LOG_WARN, NULL, "%s; rolling back the batch and retrying", e);
			c->connected = PQstatus(cks_store_conn(c->st)) == CONNECTION_OK;
			abort_batch(c);
			continue;
		}
		/* A batch also ends after BATCH_MAX_AGE_US: when messages arrive about
		 * as fast as they are applied the queue is never empty, and waiting
		 * for batch-size messages would hold the first ones for seconds. */
		if ((c->batch_count >= c->batch_max || c->commit_now ||
		     cks_mono_us() - c->batch_t0 > BATCH_MAX_AGE_US) &&
		    (err = commit_batch(c, e, sizeof(e)))) {
			CKS_LOG(CKS_LOG_WARN, NULL, "commit failed: %s", e);
			c->connected = PQstatus(cks_store_conn(c->st)) == CONNECTION_OK;
			abort_batch(c);
			backoff_sleep(&retry_ms, stop);
		}
		if (cks_mono_us() - last_report > 10 * 1000000) {
			last_report = cks_mono_us();
			CKS_LOG(CKS_LOG_INFO, NULL,
			        "applied %" PRIu64 ", skipped %" PRIu64 ", merges %" PRIu64
			        ", conflicts %" PRIu64 ", dead letters %" PRIu64,
			        c->stats.applied, c->stats.skipped, c->stats.merges,
			        c->stats.conflicts, c->stats.dead_letters);
		}
	}
	if (c->prog_on) /* --until-idle stops at the end; a signal before it */
		show_progress(c, c->until_idle && !*stop ? 0 : -1);
	if (c->in_batch && c->connected && commit_batch(c, e, sizeof(e)))
		CKS_LOG(CKS_LOG_WARN, NULL, "final commit failed: %s (will be re-read)", e);
	abort_batch(c);
	return c->auth_error[0] ? cks_kafka_auth_failed(c->auth_error, errstr, errstr_size)
	                        : CKS_OK;
}
