/* Reliability: a corpus of bad records sent straight to an origin's
 * revisions topic (one partition, so "around" is well defined), each one
 * between two valid records. The real ckansync-consumer must dead-letter
 * every bad record with a precise reason (or handle it as DESIGN.md §5
 * specifies: missing base, purged object, duplicate), keep going, and apply
 * every valid record; a second run changes nothing. Real broker and
 * PostgreSQL (script/services). */
#include "harness.h"
#include "codec.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_REC 96

typedef enum expect {
	EXPECT_GOOD,    /* a valid record: applied */
	EXPECT_DLQ,     /* dead-lettered, error header contains `reason` */
	EXPECT_HANDLED, /* no dead letter; checked by the test afterwards */
} expect;

typedef struct rec {
	const char *kind; /* what is wrong with it */
	expect exp;
	const char *reason; /* EXPECT_DLQ: substring of the error header */
	char key[64];
	int64_t offset; /* from the delivery report */
	int dlq_seen;   /* dead letters naming this offset */
	char dlq_error[512];
	char dlq_class[32];
	char omitted[24]; /* payload_omitted header (payload too large to carry) */
	size_t dlq_len;   /* payload bytes the dead letter carries */
} rec;

typedef struct env {
	char db[512];
	char prefix[64];
	char topic[256];
	rd_kafka_t *rk;
	cks_codec *codec;
	rec recs[MAX_REC];
	int nrec;
	int good; /* valid records sent (good-<n> packages) */
} env;

static int64_t T0 = 1700000000000000LL;

static void dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	env *e = opaque;
	int i = (int)(intptr_t)rkm->_private;
	if (rkm->err)
		fail_msg("record %d (%s) not delivered: %s", i, e->recs[i].kind,
		         rd_kafka_err2str(rkm->err));
	e->recs[i].offset = rkm->offset;
}

/* The origin's revisions topic: history kept, room for the 20 MB record
 * (the broker's default max.message.bytes is 1 MB). */
