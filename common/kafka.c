/* kafka — see kafka.h. */
#include "kafka.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

void cks_topic_revisions(const char *prefix, const char *instance, char *out, size_t n)
{
	snprintf(out, n, "%s.%s.revisions", prefix, instance);
}

void cks_topic_objects(const char *prefix, const char *instance, char *out, size_t n)
{
	snprintf(out, n, "%s.%s.objects", prefix, instance);
}

void cks_topic_conflicts(const char *prefix, char *out, size_t n)
{
	snprintf(out, n, "%s.conflicts", prefix);
}

void cks_topic_deadletter(const char *prefix, char *out, size_t n)
{
	snprintf(out, n, "%s.deadletter", prefix);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	cks_log_level lvl = level <= 3   ? CKS_LOG_ERROR
	                    : level <= 4 ? CKS_LOG_WARN
	                    : level <= 6 ? CKS_LOG_INFO
	                                 : CKS_LOG_DEBUG;
	CKS_LOG(lvl, "librdkafka", "%s: %s", fac, buf);
}

/* log_cb for a producer made from a consumer's settings: librdkafka's
 * warning that a consumer property is ignored by a producer is expected
 * there, so it is said at debug. */
static void log_cb_consumer_props(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "is a consumer property") &&
	    strstr(buf, "ignored by this producer")) {
		CKS_LOG(CKS_LOG_DEBUG, "librdkafka", "%s: %s", fac, buf);
		return;
	}
	log_cb(rk, level, fac, buf);
}

void cks_kafka_conf_quiet_consumer_props(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, log_cb_consumer_props);
}

void cks_kafka_note_error(int err, const char *reason, char *auth_error, size_t auth_error_size)
{
	bool auth = err == RD_KAFKA_RESP_ERR__AUTHENTICATION;
	/* Transport errors are retried by librdkafka itself; say so once per event. */
	CKS_LOG(err == RD_KAFKA_RESP_ERR__FATAL || auth ? CKS_LOG_ERROR : CKS_LOG_WARN,
	        "librdkafka", "%s: %s", rd_kafka_err2name(err), reason);
	if (auth && auth_error && auth_error_size && !auth_error[0])
		snprintf(auth_error, auth_error_size, "%s", reason);
}

cks_err cks_kafka_auth_failed(const char *auth_error, char *errstr, size_t errstr_size)
{
	return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
	                  "kafka authentication failed: %s (check kafka.sasl.mechanisms, "
	                  "kafka.sasl.username and kafka.sasl.password)",
	                  auth_error);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	cks_kafka_note_error(err, reason, NULL, 0);
}

cks_err cks_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                           size_t errstr_size)
{
	char err[512];
	if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "kafka.%s: %s", key, err);
	return CKS_OK;
}

cks_err cks_kafka_conf_defaults(rd_kafka_conf_t *conf, const cks_config *cfg,
                                const char *const (*defaults)[2], size_t n, char *errstr,
                                size_t errstr_size)
{
	for (size_t i = 0; i < n; i++) {
		char key[160];
		snprintf(key, sizeof(key), "kafka.%s", defaults[i][0]);
		if (cks_config_get(cfg, key))
			continue;
		cks_err err =
		    cks_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, errstr_size);
		if (err)
			return err;
	}
	return CKS_OK;
}

cks_err cks_kafka_conf_new(const cks_config *cfg, rd_kafka_conf_t **out, char *errstr,
                           size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	cks_err err = CKS_OK;
	const char *brokers = cks_config_get(cfg, "brokers");
	if (brokers &&
	    (err = cks_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size)))
		goto out;
	/* TCP_NODELAY: a revision is one small request; with Nagle's algorithm
	 * it may wait for the broker's delayed ACK (kafka.* below may override). */
	if ((err = cks_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, errstr_size)))
		goto out;
	size_t it = 0;
	const char *k, *v;
	while (cks_config_kafka_next(cfg, &it, &k, &v)) {
		char e[512];
		if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
			/* librdkafka's message may quote the value: keep it out for secrets. */
			err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "kafka.%s: %s", k,
			                 cks_config_is_secret(k - 6) ? "invalid value" : e);
			goto out;
		}
	}
	/* Metrics on: librdkafka statistics feed them (the daemons' stats_cb). */
	if (cks_config_get_int(cfg, "metrics-port") > 0 &&
	    !cks_config_get(cfg, "kafka.statistics.interval.ms") &&
	    (err = cks_kafka_conf_set(conf, "statistics.interval.ms", "5000", errstr, errstr_size)))
		goto out;
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
out:
	if (err) {
		rd_kafka_conf_destroy(conf);
		conf = NULL;
	}
	*out = conf;
	return err;
}

cks_err cks_kafka_classify(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return CKS_OK;
	case RD_KAFKA_RESP_ERR__FATAL:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
		return CKS_ERR_FATAL;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
		return CKS_ERR_PERMANENT;
	default:
		return CKS_ERR_RETRIABLE;
	}
}

