/* model — see model.h. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

static const char *revkind_names[] = {"edit", "merge", "purge"};
static const char *objtype_names[] = {"package", "group", "organization"};

const char *cks_revkind_name(cks_revkind k)
{
	return (unsigned)k < 3 ? revkind_names[k] : "?";
}

bool cks_revkind_parse(const char *s, cks_revkind *k)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, revkind_names[i]) == 0) {
			*k = (cks_revkind)i;
			return true;
		}
	return false;
}

const char *cks_objtype_name(cks_objtype t)
{
	return (unsigned)t < 3 ? objtype_names[t] : "?";
}

bool cks_objtype_parse(const char *s, cks_objtype *t)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, objtype_names[i]) == 0) {
			*t = (cks_objtype)i;
			return true;
		}
	return false;
}

void cks_revmsg_release(cks_revmsg *m)
{
	if (!m)
		return;
	free(m->origin);
	free(m->author);
	free(m->message);
	json_decref(m->diff);
	json_decref(m->state);
	*m = (cks_revmsg)CKS_REVMSG_INIT;
}

void cks_conflict_release(cks_conflict *c)
{
	if (!c)
		return;
	free(c->detected_at);
	free(c->kind);
	free(c->object_name);
	free(c->remote_origin);
	free(c->field_path);
	free(c->local_value);
	free(c->remote_value);
	free(c->resolution);
	free(c->chosen_value);
	memset(c, 0, sizeof(*c));
}

void cks_objmsg_release(cks_objmsg *o)
{
	if (!o)
		return;
	free(o->type);
	free(o->id);
	free(o->origin);
	json_decref(o->state);
	memset(o, 0, sizeof(*o));
}
