/* Unit tests for common/util: UUIDs, time, UTF-8, buffers, error strings. */
#include "harness.h"
#include "util.h"
#include <string.h>

static void test_uuid_valid(void **state)
{
	struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"6fb6dd5c-5886-4d2b-8d73-c8f2eacfc851", true},
	    {"6FB6DD5C-5886-4D2B-8D73-C8F2EACFC851", true},
	    {"6fb6dd5c-5886-4d2b-8d73-c8f2eacfc85", false},
	    {"6fb6dd5c-5886-4d2b-8d73-c8f2eacfc8511", false},
	    {"6fb6dd5cx5886-4d2b-8d73-c8f2eacfc851", false},
	    {"6fb6dd5c-5886-4d2b-8d73-c8f2eacfc85g", false},
	    {"", false},
	    {NULL, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(cks_uuid_valid(cases[i].s), cases[i].ok);
	cks_uuid_str a, b;
	cks_uuid_v4(a);
	cks_uuid_v4(b);
	assert_true(cks_uuid_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
}

static void test_uuid_v5(void **state)
{
	/* RFC 4122 appendix / Python uuid.uuid5(NAMESPACE_DNS, "python.org") */
	cks_uuid_str out;
	assert_true(cks_uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", 10, out));
	assert_string_equal(out, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
	assert_false(cks_uuid_v5("not-a-uuid", "x", 1, out));
}

static void test_time_roundtrip(void **state)
{
	struct {
		const char *in;
		int64_t us;
		bool ok;
	} cases[] = {
	    {"1970-01-01T00:00:00", 0, true},
	    {"2015-10-26T14:35:13.330636", 1445870113330636LL, true},
	    {"2015-10-26T14:35:13.330636Z", 1445870113330636LL, true},
	    {"2015-10-26T16:35:13.330636+02:00", 1445870113330636LL, true},
	    {"2015-10-26", 1445817600000000LL, true},
	    {"2015-13-26", 0, false},
	    {"yesterday", 0, false},
	    {"2015-10-26T14:35:13junk", 0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t us = -1;
		bool ok = cks_time_parse(cases[i].in, &us);
		assert_int_equal(ok, cases[i].ok);
		if (ok)
			assert_int_equal(us, cases[i].us);
	}
	char buf[40];
	cks_time_format(1445870113330636LL, buf, sizeof(buf));
	assert_string_equal(buf, "2015-10-26T14:35:13.330636");
}

static void test_utf8(void **state)
{
	struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"plain", true},
	    {"\xe6\x9c\xac\xe5\xa0\xb1\xe5\x91\x8a", true}, /* 本報告 */
	    {"\xf0\x9f\x98\x80", true},                     /* emoji */
	    {"\xc0\xaf", false},                            /* overlong */
	    {"\xed\xa0\x80", false},                        /* surrogate */
	    {"\xe6\x9c", false},                            /* truncated */
	    {"\xff", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(cks_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok);
}

/* The definition, slowly: decode each sequence's code point, reject
 * overlong forms, surrogates and anything above U+10FFFF. */
static bool utf8_reference(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	while (p < end) {
		unsigned c = *p;
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			len = 2, cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3, cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4, cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += len;
	}
	return true;
}

/* cks_utf8_valid agrees with the definition on every string of up to three
 * bytes, on every four-byte string whose last two bytes are continuation
 * bytes or ASCII, and on each of those placed after 1..9 ASCII bytes (the
 * word-at-a-time ASCII path, and a sequence cut at the end). */
static void test_utf8_exhaustive(void **state)
{
	unsigned char b[16];
	for (uint32_t v = 0; v < (1u << 24); v++) {
		b[0] = (unsigned char)(v >> 16), b[1] = (unsigned char)(v >> 8),
		b[2] = (unsigned char)v;
		for (size_t n = 1; n <= 3; n++)
			if (cks_utf8_valid((const char *)b, n) != utf8_reference(b, n))
				fail_msg("%zu bytes %02x %02x %02x", n, b[0], b[1], b[2]);
	}
	static const unsigned char tail[] = {0x41, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0};
	for (uint32_t v = 0; v < (1u << 16); v++)
		for (size_t i = 0; i < sizeof(tail); i++)
			for (size_t j = 0; j < sizeof(tail); j++) {
				b[0] = (unsigned char)(v >> 8), b[1] = (unsigned char)v;
				b[2] = tail[i], b[3] = tail[j];
				if (cks_utf8_valid((const char *)b, 4) != utf8_reference(b, 4))
					fail_msg("4 bytes %02x %02x %02x %02x", b[0], b[1], b[2],
					         b[3]);
			}
	for (size_t pre = 1; pre <= 9; pre++)
		for (uint32_t v = 0; v < (1u << 16); v += 7) {
			memset(b, 'a', pre);
			b[pre] = (unsigned char)(v >> 8), b[pre + 1] = (unsigned char)v,
			b[pre + 2] = 0x80;
			for (size_t n = pre; n <= pre + 3; n++)
				if (cks_utf8_valid((const char *)b, n) != utf8_reference(b, n))
					fail_msg("%zu ASCII then %02x %02x 80, %zu bytes", pre,
					         b[pre], b[pre + 1], n);
		}
	(void)state;
}

static void test_buf_and_err(void **state)
{
	cks_buf b = CKS_BUF_INIT;
	for (int i = 0; i < 1000; i++)
		cks_buf_appendf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.data));
	assert_memory_equal(b.data, "0,1,2,", 6);
	cks_buf_reset(&b);
	assert_int_equal(b.len, 0);
	cks_buf_release(&b);
	cks_buf_release(NULL);
	char err[32];
	assert_int_equal(cks_seterr(err, sizeof(err), CKS_ERR_PERMANENT, "bad %s", "thing"),
	                 CKS_ERR_PERMANENT);
	assert_string_equal(err, "bad thing");
	assert_string_equal(cks_err_name(CKS_ERR_RETRIABLE), "retriable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uuid_valid),      cmocka_unit_test(test_uuid_v5),
	    cmocka_unit_test(test_time_roundtrip),  cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_utf8_exhaustive), cmocka_unit_test(test_buf_and_err),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
