/* config — one table of settings {name, type, default, flags, help} that
 * drives parsing of `key = value` files and command-line options,
 * validation, --help text and docs/configuration.md. Keys starting with
 * "kafka." are passed to librdkafka unchanged (TLS, SASL, tuning).
 * Does not know what the settings mean; the daemons read them by name. */
#ifndef CKS_CONFIG_H
#define CKS_CONFIG_H

#include "util.h"

typedef enum cks_cfg_type { CKS_CFG_STRING, CKS_CFG_INT, CKS_CFG_BOOL, CKS_CFG_LIST } cks_cfg_type;

typedef enum cks_cfg_flags {
	CKS_CFG_SECRET = 1 << 0,   /* never printed or logged */
	CKS_CFG_PRODUCER = 1 << 1, /* used by ckansync-producer */
	CKS_CFG_CONSUMER = 1 << 2, /* used by ckansync-consumer */
	CKS_CFG_REQUIRED = 1 << 3,
} cks_cfg_flags;

typedef struct cks_cfg_def {
	const char *name; /* "brokers", "publish.private", ... */
	cks_cfg_type type;
	const char *def;  /* default as text, NULL = none */
	int flags;        /* cks_cfg_flags */
	const char *help; /* one line */
} cks_cfg_def;

/* The table; terminated by a NULL name. */
extern const cks_cfg_def cks_cfg_defs[];

typedef struct cks_config cks_config;

/* Caller owns; free with cks_config_destroy. Holds defaults only. */
cks_config *cks_config_new(void);
void cks_config_destroy(cks_config *cfg);

/* Sets one key (table key or kafka.*). Validates type. List values append
 * (e.g. repeated --origin) unless the value is a comma list from a file.
 * PERMANENT with "unknown setting 'x'" / "x: not a number" on error. */
cks_err cks_config_set(cks_config *cfg, const char *key, const char *value, char *errstr,
                       size_t errstr_size) CKS_WUR;
/* Reads `key = value` lines ('#' comments, blank lines). Errors name the file
 * and line. Sets *insecure if the file holds a secret (a secret key or a
 * kafka.*password* key) and is readable by group or others. */
cks_err cks_config_load_file(cks_config *cfg, const char *path, bool *insecure, char *errstr,
                             size_t errstr_size) CKS_WUR;
/* Same, from a string (for tests and fuzzing); name is used in errors. */
cks_err cks_config_load_string(cks_config *cfg, const char *text, const char *name, char *errstr,
                               size_t errstr_size) CKS_WUR;

/* Getters: borrowed strings valid until the key is set again or destroy. */
const char *cks_config_get(const cks_config *cfg, const char *key); /* NULL if unset */
int64_t cks_config_get_int(const cks_config *cfg, const char *key);
bool cks_config_get_bool(const cks_config *cfg, const char *key);
/* List entries (comma-separated or repeated); *n count. Borrowed. */
const char *const *cks_config_get_list(const cks_config *cfg, const char *key, size_t *n);
/* Iterate kafka.* settings: returns false when done; key without "kafka.". */
bool cks_config_kafka_next(const cks_config *cfg, size_t *iter, const char **key,
                           const char **value);
/* Checks every REQUIRED key for this role (CKS_CFG_PRODUCER/CONSUMER) is set. */
cks_err cks_config_check_required(const cks_config *cfg, int role, char *errstr,
                                  size_t errstr_size) CKS_WUR;
/* True if key names a secret (table flag, or kafka.* containing "password",
 * "secret" or "key.pem"/"keystore"). */
bool cks_config_is_secret(const char *key);
/* Appends the --help lines for the settings of a role to b. */
void cks_config_help(cks_buf *b, int role);

#endif
