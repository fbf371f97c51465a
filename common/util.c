/* util — see util.h. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid.h>

const char *cks_err_name(cks_err err)
{
	switch (err) {
	case CKS_OK:
		return "ok";
	case CKS_ERR_RETRIABLE:
		return "retriable";
	case CKS_ERR_PERMANENT:
		return "permanent";
	case CKS_ERR_FATAL:
		return "fatal";
	case CKS_ERR_NOTFOUND:
		return "not-found";
	case CKS_ERR_UNKNOWN_SCHEMA:
		return "unknown-schema";
	}
	return "unknown";
}

cks_err cks_seterr(char *errstr, size_t errstr_size, cks_err err, const char *fmt, ...)
{
	if (errstr && errstr_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errstr, errstr_size, fmt, ap);
		va_end(ap);
	}
	return err;
}

void cks_uuid_v4(cks_uuid_str out)
{
	uuid_t u;
	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

bool cks_uuid_v5(const char *ns, const void *name, size_t name_len, cks_uuid_str out)
{
	uuid_t nsu, u;
	if (!cks_uuid_valid(ns) || uuid_parse(ns, nsu) != 0)
		return false;
	uuid_generate_sha1(u, nsu, name, name_len);
	uuid_unparse_lower(u, out);
	return true;
}

bool cks_uuid_valid(const char *s)
{
	if (!s || strlen(s) != CKS_UUID_LEN)
		return false;
	for (int i = 0; i < CKS_UUID_LEN; i++) {
		char c = s[i];
		bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
		if (dash ? c != '-'
		         : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		             (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

int64_t cks_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cks_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void cks_time_format(int64_t us, char *out, size_t out_size)
{
	time_t sec = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	long frac = (long)(us - (int64_t)sec * 1000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, out_size, "%s.%06ld", base, frac);
}

bool cks_time_parse(const char *s, int64_t *us)
{
	int y, mo, d, h = 0, mi = 0, n = 0;
	double sec = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return false;
	const char *p = s + n;
	if (*p == 'T' || *p == ' ') {
		int m = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
			return false;
		p += 1 + m;
		if (*p == ':') {
			char *end;
			sec = strtod(p + 1, &end);
			if (end == p + 1)
				return false;
			p = end;
		}
	}
	int off_min = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh = 0, om = 0, m = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) < 1)
			return false;
		off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
		p += 1 + (m ? m : 2);
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec >= 61)
		return false;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	time_t t = timegm(&tm);
	*us = (int64_t)t * 1000000 + (int64_t)(sec * 1000000.0 + 0.5) - (int64_t)off_min * 60000000;
	return true;
}

static void *oom(void *p)
{
	if (!p) {
		fputs("ckansync: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *cks_strdup(const char *s)
{
	return oom(strdup(s ? s : ""));
}

void *cks_malloc(size_t n)
{
	return oom(malloc(n ? n : 1));
}

void *cks_calloc(size_t n, size_t m)
{
	return oom(calloc(n ? n : 1, m ? m : 1));
}

void *cks_realloc(void *p, size_t n)
{
	return oom(realloc(p, n ? n : 1));
}

static void buf_grow(cks_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = cks_realloc(b->data, cap);
	b->cap = cap;
}

void cks_buf_append(cks_buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void cks_buf_appendf(cks_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void cks_buf_reset(cks_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void cks_buf_release(cks_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Well-formed UTF-8 (the Unicode standard's table 3-7): the second byte's
 * range depends on the first (no overlong forms, no surrogates, nothing
 * above U+10FFFF), the others are 80..BF. ASCII goes eight bytes at a time.
 * Every string of every message is checked (Avro decode, JSON text): it was
 * 14 % of the consumer's CPU with a code-point computing loop. */
bool cks_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & 0x8080808080808080ULL)
				break;
			p += 8;
		}
		if (p == end)
			break;
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
		size_t len;
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return false;
		}
		if ((size_t)(end - p) < len || p[1] < lo || p[1] > hi)
			return false;
		for (size_t i = 2; i < len; i++)
			if ((p[i] & 0xC0) != 0x80)
				return false;
		p += len;
	}
	return true;
}
