/* Unit tests for common/codec: round trips of every message type and of every
 * real CKAN dataset in ../shared/data, schema evolution (newer and older
 * writers), and a table of malformed inputs with their error class and
 * message. */
#include "harness.h"
#include "codec.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U1 "6fb6dd5c-5886-4d2b-8d73-c8f2eacfc851"
#define U2 "70eca0ce-5714-4441-9c35-6ca802c31830"
#define U3 "e9a82645-dcc2-4de8-a83a-f1bad87c40f6"
#define U4 "1157e2a8-ed76-4c9c-aa49-a0c430438de4"

static int setup(void **state)
{
	char err[256];
	cks_codec *codec = NULL;
	assert_int_equal(cks_codec_new(&codec, err, sizeof(err)), CKS_OK);
	*state = codec;
	return 0;
}

static int teardown(void **state)
{
	cks_codec_destroy(*state);
	return 0;
}

/* A revision message with every field set; the state exercises the corner
 * cases of the typed record: JSON null vs absent keys, unexpected types,
 * unicode, numbers, nested lists, NUL in strings. */
static void sample_revision(cks_revmsg *m, const char *state_json, int nparents)
{
	json_error_t jerr;
	strcpy(m->revision_id, U1);
	m->origin = cks_strdup("A");
	m->timestamp_us = 1445870113330636LL;
	m->author = cks_strdup("alice \xe9\x80\xa2");
	m->message = cks_strdup("edit");
	m->kind = nparents == 2 ? CKS_REV_MERGE : CKS_REV_EDIT;
	m->object_type = CKS_OBJ_PACKAGE;
	strcpy(m->object_id, U2);
	strcpy(m->objrev_id, U3);
	m->nparents = (size_t)nparents;
	if (nparents > 0)
		strcpy(m->parents[0], U4);
	if (nparents > 1)
		strcpy(m->parents[1], U1);
	m->diff = json_loads("[{\"op\":\"change\",\"path\":[\"title\"],\"old\":\"a\",\"new\":null},"
	                     "{\"op\":\"add\",\"path\":[\"tags\",\"x\"],\"new\":{\"name\":\"x\"}},"
	                     "{\"op\":\"remove\",\"path\":[\"extras\",\"k\"],\"old\":[1,2.5]}]",
	                     0, &jerr);
	assert_non_null(m->diff);
	m->state = state_json ? json_loads(state_json, JSON_ALLOW_NUL, &jerr) : NULL;
	if (state_json && !m->state)
		fail_msg("bad test JSON: %s", jerr.text);
}

static void assert_revmsg_equal(const cks_revmsg *a, const cks_revmsg *b)
{
	assert_string_equal(a->revision_id, b->revision_id);
	assert_string_equal(a->origin, b->origin);
	assert_int_equal(a->timestamp_us, b->timestamp_us);
	assert_string_equal(a->author, b->author);
	assert_string_equal(a->message, b->message);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->object_type, b->object_type);
	assert_string_equal(a->object_id, b->object_id);
	assert_string_equal(a->objrev_id, b->objrev_id);
	assert_int_equal(a->nparents, b->nparents);
	for (size_t i = 0; i < a->nparents; i++)
		assert_string_equal(a->parents[i], b->parents[i]);
	assert_int_equal(a->diff == NULL, b->diff == NULL);
	if (a->diff)
		assert_true(json_equal(a->diff, b->diff));
	assert_int_equal(a->state == NULL, b->state == NULL);
	if (a->state && !json_equal(a->state, b->state)) {
		char *x = json_dumps(a->state, JSON_SORT_KEYS),
		     *y = json_dumps(b->state, JSON_SORT_KEYS);
		fail_msg("state differs:\n%s\n%s", x, y);
	}
}

