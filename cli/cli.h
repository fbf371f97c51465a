/* cli — the `ckansync` admin tool: argument parsing shared by every command
 * (main.c) and the commands themselves (commands.c, import.c). Commands
 * print results on stdout, errors on stderr, and return an exit status:
 * 0 success, 1 bad input or runtime error, 2 usage error. */
#ifndef CKS_CLI_H
#define CKS_CLI_H

#include "store.h"

#define CLI_OK    0
#define CLI_ERR   1
#define CLI_USAGE 2

/* Options a command accepts (a bit set in cli_command.opts). */
enum {
	O_DB = 1 << 0,
	O_INSTANCE = 1 << 1,
	O_AUTHOR = 1 << 2,
	O_MESSAGE = 1 << 3,
	O_REVISION = 1 << 4,
	O_SINCE = 1 << 5,
	O_HISTORY = 1 << 6,
	O_COMPACT = 1 << 7,
	O_JSON = 1 << 8,
	O_KEEP_GOING = 1 << 9,
	O_BROKERS = 1 << 10,
	O_FOLLOW = 1 << 11,
	O_TYPE = 1 << 12,
	O_PREFIX = 1 << 13,
};

/* Parsed command line of one command (strings borrowed from argv). */
typedef struct cli_args {
	const char *db;       /* --db or $CKANSYNC_DB */
	const char *instance; /* --instance */
	const char *author;
	const char *message;
	const char *revision;
	const char *since;
	const char *brokers;
	const char *prefix; /* --topic-prefix, default "ckansync" */
	cks_objtype type;   /* --type, default package */
	bool history, compact, json, keep_going, follow;
	int npos; /* positional arguments */
	char **pos;
} cli_args;

typedef struct cli_command {
	const char *name;  /* "put", "user put" */
	const char *usage; /* synopsis after the command name */
	const char *help;  /* one paragraph */
	unsigned opts;     /* O_* accepted */
	int min_pos, max_pos;
	int (*run)(const char *prog, const cli_args *a);
} cli_command;

extern const cli_command cli_commands[]; /* NULL-name terminated */

/* Opens the store at a->db and checks it (schema present, instance id).
 * Prints the error and returns NULL on failure. Caller closes. */
cks_store *cli_open(const char *prog, const cli_args *a);
/* Prints "prog: message" on stderr; returns CLI_ERR. */
int cli_fail(const char *prog, const char *fmt, ...) CKS_PRINTF(2, 3);
/* Prints v on stdout: pretty (indent 2, sorted keys) unless compact. */
void cli_print_json(const json_t *v, bool compact);
/* Reads a whole file ("-" = stdin) into *out (caller frees), length *len. */
bool cli_read_file(const char *path, char **out, size_t *len);
/* Parses JSON text; on error prints "prog: what: reason" and returns NULL. */
json_t *cli_parse_json(const char *prog, const char *what, const char *text, size_t len);

int cli_import(const char *prog, const cli_args *a);
/* `conflicts --brokers`: the conflicts topic (conflicts.c). */
int cli_conflicts_kafka(const char *prog, const cli_args *a);
int cli_status(const char *prog, const cli_args *a);

/* librdkafka settings for the commands that talk to Kafka (status,
 * conflicts): bootstrap.servers = brokers, and the kafka.* keys (TLS, SASL)
 * of the config file named by $CKANSYNC_CONFIG, if set. NULL after printing
 * the error; else the caller owns it. */
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
rd_kafka_conf_t *cli_kafka_conf(const char *prog, const char *brokers);

#endif
