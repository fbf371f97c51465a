/* commands — the `ckansync` commands (DESIGN.md §6) over store.h, and the
 * helpers they share. Argument parsing is in main.c, import in import.c. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cks_store *cli_open(const char *prog, const cli_args *a)
{
	char err[1024];
	cks_store *st = NULL;
	if (cks_store_open(a->db, &st, err, sizeof(err)) != CKS_OK) {
		cli_fail(prog, "%s", err);
		return NULL;
	}
	if (cks_store_check(st, err, sizeof(err)) != CKS_OK) {
		cli_fail(prog, "%s", err);
		cks_store_close(st);
		return NULL;
	}
	return st;
}

void cli_print_json(const json_t *v, bool compact)
{
	size_t flags = JSON_ENCODE_ANY | (compact ? JSON_COMPACT : JSON_INDENT(2) | JSON_SORT_KEYS);
	json_dumpf(v, stdout, flags);
	fputc('\n', stdout);
}

bool cli_read_file(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	cks_buf b = CKS_BUF_INIT;
	char chunk[65536];
	size_t n;
	if (!f)
		return false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cks_buf_append(&b, chunk, n);
	bool ok = !ferror(f);
	if (f != stdin)
		fclose(f);
	cks_buf_append(&b, "", 0);
	*out = b.data;
	*len = b.len;
	return ok;
}

json_t *cli_parse_json(const char *prog, const char *what, const char *text, size_t len)
{
	json_error_t e;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!v)
		cli_fail(prog, "%s: invalid JSON at line %d, column %d: %s", what, e.line, e.column,
		         e.text);
	return v;
}

/* Reads and parses the JSON object in FILE (default stdin). */
static json_t *read_dict(const char *prog, const cli_args *a)
{
	const char *path = a->npos > 0 ? a->pos[0] : "-";
	char *text = NULL;
	size_t len = 0;
	json_t *v = NULL;
	if (!cli_read_file(path, &text, &len))
		cli_fail(prog, "cannot read %s", strcmp(path, "-") == 0 ? "standard input" : path);
	else
		v = cli_parse_json(prog, strcmp(path, "-") == 0 ? "standard input" : path, text,
		                   len);
	free(text);
	return v;
}

static int cmd_init(const char *prog, const cli_args *a)
{
	char err[1024];
	cks_store *st = NULL;
	if (!a->instance) {
		fprintf(stderr, "%s: --instance ID is required\n", prog);
		return CLI_USAGE;
	}
	if (cks_store_open(a->db, &st, err, sizeof(err)) != CKS_OK)
		return cli_fail(prog, "%s", err);
	int rc = CLI_OK;
	if (cks_store_init(st, a->instance, err, sizeof(err)) != CKS_OK)
		rc = cli_fail(prog, "%s", err);
	else
		printf("initialised instance %s\n", a->instance);
	cks_store_close(st);
	return rc;
}

static int cmd_put(const char *prog, const cli_args *a)
{
	char err[1024];
	cks_uuid_str rev;
	cks_put_opts opts = CKS_PUT_OPTS_INIT;
	int rc = CLI_ERR;
	json_t *d = read_dict(prog, a);
	cks_store *st = d ? cli_open(prog, a) : NULL;
	if (!st)
		goto out;
	opts.author = a->author;
	opts.message = a->message;
	opts.type = a->type;
	if (cks_store_put(st, d, &opts, rev, NULL, err, sizeof(err)) != CKS_OK)
		goto fail;
	printf("%s\n", rev);
	rc = CLI_OK;
	goto out;
fail:
	rc = cli_fail(prog, "%s", err);
out:
	cks_store_close(st);
	json_decref(d);
	return rc;
}

/* A read that yields JSON: fn fills *v; printed pretty unless --compact. */
typedef cks_err (*json_read_fn)(cks_store *st, const cli_args *a, json_t **v, char *err,
                                size_t err_size);

static int json_cmd(const char *prog, const cli_args *a, json_read_fn fn)
{
	char err[1024];
	json_t *v = NULL;
	cks_store *st = cli_open(prog, a);
	if (!st)
		return CLI_ERR;
	int rc = CLI_OK;
	if (fn(st, a, &v, err, sizeof(err)) != CKS_OK)
		rc = cli_fail(prog, "%s", err);
	else
		cli_print_json(v, a->compact);
	json_decref(v);
	cks_store_close(st);
	return rc;
}