/* Encodes m, decodes it back and compares. Returns the encoded size. */
static size_t roundtrip(cks_codec *codec, const cks_revmsg *m)
{
	char err[256] = "";
	cks_buf buf = CKS_BUF_INIT;
	cks_revmsg back = CKS_REVMSG_INIT;
	if (cks_codec_encode_revision(codec, m, &buf, err, sizeof(err)) != CKS_OK)
		fail_msg("encode: %s", err);
	if (cks_codec_decode_revision(codec, buf.data, buf.len, &back, err, sizeof(err)) != CKS_OK)
		fail_msg("decode: %s", err);
	assert_revmsg_equal(m, &back);
	size_t n = buf.len;
	cks_revmsg_release(&back);
	cks_buf_release(&buf);
	return n;
}

static void test_roundtrip_revision(void **state)
{
	static const char *states[] = {
	    NULL,
	    "{}",
	    "{\"name\":\"pkg-1\",\"title\":\"T\xc3\xa9\",\"notes\":null,\"private\":true,"
	    "\"tags\":[{\"name\":\"a\",\"vocabulary_id\":null,\"weight\":3}],"
	    "\"extras\":[{\"key\":\"k\",\"value\":\"v\"}],"
	    "\"groups\":[{\"id\":\"" U1 "\",\"name\":\"g\"}],"
	    "\"organization\":{\"name\":\"o\",\"n\":[1,[2,{}]]},"
	    "\"resources\":[{\"id\":\"" U3 "\",\"url\":null,\"size\":1944522,\"x\":1.5e300}],"
	    "\"x_min\":\"120.5\",\"data_type\":[\"archive\",\"doc\"],\"n\":-0.0,\"big\":"
	    "9007199254740993}",
	    /* known keys with unexpected JSON types go to extra */
	    "{\"title\":42,\"private\":\"yes\",\"tags\":\"a,b\",\"extras\":{\"k\":\"v\"},"
	    "\"resources\":[1,2],\"groups\":null,\"organization\":null,\"name\":[\"x\"]}",
	    /* extras items that are not exactly {key, value} strings */
	    "{\"extras\":[{\"key\":\"k\",\"value\":1}],\"tags\":[{\"name\":null}]}",
	    "{\"title\":\"nul\\u0000inside\",\"k\":\"\\u0000\",\"\":\"empty key\"}",
	};
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		for (int np = 0; np <= 2; np++) {
			cks_revmsg m = CKS_REVMSG_INIT;
			sample_revision(&m, states[i], np);
			roundtrip(*state, &m);
			json_decref(m.diff);
			m.diff = NULL;
			roundtrip(*state, &m);
			cks_revmsg_release(&m);
		}
	}
}

static void test_roundtrip_conflict(void **state)
{
	char err[256];
	cks_conflict c = {.detected_us = 1700000000000001LL, .object_type = CKS_OBJ_GROUP};
	cks_conflict back = {0};
	cks_buf buf = CKS_BUF_INIT;
	strcpy(c.id, U1);
	strcpy(c.object_id, U2);
	strcpy(c.local_objrev, U3);
	strcpy(c.remote_objrev, U4);
	c.detected_at = "B";
	c.kind = "field";
	c.object_name = "grp";
	c.remote_origin = "A";
	c.field_path = "resources." U3 ".url";
	c.local_value = "\"http://a\"";
	c.remote_value = "null";
	c.resolution = "origin-priority";
	c.chosen_value = NULL;
	assert_int_equal(cks_codec_encode_conflict(*state, &c, &buf, err, sizeof(err)), CKS_OK);
	assert_int_equal(
	    cks_codec_decode_conflict(*state, buf.data, buf.len, &back, err, sizeof(err)), CKS_OK);
	assert_string_equal(back.id, U1);
	assert_string_equal(back.object_id, U2);
	assert_string_equal(back.base_objrev, "");
	assert_string_equal(back.local_objrev, U3);
	assert_string_equal(back.remote_objrev, U4);
	assert_string_equal(back.merge_revision, "");
	assert_int_equal(back.detected_us, c.detected_us);
	assert_int_equal(back.object_type, CKS_OBJ_GROUP);
	assert_string_equal(back.detected_at, "B");
	assert_string_equal(back.kind, "field");
	assert_string_equal(back.object_name, "grp");
	assert_string_equal(back.remote_origin, "A");
	assert_string_equal(back.field_path, c.field_path);
	assert_string_equal(back.local_value, c.local_value);
	assert_string_equal(back.remote_value, "null");
	assert_null(back.chosen_value);
	assert_string_equal(back.resolution, "origin-priority");
	cks_conflict_release(&back);
	/* a conflict is not a revision */
	cks_revmsg m = CKS_REVMSG_INIT;
	assert_int_equal(cks_codec_decode_revision(*state, buf.data, buf.len, &m, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "is a conflict schema"));
	cks_revmsg_release(&m);
	cks_buf_release(&buf);
	/* bad UUIDs are refused on the way out */
	strcpy(c.base_objrev, "nope");
	assert_int_equal(cks_codec_encode_conflict(*state, &c, &buf, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "base_objrev: not a UUID"));
	cks_buf_release(&buf);
}

