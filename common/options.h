/* options — command-line parsing for the daemons, driven by the config
 * table: every setting of the role is an option (--name V, booleans as
 * --name), --config FILE loads a file first (the command line wins),
 * --help and --version print and exit. Does not exit: returns what to do. */
#ifndef CKS_OPTIONS_H
#define CKS_OPTIONS_H

#include <signal.h>

#include "config.h"

typedef enum cks_opt_result {
	CKS_OPT_RUN = 0,   /* go on */
	CKS_OPT_EXIT0 = 1, /* --help / --version printed */
	CKS_OPT_USAGE = 2, /* usage error, message in errstr */
} cks_opt_result;

/* Parses argv into cfg for role (CKS_CFG_PRODUCER / CKS_CFG_CONSUMER).
 * synopsis: the usage line(s) printed by --help. */
cks_opt_result cks_options_parse(int argc, char **argv, int role, const char *program,
                                 const char *synopsis, cks_config *cfg, char *errstr,
                                 size_t errstr_size);

/* Sets up logging from cfg (log-level, log-format). PERMANENT if invalid. */
cks_err cks_options_setup_log(const cks_config *cfg, const char *program, char *errstr,
                              size_t errstr_size) CKS_WUR;

/* Starts the metrics server (metrics.h) if metrics-port is not 0: *out is
 * NULL when off, else caller owns (cks_metrics_destroy). FATAL if the port
 * is invalid or cannot be served. */
typedef struct cks_metrics cks_metrics;
cks_err cks_options_start_metrics(const cks_config *cfg, cks_metrics **out, char *errstr,
                                  size_t errstr_size) CKS_WUR;

/* The daemons' start (ckansync-producer, ckansync-consumer): parses argv
 * for role, sets up logging, makes SIGINT/SIGTERM set *stop (a second one
 * exits at once, 130) and ignores SIGPIPE. Returns -1 to go on, else the
 * exit status: 0 after --help/--version, 2 on a usage error (printed). */
int cks_options_daemon_start(int argc, char **argv, int role, const char *program,
                             const char *synopsis, cks_config *cfg);
/* The flag the daemon's signal handler sets. */
extern volatile sig_atomic_t cks_options_stop;

#endif
