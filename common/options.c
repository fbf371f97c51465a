/* options — see options.h. */
#include "options.h"
#include "log.h"
#include "metrics.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const cks_cfg_def *def_for(const char *name, int role)
{
	for (const cks_cfg_def *d = cks_cfg_defs; d->name; d++)
		if ((d->flags & role) && strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

cks_opt_result cks_options_parse(int argc, char **argv, int role, const char *program,
                                 const char *synopsis, cks_config *cfg, char *errstr,
                                 size_t errstr_size)
{
	char e[512];
	/* Pass 1: --help, --version, --config (a file is overridden by options). */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cks_buf b = CKS_BUF_INIT;
			cks_buf_appendf(&b, "usage: %s\n\noptions:\n", synopsis);
			cks_config_help(&b, role);
			cks_buf_appendf(&b, "  %-24s %s\n  %-24s %s\n", "--help", "show this help",
			                "--version", "show the version");
			fputs(b.data, stdout);
			cks_buf_release(&b);
			return CKS_OPT_EXIT0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", program, CKS_VERSION);
			return CKS_OPT_EXIT0;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0) {
			const char *path =
			    argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[++i] : NULL);
			if (!path) {
				cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				           "--config needs a file");
				return CKS_OPT_USAGE;
			}
			bool insecure = false;
			if (cks_config_load_file(cfg, path, &insecure, errstr, errstr_size))
				return CKS_OPT_USAGE;
			if (insecure)
				fprintf(stderr,
				        "%s: warning: %s holds secrets and is readable by other "
				        "users; chmod 600 it\n",
				        program, path);
		}
	}
	/* Pass 2: the settings. */
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0) {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			           "unexpected argument '%s' (see --help)", arg);
			return CKS_OPT_USAGE;
		}
		char name[128];
		const char *eq = strchr(arg, '='), *value = NULL;
		snprintf(name, sizeof(name), "%.*s",
		         (int)(eq ? eq - arg - 2 : (long)strlen(arg) - 2), arg + 2);
		if (strcmp(name, "config") == 0) {
			if (!eq)
				i++;
			continue;
		}
		const cks_cfg_def *d = def_for(name, role);
		if (!d) {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			           "unknown option '--%s' (see --help)", name);
			return CKS_OPT_USAGE;
		}
		if (eq)
			value = eq + 1;
		else if (d->type == CKS_CFG_BOOL)
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "--%s needs a value",
			           name);
			return CKS_OPT_USAGE;
		}
		if (cks_config_set(cfg, name, value, e, sizeof(e))) {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "--%s", e);
			return CKS_OPT_USAGE;
		}
	}
	return CKS_OPT_RUN;
}

cks_err cks_options_setup_log(const cks_config *cfg, const char *program, char *errstr,
                              size_t errstr_size)
{
	cks_log_level level;
	const char *lv = cks_config_get(cfg, "log-level"), *fmt = cks_config_get(cfg, "log-format");
	if (!cks_log_level_parse(lv, &level))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "log-level: '%s' is not one of error, warn, info, debug", lv);
	if (strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "log-format: '%s' is not text or json", fmt);
	cks_log_setup(program, level, strcmp(fmt, "json") == 0 ? CKS_LOG_JSON : CKS_LOG_TEXT);
	return CKS_OK;
}

cks_err cks_options_start_metrics(const cks_config *cfg, cks_metrics **out, char *errstr,
                                  size_t errstr_size)
{
	int port = (int)cks_config_get_int(cfg, "metrics-port");
	*out = NULL;
	if (port == 0)
		return CKS_OK;
	cks_metrics *mx = cks_metrics_new();
	cks_err err = cks_metrics_serve(mx, port, errstr, errstr_size);
	if (err) {
		cks_metrics_destroy(mx);
		return err;
	}
	CKS_LOG(CKS_LOG_INFO, NULL, "metrics on :%d/metrics, health on :%d/healthz", port, port);
	*out = mx;
	return CKS_OK;
}

volatile sig_atomic_t cks_options_stop;

static void on_signal(int sig)
{
	(void)sig;
	if (cks_options_stop) /* second signal: leave now */
		_exit(130);
	cks_options_stop = 1;
}

int cks_options_daemon_start(int argc, char **argv, int role, const char *program,
                             const char *synopsis, cks_config *cfg)
{
	char err[1024];
	switch (cks_options_parse(argc, argv, role, program, synopsis, cfg, err, sizeof(err))) {
	case CKS_OPT_EXIT0:
		return 0;
	case CKS_OPT_USAGE:
		fprintf(stderr, "%s: %s\n", program, err);
		return 2;
	case CKS_OPT_RUN:
		break;
	}
	if (cks_options_setup_log(cfg, program, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", program, err);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* No fastbins: each message builds and frees thousands of small JSON
	 * nodes, and the next large allocation then made glibc consolidate the
	 * fastbins (malloc_consolidate + unlink_chunk: ~13 % of the producer's
	 * CPU in perf; bench/RESULTS.md, sixth pass). tcache still serves
	 * small allocations. */
	mallopt(M_MXFAST, 0);
	return -1;
}
