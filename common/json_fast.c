/* json_fast — see json_fast.h. A recursive-descent reader over the bytes in
 * memory that builds the same jansson values as jansson's parser, and gives
 * up (NULL, no value) on anything it does not read exactly as jansson
 * would: cks_json_loadb then asks jansson. So it must never accept what
 * jansson refuses nor read a value differently; being stricter is only
 * slower. The writer appends to one buffer what jansson's dumper writes. */
#include "json_fast.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 512 /* deeper: jansson's (it stops at 2048) */

typedef struct rd {
	const char *p, *end;
	cks_buf tmp; /* strings with escapes */
} rd;

static void ws(rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static int hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* The string at r->p (after its opening quote) into *s and *n (borrowed: the
 * input or r->tmp, valid until the next string). false: give up. */
static bool str(rd *r, const char **s, size_t *n)
{
	const char *start = r->p, *q = start;
	while (q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
		q++;
	if (q < r->end && *q == '"') { /* no escape: the input itself */
		if (!cks_utf8_valid(start, (size_t)(q - start)))
			return false;
		*s = start;
		*n = (size_t)(q - start);
		r->p = q + 1;
		return true;
	}
	cks_buf_reset(&r->tmp);
	cks_buf_append(&r->tmp, start, (size_t)(q - start));
	while (q < r->end) {
		unsigned char c = (unsigned char)*q;
		if (c == '"') {
			if (!cks_utf8_valid(r->tmp.data, r->tmp.len))
				return false;
			*s = r->tmp.data;
			*n = r->tmp.len;
			r->p = q + 1;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			const char *run = q;
			while (q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
				q++;
			cks_buf_append(&r->tmp, run, (size_t)(q - run));
			continue;
		}
		if (++q >= r->end)
			return false;
		char out;
		switch (*q) {
		case '"':
			out = '"';
			break;
		case '\\':
			out = '\\';
			break;
		case '/':
			out = '/';
			break;
		case 'b':
			out = '\b';
			break;
		case 'f':
			out = '\f';
			break;
		case 'n':
			out = '\n';
			break;
		case 'r':
			out = '\r';
			break;
		case 't':
			out = '\t';
			break;
		case 'u': {
			if (r->end - q < 5)
				return false;
			int u = hex4(q + 1);
			if (u < 0 || (u >= 0xD800 && u <= 0xDFFF)) /* surrogates: jansson's */
				return false;
			char b[3];
			size_t k;
			if (u < 0x80) {
				b[0] = (char)u, k = 1;
			} else if (u < 0x800) {
				b[0] = (char)(0xC0 | (u >> 6)), b[1] = (char)(0x80 | (u & 0x3F)),
				k = 2;
			} else {
				b[0] = (char)(0xE0 | (u >> 12)),
				b[1] = (char)(0x80 | ((u >> 6) & 0x3F)),
				b[2] = (char)(0x80 | (u & 0x3F)), k = 3;
			}
			cks_buf_append(&r->tmp, b, k);
			q += 5;
			continue;
		}
		default:
			return false;
		}
		cks_buf_append(&r->tmp, &out, 1);
		q++;
	}
	return false;
}

static bool isdig(char c)
{
	return c >= '0' && c <= '9';
}

/* A number as jansson's lexer reads it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
 * an integer (strtoll) when it has neither fraction nor exponent. */
static json_t *num(rd *r)
{
	const char *s = r->p, *q = s;
	bool real = false;
	if (q < r->end && *q == '-')
		q++;
	if (q < r->end && *q == '0') {
		q++;
		if (q < r->end && isdig(*q))
			return NULL;
	} else if (q < r->end && isdig(*q)) {
		while (q < r->end && isdig(*q))
			q++;
	} else {
		return NULL;
	}
	if (q < r->end && *q == '.') {
		real = true;
		if (++q >= r->end || !isdig(*q))
			return NULL;
		while (q < r->end && isdig(*q))
			q++;
	}
	if (q < r->end && (*q == 'e' || *q == 'E')) {
		real = true;
		q++;
		if (q < r->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= r->end || !isdig(*q))
			return NULL;
		while (q < r->end && isdig(*q))
			q++;
	}
	char buf[64];
	size_t len = (size_t)(q - s);
	if (len >= sizeof(buf))
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *e;
	errno = 0;
	json_t *v;
	if (real) {
		double d = strtod(buf, &e);
		if (errno == ERANGE && (d > 1 || d < -1)) /* overflow: jansson refuses it */
			return NULL;
		v = json_real(d);
	} else {
		long long i = strtoll(buf, &e, 10);
		if (errno == ERANGE)
			return NULL;
		v = json_integer((json_int_t)i);
	}
	if (e != buf + len) {
		json_decref(v);
		return NULL;
	}
	r->p = q;
	return v;
}

static bool word(rd *r, const char *w, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return false;
	r->p += n;
	/* "truex": jansson reads the letters as one word and refuses it */
	return r->p >= r->end ||
	       !((*r->p >= 'a' && *r->p <= 'z') || (*r->p >= 'A' && *r->p <= 'Z'));
}

static json_t *value(rd *r, int depth);

static json_t *object(rd *r, int depth)
{
	json_t *o = json_object();
	ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return o;
	}
	for (;;) {
		const char *k;
		size_t kn;
		if (r->p >= r->end || *r->p != '"')
			break;
		r->p++;
		if (!str(r, &k, &kn) || memchr(k, '\0', kn))
			break;
		char small[128], *key = kn < sizeof(small) ? small : cks_malloc(kn + 1);
		memcpy(key, k, kn); /* r->tmp is reused by the value */
		key[kn] = '\0';
		ws(r);
		json_t *v = NULL;
		if (r->p < r->end && *r->p == ':') {
			r->p++;
			v = value(r, depth + 1);
		}
		if (v && json_object_setn_new_nocheck(o, key, kn, v) != 0)
			v = NULL;
		if (key != small)
			free(key);
		if (!v)
			break;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			ws(r);
			continue;
		}
		if (r->p < r->end && *r->p == '}') {
			r->p++;
			return o;
		}
		break;
	}
	json_decref(o);
	return NULL;
}

static json_t *array(rd *r, int depth)
{
	json_t *a = json_array();
	ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return a;
	}
	for (;;) {
		json_t *v = value(r, depth + 1);
		if (!v || json_array_append_new(a, v) != 0)
			break;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			return a;
		}
		break;
	}
	json_decref(a);
	return NULL;
}