static void test_roundtrip_object(void **state)
{
	char err[256];
	const char *states[] = {"{\"name\":\"alice\",\"sysadmin\":false,\"n\":[1,null]}", NULL};
	for (size_t i = 0; i < 2; i++) {
		json_error_t jerr;
		cks_objmsg o = {.type = "user", .id = "u-1", .origin = "A", .updated_us = 42};
		cks_objmsg back = {0};
		cks_buf buf = CKS_BUF_INIT;
		o.state = states[i] ? json_loads(states[i], 0, &jerr) : NULL;
		assert_int_equal(cks_codec_encode_object(*state, &o, &buf, err, sizeof(err)),
		                 CKS_OK);
		assert_int_equal(
		    cks_codec_decode_object(*state, buf.data, buf.len, &back, err, sizeof(err)),
		    CKS_OK);
		assert_string_equal(back.type, "user");
		assert_string_equal(back.id, "u-1");
		assert_string_equal(back.origin, "A");
		assert_int_equal(back.updated_us, 42);
		assert_int_equal(back.state == NULL, o.state == NULL);
		if (o.state)
			assert_true(json_equal(o.state, back.state));
		json_decref(o.state);
		cks_objmsg_release(&back);
		cks_buf_release(&buf);
	}
}

/* Round trip of one package dict as the state of a revision. */
static size_t roundtrip_dict(cks_codec *codec, json_t *dict)
{
	cks_revmsg m = CKS_REVMSG_INIT;
	sample_revision(&m, NULL, 1);
	m.state = dict;
	size_t n = roundtrip(codec, &m);
	m.state = NULL;
	cks_revmsg_release(&m);
	return n;
}

static void test_depositar_datasets(void **state)
{
	const char *path = h_data_path("depositar-datasets.jsonl.gz");
	if (!path) {
		print_message("skipped: depositar-datasets.jsonl.gz is absent\n");
		skip();
	}
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0, n = 0, bytes = 0, wire = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		json_error_t jerr;
		json_t *dict = json_loadb(line, (size_t)len, 0, &jerr);
		if (!dict)
			fail_msg("line %zu: %s", n + 1, jerr.text);
		wire += roundtrip_dict(*state, dict);
		json_decref(dict);
		bytes += (size_t)len;
		n++;
	}
	free(line);
	assert_int_equal(pclose(f), 0);
	assert_int_equal(n, 1500);
	print_message("%zu datasets round-tripped (%zu JSON bytes, %zu Avro bytes)\n", n, bytes,
	              wire);
}

static void test_backup_datasets(void **state)
{
	const char *dir = h_data_path("ckan-api-v2-backup");
	if (!dir) {
		print_message("skipped: ckan-api-v2-backup is absent\n");
		skip();
	}
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "dataset.", 8) != 0 && strcmp(e->d_name, "group.json") != 0)
			continue;
		char p[1024];
		json_error_t jerr;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		json_t *dict = json_load_file(p, 0, &jerr);
		if (!dict)
			fail_msg("%s: %s", p, jerr.text);
		if (json_is_object(dict)) {
			roundtrip_dict(*state, dict);
			n++;
		}
		json_decref(dict);
	}
	closedir(d);
	assert_true(n >= 6);
}

