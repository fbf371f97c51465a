/* model — the plain data that crosses module boundaries: one object revision
 * as it travels (cks_revmsg), a conflict event (cks_conflict) and an
 * unversioned object (cks_objmsg). Package dicts are jansson json_t objects
 * (CKAN's package_show shape). No I/O here; see codec.h for Avro and
 * store.h for PostgreSQL. */
#ifndef CKS_MODEL_H
#define CKS_MODEL_H

#include <jansson.h>
#include "util.h"

typedef enum cks_revkind {
	CKS_REV_EDIT = 0,  /* create, update or delete (state "deleted") */
	CKS_REV_MERGE = 1, /* two parents, made by a consumer */
	CKS_REV_PURGE = 2, /* object and history erased; state NULL */
} cks_revkind;

typedef enum cks_objtype {
	CKS_OBJ_PACKAGE = 0,
	CKS_OBJ_GROUP = 1,
	CKS_OBJ_ORGANIZATION = 2,
} cks_objtype;

const char *cks_revkind_name(cks_revkind k); /* "edit", "merge", "purge" */
bool cks_revkind_parse(const char *s, cks_revkind *k);
const char *cks_objtype_name(cks_objtype t); /* "package", "group", "organization" */
bool cks_objtype_parse(const char *s, cks_objtype *t);

#define CKS_MAX_PARENTS 2

/* One object revision with its revision's metadata: one Kafka message. */
typedef struct cks_revmsg {
	cks_uuid_str revision_id; /* same on every instance */
	char *origin;             /* owned; instance id where the revision was made */
	int64_t timestamp_us;     /* revision time, UTC microseconds */
	char *author;             /* owned; never NULL ("" if unknown) */
	char *message;            /* owned; never NULL */
	cks_revkind kind;
	cks_objtype object_type;
	cks_uuid_str object_id;
	cks_uuid_str objrev_id; /* id of this object revision */
	size_t nparents;        /* 0 create, 1 edit, 2 merge */
	cks_uuid_str parents[CKS_MAX_PARENTS];
	json_t *diff;  /* owned; diff from parents[0] (diff.h format) or NULL */
	json_t *state; /* owned; full dict after the change; NULL for purge */
} cks_revmsg;
#define CKS_REVMSG_INIT                                                                            \
	{                                                                                          \
		"", NULL, 0, NULL, NULL, CKS_REV_EDIT, CKS_OBJ_PACKAGE, "", "", 0, {"", ""}, NULL, \
		    NULL                                                                           \
	}
/* Frees owned members and resets to CKS_REVMSG_INIT. Accepts NULL. */
void cks_revmsg_release(cks_revmsg *m);

/* A conflict event (DESIGN.md §5, contract). Values are JSON texts. */
typedef struct cks_conflict {
	cks_uuid_str id;   /* conflict id (UUIDv5 of kind, object, field and values: apply.c) */
	char *detected_at; /* owned; instance id that detected it */
	int64_t detected_us;
	char *kind; /* owned: "field", "delete-modify", "missing-base",
	               "name-clash", "purged-here" */
	cks_objtype object_type;
	cks_uuid_str object_id;
	char *object_name;         /* owned */
	cks_uuid_str base_objrev;  /* "" if none */
	cks_uuid_str local_objrev; /* "" if none */
	cks_uuid_str remote_objrev;
	char *remote_origin;         /* owned */
	char *field_path;            /* owned; e.g. "title", "tags", "extras.spatial",
	                                "resources.<id>.url" ("" for whole object) */
	char *local_value;           /* owned JSON text or NULL */
	char *remote_value;          /* owned JSON text or NULL */
	char *resolution;            /* owned; policy name, e.g. "origin-priority" */
	char *chosen_value;          /* owned JSON text or NULL */
	cks_uuid_str merge_revision; /* "" if no merge revision was made */
} cks_conflict;
void cks_conflict_release(cks_conflict *c);

/* An unversioned object (user, rating): latest state wins. */
typedef struct cks_objmsg {
	char *type;   /* owned: "user" or "rating" */
	char *id;     /* owned: object id (Kafka key) */
	char *origin; /* owned */
	int64_t updated_us;
	json_t *state; /* owned; NULL = deleted (compaction tombstone) */
} cks_objmsg;
void cks_objmsg_release(cks_objmsg *o);

#endif
