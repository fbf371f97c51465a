/* codec — see codec.h. Our own small Avro binary reader and writer, driven
 * by the schemas in schemas/ (parsed here into a node tree): avro-c 1.11
 * trusts lengths and counts it reads and does not apply reader defaults, so
 * we do neither through it. Three layers:
 *   1. schema nodes: parsed from .avsc JSON, fingerprinted (avro_canon);
 *   2. generic datum <-> binary: a datum is a jansson value (records as
 *      objects, unions as the bare branch value, enums as symbols, bytes as
 *      code points 0-255), every length and count checked against the bytes
 *      left before anything is allocated;
 *   3. generic datum <-> model structs (cks_revmsg, cks_conflict, cks_objmsg),
 *      after resolving an older/newer writer's datum into the reader's shape
 *      (missing fields get the reader's defaults, unknown ones are ignored).
 * The typed CKAN state record (schemas/revision.avsc "State") is mapped by a
 * table of typed keys; every other key travels as JSON text in "extra". */
#include "codec.h"
#include "avro_canon.h"
#include "json_fast.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH         64   /* schema nesting / datum recursion bound */
#define ITEM_BUDGET_SLACK 4096 /* array/map items allowed beyond one per byte */

/* ------------------------------------------------------------------------ */
/* 1. Schema nodes                                                          */

typedef enum av_kind {
	AV_NULL,
	AV_BOOLEAN,
	AV_INT,
	AV_LONG,
	AV_FLOAT,
	AV_DOUBLE,
	AV_BYTES,
	AV_STRING,
	AV_RECORD,
	AV_ENUM,
	AV_ARRAY,
	AV_MAP,
	AV_UNION,
	AV_FIXED,
} av_kind;

static const char *const av_kind_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed",
};

typedef struct av_node {
	av_kind kind;
	char *name;           /* owned fullname of a record/enum/fixed, else NULL */
	size_t n;             /* number of fields, symbols or branches */
	char **names;         /* owned: field names or enum symbols (n) */
	struct av_node **sub; /* borrowed (owned by the schema): field types, branches; sub[0]
	                         is items/values */
	json_t **defaults;    /* owned references: per-field default, NULL if none */
	size_t size;          /* fixed: byte size */
	size_t minsize;       /* fewest bytes any datum of this type encodes to */
	long enum_default;    /* enum: index of the reader default symbol, -1 if none */
} av_node;

typedef struct av_schema {
	av_node **nodes; /* owned: every node of the tree (named types are shared) */
	size_t nnodes;
	av_node *root;    /* borrowed from nodes */
	uint64_t fp;      /* CRC-64-AVRO of the canonical form */
	cks_msgtype type; /* message type it writes */
	char *label;      /* owned: where it came from, for messages */
} av_schema;

struct cks_codec {
	av_schema **schemas; /* owned: every known writer schema */
	size_t nschemas;
	av_schema *current[3]; /* borrowed: reader (and writer) schema per cks_msgtype */
};

static const char *const msgtype_names[] = {"revision", "conflict", "object"};

static void node_free(av_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->names)
			free(n->names[i]);
		if (n->defaults)
			json_decref(n->defaults[i]);
	}
	free(n->names);
	free(n->defaults);
	free(n->sub);
	free(n->name);
	free(n);
}

static void schema_free(av_schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nnodes; i++)
		node_free(s->nodes[i]);
	free(s->nodes);
	free(s->label);
	free(s);
}

static av_node *node_new(av_schema *s, av_kind kind)
{
	av_node *n = cks_calloc(1, sizeof(*n));
	n->kind = kind;
	n->enum_default = -1;
	s->nodes = cks_realloc(s->nodes, (s->nnodes + 1) * sizeof(*s->nodes));
	s->nodes[s->nnodes++] = n;
	return n;
}

static char *full_name(const char *name, const char *ns)
{
	if (strchr(name, '.') || !ns || !*ns)
		return cks_strdup(name);
	cks_buf b = CKS_BUF_INIT;
	cks_buf_appendf(&b, "%s.%s", ns, name);
	return b.data;
}

static av_node *find_named(const av_schema *s, const char *full)
{
	for (size_t i = 0; i < s->nnodes; i++)
		if (s->nodes[i]->name && strcmp(s->nodes[i]->name, full) == 0)
			return s->nodes[i];
	return NULL;
}

static av_node *parse_node(av_schema *s, const json_t *j, const char *ns, int depth, char *errstr,
                           size_t errstr_size);

static int primitive_kind(const char *t)
{
	for (int k = AV_NULL; k <= AV_STRING; k++)
		if (strcmp(t, av_kind_names[k]) == 0)
			return k;
	return -1;
}

static av_node *parse_ref(av_schema *s, const char *t, const char *ns, char *errstr,
                          size_t errstr_size)
{
	int k = primitive_kind(t);
	if (k >= 0) {
		av_node *n = node_new(s, (av_kind)k);
		static const size_t minsizes[] = {0, 1, 1, 1, 4, 8, 1, 1};
		n->minsize = minsizes[k];
		return n;
	}
	char *full = full_name(t, ns);
	av_node *n = find_named(s, full);
	if (!n)
		n = find_named(s, t);
	if (!n)
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: unknown type '%s'", full);
	free(full);
	return n;
}

static bool parse_fields(av_schema *s, av_node *n, const json_t *fields, const char *ns, int depth,
                         char *errstr, size_t errstr_size)
{
	if (!json_is_array(fields)) {
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: %s: no fields", n->name);
		return false;
	}
	size_t nf = json_array_size(fields);
	n->names = cks_calloc(nf ? nf : 1, sizeof(*n->names));
	n->sub = cks_calloc(nf ? nf : 1, sizeof(*n->sub));
	n->defaults = cks_calloc(nf ? nf : 1, sizeof(*n->defaults));
	for (size_t i = 0; i < nf; i++) {
		const json_t *f = json_array_get(fields, i);
		const char *fname = json_string_value(json_object_get(f, "name"));
		if (!fname) {
			cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			           "schema: %s: field %zu has no name", n->name, i);
			return false;
		}
		n->names[i] = cks_strdup(fname);
		n->defaults[i] = json_incref(json_object_get(f, "default"));
		n->n = i + 1;
		n->sub[i] =
		    parse_node(s, json_object_get(f, "type"), ns, depth + 1, errstr, errstr_size);
		if (!n->sub[i])
			return false;
		n->minsize += n->sub[i]->minsize;
	}
	return true;
}

static bool parse_symbols(av_node *n, const json_t *j, char *errstr, size_t errstr_size)
{
	const json_t *syms = json_object_get(j, "symbols");
	const char *def = json_string_value(json_object_get(j, "default"));
	if (!json_is_array(syms) || json_array_size(syms) == 0) {
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: %s: no symbols", n->name);
		return false;
	}
	n->names = cks_calloc(json_array_size(syms), sizeof(*n->names));
	for (size_t i = 0; i < json_array_size(syms); i++) {
		const char *sym = json_string_value(json_array_get(syms, i));
		if (!sym) {
			cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: %s: bad symbol",
			           n->name);
			return false;
		}
		n->names[n->n++] = cks_strdup(sym);
		if (def && strcmp(def, sym) == 0)
			n->enum_default = (long)i;
	}
	n->minsize = 1;
	return true;
}

/* record, enum, fixed: registered under their fullname before their body
 * is parsed, so a record can refer to itself. */
