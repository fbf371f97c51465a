/* pkg — CKAN dicts as jansson values: validation, server-managed fields,
 * canonical JSON text. See pkg.h. Validation follows CKAN's default schema
 * (ckan/logic/schema.py and validators.py) for the fields it knows; unknown
 * keys are data and only checked for valid UTF-8. */
#include "pkg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

/* Allowed JSON types of a known field, as a bit mask. */
enum {
	T_STR = 1 << 0,
	T_NULL = 1 << 1,
	T_BOOL = 1 << 2,
	T_INT = 1 << 3,
	T_OBJ = 1 << 4,
	T_ARR = 1 << 5,  /* array of objects */
	T_LIST = 1 << 6, /* array of anything */
};

struct field_rule {
	const char *name;
	unsigned types;
	const char *what; /* for the message: "a string or null" */
};

#define STR_OR_NULL (T_STR | T_NULL)
static const struct field_rule package_rules[] = {
    {"id", T_STR, "a UUID string"},
    {"name", T_STR, "a string"},
    {"title", STR_OR_NULL, "a string or null"},
    {"notes", STR_OR_NULL, "a string or null"},
    {"author", STR_OR_NULL, "a string or null"},
    {"author_email", STR_OR_NULL, "a string or null"},
    {"maintainer", STR_OR_NULL, "a string or null"},
    {"maintainer_email", STR_OR_NULL, "a string or null"},
    {"url", STR_OR_NULL, "a string or null"},
    {"version", STR_OR_NULL, "a string or null"},
    {"license_id", STR_OR_NULL, "a string or null"},
    {"state", STR_OR_NULL, "a string or null"},
    {"type", STR_OR_NULL, "a string or null"},
    {"owner_org", STR_OR_NULL, "a string or null"},
    {"creator_user_id", STR_OR_NULL, "a string or null"},
    {"metadata_created", STR_OR_NULL, "a string or null"},
    {"metadata_modified", STR_OR_NULL, "a string or null"},
    {"private", T_BOOL, "a boolean"},
    {"isopen", T_BOOL | T_NULL, "a boolean"},
    {"num_tags", T_INT, "an integer"},
    {"num_resources", T_INT, "an integer"},
    {"organization", T_OBJ | T_NULL, "an object or null"},
    {"tags", T_ARR, "an array of objects"},
    {"groups", T_ARR, "an array of objects"},
    {"resources", T_ARR, "an array of objects"},
    {"extras", T_ARR, "an array of objects"},
    {"relationships_as_object", T_LIST, "an array"},
    {"relationships_as_subject", T_LIST, "an array"},
    {NULL, 0, NULL},
};

static const struct field_rule group_rules[] = {
    {"id", T_STR, "a UUID string"},
    {"name", T_STR, "a string"},
    {"title", STR_OR_NULL, "a string or null"},
    {"description", STR_OR_NULL, "a string or null"},
    {"image_url", STR_OR_NULL, "a string or null"},
    {"state", STR_OR_NULL, "a string or null"},
    {"type", STR_OR_NULL, "a string or null"},
    {"approval_status", STR_OR_NULL, "a string or null"},
    {"created", STR_OR_NULL, "a string or null"},
    {"is_organization", T_BOOL, "a boolean"},
    {"tags", T_ARR, "an array of objects"},
    {"groups", T_ARR, "an array of objects"},
    {"extras", T_ARR, "an array of objects"},
    {"packages", T_ARR, "an array of objects"},
    {"users", T_ARR, "an array of objects"},
    {NULL, 0, NULL},
};

static bool type_ok(const json_t *v, unsigned types)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return types & T_STR;
	case JSON_NULL:
		return types & T_NULL;
	case JSON_TRUE:
	case JSON_FALSE:
		return types & T_BOOL;
	case JSON_INTEGER:
		return types & T_INT;
	case JSON_OBJECT:
		return types & T_OBJ;
	case JSON_ARRAY:
		if (types & T_LIST)
			return true;
		if (!(types & T_ARR))
			return false;
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!json_is_object(json_array_get(v, i)))
				return false;
		return true;
	default:
		return false;
	}
}