static json_t *value(rd *r, int depth)
{
	if (depth > MAX_DEPTH)
		return NULL;
	ws(r);
	if (r->p >= r->end)
		return NULL;
	switch (*r->p) {
	case '{':
		r->p++;
		return object(r, depth);
	case '[':
		r->p++;
		return array(r, depth);
	case '"': {
		const char *s;
		size_t n;
		r->p++;
		return str(r, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
	}
	case 't':
		return word(r, "true", 4) ? json_true() : NULL;
	case 'f':
		return word(r, "false", 5) ? json_false() : NULL;
	case 'n':
		return word(r, "null", 4) ? json_null() : NULL;
	default:
		return num(r);
	}
}

json_t *cks_json_fast_only(const char *s, size_t n)
{
	rd r = {s, s + n, CKS_BUF_INIT};
	json_t *v = s ? value(&r, 0) : NULL;
	if (v) {
		ws(&r);
		if (r.p != r.end) { /* something after the value: jansson's error */
			json_decref(v);
			v = NULL;
		}
	}
	cks_buf_release(&r.tmp);
	return v;
}

json_t *cks_json_loadb(const char *s, size_t n, json_error_t *err)
{
	json_t *v = cks_json_fast_only(s, n);
	return v ? v : json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, err);
}

/* --- writer ------------------------------------------------------------ */

#define DUMP_MAX_DEPTH 2048 /* jansson's parser stops at 2048 levels too */
#define SORT_ON_STACK  32   /* keys of an object sorted without malloc */
#define DUMP_FIRST_CAP 1024 /* most texts fit: one malloc, from glibc's tcache */

/* cks_buf_append, inline while the piece fits: the writer appends a few
 * bytes at a time and a call per piece was a tenth of its time. Leaves
 * b->data unterminated (cks_json_dumps ends it); a fitting piece keeps
 * len < cap, so the NUL always has room. */
static inline void put(cks_buf *b, const char *p, size_t n)
{
	if (b->len + n < b->cap) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	} else {
		cks_buf_append(b, p, n);
	}
}

/* A string as jansson's dump_string writes it (flags 0): '"' and '\\'
 * escaped, control characters as \b \f \n \r \t or \u00XX, the rest as
 * it is. false: not valid UTF-8 (jansson fails then too). */
static bool dump_str(cks_buf *b, const char *s, size_t n)
{
	if (!cks_utf8_valid(s, n))
		return false;
	put(b, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(b, s + run, i - run);
		run = i + 1;
		char esc[8];
		const char *e = c == '"'    ? "\\\""
		                : c == '\\' ? "\\\\"
		                : c == '\b' ? "\\b"
		                : c == '\f' ? "\\f"
		                : c == '\n' ? "\\n"
		                : c == '\r' ? "\\r"
		                : c == '\t' ? "\\t"
		                            : NULL;
		if (!e) {
			snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)c);
			e = esc;
		}
		put(b, e, strlen(e));
	}
	put(b, s + run, n - run);
	put(b, "\"", 1);
	return true;
}

