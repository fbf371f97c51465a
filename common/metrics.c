/* metrics — see metrics.h. One mutex guards the whole registry: updates are
 * a few per message and scrapes are rare, so contention is not worth more. */
#include "metrics.h"

#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double cks_metrics_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,      2.5,   5,    10,    30,   60};
const size_t cks_metrics_latency_nbuckets =
    sizeof(cks_metrics_latency_buckets) / sizeof(cks_metrics_latency_buckets[0]);

typedef struct series {
	char *labels;     /* owned, "" for none */
	double value;     /* counter/gauge value, histogram sum */
	uint64_t count;   /* histogram observations */
	uint64_t *counts; /* owned, per bucket (not cumulative), histograms only */
} series;

struct cks_metric {
	cks_metrics *m; /* owner (for the lock) */
	char *name;     /* owned */
	char *help;     /* owned */
	cks_metric_type type;
	double *buckets; /* owned upper bounds */
	size_t nbuckets;
	series *s; /* owned array */
	size_t ns, cap;
};

struct cks_metrics {
	pthread_mutex_t lock;
	cks_metric **f; /* owned families, in registration order */
	size_t nf, capf;
	bool healthy;
	char reason[256];
	struct MHD_Daemon *httpd; /* NULL until serve */
};

cks_metrics *cks_metrics_new(void)
{
	cks_metrics *m = cks_calloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	snprintf(m->reason, sizeof(m->reason), "starting");
	return m;
}

static void family_free(cks_metric *f)
{
	for (size_t i = 0; i < f->ns; i++) {
		free(f->s[i].labels);
		free(f->s[i].counts);
	}
	free(f->s);
	free(f->name);
	free(f->help);
	free(f->buckets);
	free(f);
}

void cks_metrics_destroy(cks_metrics *m)
{
	if (!m)
		return;
	if (m->httpd)
		MHD_stop_daemon(m->httpd); /* joins the server thread: no scrape after this */
	for (size_t i = 0; i < m->nf; i++)
		family_free(m->f[i]);
	free(m->f);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

cks_metric *cks_metrics_family(cks_metrics *m, const char *name, cks_metric_type type,
                               const char *help, const double *buckets, size_t nbuckets)
{
	if (!m)
		return NULL;
	cks_metric *f = NULL;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nf && !f; i++)
		if (strcmp(m->f[i]->name, name) == 0)
			f = m->f[i];
	if (!f) {
		f = cks_calloc(1, sizeof(*f));
		f->m = m;
		f->name = cks_strdup(name);
		f->help = cks_strdup(help ? help : "");
		f->type = type;
		if (type == CKS_METRIC_HISTOGRAM && nbuckets) {
			f->buckets = cks_malloc(nbuckets * sizeof(double));
			memcpy(f->buckets, buckets, nbuckets * sizeof(double));
			f->nbuckets = nbuckets;
		}
		if (m->nf == m->capf) {
			m->capf = m->capf ? m->capf * 2 : 32;
			m->f = cks_realloc(m->f, m->capf * sizeof(*m->f));
		}
		m->f[m->nf++] = f;
	}
	pthread_mutex_unlock(&m->lock);
	return f->type == type ? f : NULL; /* a name registered with another type: off */
}

/* The series with these labels, created if absent. Lock held. */
static series *get_series(cks_metric *f, const char *labels)
{
	if (!labels)
		labels = "";
	for (size_t i = 0; i < f->ns; i++)
		if (strcmp(f->s[i].labels, labels) == 0)
			return &f->s[i];
	if (f->ns == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		f->s = cks_realloc(f->s, f->cap * sizeof(*f->s));
	}
	series *s = &f->s[f->ns++];
	memset(s, 0, sizeof(*s));
	s->labels = cks_strdup(labels);
	if (f->type == CKS_METRIC_HISTOGRAM)
		s->counts = cks_calloc(f->nbuckets + 1, sizeof(uint64_t));
	return s;
}

