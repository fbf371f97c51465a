/* Unit tests for common/merge: policies (parse, format, symmetric), merge
 * ids, a table case per merge rule (and the seed's Pkg1Rev2/Rev4/Rev5
 * story), and property tests over seeded random edits of the real datasets:
 * identities, symmetry, and conflicts exactly where an oracle built from the
 * two diffs says both sides changed the same field to different values. */
#include "harness.h"
#include "diff.h"
#include "merge.h"
#include "pkg.h"
#include "pkgdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OBJREV_A "aaaaaaaa-0000-4000-8000-000000000000"
#define OBJREV_B "bbbbbbbb-0000-4000-8000-000000000000"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, &e) : NULL;
	if (text && !v)
		fail_msg("bad test JSON %s: %s", text, e.text);
	return v;
}

static void test_policy_parse(void **state)
{
	struct {
		const char *in, *canon;
		bool ok, symmetric;
	} cases[] = {
	    {"newest-wins", "newest-wins", true, true},
	    {"local-wins", "local-wins", true, false},
	    {"remote-wins", "remote-wins", true, false},
	    {"origin-priority:A,B,C", "origin-priority:A,B,C", true, true},
	    {"origin-priority", "origin-priority", true, true},
	    {"origin-priority:", "origin-priority", true, true},
	    {"origin-priority:A,,B", NULL, false, false},
	    {"origin-priority:A,B,", NULL, false, false},
	    {"origin-priority:A,A", NULL, false, false},
	    {"origin-priorityX", NULL, false, false},
	    {"oldest-wins", NULL, false, false},
	    {"", NULL, false, false},
	    {NULL, NULL, false, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cks_policy p;
		char err[200] = "", name[400];
		cks_err rc = cks_policy_parse(cases[i].in, &p, err, sizeof(err));
		assert_int_equal(rc, cases[i].ok ? CKS_OK : CKS_ERR_PERMANENT);
		if (!cases[i].ok) {
			assert_non_null(strstr(err, "policy"));
			continue;
		}
		cks_policy_format(&p, name, sizeof(name));
		assert_string_equal(name, cases[i].canon);
		assert_int_equal(cks_policy_symmetric(&p), cases[i].symmetric);
	}
}

static void test_merge_id(void **state)
{
	cks_uuid_str a, b;
	cks_merge_id("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
	             a);
	cks_merge_id("22222222-2222-4222-8222-222222222222", "11111111-1111-4111-8111-111111111111",
	             b);
	assert_string_equal(a, b);
	/* Python: uuid5(UUID("db516fca-6c86-5c89-87be-aafa1a738db7"), "1111...,2222...") */
	assert_string_equal(a, "25b79186-2d42-545c-ab87-17c9ccf3351c");
	assert_int_equal(a[14], '5');
}

/* One merge; returns merged canonical text and "path=chosen;..." of conflicts. */
static void run_merge(const char *base, const char *local, const char *remote, const char *policy,
                      const char *lorigin, int64_t lts, char **merged, char **conflicts)
{
	cks_policy p;
	char err[256] = "";
	assert_int_equal(cks_policy_parse(policy, &p, err, sizeof(err)), CKS_OK);
	json_t *b = J(base), *l = J(local), *r = J(remote);
	cks_merge_side ls = {l, lorigin, lts, OBJREV_B};
	cks_merge_side rs = {r, "A", 1000, OBJREV_A};
	cks_merge_result res = CKS_MERGE_RESULT_INIT;
	if (cks_merge(b, &ls, &rs, &p, &res, err, sizeof(err)) != CKS_OK)
		fail_msg("merge: %s", err);
	*merged = cks_json_canonical(res.merged);
	cks_buf cb = CKS_BUF_INIT;
	cks_buf_append(&cb, "", 0);
	for (size_t i = 0; i < res.nconflicts; i++) {
		char *v = res.conflicts[i].chosen ? cks_json_canonical(res.conflicts[i].chosen)
		                                  : cks_strdup("-");
		cks_buf_appendf(&cb, "%s%s=%s(%s)", i ? ";" : "", res.conflicts[i].path, v,
		                res.conflicts[i].reason);
		free(v);
	}
	*conflicts = cb.data;
	cks_merge_result_release(&res);
	json_decref(b);
	json_decref(l);
	json_decref(r);
}

/* Local is origin B (objrev bbbb, time 2000 unless stated), remote origin A
 * (objrev aaaa, time 1000). */
static void test_merge_table(void **state)
{
	struct {
		const char *name, *base, *local, *remote, *policy, *merged, *conflicts;
	} cases[] = {
	    {"scalar one side", "{\"title\":\"t\",\"notes\":\"n\"}",
	     "{\"title\":\"T\",\"notes\":\"n\"}", "{\"title\":\"t\",\"notes\":\"N\"}", "local-wins",
	     "{\"notes\":\"N\",\"title\":\"T\"}", ""},
	    {"scalar both same", "{\"title\":\"t\"}", "{\"title\":\"X\"}", "{\"title\":\"X\"}",
	     "remote-wins", "{\"title\":\"X\"}", ""},
	    {"scalar conflict, local-wins", "{\"title\":\"t\"}", "{\"title\":\"L\"}",
	     "{\"title\":\"R\"}", "local-wins", "{\"title\":\"L\"}", "title=\"L\"(both changed)"},
	    {"scalar conflict, remote-wins", "{\"title\":\"t\"}", "{\"title\":\"L\"}",
	     "{\"title\":\"R\"}", "remote-wins", "{\"title\":\"R\"}", "title=\"R\"(both changed)"},
	    {"origin-priority: A first", "{\"title\":\"t\"}", "{\"title\":\"L\"}",
	     "{\"title\":\"R\"}", "origin-priority:A,B", "{\"title\":\"R\"}",
	     "title=\"R\"(both changed)"},
	    {"origin-priority: B first", "{\"title\":\"t\"}", "{\"title\":\"L\"}",
	     "{\"title\":\"R\"}", "origin-priority:B,A", "{\"title\":\"L\"}",
	     "title=\"L\"(both changed)"},
	    {"origin-priority: unlisted ranks last", "{\"title\":\"t\"}", "{\"title\":\"L\"}",
	     "{\"title\":\"R\"}", "origin-priority:B", "{\"title\":\"L\"}",
	     "title=\"L\"(both changed)"},
	    {"origin-priority: none listed, smaller objrev id", "{\"title\":\"t\"}",
	     "{\"title\":\"L\"}", "{\"title\":\"R\"}", "origin-priority:C", "{\"title\":\"R\"}",
	     "title=\"R\"(both changed)"},
	    {"newest-wins", "{\"title\":\"t\"}", "{\"title\":\"L\"}", "{\"title\":\"R\"}",
	     "newest-wins", "{\"title\":\"L\"}", "title=\"L\"(both changed)"},
	    {"unknown keys per key", "{\"x\":1,\"y\":1,\"z\":{\"a\":[1]}}", "{\"x\":2,\"y\":1}",
	     "{\"x\":1,\"y\":1,\"z\":{\"a\":[1]},\"w\":null}", "local-wins",
	     "{\"w\":null,\"x\":2,\"y\":1}", ""},
	    {"unknown key delete-modify", "{\"x\":1}", "{}", "{\"x\":2}", "remote-wins",
	     "{\"x\":2}", "x=2(delete-modify)"},
	    {"unknown key both added", "{}", "{\"x\":1}", "{\"x\":2}", "local-wins", "{\"x\":1}",
	     "x=1(both added)"},
	    {"tags as sets", "{\"tags\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}",
	     "{\"tags\":[{\"name\":\"b\"},{\"name\":\"c\"},{\"name\":\"x\"}]}",
	     "{\"tags\":[{\"name\":\"a\"},{\"name\":\"c\"},{\"name\":\"y\"}]}", "local-wins",
	     "{\"tags\":[{\"name\":\"c\"},{\"name\":\"x\"},{\"name\":\"y\"}]}", ""},
	    {"groups as sets", "{\"groups\":[{\"name\":\"g1\"}]}", "{\"groups\":[]}",
	     "{\"groups\":[{\"name\":\"g1\"},{\"name\":\"g2\"}]}", "remote-wins",
	     "{\"groups\":[{\"name\":\"g2\"}]}", ""},
	    {"extras per key",
	     "{\"extras\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"b\",\"value\":\"1\"}]}",
	     "{\"extras\":[{\"key\":\"a\",\"value\":\"2\"},{\"key\":\"b\",\"value\":\"L\"}]}",
	     "{\"extras\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"b\",\"value\":\"R\"},{"
	     "\"key\":\"c\",\"value\":\"3\"}]}",
	     "remote-wins",
	     "{\"extras\":[{\"key\":\"a\",\"value\":\"2\"},{\"key\":\"b\",\"value\":\"R\"},{"
	     "\"key\":\"c\",\"value\":\"3\"}]}",
	     "extras.b={\"key\":\"b\",\"value\":\"R\"}(both changed)"},
	    {"resources per field, new from both sides",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"u\",\"name\":\"n\"}]}",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"U\",\"name\":\"n\"},{\"id\":\"rl\"}]}",
	     "{\"resources\":[{\"id\":\"rr\"},{\"id\":\"r1\",\"url\":\"u\",\"name\":\"N\"}]}",
	     "local-wins",
	     "{\"resources\":[{\"id\":\"rr\"},{\"id\":\"r1\",\"name\":\"N\",\"url\":\"U\"},{\"id\":"
	     "\"rl\"}]}",
	     ""},
	    {"resource field conflict", "{\"resources\":[{\"id\":\"r1\",\"url\":\"u\"}]}",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"L\"}]}",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"R\"}]}", "origin-priority:A",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"R\"}]}",
	     "resources.r1.url=\"R\"(both changed)"},
	    {"resource delete-modify",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"u\"},{\"id\":\"r2\"}]}",
	     "{\"resources\":[{\"id\":\"r2\"}]}",
	     "{\"resources\":[{\"id\":\"r1\",\"url\":\"R\"},{\"id\":\"r2\"}]}", "local-wins",
	     "{\"resources\":[{\"id\":\"r2\"}]}", "resources.r1=-(delete-modify)"},
	    {"resource deleted both sides", "{\"resources\":[{\"id\":\"r1\"},{\"id\":\"r2\"}]}",
	     "{\"resources\":[{\"id\":\"r2\"}]}", "{\"resources\":[{\"id\":\"r2\"}]}", "local-wins",
	     "{\"resources\":[{\"id\":\"r2\"}]}", ""},
	    {"resources reordered on one side, added on other",
	     "{\"resources\":[{\"id\":\"r1\"},{\"id\":\"r2\"}]}",
	     "{\"resources\":[{\"id\":\"r2\"},{\"id\":\"r1\"}]}",
	     "{\"resources\":[{\"id\":\"r1\"},{\"id\":\"r3\"},{\"id\":\"r2\"}]}", "local-wins",
	     "{\"resources\":[{\"id\":\"r2\"},{\"id\":\"r1\"},{\"id\":\"r3\"}]}", ""},
	    {"object deleted locally, modified remotely", "{\"title\":\"t\"}", NULL,
	     "{\"title\":\"R\"}", "local-wins", "null", "=-(delete-modify)"},
	    {"object deleted locally, untouched remotely", "{\"title\":\"t\"}", NULL,
	     "{\"title\":\"t\"}", "remote-wins", "null", ""},
	    {"no base: every difference conflicts", NULL,
	     "{\"name\":\"p\",\"title\":\"L\",\"tags\":[{\"name\":\"a\"}]}",
	     "{\"name\":\"p\",\"title\":\"R\",\"tags\":[{\"name\":\"a\"},{\"name\":\"b\"}]}",
	     "local-wins", "{\"name\":\"p\",\"tags\":[{\"name\":\"a\"}],\"title\":\"L\"}",
	     "tags.b=-(no common ancestor);title=\"L\"(no common ancestor)"},
	    /* The seed: base Pkg1Rev2; A made Rev3+Rev4 (title, tag "sea", url),
	     * B made Rev5 (notes, tag "coast", url). A has priority. */
	    {"seed Pkg1Rev2/Rev4/Rev5 -> Rev6",
	     "{\"name\":\"pkg1\",\"title\":\"Pkg "
	     "1\",\"notes\":\"n\",\"url\":\"http://a/1\",\"tags\":[{\"name\":\"water\"}]}",
	     "{\"name\":\"pkg1\",\"title\":\"Pkg 1\",\"notes\":\"Notes from "
	     "B\",\"url\":\"http://b/1\",\"tags\":[{\"name\":\"water\"},{\"name\":\"coast\"}]}",
	     "{\"name\":\"pkg1\",\"title\":\"Package "
	     "One\",\"notes\":\"n\",\"url\":\"http://a/"
	     "one\",\"tags\":[{\"name\":\"water\"},{\"name\":\"sea\"}]}",
	     "origin-priority:A,B",
	     "{\"name\":\"pkg1\",\"notes\":\"Notes from "
	     "B\",\"tags\":[{\"name\":\"water\"},{\"name\":\"sea\"},{\"name\":\"coast\"}],"
	     "\"title\":\"Package One\",\"url\":\"http://a/one\"}",
	     "url=\"http://a/one\"(both changed)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *merged, *conflicts;
		run_merge(cases[i].base, cases[i].local, cases[i].remote, cases[i].policy, "B",
		          2000, &merged, &conflicts);
		if (strcmp(merged, cases[i].merged) != 0 ||
		    strcmp(conflicts, cases[i].conflicts) != 0)
			fail_msg("case '%s':\n merged    %s\n want      %s\n conflicts %s\n want   "
			         "   %s",
			         cases[i].name, merged, cases[i].merged, conflicts,
			         cases[i].conflicts);
		free(merged);
		free(conflicts);
	}
}

static void test_merge_newest_ties(void **state)
{
	struct {
		const char *lorigin;
		int64_t lts;
		const char *merged;
	} cases[] = {
	    {"B", 500, "{\"title\":\"R\"}"},  /* remote newer */
	    {"B", 1000, "{\"title\":\"R\"}"}, /* same time: origin A < B */
	    {"0", 1000, "{\"title\":\"L\"}"}, /* same time: origin 0 < A */
	    {"A", 1000, "{\"title\":\"R\"}"}, /* same time, same origin: objrev aaaa < bbbb */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *merged, *conflicts;
		run_merge("{\"title\":\"t\"}", "{\"title\":\"L\"}", "{\"title\":\"R\"}",
		          "newest-wins", cases[i].lorigin, cases[i].lts, &merged, &conflicts);
		assert_string_equal(merged, cases[i].merged);
		free(merged);
		free(conflicts);
	}
}

static void test_merge_bad_input(void **state)
{
	cks_policy p = {CKS_POLICY_LOCAL_WINS, 0, {{0}}};
	json_t *arr = json_array();
	cks_merge_side ok = {NULL, "A", 0, OBJREV_A}, bad = {arr, "B", 0, OBJREV_B};
	cks_merge_result res = CKS_MERGE_RESULT_INIT;
	char err[200];
	assert_int_equal(cks_merge(NULL, &ok, &bad, &p, &res, err, sizeof(err)), CKS_ERR_PERMANENT);
	assert_non_null(strstr(err, "remote"));
	assert_int_equal(cks_merge(NULL, &ok, NULL, &p, &res, err, sizeof(err)), CKS_ERR_PERMANENT);
	cks_merge_result_release(&res);
	cks_merge_result_release(NULL);
	json_decref(arr);
}

/* ---- property tests ---------------------------------------------------- */

/* Expected conflict paths from diff(b,x) and diff(b,y) alone: a path both
 * diffs touch with different results, or a resource one side removed and
 * the other changed inside. Order ops are not fields. Sorted, ';'-joined. */
static char *oracle(const json_t *b, const json_t *dx, const json_t *dy)
{
	json_t *mx = json_object(), *my = json_object(), *paths = json_object();
	json_t *maps[2] = {mx, my};
	const json_t *diffs[2] = {dx, dy};
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < json_array_size(diffs[s]); i++) {
			const json_t *op = json_array_get(diffs[s], i);
			const json_t *path = json_object_get(op, "path");
			const char *p0 = json_string_value(json_array_get(path, 0));
			const char *kf = cks_diff_list_key(p0);
			if (json_array_size(path) == 1 && kf &&
			    strcmp(json_string_value(json_object_get(op, "op")), "change") == 0 &&
			    cks_diff_keyable(json_object_get(b, p0), kf))
				continue; /* order op */
			cks_buf ps = CKS_BUF_INIT;
			for (size_t j = 0; j < json_array_size(path); j++)
				cks_buf_appendf(&ps, "%s%s", j ? "." : "",
				                json_string_value(json_array_get(path, j)));
			json_t *nv = json_object_get(op, "new");
			json_object_set_new(maps[s], ps.data,
			                    nv ? json_pack("[O]", nv) : json_array());
			cks_buf_release(&ps);
		}
	const char *k;
	json_t *v;
	json_object_foreach(mx, k, v)
	{
		json_t *w = json_object_get(my, k);
		if (w && !json_equal(v, w))
			json_object_set_new(paths, k, json_true());
	}
	for (int s = 0; s < 2; s++) /* resource removed on one side, changed inside on the other */
		json_object_foreach(maps[s], k, v)
		{
			if (strncmp(k, "resources.", 10) || strchr(k + 10, '.') ||
			    json_array_size(v))
				continue;
			size_t n = strlen(k);
			const char *k2;
			json_t *v2;
			json_object_foreach(maps[1 - s], k2,
			                    v2) if (strncmp(k2, k, n) == 0 && k2[n] == '.')
			    json_object_set_new(paths, k, json_true());
		}
	size_t n;
	const char **keys = cks_diff_union_keys(paths, NULL, NULL, &n);
	cks_buf out = CKS_BUF_INIT;
	cks_buf_append(&out, "", 0);
	for (size_t i = 0; i < n; i++)
		cks_buf_appendf(&out, "%s%s", i ? ";" : "", keys[i]);
	free(keys);
	json_decref(mx);
	json_decref(my);
	json_decref(paths);
	return out.data;
}

static char *conflict_paths(const cks_merge_result *r, bool with_chosen)
{
	cks_buf out = CKS_BUF_INIT;
	cks_buf_append(&out, "", 0);
	for (size_t i = 0; i < r->nconflicts; i++) {
		cks_buf_appendf(&out, "%s%s", i ? ";" : "", r->conflicts[i].path);
		if (with_chosen) {
			char *c = cks_json_canonical(r->conflicts[i].chosen);
			cks_buf_appendf(&out, "=%s", r->conflicts[i].chosen ? c : "-");
			free(c);
		}
	}
	return out.data;
}

typedef struct prop_case {
	const json_t *b, *x, *y;
	cks_merge_side sx, sy;
	cks_policy pol;
	unsigned long long id; /* case number, for messages */
} prop_case;

static cks_merge_result must_merge(const prop_case *c, const json_t *base, const json_t *l,
                                   const json_t *r, bool swap)
{
	cks_merge_side ls = swap ? c->sy : c->sx, rs = swap ? c->sx : c->sy;
	ls.state = l;
	rs.state = r;
	cks_merge_result res = CKS_MERGE_RESULT_INIT;
	char err[256];
	if (cks_merge(base, &ls, &rs, &c->pol, &res, err, sizeof(err)) != CKS_OK)
		fail_msg("case %llu: merge failed: %s", c->id, err);
	return res;
}

/* merge(b, l, r) must be `want` with no conflict. */
static void check_identity(const prop_case *c, const json_t *l, const json_t *r, const json_t *want,
                           const char *what)
{
	cks_merge_result res = must_merge(c, c->b, l, r, false);
	if (!json_equal(res.merged, (json_t *)want) || res.nconflicts) {
		char *cp = conflict_paths(&res, false);
		fail_msg("case %llu: %s broken (%zu conflicts: %s)", c->id, what, res.nconflicts,
		         cp);
	}
	cks_merge_result_release(&res);
}

static void check_case(const prop_case *c, size_t *nconf)
{
	check_identity(c, c->x, c->b, c->x, "merge(b,x,b)=x");
	check_identity(c, c->b, c->y, c->y, "merge(b,b,y)=y");
	check_identity(c, c->x, c->x, c->x, "merge(b,x,x)=x");
	cks_merge_result xy = must_merge(c, c->b, c->x, c->y, false);
	json_t *dx = cks_diff(c->b, c->x), *dy = cks_diff(c->b, c->y);
	char *want = oracle(c->b, dx, dy), *got = conflict_paths(&xy, false);
	if (strcmp(want, got) != 0)
		fail_msg("case %llu: conflicts %s, oracle says %s", c->id, got, want);
	*nconf += xy.nconflicts;
	for (size_t i = 0; i < xy.nconflicts; i++) { /* chosen is one of the sides */
		const cks_merge_conflict *k = &xy.conflicts[i];
		if (!(k->chosen ? (k->local && json_equal(k->chosen, k->local)) ||
		                      (k->remote && json_equal(k->chosen, k->remote))
		                : !k->local || !k->remote))
			fail_msg("case %llu: %s chosen is neither side", c->id, k->path);
	}
	if (cks_policy_symmetric(&c->pol)) {
		cks_merge_result yx = must_merge(c, c->b, c->y, c->x, true);
		char *m1 = cks_json_canonical(xy.merged), *m2 = cks_json_canonical(yx.merged);
		char *c1 = conflict_paths(&xy, true), *c2 = conflict_paths(&yx, true);
		if (strcmp(m1, m2) != 0 || strcmp(c1, c2) != 0)
			fail_msg("case %llu: not symmetric\n %.300s\n %.300s\n %s\n %s", c->id, m1,
			         m2, c1, c2);
		assert_string_equal(xy.merge_id, yx.merge_id);
		free(m1), free(m2), free(c1), free(c2);
		cks_merge_result_release(&yx);
	}
	free(want);
	free(got);
	json_decref(dx);
	json_decref(dy);
	cks_merge_result_release(&xy);
}

static void random_side(cks_merge_side *s, uint64_t *rng, char *objrev)
{
	static const char *const origins[] = {"A", "B", "C"};
	s->origin = PD_POOL(rng, origins);
	s->timestamp_us = (int64_t)pd_pick(rng, 2); /* ties are common */
	cks_uuid_str u;
	char name[32];
	snprintf(name, sizeof(name), "%llu", (unsigned long long)pd_rand(rng));
	assert_true(cks_uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", name, strlen(name), u));
	memcpy(objrev, u, sizeof(u));
	s->objrev_id = objrev;
}

static void test_merge_properties(void **state)
{
	json_t *all;
	PD_LOAD_OR_SKIP(all, 300);
	const char *e = getenv("CKS_SEED"), *ne = getenv("CKS_MERGE_CASES");
	uint64_t seed = e ? strtoull(e, NULL, 0) : 20240501, rng = seed;
	size_t ncases = ne ? strtoul(ne, NULL, 0) : 2500, nconf = 0;
	print_message("test_merge seed %llu, %zu cases (override with CKS_SEED, CKS_MERGE_CASES)\n",
	              (unsigned long long)seed, ncases);
	static const char *const policies[] = {"origin-priority:A,B", "origin-priority:C",
	                                       "newest-wins", "local-wins", "remote-wins"};
	for (size_t i = 0; i < ncases; i++) {
		prop_case c;
		char ox[40], oy[40], err[200];
		c.id = i;
		json_t *d = json_array_get(all, pd_pick(&rng, json_array_size(all)));
		json_t *b = pd_mutate(d, &rng, 2), *x = pd_mutate(b, &rng, 6),
		       *y = pd_mutate(b, &rng, 6);
		c.b = b, c.x = x, c.y = y;
		random_side(&c.sx, &rng, ox);
		random_side(&c.sy, &rng, oy);
		assert_int_equal(
		    cks_policy_parse(PD_POOL(&rng, policies), &c.pol, err, sizeof(err)), CKS_OK);
		check_case(&c, &nconf);
		json_decref(b);
		json_decref(x);
		json_decref(y);
	}
	print_message("merge: %zu cases, %zu conflicts checked against the oracle\n", ncases,
	              nconf);
	assert_true(nconf > ncases / 10); /* the generator does make conflicts */
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_parse),    cmocka_unit_test(test_merge_id),
	    cmocka_unit_test(test_merge_table),     cmocka_unit_test(test_merge_newest_ties),
	    cmocka_unit_test(test_merge_bad_input), cmocka_unit_test(test_merge_properties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
