/* ckansync-consumer — follows origins' revisions and applies them to
 * this instance. Thin: options, signals, exit status; the
 * work is in common/consumer.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "options.h"
#include "consumer.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	if (stop) /* second signal: leave now */
		_exit(130);
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *prog = "ckansync-consumer";
	char err[1024];
	int rc = 1;
	cks_consumer *p = NULL;
	cks_metrics *mx = NULL;
	cks_config *cfg = cks_config_new();
	switch (
	    cks_options_parse(argc, argv, CKS_CFG_CONSUMER, prog,
	                      "ckansync-consumer --db CONNINFO --brokers HOST:PORT --origin ID... "
	                      "[--topic-prefix P] [--policy P] [--config FILE] [--from-beginning] "
	                      "[--until-idle] [options]",
	                      cfg, err, sizeof(err))) {
	case CKS_OPT_EXIT0:
		rc = 0;
		goto out;
	case CKS_OPT_USAGE:
		fprintf(stderr, "%s: %s\n", prog, err);
		rc = 2;
		goto out;
	case CKS_OPT_RUN:
		break;
	}
	if (cks_options_setup_log(cfg, prog, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		rc = 2;
		goto out;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cks_consumer_new(cfg, &p, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	if (cks_options_start_metrics(cfg, &mx, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	cks_consumer_set_metrics(p, mx);
	if (isatty(STDERR_FILENO))
		cks_consumer_set_progress(p, stderr);
	if (cks_consumer_run(p, &stop, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	cks_consumer_stats s;
	cks_consumer_get_stats(p, &s);
	CKS_LOG(
	    CKS_LOG_INFO, NULL,
	    "stopped: %llu applied, %llu skipped, %llu merges, %llu conflicts, %llu dead letters",
	    (unsigned long long)s.applied, (unsigned long long)s.skipped,
	    (unsigned long long)s.merges, (unsigned long long)s.conflicts,
	    (unsigned long long)s.dead_letters);
	rc = 0;
out:
	cks_consumer_destroy(p);
	cks_metrics_destroy(mx); /* after p: its callbacks update mx until then */
	cks_config_destroy(cfg);
	return rc;
}
