/* harness — helpers shared by the cmocka tests: a fresh PostgreSQL database
 * per test on the private cluster (script/services), a unique Kafka topic
 * prefix, paths to the real data in ../shared/data, and running the built
 * programs. Tests share no state, so `ctest -j2` works. */
#ifndef CKS_HARNESS_H
#define CKS_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>

/* Brokers from $CKANSYNC_BROKERS, or NULL. */
const char *h_brokers(void);
/* Conninfo without dbname from $CKANSYNC_PG, or NULL. */
const char *h_pg(void);
/* For integration tests: true if both services are configured; otherwise
 * prints why and returns false (the caller then skip()s). Under CI
 * (CI=true) missing services are a failure, not a skip. */
bool h_services_available(void);

/* Creates a new empty database with a unique name and returns its full
 * conninfo (static storage, overwritten by the next call: copy it). */
const char *h_fresh_db(void);
/* Like h_fresh_db, into caller's buffer. */
void h_fresh_db_into(char *out, size_t out_size);
/* A unique topic prefix such as "t1712345-42-3". Static storage. */
const char *h_topic_prefix(void);

/* Absolute path of ../shared/data/<rel>, or NULL if the folder is absent
 * (the caller skips, saying so). Static storage. */
const char *h_data_path(const char *rel);

/* Path of a built program (ckansync, ckansync-producer, ...) in the build
 * directory. Static storage. */
const char *h_bin(const char *name);
/* Runs a shell command; returns its exit status; stdout captured into out
 * (malloc'd, caller frees) if out != NULL. */
int h_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs fn with stderr sent to a file; returns what was written (at most
 * 64 kB, malloc'd, caller frees). */
char *h_capture_stderr(void (*fn)(void));

/* Reads every message of every partition of `topic` from the beginning to
 * the current end, calling fn for each (rkm borrowed). Returns the count. */
#include <librdkafka/rdkafka.h>
typedef void (*h_msg_fn)(const rd_kafka_message_t *rkm, void *opaque);
size_t h_consume_all(const char *topic, h_msg_fn fn, void *opaque);
/* Creates a topic with one config override (name=value, or NULL). */
void h_create_topic(const char *topic, int partitions, const char *cfg_name, const char *cfg_value);

#endif
