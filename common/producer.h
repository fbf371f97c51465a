/* producer — publishes an instance's outbox to Kafka (DESIGN.md §5):
 * object revisions (made here or imported, origin kept) to
 * <prefix>.<instance>.revisions keyed by object id, conflicts to
 * <prefix>.conflicts, unversioned objects to <prefix>.<instance>.objects.
 * Idempotent producer; the cursor in PostgreSQL advances only from delivery
 * reports, over the contiguous acknowledged prefix. Wakes on LISTEN/NOTIFY.
 * Rides out lost PostgreSQL connections and broker outages with capped
 * backoff. Does not parse arguments or handle signals (producer/main.c). */
#ifndef CKS_PRODUCER_H
#define CKS_PRODUCER_H

#include <signal.h>
#include "config.h"

typedef struct cks_producer cks_producer;

/* Statistics, for logs, metrics and tests. */
typedef struct cks_producer_stats {
	uint64_t published; /* messages acknowledged by the broker */
	uint64_t skipped_private;
	uint64_t delivery_errors;
	uint64_t reconnects; /* PostgreSQL reconnects */
} cks_producer_stats;

/* 1. cks_producer_new: validates the config, connects to PostgreSQL and
 *    creates the Kafka producer (no network I/O to Kafka yet).
 * 2. cks_producer_run: ensures topics, then publishes until *stop is set
 *    (or, with once, until the outbox is drained and acknowledged).
 * 3. cks_producer_destroy. */
cks_err cks_producer_new(const cks_config *cfg, cks_producer **out, char *errstr,
                         size_t errstr_size) CKS_WUR;
/* Returns CKS_OK when stopped with everything pending acknowledged; FATAL on
 * a fatal error (bad topic settings, fenced producer, auth) or when messages
 * were left unacknowledged at shutdown. */
cks_err cks_producer_run(cks_producer *p, volatile sig_atomic_t *stop, char *errstr,
                         size_t errstr_size) CKS_WUR;
void cks_producer_get_stats(const cks_producer *p, cks_producer_stats *stats);
/* Optional, before cks_producer_run: keep these metrics (and /healthz) up to
 * date (metrics.h). mx is borrowed and must outlive p; NULL = off. */
typedef struct cks_metrics cks_metrics;
void cks_producer_set_metrics(cks_producer *p, cks_metrics *mx);
void cks_producer_destroy(cks_producer *p);

#endif