static av_node *parse_named(av_schema *s, const json_t *j, const char *t, const char *ns, int depth,
                            char *errstr, size_t errstr_size)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *own_ns = json_string_value(json_object_get(j, "namespace"));
	if (!name) {
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: %s without a name", t);
		return NULL;
	}
	av_kind kind = t[0] == 'e' && t[1] == 'n' ? AV_ENUM : t[0] == 'f' ? AV_FIXED : AV_RECORD;
	av_node *n = node_new(s, kind);
	n->name = full_name(name, own_ns ? own_ns : ns);
	if (kind == AV_ENUM)
		return parse_symbols(n, j, errstr, errstr_size) ? n : NULL;
	if (kind == AV_FIXED) {
		json_int_t size = json_integer_value(json_object_get(j, "size"));
		if (size < 0 || size > (1 << 20)) {
			cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: %s: bad size",
			           n->name);
			return NULL;
		}
		n->size = n->minsize = (size_t)size;
		return n;
	}
	const char *dot = strrchr(n->name, '.');
	char *inner_ns = dot ? strndup(n->name, (size_t)(dot - n->name)) : cks_strdup("");
	bool ok =
	    parse_fields(s, n, json_object_get(j, "fields"), inner_ns, depth, errstr, errstr_size);
	free(inner_ns);
	return ok ? n : NULL;
}

static av_node *parse_node(av_schema *s, const json_t *j, const char *ns, int depth, char *errstr,
                           size_t errstr_size)
{
	if (depth > MAX_DEPTH) {
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: nested too deeply");
		return NULL;
	}
	if (json_is_string(j))
		return parse_ref(s, json_string_value(j), ns, errstr, errstr_size);
	if (json_is_array(j)) {
		av_node *n = node_new(s, AV_UNION);
		size_t nb = json_array_size(j);
		n->sub = cks_calloc(nb ? nb : 1, sizeof(*n->sub));
		n->minsize = SIZE_MAX;
		for (size_t i = 0; i < nb; i++) {
			n->sub[i] =
			    parse_node(s, json_array_get(j, i), ns, depth + 1, errstr, errstr_size);
			if (!n->sub[i])
				return NULL;
			n->n = i + 1;
			if (n->sub[i]->minsize < n->minsize)
				n->minsize = n->sub[i]->minsize;
		}
		n->minsize = nb ? n->minsize + 1 : 1;
		return n;
	}
	const json_t *type = json_object_get(j, "type");
	if (!json_is_string(type)) {
		if (type)
			return parse_node(s, type, ns, depth + 1, errstr, errstr_size);
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "schema: type missing");
		return NULL;
	}
	const char *t = json_string_value(type);
	if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
		av_node *n = node_new(s, t[0] == 'a' ? AV_ARRAY : AV_MAP);
		n->sub = cks_calloc(1, sizeof(*n->sub));
		n->sub[0] = parse_node(s, json_object_get(j, t[0] == 'a' ? "items" : "values"), ns,
		                       depth + 1, errstr, errstr_size);
		n->minsize = 1;
		return n->sub[0] ? n : NULL;
	}
	if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0 || strcmp(t, "enum") == 0 ||
	    strcmp(t, "fixed") == 0)
		return parse_named(s, j, t, ns, depth, errstr, errstr_size);
	return parse_ref(s, t, ns, errstr, errstr_size);
}

/* Parses and fingerprints schema_json. Caller owns *out (schema_free). */
static cks_err schema_load(const char *schema_json, cks_msgtype type, const char *label,
                           av_schema **out, char *errstr, size_t errstr_size)
{
	char sub[256] = "";
	json_error_t jerr;
	json_t *j = NULL;
	char *canon = NULL;
	av_schema *s = cks_calloc(1, sizeof(*s));
	cks_err err = CKS_ERR_FATAL;
	s->type = type;
	s->label = cks_strdup(label);
	canon = cks_avro_canonical(schema_json, sub, sizeof(sub));
	if (!canon) {
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "%s: %s", label, sub);
		goto out;
	}
	s->fp = cks_avro_crc64(canon, strlen(canon));
	j = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
	s->root = j ? parse_node(s, j, "", 0, sub, sizeof(sub)) : NULL;
	if (!s->root) {
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "%s: %s", label, sub);
		goto out;
	}
	if (s->root->kind != AV_RECORD) {
		cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "%s: top level is not a record",
		           label);
		goto out;
	}
	*out = s;
	s = NULL;
	err = CKS_OK;
out:
	schema_free(s);
	json_decref(j);
	free(canon);
	return err;
}

static av_schema *find_schema(const cks_codec *codec, uint64_t fp)
{
	for (size_t i = 0; i < codec->nschemas; i++)
		if (codec->schemas[i]->fp == fp)
			return codec->schemas[i];
	return NULL;
}

/* Adds s unless its fingerprint is known (then frees it). Returns the kept one. */
static av_schema *codec_keep(cks_codec *codec, av_schema *s)
{
	av_schema *old = find_schema(codec, s->fp);
	if (old) {
		schema_free(s);
		return old;
	}
	codec->schemas = cks_realloc(codec->schemas, (codec->nschemas + 1) * sizeof(av_schema *));
	codec->schemas[codec->nschemas++] = s;
	return s;
}

/* "schemas/revision.avsc" or "schemas/history/revision.v1.avsc" -> type;
 * false for other files. *current set for the top-level one. */
static bool schema_path_type(const char *path, cks_msgtype *type, bool *current)
{
	const char *base;
	if (strncmp(path, "schemas/history/", 16) == 0) {
		base = path + 16;
		*current = false;
	} else if (strncmp(path, "schemas/", 8) == 0 && !strchr(path + 8, '/')) {
		base = path + 8;
		*current = true;
	} else {
		return false;
	}
	for (int t = 0; t < 3; t++) {
		size_t l = strlen(msgtype_names[t]);
		if (strncmp(base, msgtype_names[t], l) == 0 && (base[l] == '.')) {
			*type = (cks_msgtype)t;
			return true;
		}
	}
	return false;
}

cks_err cks_codec_new(cks_codec **out, char *errstr, size_t errstr_size)
{
	cks_codec *codec = cks_calloc(1, sizeof(*codec));
	cks_err err = CKS_OK;
	*out = NULL;
	for (const struct cks_embedded *e = cks_embedded_files; e->path; e++) {
		cks_msgtype type;
		bool current;
		av_schema *s = NULL;
		size_t pl = strlen(e->path);
		if (pl < 5 || strcmp(e->path + pl - 5, ".avsc") != 0 ||
		    !schema_path_type(e->path, &type, &current))
			continue;
		err = schema_load(e->data, type, e->path, &s, errstr, errstr_size);
		if (err)
			goto out;
		s = codec_keep(codec, s);
		if (current)
			codec->current[type] = s;
	}
	for (int t = 0; t < 3; t++)
		if (!codec->current[t]) {
			err = cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			                 "schemas/%s.avsc is not embedded", msgtype_names[t]);
			goto out;
		}
	*out = codec;
	codec = NULL;
out:
	cks_codec_destroy(codec);
	return err;
}

void cks_codec_destroy(cks_codec *codec)
{
	if (!codec)
		return;
	for (size_t i = 0; i < codec->nschemas; i++)
		schema_free(codec->schemas[i]);
	free(codec->schemas);
	free(codec);
}

uint64_t cks_codec_fingerprint(const cks_codec *codec, cks_msgtype type)
{
	return (unsigned)type < 3 ? codec->current[type]->fp : 0;
}

cks_err cks_codec_add_schema(cks_codec *codec, cks_msgtype type, const char *schema_json,
                             uint64_t *fingerprint, char *errstr, size_t errstr_size)
{
	av_schema *s = NULL;
	if ((unsigned)type >= 3)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "bad message type %d",
		                  (int)type);
	cks_err err = schema_load(schema_json, type, "added schema", &s, errstr, errstr_size);
	if (err)
		return err;
	s = codec_keep(codec, s);
	if (s->type != type)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
		                  "schema already known as a %s schema", msgtype_names[s->type]);
	if (fingerprint)
		*fingerprint = s->fp;
	return CKS_OK;
}

/* ------------------------------------------------------------------------ */
/* 2a. Binary -> generic datum                                              */

typedef struct rd {
	const unsigned char *start; /* message start: offsets in errors count from here */
	const unsigned char *p;     /* next byte */
	const unsigned char *end;
	size_t budget; /* array/map items still allowed */
	char *errstr;
	size_t errstr_size;
} rd;

#define RD_OFF(r) ((size_t)((r)->p - (r)->start))

