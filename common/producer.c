/* producer — see producer.h. */
#include "producer.h"
#include "codec.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RING_CAP 65536 /* in-flight messages at most */
/* Memory stays flat whatever the backlog (issue 8): outbox rows decoded at
 * once (each holds its parsed state and diff, ~50 KB for a real dataset) and
 * encoded bytes handed to librdkafka but not yet acknowledged. */
#define FETCH_MAX          128
#define INFLIGHT_BYTES_MAX (8u << 20)
#define BUF_KEEP_MAX       (256u << 10) /* an encode buffer larger is freed after use */

enum slot_state { SLOT_PENDING = 0, SLOT_ACKED = 1, SLOT_FAILED = 2 };

typedef struct slot {
	cks_outbox_pos pos; /* outbox position of the message */
	int state;          /* enum slot_state */
} slot;

struct cks_producer {
	const cks_config *cfg; /* borrowed */
	const char *conninfo;  /* borrowed from cfg */
	const char *prefix;    /* borrowed from cfg */
	bool publish_private;
	bool once;
	int batch;
	int poll_interval_ms;
	cks_store *st; /* NULL while disconnected */
	cks_codec *codec;
	rd_kafka_t *rk;
	char topic_rev[256], topic_obj[256], topic_conf[256];
	char auth_error[512];    /* first Kafka authentication failure (fatal), "" if none */
	slot *ring;              /* RING_CAP slots; message id i lives at i % RING_CAP */
	uint64_t head_id;        /* id of the oldest unresolved slot */
	uint64_t next_id;        /* id of the next message */
	cks_outbox_pos sent;     /* last position handed to librdkafka */
	cks_outbox_pos acked;    /* contiguous acknowledged prefix (the cursor) */
	cks_outbox_pos saved;    /* last cursor written to PostgreSQL */
	bool failed;             /* a delivery failed: resend from acked once drained */
	uint64_t failures;       /* failed reports since the last resend (logged once) */
	size_t inflight_bytes;   /* payload bytes handed to librdkafka, not yet reported */
	cks_buf bufs[FETCH_MAX]; /* a fetch's encoded messages, reused */
	cks_producer_stats stats;
	cks_metrics *mx;                                       /* borrowed; NULL = metrics off */
	cks_metric *m_pub, *m_lat, *m_err, *m_inflight, *m_pg; /* families in mx */
};

static bool pos_eq(const cks_outbox_pos *a, const cks_outbox_pos *b)
{
	return a->ord == b->ord && a->seq == b->seq;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	cks_producer *p = opaque;
	uint64_t id = (uint64_t)(uintptr_t)rkm->_private;
	slot *s = &p->ring[id % RING_CAP];
	p->inflight_bytes -= rkm->len < p->inflight_bytes ? rkm->len : p->inflight_bytes;
	if (rkm->err) {
		s->state = SLOT_FAILED;
		p->stats.delivery_errors++;
		cks_metric_add(p->m_err, NULL, 1);
		if (p->failures++ == 0) /* the rest of a failed batch is counted, not logged */
			CKS_LOG(CKS_LOG_WARN, rd_kafka_topic_name(rkm->rkt),
			        "delivery failed: %s (will resend from the last acknowledged "
			        "revision)",
			        rd_kafka_err2str(rkm->err));
	} else {
		s->state = SLOT_ACKED;
		p->stats.published++;
		if (p->m_pub) {
			char l[320];
			cks_metrics_labels(l, sizeof(l), "topic", rd_kafka_topic_name(rkm->rkt),
			                   NULL);
			cks_metric_add(p->m_pub, l, 1);
			cks_metric_observe(p->m_lat, NULL,
			                   (double)rd_kafka_message_latency(rkm) / 1e6);
		}
	}
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	cks_metrics_rdkafka_stats(((cks_producer *)opaque)->mx, "producer", json, len);
	return 0; /* librdkafka frees json */
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	cks_producer *p = opaque;
	cks_kafka_note_error(err, reason, p->auth_error, sizeof(p->auth_error));
}

static cks_err auth_failed(const cks_producer *p, char *errstr, size_t errstr_size)
{
	return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
	                  "kafka authentication failed: %s (check kafka.sasl.mechanisms, "
	                  "kafka.sasl.username and kafka.sasl.password)",
	                  p->auth_error);
}

