/* Integration: ckansync-consumer's apply rules, dead letters, exactly-once
 * effect, multi-origin de-duplication, consumer groups and rebuilds, on the
 * real broker and PostgreSQL. Records are crafted with the codec and sent
 * straight to an origin's revisions topic, so each rule is hit on purpose. */
#include "harness.h"
#include "codec.h"
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct env {
	char db[512];
	char prefix[64];
	rd_kafka_t *rk;
	cks_codec *codec;
} env;

static void dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	assert_int_equal(rkm->err, 0);
}

static void env_init(env *e, const char *instance)
{
	char err[512];
	h_fresh_db_into(e->db, sizeof(e->db));
	snprintf(e->prefix, sizeof(e->prefix), "%s", h_topic_prefix());
	cks_store *st = NULL;
	if (cks_store_open(e->db, &st, err, sizeof(err)) ||
	    cks_store_init(st, instance, err, sizeof(err)))
		fail_msg("init: %s", err);
	cks_store_close(st);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", h_brokers(), err, sizeof(err));
	rd_kafka_conf_set_dr_msg_cb(conf, dr);
	e->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(e->rk);
	assert_int_equal(cks_codec_new(&e->codec, err, sizeof(err)), CKS_OK);
}

static void env_release(env *e)
{
	rd_kafka_flush(e->rk, 10000);
	rd_kafka_destroy(e->rk);
	cks_codec_destroy(e->codec);
}

static void topic_of(const env *e, const char *origin, char *out, size_t n)
{
	snprintf(out, n, "%s.%s.revisions", e->prefix, origin);
}

static void make_topic(const env *e, const char *origin)
{
	char t[256];
	topic_of(e, origin, t, sizeof(t));
	h_create_topic(t, 2, "retention.ms", "-1");
}

static void send_raw(env *e, const char *origin, const char *key, const void *v, size_t n)
{
	char t[256];
	topic_of(e, origin, t, sizeof(t));
	assert_int_equal(rd_kafka_producev(
	                     e->rk, RD_KAFKA_V_TOPIC(t), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
	                     RD_KAFKA_V_VALUE((void *)v, n),
	                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
	                 0);
	rd_kafka_flush(e->rk, 10000);
}

/* Sends a revision of object `obj` (a fixed-pattern id from a small number)
 * with objrev id `rev` (also a number), parent numbers (0 = none). */
static void id_of(int n, char prefix, cks_uuid_str out)
{
	snprintf(out, sizeof(cks_uuid_str), "%c0000000-0000-4000-8000-%012d", prefix, n);
}

/* A revision made at rev_origin, sent to topic_origin's topic (a relay when
 * they differ: a revision keeps its origin wherever it travels). */
static void send_rev_via(env *e, const char *origin, const char *rev_origin, cks_revkind kind,
                         int obj, int rev, int p1, int p2, const char *state_json, int64_t ts)
{
	char err[512];
	cks_revmsg m = CKS_REVMSG_INIT;
	id_of(rev, 'e', m.revision_id);
	m.origin = strdup(rev_origin);
	m.timestamp_us = ts;
	m.author = strdup("tester");
	m.message = strdup("crafted");
	m.kind = kind;
	m.object_type = CKS_OBJ_PACKAGE;
	id_of(obj, 'a', m.object_id);
	id_of(rev, 'b', m.objrev_id);
	if (p1)
		id_of(p1, 'b', m.parents[m.nparents++]);
	if (p2)
		id_of(p2, 'b', m.parents[m.nparents++]);
	if (state_json) {
		json_error_t je;
		m.state = json_loads(state_json, 0, &je);
		assert_non_null(m.state);
		json_object_set_new(m.state, "id", json_string(m.object_id));
	}
	cks_buf b = CKS_BUF_INIT;
	assert_int_equal(cks_codec_encode_revision(e->codec, &m, &b, err, sizeof(err)), CKS_OK);
	send_raw(e, origin, m.object_id, b.data, b.len);
	cks_buf_release(&b);
	cks_revmsg_release(&m);
}

static void send_rev(env *e, const char *origin, cks_revkind kind, int obj, int rev, int p1, int p2,
                     const char *state_json, int64_t ts)
{
	send_rev_via(e, origin, origin, kind, obj, rev, p1, p2, state_json, ts);
}

/* Runs the consumer --until-idle; its output in *outp (caller frees) when
 * outp is not NULL. */
static int consume_out(const env *e, const char *origins, const char *extra, char **outp)
{
	char *out = NULL;
	int rc = h_run(&out,
	               "timeout 120 %s --db '%s' --brokers %s --topic-prefix %s %s --until-idle "
	               "--log-level info %s 2>&1",
	               h_bin("ckansync-consumer"), e->db, h_brokers(), e->prefix, origins,
	               extra ? extra : "");
	if (rc != 0)
		fprintf(stderr, "consumer output:\n%s\n", out);
	if (outp)
		*outp = out;
	else
		free(out);
	return rc;
}

static int consume(const env *e, const char *origins, const char *extra)
{
	return consume_out(e, origins, extra, NULL);
}

static cks_store *open_db(const char *db)
{
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(db, &st, err, sizeof(err)) || cks_store_check(st, err, sizeof(err)))
		fail_msg("open: %s", err);
	return st;
}

