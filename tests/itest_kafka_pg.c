/* Integration: the real broker and the real PostgreSQL talk to us. Creates a
 * topic with the admin API, produces a message with a delivery report,
 * consumes it back, stores it in a fresh database with libpq, reads it back. */
#include "harness.h"

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static void create_topic(const char *brokers, const char *topic)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)),
	                 RD_KAFKA_CONF_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof(err));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	assert_non_null(ev);
	const rd_kafka_CreateTopics_result_t *r = rd_kafka_event_CreateTopics_result(ev);
	assert_non_null(r);
	size_t n;
	const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(r, &n);
	assert_int_equal(n, 1);
	assert_int_equal(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
}

static int delivered;
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	assert_int_equal(rkm->err, RD_KAFKA_RESP_ERR_NO_ERROR);
	delivered++;
}

static void produce_one(const char *brokers, const char *topic, const char *payload)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
	assert_int_equal(rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)),
	                 RD_KAFKA_CONF_OK);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(rk);
	assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("k1", 2),
	                                   RD_KAFKA_V_VALUE((void *)payload, strlen(payload)),
	                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                                   RD_KAFKA_V_END),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_outq_len(rk), 0);
	assert_int_equal(delivered, 1);
	rd_kafka_destroy(rk);
}

static char *consume_one(const char *brokers, const char *topic)
{
	char err[512], group[160];
	snprintf(group, sizeof(group), "%s-g", topic);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
	rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, tp), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(tp);
	char *got = NULL;
	for (int i = 0; i < 300 && !got; i++) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		if (!rkm)
			continue;
		if (!rkm->err) {
			assert_int_equal(rkm->key_len, 2);
			got = strndup(rkm->payload, rkm->len);
		}
		rd_kafka_message_destroy(rkm);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	assert_non_null(got);
	return got;
}

static void test_kafka_to_postgres(void **state)
{
	if (!h_services_available())
		skip();
	char topic[128];
	snprintf(topic, sizeof(topic), "%s.itest", h_topic_prefix());
	const char *payload = "{\"name\": \"o'brien; DROP TABLE x; --\", \"t\": \"\xe6\x9c\xac\"}";
	create_topic(h_brokers(), topic);
	produce_one(h_brokers(), topic, payload);
	char *got = consume_one(h_brokers(), topic);
	assert_string_equal(got, payload);

	PGconn *conn = PQconnectdb(h_fresh_db());
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PGresult *res = PQexec(conn, "CREATE TABLE m (topic text, body jsonb)");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	const char *params[2] = {topic, got};
	res = PQexecParams(conn, "INSERT INTO m VALUES ($1, $2::jsonb)", 2, NULL, params, NULL,
	                   NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	res = PQexecParams(conn, "SELECT body->>'name', version() FROM m WHERE topic = $1", 1, NULL,
	                   params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), "o'brien; DROP TABLE x; --");
	fprintf(stderr, "round trip through Kafka at %s and %s\n", h_brokers(),
	        PQgetvalue(res, 0, 1));
	PQclear(res);
	PQfinish(conn);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kafka_to_postgres),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