/* Number of code points of a valid UTF-8 string. */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* CKAN's name_validator: 2-100 of [a-z0-9_-]. Also accepted: "%XX"
 * percent-escapes (two hex digits), because real catalogs hold names that
 * older CKAN versions let through (data.depositar.io has
 * "...xian%28shi%29..."), and a replica must be able to hold whatever its
 * origin holds. A lone '%' or any other character is still refused. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			i += 2;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* CKAN's tag_name_validator (^[\w \-.]*$, Unicode) and a length of 1-100
 * characters. CKAN's own minimum is 2, but real portals (data.depositar.io)
 * hold one-character CJK tags, so we accept them rather than refuse real data.
 * Non-ASCII characters are accepted as word characters. */
static bool tag_name_ok(const char *s, size_t n)
{
	size_t chars = utf8_chars(s, n);
	if (chars < 1 || chars > 100)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80)
			continue;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ' '))
			return false;
	}
	return true;
}

/* Every string and key of v valid UTF-8? (No path: the consumer checks
 * every incoming state, and building each node's path cost more than the
 * check; utf8_where finds it when there is something to report.) */
static bool utf8_ok(const json_t *v)
{
	const char *key;
	json_t *item;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return cks_utf8_valid(json_string_value(v), json_string_length(v));
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, item)
		{
			if (!cks_utf8_valid(key, strlen(key)) || !utf8_ok(item))
				return false;
		}
		return true;
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!utf8_ok(json_array_get(v, i)))
				return false;
		return true;
	default:
		return true;
	}
}

/* The error for the first string or key of v that is not valid UTF-8
 * (jansson checks on load, not on json_string_nocheck /
 * json_stringn_nocheck). path: where we are. */
static cks_err utf8_where(const json_t *v, const char *path, char *errstr, size_t errstr_size)
{
	const char *key;
	json_t *item;
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (!cks_utf8_valid(json_string_value(v), json_string_length(v)))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "%s: invalid UTF-8", path);
		return CKS_OK;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, item)
		{
			if (!cks_utf8_valid(key, strlen(key)))
				return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				                  "%s: key with invalid UTF-8", path);
			char sub[160];
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
			cks_err err = utf8_where(item, sub, errstr, errstr_size);
			if (err)
				return err;
		}
		return CKS_OK;
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(v); i++) {
			char sub[160];
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			cks_err err = utf8_where(json_array_get(v, i), sub, errstr, errstr_size);
			if (err)
				return err;
		}
		return CKS_OK;
	default:
		return CKS_OK;
	}
}

static cks_err check_types(const json_t *dict, const struct field_rule *rules, char *errstr,
                           size_t errstr_size)
{
	for (const struct field_rule *r = rules; r->name; r++) {
		const json_t *v = json_object_get(dict, r->name);
		if (v && !type_ok(v, r->types))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "%s: must be %s",
			                  r->name, r->what);
	}
	return CKS_OK;
}

/* True iff an item before arr[i] has the same value of field. */
static bool dup_before(const json_t *arr, size_t i, const char *field)
{
	const json_t *v = json_object_get(json_array_get(arr, i), field);
	for (size_t j = 0; v && j < i; j++)
		if (json_equal(json_object_get(json_array_get(arr, j), field), (json_t *)v))
			return true;
	return false;
}

static cks_err check_tags(const json_t *tags, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < json_array_size(tags); i++) {
		const json_t *name = json_object_get(json_array_get(tags, i), "name");
		if (!json_is_string(name))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "tags[%zu].name: missing or not a string", i);
		if (!tag_name_ok(json_string_value(name), json_string_length(name)))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "tags[%zu].name: must be 1-100 characters of letters, "
			                  "digits, space, -, _ and .",
			                  i);
		if (dup_before(tags, i, "name"))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "tags[%zu].name: duplicate tag '%s'", i,
			                  json_string_value(name));
	}
	return CKS_OK;
}

