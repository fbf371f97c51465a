/* ckansync-producer — publishes one instance's revisions, conflicts and
 * unversioned objects to Kafka. Thin: options, signals, exit status; the
 * work is in common/producer.c. */
#include <stdio.h>

#include "log.h"
#include "metrics.h"
#include "options.h"
#include "producer.h"

int main(int argc, char **argv)
{
	char err[1024];
	cks_producer *p = NULL;
	cks_metrics *mx = NULL;
	cks_config *cfg = cks_config_new();
	int rc = cks_options_daemon_start(argc, argv, CKS_CFG_PRODUCER, "ckansync-producer",
	                                  "ckansync-producer --db CONNINFO --brokers HOST:PORT "
	                                  "[--topic-prefix P] [--config FILE] [--once] [options]",
	                                  cfg);
	if (rc >= 0)
		goto out;
	rc = 1;
	if (cks_producer_new(cfg, &p, err, sizeof(err)) ||
	    cks_options_start_metrics(cfg, &mx, err, sizeof(err))) {
		CKS_LOG(CKS_LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	cks_producer_set_metrics(p, mx);
	if (cks_producer_run(p, &cks_options_stop, err, sizeof(err))) {
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
