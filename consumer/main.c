/* ckansync-consumer — follows origins' revisions and applies them to
 * this instance. Thin: options, signals, exit status; the
 * work is in common/consumer.c. */
#include <stdio.h>
#include <unistd.h>

#include "consumer.h"
#include "log.h"
#include "metrics.h"
#include "options.h"

int main(int argc, char **argv)
{
	char err[1024];
	cks_consumer *c = NULL;
	cks_metrics *mx = NULL;
	cks_config *cfg = cks_config_new();
	int rc = cks_options_daemon_start(
	    argc, argv, CKS_CFG_CONSUMER, "ckansync-consumer",
	    "ckansync-consumer --db CONNINFO --brokers HOST:PORT --origin ID... "
	    "[--topic-prefix P] [--policy P] [--config FILE] [--from-beginning] "
	    "[--until-idle] [options]",
	    cfg);
	if (rc >= 0)
		goto out;
	rc = 1;
	if (cks_consumer_new(cfg, &c, err, sizeof(err)) ||
	    cks_options_start_metrics(cfg, &mx, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	cks_consumer_set_metrics(c, mx);
	if (isatty(STDERR_FILENO))
		cks_consumer_set_progress(c, stderr);
	if (cks_consumer_run(c, &cks_options_stop, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	cks_consumer_stats s;
	cks_consumer_get_stats(c, &s);
	CKS_LOG(
	    CKS_LOG_INFO, NULL,
	    "stopped: %llu applied, %llu skipped, %llu merges, %llu conflicts, %llu dead letters",
	    (unsigned long long)s.applied, (unsigned long long)s.skipped,
	    (unsigned long long)s.merges, (unsigned long long)s.conflicts,
	    (unsigned long long)s.dead_letters);
	rc = 0;
out:
	cks_consumer_destroy(c);
	cks_metrics_destroy(mx); /* after c: its callbacks update mx until then */
	cks_config_destroy(cfg);
	return rc;
}