static cks_err rd_fail(rd *r, const char *what)
{
	return cks_seterr(r->errstr, r->errstr_size, CKS_ERR_PERMANENT, "%s at byte %zu", what,
	                  RD_OFF(r));
}

static cks_err rd_long(rd *r, int64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0;; shift += 7) {
		if (r->p >= r->end)
			return rd_fail(r, "truncated datum");
		unsigned b = *r->p++;
		if (shift == 63 && (b & 0x7e))
			return rd_fail(r, "varint overflows 64 bits");
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		if (shift == 63)
			return rd_fail(r, "varint longer than 10 bytes");
	}
	*out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
	return CKS_OK;
}

/* A length (bytes, string) that must fit in what is left. */
static cks_err rd_len(rd *r, size_t *out)
{
	int64_t n = 0;
	const unsigned char *at = r->p;
	cks_err err = rd_long(r, &n);
	if (err)
		return err;
	if (n < 0) {
		r->p = at;
		return cks_seterr(r->errstr, r->errstr_size, CKS_ERR_PERMANENT,
		                  "negative length %lld at byte %zu", (long long)n, RD_OFF(r));
	}
	if ((uint64_t)n > (uint64_t)(r->end - r->p)) {
		size_t left = (size_t)(r->end - r->p);
		r->p = at;
		return cks_seterr(r->errstr, r->errstr_size, CKS_ERR_PERMANENT,
		                  "truncated datum: length %lld at byte %zu exceeds the %zu bytes "
		                  "left",
		                  (long long)n, RD_OFF(r), left);
	}
	*out = (size_t)n;
	return CKS_OK;
}

/* Bytes as a string of code points 0-255 (Avro's JSON encoding of bytes). */
static json_t *latin1_string(const unsigned char *p, size_t n)
{
	char *s = cks_malloc(2 * n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x80) {
			s[o++] = (char)p[i];
		} else {
			s[o++] = (char)(0xc0 | (p[i] >> 6));
			s[o++] = (char)(0x80 | (p[i] & 0x3f));
		}
	}
	json_t *j = json_stringn_nocheck(s, o);
	free(s);
	return j;
}

static cks_err rd_datum(rd *r, const av_node *n, int depth, json_t **out);

/* Block header of an array or map: item count (negative: followed by a byte size). */
static cks_err rd_block(rd *r, const av_node *item, size_t *count)
{
	int64_t c, bytes;
	cks_err err = rd_long(r, &c);
	if (err)
		return err;
	if (c < 0) {
		if (c == INT64_MIN)
			return rd_fail(r, "bad block count");
		c = -c;
		if ((err = rd_long(r, &bytes)))
			return err;
		if (bytes < 0 || (uint64_t)bytes > (uint64_t)(r->end - r->p))
			return rd_fail(r, "bad block byte size");
	}
	uint64_t left = (uint64_t)(r->end - r->p);
	if ((item->minsize && (uint64_t)c > left / item->minsize) || (uint64_t)c > r->budget)
		return cks_seterr(r->errstr, r->errstr_size, CKS_ERR_PERMANENT,
		                  "truncated datum: %lld items announced at byte %zu, %llu bytes "
		                  "left",
		                  (long long)c, RD_OFF(r), (unsigned long long)left);
	r->budget -= (size_t)c;
	*count = (size_t)c;
	return CKS_OK;
}

static cks_err rd_string(rd *r, const char **s, size_t *len)
{
	cks_err err = rd_len(r, len);
	if (err)
		return err;
	*s = (const char *)r->p;
	if (!cks_utf8_valid(*s, *len))
		return rd_fail(r, "invalid UTF-8 in string");
	r->p += *len;
	return CKS_OK;
}

static cks_err rd_container(rd *r, const av_node *n, int depth, json_t *c)
{
	size_t count = 0;
	cks_err err;
	while ((err = rd_block(r, n->sub[0], &count)) == CKS_OK && count > 0) {
		for (size_t i = 0; i < count; i++) {
			const char *key = NULL;
			size_t klen = 0;
			json_t *v = NULL;
			if (n->kind == AV_MAP && (err = rd_string(r, &key, &klen)))
				return err;
			if ((err = rd_datum(r, n->sub[0], depth + 1, &v)))
				return err;
			if (n->kind == AV_MAP)
				json_object_setn_new_nocheck(c, key, klen, v);
			else
				json_array_append_new(c, v);
		}
	}
	return err;
}

static cks_err rd_fixed(rd *r, size_t n, const unsigned char **p)
{
	if ((size_t)(r->end - r->p) < n)
		return rd_fail(r, "truncated datum");
	*p = r->p;
	r->p += n;
	return CKS_OK;
}

static cks_err rd_scalar(rd *r, const av_node *n, json_t **out)
{
	int64_t l;
	const unsigned char *p = NULL;
	const char *s;
	size_t len;
	cks_err err = CKS_OK;
	switch (n->kind) {
	case AV_NULL:
		*out = json_null();
		break;
	case AV_BOOLEAN:
		if ((err = rd_fixed(r, 1, &p)))
			break;
		if (*p > 1) {
			r->p--;
			return rd_fail(r, "bad boolean");
		}
		*out = json_boolean(*p);
		break;
	case AV_INT:
	case AV_LONG:
		if ((err = rd_long(r, &l)))
			break;
		if (n->kind == AV_INT && (l < INT32_MIN || l > INT32_MAX))
			return rd_fail(r, "int out of range");
		*out = json_integer(l);
		break;
	case AV_FLOAT:
	case AV_DOUBLE: {
		size_t w = n->kind == AV_FLOAT ? 4 : 8;
		uint64_t bits = 0;
		if ((err = rd_fixed(r, w, &p)))
			break;
		for (size_t i = 0; i < w; i++)
			bits |= (uint64_t)p[i] << (8 * i);
		double d;
		if (w == 4) {
			uint32_t b32 = (uint32_t)bits;
			float f;
			memcpy(&f, &b32, 4);
			d = f;
		} else {
			memcpy(&d, &bits, 8);
		}
		*out = json_real(d); /* NULL for NaN and infinities */
		if (!*out)
			return rd_fail(r, "non-finite floating point value");
		break;
	}
	case AV_BYTES:
		if ((err = rd_len(r, &len)) || (err = rd_fixed(r, len, &p)))
			break;
		*out = latin1_string(p, len);
		break;
	case AV_FIXED:
		if ((err = rd_fixed(r, n->size, &p)))
			break;
		*out = latin1_string(p, n->size);
		break;
	case AV_STRING:
		if ((err = rd_string(r, &s, &len)))
			break;
		*out = json_stringn_nocheck(s, len);
		break;
	default:
		return rd_fail(r, "internal: not a scalar");
	}
	return err;
}