static char *field(cks_store *st, const char *name_or_id, const char *key)
{
	char err[512];
	json_t *d = NULL;
	if (cks_store_show(st, name_or_id, NULL, &d, err, sizeof(err)) != CKS_OK)
		return NULL;
	char *v = json_dumps(json_object_get(d, key), JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(d);
	return v;
}

static int count_conflicts(cks_store *st, const char *kind)
{
	char err[512];
	json_t *list = NULL;
	assert_int_equal(cks_store_conflicts_list(st, &list, err, sizeof(err)), CKS_OK);
	size_t i;
	json_t *c;
	int n = 0;
	json_array_foreach(list, i, c)
	{
		const char *k = json_string_value(json_object_get(c, "kind"));
		n += k && strcmp(k, kind) == 0;
	}
	json_decref(list);
	return n;
}

static int64_t T0 = 1700000000000000LL;

static void test_apply_rules(void **state)
{
	if (!h_services_available())
		skip();
	env e;
	env_init(&e, "B");
	make_topic(&e, "X");
	cks_uuid_str id;
	char *v;
	/* create, edit, duplicate edit */
	send_rev(&e, "X", CKS_REV_EDIT, 1, 1, 0, 0, "{\"name\":\"p1\",\"title\":\"one\"}", T0);
	send_rev(&e, "X", CKS_REV_EDIT, 1, 2, 1, 0, "{\"name\":\"p1\",\"title\":\"two\"}", T0 + 1);
	send_rev(&e, "X", CKS_REV_EDIT, 1, 2, 1, 0, "{\"name\":\"p1\",\"title\":\"two\"}", T0 + 1);
	/* missing base: parent 90 exists nowhere */
	send_rev(&e, "X", CKS_REV_EDIT, 2, 3, 90, 0, "{\"name\":\"p2\",\"title\":\"mid\"}", T0 + 2);
	/* purge at origin, then a late edit of the purged object */
	send_rev(&e, "X", CKS_REV_EDIT, 3, 4, 0, 0, "{\"name\":\"p3\",\"title\":\"doomed\"}",
	         T0 + 3);
	send_rev(&e, "X", CKS_REV_PURGE, 3, 5, 0, 0, NULL, T0 + 4);
	send_rev(&e, "X", CKS_REV_EDIT, 3, 6, 4, 0, "{\"name\":\"p3\",\"title\":\"late\"}", T0 + 5);
	assert_int_equal(consume(&e, "--origin X", NULL), 0);

	cks_store *st = open_db(e.db);
	v = field(st, "p1", "title");
	assert_string_equal(v, "\"two\"");
	free(v);
	char err[512];
	json_t *log = NULL;
	assert_int_equal(cks_store_log(st, "p1", NULL, &log, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(log), 2); /* duplicate applied once */
	json_decref(log);
	v = field(st, "p2", "title");
	assert_string_equal(v, "\"mid\"");
	free(v);
	assert_int_equal(count_conflicts(st, "missing-base"), 1);
	assert_null(field(st, "p3", "title")); /* purged, and not recreated */
	bool purged = false;
	char by[64];
	id_of(3, 'a', id);
	assert_int_equal(cks_store_tombstone_get(st, id, &purged, by, err, sizeof(err)), CKS_OK);
	assert_true(purged);
	assert_string_equal(by, "X");

	/* Purged here: a later edit from the origin does not recreate it. */
	cks_put_opts o = CKS_PUT_OPTS_INIT;
	cks_uuid_str rev;
	assert_int_equal(cks_store_purge(st, "p1", &o, rev, err, sizeof(err)), CKS_OK);
	send_rev(&e, "X", CKS_REV_EDIT, 1, 7, 2, 0, "{\"name\":\"p1\",\"title\":\"three\"}",
	         T0 + 6);
	/* Name clash: B has its own "clash"; X creates another "clash". */
	json_t *local = json_pack("{s:s, s:s}", "name", "clash", "title", "mine");
	assert_int_equal(cks_store_put(st, local, &o, rev, NULL, err, sizeof(err)), CKS_OK);
	json_decref(local);
	send_rev(&e, "X", CKS_REV_EDIT, 4, 8, 0, 0, "{\"name\":\"clash\",\"title\":\"theirs\"}",
	         T0 + 7);
	assert_int_equal(consume(&e, "--origin X", NULL), 0);
	assert_null(field(st, "p1", "title"));
	assert_int_equal(count_conflicts(st, "purged-here"), 1);
	v = field(st, "clash", "title");
	assert_string_equal(v, "\"mine\""); /* never overwritten */
	free(v);
	id_of(4, 'a', id);
	v = field(st, id, "name");
	assert_string_equal(v, "\"clash-a0000000\"");
	free(v);
	assert_int_equal(count_conflicts(st, "name-clash"), 1);
	cks_store_close(st);
	env_release(&e);
}

static void test_divergent_heads_merge(void **state)
{
	if (!h_services_available())
		skip();
	env e;
	env_init(&e, "B");
	make_topic(&e, "X");
	send_rev(&e, "X", CKS_REV_EDIT, 1, 1, 0, 0,
	         "{\"name\":\"m1\",\"title\":\"base\",\"notes\":\"n\",\"tags\":[{\"name\":\"a\"}]}",
	         T0);
	assert_int_equal(consume(&e, "--origin X", NULL), 0);
	/* Local edit on B, then X's edit of the same base arrives. */
	cks_store *st = open_db(e.db);
	char err[512];
	cks_uuid_str rev;
	cks_put_opts o = CKS_PUT_OPTS_INIT;
	json_t *d =
	    json_pack("{s:s, s:s, s:s, s:[{s:s},{s:s}]}", "name", "m1", "title", "local title",
	              "notes", "n", "tags", "name", "a", "name", "local-tag");
	assert_int_equal(cks_store_put(st, d, &o, rev, NULL, err, sizeof(err)), CKS_OK);
	json_decref(d);
	send_rev(&e, "X", CKS_REV_EDIT, 1, 2, 1, 0,
	         "{\"name\":\"m1\",\"title\":\"remote title\",\"notes\":\"remote notes\","
	         "\"tags\":[{\"name\":\"a\"},{\"name\":\"remote-tag\"}]}",
	         cks_now_us() + 60000000LL); /* newer than the local edit */
	assert_int_equal(consume(&e, "--origin X", "--policy newest-wins"), 0);
	char *v = field(st, "m1", "title");
	assert_string_equal(v, "\"remote title\""); /* newest wins the conflict */
	free(v);
	v = field(st, "m1", "notes");
	assert_string_equal(v, "\"remote notes\""); /* only remote changed it */
	free(v);
	v = field(st, "m1", "tags");
	assert_non_null(strstr(v, "local-tag"));
	assert_non_null(strstr(v, "remote-tag"));
	free(v);
	assert_int_equal(count_conflicts(st, "field"), 1);
	json_t *log = NULL;
	assert_int_equal(cks_store_log(st, "m1", NULL, &log, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(log), 4); /* base, local, remote, merge */
	json_t *merge = json_array_get(log, 3);
	assert_string_equal(json_string_value(json_object_get(merge, "kind")), "merge");
	json_t *objs = json_object_get(merge, "objects");
	assert_int_equal(json_array_size(json_object_get(json_array_get(objs, 0), "parents")), 2);
	json_decref(log);
	cks_store_close(st);
	env_release(&e);
}

/* Revisions are sent to PostgreSQL several at once (windows, the next one
 * sent before the answer of the one before is read), but their effects are
 * those of applying them one by one, in order: once one of a window needs
 * the full apply (here a create whose tag id clashes), the later ones wait
 * for it, also those of the window sent after it (which writes nothing and
 * is sent again). Two creates of the same name on one partition: the first
 * keeps the name, the second is renamed, as applied one by one (written
 * ahead, the second would have taken the name). */
static void test_pipelined_in_order(void **state)
{
	if (!h_services_available())
		skip();
	env e;
	env_init(&e, "B");
	char t[256];
	topic_of(&e, "P", t, sizeof(t));
	h_create_topic(t, 1, "retention.ms", "-1"); /* one partition: one order */
	cks_store *st = open_db(e.db);
	char err[512];
	cks_uuid_str rev, id1, id2;
	cks_put_opts o = CKS_PUT_OPTS_INIT;
	json_t *d = json_pack("{s:s, s:[{s:s, s:s}]}", "name", "local", "tags", "name", "shared",
	                      "id", "tag-id-of-B");
	assert_int_equal(cks_store_put(st, d, &o, rev, NULL, err, sizeof(err)), CKS_OK);
	json_decref(d);
	char text[64];
	for (int i = 1; i <= 100; i++) { /* plain creates before: written in runs */
		snprintf(text, sizeof(text), "{\"name\":\"before-%d\"}", i);
		send_rev(&e, "P", CKS_REV_EDIT, 1000 + i, 1000 + i, 0, 0, text, T0);
	}
	send_rev(&e, "P", CKS_REV_EDIT, 1, 1, 0, 0,
	         "{\"name\":\"same\",\"tags\":[{\"name\":\"shared\",\"id\":\"tag-id-of-P\"}]}", T0);
	send_rev(&e, "P", CKS_REV_EDIT, 2, 2, 0, 0, "{\"name\":\"same\"}", T0);
	for (int i = 1; i <= 150; i++) { /* the rest of the window, and the next */
		snprintf(text, sizeof(text), "{\"name\":\"after-%d\"}", i);
		send_rev(&e, "P", CKS_REV_EDIT, 2000 + i, 2000 + i, 0, 0, text, T0);
	}
	char *out = NULL;
	assert_int_equal(consume_out(&e, "--origin P", "--log-level debug", &out), 0);
	if (!strstr(out, "stopped: 252 applied, 0 skipped"))
		fail_msg("consumer output:\n%s", out);
	if (!strstr(out, "sent again"))
		fail_msg("no window was sent again after the one before it stopped:\n%.2000s", out);
	free(out);
	id_of(1, 'a', id1);
	id_of(2, 'a', id2);
	char *v = field(st, id1, "name");
	assert_string_equal(v, "\"same\"");
	free(v);
	v = field(st, id2, "name");
	assert_non_null(v);
	if (strncmp(v, "\"same-", 6) != 0)
		fail_msg("the second create was not renamed: %s", v);
	free(v);
	v = field(st, "before-100", "name");
	assert_string_equal(v, "\"before-100\"");
	free(v);
	v = field(st, "after-150", "name");
	assert_string_equal(v, "\"after-150\"");
	free(v);
	cks_store_close(st);
	env_release(&e);
}

/* More objects with waiting heads than one transaction merges: they are
 * merged in several transactions, each committed, and every one of them is
 * merged once. */
static void test_many_waiting_heads(void **state)
{
	if (!h_services_available())
		skip();
	enum { N = 130 }; /* > SETTLE_CHUNK (100) in consumer.c */
	env e;
	env_init(&e, "B");
	make_topic(&e, "X");
	char text[128];
	for (int i = 1; i <= N; i++) {
		snprintf(text, sizeof(text), "{\"name\":\"w%d\",\"title\":\"base\"}", i);
		send_rev(&e, "X", CKS_REV_EDIT, i, i, 0, 0, text, T0);
	}
	assert_int_equal(consume(&e, "--origin X", NULL), 0);
	cks_store *st = open_db(e.db);
	char err[512];
	cks_uuid_str rev;
	for (int i = 1; i <= N; i++) { /* a local edit of each, then X's edit of the base */
		cks_put_opts o = CKS_PUT_OPTS_INIT;
		snprintf(text, sizeof(text), "w%d", i);
		json_t *d =
		    json_pack("{s:s, s:s, s:s}", "name", text, "title", "base", "notes", "local");
		assert_int_equal(cks_store_put(st, d, &o, rev, NULL, err, sizeof(err)), CKS_OK);
		json_decref(d);
		snprintf(text, sizeof(text), "{\"name\":\"w%d\",\"title\":\"remote\"}", i);
		send_rev(&e, "X", CKS_REV_EDIT, i, N + i, i, 0, text, T0 + 1000000);
	}
	char *out = NULL;
	assert_int_equal(consume_out(&e, "--origin X", NULL, &out), 0);
	if (!strstr(out, "merged the waiting heads of 100 objects; committing"))
		fail_msg("not merged in chunks:\n%s", out);
	snprintf(text, sizeof(text), "stopped: %d applied, 0 skipped, %d merges", N, N);
	if (!strstr(out, text))
		fail_msg("expected '%s':\n%s", text, out);
	free(out);
	for (int i = 1; i <= N; i += 43) { /* both sides in each merge */
		snprintf(text, sizeof(text), "w%d", i);
		char *v = field(st, text, "title");
		assert_string_equal(v, "\"remote\"");
		free(v);
		v = field(st, text, "notes");
		assert_string_equal(v, "\"local\"");
		free(v);
	}
	PGresult *res = PQexec(cks_store_conn(st), "SELECT count(*) FROM ckansync.pending_head");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
	cks_store_close(st);
	env_release(&e);
}

typedef struct dlq {
	int n;
	char errors[32][256];
} dlq;

static void collect_dlq(const rd_kafka_message_t *rkm, void *opaque)
{
	dlq *d = opaque;
	rd_kafka_headers_t *h = NULL;
	const void *v = NULL;
	size_t vs = 0;
	if (d->n < 32 && rd_kafka_message_headers(rkm, &h) == 0 &&
	    rd_kafka_header_get_last(h, "error", &v, &vs) == 0)
		snprintf(d->errors[d->n], 256, "%.*s", (int)vs, (const char *)v);
	d->n++;
}

static void test_bad_records_dead_lettered(void **state)
{
	if (!h_services_available())
		skip();
	env e;
	env_init(&e, "B");
	make_topic(&e, "X");
	send_rev(&e, "X", CKS_REV_EDIT, 1, 1, 0, 0, "{\"name\":\"good-1\"}", T0);
	send_raw(&e, "X", "k", "\x00\x01garbage", 9);                             /* wrong magic */
	send_raw(&e, "X", "k", "", 0);                                            /* empty */
	send_raw(&e, "X", "k", "\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08zz", 12); /* unknown fp */
	send_rev(&e, "X", CKS_REV_EDIT, 2, 2, 0, 0, "{\"name\":\"BAD NAME\"}", T0); /* invalid */
	send_rev(&e, "X", CKS_REV_EDIT, 3, 3, 0, 0, "{\"name\":\"good-2\"}", T0);
	/* One batch: good-1 is applied, the batch rolled back at the first bad
	 * record and applied again with a savepoint per message; every message
	 * is counted once, each bad one dead-lettered once. */
	char *out = NULL;
	assert_int_equal(consume_out(&e, "--origin X", NULL, &out), 0);
	if (!strstr(out, "stopped: 2 applied, 0 skipped, 0 merges, 0 conflicts, 4 dead letters"))
		fail_msg("consumer output:\n%s", out);
	if (!strstr(out, "a savepoint per message"))
		fail_msg("no batch applied again in careful mode:\n%s", out);
	free(out);
	cks_store *st = open_db(e.db);
	char *v = field(st, "good-1", "name");
	assert_non_null(v);
	free(v);
	v = field(st, "good-2", "name");
	assert_non_null(v);
	free(v);
	cks_store_close(st);
	char topic[256];
	snprintf(topic, sizeof(topic), "%s.deadletter", e.prefix);
	dlq d = {0};
	h_consume_all(topic, collect_dlq, &d);
	assert_int_equal(d.n, 4);
	for (int i = 0; i < d.n; i++)
		assert_true(strlen(d.errors[i]) > 5); /* a reason each */
	/* Replay from the stored offsets changes nothing (exactly-once effect). */
	assert_int_equal(consume(&e, "--origin X", NULL), 0);
	d.n = 0;
	h_consume_all(topic, collect_dlq, &d);
	assert_int_equal(d.n, 4);
	env_release(&e);
}

static void test_two_origins_apply_once_and_rebuild(void **state)
{
	if (!h_services_available())
		skip();
	env e;
	env_init(&e, "B");
	make_topic(&e, "X");
	make_topic(&e, "Y");
	/* The same revisions reach B from X directly and through Y. */
	for (int i = 1; i <= 20; i++) {
		char s[128];
		snprintf(s, sizeof(s), "{\"name\":\"pkg-%d\",\"title\":\"t%d\"}", i % 7, i);
		int parent = i > 7 ? i - 7 : 0;
		send_rev(&e, "X", CKS_REV_EDIT, i % 7 + 1, i, parent, 0, s, T0 + i);
		/* Y relays X's revisions: same ids, same origin X (with another
		 * origin the history would depend on which topic is read first). */
		send_rev_via(&e, "Y", "X", CKS_REV_EDIT, i % 7 + 1, i, parent, 0, s, T0 + i);
	}
	assert_int_equal(consume(&e, "--origin X --origin Y", NULL), 0);
	char err[512], d1[65], d2[65];
	cks_store *st = open_db(e.db);
	json_t *log = NULL;
	assert_int_equal(cks_store_log(st, NULL, NULL, &log, err, sizeof(err)), CKS_OK);
	assert_int_equal(json_array_size(log), 20); /* each revision once */
	json_decref(log);
	assert_int_equal(cks_store_digest(st, true, d1, err, sizeof(err)), CKS_OK);
	cks_store_close(st);
	/* Rebuild: a new empty instance replays the topics to the same history,
	 * with two consumers in one group sharing the partitions. */
	env r;
	env_init(&r, "B");
	snprintf(r.prefix, sizeof(r.prefix), "%s", e.prefix);
	char *out = NULL;
	assert_int_equal(h_run(&out,
	                       "for i in 1 2; do timeout 120 %s --db '%s' --brokers %s "
	                       "--topic-prefix %s --origin X --origin Y --group-id rebuild-%s "
	                       "--until-idle --from-beginning >/dev/null 2>&1 & done; wait; "
	                       "timeout 120 %s --db '%s' --brokers %s --topic-prefix %s --origin X "
	                       "--origin Y --until-idle >/dev/null 2>&1; echo $?",
	                       h_bin("ckansync-consumer"), r.db, h_brokers(), r.prefix, r.prefix,
	                       h_bin("ckansync-consumer"), r.db, h_brokers(), r.prefix),
	                 0);
	assert_int_equal(atoi(out), 0);
	free(out);
	st = open_db(r.db);
	assert_int_equal(cks_store_digest(st, true, d2, err, sizeof(err)), CKS_OK);
	assert_string_equal(d1, d2);
	cks_store_close(st);
	env_release(&r);
	env_release(&e);
}

typedef struct local_writer {
	const char *db;
	volatile int stop;
	int ok, failed;
} local_writer;

static void *write_locally(void *arg)
{
	local_writer *w = arg;
	char err[512];
	cks_store *st = open_db(w->db);
	for (int i = 0; !w->stop && i < 400; i++) {
		cks_uuid_str rev;
		cks_put_opts o = CKS_PUT_OPTS_INIT;
		char title[64];
		snprintf(title, sizeof(title), "local edit %d", i);
		json_t *d =
		    json_pack("{s:s, s:s, s:s}", "name", "hot", "title", title, "notes", "local");
		if (cks_store_put(st, d, &o, rev, NULL, err, sizeof(err)) == CKS_OK)
			w->ok++;
		else
			w->failed++;
		json_decref(d);
	}
	cks_store_close(st);
	return NULL;
}

/* A local writer editing the package being applied, at the same moment:
 * every write succeeds, the incoming history is kept, heads are merged. */
static void test_local_writer_during_apply(void **state)
{
	if (!h_services_available())
		skip();
	env e;
	env_init(&e, "B");
	make_topic(&e, "X");
	send_rev(&e, "X", CKS_REV_EDIT, 1, 1, 0, 0, "{\"name\":\"hot\",\"title\":\"t0\"}", T0);
	assert_int_equal(consume(&e, "--origin X", NULL), 0);
	for (int i = 2; i <= 300; i++) {
		char s[96];
		snprintf(s, sizeof(s), "{\"name\":\"hot\",\"title\":\"remote %d\"}", i);
		send_rev(&e, "X", CKS_REV_EDIT, 1, i, i - 1, 0, s, T0 + i);
	}
	local_writer w = {e.db, 0, 0, 0};
	pthread_t t;
	pthread_create(&t, NULL, write_locally, &w);
	assert_int_equal(consume(&e, "--origin X", "--batch-size 20"), 0);
	w.stop = 1;
	pthread_join(t, NULL);
	assert_int_equal(w.failed, 0);
	assert_true(w.ok > 0);
	/* Every one of X's 300 object revisions is in B's history. */
	cks_store *st = open_db(e.db);
	char err[512];
	for (int i = 1; i <= 300; i++) {
		cks_uuid_str id;
		bool exists = false;
		id_of(i, 'b', id);
		assert_int_equal(cks_store_objrev_exists(st, id, &exists, err, sizeof(err)),
		                 CKS_OK);
		assert_true(exists);
	}
	cks_store_close(st);
	env_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_apply_rules),
	    cmocka_unit_test(test_divergent_heads_merge),
	    cmocka_unit_test(test_pipelined_in_order),
	    cmocka_unit_test(test_many_waiting_heads),
	    cmocka_unit_test(test_bad_records_dead_lettered),
	    cmocka_unit_test(test_two_origins_apply_once_and_rebuild),
	    cmocka_unit_test(test_local_writer_during_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