/* ---- schema evolution ---------------------------------------------------- */

/* The current revision schema as JSON, with field `name` of the top record
 * removed (if remove) and a field `add` appended. Caller decrefs. */
static char *variant_schema(const char *remove, json_t *add)
{
	json_error_t jerr;
	const char *cur = cks_embedded_get("schemas/revision.avsc", NULL);
	json_t *s = json_loads(cur, 0, &jerr);
	json_t *fields = json_object_get(s, "fields");
	for (size_t i = 0; remove && i < json_array_size(fields); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(fields, i), "name")),
		           remove) == 0)
			json_array_remove(fields, i);
	if (add)
		json_array_append_new(fields, add);
	char *txt = json_dumps(s, 0);
	json_decref(s);
	return txt;
}

/* Encodes m generically with the writer schema fp, adding field extra_key. */
static void encode_as(cks_codec *codec, const cks_revmsg *m, uint64_t fp, const char *extra_key,
                      json_t *extra_val, cks_buf *out)
{
	char err[256];
	cks_buf cur = CKS_BUF_INIT;
	json_t *g = NULL;
	assert_int_equal(cks_codec_encode_revision(codec, m, &cur, err, sizeof(err)), CKS_OK);
	assert_int_equal(
	    cks_codec_decode_generic(codec, cur.data, cur.len, NULL, &g, err, sizeof(err)), CKS_OK);
	if (extra_key)
		json_object_set_new(g, extra_key, extra_val);
	if (cks_codec_encode_generic(codec, fp, g, out, err, sizeof(err)) != CKS_OK)
		fail_msg("encode_generic: %s", err);
	json_decref(g);
	cks_buf_release(&cur);
}

static void test_evolution(void **state)
{
	cks_codec *codec = *state;
	char err[256];
	uint64_t fp_v2, fp_old;
	cks_revmsg m = CKS_REVMSG_INIT, back = CKS_REVMSG_INIT;
	cks_buf buf = CKS_BUF_INIT;
	sample_revision(&m, "{\"name\":\"p\",\"title\":null,\"x\":[1]}", 1);

	/* 1. A newer writer: an added field with a default. The reader ignores it. */
	char *v2 = variant_schema(
	    NULL, json_pack("{sss[ss]sn}", "name", "priority", "type", "null", "long", "default"));
	assert_int_equal(
	    cks_codec_add_schema(codec, CKS_MSG_REVISION, v2, &fp_v2, err, sizeof(err)), CKS_OK);
	assert_true(fp_v2 != cks_codec_fingerprint(codec, CKS_MSG_REVISION));
	encode_as(codec, &m, fp_v2, "priority", json_integer(7), &buf);
	assert_int_equal(
	    cks_codec_decode_revision(codec, buf.data, buf.len, &back, err, sizeof(err)), CKS_OK);
	assert_revmsg_equal(&m, &back);
	cks_revmsg_release(&back);
	cks_buf_release(&buf);

	/* 2. An older writer without `diff`: the reader's default (null) applies. */
	char *old = variant_schema("diff", NULL);
	assert_int_equal(
	    cks_codec_add_schema(codec, CKS_MSG_REVISION, old, &fp_old, err, sizeof(err)), CKS_OK);
	encode_as(codec, &m, fp_old, NULL, NULL, &buf);
	assert_int_equal(
	    cks_codec_decode_revision(codec, buf.data, buf.len, &back, err, sizeof(err)), CKS_OK);
	assert_null(back.diff);
	assert_true(json_equal(m.state, back.state));
	assert_string_equal(back.objrev_id, m.objrev_id);
	cks_revmsg_release(&back);
	cks_buf_release(&buf);

	/* 3. An older writer without a field that has no default in the reader. */
	char *bad = variant_schema("origin", NULL);
	uint64_t fp_bad;
	assert_int_equal(
	    cks_codec_add_schema(codec, CKS_MSG_REVISION, bad, &fp_bad, err, sizeof(err)), CKS_OK);
	encode_as(codec, &m, fp_bad, NULL, NULL, &buf);
	assert_int_equal(
	    cks_codec_decode_revision(codec, buf.data, buf.len, &back, err, sizeof(err)),
	    CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "origin: not in the writer schema and no default"));
	cks_revmsg_release(&back);
	cks_buf_release(&buf);

	/* 4. Every released schema is known by its fingerprint. */
	/*    The current schema of each type is one of them: whoever changes
	 *    schemas/<name>.avsc must add schemas/history/<name>.v<N+1>.avsc. */
	const struct cks_embedded *e;
	size_t nhist = 0;
	bool current_released[3] = {false, false, false};
	for (e = cks_embedded_files; e->path; e++) {
		if (strncmp(e->path, "schemas/history/", 16) != 0)
			continue;
		uint64_t fp;
		cks_msgtype t = strncmp(e->path + 16, "revision", 8) == 0   ? CKS_MSG_REVISION
		                : strncmp(e->path + 16, "conflict", 8) == 0 ? CKS_MSG_CONFLICT
		                                                            : CKS_MSG_OBJECT;
		assert_int_equal(cks_codec_add_schema(codec, t, e->data, &fp, err, sizeof(err)),
		                 CKS_OK);
		if (fp == cks_codec_fingerprint(codec, t))
			current_released[t] = true;
		nhist++;
	}
	assert_true(nhist >= 3);
	for (int t = 0; t < 3; t++)
		if (!current_released[t])
			fail_msg("schemas/%s.avsc has no copy in schemas/history/",
			         t == 0   ? "revision"
			         : t == 1 ? "conflict"
			                  : "object");
	free(v2);
	free(old);
	free(bad);
	cks_revmsg_release(&m);
}