static cks_err rd_datum(rd *r, const av_node *n, int depth, json_t **out)
{
	int64_t idx;
	cks_err err = CKS_OK;
	*out = NULL;
	if (depth > MAX_DEPTH)
		return rd_fail(r, "datum nested too deeply");
	switch (n->kind) {
	case AV_RECORD:
		*out = json_object();
		for (size_t i = 0; i < n->n && !err; i++) {
			json_t *v = NULL;
			err = rd_datum(r, n->sub[i], depth + 1, &v);
			if (v)
				json_object_set_new_nocheck(*out, n->names[i], v);
		}
		break;
	case AV_ENUM:
	case AV_UNION:
		if ((err = rd_long(r, &idx)))
			break;
		if (idx < 0 || (uint64_t)idx >= n->n) {
			char what[96];
			snprintf(what, sizeof(what), "%s index %lld out of range [0, %zu)",
			         n->kind == AV_ENUM ? "enum" : "union", (long long)idx, n->n);
			return rd_fail(r, what);
		}
		if (n->kind == AV_ENUM)
			*out = json_string(n->names[idx]);
		else
			err = rd_datum(r, n->sub[idx], depth + 1, out);
		break;
	case AV_ARRAY:
	case AV_MAP:
		*out = n->kind == AV_ARRAY ? json_array() : json_object();
		err = rd_container(r, n, depth, *out);
		break;
	default:
		err = rd_scalar(r, n, out);
	}
	if (err) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* ------------------------------------------------------------------------ */
/* 2b. Generic datum -> binary                                              */

static void wr_long(cks_buf *out, int64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	while (z >= 0x80) {
		b[n++] = (unsigned char)(z | 0x80);
		z >>= 7;
	}
	b[n++] = (unsigned char)z;
	cks_buf_append(out, b, n);
}

/* Little-endian, width bytes (floats, doubles, the fingerprint). */
static void wr_le(cks_buf *out, uint64_t v, int width)
{
	unsigned char le[8];
	for (int i = 0; i < width; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	cks_buf_append(out, le, (size_t)width);
}

static void wr_bytes(cks_buf *out, const char *p, size_t n)
{
	wr_long(out, (int64_t)n);
	cks_buf_append(out, p, n);
}

/* Does generic value v fit node n (used to choose a union branch)? */
static bool fits(const av_node *n, const json_t *v)
{
	switch (n->kind) {
	case AV_NULL:
		return json_is_null(v);
	case AV_BOOLEAN:
		return json_is_boolean(v);
	case AV_INT:
		return json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
		       json_integer_value(v) <= INT32_MAX;
	case AV_LONG:
		return json_is_integer(v);
	case AV_FLOAT:
	case AV_DOUBLE:
		return json_is_number(v);
	case AV_BYTES:
	case AV_FIXED:
	case AV_STRING:
		return json_is_string(v);
	case AV_ENUM:
		for (size_t i = 0; json_is_string(v) && i < n->n; i++)
			if (strcmp(n->names[i], json_string_value(v)) == 0)
				return true;
		return false;
	case AV_RECORD:
	case AV_MAP:
		return json_is_object(v);
	case AV_ARRAY:
		return json_is_array(v);
	case AV_UNION:
		return false;
	}
	return false;
}

static long union_branch(const av_node *n, const json_t *v)
{
	for (size_t i = 0; i < n->n; i++)
		if (fits(n->sub[i], v))
			return (long)i;
	return -1;
}

typedef struct wr {
	char *errstr;
	size_t errstr_size;
	const char *path[MAX_DEPTH + 2]; /* field names, for messages */
	int depth;
} wr;

static cks_err wr_fail(wr *w, const char *what)
{
	cks_buf p = CKS_BUF_INIT;
	for (int i = 0; i <= w->depth; i++)
		if (w->path[i])
			cks_buf_appendf(&p, "%s%s", p.len ? "." : "", w->path[i]);
	cks_seterr(w->errstr, w->errstr_size, CKS_ERR_PERMANENT, "%s: %s",
	           p.data ? p.data : "datum", what);
	cks_buf_release(&p);
	return CKS_ERR_PERMANENT;
}

struct kv {
	const char *key;
	size_t klen;
	json_t *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, m);
	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static cks_err wr_datum(wr *w, const av_node *n, const json_t *v, cks_buf *out);

/* Map entries in key order: equal maps give equal bytes. */
static cks_err wr_map(wr *w, const av_node *n, const json_t *v, cks_buf *out)
{
	size_t cnt = json_object_size(v), i = 0;
	cks_err err = CKS_OK;
	if (cnt == 0) {
		wr_long(out, 0);
		return CKS_OK;
	}
	struct kv *kv = cks_malloc(cnt * sizeof(*kv));
	for (void *it = json_object_iter((json_t *)v); it && i < cnt;
	     it = json_object_iter_next((json_t *)v, it), i++) {
		kv[i].key = json_object_iter_key(it);
		kv[i].klen = json_object_iter_key_len(it);
		kv[i].v = json_object_iter_value(it);
	}
	qsort(kv, cnt, sizeof(*kv), kv_cmp);
	wr_long(out, (int64_t)cnt);
	for (i = 0; i < cnt && !err; i++) {
		wr_bytes(out, kv[i].key, kv[i].klen);
		w->path[w->depth] = kv[i].key;
		err = wr_datum(w, n->sub[0], kv[i].v, out);
	}
	if (!err)
		wr_long(out, 0);
	free(kv);
	return err;
}

static cks_err wr_record(wr *w, const av_node *n, const json_t *v, cks_buf *out)
{
	for (size_t i = 0; i < n->n; i++) {
		const json_t *f = json_object_get(v, n->names[i]);
		w->path[w->depth] = n->names[i];
		if (!f)
			f = n->defaults[i];
		if (!f)
			return wr_fail(w, "missing (no default)");
		cks_err err = wr_datum(w, n->sub[i], f, out);
		if (err)
			return err;
	}
	return CKS_OK;
}

/* bytes/fixed from a string of code points 0-255. */
static cks_err wr_latin1(wr *w, const av_node *n, const json_t *v, cks_buf *out)
{
	const unsigned char *s = (const unsigned char *)json_string_value(v);
	size_t len = json_string_length(v), o = 0;
	char *b = cks_malloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x80) {
			b[o++] = (char)s[i];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len) {
			b[o++] = (char)(((s[i] & 3) << 6) | (s[i + 1] & 0x3f));
			i++;
		} else {
			free(b);
			return wr_fail(w, "bytes: code point above 255");
		}
	}
	if (n->kind == AV_FIXED && o != n->size) {
		free(b);
		return wr_fail(w, "fixed: wrong size");
	}
	if (n->kind == AV_BYTES)
		wr_long(out, (int64_t)o);
	cks_buf_append(out, b, o);
	free(b);
	return CKS_OK;
}

static cks_err wr_datum(wr *w, const av_node *n, const json_t *v, cks_buf *out)
{
	cks_err err = CKS_OK;
	if (w->depth > MAX_DEPTH)
		return wr_fail(w, "nested too deeply");
	if (n->kind != AV_UNION && !fits(n, v))
		return wr_fail(w, n->kind == AV_ENUM ? "not a symbol of the enum"
		                                     : "JSON type does not match the schema");
	w->depth++;
	w->path[w->depth] = NULL;
	switch (n->kind) {
	case AV_NULL:
		break;
	case AV_BOOLEAN:
		cks_buf_append(out, json_is_true(v) ? "\1" : "\0", 1);
		break;
	case AV_INT:
	case AV_LONG:
		wr_long(out, json_integer_value(v));
		break;
	case AV_FLOAT: {
		float f = (float)json_number_value(v);
		uint32_t b;
		memcpy(&b, &f, 4);
		wr_le(out, b, 4);
		break;
	}
	case AV_DOUBLE: {
		double d = json_number_value(v);
		uint64_t b;
		memcpy(&b, &d, 8);
		wr_le(out, b, 8);
		break;
	}
	case AV_STRING:
		wr_bytes(out, json_string_value(v), json_string_length(v));
		break;
	case AV_BYTES:
	case AV_FIXED:
		err = wr_latin1(w, n, v, out);
		break;
	case AV_ENUM:
		for (size_t i = 0; i < n->n; i++)
			if (strcmp(n->names[i], json_string_value(v)) == 0)
				wr_long(out, (int64_t)i);
		break;
	case AV_RECORD:
		err = wr_record(w, n, v, out);
		break;
	case AV_ARRAY:
		if (json_array_size(v))
			wr_long(out, (int64_t)json_array_size(v));
		for (size_t i = 0; i < json_array_size(v) && !err; i++)
			err = wr_datum(w, n->sub[0], json_array_get(v, i), out);
		wr_long(out, 0);
		break;
	case AV_MAP:
		err = wr_map(w, n, v, out);
		break;
	case AV_UNION: {
		long b = union_branch(n, v);
		if (b < 0) {
			w->depth--;
			return wr_fail(w, "no branch of the union fits the value");
		}
		wr_long(out, b);
		w->depth--; /* the branch is not a path element */
		return wr_datum(w, n->sub[b], v, out);
	}
	}
	w->depth--;
	return err;
}

static void wr_header(cks_buf *out, uint64_t fp)
{
	cks_buf_append(out, "\xC3\x01", 2);
	wr_le(out, fp, 8);
}