/* One member of an object; keys may hold NUL bytes (json_object_setn). */
typedef struct member {
	const char *key;
	size_t len;
	const json_t *value;
} member;

/* jansson 2.14's order for JSON_SORT_KEYS (dump.c, compare_keys): memcmp
 * over the shorter key, then the shorter key first (jansson subtracts int
 * lengths: the same sign for keys under 2 GiB). So bytes, never the locale
 * ("B" < "_" < "a" < "é"), and "a" < "a\0" < "a\0b" < "a\1". Keys are
 * unique, so no two members compare equal and qsort's instability is moot. */
static int member_cmp(const void *pa, const void *pb)
{
	const member *a = pa, *b = pb;
	int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

static bool dump_json(cks_buf *b, const json_t *v, int depth, cks_json_dump_flags flags);

static bool dump_member(cks_buf *b, const member *m, bool first, int depth,
                        cks_json_dump_flags flags)
{
	if (!first)
		put(b, ",", 1);
	if (!dump_str(b, m->key, m->len))
		return false;
	put(b, ":", 1);
	return dump_json(b, m->value, depth + 1, flags);
}

/* The members in key order: on the stack for the usual small object, so
 * sorting costs no malloc (jansson mallocs a key list per object). */
static bool dump_sorted(cks_buf *b, const json_t *v, int depth, cks_json_dump_flags flags)
{
	member stack[SORT_ON_STACK], *ms = stack;
	size_t n = json_object_size(v), i = 0;
	bool ok = true;
	if (n > SORT_ON_STACK)
		ms = cks_malloc(n * sizeof(*ms));
	for (void *it = json_object_iter((json_t *)v); it && i < n;
	     it = json_object_iter_next((json_t *)v, it))
		ms[i++] = (member){json_object_iter_key(it), json_object_iter_key_len(it),
		                   json_object_iter_value(it)};
	qsort(ms, i, sizeof(*ms), member_cmp);
	for (size_t k = 0; ok && k < i; k++)
		ok = dump_member(b, &ms[k], k == 0, depth, flags);
	if (ms != stack)
		free(ms);
	return ok;
}

static bool dump_object(cks_buf *b, const json_t *v, int depth, cks_json_dump_flags flags)
{
	bool ok = true;
	put(b, "{", 1);
	if (flags & CKS_JSON_SORT_KEYS) {
		ok = dump_sorted(b, v, depth, flags);
	} else {
		bool first = true;
		for (void *it = json_object_iter((json_t *)v); ok && it;
		     it = json_object_iter_next((json_t *)v, it), first = false) {
			member m = {json_object_iter_key(it), json_object_iter_key_len(it),
			            json_object_iter_value(it)};
			ok = dump_member(b, &m, first, depth, flags);
		}
	}
	put(b, "}", 1);
	return ok;
}

static bool dump_json(cks_buf *b, const json_t *v, int depth, cks_json_dump_flags flags)
{
	char num[32];
	if (depth > DUMP_MAX_DEPTH)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return dump_object(b, v, depth, flags);
	case JSON_ARRAY:
		put(b, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				put(b, ",", 1);
			if (!dump_json(b, json_array_get(v, i), depth + 1, flags))
				return false;
		}
		put(b, "]", 1);
		return true;
	case JSON_STRING:
		return dump_str(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		put(b, num, strlen(num));
		return true;
	case JSON_REAL: { /* rare: jansson's own digits, so the numeric is the same */
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!t)
			return false;
		put(b, t, strlen(t));
		free(t);
		return true;
	}
	case JSON_TRUE:
		put(b, "true", 4);
		return true;
	case JSON_FALSE:
		put(b, "false", 5);
		return true;
	default:
		put(b, "null", 4);
		return true;
	}
}

char *cks_json_dumps(const json_t *v, cks_json_dump_flags flags)
{
	/* growing from cks_buf's first 64 bytes was a fifth of the writer's time */
	cks_buf b = {cks_malloc(DUMP_FIRST_CAP), 0, DUMP_FIRST_CAP};
	if (!v || !dump_json(&b, v, 0, flags)) {
		cks_buf_release(&b);
		return NULL;
	}
	b.data[b.len] = '\0';
	return b.data;
}