void cks_metric_add(cks_metric *f, const char *labels, double v)
{
	if (!f || f->type == CKS_METRIC_HISTOGRAM)
		return;
	pthread_mutex_lock(&f->m->lock);
	get_series(f, labels)->value += v;
	pthread_mutex_unlock(&f->m->lock);
}

void cks_metric_set(cks_metric *f, const char *labels, double v)
{
	if (!f || f->type == CKS_METRIC_HISTOGRAM)
		return;
	pthread_mutex_lock(&f->m->lock);
	get_series(f, labels)->value = v;
	pthread_mutex_unlock(&f->m->lock);
}

void cks_metric_observe(cks_metric *f, const char *labels, double v)
{
	if (!f || f->type != CKS_METRIC_HISTOGRAM || isnan(v))
		return;
	pthread_mutex_lock(&f->m->lock);
	series *s = get_series(f, labels);
	size_t b = 0;
	while (b < f->nbuckets && v > f->buckets[b])
		b++;
	s->counts[b]++; /* b == nbuckets: only in +Inf */
	s->count++;
	s->value += v;
	pthread_mutex_unlock(&f->m->lock);
}

void cks_metric_clear(cks_metric *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->m->lock);
	for (size_t i = 0; i < f->ns; i++) {
		free(f->s[i].labels);
		free(f->s[i].counts);
	}
	f->ns = 0;
	pthread_mutex_unlock(&f->m->lock);
}

double cks_metric_get(cks_metric *f, const char *labels)
{
	double v = 0;
	if (!f)
		return 0;
	pthread_mutex_lock(&f->m->lock);
	for (size_t i = 0; i < f->ns; i++)
		if (strcmp(f->s[i].labels, labels ? labels : "") == 0)
			v = f->type == CKS_METRIC_HISTOGRAM ? (double)f->s[i].count : f->s[i].value;
	pthread_mutex_unlock(&f->m->lock);
	return v;
}

char *cks_metrics_labels(char *out, size_t out_size, const char *key, ...)
{
	va_list ap;
	size_t n = 0;
	if (!out_size)
		return out;
	out[0] = '\0';
	va_start(ap, key);
	for (const char *k = key; k; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		char esc[512];
		size_t e = 0;
		for (const char *p = v ? v : ""; *p && e + 2 < sizeof(esc); p++) {
			if (*p == '\\' || *p == '"' || *p == '\n')
				esc[e++] = '\\';
			esc[e++] = *p == '\n' ? 'n' : *p;
		}
		esc[e] = '\0';
		int w = snprintf(out + n, out_size - n, "%s%s=\"%s\"", n ? "," : "", k, esc);
		if (w < 0 || (size_t)w >= out_size - n) {
			out[n] = '\0'; /* drop a pair that does not fit whole */
			break;
		}
		n += (size_t)w;
	}
	va_end(ap);
	return out;
}

/* Prometheus number: integers plainly, +Inf/-Inf/NaN by name. */
static void append_number(cks_buf *b, double v)
{
	if (isnan(v))
		cks_buf_appendf(b, "NaN");
	else if (isinf(v))
		cks_buf_appendf(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9e15)
		cks_buf_appendf(b, "%.0f", v);
	else
		cks_buf_appendf(b, "%.9g", v);
}

static void append_help(cks_buf *b, const char *help)
{
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			cks_buf_appendf(b, "\\\\");
		else if (*p == '\n')
			cks_buf_appendf(b, "\\n");
		else
			cks_buf_append(b, p, 1);
	}
}

/* name{labels[,extra]} value */
static void append_sample(cks_buf *b, const char *name, const char *suffix, const char *labels,
                          const char *extra, double v)
{
	bool any = *labels || (extra && *extra);
	cks_buf_appendf(b, "%s%s%s%s%s%s%s ", name, suffix, any ? "{" : "", labels,
	                *labels && extra && *extra ? "," : "", extra ? extra : "", any ? "}" : "");
	append_number(b, v);
	cks_buf_appendf(b, "\n");
}