static void create_topic(env *e)
{
	char err[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(e->topic, 1, 1, err, sizeof(err));
	rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
	rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
	rd_kafka_NewTopic_set_config(nt, "max.message.bytes", "33554432");
	rd_kafka_queue_t *q = rd_kafka_queue_new(e->rk);
	rd_kafka_CreateTopics(e->rk, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	size_t n = 0;
	const rd_kafka_topic_result_t **tr =
	    ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n)
	       : NULL;
	if (!ev || rd_kafka_event_error(ev) || n != 1 || rd_kafka_topic_result_error(tr[0]))
		fail_msg("create topic %s failed", e->topic);
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
}

static void env_init(env *e)
{
	char err[512];
	memset(e, 0, sizeof(*e));
	h_fresh_db_into(e->db, sizeof(e->db));
	snprintf(e->prefix, sizeof(e->prefix), "%s", h_topic_prefix());
	snprintf(e->topic, sizeof(e->topic), "%s.X.revisions", e->prefix);
	cks_store *st = NULL;
	if (cks_store_open(e->db, &st, err, sizeof(err)) ||
	    cks_store_init(st, "B", err, sizeof(err)))
		fail_msg("init: %s", err);
	cks_store_close(st);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", h_brokers(), err, sizeof(err));
	rd_kafka_conf_set(conf, "message.max.bytes", "33554432", err, sizeof(err));
	rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
	rd_kafka_conf_set_dr_msg_cb(conf, dr);
	rd_kafka_conf_set_opaque(conf, e);
	e->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(e->rk);
	assert_int_equal(cks_codec_new(&e->codec, err, sizeof(err)), CKS_OK);
	create_topic(e);
}

static void env_release(env *e)
{
	rd_kafka_flush(e->rk, 30000);
	rd_kafka_destroy(e->rk);
	cks_codec_destroy(e->codec);
}

/* Sends one record to partition 0; key NULL = no key. */
static rec *send_raw(env *e, const char *kind, expect exp, const char *reason, const char *key,
                     const void *v, size_t n)
{
	assert_true(e->nrec < MAX_REC);
	int i = e->nrec++;
	rec *r = &e->recs[i];
	r->kind = kind;
	r->exp = exp;
	r->reason = reason;
	r->offset = -1;
	snprintf(r->key, sizeof(r->key), "%s", key ? key : "");
	assert_int_equal(rd_kafka_producev(e->rk, RD_KAFKA_V_TOPIC(e->topic),
	                                   RD_KAFKA_V_PARTITION(0),
	                                   RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
	                                   RD_KAFKA_V_VALUE((void *)v, n),
	                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                                   RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END),
	                 0);
	/* One at a time: keeps the offsets in send order. */
	assert_int_equal(rd_kafka_flush(e->rk, 60000), 0);
	return r;
}

static void id_of(int n, char prefix, cks_uuid_str out)
{
	snprintf(out, sizeof(cks_uuid_str), "%c0000000-0000-4000-8000-%012d", prefix, n);
}

/* A valid revision message of object `obj`, object revision `rev`, parents
 * p1/p2 (0 = none). Caller releases. */
static void make_rev(cks_revmsg *m, cks_revkind kind, int obj, int rev, int p1, int p2,
                     const char *state_json)
{
	*m = (cks_revmsg)CKS_REVMSG_INIT;
	id_of(rev, 'e', m->revision_id);
	m->origin = strdup("X");
	m->timestamp_us = T0 + rev;
	m->author = strdup("tester");
	m->message = strdup("crafted");
	m->kind = kind;
	m->object_type = CKS_OBJ_PACKAGE;
	id_of(obj, 'a', m->object_id);
	id_of(rev, 'b', m->objrev_id);
	if (p1)
		id_of(p1, 'b', m->parents[m->nparents++]);
	if (p2)
		id_of(p2, 'b', m->parents[m->nparents++]);
	if (state_json) {
		json_error_t je;
		m->state = json_loads(state_json, 0, &je);
		if (!m->state)
			fail_msg("bad test JSON: %s", je.text);
		json_object_set_new(m->state, "id", json_string(m->object_id));
	}
}

static void encode(env *e, const cks_revmsg *m, cks_buf *b)
{
	char err[512];
	cks_buf_reset(b);
	if (cks_codec_encode_revision(e->codec, m, b, err, sizeof(err)))
		fail_msg("encode: %s", err);
}

static void send_rev(env *e, const char *kind, expect exp, const char *reason, const cks_revmsg *m)
{
	cks_buf b = CKS_BUF_INIT;
	encode(e, m, &b);
	send_raw(e, kind, exp, reason, m->object_id, b.data, b.len);
	cks_buf_release(&b);
}

/* A valid record between the bad ones: package good-<n>. */
static void send_good(env *e)
{
	char s[128];
	cks_revmsg m;
	int n = e->good++;
	snprintf(s, sizeof(s), "{\"name\":\"good-%d\",\"title\":\"valid record %d\"}", n, n);
	make_rev(&m, CKS_REV_EDIT, 1000 + n, 1000 + n, 0, 0, s);
	send_rev(e, "valid", EXPECT_GOOD, NULL, &m);
	cks_revmsg_release(&m);
}

/* Offset of the first occurrence of `what` in b (fails the test if absent). */
static size_t find(const cks_buf *b, const char *what, size_t n)
{
	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, what, n) == 0)
			return i;
	fail_msg("'%.*s' not found in the encoding", (int)n, what);
	return 0;
}

/* Replaces the first occurrence of `what` in b by `with` (same length). */
static void patch(cks_buf *b, const char *what, const char *with, size_t n)
{
	memcpy(b->data + find(b, what, n), with, n);
}

/* Avro long (zigzag varint) appended to b. */
static void put_long(cks_buf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	do {
		unsigned char c = z & 0x7f;
		z >>= 7;
		if (z)
			c |= 0x80;
		cks_buf_append(b, &c, 1);
	} while (z);
}