cks_err cks_producer_new(const cks_config *cfg, cks_producer **out, char *errstr,
                         size_t errstr_size)
{
	cks_err err;
	char e[512];
	rd_kafka_conf_t *conf = NULL;
	cks_producer *p = cks_calloc(1, sizeof(*p));
	*out = NULL;
	if ((err = cks_config_check_required(cfg, CKS_CFG_PRODUCER, errstr, errstr_size)))
		goto out;
	p->cfg = cfg;
	p->conninfo = cks_config_get(cfg, "db");
	p->prefix = cks_config_get(cfg, "topic-prefix");
	p->publish_private = cks_config_get_bool(cfg, "publish.private");
	p->once = cks_config_get_bool(cfg, "once");
	p->batch = (int)cks_config_get_int(cfg, "batch-size");
	p->poll_interval_ms = (int)cks_config_get_int(cfg, "poll-interval-ms");
	if (p->batch < 1 || p->batch > RING_CAP / 2 || p->poll_interval_ms < 10) {
		err =
		    cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		               "batch-size must be 1..%d and poll-interval-ms >= 10", RING_CAP / 2);
		goto out;
	}
	p->ring = cks_calloc(RING_CAP, sizeof(slot));
	if ((err = cks_codec_new(&p->codec, errstr, errstr_size)))
		goto out;
	if ((err = cks_store_open(p->conninfo, &p->st, e, sizeof(e))) ||
	    (err = cks_store_check(p->st, e, sizeof(e)))) {
		err =
		    cks_seterr(errstr, errstr_size, err == CKS_ERR_RETRIABLE ? CKS_ERR_FATAL : err,
		               "instance database: %s", e);
		goto out;
	}
	cks_log_set_instance(cks_store_instance(p->st));
	cks_topic_revisions(p->prefix, cks_store_instance(p->st), p->topic_rev,
	                    sizeof(p->topic_rev));
	cks_topic_objects(p->prefix, cks_store_instance(p->st), p->topic_obj, sizeof(p->topic_obj));
	cks_topic_conflicts(p->prefix, p->topic_conf, sizeof(p->topic_conf));
	if ((err = cks_kafka_conf_new(cfg, &conf, errstr, errstr_size)))
		goto out;
	/* Our defaults, each unless the config sets it (kafka.*). */
	static const char *const defaults[][2] = {
	    {"enable.idempotence", "true"},
	    {"acks", "all"},
	    {"linger.ms", "0.5"},
	    {"batch.num.messages", "10000"},
	    {"message.timeout.ms", "0"}, /* never give up: ride out outages */
	    {"compression.type", "lz4"},
	    {"queue.buffering.max.messages", "100000"},
	    {"message.max.bytes", "67108864"}, /* CKAN dicts can be large: 64 MiB */
	};
	if ((err = cks_kafka_conf_defaults(
	         conf, cfg, defaults, sizeof(defaults) / sizeof(defaults[0]), errstr, errstr_size)))
		goto out;
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	if (!p->rk) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "kafka producer: %s", e);
		goto out;
	}
	conf = NULL; /* owned by rk now */
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (err) {
		cks_producer_destroy(p);
		return err;
	}
	*out = p;
	return CKS_OK;
}

void cks_producer_destroy(cks_producer *p)
{
	if (!p)
		return;
	if (p->rk)
		rd_kafka_destroy(p->rk);
	cks_store_close(p->st);
	cks_codec_destroy(p->codec);
	for (size_t i = 0; i < FETCH_MAX; i++)
		cks_buf_release(&p->bufs[i]);
	free(p->ring);
	free(p);
}

void cks_producer_get_stats(const cks_producer *p, cks_producer_stats *stats)
{
	*stats = p->stats;
}