/* ---- malformed input --------------------------------------------------- */

/* Replaces the first occurrence of needle (n bytes) in b with repl (same length). */
static void patch(cks_buf *b, const char *needle, size_t n, const char *repl)
{
	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, needle, n) == 0) {
			memcpy(b->data + i, repl, n);
			return;
		}
	fail_msg("patch: needle not found");
}

/* A minimal revision: no parents, no diff, no state; origin "AAAA", message
 * "MMMM". Its last three bytes are: parents count 0, diff union 0, state union 0. */
static void minimal(cks_codec *codec, cks_buf *out)
{
	char err[256];
	cks_revmsg m = CKS_REVMSG_INIT;
	strcpy(m.revision_id, U1);
	strcpy(m.object_id, U2);
	strcpy(m.objrev_id, U3);
	m.origin = cks_strdup("AAAA");
	m.author = cks_strdup("");
	m.message = cks_strdup("MMMM");
	assert_int_equal(cks_codec_encode_revision(codec, &m, out, err, sizeof(err)), CKS_OK);
	cks_revmsg_release(&m);
}

/* Generic datum of the minimal message, edited by fn, re-encoded. */
static void generic_edit(cks_codec *codec, cks_buf *out, void (*fn)(json_t *g))
{
	char err[256];
	json_t *g = NULL;
	cks_buf b = CKS_BUF_INIT;
	minimal(codec, &b);
	assert_int_equal(cks_codec_decode_generic(codec, b.data, b.len, NULL, &g, err, sizeof(err)),
	                 CKS_OK);
	fn(g);
	cks_buf_reset(out);
	if (cks_codec_encode_generic(codec, cks_codec_fingerprint(codec, CKS_MSG_REVISION), g, out,
	                             err, sizeof(err)) != CKS_OK)
		fail_msg("generic_edit: %s", err);
	json_decref(g);
	cks_buf_release(&b);
}