static void put_header(cks_buf *b, uint64_t fp)
{
	unsigned char h[10] = {0xC3, 0x01};
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)(fp >> (8 * i));
	cks_buf_append(b, h, sizeof(h));
}

static void send_corpus(env *e)
{
	cks_buf b = CKS_BUF_INIT;
	cks_revmsg m;
	char err[512], key[64];
	uint64_t fp_rev = cks_codec_fingerprint(e->codec, CKS_MSG_REVISION);
	uint64_t fp_conf = cks_codec_fingerprint(e->codec, CKS_MSG_CONFLICT);
	id_of(1, 'a', key);

	send_good(e);
	/* 1. random bytes */
	unsigned char rnd[1024];
	srand(42);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (unsigned char)rand();
	send_raw(e, "random bytes", EXPECT_DLQ, "bad magic", key, rnd, sizeof(rnd));
	send_good(e);
	/* 2. random bytes after a valid header */
	cks_buf_reset(&b);
	put_header(&b, fp_rev);
	cks_buf_append(&b, rnd, sizeof(rnd));
	send_raw(e, "random datum", EXPECT_DLQ, "", key, b.data, b.len);
	send_good(e);
	/* 3. truncated record */
	make_rev(&m, CKS_REV_EDIT, 1, 1, 0, 0, "{\"name\":\"trunc\",\"title\":\"cut short\"}");
	encode(e, &m, &b);
	send_raw(e, "truncated", EXPECT_DLQ, "truncated", m.object_id, b.data, b.len / 2);
	cks_revmsg_release(&m);
	send_good(e);
	/* 4. wrong magic */
	make_rev(&m, CKS_REV_EDIT, 1, 1, 0, 0, "{\"name\":\"magic\"}");
	encode(e, &m, &b);
	b.data[1] = 0x02;
	send_raw(e, "wrong magic", EXPECT_DLQ, "bad magic 0xc3 0x02", m.object_id, b.data, b.len);
	/* 5. unknown fingerprint */
	b.data[1] = 0x01;
	b.data[5] ^= 0x5a;
	send_raw(e, "unknown fingerprint", EXPECT_DLQ, "unknown writer schema fingerprint",
	         m.object_id, b.data, b.len);
	cks_revmsg_release(&m);
	send_good(e);
	/* 6. negative length (the first string's length is -1) */
	cks_buf_reset(&b);
	put_header(&b, fp_rev);
	put_long(&b, -1);
	cks_buf_append(&b, "xxxxxxxx", 8);
	send_raw(e, "negative length", EXPECT_DLQ, "negative length", key, b.data, b.len);
	/* 7. huge length (2^40 bytes announced) */
	cks_buf_reset(&b);
	put_header(&b, fp_rev);
	put_long(&b, (int64_t)1 << 40);
	cks_buf_append(&b, "xxxxxxxx", 8);
	send_raw(e, "huge length", EXPECT_DLQ, "exceeds", key, b.data, b.len);
	/* 8. huge array count: 2^40 parents announced */
	make_rev(&m, CKS_REV_EDIT, 1, 1, 0, 0, "{\"name\":\"huge-array\"}");
	encode(e, &m, &b);
	size_t at = find(&b, m.objrev_id, 36) + 36;
	assert_int_equal(b.data[at], 0); /* the empty parents array */
	cks_buf c = CKS_BUF_INIT;
	cks_buf_append(&c, b.data, at);
	put_long(&c, (int64_t)1 << 40);
	cks_buf_append(&c, b.data + at + 1, b.len - at - 1);
	send_raw(e, "huge array count", EXPECT_DLQ, "items announced", m.object_id, c.data, c.len);
	cks_buf_release(&c);
	cks_revmsg_release(&m);
	send_good(e);
	/* 9. invalid UTF-8 in the author */
	make_rev(&m, CKS_REV_EDIT, 2, 2, 0, 0, "{\"name\":\"utf\"}");
	free(m.author);
	m.author = strdup("AUTHOR-PLACEHOLDER");
	encode(e, &m, &b);
	patch(&b, "AUTHOR-PLACEHOLDER", "AUTHOR-\xff\xfe\xc0\xafHOLDER", 18);
	send_raw(e, "invalid UTF-8", EXPECT_DLQ, "invalid UTF-8", m.object_id, b.data, b.len);
	cks_revmsg_release(&m);
	send_good(e);
	/* 10. invalid UUIDs: revision id, then a parent */
	make_rev(&m, CKS_REV_EDIT, 3, 3, 0, 0, "{\"name\":\"uuid\"}");
	encode(e, &m, &b);
	patch(&b, "e0000000-0000", "zz000000-00g0", 13);
	send_raw(e, "invalid revision UUID", EXPECT_DLQ, "revision_id: not a UUID", m.object_id,
	         b.data, b.len);
	cks_revmsg_release(&m);
	make_rev(&m, CKS_REV_EDIT, 3, 4, 9, 0, "{\"name\":\"uuid\"}");
	encode(e, &m, &b);
	patch(&b, "b0000000-0000-4000-8000-000000000009", "b0000000-0000-4000-8000-00000000000'",
	      36);
	send_raw(e, "invalid parent UUID", EXPECT_DLQ, "not a UUID", m.object_id, b.data, b.len);
	cks_revmsg_release(&m);
	send_good(e);
	/* 11. a merge with three parents (written through the generic encoder,
	 * as another implementation could) */
	make_rev(&m, CKS_REV_MERGE, 4, 5, 6, 7, "{\"name\":\"three-parents\"}");
	encode(e, &m, &b);
	json_t *g = NULL;
	assert_int_equal(
	    cks_codec_decode_generic(e->codec, b.data, b.len, NULL, &g, err, sizeof(err)), CKS_OK);
	json_array_append_new(json_object_get(g, "parents"),
	                      json_string("b0000000-0000-4000-8000-000000000008"));
	cks_buf_reset(&b);
	assert_int_equal(cks_codec_encode_generic(e->codec, fp_rev, g, &b, err, sizeof(err)),
	                 CKS_OK);
	json_decref(g);
	send_raw(e, "merge with three parents", EXPECT_DLQ, "parents: 3 > 2", m.object_id, b.data,
	         b.len);
	cks_revmsg_release(&m);
	send_good(e);
	/* 12. wrong field types: a revision datum under the conflict schema's
	 * fingerprint, then a CKAN dict whose fields have the wrong JSON types */
	make_rev(&m, CKS_REV_EDIT, 5, 9, 0, 0, "{\"name\":\"wrong-schema\"}");
	encode(e, &m, &b);
	for (int i = 0; i < 8; i++)
		b.data[2 + i] = (char)(fp_conf >> (8 * i));
	send_raw(e, "revision under the conflict schema", EXPECT_DLQ, "out of range", m.object_id,
	         b.data, b.len);
	cks_revmsg_release(&m);
	make_rev(
	    &m, CKS_REV_EDIT, 5, 10, 0, 0,
	    "{\"name\":\"wrong-types\",\"title\":42,\"tags\":\"not a list\",\"private\":\"no\"}");
	cks_buf_reset(&b);
	if (cks_codec_encode_revision(e->codec, &m, &b, err, sizeof(err)) == CKS_OK)
		send_raw(e, "wrong CKAN field types", EXPECT_DLQ, "", m.object_id, b.data, b.len);
	cks_revmsg_release(&m);
	send_good(e);
	/* 13. empty message, and a null value (a tombstone) */
	send_raw(e, "empty message", EXPECT_DLQ, "too short", key, "", 0);
	send_raw(e, "null value", EXPECT_DLQ, "too short", key, NULL, 0);
	send_good(e);
	/* 14. key disagrees with the value; no key at all */
	make_rev(&m, CKS_REV_EDIT, 6, 11, 0, 0, "{\"name\":\"wrong-key\"}");
	encode(e, &m, &b);
	send_raw(e, "key disagrees with value", EXPECT_DLQ, "disagrees with object_id",
	         "a0000000-0000-4000-8000-000000000099", b.data, b.len);
	send_raw(e, "no key", EXPECT_DLQ, "disagrees with object_id", NULL, b.data, b.len);
	cks_revmsg_release(&m);
	send_good(e);
	/* 15. shapes the codec accepts but the apply rules refuse */
	make_rev(&m, CKS_REV_PURGE, 7, 12, 0, 0, "{\"name\":\"purge-with-state\"}");
	send_rev(e, "purge with a state", EXPECT_DLQ, "purge revision with a state", &m);
	cks_revmsg_release(&m);
	make_rev(&m, CKS_REV_EDIT, 7, 13, 13, 0, "{\"name\":\"own-parent\"}");
	send_rev(e, "its own parent", EXPECT_DLQ, "is its own parent", &m);
	cks_revmsg_release(&m);
	make_rev(&m, CKS_REV_EDIT, 7, 14, 0, 0, "{\"name\":\"BAD NAME\"}");
	send_rev(e, "invalid CKAN name", EXPECT_DLQ, "name", &m);
	cks_revmsg_release(&m);
	make_rev(&m, CKS_REV_EDIT, 7, 15, 0, 0, "{\"name\":\"no-state\"}");
	json_decref(m.state);
	m.state = NULL;
	send_rev(e, "edit without a state", EXPECT_DLQ, "without a state", &m);
	cks_revmsg_release(&m);
	send_good(e);
	/* 16. parents that exist nowhere: an edit (missing base: full state and a
	 * conflict, as specified) and a merge of two unknown heads */
	make_rev(&m, CKS_REV_EDIT, 8, 16, 900, 0,
	         "{\"name\":\"orphan-edit\",\"title\":\"orphan\"}");
	send_rev(e, "edit whose parent exists nowhere", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	make_rev(&m, CKS_REV_MERGE, 9, 17, 901, 902, "{\"name\":\"orphan-merge\"}");
	send_rev(e, "merge whose parents exist nowhere", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	send_good(e);
	/* 17. a record for a purged object: create, purge at the origin, then a
	 * late edit (skipped, object stays purged) */
	make_rev(&m, CKS_REV_EDIT, 10, 18, 0, 0, "{\"name\":\"doomed\",\"title\":\"t\"}");
	send_rev(e, "valid", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	make_rev(&m, CKS_REV_PURGE, 10, 19, 0, 0, NULL);
	send_rev(e, "valid purge", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	make_rev(&m, CKS_REV_EDIT, 10, 20, 18, 0,
	         "{\"name\":\"doomed\",\"title\":\"resurrected\"}");
	send_rev(e, "edit of a purged object", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	send_good(e);
	/* 18. a duplicate of an applied revision with different content: the
	 * first one stays (object revisions are immutable) */
	make_rev(&m, CKS_REV_EDIT, 11, 21, 0, 0, "{\"name\":\"immutable\",\"title\":\"first\"}");
	send_rev(e, "valid", EXPECT_HANDLED, NULL, &m);
	json_object_set_new(m.state, "title", json_string("tampered"));
	send_rev(e, "duplicate with different content", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	send_good(e);
	/* 19. hostile text in a valid record: stored as data, never run */
	make_rev(&m, CKS_REV_EDIT, 12, 22, 0, 0,
	         "{\"name\":\"hostile\",\"title\":\"'); DROP TABLE ckansync.revision; --\","
	         "\"notes\":\"$(touch /tmp/cks-pwned) `touch /tmp/cks-pwned` \\\\' \\\" %s %n\","
	         "\"url\":\"file:///etc/passwd\"}");
	send_rev(e, "hostile text", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	send_good(e);
	/* 20. 20 MB: a valid record with 20 MB of notes (applied), then 20 MB of
	 * garbage (dead-lettered) */
	size_t big = 20u << 20;
	char *notes = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		notes[i] = (char)('a' + i % 26);
	notes[big] = 0;
	make_rev(&m, CKS_REV_EDIT, 13, 23, 0, 0, "{\"name\":\"twenty-megabytes\"}");
	json_object_set_new(m.state, "notes", json_string(notes));
	send_rev(e, "valid 20 MB record", EXPECT_HANDLED, NULL, &m);
	cks_revmsg_release(&m);
	cks_buf_reset(&b);
	put_header(&b, fp_rev);
	cks_buf_append(&b, notes, big);
	free(notes);
	send_raw(e, "20 MB of garbage", EXPECT_DLQ, "negative length", key, b.data, b.len);
	send_good(e);
	cks_buf_release(&b);
}

static int consume(const env *e, char **out)
{
	return h_run(
	    out,
	    "timeout 300 %s --db '%s' --brokers %s --topic-prefix %s --origin X --until-idle "
	    "--partitions 1 2>&1",
	    h_bin("ckansync-consumer"), e->db, h_brokers(), e->prefix);
}

static void collect_dlq(const rd_kafka_message_t *rkm, void *opaque)
{
	env *e = opaque;
	rd_kafka_headers_t *h = NULL;
	const void *v;
	size_t vs;
	int64_t off = -1;
	char buf[64];
	if (rd_kafka_message_headers(rkm, &h))
		fail_msg("dead letter without headers");
	if (rd_kafka_header_get_last(h, "source_offset", &v, &vs) == 0) {
		snprintf(buf, sizeof(buf), "%.*s", (int)vs, (const char *)v);
		off = strtoll(buf, NULL, 10);
	}
	for (int i = 0; i < e->nrec; i++) {
		rec *r = &e->recs[i];
		if (r->offset != off)
			continue;
		r->dlq_seen++;
		if (rd_kafka_header_get_last(h, "error", &v, &vs) == 0)
			snprintf(r->dlq_error, sizeof(r->dlq_error), "%.*s", (int)vs,
			         (const char *)v);
		if (rd_kafka_header_get_last(h, "error_class", &v, &vs) == 0)
			snprintf(r->dlq_class, sizeof(r->dlq_class), "%.*s", (int)vs,
			         (const char *)v);
		if (rd_kafka_header_get_last(h, "payload_omitted", &v, &vs) == 0)
			snprintf(r->omitted, sizeof(r->omitted), "%.*s", (int)vs, (const char *)v);
		r->dlq_len = rkm->len;
		return;
	}
	fail_msg("dead letter for offset %" PRId64 " that was never sent", off);
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

static void assert_field(cks_store *st, const char *obj, const char *key, const char *want)
{
	char *v = field(st, obj, key);
	if (!v || strcmp(v, want) != 0)
		fail_msg("%s.%s: want %s, got %.200s", obj, key, want, v ? v : "(absent)");
	free(v);
}

/* The conflicts recorded for the object named `name`: "kind/resolution"
 * lines in id order (caller frees). */
static char *conflicts_of(cks_store *st, const char *name)
{
	const char *p[1] = {name};
	PGresult *res =
	    PQexecParams(cks_store_conn(st),
	                 "SELECT coalesce(string_agg(kind || '/' || resolution, ',' "
	                 "ORDER BY id), '') FROM ckansync.conflict WHERE object_name = $1",
	                 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("conflicts of %s: %s", name, PQerrorMessage(cks_store_conn(st)));
	char *v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void assert_conflicts(cks_store *st, const char *name, const char *want)
{
	char *v = conflicts_of(st, name);
	if (strcmp(v, want) != 0)
		fail_msg("conflicts of %s: want [%s], got [%s]", name, want, v);
	free(v);
}

static void test_bad_records(void **state)
{
	if (!h_services_available())
		skip();
	env *e = calloc(1, sizeof(*e));
	char *out = NULL, err[512], d1[65], d2[65], dlq_topic[256];
	env_init(e);
	send_corpus(e);
	int rc = consume(e, &out);
	if (rc != 0)
		fail_msg("consumer exited %d:\n%s", rc, out);
	snprintf(dlq_topic, sizeof(dlq_topic), "%s.deadletter", e->prefix);
	h_consume_all(dlq_topic, collect_dlq, e);

	int kinds = 0, failed = 0;
	for (int i = 0; i < e->nrec; i++) {
		rec *r = &e->recs[i];
		bool ok;
		if (r->exp == EXPECT_DLQ) {
			kinds++;
			ok = r->dlq_seen == 1 && strstr(r->dlq_error, r->reason) &&
			     strlen(r->dlq_error) > 10;
		} else {
			ok = r->dlq_seen == 0;
		}
		printf("%-4s @%-3" PRId64 " %-36s %s%s%s\n", ok ? "ok" : "FAIL", r->offset, r->kind,
		       r->dlq_seen ? r->dlq_class : "", r->dlq_seen ? ": " : "",
		       r->dlq_seen ? r->dlq_error : "");
		failed += !ok;
	}
	if (failed)
		fail_msg("%d record(s) not handled as expected; consumer output:\n%s", failed, out);
	free(out);
	assert_true(kinds >= 15);
	/* Dead letters carry the payload, except one too large for a dead-letter
	 * topic (it stays in the source topic, at source_offset). */
	for (int i = 0; i < e->nrec; i++) {
		rec *r = &e->recs[i];
		if (!r->dlq_seen)
			continue;
		if (strcmp(r->kind, "20 MB of garbage") == 0) {
			assert_string_equal(r->omitted, "20971530");
			assert_int_equal(r->dlq_len, 0);
		} else {
			assert_string_equal(r->omitted, "");
		}
	}
	assert_int_equal(e->recs[1].dlq_len, 1024); /* the random bytes, kept */

	cks_store *st = open_db(e->db);
	char name[32];
	for (int n = 0; n < e->good; n++) {
		snprintf(name, sizeof(name), "good-%d", n);
		char want[64];
		snprintf(want, sizeof(want), "\"valid record %d\"", n);
		assert_field(st, name, "title", want);
	}
	/* As specified: missing base applied with its full state + a conflict. */
	assert_field(st, "orphan-edit", "title", "\"orphan\"");
	assert_field(st, "orphan-merge", "name", "\"orphan-merge\"");
	assert_conflicts(st, "orphan-edit", "missing-base/applied-full-state");
	assert_conflicts(st, "orphan-merge", "missing-base/applied-full-state");
	/* Dead-lettered, skipped or immutable: no conflict recorded for them. */
	assert_conflicts(st, "doomed", "");
	assert_conflicts(st, "immutable", "");
	/* Purged at the origin: the late edit does not bring it back. */
	char *v = field(st, "doomed", "title");
	assert_null(v);
	/* Immutable: the first content stays. */
	assert_field(st, "immutable", "title", "\"first\"");
	/* Hostile text stored as data, nothing run. */
	assert_field(st, "hostile", "title", "\"'); DROP TABLE ckansync.revision; --\"");
	struct stat sb;
	assert_int_not_equal(stat("/tmp/cks-pwned", &sb), 0);
	/* The 20 MB record, exactly. */
	v = field(st, "twenty-megabytes", "notes");
	assert_non_null(v);
	assert_int_equal(strlen(v), (20u << 20) + 2);
	free(v);
	assert_int_equal(cks_store_digest(st, true, d1, err, sizeof(err)), CKS_OK);
	cks_store_close(st);

	/* A second run re-reads nothing and changes nothing. */
	rc = consume(e, &out);
	if (rc != 0)
		fail_msg("second consumer run exited %d:\n%s", rc, out);
	free(out);
	for (int i = 0; i < e->nrec; i++)
		e->recs[i].dlq_seen = 0;
	h_consume_all(dlq_topic, collect_dlq, e);
	for (int i = 0; i < e->nrec; i++)
		assert_int_equal(e->recs[i].dlq_seen, e->recs[i].exp == EXPECT_DLQ);
	st = open_db(e->db);
	assert_int_equal(cks_store_digest(st, true, d2, err, sizeof(err)), CKS_OK);
	assert_string_equal(d1, d2);
	cks_store_close(st);
	env_release(e);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