void cks_producer_set_metrics(cks_producer *p, cks_metrics *mx)
{
	p->mx = mx;
	p->m_pub = cks_metrics_family(mx, "ckansync_producer_published_total", CKS_METRIC_COUNTER,
	                              "messages acknowledged by the brokers, per topic", NULL, 0);
	p->m_err = cks_metrics_family(
	    mx, "ckansync_producer_delivery_errors_total", CKS_METRIC_COUNTER,
	    "failed deliveries (resent from the last acknowledged revision)", NULL, 0);
	p->m_lat = cks_metrics_family(
	    mx, "ckansync_producer_publish_latency_seconds", CKS_METRIC_HISTOGRAM,
	    "time from handing a message to librdkafka to its acknowledgement",
	    cks_metrics_latency_buckets, cks_metrics_latency_nbuckets);
	p->m_inflight =
	    cks_metrics_family(mx, "ckansync_producer_inflight_messages", CKS_METRIC_GAUGE,
	                       "messages sent and not yet acknowledged", NULL, 0);
	p->m_pg =
	    cks_metrics_family(mx, "ckansync_postgresql_connected", CKS_METRIC_GAUGE,
	                       "1 while the connection to the instance database is up", NULL, 0);
}

/* Connection state and health, once per loop turn. */
static void note_state(cks_producer *p, bool connected)
{
	if (!p->mx)
		return;
	cks_metric_set(p->m_pg, NULL, connected); /* in flight: set by advance() */
	cks_metrics_set_health(p->mx, connected, connected ? NULL : "PostgreSQL connection lost");
}

static uint64_t inflight(const cks_producer *p)
{
	return p->next_id - p->head_id;
}

/* Moves the acknowledged prefix forward; notes failures. */
static void advance(cks_producer *p)
{
	while (p->head_id < p->next_id) {
		slot *s = &p->ring[p->head_id % RING_CAP];
		if (s->state == SLOT_PENDING)
			break;
		if (s->state == SLOT_FAILED) {
			p->failed = true;
			break;
		}
		p->acked = s->pos;
		p->head_id++;
	}
	if (p->failed) {
		/* Resend from the cursor once every outstanding report is in. */
		for (uint64_t id = p->head_id; id < p->next_id; id++)
			if (p->ring[id % RING_CAP].state == SLOT_PENDING)
				return;
		CKS_LOG(CKS_LOG_WARN, p->topic_rev,
		        "%" PRIu64 " delivery report(s) failed: resending %" PRIu64
		        " message(s) from the last acknowledged revision",
		        p->failures, p->next_id - p->head_id);
		p->failures = 0;
		p->head_id = p->next_id;
		p->sent = p->acked;
		p->failed = false;
	}
	/* here, where the reports move it: the loop may go idle for the poll
	 * interval right after them (advance runs every loop turn too) */
	if (p->mx)
		cks_metric_set(p->m_inflight, NULL, (double)(p->next_id - p->head_id));
}

static slot *push_slot(cks_producer *p, const cks_outbox_pos *pos, int state)
{
	slot *s = &p->ring[p->next_id % RING_CAP];
	s->pos = *pos;
	s->state = state;
	p->next_id++;
	p->sent = *pos;
	return s;
}

static void add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
	rd_kafka_header_add(h, name, -1, value, -1);
}

/* Encodes one outbox entry into b. PERMANENT for an entry that cannot be
 * encoded. */
static cks_err encode(cks_producer *p, const cks_outbox_entry *e, cks_buf *b, char *errstr,
                      size_t errstr_size)
{
	cks_buf_reset(b);
	switch (e->kind) {
	case CKS_OUTBOX_REVISION:
		return cks_codec_encode_revision(p->codec, &e->rev, b, errstr, errstr_size);
	case CKS_OUTBOX_CONFLICT:
		return cks_codec_encode_conflict(p->codec, &e->conflict, b, errstr, errstr_size);
	default:
		return cks_codec_encode_object(p->codec, &e->obj, b, errstr, errstr_size);
	}
}

/* Hands entry e, encoded in b, to librdkafka (waits while the local queue
 * is full). */
