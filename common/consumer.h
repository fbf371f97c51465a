/* consumer — follows the revisions (and unversioned objects) topics of one or
 * more origins and applies them with apply.h, exactly once in effect: each
 * batch of messages is one PostgreSQL transaction that also stores every
 * partition's next offset, and on every assignment the consumer seeks to the
 * offsets stored in PostgreSQL (Kafka's committed offsets are written
 * afterwards, for lag tooling only). Undecodable or unappliable messages go
 * to <prefix>.deadletter with the reason. Does not parse arguments or handle
 * signals (consumer/main.c). */
#ifndef CKS_CONSUMER_H
#define CKS_CONSUMER_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include "config.h"

typedef struct cks_consumer cks_consumer;

typedef struct cks_consumer_stats {
	uint64_t applied; /* messages whose revision was written */
	uint64_t skipped; /* duplicates, purged */
	uint64_t merges;
	uint64_t conflicts;
	uint64_t dead_letters;
	uint64_t batches; /* committed transactions */
	uint64_t reconnects;
} cks_consumer_stats;

/* Adds to conf (from cks_kafka_conf_new) the consumer's Kafka settings:
 * group.id = group and those its correctness rests on (offsets kept in
 * PostgreSQL, end-of-partition events, earliest reset), whatever kafka.*
 * says; then its defaults (fetch wait, prefetch bounds, assignment
 * strategy), each unless kafka.* sets it. */
cks_err cks_consumer_kafka_conf(const cks_config *cfg, const char *group, rd_kafka_conf_t *conf,
                                char *errstr, size_t errstr_size) CKS_WUR;

/* 1. cks_consumer_new: validates config (origins, policy; a 2-way set-up
 *    needs a symmetric policy), connects to PostgreSQL, creates the Kafka
 *    consumer and the dead-letter producer.
 * 2. cks_consumer_run: until *stop, or (until-idle) until every assigned
 *    partition is applied to its end.
 * 3. cks_consumer_destroy (closes the consumer properly). */
cks_err cks_consumer_new(const cks_config *cfg, cks_consumer **out, char *errstr,
                         size_t errstr_size) CKS_WUR;
cks_err cks_consumer_run(cks_consumer *c, volatile sig_atomic_t *stop, char *errstr,
                         size_t errstr_size) CKS_WUR;
void cks_consumer_get_stats(const cks_consumer *c, cks_consumer_stats *stats);
/* Optional, before cks_consumer_run: keep these metrics (and /healthz) up to
 * date (metrics.h). mx is borrowed and must outlive c; NULL = off. */
typedef struct cks_metrics cks_metrics;
void cks_consumer_set_metrics(cks_consumer *c, cks_metrics *mx);
/* Optional: draw a catch-up progress line (first sync, rebuild: count,
 * rate, ETA) on f, borrowed; main passes stderr only when it is a terminal. */
void cks_consumer_set_progress(cks_consumer *c, FILE *f);
void cks_consumer_destroy(cks_consumer *c);

#endif
