/* kafka — librdkafka set-up shared by the daemons and the CLI: a conf built
 * from the config table (kafka.* passed unchanged), logs routed through
 * log.h, topic names, and creating/checking topics with the admin API so
 * that a revisions topic can never silently lose history. */
#ifndef CKS_KAFKA_H
#define CKS_KAFKA_H

#include <librdkafka/rdkafka.h>
#include "config.h"

/* Topic names (contract, DESIGN.md §4) into out. */
void cks_topic_revisions(const char *prefix, const char *instance, char *out, size_t n);
void cks_topic_objects(const char *prefix, const char *instance, char *out, size_t n);
void cks_topic_conflicts(const char *prefix, char *out, size_t n);
void cks_topic_deadletter(const char *prefix, char *out, size_t n);

/* A conf with bootstrap.servers = brokers, every kafka.* setting, and
 * log/error callbacks into log.h. FATAL on an invalid setting (the message
 * names the key, never a secret value). Caller owns (*out goes to
 * rd_kafka_new or rd_kafka_conf_destroy). */
cks_err cks_kafka_conf_new(const cks_config *cfg, rd_kafka_conf_t **out, char *errstr,
                           size_t errstr_size) CKS_WUR;
/* Sets each of the n {key, value} pairs that the config does not set as
 * kafka.<key> (the operator's setting wins; cks_kafka_conf_new applied it). */
cks_err cks_kafka_conf_defaults(rd_kafka_conf_t *conf, const cks_config *cfg,
                                const char *const (*defaults)[2], size_t n, char *errstr,
                                size_t errstr_size) CKS_WUR;
/* For a producer made from a consumer's settings (the consumer's dead-letter
 * producer gets every kafka.* of its config): librdkafka's warning that each
 * consumer property is ignored by a producer is logged at debug, not warn. */
void cks_kafka_conf_quiet_consumer_props(rd_kafka_conf_t *conf);
/* rd_kafka_conf_set that reports a clear error naming key. */
cks_err cks_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                           size_t errstr_size) CKS_WUR;

typedef enum cks_topic_kind {
	CKS_TOPIC_HISTORY,   /* revisions, dead letters: retention.ms=-1, cleanup delete */
	CKS_TOPIC_COMPACTED, /* unversioned objects: cleanup.policy=compact */
	CKS_TOPIC_EVENTS,    /* conflicts: broker defaults (but never compacted) */
} cks_topic_kind;

/* Creates `topic` if missing (partitions, replication factor, settings for
 * its kind); if it exists, checks its settings: FATAL, with a message saying
 * which setting would lose history and how to fix it, for a HISTORY topic with
 * finite retention.ms / retention.bytes or compaction. RETRIABLE if the
 * broker cannot be reached within timeout_ms. */
cks_err cks_kafka_ensure_topic(rd_kafka_t *rk, const char *topic, cks_topic_kind kind,
                               int partitions, int replication_factor, int timeout_ms, char *errstr,
                               size_t errstr_size) CKS_WUR;

/* Error class of a librdkafka error code (retriable transport vs fatal). */
cks_err cks_kafka_classify(rd_kafka_resp_err_t err);

/* For the daemons' own error_cb: logs the event as cks_kafka_conf_new's
 * callback does, and keeps the first authentication failure in auth_error
 * (a wrong password or mechanism does not fix itself: the daemons stop on
 * it, FATAL). librdkafka's reason never holds the password. */
void cks_kafka_note_error(int err, const char *reason, char *auth_error, size_t auth_error_size);
/* The daemons' FATAL error for a noted authentication failure. */
cks_err cks_kafka_auth_failed(const char *auth_error, char *errstr, size_t errstr_size);

#endif
