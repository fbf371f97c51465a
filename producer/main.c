/* ckansync-producer — publishes one instance's revisions, conflicts and
 * unversioned objects to Kafka. Thin: options, signals, exit status; the
 * work is in common/producer.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "options.h"
#include "producer.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	if (stop) /* second signal: leave now */
		_exit(130);
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *prog = "ckansync-producer";
	char err[1024];
	int rc = 1;
	cks_producer *p = NULL;
	cks_metrics *mx = NULL;
	cks_config *cfg = cks_config_new();
	switch (cks_options_parse(argc, argv, CKS_CFG_PRODUCER, prog,
	                          "ckansync-producer --db CONNINFO --brokers HOST:PORT "
	                          "[--topic-prefix P] [--config FILE] [--once] [options]",
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
	if (cks_producer_new(cfg, &p, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	if (cks_options_start_metrics(cfg, &mx, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	cks_producer_set_metrics(p, mx);
	if (cks_producer_run(p, &stop, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	cks_producer_stats s;
	cks_producer_get_stats(p, &s);
	CKS_LOG(CKS_LOG_INFO, NULL,
	        "stopped: %llu published, %llu private skipped, all acknowledged",
	        (unsigned long long)s.published, (unsigned long long)s.skipped_private);
	rc = 0;
out:
	cks_producer_destroy(p);
	cks_metrics_destroy(mx); /* after p: its callbacks update mx until then */
	cks_config_destroy(cfg);
	return rc;
}
