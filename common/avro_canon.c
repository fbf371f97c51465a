/* avro_canon — see avro_canon.h. Parsing Canonical Form per the Avro
 * specification ("Transforming into Parsing Canonical Form"): the schema is
 * parsed with jansson and re-emitted with fullnames, only the attributes that
 * matter for parsing, in the fixed order name, type, fields, symbols, items,
 * values, size, and no whitespace. */
#include "avro_canon.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CANON_MAX_DEPTH 64 /* nesting bound: a hostile schema cannot blow the stack */

static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                         "float", "double",  "bytes", "string"};

static bool is_primitive(const char *s)
{
	for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
		if (strcmp(s, primitives[i]) == 0)
			return true;
	return false;
}

/* Appends s as a JSON string (STRINGS: escapes normalised by jansson; UTF-8 kept). */
static void put_json_string(cks_buf *out, const char *s)
{
	json_t *j = json_string(s);
	char *txt = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	if (txt)
		cks_buf_append(out, txt, strlen(txt));
	free(txt);
	json_decref(j);
}

/* FULLNAMES: fullname of name in enclosing namespace ns (ns may be NULL or ""). */
static char *fullname(const char *name, const char *ns)
{
	if (strchr(name, '.') || !ns || !*ns)
		return cks_strdup(name);
	cks_buf b = CKS_BUF_INIT;
	cks_buf_appendf(&b, "%s.%s", ns, name);
	return b.data;
}

/* Namespace part of a fullname ("a.b.c" -> "a.b"); caller frees. */
static char *namespace_of(const char *full)
{
	const char *dot = strrchr(full, '.');
	return dot ? strndup(full, (size_t)(dot - full)) : cks_strdup("");
}

static bool canon(const json_t *s, const char *ns, int depth, cks_buf *out, char *errstr,
                  size_t errstr_size);

static bool canon_fields(const json_t *fields, const char *ns, int depth, cks_buf *out,
                         char *errstr, size_t errstr_size)
{
	if (!json_is_array(fields)) {
		cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		           "record: fields is not an array");
		return false;
	}
	cks_buf_append(out, ",\"fields\":[", 11);
	for (size_t i = 0; i < json_array_size(fields); i++) {
		const json_t *f = json_array_get(fields, i);
		const char *fname = json_string_value(json_object_get(f, "name"));
		if (!fname || !json_object_get(f, "type")) {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			           "record: field %zu has no name or type", i);
			return false;
		}
		cks_buf_append(out, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
		put_json_string(out, fname);
		cks_buf_append(out, ",\"type\":", 8);
		if (!canon(json_object_get(f, "type"), ns, depth + 1, out, errstr, errstr_size))
			return false;
		cks_buf_append(out, "}", 1);
	}
	cks_buf_append(out, "]", 1);
	return true;
}

/* record, enum, fixed: {"name":full,"type":t,...} */
static bool canon_named(const json_t *s, const char *type, const char *ns, int depth, cks_buf *out,
                        char *errstr, size_t errstr_size)
{
	const char *name = json_string_value(json_object_get(s, "name"));
	if (!name) {
		cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: missing name", type);
		return false;
	}
	const char *own_ns = json_string_value(json_object_get(s, "namespace"));
	char *full = fullname(name, own_ns ? own_ns : ns);
	char *inner_ns = namespace_of(full);
	bool ok = false;
	cks_buf_append(out, "{\"name\":", 8);
	put_json_string(out, full);
	cks_buf_append(out, ",\"type\":", 8);
	put_json_string(out, type);
	if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
		if (!canon_fields(json_object_get(s, "fields"), inner_ns, depth, out, errstr,
		                  errstr_size))
			goto out;
	} else if (strcmp(type, "enum") == 0) {
		const json_t *syms = json_object_get(s, "symbols");
		if (!json_is_array(syms)) {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "enum: no symbols");
			goto out;
		}
		cks_buf_append(out, ",\"symbols\":[", 12);
		for (size_t i = 0; i < json_array_size(syms); i++) {
			const char *sym = json_string_value(json_array_get(syms, i));
			if (!sym) {
				cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				           "enum: symbol %zu is not a string", i);
				goto out;
			}
			if (i)
				cks_buf_append(out, ",", 1);
			put_json_string(out, sym);
		}
		cks_buf_append(out, "]", 1);
	} else { /* fixed; INTEGERS: plain decimal */
		const json_t *size = json_object_get(s, "size");
		if (!json_is_integer(size) || json_integer_value(size) < 0) {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "fixed: bad size");
			goto out;
		}
		cks_buf_appendf(out, ",\"size\":%lld", (long long)json_integer_value(size));
	}
	cks_buf_append(out, "}", 1);
	ok = true;