/* Groups are referenced by name (or id when CKAN gives only that). */
static cks_err check_groups(const json_t *groups, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < json_array_size(groups); i++) {
		const json_t *g = json_array_get(groups, i);
		const json_t *name = json_object_get(g, "name");
		const json_t *id = json_object_get(g, "id");
		if (name && !json_is_string(name))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "groups[%zu].name: must be a string", i);
		if (id && !json_is_string(id))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "groups[%zu].id: must be a string", i);
		if (!name && !id)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "groups[%zu]: needs a name or an id", i);
	}
	return CKS_OK;
}

static cks_err check_extras(const json_t *extras, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < json_array_size(extras); i++) {
		const json_t *e = json_array_get(extras, i);
		const json_t *key = json_object_get(e, "key");
		const json_t *value = json_object_get(e, "value");
		if (!json_is_string(key) || json_string_length(key) == 0)
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "extras[%zu].key: missing, empty or not a string", i);
		if (value && !json_is_string(value) && !json_is_null(value))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "extras[%zu].value: must be a string", i);
		if (dup_before(extras, i, "key"))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "extras[%zu].key: duplicate key '%s'", i,
			                  json_string_value(key));
	}
	return CKS_OK;
}

static cks_err check_resources(const json_t *res, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < json_array_size(res); i++) {
		const json_t *id = json_object_get(json_array_get(res, i), "id");
		if (!id)
			continue;
		if (!json_is_string(id) || !cks_uuid_valid(json_string_value(id)))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "resources[%zu].id: must be a UUID", i);
		if (dup_before(res, i, "id"))
			return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
			                  "resources[%zu].id: duplicate id '%s'", i,
			                  json_string_value(id));
	}
	return CKS_OK;
}

cks_err cks_pkg_validate(const json_t *dict, cks_objtype type, char *errstr, size_t errstr_size)
{
	cks_err err = CKS_OK;
	if (!json_is_object(dict))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
		                  "%s: must be a JSON object", cks_objtype_name(type));
	if (!utf8_ok(dict) && (err = utf8_where(dict, "", errstr, errstr_size)))
		return err;
	const struct field_rule *rules = type == CKS_OBJ_PACKAGE ? package_rules : group_rules;
	if ((err = check_types(dict, rules, errstr, errstr_size)))
		return err;
	const json_t *name = json_object_get(dict, "name");
	if (!name)
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "name: missing value");
	if (!name_ok(json_string_value(name)))
		return cks_seterr(
		    errstr, errstr_size, CKS_ERR_PERMANENT,
		    "name: must be 2-100 characters of a-z, 0-9, - and _ (got '%.40s')",
		    json_string_value(name));
	const json_t *id = json_object_get(dict, "id");
	if (id && !cks_uuid_valid(json_string_value(id)))
		return cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT, "id: must be a UUID");
	if ((err = check_tags(json_object_get(dict, "tags"), errstr, errstr_size)))
		return err;
	if ((err = check_groups(json_object_get(dict, "groups"), errstr, errstr_size)))
		return err;
	if ((err = check_extras(json_object_get(dict, "extras"), errstr, errstr_size)))
		return err;
	return check_resources(json_object_get(dict, "resources"), errstr, errstr_size);
}

static const char *managed_keys[] = {
    "metadata_modified", "metadata_created",   "num_resources",    "num_tags",
    "revision_id",       "revision_timestamp", "tracking_summary", NULL,
};
static const char *managed_resource_keys[] = {"revision_id", "package_id", "position", NULL};

json_t *cks_pkg_strip_managed(const json_t *dict)
{
	json_t *out = json_deep_copy(dict); /* caller owns */
	if (!json_is_object(out))
		return out;
	for (const char **k = managed_keys; *k; k++)
		json_object_del(out, *k);
	json_t *res = json_object_get(out, "resources");
	for (size_t i = 0; i < json_array_size(res); i++) {
		json_t *r = json_array_get(res, i);
		for (const char **k = managed_resource_keys; *k; k++)
			json_object_del(r, *k);
	}
	return out;
}