/* Appends header + datum; on error out is left as it was. */
static cks_err encode_with(const av_schema *s, const json_t *datum, cks_buf *out, char *errstr,
                           size_t errstr_size)
{
	wr w = {.errstr = errstr, .errstr_size = errstr_size};
	size_t mark = out->len;
	wr_header(out, s->fp);
	cks_err err = wr_datum(&w, s->root, datum, out);
	if (err) {
		out->len = mark;
		if (out->data)
			out->data[mark] = 0;
	}
	return err;
}

cks_err cks_codec_encode_generic(cks_codec *codec, uint64_t fingerprint, const json_t *datum,
                                 cks_buf *out, char *errstr, size_t errstr_size)
{
	const av_schema *s = find_schema(codec, fingerprint);
	if (!s)
		return cks_seterr(errstr, errstr_size, CKS_ERR_UNKNOWN_SCHEMA,
		                  "unknown schema fingerprint 0x%016llx",
		                  (unsigned long long)fingerprint);
	return encode_with(s, datum, out, errstr, errstr_size);
}

/* ------------------------------------------------------------------------ */
/* 2c. Header, and resolving a writer's datum into the reader's shape       */

static cks_err decode_header(const cks_codec *codec, const unsigned char *p, size_t len,
                             const av_schema **s, char *errstr, size_t errstr_size)
{
	if (len >= 2 && (p[0] != 0xC3 || p[1] != 0x01))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "bad magic 0x%02x 0x%02x (want 0xc3 0x01)", p[0], p[1]);
	if (len < 10)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "message too short: %zu bytes, the single-object header is 10",
		                  len);
	uint64_t fp = 0;
	for (int i = 0; i < 8; i++)
		fp |= (uint64_t)p[2 + i] << (8 * i);
	*s = find_schema(codec, fp);
	if (!*s)
		return cks_seterr(errstr, errstr_size, CKS_ERR_UNKNOWN_SCHEMA,
		                  "unknown writer schema fingerprint 0x%016llx",
		                  (unsigned long long)fp);
	return CKS_OK;
}

static cks_err decode_any(const cks_codec *codec, const void *data, size_t len, const av_schema **s,
                          json_t **out, char *errstr, size_t errstr_size)
{
	*out = NULL;
	cks_err err = decode_header(codec, data, len, s, errstr, errstr_size);
	if (err)
		return err;
	rd r = {.start = data,
	        .p = (const unsigned char *)data + 10,
	        .end = (const unsigned char *)data + len,
	        .budget = len + ITEM_BUDGET_SLACK,
	        .errstr = errstr,
	        .errstr_size = errstr_size};
	if ((err = rd_datum(&r, (*s)->root, 0, out)))
		return err;
	if (r.p != r.end) {
		json_decref(*out);
		*out = NULL;
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "trailing garbage: %zu bytes after the datum at byte %zu",
		                  (size_t)(r.end - r.p), RD_OFF(&r));
	}
	return CKS_OK;
}

cks_err cks_codec_decode_generic(cks_codec *codec, const void *data, size_t len, cks_msgtype *type,
                                 json_t **out, char *errstr, size_t errstr_size)
{
	const av_schema *s = NULL;
	cks_err err = decode_any(codec, data, len, &s, out, errstr, errstr_size);
	if (!err && type)
		*type = s->type;
	return err;
}

static void drop_unknown_fields(const av_node *n, json_t *rec)
{
	const char *key;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(rec, tmp, key, val)
	{
		bool known = false;
		for (size_t i = 0; i < n->n && !known; i++)
			known = strcmp(n->names[i], key) == 0;
		if (!known)
			json_object_del(rec, key);
	}
}

/* Rewrites *v (a datum of some writer schema) into the shape of reader node
 * n: reader fields missing from the writer get the reader's default, enum
 * symbols unknown to the reader get the reader's enum default, int/long
 * promote to float/double, a union picks the reader branch that fits. */
static cks_err resolve(const av_node *n, json_t **v, int depth, const char *field, char *errstr,
                       size_t errstr_size)
{
	if (depth > MAX_DEPTH)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "datum nested too deeply");
	if (n->kind == AV_UNION) {
		long b = union_branch(n, *v);
		if (b < 0 && json_is_integer(*v))
			for (size_t i = 0; i < n->n && b < 0; i++)
				if (n->sub[i]->kind == AV_FLOAT || n->sub[i]->kind == AV_DOUBLE)
					b = (long)i;
		if (b < 0)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "%s: writer value fits no branch of the reader's union",
			                  field);
		return resolve(n->sub[b], v, depth + 1, field, errstr, errstr_size);
	}
	if (n->kind == AV_ENUM && json_is_string(*v) && !fits(n, *v)) {
		if (n->enum_default < 0)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "%s: symbol '%s' unknown to the reader", field,
			                  json_string_value(*v));
		json_decref(*v);
		*v = json_string(n->names[n->enum_default]);
		return CKS_OK;
	}
	if ((n->kind == AV_FLOAT || n->kind == AV_DOUBLE) && json_is_integer(*v)) {
		json_t *d = json_real((double)json_integer_value(*v));
		json_decref(*v);
		*v = d;
		return CKS_OK;
	}
	if (!fits(n, *v))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "%s: writer type does not match the reader's %s", field,
		                  av_kind_names[n->kind]);
	cks_err err = CKS_OK;
	if (n->kind == AV_RECORD) {
		for (size_t i = 0; i < n->n && !err; i++) {
			json_t *f = json_object_get(*v, n->names[i]);
			if (!f && !n->defaults[i])
				return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				                  "%s: not in the writer schema and no default",
				                  n->names[i]);
			if (!f) {
				json_object_set_nocheck(*v, n->names[i], n->defaults[i]);
				continue;
			}
			json_incref(f);
			err = resolve(n->sub[i], &f, depth + 1, n->names[i], errstr, errstr_size);
			json_object_set_new_nocheck(*v, n->names[i], f);
		}
		if (!err && json_object_size(*v) > n->n) /* fields only the writer has */
			drop_unknown_fields(n, *v);
	} else if (n->kind == AV_ARRAY) {
		for (size_t i = 0; i < json_array_size(*v) && !err; i++) {
			json_t *e = json_incref(json_array_get(*v, i));
			err = resolve(n->sub[0], &e, depth + 1, field, errstr, errstr_size);
			json_array_set_new(*v, i, e);
		}
	} else if (n->kind == AV_MAP) {
		void *it = json_object_iter(*v);
		for (; it && !err; it = json_object_iter_next(*v, it)) {
			json_t *e = json_incref(json_object_iter_value(it));
			err = resolve(n->sub[0], &e, depth + 1, field, errstr, errstr_size);
			json_object_iter_set_new(*v, it, e);
		}
	}
	return err;
}

/* Decodes a message that must be of type; returns the datum in the shape
 * of the current reader schema. Caller owns *out. */
static cks_err decode_as(cks_codec *codec, cks_msgtype type, const void *data, size_t len,
                         json_t **out, char *errstr, size_t errstr_size)
{
	const av_schema *s = NULL;
	cks_err err = decode_any(codec, data, len, &s, out, errstr, errstr_size);
	if (!err && s->type != type)
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                 "writer schema 0x%016llx is a %s schema, not a %s schema",
		                 (unsigned long long)s->fp, msgtype_names[s->type],
		                 msgtype_names[type]);
	if (!err && s != codec->current[type])
		err = resolve(codec->current[type]->root, out, 0, msgtype_names[type], errstr,
		              errstr_size);
	if (err) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* ------------------------------------------------------------------------ */
/* 3a. The typed CKAN state record                                          */

typedef enum tkind {
	T_STR,      /* ["null","string"] */
	T_BOOL,     /* ["null","boolean"] */
	T_JSONTEXT, /* ["null","string"]: JSON text of any value */
	T_RECS,     /* ["null",{"type":"array","items":<typed record>}] */
	T_KV,       /* ["null",{"type":"array","items":Extra}]: [{key: str, value: str}] */
} tkind;