static void three_parents(json_t *g)
{
	json_object_set_new(g, "parents", json_pack("[sss]", U1, U2, U3));
}
static void bad_uuid(json_t *g)
{
	json_object_set_new(g, "object_id", json_string("not-a-uuid"));
}
static void bad_parent_uuid(json_t *g)
{
	json_object_set_new(g, "parents", json_pack("[s]", U1 "0"));
}
static void bad_json_text(json_t *g)
{
	json_object_set_new(g, "state",
	                    json_pack("{s{ss}}", "extra", "spatial", "{\"type\": Point}"));
}
static void bad_diff_json(json_t *g)
{
	json_object_set_new(g, "diff",
	                    json_pack("[{sss[s]ss}]", "op", "add", "path", "x", "new", "[1,"));
}
static void bad_org_json(json_t *g)
{
	json_object_set_new(g, "state", json_pack("{ss}", "organization", "{"));
}

enum mk {
	MK_EMPTY,
	MK_ONE,
	MK_MAGIC,
	MK_SHORT,
	MK_UNKNOWN_FP,
	MK_NEG_LEN,
	MK_HUGE_LEN,
	MK_UTF8,
	MK_UUID,
	MK_PARENT_UUID,
	MK_3PARENTS,
	MK_ENUM,
	MK_UNION,
	MK_JSON,
	MK_DIFF_JSON,
	MK_ORG_JSON,
	MK_TRAILING,
	MK_HUGE_COUNT,
	MK_NEG_COUNT,
	MK_VARINT,
	MK_NUL,
};

static void make(cks_codec *codec, enum mk k, cks_buf *b)
{
	static const unsigned char hdr_unknown[] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0};
	uint64_t fp = cks_codec_fingerprint(codec, CKS_MSG_REVISION);
	unsigned char h[10] = {0xC3, 0x01};
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)(fp >> (8 * i));
	cks_buf_reset(b);
	switch (k) {
	case MK_EMPTY:
		break;
	case MK_ONE:
		cks_buf_append(b, "\xC3", 1);
		break;
	case MK_MAGIC:
		minimal(codec, b);
		b->data[0] = 0;
		break;
	case MK_SHORT:
		cks_buf_append(b, h, 7);
		break;
	case MK_UNKNOWN_FP:
		cks_buf_append(b, hdr_unknown, sizeof(hdr_unknown));
		break;
	case MK_NEG_LEN:
		minimal(codec, b);
		patch(b,
		      "\x08"
		      "AAAA",
		      5,
		      "\x07"
		      "AAAA");
		break;
	case MK_HUGE_LEN:
		cks_buf_append(b, h, 10);
		cks_buf_append(b, "\xfe\xff\xff\xff\x0f", 5);
		break;
	case MK_UTF8:
		minimal(codec, b);
		patch(b, "AAAA", 4,
		      "A\xff\xfe"
		      "A");
		break;
	case MK_UUID:
		generic_edit(codec, b, bad_uuid);
		break;
	case MK_PARENT_UUID:
		generic_edit(codec, b, bad_parent_uuid);
		break;
	case MK_3PARENTS:
		generic_edit(codec, b, three_parents);
		break;
	case MK_ENUM:
		minimal(codec, b);
		patch(b, "MMMM\x00", 5, "MMMM\x0a");
		break;
	case MK_UNION:
		minimal(codec, b);
		b->data[b->len - 1] = 0x04;
		break;
	case MK_JSON:
		generic_edit(codec, b, bad_json_text);
		break;
	case MK_DIFF_JSON:
		generic_edit(codec, b, bad_diff_json);
		break;
	case MK_ORG_JSON:
		generic_edit(codec, b, bad_org_json);
		break;
	case MK_TRAILING:
		minimal(codec, b);
		cks_buf_append(b, "\0", 1);
		break;
	case MK_HUGE_COUNT:
		minimal(codec, b);
		b->len -= 3;
		cks_buf_append(b, "\xfe\xff\xff\xff\x0f\x00\x00\x00", 8);
		break;
	case MK_NEG_COUNT:
		minimal(codec, b);
		b->len -= 3;
		cks_buf_append(b, "\x01\x7f\x00\x00\x00", 5); /* count -1, byte size -64 */
		break;
	case MK_VARINT:
		cks_buf_append(b, h, 10);
		cks_buf_append(b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
		break;
	case MK_NUL:
		minimal(codec, b);
		patch(b, "AAAA", 4, "A\0AA");
		break;
	}
}