static cks_err publish(cks_producer *p, const cks_outbox_entry *e, const cks_buf *b,
                       volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
	const char *topic, *key, *origin;
	char keybuf[160], fp[20];
	cks_msgtype type;
	switch (e->kind) {
	case CKS_OUTBOX_REVISION:
		type = CKS_MSG_REVISION;
		topic = p->topic_rev, key = e->rev.object_id, origin = e->rev.origin;
		break;
	case CKS_OUTBOX_CONFLICT:
		type = CKS_MSG_CONFLICT;
		topic = p->topic_conf, key = e->conflict.object_id,
		origin = e->conflict.detected_at;
		break;
	default:
		type = CKS_MSG_OBJECT;
		snprintf(keybuf, sizeof(keybuf), "%s:%s", e->obj.type, e->obj.id);
		topic = p->topic_obj, key = keybuf, origin = e->obj.origin;
		break;
	}
	snprintf(fp, sizeof(fp), "%016" PRIx64, cks_codec_fingerprint(p->codec, type));
	slot *s = push_slot(p, &e->pos, SLOT_PENDING);
	uint64_t id = p->next_id - 1;
	for (;;) {
		rd_kafka_headers_t *h = rd_kafka_headers_new(4);
		add_header(h, "origin", origin ? origin : "");
		if (e->kind == CKS_OUTBOX_REVISION)
			add_header(h, "revision_id", e->rev.revision_id);
		add_header(h, "fingerprint", fp);
		add_header(h, "producer_version", CKS_VERSION);
		rd_kafka_resp_err_t rerr = rd_kafka_producev(
		    p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
		    RD_KAFKA_V_VALUE(b->data, b->len), RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)id), RD_KAFKA_V_END);
		if (!rerr) {
			p->inflight_bytes += b->len;
			return CKS_OK;
		}
		rd_kafka_headers_destroy(h); /* not taken over on error */
		if (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL && !*stop) {
			rd_kafka_poll(p->rk, 100);
			continue;
		}
		s->state = SLOT_FAILED;
		if (rerr == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
			return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			                  "produce to %s: a %zu-byte message is larger than "
			                  "kafka.message.max.bytes: raise it (and the topic's "
			                  "max.message.bytes) rather than lose the revision",
			                  topic, b->len);
		return cks_seterr(errstr, errstr_size, cks_kafka_classify(rerr),
		                  "produce to %s: %s", topic, rd_kafka_err2str(rerr));
	}
}

static cks_err reconnect(cks_producer *p, char *errstr, size_t errstr_size)
{
	cks_store_close(p->st);
	p->st = NULL;
	cks_err err = cks_store_open(p->conninfo, &p->st, errstr, errstr_size);
	if (!err)
		err = cks_store_check(p->st, errstr, errstr_size);
	if (!err) {
		PGresult *res = PQexec(cks_store_conn(p->st), "LISTEN " CKS_OUTBOX_CHANNEL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE, "LISTEN: %s",
			                 PQerrorMessage(cks_store_conn(p->st)));
		PQclear(res);
	}
	if (err) {
		cks_store_close(p->st);
		p->st = NULL;
	}
	return err;
}

/* Waits up to timeout_ms for a NOTIFY (or input) on the store connection,
 * serving delivery reports meanwhile. Returns true if notified. */
static bool wait_notify(cks_producer *p, int timeout_ms, volatile sig_atomic_t *stop)
{
	PGconn *conn = cks_store_conn(p->st);
	int64_t deadline = cks_mono_us() + (int64_t)timeout_ms * 1000;
	bool got = false;
	while (!*stop) {
		PQconsumeInput(conn);
		PGnotify *n;
		while ((n = PQnotifies(conn))) {
			PQfreemem(n);
			got = true;
		}
		if (got || PQstatus(conn) != CONNECTION_OK)
			return got;
		int64_t left = (deadline - cks_mono_us()) / 1000;
		if (left <= 0)
			return false;
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
		poll(&pfd, 1, (int)(left < 50 ? left : 50));
		rd_kafka_poll(p->rk, 0);
		advance(p);
	}
	return false;
}

static cks_err ensure_topics(cks_producer *p, char *errstr, size_t errstr_size)
{
	int parts = (int)cks_config_get_int(p->cfg, "partitions");
	int rf = (int)cks_config_get_int(p->cfg, "replication-factor");
	cks_err err = cks_kafka_ensure_topic(p->rk, p->topic_rev, CKS_TOPIC_HISTORY, parts, rf,
	                                     10000, errstr, errstr_size);
	if (!err)
		err = cks_kafka_ensure_topic(p->rk, p->topic_obj, CKS_TOPIC_COMPACTED, parts, rf,
		                             10000, errstr, errstr_size);
	if (!err)
		err = cks_kafka_ensure_topic(p->rk, p->topic_conf, CKS_TOPIC_EVENTS, parts, rf,
		                             10000, errstr, errstr_size);
	/* --once: a topic handle made now starts librdkafka's metadata lookup
	 * at once; otherwise the first message to the topic waits for the next
	 * periodic refresh (up to 1 s: most of a short "sync now"). */
	const char *topics[3] = {p->topic_rev, p->topic_obj, p->topic_conf};
	for (int i = 0; i < 3 && !err && p->once; i++) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topics[i], NULL);
		if (rkt)
			rd_kafka_topic_destroy(rkt);
	}
	return err;
}