/* Wait for one admin result event on q. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, int timeout_ms)
{
	return rd_kafka_queue_poll(q, timeout_ms);
}

/* Checks an existing topic's settings against its kind. */
static cks_err check_topic(rd_kafka_t *rk, const char *topic, cks_topic_kind kind, int timeout_ms,
                           char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_event_t *ev = NULL;
	rd_kafka_DescribeConfigs(rk, &cr, 1, NULL, q);
	ev = admin_wait(q, timeout_ms);
	if (!ev) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE,
		                 "describe topic %s: no answer from the broker", topic);
		goto out;
	}
	if (rd_kafka_event_error(ev)) {
		err = cks_seterr(errstr, errstr_size, cks_kafka_classify(rd_kafka_event_error(ev)),
		                 "describe topic %s: %s", topic, rd_kafka_event_error_string(ev));
		goto out;
	}
	size_t nres, ncfg;
	const rd_kafka_ConfigResource_t **res = rd_kafka_DescribeConfigs_result_resources(
	    rd_kafka_event_DescribeConfigs_result(ev), &nres);
	if (nres != 1 || rd_kafka_ConfigResource_error(res[0])) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE, "describe topic %s: %s",
		                 topic, nres ? rd_kafka_ConfigResource_error_string(res[0]) : "?");
		goto out;
	}
	const rd_kafka_ConfigEntry_t **cfgs = rd_kafka_ConfigResource_configs(res[0], &ncfg);
	for (size_t i = 0; i < ncfg && !err; i++) {
		const char *name = rd_kafka_ConfigEntry_name(cfgs[i]);
		const char *value = rd_kafka_ConfigEntry_value(cfgs[i]);
		if (!value)
			continue;
		if (kind == CKS_TOPIC_HISTORY &&
		    ((strcmp(name, "retention.ms") == 0 && strcmp(value, "-1") != 0) ||
		     (strcmp(name, "retention.bytes") == 0 && strcmp(value, "-1") != 0) ||
		     (strcmp(name, "cleanup.policy") == 0 && strstr(value, "compact"))))
			err =
			    cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			               "topic %s has %s=%s, which would lose history: it must "
			               "keep every revision (retention.ms=-1, retention.bytes=-1, "
			               "cleanup.policy=delete); fix it with kafka-configs.sh "
			               "--alter --entity-type topics --entity-name %s "
			               "--add-config retention.ms=-1",
			               topic, name, value, topic);
		else if (kind == CKS_TOPIC_COMPACTED && strcmp(name, "cleanup.policy") == 0 &&
		         !strstr(value, "compact"))
			err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			                 "topic %s has cleanup.policy=%s: unversioned objects need "
			                 "cleanup.policy=compact",
			                 topic, value);
	}
out:
	rd_kafka_event_destroy(ev);
	rd_kafka_ConfigResource_destroy(cr);
	rd_kafka_queue_destroy(q);
	return err;
}

cks_err cks_kafka_ensure_topic(rd_kafka_t *rk, const char *topic, cks_topic_kind kind,
                               int partitions, int replication_factor, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
	char e[512];
	cks_err err = CKS_OK;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	rd_kafka_NewTopic_t *nt =
	    rd_kafka_NewTopic_new(topic, partitions, replication_factor, e, sizeof(e));
	if (!nt) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "topic %s: %s", topic, e);
		goto out;
	}
	/* Large CKAN dicts (10 MB notes) must fit: 64 MiB, as the producer's default. */
	rd_kafka_NewTopic_set_config(nt, "max.message.bytes", "67108864");
	if (kind == CKS_TOPIC_HISTORY) {
		rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
		rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
		rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete");
	} else if (kind == CKS_TOPIC_COMPACTED) {
		rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
	} else {
		rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete");
	}
	rd_kafka_AdminOptions_t *opts =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, e, sizeof(e));
	rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
	rd_kafka_AdminOptions_destroy(opts);
	ev = admin_wait(q, timeout_ms + 1000);
	if (!ev) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_RETRIABLE,
		                 "create topic %s: no answer from the broker", topic);
		goto out;
	}
	rd_kafka_resp_err_t rerr = rd_kafka_event_error(ev);
	const char *rstr = rd_kafka_event_error_string(ev);
	if (!rerr) {
		size_t n;
		const rd_kafka_topic_result_t **tr =
		    rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		if (n == 1) {
			rerr = rd_kafka_topic_result_error(tr[0]);
			rstr = rd_kafka_topic_result_error_string(tr[0]);
		}
	}
	if (rerr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		err = check_topic(rk, topic, kind, timeout_ms, errstr, errstr_size);
	} else if (rerr) {
		err =
		    cks_seterr(errstr, errstr_size, cks_kafka_classify(rerr), "create topic %s: %s",
		               topic, rstr ? rstr : rd_kafka_err2str(rerr));
	} else {
		CKS_LOG(CKS_LOG_INFO, topic, "created topic (%d partitions)", partitions);
	}
out:
	rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	return err;
}
