/* fuzz_pkg — libFuzzer target for the package-dict parser: any bytes, read
 * as JSON the way `ckansync put`/`import` read a CKAN dict, go through
 * cks_pkg_validate (each object type), cks_pkg_strip_managed,
 * cks_pkg_add_managed and cks_json_canonical, and two dicts (the input split
 * at its first NUL byte; without one, from nothing to the input) through
 * cks_diff, cks_diff_apply and cks_diff_format. Properties checked (abort
 * = a finding):
 *   - the canonical text parses back to a value with the same canonical text;
 *   - stripping the managed fields is idempotent;
 *   - applying diff(a, b) to a gives b (the diff contract, diff.h) for dicts
 *     that validate, and never crashes for any others;
 *   - no crash, leak or huge allocation (ASan, -malloc_limit_mb). */
#include "diff.h"
#include "pkg.h"

#include <stdlib.h>
#include <string.h>

static json_t *parse(const uint8_t *data, size_t size)
{
	json_error_t je;
	return json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
}

static bool valid_dict(const json_t *d)
{
	char err[256];
	bool ok = false;
	for (int t = CKS_OBJ_PACKAGE; t <= CKS_OBJ_ORGANIZATION; t++)
		ok |= cks_pkg_validate(d, (cks_objtype)t, err, sizeof(err)) == CKS_OK;
	return ok;
}

/* canonical(parse(canonical(v))) == canonical(v) */
static void check_canonical(const json_t *v)
{
	char *c1 = cks_json_canonical(v);
	if (!c1)
		return;
	json_error_t je;
	json_t *back = json_loads(c1, JSON_DECODE_ANY, &je);
	if (!back)
		abort(); /* canonical text that does not parse */
	char *c2 = cks_json_canonical(back);
	if (!c2 || strcmp(c1, c2) != 0)
		abort(); /* not a fixed point */
	free(c2);
	json_decref(back);
	free(c1);
}

static void check_managed(json_t *d)
{
	json_t *s1 = cks_pkg_strip_managed(d);
	if (!s1)
		return;
	json_t *s2 = cks_pkg_strip_managed(s1);
	if (!s2 || !json_equal(s1, s2))
		abort(); /* stripping twice changed something */
	check_canonical(s1);
	if (json_is_object(s1)) {
		json_t *m = json_deep_copy(s1);
		cks_pkg_add_managed(m, "00000000-0000-4000-8000-000000000001", 1700000000000000LL,
		                    1700000000000001LL);
		json_t *s3 = cks_pkg_strip_managed(m);
		if (!s3 || !json_equal(s1, s3))
			abort(); /* add then strip is not the identity */
		json_decref(s3);
		json_decref(m);
	}
	json_decref(s2);
	json_decref(s1);
}

static void check_diff(const json_t *a, const json_t *b)
{
	char err[256];
	json_t *diff = cks_diff(a, b), *out = NULL;
	char *text = cks_diff_format(diff);
	free(text);
	cks_err e = cks_diff_apply(a, diff, &out, err, sizeof(err));
	if (json_is_object(b) && (!a || json_is_object(a)) && valid_dict(b) &&
	    (!a || valid_dict(a))) {
		if (e != CKS_OK || !out || !json_equal(out, (json_t *)b))
			abort(); /* apply(a, diff(a, b)) != b */
	}
	json_decref(out);
	json_decref(diff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	json_t *a = NULL, *b = NULL;
	if (nul) {
		a = parse(data, (size_t)(nul - data));
		b = parse(nul + 1, size - (size_t)(nul - data) - 1);
	} else {
		b = parse(data, size);
	}
	if (a) {
		(void)valid_dict(a);
		check_canonical(a);
		check_managed(a);
	}
	if (b) {
		(void)valid_dict(b);
		check_canonical(b);
		check_managed(b);
		if (!nul || a)
			check_diff(a, b);
	}
	json_decref(a);
	json_decref(b);
	return 0;
}