static void sleep_backoff(int *backoff_ms, volatile sig_atomic_t *stop)
{
	for (int waited = 0; waited < *backoff_ms && !*stop; waited += 50)
		usleep(50 * 1000);
	*backoff_ms = *backoff_ms * 2 > 5000 ? 5000 : *backoff_ms * 2;
}

/* One fetch-and-publish round. Returns the number of entries handed out, or
 * -1 after a store failure (the caller reconnects). */
static int pump(cks_producer *p, volatile sig_atomic_t *stop, cks_err *fatal, char *errstr,
                size_t errstr_size)
{
	uint64_t room = RING_CAP - inflight(p);
	if (p->failed || room < (uint64_t)p->batch || p->inflight_bytes > INFLIGHT_BYTES_MAX)
		return 0;
	cks_outbox_entry *entries = NULL;
	size_t n = 0;
	char e[512];
	size_t want = p->batch < FETCH_MAX ? (size_t)p->batch : FETCH_MAX;
	cks_err err = cks_store_outbox_fetch(p->st, &p->sent, want, &entries, &n, e, sizeof(e));
	if (err) {
		CKS_LOG(CKS_LOG_WARN, "outbox", "fetch failed: %s", e);
		return -1;
	}
	/* Every entry encoded first, then all handed to librdkafka together:
	 * encoding one took longer than linger.ms, so messages handed out one
	 * by one as they were encoded left in batches of one or two per
	 * partition, and the broker's cost is per batch (bench/RESULTS.md,
	 * eighth pass). A steady stream's fetch holds one entry: sent at once. */
	cks_err enc[FETCH_MAX];
	char enc_err[FETCH_MAX][256];
	for (size_t i = 0; i < n; i++) {
		const cks_outbox_entry *en = &entries[i];
		enc[i] = en->private_ && !p->publish_private
		             ? CKS_OK
		             : encode(p, en, &p->bufs[i], enc_err[i], sizeof(enc_err[i]));
	}
	for (size_t i = 0; i < n && !*fatal; i++) {
		const cks_outbox_entry *en = &entries[i];
		if (en->private_ && !p->publish_private) {
			push_slot(p, &en->pos, SLOT_ACKED);
			p->stats.skipped_private++;
			continue;
		}
		err = enc[i] ? cks_seterr(e, sizeof(e), enc[i], "%s", enc_err[i])
		             : publish(p, en, &p->bufs[i], stop, e, sizeof(e));
		if (err == CKS_ERR_PERMANENT) {
			/* Cannot be encoded (the store validated it, so this is a bug):
			 * say so loudly and move the cursor past it. */
			CKS_LOG(CKS_LOG_ERROR, "outbox", "not publishable, skipped: %s", e);
			push_slot(p, &en->pos, SLOT_ACKED);
		} else if (err == CKS_ERR_FATAL) {
			*fatal = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "%s", e);
		} else if (err) {
			CKS_LOG(CKS_LOG_WARN, "kafka", "%s", e);
		}
	}
	cks_outbox_free(entries, n);
	for (size_t i = 0; i < n; i++)
		if (p->bufs[i].cap > BUF_KEEP_MAX) /* memory stays flat after a huge dict */
			cks_buf_release(&p->bufs[i]);
	rd_kafka_poll(p->rk, 0);
	return (int)n;
}

static cks_err save_cursor(cks_producer *p)
{
	if (pos_eq(&p->acked, &p->saved) || !p->st)
		return CKS_OK;
	char e[512];
	cks_err err = cks_store_cursor_set(p->st, &p->acked, e, sizeof(e));
	if (err)
		CKS_LOG(CKS_LOG_WARN, "outbox", "cannot save cursor: %s", e);
	else
		p->saved = p->acked;
	return err;
}