typedef struct tfield {
	const char *key;
	tkind kind;
	const struct tspec *items; /* T_RECS: element spec */
} tfield;

typedef struct tspec {
	size_t n;
	const tfield *f;
} tspec;

#define TSPEC(fields)                                                                              \
	{                                                                                          \
		sizeof(fields) / sizeof(fields[0]), fields                                         \
	}
static const tfield tag_fields[] = {
    {"id", T_STR, NULL},           {"name", T_STR, NULL},  {"vocabulary_id", T_STR, NULL},
    {"display_name", T_STR, NULL}, {"state", T_STR, NULL},
};
static const tfield group_fields[] = {
    {"id", T_STR, NULL}, {"name", T_STR, NULL}, {"title", T_STR, NULL}};
static const tfield res_fields[] = {
    {"id", T_STR, NULL},     {"name", T_STR, NULL},        {"url", T_STR, NULL},
    {"format", T_STR, NULL}, {"description", T_STR, NULL},
};
static const tspec tag_spec = TSPEC(tag_fields);
static const tspec group_spec = TSPEC(group_fields);
static const tspec res_spec = TSPEC(res_fields);
static const tfield state_fields[] = {
    {"id", T_STR, NULL},
    {"name", T_STR, NULL},
    {"title", T_STR, NULL},
    {"notes", T_STR, NULL},
    {"url", T_STR, NULL},
    {"version", T_STR, NULL},
    {"author", T_STR, NULL},
    {"author_email", T_STR, NULL},
    {"maintainer", T_STR, NULL},
    {"maintainer_email", T_STR, NULL},
    {"license_id", T_STR, NULL},
    {"owner_org", T_STR, NULL},
    {"private", T_BOOL, NULL},
    {"state", T_STR, NULL},
    {"type", T_STR, NULL},
    {"tags", T_RECS, &tag_spec},
    {"extras", T_KV, NULL},
    {"groups", T_RECS, &group_spec},
    {"organization", T_JSONTEXT, NULL},
    {"resources", T_RECS, &res_spec},
};
static const tspec state_spec = TSPEC(state_fields);

/* The canonical text of a JSON-typed field: keys sorted, so equal values
 * encode to equal bytes whatever their key order. */
static json_t *json_text(const json_t *v)
{
	char *s = cks_json_dumps(v, CKS_JSON_SORT_KEYS);
	json_t *j = json_string_nocheck(s);
	free(s);
	return j;
}

static const tfield *spec_find(const tspec *spec, const char *key, size_t klen)
{
	for (size_t i = 0; i < spec->n; i++)
		if (strlen(spec->f[i].key) == klen && memcmp(spec->f[i].key, key, klen) == 0)
			return &spec->f[i];
	return NULL;
}

static json_t *typed_to_generic(const tspec *spec, const json_t *dict);

/* Generic value of a non-null JSON value v for typed field f, or NULL if v
 * has a type the field cannot hold (then v goes to "extra"). */
static json_t *typed_value(const tfield *f, json_t *v)
{
	switch (f->kind) {
	case T_STR:
		return json_is_string(v) ? json_incref(v) : NULL;
	case T_BOOL:
		return json_is_boolean(v) ? json_incref(v) : NULL;
	case T_JSONTEXT:
		return json_text(v);
	case T_RECS: {
		if (!json_is_array(v))
			return NULL;
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!json_is_object(json_array_get(v, i)))
				return NULL;
		json_t *a = json_array();
		for (size_t i = 0; i < json_array_size(v); i++)
			json_array_append_new(a, typed_to_generic(f->items, json_array_get(v, i)));
		return a;
	}
	case T_KV:
		if (!json_is_array(v))
			return NULL;
		for (size_t i = 0; i < json_array_size(v); i++) {
			const json_t *e = json_array_get(v, i);
			if (!json_is_object(e) || json_object_size(e) != 2 ||
			    !json_is_string(json_object_get(e, "key")) ||
			    !json_is_string(json_object_get(e, "value")))
				return NULL;
		}
		return json_incref(v);
	}
	return NULL;
}

/* A dict -> a typed record: {typed fields..., "nulls": [...], "extra": {...}}. */
static json_t *typed_to_generic(const tspec *spec, const json_t *dict)
{
	json_t *rec = json_object(), *nulls = json_array(), *extra = json_object();
	for (size_t i = 0; i < spec->n; i++) {
		const tfield *f = &spec->f[i];
		json_t *v = json_object_get(dict, f->key), *g = NULL;
		if (json_is_null(v))
			json_array_append_new(nulls, json_string_nocheck(f->key));
		else if (v && !(g = typed_value(f, v)))
			json_object_set_new_nocheck(extra, f->key, json_text(v));
		json_object_set_new_nocheck(rec, f->key, g ? g : json_null());
	}
	for (void *it = json_object_iter((json_t *)dict); it;
	     it = json_object_iter_next((json_t *)dict, it)) {
		const char *k = json_object_iter_key(it);
		size_t kl = json_object_iter_key_len(it);
		if (!spec_find(spec, k, kl))
			json_object_setn_new_nocheck(extra, k, kl,
			                             json_text(json_object_iter_value(it)));
	}
	json_object_set_new_nocheck(rec, "nulls", nulls);
	json_object_set_new_nocheck(rec, "extra", extra);
	return rec;
}

static cks_err parse_json_text(const json_t *text, const char *what, json_t **out, char *errstr,
                               size_t errstr_size)
{
	json_error_t jerr;
	*out = cks_json_loadb(json_string_value(text), json_string_length(text), &jerr);
	if (!*out)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: bad JSON text: %s",
		                  what, jerr.text);
	return CKS_OK;
}

static bool in_list(const json_t *list, const char *s)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (json_is_string(json_array_get(list, i)) &&
		    strcmp(json_string_value(json_array_get(list, i)), s) == 0)
			return true;
	return false;
}

static cks_err typed_from_generic(const tspec *spec, const json_t *rec, const char *what,
                                  json_t **out, char *errstr, size_t errstr_size);

/* Dict value of typed field f from its non-null generic value g. */
static cks_err typed_back(const tfield *f, json_t *g, json_t **out, char *errstr,
                          size_t errstr_size)
{
	cks_err err = CKS_OK;
	switch (f->kind) {
	case T_STR:
	case T_BOOL:
	case T_KV:
		*out = json_incref(g);
		break;
	case T_JSONTEXT:
		return parse_json_text(g, f->key, out, errstr, errstr_size);
	case T_RECS:
		*out = json_array();
		for (size_t i = 0; i < json_array_size(g) && !err; i++) {
			json_t *e = NULL;
			err = typed_from_generic(f->items, json_array_get(g, i), f->key, &e, errstr,
			                         errstr_size);
			if (e)
				json_array_append_new(*out, e);
		}
		break;
	}
	return err;
}

/* A typed record (reader shape) -> the dict. Caller owns *out. */
static cks_err typed_from_generic(const tspec *spec, const json_t *rec, const char *what,
                                  json_t **out, char *errstr, size_t errstr_size)
{
	const json_t *nulls = json_object_get(rec, "nulls"), *extra = json_object_get(rec, "extra");
	json_t *dict = json_object();
	cks_err err = CKS_OK;
	for (size_t i = 0; i < spec->n && !err; i++) {
		const tfield *f = &spec->f[i];
		json_t *g = json_object_get(rec, f->key), *v = NULL;
		if (json_object_get(extra, f->key))
			continue;
		if (!g || json_is_null(g)) {
			if (in_list(nulls, f->key))
				json_object_set_new_nocheck(dict, f->key, json_null());
			continue;
		}
		err = typed_back(f, g, &v, errstr, errstr_size);
		if (v)
			json_object_set_new_nocheck(dict, f->key, v);
	}
	for (void *it = json_object_iter((json_t *)extra); it && !err;
	     it = json_object_iter_next((json_t *)extra, it)) {
		json_t *v = NULL;
		char ctx[160];
		snprintf(ctx, sizeof(ctx), "%s.extra.%s", what, json_object_iter_key(it));
		err = parse_json_text(json_object_iter_value(it), ctx, &v, errstr, errstr_size);
		if (v)
			json_object_setn_new_nocheck(dict, json_object_iter_key(it),
			                             json_object_iter_key_len(it), v);
	}
	if (err) {
		json_decref(dict);
		dict = NULL;
	}
	*out = dict;
	return err;
}