out:
	free(full);
	free(inner_ns);
	return ok;
}

static bool canon_object(const json_t *s, const char *ns, int depth, cks_buf *out, char *errstr,
                         size_t errstr_size)
{
	const json_t *type = json_object_get(s, "type");
	if (!json_is_string(type)) /* {"type": {...}} or {"type": [...]}: same as the inner one */
		return type && canon(type, ns, depth + 1, out, errstr, errstr_size);
	const char *t = json_string_value(type);
	if (is_primitive(t)) { /* PRIMITIVES; STRIP drops logicalType and friends */
		put_json_string(out, t);
		return true;
	}
	if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
		bool arr = t[0] == 'a';
		const json_t *inner = json_object_get(s, arr ? "items" : "values");
		if (!inner) {
			cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: no %s", t,
			           arr ? "items" : "values");
			return false;
		}
		cks_buf_appendf(out, "{\"type\":\"%s\",\"%s\":", t, arr ? "items" : "values");
		if (!canon(inner, ns, depth + 1, out, errstr, errstr_size))
			return false;
		cks_buf_append(out, "}", 1);
		return true;
	}
	if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0 || strcmp(t, "enum") == 0 ||
	    strcmp(t, "fixed") == 0)
		return canon_named(s, t, ns, depth, out, errstr, errstr_size);
	/* {"type":"some.Name"}: a reference */
	char *full = fullname(t, ns);
	put_json_string(out, full);
	free(full);
	return true;
}

static bool canon(const json_t *s, const char *ns, int depth, cks_buf *out, char *errstr,
                  size_t errstr_size)
{
	if (depth > CANON_MAX_DEPTH) {
		cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "schema nested too deeply");
		return false;
	}
	if (json_is_string(s)) {
		const char *t = json_string_value(s);
		char *full = is_primitive(t) ? cks_strdup(t) : fullname(t, ns);
		put_json_string(out, full);
		free(full);
		return true;
	}
	if (json_is_array(s)) { /* union */
		cks_buf_append(out, "[", 1);
		for (size_t i = 0; i < json_array_size(s); i++) {
			if (i)
				cks_buf_append(out, ",", 1);
			if (!canon(json_array_get(s, i), ns, depth + 1, out, errstr, errstr_size))
				return false;
		}
		cks_buf_append(out, "]", 1);
		return true;
	}
	if (json_is_object(s))
		return canon_object(s, ns, depth, out, errstr, errstr_size);
	cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
	           "schema is not a string, array or object");
	return false;
}

char *cks_avro_canonical(const char *schema_json, char *errstr, size_t errstr_size)
{
	json_error_t jerr;
	json_t *s = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
	cks_buf out = CKS_BUF_INIT;
	if (!s) {
		cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "schema JSON: %s (line %d)",
		           jerr.text, jerr.line);
		return NULL;
	}
	if (!canon(s, "", 0, &out, errstr, errstr_size)) {
		cks_buf_release(&out);
		json_decref(s);
		return NULL;
	}
	json_decref(s);
	if (!out.data) /* cannot happen for a valid schema, but never return NULL on success */
		cks_buf_append(&out, "", 0);
	return out.data;
}

/* The spec's Rabin fingerprint, bitwise (no table: no global state, and we
 * only fingerprint a handful of schemas at start-up). */
uint64_t cks_avro_crc64(const void *data, size_t len)
{
	const uint64_t empty = 0xc15d213aa4d7a795ULL;
	const unsigned char *p = data;
	uint64_t fp = empty;
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (fp ^ p[i]) & 0xff;
		for (int k = 0; k < 8; k++)
			x = (x >> 1) ^ (empty & (0 - (x & 1)));
		fp = (fp >> 8) ^ x;
	}
	return fp;
}
