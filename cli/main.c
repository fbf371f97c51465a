/* ckansync — admin tool entry point: finds the command, parses its options
 * with getopt_long (one option table, each command declares which options
 * it accepts), prints --help / --version, and runs it. See docs/cli.md. */
#include "cli.h"

#include "log.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	struct option opt;
	unsigned flag;
	const char *arg; /* metavar, NULL for a switch */
	const char *help;
} options[] = {
    {{"db", required_argument, NULL, 'd'},
     O_DB,
     "CONNINFO",
     "PostgreSQL conninfo or URI (default: $CKANSYNC_DB)"},
    {{"instance", required_argument, NULL, 'i'}, O_INSTANCE, "ID", "this instance's id"},
    {{"author", required_argument, NULL, 'a'}, O_AUTHOR, "A", "revision author"},
    {{"message", required_argument, NULL, 'm'}, O_MESSAGE, "M", "revision message"},
    {{"type", required_argument, NULL, 't'},
     O_TYPE,
     "T",
     "package (default), group or organization"},
    {{"revision", required_argument, NULL, 'r'},
     O_REVISION,
     "OBJREV",
     "an object revision instead of the current state"},
    {{"since", required_argument, NULL, 's'},
     O_SINCE,
     "REV|TIME",
     "only revisions after this revision id or ISO time"},
    {{"history", no_argument, NULL, 'H'}, O_HISTORY, NULL, "include the whole history"},
    {{"compact", no_argument, NULL, 'c'}, O_COMPACT, NULL, "compact JSON output"},
    {{"json", no_argument, NULL, 'j'}, O_JSON, NULL, "JSON output"},
    {{"keep-going", no_argument, NULL, 'k'},
     O_KEEP_GOING,
     NULL,
     "skip bad lines (reported on stderr) instead of stopping"},
    {{"brokers", required_argument, NULL, 'b'}, O_BROKERS, "B", "Kafka bootstrap servers"},
    {{"follow", no_argument, NULL, 'f'}, O_FOLLOW, NULL, "keep reading new events"},
    {{"topic-prefix", required_argument, NULL, 'P'},
     O_PREFIX,
     "P",
     "prefix of the topic names (default: ckansync)"},
    {{"help", no_argument, NULL, 'h'}, 0, NULL, "show this help"},
    {{"version", no_argument, NULL, 'V'}, 0, NULL, "show the version"},
};
#define NOPTIONS (sizeof(options) / sizeof(*options))

int cli_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERR;
}

static void usage_tool(FILE *f)
{
	fprintf(f, "usage: ckansync COMMAND [OPTIONS] [ARGS]\n\n"
	           "Replicates CKAN catalogs between instances through Kafka, keeping "
	           "history.\n\ncommands:\n");
	for (const cli_command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->usage);
	fprintf(f, "\n`ckansync COMMAND --help` describes a command. Exit status: 0 ok, 1 "
	           "error, 2 usage error.\n");
}

static void usage_command(FILE *f, const cli_command *c)
{
	fprintf(f, "usage: ckansync %s %s\n\n%s\n\noptions:\n", c->name, c->usage, c->help);
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (options[i].flag && !(c->opts & options[i].flag))
			continue;
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", options[i].opt.name,
		         options[i].arg ? " " : "", options[i].arg ? options[i].arg : "");
		fprintf(f, "  %-22s %s\n", left, options[i].help);
	}
}

static int usage_error(const cli_command *c, const char *msg)
{
	fprintf(stderr, "ckansync%s%s: %s\n", c ? " " : "", c ? c->name : "", msg);
	fprintf(stderr, "try 'ckansync%s%s --help'\n", c ? " " : "", c ? c->name : "");
	return CLI_USAGE;
}

static const cli_command *find_command(int argc, char **argv, int *used)
{
	for (const cli_command *c = cli_commands; c->name; c++) {
		const char *sp = strchr(c->name, ' ');
		if (!sp && strcmp(argv[1], c->name) == 0) {
			*used = 1;
			return c;
		}
		if (sp && argc > 2 && strncmp(argv[1], c->name, (size_t)(sp - c->name)) == 0 &&
		    argv[1][sp - c->name] == '\0' && strcmp(argv[2], sp + 1) == 0) {
			*used = 2;
			return c;
		}
	}
	return NULL;
}

/* Parses argv (argv[0] = the command word) into a; returns -1 to run, else an
 * exit status (help, version, usage error). */
static int parse(const cli_command *c, int argc, char **argv, cli_args *a)
{
	struct option longopts[NOPTIONS + 1];
	for (size_t i = 0; i < NOPTIONS; i++)
		longopts[i] = options[i].opt;
	memset(&longopts[NOPTIONS], 0, sizeof(longopts[0]));
	memset(a, 0, sizeof(*a));
	a->db = getenv("CKANSYNC_DB");
	a->type = CKS_OBJ_PACKAGE;
	a->prefix = "ckansync";
	opterr = 0;
	optind = 1;
	int ch, idx = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		if (ch == 'h') {
			usage_command(stdout, c);
			return CLI_OK;
		}
		if (ch == 'V') {
			printf("ckansync %s\n", CKS_VERSION);
			return CLI_OK;
		}
		if (ch == '?' || ch == ':') {
			char msg[128];
			snprintf(msg, sizeof(msg), "unknown option or missing value: %s",
			         argv[optind - 1]);
			return usage_error(c, msg);
		}
		if (!(c->opts & options[idx].flag)) {
			char msg[128];
			snprintf(msg, sizeof(msg), "option --%s does not apply here",
			         options[idx].opt.name);
			return usage_error(c, msg);
		}
		switch (ch) {
		case 'd':
			a->db = optarg;
			break;
		case 'i':
			a->instance = optarg;
			break;
		case 'a':
			a->author = optarg;
			break;
		case 'm':
			a->message = optarg;
			break;
		case 'r':
			a->revision = optarg;
			break;
		case 's':
			a->since = optarg;
			break;
		case 'b':
			a->brokers = optarg;
			break;
		case 'P':
			a->prefix = optarg;
			break;
		case 'H':
			a->history = true;
			break;
		case 'c':
			a->compact = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'k':
			a->keep_going = true;
			break;
		case 'f':
			a->follow = true;
			break;
		case 't':
			if (!cks_objtype_parse(optarg, &a->type))
				return usage_error(c,
				                   "--type must be package, group or organization");
			break;
		}
	}
	a->npos = argc - optind;
	a->pos = argv + optind;
	if (a->npos < c->min_pos)
		return usage_error(c, "missing argument");
	if (a->npos > c->max_pos)
		return usage_error(c, "too many arguments");
	if ((c->opts & O_DB) && !a->db && !a->brokers)
		return usage_error(c, "--db CONNINFO is required (or set CKANSYNC_DB)");
	return -1;
}

int main(int argc, char **argv)
{
	cks_log_setup("ckansync", CKS_LOG_WARN, CKS_LOG_TEXT);
	if (argc < 2) {
		usage_tool(stderr);
		return usage_error(NULL, "missing command");
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage_tool(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ckansync %s\n", CKS_VERSION);
		return CLI_OK;
	}
	int used = 0;
	const cli_command *c = find_command(argc, argv, &used);
	if (!c) {
		char msg[160];
		snprintf(msg, sizeof(msg), "unknown command '%s'", argv[1]);
		return usage_error(NULL, msg);
	}
	cli_args a;
	int rc = parse(c, argc - used, argv + used, &a);
	if (rc >= 0)
		return rc;
	char prog[64];
	snprintf(prog, sizeof(prog), "ckansync %s", c->name);
	return c->run(prog, &a);
}