/* ------------------------------------------------------------------------ */
/* 3b. Model structs <-> generic datums                                     */

static json_t *str_or_empty(const char *s)
{
	return json_string(s ? s : "");
}

/* uuid text, or null for "" when nullable. NULL (error) if invalid. */
static json_t *uuid_value(const char *s, bool nullable)
{
	if (nullable && (!s || !*s))
		return json_null();
	return cks_uuid_valid(s) ? json_string(s) : NULL;
}

static cks_err diff_to_generic(const json_t *diff, json_t **out, char *errstr, size_t errstr_size)
{
	*out = NULL;
	if (!diff) {
		*out = json_null();
		return CKS_OK;
	}
	if (!json_is_array(diff))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "diff: not an array");
	json_t *a = json_array();
	for (size_t i = 0; i < json_array_size(diff); i++) {
		const json_t *op = json_array_get(diff, i), *path = json_object_get(op, "path");
		const json_t *o = json_object_get(op, "old"), *n = json_object_get(op, "new");
		if (!json_is_string(json_object_get(op, "op")) || !json_is_array(path)) {
			json_decref(a);
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "diff[%zu]: needs op and path", i);
		}
		json_array_append_new(a, json_pack("{sOsOso*so*}", "op", json_object_get(op, "op"),
		                                   "path", path, "old", o ? json_text(o) : NULL,
		                                   "new", n ? json_text(n) : NULL));
	}
	*out = a;
	return CKS_OK;
}

static cks_err diff_from_generic(const json_t *g, json_t **out, char *errstr, size_t errstr_size)
{
	*out = NULL;
	if (json_is_null(g))
		return CKS_OK;
	json_t *a = json_array();
	cks_err err = CKS_OK;
	for (size_t i = 0; i < json_array_size(g) && !err; i++) {
		const json_t *op = json_array_get(g, i);
		json_t *e = json_pack("{sOsO}", "op", json_object_get(op, "op"), "path",
		                      json_object_get(op, "path"));
		const char *keys[] = {"old", "new"};
		for (int k = 0; k < 2 && !err && e; k++) {
			const json_t *t = json_object_get(op, keys[k]);
			json_t *v = NULL;
			if (json_is_string(t) &&
			    !(err = parse_json_text(t, keys[k], &v, errstr, errstr_size)))
				json_object_set_new_nocheck(e, keys[k], v);
		}
		if (!e && !err)
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                 "diff[%zu]: bad op", i);
		json_array_append_new(a, e);
	}
	if (err) {
		json_decref(a);
		a = NULL;
	}
	*out = a;
	return err;
}

static cks_err revision_to_generic(const cks_revmsg *m, json_t **out, char *errstr,
                                   size_t errstr_size)
{
	json_t *g = json_object(), *parents = json_array(), *v, *diff = NULL;
	cks_err err = CKS_OK;
	struct {
		const char *name;
		const char *val;
	} ids[] = {{"revision_id", m->revision_id},
	           {"object_id", m->object_id},
	           {"objrev_id", m->objrev_id}};
	*out = NULL;
	for (size_t i = 0; i < 3; i++) {
		if (!(v = uuid_value(ids[i].val, false))) {
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: not a UUID",
			                 ids[i].name);
			goto out;
		}
		json_object_set_new_nocheck(g, ids[i].name, v);
	}
	if (m->nparents > CKS_MAX_PARENTS) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "parents: %zu > %d",
		                 m->nparents, CKS_MAX_PARENTS);
		goto out;
	}
	for (size_t i = 0; i < m->nparents; i++) {
		if (!(v = uuid_value(m->parents[i], false))) {
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                 "parents[%zu]: not a UUID", i);
			goto out;
		}
		json_array_append_new(parents, v);
	}
	if ((unsigned)m->kind > CKS_REV_PURGE || (unsigned)m->object_type > CKS_OBJ_ORGANIZATION) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "bad kind or object_type");
		goto out;
	}
	if (m->state && !json_is_object(m->state)) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "state: not an object");
		goto out;
	}
	if ((err = diff_to_generic(m->diff, &diff, errstr, errstr_size)))
		goto out;
	json_object_set_new_nocheck(g, "origin", str_or_empty(m->origin));
	json_object_set_new_nocheck(g, "timestamp", json_integer(m->timestamp_us));
	json_object_set_new_nocheck(g, "author", str_or_empty(m->author));
	json_object_set_new_nocheck(g, "message", str_or_empty(m->message));
	json_object_set_new_nocheck(g, "kind", json_string(cks_revkind_name(m->kind)));
	json_object_set_new_nocheck(g, "object_type",
	                            json_string(cks_objtype_name(m->object_type)));
	json_object_set_new_nocheck(g, "parents", parents);
	parents = NULL;
	json_object_set_new_nocheck(g, "diff", diff);
	json_object_set_new_nocheck(
	    g, "state", m->state ? typed_to_generic(&state_spec, m->state) : json_null());
	*out = g;
	g = NULL;
out:
	json_decref(g);
	json_decref(parents);
	return err;
}

/* Copies a string field; C strings cannot hold NUL, so it is refused. */
static cks_err get_cstr(const json_t *g, const char *name, bool nullable, char **out, char *errstr,
                        size_t errstr_size)
{
	const json_t *v = json_object_get(g, name);
	*out = NULL;
	if (nullable && json_is_null(v))
		return CKS_OK;
	if (!json_is_string(v))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: not a string", name);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: contains NUL", name);
	*out = cks_strdup(json_string_value(v));
	return CKS_OK;
}

static cks_err get_uuid(const json_t *v, const char *name, bool nullable, cks_uuid_str out,
                        char *errstr, size_t errstr_size)
{
	out[0] = 0;
	if (nullable && json_is_null(v))
		return CKS_OK;
	const char *s = json_string_value(v);
	if (!s || !cks_uuid_valid(s) || json_string_length(v) != CKS_UUID_LEN)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: not a UUID", name);
	memcpy(out, s, CKS_UUID_LEN + 1);
	return CKS_OK;
}

static cks_err get_json(const json_t *g, const char *name, char **out, char *errstr,
                        size_t errstr_size)
{
	const json_t *v = json_object_get(g, name);
	json_t *parsed = NULL;
	*out = NULL;
	if (!json_is_string(v))
		return CKS_OK;
	cks_err err = parse_json_text(v, name, &parsed, errstr, errstr_size);
	json_decref(parsed);
	if (!err)
		err = get_cstr(g, name, false, out, errstr, errstr_size);
	return err;
}

static cks_err revision_from_generic(const json_t *g, cks_revmsg *m, char *errstr,
                                     size_t errstr_size)
{
	const json_t *parents = json_object_get(g, "parents"), *state = json_object_get(g, "state");
	cks_err err;
	if ((err = get_uuid(json_object_get(g, "revision_id"), "revision_id", false, m->revision_id,
	                    errstr, errstr_size)) ||
	    (err = get_uuid(json_object_get(g, "object_id"), "object_id", false, m->object_id,
	                    errstr, errstr_size)) ||
	    (err = get_uuid(json_object_get(g, "objrev_id"), "objrev_id", false, m->objrev_id,
	                    errstr, errstr_size)) ||
	    (err = get_cstr(g, "origin", false, &m->origin, errstr, errstr_size)) ||
	    (err = get_cstr(g, "author", false, &m->author, errstr, errstr_size)) ||
	    (err = get_cstr(g, "message", false, &m->message, errstr, errstr_size)))
		return err;
	if (json_array_size(parents) > CKS_MAX_PARENTS)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "parents: %zu > %d",
		                  json_array_size(parents), CKS_MAX_PARENTS);
	for (size_t i = 0; i < json_array_size(parents); i++) {
		char what[32];
		snprintf(what, sizeof(what), "parents[%zu]", i);
		if ((err = get_uuid(json_array_get(parents, i), what, false, m->parents[i], errstr,
		                    errstr_size)))
			return err;
		m->nparents = i + 1;
	}
	m->timestamp_us = json_integer_value(json_object_get(g, "timestamp"));
	if (!cks_revkind_parse(json_string_value(json_object_get(g, "kind")), &m->kind) ||
	    !cks_objtype_parse(json_string_value(json_object_get(g, "object_type")),
	                       &m->object_type))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "bad kind or object_type");
	if ((err = diff_from_generic(json_object_get(g, "diff"), &m->diff, errstr, errstr_size)))
		return err;
	if (json_is_object(state))
		err =
		    typed_from_generic(&state_spec, state, "state", &m->state, errstr, errstr_size);
	return err;
}