void cks_pkg_add_managed(json_t *dict, const char *revision_id, int64_t created_us,
                         int64_t modified_us)
{
	char ts[40];
	if (!json_is_object(dict))
		return;
	json_t *tags = json_object_get(dict, "tags");
	json_t *res = json_object_get(dict, "resources");
	json_object_set_new(dict, "num_tags", json_integer((json_int_t)json_array_size(tags)));
	json_object_set_new(dict, "num_resources", json_integer((json_int_t)json_array_size(res)));
	cks_time_format(created_us, ts, sizeof(ts));
	json_object_set_new(dict, "metadata_created", json_string(ts));
	cks_time_format(modified_us, ts, sizeof(ts));
	json_object_set_new(dict, "metadata_modified", json_string(ts));
	if (revision_id)
		json_object_set_new(dict, "revision_id", json_string(revision_id));
	const json_t *id = json_object_get(dict, "id");
	for (size_t i = 0; i < json_array_size(res); i++) {
		json_t *r = json_array_get(res, i);
		if (!json_is_object(r))
			continue;
		if (json_is_string(id))
			json_object_set_new(r, "package_id", json_string(json_string_value(id)));
		json_object_set_new(r, "position", json_integer((json_int_t)i));
	}
}

/* ---- canonical JSON ---------------------------------------------------- */

static void canon_string(cks_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* start of the pending unescaped run */
	cks_buf_append(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c == '\b')
			esc = "\\b";
		else if (c == '\f')
			esc = "\\f";
		else if (c < 0x20 || c == 0x7f) {
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
			u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = 0;
			esc = u;
		}
		if (!esc)
			continue;
		cks_buf_append(b, s + run, i - run);
		cks_buf_append(b, esc, strlen(esc));
		run = i + 1;
	}
	cks_buf_append(b, s + run, n - run);
	cks_buf_append(b, "\"", 1);
}

/* Shortest text that reads back as the same double, in plain notation below
 * 1e17, and always with a '.' or an exponent so that it reads back as a real.
 * (JSON has no NaN or infinity; jansson refuses them.) */
static void canon_real(cks_buf *b, double d)
{
	char s[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	const char *e = strchr(s, 'e');
	if (e && atoi(e + 1) >= 0 && atoi(e + 1) < 17) /* 100.0, not 1e+02 */
		snprintf(s, sizeof(s), "%.*g", atoi(e + 1) + 1, d);
	if (!strpbrk(s, ".eEn"))
		strcat(s, ".0");
	cks_buf_append(b, s, strlen(s));
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canon_value(cks_buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = cks_malloc((n ? n : 1) * sizeof(*keys));
		const char *key;
		json_t *item;
		json_object_foreach((json_t *)v, key, item) keys[i++] = key;
		qsort(keys, n, sizeof(*keys), cmp_keys);
		cks_buf_append(b, "{", 1);
		for (i = 0; i < n; i++) {
			if (i)
				cks_buf_append(b, ",", 1);
			canon_string(b, keys[i], strlen(keys[i]));
			cks_buf_append(b, ":", 1);
			canon_value(b, json_object_get(v, keys[i]));
		}
		cks_buf_append(b, "}", 1);
		free(keys);
		break;
	}
	case JSON_ARRAY:
		cks_buf_append(b, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				cks_buf_append(b, ",", 1);
			canon_value(b, json_array_get(v, i));
		}
		cks_buf_append(b, "]", 1);
		break;
	case JSON_STRING:
		canon_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		cks_buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		canon_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		cks_buf_append(b, "true", 4);
		break;
	case JSON_FALSE:
		cks_buf_append(b, "false", 5);
		break;
	default:
		cks_buf_append(b, "null", 4);
		break;
	}
}

char *cks_json_canonical(const json_t *v)
{
	cks_buf b = CKS_BUF_INIT;
	if (!v) {
		cks_buf_append(&b, "null", 4);
		return b.data; /* caller frees */
	}
	canon_value(&b, v);
	return b.data; /* caller frees */
}