static cks_err read_show(cks_store *st, const cli_args *a, json_t **v, char *err, size_t n)
{
	return cks_store_show(st, a->pos[0], a->revision, v, err, n);
}

static cks_err read_log(cks_store *st, const cli_args *a, json_t **v, char *err, size_t n)
{
	return cks_store_log(st, a->npos ? a->pos[0] : NULL, a->since, v, err, n);
}

static cks_err read_diff(cks_store *st, const cli_args *a, json_t **v, char *err, size_t n)
{
	return cks_store_diff(st, a->pos[0], a->pos[1], v, err, n);
}

static int cmd_show(const char *prog, const cli_args *a)
{
	return json_cmd(prog, a, read_show);
}

static int cmd_log(const char *prog, const cli_args *a)
{
	return json_cmd(prog, a, read_log);
}

static int cmd_diff(const char *prog, const cli_args *a)
{
	return json_cmd(prog, a, read_diff);
}

/* delete and purge: an edit of one object that prints the revision id. */
static int edit_one(const char *prog, const cli_args *a, bool purge)
{
	char err[1024];
	cks_uuid_str rev;
	cks_put_opts opts = CKS_PUT_OPTS_INIT;
	cks_store *st = cli_open(prog, a);
	if (!st)
		return CLI_ERR;
	opts.author = a->author;
	opts.message = a->message;
	cks_err e = purge ? cks_store_purge(st, a->pos[0], &opts, rev, err, sizeof(err))
	                  : cks_store_delete(st, a->pos[0], &opts, rev, err, sizeof(err));
	int rc = CLI_OK;
	if (e != CKS_OK)
		rc = cli_fail(prog, "%s", err);
	else
		printf("%s\n", rev);
	cks_store_close(st);
	return rc;
}

static int cmd_delete(const char *prog, const cli_args *a)
{
	return edit_one(prog, a, false);
}

static int cmd_purge(const char *prog, const cli_args *a)
{
	return edit_one(prog, a, true);
}

static int cmd_digest(const char *prog, const cli_args *a)
{
	char err[1024], hex[65];
	cks_store *st = cli_open(prog, a);
	if (!st)
		return CLI_ERR;
	int rc = CLI_OK;
	if (cks_store_digest(st, a->history, hex, err, sizeof(err)) != CKS_OK)
		rc = cli_fail(prog, "%s", err);
	else
		printf("%s\n", hex);
	cks_store_close(st);
	return rc;
}

static int cmd_search(const char *prog, const cli_args *a)
{
	char err[1024];
	json_t *v = NULL, *name;
	size_t i;
	cks_store *st = cli_open(prog, a);
	if (!st)
		return CLI_ERR;
	int rc = CLI_OK;
	if (cks_store_search(st, a->pos[0], &v, err, sizeof(err)) != CKS_OK)
		rc = cli_fail(prog, "%s", err);
	else
		json_array_foreach(v, i, name) printf("%s\n", json_string_value(name));
	json_decref(v);
	cks_store_close(st);
	return rc;
}

static int cmd_user_put(const char *prog, const cli_args *a)
{
	char err[1024];
	int rc = CLI_ERR;
	json_t *d = read_dict(prog, a);
	cks_store *st = d ? cli_open(prog, a) : NULL;
	if (st && cks_store_uobject_put(st, "user", d, err, sizeof(err)) != CKS_OK)
		rc = cli_fail(prog, "%s", err);
	else if (st)
		rc = CLI_OK;
	cks_store_close(st);
	json_decref(d);
	return rc;
}

static void print_conflict(const json_t *c)
{
	const char *keys[] = {"detected",    "kind",         "object_name", "field_path",
	                      "local_value", "remote_value", "resolution",  "chosen_value"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const char *s = json_string_value(json_object_get(c, keys[i]));
		printf("%s%s", i ? "\t" : "", s ? s : "-");
	}
	printf("\n");
}

static int cmd_conflicts(const char *prog, const cli_args *a)
{
	char err[1024];
	json_t *v = NULL, *c;
	size_t i;
	if (a->brokers)
		return cli_conflicts_kafka(prog, a);
	if (a->follow)
		return cli_fail(prog, "--follow reads the conflicts topic: give --brokers");
	cks_store *st = cli_open(prog, a);
	if (!st)
		return CLI_ERR;
	int rc = CLI_OK;
	if (cks_store_conflicts_list(st, &v, err, sizeof(err)) != CKS_OK)
		rc = cli_fail(prog, "%s", err);
	else if (a->json)
		cli_print_json(v, false);
	else
		json_array_foreach(v, i, c) print_conflict(c);
	json_decref(v);
	cks_store_close(st);
	return rc;
}

