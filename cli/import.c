/* import — `ckansync import`: `ckanapi dump datasets` JSON lines, one
 * revision per dataset (each its own transaction, so a bad line leaves
 * nothing of itself written). Progress on stderr only on a terminal. */
#include "cli.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct import_state {
	long lineno;   /* current line */
	long imported; /* datasets imported */
	long bad;      /* lines skipped (--keep-going) */
} import_state;

/* Imports one line; on error fills err (without the line number). */
static cks_err import_line(cks_store *st, const cli_args *a, const char *line, size_t len,
                           char *err, size_t err_size)
{
	json_error_t je;
	cks_put_opts opts = CKS_PUT_OPTS_INIT;
	cks_uuid_str rev;
	json_t *d = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!d)
		return cks_seterr(err, err_size, CKS_ERR_PERMANENT, "invalid JSON at column %d: %s",
		                  je.column, je.text);
	opts.author = a->author;
	opts.message = a->message ? a->message : "import";
	cks_err e = cks_store_put(st, d, &opts, rev, NULL, err, err_size);
	json_decref(d);
	return e;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", s[i]))
			return false;
	return true;
}

int cli_import(const char *prog, const cli_args *a)
{
	const char *path = a->pos[0];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL, err[2048];
	size_t cap = 0;
	ssize_t n;
	import_state s = {0, 0, 0};
	bool tty = isatty(STDERR_FILENO);
	int rc = CLI_OK;
	int64_t t0 = cks_mono_us(), total = -1;
	cks_store *st = NULL;
	cks_progress progress;

	if (!f)
		return cli_fail(prog, "cannot open %s", path);
	st = cli_open(prog, a);
	if (!st) {
		rc = CLI_ERR;
		goto out;
	}
	struct stat sb;
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
		total = (int64_t)sb.st_size; /* ETA from the bytes read */
	cks_progress_init(&progress, tty ? stderr : NULL, "import", "datasets");
	while ((n = getline(&line, &cap, f)) > 0) {
		s.lineno++;
		if (blank(line, (size_t)n))
			continue;
		cks_err e = import_line(st, a, line, (size_t)n, err, sizeof(err));
		if (e == CKS_OK) {
			s.imported++;
		} else if (a->keep_going && e != CKS_ERR_FATAL && e != CKS_ERR_RETRIABLE) {
			s.bad++;
			fprintf(stderr, "%sline %ld: %s (skipped)\n", tty ? "\r" : "", s.lineno,
			        err);
		} else {
			rc = cli_fail(prog, "line %ld: %s", s.lineno, err);
			break;
		}
		cks_progress_update(&progress, s.imported, (int64_t)ftello(f), total);
	}
	cks_progress_end(&progress);
	if (ferror(f))
		rc = cli_fail(prog, "error reading %s", path);
	if (s.bad)
		rc = CLI_ERR;
	printf("imported %ld datasets (%ld revisions) in %.1f s", s.imported, s.imported,
	       (double)(cks_mono_us() - t0) / 1e6);
	if (s.bad)
		printf(", %ld bad lines skipped", s.bad);
	printf("\n");
out:
	free(line);
	cks_store_close(st);
	if (f != stdin)
		fclose(f);
	return rc;
}