static void test_malformed(void **state)
{
	cks_codec *codec = *state;
	struct {
		enum mk k;
		cks_err err;
		const char *fragment;
	} cases[] = {
	    {MK_EMPTY, CKS_ERR_PERMANENT, "too short: 0 bytes"},
	    {MK_ONE, CKS_ERR_PERMANENT, "too short: 1 bytes"},
	    {MK_MAGIC, CKS_ERR_PERMANENT, "bad magic 0x00 0x01"},
	    {MK_SHORT, CKS_ERR_PERMANENT, "too short: 7 bytes"},
	    {MK_UNKNOWN_FP, CKS_ERR_UNKNOWN_SCHEMA, "unknown writer schema fingerprint 0x0807"},
	    {MK_NEG_LEN, CKS_ERR_PERMANENT, "negative length -4 at byte 47"},
	    {MK_HUGE_LEN, CKS_ERR_PERMANENT, "length 2147483647 at byte 10 exceeds the 0 bytes"},
	    {MK_UTF8, CKS_ERR_PERMANENT, "invalid UTF-8"},
	    {MK_UUID, CKS_ERR_PERMANENT, "object_id: not a UUID"},
	    {MK_PARENT_UUID, CKS_ERR_PERMANENT, "parents[0]: not a UUID"},
	    {MK_3PARENTS, CKS_ERR_PERMANENT, "parents: 3 > 2"},
	    {MK_ENUM, CKS_ERR_PERMANENT, "enum index 5 out of range [0, 3)"},
	    {MK_UNION, CKS_ERR_PERMANENT, "union index 2 out of range [0, 2)"},
	    {MK_JSON, CKS_ERR_PERMANENT, "state.extra.spatial: bad JSON text"},
	    {MK_DIFF_JSON, CKS_ERR_PERMANENT, "new: bad JSON text"},
	    {MK_ORG_JSON, CKS_ERR_PERMANENT, "organization: bad JSON text"},
	    {MK_TRAILING, CKS_ERR_PERMANENT, "trailing garbage: 1 bytes"},
	    {MK_HUGE_COUNT, CKS_ERR_PERMANENT, "items announced"},
	    {MK_NEG_COUNT, CKS_ERR_PERMANENT, "bad block byte size"},
	    {MK_VARINT, CKS_ERR_PERMANENT, "varint"},
	    {MK_NUL, CKS_ERR_PERMANENT, "origin: contains NUL"},
	};
	cks_buf b = CKS_BUF_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		cks_revmsg m = CKS_REVMSG_INIT;
		make(codec, cases[i].k, &b);
		cks_err got = cks_codec_decode_revision(codec, b.data, b.len, &m, err, sizeof(err));
		cks_revmsg_release(&m);
		if (got != cases[i].err || !strstr(err, cases[i].fragment))
			fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i, cks_err_name(got),
			         err, cks_err_name(cases[i].err), cases[i].fragment);
	}
	cks_buf_release(&b);
}

/* Every prefix of a valid message fails cleanly; every single-byte mutation
 * either decodes or fails cleanly (ASan/valgrind catch the rest). */
