/* bench_codec — encode/decode throughput of the Avro codec over the real
 * CKAN datasets (../shared/data/depositar-datasets.jsonl.gz), and a small
 * tool for the interoperability test (tests/test_codec_interop.py):
 *   bench_codec [DATASETS.jsonl.gz] [ROUNDS]   prints a throughput table
 *   bench_codec encode-sample DATASETS.jsonl.gz DIR [N]
 *       writes DIR/<type>-<i>.bin (single-object encoded) and .json (the
 *       model it encodes, as JSON) for N datasets, a conflict and an object
 *   bench_codec decode FILE   decodes any message and prints its model as JSON
 * Not a test: numbers depend on the machine. */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *revmsg_json(const cks_revmsg *m)
{
	json_t *parents = json_array();
	for (size_t i = 0; i < m->nparents; i++)
		json_array_append_new(parents, json_string(m->parents[i]));
	return json_pack("{sssssIsssssssssssssosOsO}", "revision_id", m->revision_id, "origin",
	                 m->origin, "timestamp", (json_int_t)m->timestamp_us, "author", m->author,
	                 "message", m->message, "kind", cks_revkind_name(m->kind), "object_type",
	                 cks_objtype_name(m->object_type), "object_id", m->object_id, "objrev_id",
	                 m->objrev_id, "parents", parents, "diff", m->diff ? m->diff : json_null(),
	                 "state", m->state ? m->state : json_null());
}

static json_t *opt_str(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *conflict_json(const cks_conflict *c)
{
	return json_pack(
	    "{sssssIsssssssssosososssssssosososo}", "id", c->id, "detected_at", c->detected_at,
	    "detected", (json_int_t)c->detected_us, "kind", c->kind, "object_type",
	    cks_objtype_name(c->object_type), "object_id", c->object_id, "object_name",
	    c->object_name, "base_objrev", opt_str(c->base_objrev), "local_objrev",
	    opt_str(c->local_objrev), "remote_objrev", opt_str(c->remote_objrev), "remote_origin",
	    c->remote_origin, "field_path", c->field_path, "resolution", c->resolution,
	    "local_value", opt_str(c->local_value), "remote_value", opt_str(c->remote_value),
	    "chosen_value", opt_str(c->chosen_value), "merge_revision", opt_str(c->merge_revision));
}

static json_t *object_json(const cks_objmsg *o)
{
	return json_pack("{sssssssIsO}", "type", o->type, "id", o->id, "origin", o->origin,
	                 "updated", (json_int_t)o->updated_us, "state",
	                 o->state ? o->state : json_null());
}

/* A revision carrying dict as its state, with a small diff. */
static void make_revision(cks_revmsg *m, json_t *dict, size_t i)
{
	const char *id = json_string_value(json_object_get(dict, "id"));
	cks_uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", &i, sizeof(i), m->revision_id);
	cks_uuid_v5(m->revision_id, "o", 1, m->objrev_id);
	cks_uuid_v5(m->revision_id, "p", 1, m->parents[0]);
	snprintf(m->object_id, sizeof(m->object_id), "%s",
	         cks_uuid_valid(id) ? id : m->revision_id);
	m->nparents = 1;
	m->origin = cks_strdup("A");
	m->author = cks_strdup("bench");
	m->message = cks_strdup("import");
	m->timestamp_us = 1700000000000000LL + (int64_t)i;
	m->diff = json_pack("[{sss[s]sOsO}]", "op", "change", "path", "title", "old", json_null(),
	                    "new", json_object_get(dict, "title"));
	m->state = json_incref(dict);
}

static json_t **load(const char *path, size_t *n)
{
	char cmd[4096];
	json_t **v = NULL;
	char *line = NULL;
	size_t cap = 0;
	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	FILE *f = popen(cmd, "r");
	*n = 0;
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		json_t *d = json_loads(line, 0, NULL);
		if (!d)
			continue;
		v = cks_realloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = d;
	}
	free(line);
	pclose(f);
	return v;
}

static void row(const char *what, size_t msgs, size_t bytes, int64_t us)
{
	double s = (double)us / 1e6;
	printf("| %-26s | %8zu | %8.3f | %10.0f | %8.1f |\n", what, msgs, s, (double)msgs / s,
	       (double)bytes / s / 1e6);
}