static void render_family(cks_buf *b, const cks_metric *f)
{
	static const char *types[] = {"counter", "gauge", "histogram"};
	cks_buf_appendf(b, "# HELP %s ", f->name);
	append_help(b, f->help);
	cks_buf_appendf(b, "\n# TYPE %s %s\n", f->name, types[f->type]);
	for (size_t i = 0; i < f->ns; i++) {
		const series *s = &f->s[i];
		if (f->type != CKS_METRIC_HISTOGRAM) {
			append_sample(b, f->name, "", s->labels, NULL, s->value);
			continue;
		}
		uint64_t cum = 0;
		char le[48];
		for (size_t k = 0; k < f->nbuckets; k++) {
			cum += s->counts[k];
			snprintf(le, sizeof(le), "le=\"%.9g\"", f->buckets[k]);
			append_sample(b, f->name, "_bucket", s->labels, le, (double)cum);
		}
		append_sample(b, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
		append_sample(b, f->name, "_sum", s->labels, NULL, s->value);
		append_sample(b, f->name, "_count", s->labels, NULL, (double)s->count);
	}
}

void cks_metrics_render(cks_metrics *m, cks_buf *out)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nf; i++)
		render_family(out, m->f[i]);
	pthread_mutex_unlock(&m->lock);
}

void cks_metrics_set_health(cks_metrics *m, bool ok, const char *reason)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->healthy = ok;
	snprintf(m->reason, sizeof(m->reason), "%s", reason ? reason : (ok ? "ok" : "unhealthy"));
	pthread_mutex_unlock(&m->lock);
}

/* --- HTTP ------------------------------------------------------------------ */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype,
                               const char *body, size_t len)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
	cks_metrics *m = cls;
	static const char *text = "text/plain; charset=utf-8";
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET only\n", 9);
	if (strcmp(url, "/metrics") == 0) {
		cks_buf b = CKS_BUF_INIT;
		cks_metrics_render(m, &b);
		enum MHD_Result r =
		    respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		            b.data ? b.data : "", b.len);
		cks_buf_release(&b);
		return r;
	}
	if (strcmp(url, "/healthz") == 0) {
		char body[300];
		pthread_mutex_lock(&m->lock);
		bool ok = m->healthy;
		snprintf(body, sizeof(body), "%s\n", ok ? "ok" : m->reason);
		pthread_mutex_unlock(&m->lock);
		return respond(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text, body,
		               strlen(body));
	}
	static const char *nf = "not found: try /metrics or /healthz\n";
	return respond(conn, MHD_HTTP_NOT_FOUND, text, nf, strlen(nf));
}

cks_err cks_metrics_serve(cks_metrics *m, int port, char *errstr, size_t errstr_size)
{
	if (port < 1 || port > 65535)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                  "metrics-port: %d is not a TCP port (1-65535, 0 = off)", port);
	if (m->httpd)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "metrics: already serving");
	m->httpd = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, (uint16_t)port, NULL, NULL,
	                            on_request, m, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_END);
	if (!m->httpd)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                  "metrics: cannot listen on port %d (in use?)", port);
	return CKS_OK;
}

/* --- librdkafka statistics -------------------------------------------------- */

static double jnum(const json_t *o, const char *key, bool *found)
{
	const json_t *v = json_object_get(o, key);
	if (found)
		*found = json_is_number(v);
	return json_is_number(v) ? json_number_value(v) : 0;
}