static void test_truncated_and_mutated(void **state)
{
	cks_codec *codec = *state;
	char err[256];
	cks_buf buf = CKS_BUF_INIT;
	cks_revmsg m = CKS_REVMSG_INIT;
	sample_revision(&m,
	                "{\"name\":\"p\",\"tags\":[{\"name\":\"t\"}],\"resources\":[{\"id\":\"" U3
	                "\",\"size\":1}],\"x\":null,\"extras\":[{\"key\":\"a\",\"value\":\"b\"}]}",
	                1);
	assert_int_equal(cks_codec_encode_revision(codec, &m, &buf, err, sizeof(err)), CKS_OK);
	cks_revmsg_release(&m);
	for (size_t len = 0; len < buf.len; len++) {
		cks_revmsg d = CKS_REVMSG_INIT;
		cks_err e = cks_codec_decode_revision(codec, buf.data, len, &d, err, sizeof(err));
		if (e != CKS_ERR_PERMANENT)
			fail_msg("prefix %zu: %s %s", len, cks_err_name(e), err);
		if (len > 10 && !strstr(err, "truncated") && !strstr(err, "byte"))
			fail_msg("prefix %zu: unexpected message %s", len, err);
		cks_revmsg_release(&d);
	}
	static const unsigned char vals[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe, 0x41};
	size_t ok = 0, bad = 0;
	for (size_t i = 10; i < buf.len; i++) {
		unsigned char saved = (unsigned char)buf.data[i];
		for (size_t v = 0; v < sizeof(vals); v++) {
			cks_revmsg d = CKS_REVMSG_INIT;
			buf.data[i] = (char)vals[v];
			if (cks_codec_decode_revision(codec, buf.data, buf.len, &d, err,
			                              sizeof(err)) == CKS_OK)
				ok++;
			else
				bad++;
			cks_revmsg_release(&d);
		}
		buf.data[i] = (char)saved;
	}
	print_message("%zu prefixes and %zu mutations (%zu decoded) handled\n", buf.len, ok + bad,
	              ok);
	cks_buf_release(&buf);
}

static void test_encode_refuses(void **state)
{
	char err[256];
	cks_buf buf = CKS_BUF_INIT;
	cks_revmsg m = CKS_REVMSG_INIT;
	sample_revision(&m, "{}", 1);
	strcpy(m.object_id, "x");
	assert_int_equal(cks_codec_encode_revision(*state, &m, &buf, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "object_id: not a UUID"));
	strcpy(m.object_id, U2);
	m.nparents = 3;
	assert_int_equal(cks_codec_encode_revision(*state, &m, &buf, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "parents: 3 > 2"));
	m.nparents = 1;
	json_decref(m.state);
	m.state = json_array();
	assert_int_equal(cks_codec_encode_revision(*state, &m, &buf, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	json_decref(m.diff);
	m.diff = json_pack("[{sss[i]}]", "op", "add", "path", 1);
	json_decref(m.state);
	m.state = NULL;
	assert_int_equal(cks_codec_encode_revision(*state, &m, &buf, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "diff.path"));
	json_decref(m.diff);
	m.diff = json_pack("[{sss[s]}]", "op", "move", "path", "x");
	assert_int_equal(cks_codec_encode_revision(*state, &m, &buf, err, sizeof(err)),
	                 CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "diff.op: not a symbol"));
	assert_int_equal(buf.len, 0); /* nothing half-written */
	cks_revmsg_release(&m);
	cks_buf_release(&buf);
}

static void test_header(void **state)
{
	cks_codec *codec = *state;
	cks_buf buf = CKS_BUF_INIT;
	minimal(codec, &buf);
	uint64_t fp = 0;
	for (int i = 0; i < 8; i++)
		fp |= (uint64_t)(unsigned char)buf.data[2 + i] << (8 * i);
	assert_int_equal((unsigned char)buf.data[0], 0xC3);
	assert_int_equal((unsigned char)buf.data[1], 0x01);
	assert_true(fp == cks_codec_fingerprint(codec, CKS_MSG_REVISION));
	assert_true(cks_codec_fingerprint(codec, CKS_MSG_CONFLICT) != fp);
	assert_true(cks_codec_fingerprint(codec, CKS_MSG_OBJECT) != fp);
	cks_buf_release(&buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip_revision, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_conflict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_object, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_depositar_datasets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backup_datasets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evolution, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_and_mutated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_encode_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