static int bench(const char *path, int rounds)
{
	char err[512];
	cks_codec *codec = NULL;
	size_t n = 0, wire = 0;
	json_t **dicts = load(path, &n);
	if (!n || cks_codec_new(&codec, err, sizeof(err))) {
		fprintf(stderr, "bench_codec: no datasets in %s or %s\n", path, err);
		return 1;
	}
	cks_revmsg *msgs = cks_calloc(n, sizeof(*msgs));
	cks_buf *enc = cks_calloc(n, sizeof(*enc));
	for (size_t i = 0; i < n; i++)
		make_revision(&msgs[i], dicts[i], i);
	int64_t t0 = cks_mono_us();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			cks_buf_reset(&enc[i]);
			if (cks_codec_encode_revision(codec, &msgs[i], &enc[i], err, sizeof(err))) {
				fprintf(stderr, "encode: %s\n", err);
				return 1;
			}
		}
	int64_t t1 = cks_mono_us();
	for (size_t i = 0; i < n; i++)
		wire += enc[i].len;
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			cks_revmsg back = CKS_REVMSG_INIT;
			if (cks_codec_decode_revision(codec, enc[i].data, enc[i].len, &back, err,
			                              sizeof(err))) {
				fprintf(stderr, "decode: %s\n", err);
				return 1;
			}
			cks_revmsg_release(&back);
		}
	int64_t t2 = cks_mono_us();
	size_t jbytes = 0;
	int64_t t3 = cks_mono_us();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) { /* reference: JSON text of the same dicts */
			char *s = json_dumps(dicts[i], JSON_COMPACT);
			jbytes += strlen(s);
			free(s);
		}
	int64_t t4 = cks_mono_us();
	printf("%zu CKAN datasets x %d rounds, %.1f KB Avro per message on average "
	       "(JSON: %.1f KB)\n\n",
	       n, rounds, (double)wire / n / 1024, (double)jbytes / rounds / n / 1024);
	printf("| %-26s | %8s | %8s | %10s | %8s |\n", "operation", "messages", "seconds", "msg/s",
	       "MB/s");
	printf("|%s|%s|%s|%s|%s|\n", "----------------------------", "----------", "----------",
	       "------------", "----------");
	row("encode revision", n * rounds, wire * rounds, t1 - t0);
	row("decode revision", n * rounds, wire * rounds, t2 - t1);
	row("json_dumps (reference)", n * rounds, jbytes, t4 - t3);
	for (size_t i = 0; i < n; i++) {
		cks_revmsg_release(&msgs[i]);
		cks_buf_release(&enc[i]);
		json_decref(dicts[i]);
	}
	free(msgs);
	free(enc);
	free(dicts);
	cks_codec_destroy(codec);
	return 0;
}

static int write_pair(const char *dir, const char *name, const cks_buf *bin, json_t *model)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s.bin", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(bin->data, 1, bin->len, f) != bin->len || fclose(f) != 0)
		return 1;
	snprintf(p, sizeof(p), "%s/%s.json", dir, name);
	int rc = json_dump_file(model, p, JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(model);
	return rc ? 1 : 0;
}

