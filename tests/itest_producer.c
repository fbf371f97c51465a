/* Integration: ckansync-producer against the real broker and PostgreSQL.
 * Concurrent writers give exactly N messages, each decodable, every object's
 * messages in parent order; a SIGKILL mid-stream loses nothing; private
 * packages stay home unless publish.private; conflicts and unversioned
 * objects reach their topics; a revisions topic that would lose history is
 * refused. */
#include "harness.h"
#include "codec.h"
#include "store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cks_store *open_init(const char *db, const char *instance)
{
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(db, &st, err, sizeof(err)) ||
	    cks_store_init(st, instance, err, sizeof(err)))
		fail_msg("%s: %s", db, err);
	return st;
}

static void put(cks_store *st, const char *name, const char *title, bool private_)
{
	char err[512];
	cks_uuid_str rev;
	json_t *d = json_pack("{s:s, s:s, s:b}", "name", name, "title", title, "private", private_);
	cks_put_opts o = CKS_PUT_OPTS_INIT;
	if (cks_store_put(st, d, &o, rev, NULL, err, sizeof(err)))
		fail_msg("put %s: %s", name, err);
	json_decref(d);
}

static int producer_once(const char *db, const char *prefix, const char *extra)
{
	return h_run(NULL, "timeout 120 %s --db '%s' --brokers %s --topic-prefix %s --once %s 2>&1",
	             h_bin("ckansync-producer"), db, h_brokers(), prefix, extra ? extra : "");
}

/* Collected messages of a revisions topic. */
typedef struct seen {
	cks_codec *codec;
	size_t n, bad;
	struct {
		cks_uuid_str object, objrev, parent;
		int32_t partition;
		int64_t offset;
	} m[4096];
} seen;

static void collect(const rd_kafka_message_t *rkm, void *opaque)
{
	seen *s = opaque;
	char err[256];
	cks_revmsg m = CKS_REVMSG_INIT;
	if (cks_codec_decode_revision(s->codec, rkm->payload, rkm->len, &m, err, sizeof(err)) ||
	    s->n >= 4096) {
		s->bad++;
	} else {
		snprintf(s->m[s->n].object, sizeof(cks_uuid_str), "%s", m.object_id);
		snprintf(s->m[s->n].objrev, sizeof(cks_uuid_str), "%s", m.objrev_id);
		snprintf(s->m[s->n].parent, sizeof(cks_uuid_str), "%s",
		         m.nparents ? m.parents[0] : "");
		s->m[s->n].partition = rkm->partition;
		s->m[s->n].offset = rkm->offset;
		/* key = object id */
		if (rkm->key_len != 36 || memcmp(rkm->key, m.object_id, 36) != 0)
			s->bad++;
		s->n++;
	}
	cks_revmsg_release(&m);
}

static seen *read_revisions(const char *prefix, const char *instance)
{
	char topic[256], err[256];
	seen *s = calloc(1, sizeof(*s));
	assert_int_equal(cks_codec_new(&s->codec, err, sizeof(err)), CKS_OK);
	snprintf(topic, sizeof(topic), "%s.%s.revisions", prefix, instance);
	h_consume_all(topic, collect, s);
	cks_codec_destroy(s->codec);
	return s;
}

/* Every object's messages are in one partition, in parent order: each
 * message's parent is the previous message of that object. Returns the
 * number of distinct object revisions. */
static size_t check_order(const seen *s)
{
	size_t distinct = 0;
	for (size_t i = 0; i < s->n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(s->m[j].objrev, s->m[i].objrev) == 0;
		distinct += !dup;
		if (dup)
			continue;
		/* The parent, if any, appears earlier in the same partition. */
		if (!*s->m[i].parent)
			continue;
		bool found = false;
		for (size_t j = 0; j < s->n && !found; j++)
			found = strcmp(s->m[j].objrev, s->m[i].parent) == 0 &&
			        s->m[j].partition == s->m[i].partition &&
			        s->m[j].offset < s->m[i].offset;
		if (!found)
			fail_msg("object %s: revision %s before its parent %s", s->m[i].object,
			         s->m[i].objrev, s->m[i].parent);
	}
	return distinct;
}

typedef struct writer {
	const char *db;
	int id, n;
} writer;

static void *write_many(void *arg)
{
	writer *w = arg;
	char err[512];
	cks_store *st = NULL;
	if (cks_store_open(w->db, &st, err, sizeof(err)) || cks_store_check(st, err, sizeof(err)))
		return NULL;
	for (int i = 0; i < w->n; i++) {
		char name[32], title[64];
		snprintf(name, sizeof(name), "shared-%d", i % 5); /* contended objects */
		snprintf(title, sizeof(title), "writer %d edit %d", w->id, i);
		put(st, name, title, false);
		snprintf(name, sizeof(name), "own-%d-%d", w->id, i % 3);
		put(st, name, title, false);
	}
	cks_store_close(st);
	return NULL;
}

