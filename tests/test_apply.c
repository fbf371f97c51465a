/* Unit tests for common/apply: the shape checks made before anything is
 * looked up (no database needed: a message they reject never reaches the
 * store, which is NULL here). The apply rules themselves are tested against
 * PostgreSQL in itest_consumer and the e2e scenarios. */
#include "harness.h"
#include "apply.h"
#include "merge.h"

#include <stdio.h>
#include <string.h>

#define ID_REV    "11111111-0000-4000-8000-000000000001"
#define ID_OBJ    "22222222-0000-4000-8000-000000000002"
#define ID_OBJREV "33333333-0000-4000-8000-000000000003"
#define ID_PARENT "44444444-0000-4000-8000-000000000004"

/* A well-formed edit of ID_OBJ whose parent is ID_PARENT. */
static void edit(cks_revmsg *m)
{
	cks_revmsg init = CKS_REVMSG_INIT;
	*m = init;
	snprintf(m->revision_id, sizeof(m->revision_id), "%s", ID_REV);
	snprintf(m->object_id, sizeof(m->object_id), "%s", ID_OBJ);
	snprintf(m->objrev_id, sizeof(m->objrev_id), "%s", ID_OBJREV);
	snprintf(m->parents[0], sizeof(m->parents[0]), "%s", ID_PARENT);
	m->nparents = 1;
	m->state = json_pack("{s:s}", "name", "p");
}

/* cks_apply_revision must refuse m, as permanent, naming what. */
static void refused(cks_revmsg *m, const char *what)
{
	cks_policy pol;
	cks_apply_result r;
	char e[256];
	assert_int_equal(cks_policy_parse("newest-wins", &pol, e, sizeof(e)), CKS_OK);
	e[0] = '\0';
	assert_int_equal(cks_apply_revision(NULL, m, &pol, &r, e, sizeof(e)), CKS_ERR_PERMANENT);
	if (!strstr(e, what))
		fail_msg("error '%s' does not name '%s'", e, what);
	cks_revmsg_release(m);
}

/* Ids that are not UUIDs are refused before any look-up (the codec decodes
 * only UUIDs; apply no longer has a slower look-up path for other ids). */
static void test_ids_must_be_uuids(void **state)
{
	(void)state;
	cks_revmsg m;
	edit(&m);
	snprintf(m.object_id, sizeof(m.object_id), "%s", "not-a-uuid");
	refused(&m, "object_id: not a UUID");
	edit(&m);
	snprintf(m.objrev_id, sizeof(m.objrev_id), "%s", "");
	refused(&m, "objrev_id: not a UUID");
	edit(&m);
	snprintf(m.revision_id, sizeof(m.revision_id), "%s", "22222222-0000-4000-8000-00000000000");
	refused(&m, "revision_id: not a UUID");
	edit(&m);
	snprintf(m.parents[0], sizeof(m.parents[0]), "%s", "name-of-a-package");
	refused(&m, "parents[0]: not a UUID");
}

static void test_shapes(void **state)
{
	(void)state;
	cks_revmsg m;
	edit(&m);
	m.nparents = 2;
	snprintf(m.parents[1], sizeof(m.parents[1]), "%s", ID_OBJ);
	refused(&m, "edit revision with 2 parents");
	edit(&m);
	m.kind = CKS_REV_MERGE;
	refused(&m, "merge revision with 1 parent(s)");
	edit(&m);
	json_decref(m.state);
	m.state = NULL;
	refused(&m, "edit revision without a state");
	edit(&m);
	snprintf(m.parents[0], sizeof(m.parents[0]), "%s", ID_OBJREV);
	refused(&m, "is its own parent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids_must_be_uuids),
	    cmocka_unit_test(test_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