cks_err cks_producer_run(cks_producer *p, volatile sig_atomic_t *stop, char *errstr,
                         size_t errstr_size)
{
	char e[512];
	cks_err err = CKS_OK;
	int backoff = 100;
	/* Topics: retry while the broker is unreachable, refuse bad settings. */
	while (!*stop && cks_config_get_bool(p->cfg, "create-topics") &&
	       (err = ensure_topics(p, e, sizeof(e)))) {
		rd_kafka_poll(p->rk, 0); /* serves error_cb */
		if (p->auth_error[0])
			return auth_failed(p, errstr, errstr_size);
		if (err != CKS_ERR_RETRIABLE)
			return cks_seterr(errstr, errstr_size, err, "%s", e);
		CKS_LOG(CKS_LOG_WARN, "kafka", "%s; retrying", e);
		sleep_backoff(&backoff, stop);
	}
	if ((err = cks_store_cursor_get(p->st, &p->acked, e, sizeof(e))))
		return cks_seterr(errstr, errstr_size, err, "read cursor: %s", e);
	p->sent = p->saved = p->acked;
	bool connected = reconnect(p, e, sizeof(e)) == CKS_OK, logged = false;
	backoff = 100;
	CKS_LOG(CKS_LOG_INFO, p->topic_rev, "publishing instance '%s'%s",
	        p->st ? cks_store_instance(p->st) : "?", p->once ? " (once)" : "");
	cks_err fatal = CKS_OK;
	while (!*stop && !fatal) {
		note_state(p, connected);
		if (rd_kafka_fatal_error(p->rk, e, sizeof(e))) {
			fatal = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "kafka: %s", e);
			break;
		}
		if (p->auth_error[0]) {
			fatal = auth_failed(p, errstr, errstr_size);
			break;
		}
		if (!connected) {
			if (reconnect(p, e, sizeof(e)) != CKS_OK) {
				if (!logged)
					CKS_LOG(CKS_LOG_WARN, "postgresql",
					        "lost connection: %s; retrying with backoff", e);
				logged = true;
				p->stats.reconnects++;
				rd_kafka_poll(p->rk, 0);
				advance(p);
				sleep_backoff(&backoff, stop);
				continue;
			}
			CKS_LOG(CKS_LOG_INFO, "postgresql", "reconnected");
			connected = true, logged = false, backoff = 100;
		}
		rd_kafka_poll(p->rk, 0);
		advance(p);
		if (save_cursor(p) == CKS_ERR_RETRIABLE) {
			connected = false;
			continue;
		}
		int n = pump(p, stop, &fatal, errstr, errstr_size);
		if (n < 0) {
			connected = false;
			continue;
		}
		if (n > 0)
			continue;
		if (p->once && inflight(p) == 0 && !p->failed && pos_eq(&p->acked, &p->saved)) {
			/* Done only when nothing committed is left, final or not. */
			int64_t backlog = 0;
			if (cks_store_outbox_backlog(p->st, &p->sent, &backlog, e, sizeof(e))) {
				connected = false;
				continue;
			}
			if (backlog == 0)
				break;
			wait_notify(p, 10, stop);
			continue;
		}
		/* Idle: wait for NOTIFY; short waits while reports are outstanding. */
		wait_notify(p, inflight(p) ? 20 : p->poll_interval_ms, stop);
	}
	/* Shutdown: stop reading, flush, record what was acknowledged. */
	for (int i = 0; i < 300 && inflight(p) && !p->failed; i++) {
		rd_kafka_flush(p->rk, 100);
		rd_kafka_poll(p->rk, 0);
		advance(p);
	}
	for (int i = 0; i < 3 && save_cursor(p) == CKS_ERR_RETRIABLE; i++)
		if (reconnect(p, e, sizeof(e)) != CKS_OK)
			usleep(200 * 1000);
	if (fatal)
		return fatal;
	if (inflight(p) || p->failed || !pos_eq(&p->acked, &p->saved))
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                  "%" PRIu64
		                  " message(s) not acknowledged at shutdown; they will be "
		                  "sent again on restart",
		                  inflight(p));
	return CKS_OK;
}