static void test_concurrent_writers_exactly_n(void **state)
{
	if (!h_services_available())
		skip();
	char db[512], prefix[64];
	h_fresh_db_into(db, sizeof(db));
	snprintf(prefix, sizeof(prefix), "%s", h_topic_prefix());
	/* The shared objects are created concurrently too (same names). */
	cks_store_close(open_init(db, "A"));
	pthread_t t[3];
	writer w[3];
	for (int i = 0; i < 3; i++) {
		w[i] = (writer){db, i, 40};
		pthread_create(&t[i], NULL, write_many, &w[i]);
	}
	/* Publish while the writers are still writing, then once more after. */
	assert_int_equal(producer_once(db, prefix, "--partitions 3"), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(producer_once(db, prefix, NULL), 0);
	seen *s = read_revisions(prefix, "A");
	assert_int_equal(s->bad, 0);
	assert_int_equal(s->n, 3 * 40 * 2); /* exactly N: no loss, no duplicate */
	assert_int_equal(check_order(s), 3 * 40 * 2);
	free(s);
}

static void test_sigkill_loses_nothing(void **state)
{
	if (!h_services_available())
		skip();
	char db[512], prefix[64], *out = NULL;
	h_fresh_db_into(db, sizeof(db));
	snprintf(prefix, sizeof(prefix), "%s", h_topic_prefix());
	cks_store *st = open_init(db, "A");
	for (int i = 0; i < 200; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i % 20);
		put(st, name, "before", false);
	}
	/* A daemon publishing, killed without warning mid-stream. */
	assert_int_equal(h_run(&out,
	                       "%s --db '%s' --brokers %s --topic-prefix %s "
	                       ">/dev/null 2>&1 & echo $!",
	                       h_bin("ckansync-producer"), db, h_brokers(), prefix),
	                 0);
	int pid = atoi(out);
	free(out);
	for (int i = 0; i < 200; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i % 20);
		put(st, name, "during", false);
		if (i == 120)
			kill(pid, SIGKILL);
	}
	usleep(100 * 1000);
	assert_int_equal(producer_once(db, prefix, NULL), 0);
	seen *s = read_revisions(prefix, "A");
	assert_int_equal(s->bad, 0);
	assert_true(s->n >= 400);
	assert_int_equal(check_order(s), 400); /* every revision, duplicates at most resent */
	free(s);
	cks_store_close(st);
}

static void test_private_not_published_by_default(void **state)
{
	if (!h_services_available())
		skip();
	for (int publish = 0; publish < 2; publish++) {
		char db[512], prefix[64];
		h_fresh_db_into(db, sizeof(db));
		snprintf(prefix, sizeof(prefix), "%s", h_topic_prefix());
		cks_store *st = open_init(db, "A");
		put(st, "public-one", "P", false);
		put(st, "secret-one", "S", true);
		put(st, "public-two", "P", false);
		cks_store_close(st);
		assert_int_equal(producer_once(db, prefix, publish ? "--publish.private" : NULL),
		                 0);
		seen *s = read_revisions(prefix, "A");
		assert_int_equal(s->n, publish ? 3 : 2);
		free(s);
	}
}

static size_t count_topic(const char *prefix, const char *suffix)
{
	char topic[256];
	snprintf(topic, sizeof(topic), "%s.%s", prefix, suffix);
	return h_consume_all(topic, NULL, NULL);
}

static void test_conflicts_and_objects_reach_their_topics(void **state)
{
	if (!h_services_available())
		skip();
	char db[512], prefix[64], err[512];
	h_fresh_db_into(db, sizeof(db));
	snprintf(prefix, sizeof(prefix), "%s", h_topic_prefix());
	cks_store *st = open_init(db, "A");
	put(st, "pkg", "T", false);
	json_t *user = json_pack("{s:s, s:s, s:s}", "id", "0b0b0b0b-1111-4222-8333-444444444444",
	                         "name", "user1", "fullname", "User One");
	assert_int_equal(cks_store_uobject_put(st, "user", user, err, sizeof(err)), CKS_OK);
	json_decref(user);
	cks_conflict c;
	memset(&c, 0, sizeof(c));
	c.detected_at = strdup("A");
	c.kind = strdup("field");
	c.object_type = CKS_OBJ_PACKAGE;
	strcpy(c.object_id, "0c0c0c0c-1111-4222-8333-444444444444");
	c.object_name = strdup("pkg");
	strcpy(c.remote_objrev, "0d0d0d0d-1111-4222-8333-444444444444");
	c.remote_origin = strdup("B");
	c.field_path = strdup("title");
	c.local_value = strdup("\"a\"");
	c.remote_value = strdup("\"b\"");
	c.resolution = strdup("newest-wins");
	c.chosen_value = strdup("\"b\"");
	assert_int_equal(cks_store_conflict_add(st, &c, err, sizeof(err)), CKS_OK);
	cks_conflict_release(&c);
	cks_store_close(st);
	assert_int_equal(producer_once(db, prefix, NULL), 0);
	assert_int_equal(count_topic(prefix, "A.revisions"), 1);
	assert_int_equal(count_topic(prefix, "A.objects"), 1);
	assert_int_equal(count_topic(prefix, "conflicts"), 1);
}

static void test_refuses_topic_that_loses_history(void **state)
{
	if (!h_services_available())
		skip();
	char db[512], prefix[64], topic[256], *out = NULL;
	h_fresh_db_into(db, sizeof(db));
	snprintf(prefix, sizeof(prefix), "%s", h_topic_prefix());
	cks_store_close(open_init(db, "A"));
	snprintf(topic, sizeof(topic), "%s.A.revisions", prefix);
	h_create_topic(topic, 1, "retention.ms", "604800000");
	int rc = h_run(&out, "timeout 60 %s --db '%s' --brokers %s --topic-prefix %s --once 2>&1",
	               h_bin("ckansync-producer"), db, h_brokers(), prefix);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, "would lose history"));
	assert_non_null(strstr(out, "retention.ms=604800000"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_concurrent_writers_exactly_n),
	    cmocka_unit_test(test_sigkill_loses_nothing),
	    cmocka_unit_test(test_private_not_published_by_default),
	    cmocka_unit_test(test_conflicts_and_objects_reach_their_topics),
	    cmocka_unit_test(test_refuses_topic_that_loses_history),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