cks_err cks_codec_encode_revision(cks_codec *codec, const cks_revmsg *m, cks_buf *out, char *errstr,
                                  size_t errstr_size)
{
	json_t *g = NULL;
	cks_err err = revision_to_generic(m, &g, errstr, errstr_size);
	if (!err)
		err = encode_with(codec->current[CKS_MSG_REVISION], g, out, errstr, errstr_size);
	json_decref(g);
	return err;
}

cks_err cks_codec_decode_revision(cks_codec *codec, const void *data, size_t len, cks_revmsg *m,
                                  char *errstr, size_t errstr_size)
{
	json_t *g = NULL;
	cks_err err = decode_as(codec, CKS_MSG_REVISION, data, len, &g, errstr, errstr_size);
	if (!err)
		err = revision_from_generic(g, m, errstr, errstr_size);
	json_decref(g);
	return err;
}

cks_err cks_codec_encode_conflict(cks_codec *codec, const cks_conflict *c, cks_buf *out,
                                  char *errstr, size_t errstr_size)
{
	json_t *g = json_object(), *v;
	cks_err err = CKS_OK;
	const struct {
		const char *name;
		const char *val;
		bool nullable;
	} ids[] = {{"id", c->id, false},
	           {"object_id", c->object_id, false},
	           {"base_objrev", c->base_objrev, true},
	           {"local_objrev", c->local_objrev, true},
	           {"remote_objrev", c->remote_objrev, true},
	           {"merge_revision", c->merge_revision, true}};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (!(v = uuid_value(ids[i].val, ids[i].nullable))) {
			err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: not a UUID",
			                 ids[i].name);
			goto out;
		}
		json_object_set_new_nocheck(g, ids[i].name, v);
	}
	if ((unsigned)c->object_type > CKS_OBJ_ORGANIZATION) {
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "bad object_type");
		goto out;
	}
	const struct {
		const char *name;
		const char *val;
	} texts[] = {{"local_value", c->local_value},
	             {"remote_value", c->remote_value},
	             {"chosen_value", c->chosen_value}};
	for (size_t i = 0; i < 3; i++)
		json_object_set_new_nocheck(g, texts[i].name,
		                            texts[i].val ? json_string(texts[i].val) : json_null());
	json_object_set_new_nocheck(g, "detected_at", str_or_empty(c->detected_at));
	json_object_set_new_nocheck(g, "detected", json_integer(c->detected_us));
	json_object_set_new_nocheck(g, "kind", str_or_empty(c->kind));
	json_object_set_new_nocheck(g, "object_type",
	                            json_string(cks_objtype_name(c->object_type)));
	json_object_set_new_nocheck(g, "object_name", str_or_empty(c->object_name));
	json_object_set_new_nocheck(g, "remote_origin", str_or_empty(c->remote_origin));
	json_object_set_new_nocheck(g, "field_path", str_or_empty(c->field_path));
	json_object_set_new_nocheck(g, "resolution", str_or_empty(c->resolution));
	err = encode_with(codec->current[CKS_MSG_CONFLICT], g, out, errstr, errstr_size);
out:
	json_decref(g);
	return err;
}

cks_err cks_codec_decode_conflict(cks_codec *codec, const void *data, size_t len, cks_conflict *c,
                                  char *errstr, size_t errstr_size)
{
	json_t *g = NULL;
	cks_err err = decode_as(codec, CKS_MSG_CONFLICT, data, len, &g, errstr, errstr_size);
	if (err)
		goto out;
	if ((err = get_uuid(json_object_get(g, "id"), "id", false, c->id, errstr, errstr_size)) ||
	    (err = get_uuid(json_object_get(g, "object_id"), "object_id", false, c->object_id,
	                    errstr, errstr_size)) ||
	    (err = get_uuid(json_object_get(g, "base_objrev"), "base_objrev", true, c->base_objrev,
	                    errstr, errstr_size)) ||
	    (err = get_uuid(json_object_get(g, "local_objrev"), "local_objrev", true,
	                    c->local_objrev, errstr, errstr_size)) ||
	    (err = get_uuid(json_object_get(g, "remote_objrev"), "remote_objrev", true,
	                    c->remote_objrev, errstr, errstr_size)) ||
	    (err = get_uuid(json_object_get(g, "merge_revision"), "merge_revision", true,
	                    c->merge_revision, errstr, errstr_size)) ||
	    (err = get_cstr(g, "detected_at", false, &c->detected_at, errstr, errstr_size)) ||
	    (err = get_cstr(g, "kind", false, &c->kind, errstr, errstr_size)) ||
	    (err = get_cstr(g, "object_name", false, &c->object_name, errstr, errstr_size)) ||
	    (err = get_cstr(g, "remote_origin", false, &c->remote_origin, errstr, errstr_size)) ||
	    (err = get_cstr(g, "field_path", false, &c->field_path, errstr, errstr_size)) ||
	    (err = get_cstr(g, "resolution", false, &c->resolution, errstr, errstr_size)) ||
	    (err = get_json(g, "local_value", &c->local_value, errstr, errstr_size)) ||
	    (err = get_json(g, "remote_value", &c->remote_value, errstr, errstr_size)) ||
	    (err = get_json(g, "chosen_value", &c->chosen_value, errstr, errstr_size)))
		goto out;
	c->detected_us = json_integer_value(json_object_get(g, "detected"));
	if (!cks_objtype_parse(json_string_value(json_object_get(g, "object_type")),
	                       &c->object_type))
		err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "bad object_type");
out:
	json_decref(g);
	return err;
}

cks_err cks_codec_encode_object(cks_codec *codec, const cks_objmsg *o, cks_buf *out, char *errstr,
                                size_t errstr_size)
{
	json_t *g = json_object();
	json_object_set_new_nocheck(g, "type", str_or_empty(o->type));
	json_object_set_new_nocheck(g, "id", str_or_empty(o->id));
	json_object_set_new_nocheck(g, "origin", str_or_empty(o->origin));
	json_object_set_new_nocheck(g, "updated", json_integer(o->updated_us));
	json_object_set_new_nocheck(g, "state", o->state ? json_text(o->state) : json_null());
	cks_err err = encode_with(codec->current[CKS_MSG_OBJECT], g, out, errstr, errstr_size);
	json_decref(g);
	return err;
}

cks_err cks_codec_decode_object(cks_codec *codec, const void *data, size_t len, cks_objmsg *o,
                                char *errstr, size_t errstr_size)
{
	json_t *g = NULL;
	const json_t *state;
	cks_err err = decode_as(codec, CKS_MSG_OBJECT, data, len, &g, errstr, errstr_size);
	if (err)
		goto out;
	if ((err = get_cstr(g, "type", false, &o->type, errstr, errstr_size)) ||
	    (err = get_cstr(g, "id", false, &o->id, errstr, errstr_size)) ||
	    (err = get_cstr(g, "origin", false, &o->origin, errstr, errstr_size)))
		goto out;
	o->updated_us = json_integer_value(json_object_get(g, "updated"));
	state = json_object_get(g, "state");
	if (json_is_string(state))
		err = parse_json_text(state, "state", &o->state, errstr, errstr_size);
out:
	json_decref(g);
	return err;
}
