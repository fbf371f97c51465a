/* metrics — a small registry of counters, gauges and histograms rendered in
 * the Prometheus text format (0.0.4), served over HTTP with libmicrohttpd
 * (GET /metrics, GET /healthz) from MHD's own thread; every call is
 * thread-safe. Also turns selected librdkafka statistics into gauges.
 * Knows nothing of the daemons: they register families and update them.
 * Every update accepts a NULL family (metrics off) and does nothing. */
#ifndef CKS_METRICS_H
#define CKS_METRICS_H

#include "util.h"

typedef struct cks_metrics cks_metrics;
typedef struct cks_metric cks_metric; /* one family: name, type, help, series */

typedef enum cks_metric_type {
	CKS_METRIC_COUNTER = 0,
	CKS_METRIC_GAUGE = 1,
	CKS_METRIC_HISTOGRAM = 2,
} cks_metric_type;

/* Latency buckets in seconds (1 ms .. 60 s), for histograms of durations. */
extern const double cks_metrics_latency_buckets[];
extern const size_t cks_metrics_latency_nbuckets;

/* 1. cks_metrics_new (caller owns; free with cks_metrics_destroy).
 * 2. cks_metrics_family for each family (or pass NULL around: metrics off).
 * 3. optionally cks_metrics_serve (HTTP on a port), then update from any thread.
 * 4. cks_metrics_destroy stops the server first. Accepts NULL. */
cks_metrics *cks_metrics_new(void);
void cks_metrics_destroy(cks_metrics *m);

/* Registers a family, or returns the one already registered under name (its
 * type must match). buckets: ascending upper bounds for a histogram (copied),
 * NULL/0 otherwise. Borrowed; valid until cks_metrics_destroy. Returns NULL
 * if m is NULL. */
cks_metric *cks_metrics_family(cks_metrics *m, const char *name, cks_metric_type type,
                               const char *help, const double *buckets, size_t nbuckets);

/* Updates the series of f with these labels: preformatted label text as made
 * by cks_metrics_labels (e.g. `topic="x",partition="0"`), NULL for none.
 * add: counters and gauges; set: gauges (and counters mirrored from another
 * source, e.g. librdkafka's totals); observe: histograms. */
void cks_metric_add(cks_metric *f, const char *labels, double v);
void cks_metric_set(cks_metric *f, const char *labels, double v);
void cks_metric_observe(cks_metric *f, const char *labels, double v);
/* Drops every series of f (e.g. lag gauges of partitions no longer assigned). */
void cks_metric_clear(cks_metric *f);
/* Current value of a counter or gauge series (histogram: its count); 0 if
 * absent. For tests and logs. */
double cks_metric_get(cks_metric *f, const char *labels);

/* Formats label pairs (key, value, ..., NULL) into out with values escaped
 * as the text format wants (\\, \", \n). Truncates safely. Returns out. */
char *cks_metrics_labels(char *out, size_t out_size, const char *key, ...);

/* Appends the whole registry in the Prometheus text format to out. */
void cks_metrics_render(cks_metrics *m, cks_buf *out);

/* /healthz answers 200 "ok" while healthy, else 503 with the reason.
 * Starts unhealthy ("starting"). reason may be NULL; it is copied. */
void cks_metrics_set_health(cks_metrics *m, bool ok, const char *reason);

/* Serves /metrics and /healthz on port (all addresses) until destroy.
 * FATAL if the port cannot be bound. */
cks_err cks_metrics_serve(cks_metrics *m, int port, char *errstr, size_t errstr_size) CKS_WUR;

/* Turns one librdkafka statistics JSON document (statistics.interval.ms,
 * stats_cb) into gauges labelled client=<client>: queued messages, messages
 * sent/received, transmit errors, per broker up/down and round-trip time,
 * consumer lag per topic partition and rebalances. Malformed JSON is
 * ignored. Borrowed json, not kept. */
void cks_metrics_rdkafka_stats(cks_metrics *m, const char *client, const char *json, size_t len);

#endif