static int encode_sample(const char *path, const char *dir, size_t max)
{
	char err[512];
	cks_codec *codec = NULL;
	size_t n = 0;
	int rc = 0;
	json_t **dicts = load(path, &n);
	if (cks_codec_new(&codec, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (size_t i = 0; i < n && i < max && !rc; i++) {
		cks_revmsg m = CKS_REVMSG_INIT;
		cks_buf b = CKS_BUF_INIT;
		char name[64];
		make_revision(&m, dicts[i], i);
		if (i == 1) { /* one purge: no diff, no state */
			json_decref(m.state);
			json_decref(m.diff);
			m.state = m.diff = NULL;
			m.kind = CKS_REV_PURGE;
		}
		snprintf(name, sizeof(name), "revision-%zu", i);
		rc = cks_codec_encode_revision(codec, &m, &b, err, sizeof(err)) ||
		     write_pair(dir, name, &b, revmsg_json(&m));
		cks_revmsg_release(&m);
		cks_buf_release(&b);
	}
	cks_conflict c = {.detected_at = "B",
	                  .detected_us = 1700000000000000LL,
	                  .kind = "field",
	                  .object_name = "pkg",
	                  .remote_origin = "A",
	                  .field_path = "title",
	                  .local_value = "\"x\"",
	                  .remote_value = "\"y\"",
	                  .resolution = "origin-priority",
	                  .chosen_value = "\"y\""};
	strcpy(c.id, "6fb6dd5c-5886-4d2b-8d73-c8f2eacfc851");
	strcpy(c.object_id, "70eca0ce-5714-4441-9c35-6ca802c31830");
	strcpy(c.remote_objrev, "e9a82645-dcc2-4de8-a83a-f1bad87c40f6");
	cks_objmsg o = {.type = "user",
	                .id = "alice",
	                .origin = "A",
	                .updated_us = 1,
	                .state = json_pack("{sssb}", "name", "alice", "sysadmin", 0)};
	cks_buf b = CKS_BUF_INIT;
	if (!rc)
		rc = cks_codec_encode_conflict(codec, &c, &b, err, sizeof(err)) ||
		     write_pair(dir, "conflict-0", &b, conflict_json(&c));
	cks_buf_reset(&b);
	if (!rc)
		rc = cks_codec_encode_object(codec, &o, &b, err, sizeof(err)) ||
		     write_pair(dir, "object-0", &b, object_json(&o));
	cks_buf_release(&b);
	json_decref(o.state);
	for (size_t i = 0; i < n; i++)
		json_decref(dicts[i]);
	free(dicts);
	cks_codec_destroy(codec);
	if (rc)
		fprintf(stderr, "encode-sample failed: %s\n", err);
	return rc;
}

static int decode_file(const char *path)
{
	char err[512] = "";
	cks_codec *codec = NULL;
	cks_buf in = CKS_BUF_INIT;
	char chunk[65536];
	size_t r;
	json_t *out = NULL, *g = NULL;
	cks_msgtype type;
	int rc = 1;
	FILE *f = fopen(path, "rb");
	if (!f)
		return 1;
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cks_buf_append(&in, chunk, r);
	fclose(f);
	if (cks_codec_new(&codec, err, sizeof(err)) ||
	    cks_codec_decode_generic(codec, in.data, in.len, &type, &g, err, sizeof(err)))
		goto out;
	if (type == CKS_MSG_REVISION) {
		cks_revmsg m = CKS_REVMSG_INIT;
		if (!cks_codec_decode_revision(codec, in.data, in.len, &m, err, sizeof(err)))
			out = revmsg_json(&m);
		cks_revmsg_release(&m);
	} else if (type == CKS_MSG_CONFLICT) {
		cks_conflict c = {0};
		if (!cks_codec_decode_conflict(codec, in.data, in.len, &c, err, sizeof(err)))
			out = conflict_json(&c);
		cks_conflict_release(&c);
	} else {
		cks_objmsg o = {0};
		if (!cks_codec_decode_object(codec, in.data, in.len, &o, err, sizeof(err)))
			out = object_json(&o);
		cks_objmsg_release(&o);
	}
	if (out) {
		char *s = json_dumps(out, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		puts(s);
		free(s);
		rc = 0;
	}
out:
	if (rc)
		fprintf(stderr, "decode %s: %s\n", path, err);
	json_decref(out);
	json_decref(g);
	cks_buf_release(&in);
	cks_codec_destroy(codec);
	return rc;
}

int main(int argc, char **argv)
{
	/* run from the source tree or a build dir inside it */
	const char *dflt = "../shared/data/depositar-datasets.jsonl.gz";
	FILE *probe = fopen(dflt, "r");
	if (probe)
		fclose(probe);
	else
		dflt = "../../shared/data/depositar-datasets.jsonl.gz";
	if (argc >= 2 && strcmp(argv[1], "decode") == 0 && argc == 3)
		return decode_file(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "encode-sample") == 0)
		return encode_sample(argv[2], argv[3], argc > 4 ? (size_t)atoi(argv[4]) : 20);
	if (argc >= 2 && argv[1][0] == '-') {
		fprintf(stderr, "usage: bench_codec [DATASETS.jsonl.gz [ROUNDS]] | encode-sample "
		                "DATASETS DIR [N] | decode FILE\n");
		return 2;
	}
	return bench(argc > 1 ? argv[1] : dflt, argc > 2 ? atoi(argv[2]) : 3);
}
