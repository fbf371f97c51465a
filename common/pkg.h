/* pkg — CKAN dicts (package, group, organization) as jansson values:
 * validation as CKAN does it, server-managed fields, canonical JSON text.
 * Unknown keys (ckanext-scheming fields) are data, kept as they are.
 * No I/O, no PostgreSQL. */
#ifndef CKS_PKG_H
#define CKS_PKG_H

#include "model.h"

/* Checks a dict of the given type: a JSON object; "name" 2–100 chars of
 * [a-z0-9_-]; "id" absent or a UUID; known fields of the right JSON type
 * (title/notes strings or null, tags/resources/extras/groups arrays of
 * objects, extras with string "key", resources with valid "id" if present,
 * "private" boolean...); valid UTF-8 everywhere. PERMANENT with a message
 * naming the field, e.g. "name: must be 2-100 characters of a-z, 0-9, - and _". */
cks_err cks_pkg_validate(const json_t *dict, cks_objtype type, char *errstr,
                         size_t errstr_size) CKS_WUR;
/* New dict without CKAN's server-managed fields (metadata_modified,
 * metadata_created, num_resources, num_tags, revision_id, revision_timestamp,
 * tracking_summary, and resources' revision_id / package_id / position).
 * Caller owns. */
json_t *cks_pkg_strip_managed(const json_t *dict);
/* Adds the server-managed fields, computed (never trusted from input):
 * num_tags, num_resources, metadata_created, metadata_modified (ISO, UTC),
 * revision_id, resources' package_id and position. */
void cks_pkg_add_managed(json_t *dict, const char *revision_id, int64_t created_us,
                         int64_t modified_us);
/* Canonical JSON text: keys sorted, compact, no trailing newline; equal
 * values give equal bytes. Caller frees with free(). */
char *cks_json_canonical(const json_t *v);

#endif