static void stats_top(cks_metrics *m, const char *client, const json_t *root)
{
	static const struct {
		const char *key, *name, *help;
		cks_metric_type type;
	} top[] = {
	    {"msg_cnt", "ckansync_kafka_queue_messages",
	     "messages in librdkafka's queues (waiting to be sent or delivered)", CKS_METRIC_GAUGE},
	    {"txmsgs", "ckansync_kafka_tx_messages_total", "messages sent to brokers",
	     CKS_METRIC_COUNTER},
	    {"rxmsgs", "ckansync_kafka_rx_messages_total", "messages received from brokers",
	     CKS_METRIC_COUNTER},
	    {"txerrs", "ckansync_kafka_tx_errors_total", "transmission errors", CKS_METRIC_COUNTER},
	    {"rxerrs", "ckansync_kafka_rx_errors_total", "receive errors", CKS_METRIC_COUNTER},
	};
	char l[128];
	cks_metrics_labels(l, sizeof(l), "client", client, NULL);
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		bool found;
		double v = jnum(root, top[i].key, &found);
		if (found)
			cks_metric_set(
			    cks_metrics_family(m, top[i].name, top[i].type, top[i].help, NULL, 0),
			    l, v);
	}
	const json_t *cgrp = json_object_get(root, "cgrp");
	if (json_is_object(cgrp)) {
		cks_metric_set(cks_metrics_family(m, "ckansync_kafka_rebalances_total",
		                                  CKS_METRIC_COUNTER, "consumer group rebalances",
		                                  NULL, 0),
		               l, jnum(cgrp, "rebalance_cnt", NULL));
		cks_metric_set(cks_metrics_family(m, "ckansync_kafka_assigned_partitions",
		                                  CKS_METRIC_GAUGE,
		                                  "partitions assigned to this consumer", NULL, 0),
		               l, jnum(cgrp, "assignment_size", NULL));
	}
}

static void stats_brokers(cks_metrics *m, const char *client, const json_t *root)
{
	cks_metric *up = cks_metrics_family(m, "ckansync_kafka_broker_up", CKS_METRIC_GAUGE,
	                                    "1 if the connection to this broker is up", NULL, 0);
	cks_metric *rtt =
	    cks_metrics_family(m, "ckansync_kafka_broker_rtt_seconds", CKS_METRIC_GAUGE,
	                       "average request round-trip time to this broker", NULL, 0);
	const char *k;
	json_t *b;
	json_object_foreach((json_t *)json_object_get(root, "brokers"), k, b)
	{
		const char *src = json_string_value(json_object_get(b, "source"));
		if (jnum(b, "nodeid", NULL) < 0 ||
		    (src && (strcmp(src, "logical") == 0 || strcmp(src, "internal") == 0)))
			continue; /* bootstrap placeholder or GroupCoordinator: not a broker */
		const char *name = json_string_value(json_object_get(b, "name"));
		const char *state = json_string_value(json_object_get(b, "state"));
		char l[300];
		cks_metrics_labels(l, sizeof(l), "client", client, "broker", name ? name : k, NULL);
		cks_metric_set(up, l, state && strcmp(state, "UP") == 0);
		cks_metric_set(rtt, l, jnum(json_object_get(b, "rtt"), "avg", NULL) / 1e6);
	}
}

static void stats_lag(cks_metrics *m, const char *client, const json_t *root)
{
	cks_metric *lag = cks_metrics_family(
	    m, "ckansync_kafka_consumer_lag", CKS_METRIC_GAUGE,
	    "librdkafka's consumer lag (high watermark - committed offset) per partition", NULL, 0);
	const char *t, *p;
	json_t *tv, *pv;
	json_object_foreach((json_t *)json_object_get(root, "topics"), t, tv)
	{
		json_object_foreach(json_object_get(tv, "partitions"), p, pv)
		{
			bool found;
			double v = jnum(pv, "consumer_lag", &found);
			if (strcmp(p, "-1") == 0 || !found || v < 0)
				continue;
			char l[400];
			cks_metrics_labels(l, sizeof(l), "client", client, "topic", t, "partition",
			                   p, NULL);
			cks_metric_set(lag, l, v);
		}
	}
}

void cks_metrics_rdkafka_stats(cks_metrics *m, const char *client, const char *json, size_t len)
{
	if (!m || !json)
		return;
	json_t *root = json_loadb(json, len, 0, NULL);
	if (!json_is_object(root))
		goto out;
	stats_top(m, client, root);
	stats_brokers(m, client, root);
	const char *type = json_string_value(json_object_get(root, "type"));
	if (type && strcmp(type, "consumer") == 0)
		stats_lag(m, client, root);
out:
	json_decref(root);
}
