/* json_fast — see json_fast.h. A recursive-descent reader over the bytes in
 * memory that builds the same jansson values as jansson's parser, and gives
 * up (NULL, no value) on anything it does not read exactly as jansson
 * would: cks_json_loadb then asks jansson. So it must never accept what
 * jansson refuses nor read a value differently; being stricter is only
 * slower. */
#include "json_fast.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
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