const cli_command cli_commands[] = {
    {"init", "--db CONNINFO --instance ID",
     "Creates or migrates the ckansync schema and records this instance's id. Safe to "
     "run again; refuses a database initialised for another instance id.",
     O_DB | O_INSTANCE, 0, 0, cmd_init},
    {"put", "--db CONNINFO [--author A] [--message M] [--type T] [FILE|-]",
     "Creates or updates a package (found by \"id\", else by \"name\") from a CKAN "
     "dict in FILE or on standard input, as one revision. Prints the revision id.",
     O_DB | O_AUTHOR | O_MESSAGE | O_TYPE, 0, 1, cmd_put},
    {"import", "--db CONNINFO [--keep-going] [--author A] [--message M] FILE.jsonl|-",
     "Imports `ckanapi dump datasets` output (one CKAN package dict a line), one "
     "revision per dataset. A bad line stops the import with \"line N: reason\" "
     "(earlier lines stay imported, nothing of the bad line is written); with "
     "--keep-going bad lines are reported and skipped, and the exit status is 1 if any "
     "was skipped.",
     O_DB | O_AUTHOR | O_MESSAGE | O_KEEP_GOING, 1, 1, cli_import},
    {"show", "--db CONNINFO [--revision OBJREV] [--compact] NAME|ID",
     "Prints the package dict (current, or as of an object revision) with the "
     "server-managed fields.",
     O_DB | O_REVISION | O_COMPACT, 1, 1, cmd_show},
    {"log", "--db CONNINFO [--since REV|TIME] [--compact] [NAME|ID]",
     "Prints the revision log (oldest first) of one object or of the whole instance.",
     O_DB | O_SINCE | O_COMPACT, 0, 1, cmd_log},
    {"diff", "--db CONNINFO [--compact] OBJREV_A OBJREV_B",
     "Prints the field-level diff between two object revisions.", O_DB | O_COMPACT, 2, 2, cmd_diff},
    {"delete", "--db CONNINFO [--author A] [--message M] NAME|ID",
     "Marks an object deleted (a new revision with state \"deleted\"). Prints the revision "
     "id.",
     O_DB | O_AUTHOR | O_MESSAGE, 1, 1, cmd_delete},
    {"purge", "--db CONNINFO [--author A] [--message M] NAME|ID",
     "Erases an object and its whole history, keeps a tombstone and queues a purge event "
     "for the other instances. Prints the purge revision id.",
     O_DB | O_AUTHOR | O_MESSAGE, 1, 1, cmd_purge},
    {"digest", "--db CONNINFO [--history]",
     "Prints a SHA-256 (hex) of the current objects, equal on two instances iff they hold "
     "the same objects; with --history, of the whole history too.",
     O_DB | O_HISTORY, 0, 0, cmd_digest},
    {"search", "--db CONNINFO QUERY",
     "Full-text search over current packages; prints names, best match first.", O_DB, 1, 1,
     cmd_search},
    {"user put", "--db CONNINFO [FILE|-]",
     "Creates or replaces a CKAN user dict (unversioned, latest write wins), keyed by "
     "\"id\", else by \"name\".",
     O_DB, 0, 1, cmd_user_put},
    {"status", "--db CONNINFO [--json] [--brokers B [--topic-prefix P]]",
     "Prints, per origin this instance follows, the last revision applied, the time of "
     "the last sync, the next offset per partition, conflicts in the last hour and dead "
     "letters; with --brokers also each partition's end offset and the lag.",
     O_DB | O_JSON | O_BROKERS | O_PREFIX, 0, 0, cli_status},
    {"conflicts", "--db CONNINFO [--json] | --brokers B [--topic-prefix P] [--follow] [--json]",
     "Lists the conflicts recorded in this instance (--db), or the conflict events every "
     "instance publishes on <prefix>.conflicts (--brokers), one a line; --follow keeps "
     "printing them as they arrive until interrupted.",
     O_DB | O_JSON | O_BROKERS | O_FOLLOW | O_PREFIX, 0, 0, cmd_conflicts},
    {NULL, NULL, NULL, 0, 0, 0, NULL},
};
