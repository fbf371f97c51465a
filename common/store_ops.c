/* store_ops — operations bookkeeping of the store (part of store.h): the
 * dead letters a consumer records, and the per-origin summary behind
 * `ckansync status` (offsets, last sync, recent conflicts, dead letters).
 * Knows nothing of Kafka: lag is added by the caller from the brokers. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cks_err cks_store_deadletter_add(cks_store *st, const char *topic, int32_t partition,
                                 int64_t offset, const char *error_class, const char *reason,
                                 char *errstr, size_t errstr_size)
{
	char part[16], off[24];
	snprintf(part, sizeof(part), "%d", (int)partition);
	snprintf(off, sizeof(off), "%lld", (long long)offset);
	const char *p[5] = {topic, part, off, error_class, reason};
	return cks_sti_run(st, "record dead letter",
	                   "INSERT INTO ckansync.dead_letter (topic, partition, \"offset\", "
	                   "error_class, error) VALUES ($1, $2, $3, $4, $5) "
	                   "ON CONFLICT (topic, partition, \"offset\") DO UPDATE SET "
	                   "error_class = excluded.error_class, error = excluded.error, "
	                   "recorded = now()",
	                   5, p, errstr, errstr_size);
}

void cks_store_topic_origin(const char *topic, const char *prefix, char *out, size_t n)
{
	size_t len = strlen(topic), plen = prefix ? strlen(prefix) : 0;
	static const char *suffixes[] = {".revisions", ".objects"};
	for (size_t i = 0; i < 2; i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strcmp(topic + len - sl, suffixes[i]) == 0) {
			len -= sl;
			break;
		}
	}
	const char *start = topic;
	if (plen && len > plen + 1 && strncmp(topic, prefix, plen) == 0 && topic[plen] == '.') {
		start = topic + plen + 1;
	} else {
		for (size_t i = 0; i < len; i++) /* no prefix known: last component */
			if (topic[i] == '.')
				start = topic + i + 1;
	}
	snprintf(out, n, "%.*s", (int)(len - (size_t)(start - topic)), start);
}

/* The origin entry of `origins` for name, created if absent. Borrowed. */
static json_t *origin_entry(json_t *origins, const char *name)
{
	json_t *o = json_object_get(origins, name);
	if (!o) {
		o = json_pack("{s:s, s:n, s:n, s:[], s:I, s:I, s:I, s:n}", "origin", name,
		              "last_revision", "last_sync", "partitions", "conflicts_last_hour",
		              (json_int_t)0, "conflicts_total", (json_int_t)0, "dead_letters",
		              (json_int_t)0, "last_dead_letter");
		json_object_set_new(origins, name, o);
	}
	return o;
}

static cks_err add_partitions(cks_store *st, const char *prefix, json_t *origins, char *errstr,
                              size_t errstr_size)
{
	PGresult *res = NULL;
	cks_err err = cks_sti_exec(
	    st, "read sync state",
	    "SELECT topic, partition, next_offset, last_revision, to_char(last_sync AT TIME "
	    "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM ckansync.sync_state "
	    "ORDER BY topic, partition",
	    0, NULL, &res, errstr, errstr_size);
	for (int i = 0; !err && i < PQntuples(res); i++) {
		char origin[256];
		const char *topic = PQgetvalue(res, i, 0), *sync = PQgetvalue(res, i, 4);
		cks_store_topic_origin(topic, prefix, origin, sizeof(origin));
		json_t *o = origin_entry(origins, origin);
		json_t *lr =
		    PQgetisnull(res, i, 3) ? json_null() : json_string(PQgetvalue(res, i, 3));
		json_array_append_new(json_object_get(o, "partitions"),
		                      json_pack("{s:s, s:I, s:I, s:O, s:s}", "topic", topic,
		                                "partition", (json_int_t)cks_sti_int(res, i, 1),
		                                "next_offset", (json_int_t)cks_sti_int(res, i, 2),
		                                "last_revision", lr, "last_sync", sync));
		/* The origin's last sync and revision: its most recent partition. */
		const char *cur = json_string_value(json_object_get(o, "last_sync"));
		if (!cur || strcmp(sync, cur) > 0) {
			json_object_set_new(o, "last_sync", json_string(sync));
			if (!json_is_null(lr))
				json_object_set(o, "last_revision", lr);
		}
		json_decref(lr);
	}
	PQclear(res);
	return err;
}

static cks_err add_conflicts(cks_store *st, json_t *origins, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	cks_err err = cks_sti_exec(
	    st, "count conflicts",
	    "SELECT remote_origin, count(*) FILTER (WHERE detected > now() - interval '1 hour'), "
	    "count(*) FROM ckansync.conflict WHERE remote_origin <> '' GROUP BY remote_origin",
	    0, NULL, &res, errstr, errstr_size);
	for (int i = 0; !err && i < PQntuples(res); i++) {
		json_t *o = origin_entry(origins, PQgetvalue(res, i, 0));
		json_object_set_new(o, "conflicts_last_hour", json_integer(cks_sti_int(res, i, 1)));
		json_object_set_new(o, "conflicts_total", json_integer(cks_sti_int(res, i, 2)));
	}
	PQclear(res);
	return err;
}

static cks_err add_dead_letters(cks_store *st, const char *prefix, json_t *origins, char *errstr,
                                size_t errstr_size)
{
	PGresult *res = NULL;
	cks_err err =
	    cks_sti_exec(st, "count dead letters",
	                 "SELECT topic, count(*), to_char(max(recorded) AT TIME ZONE 'UTC', "
	                 "'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM ckansync.dead_letter GROUP BY topic "
	                 "ORDER BY topic",
	                 0, NULL, &res, errstr, errstr_size);
	for (int i = 0; !err && i < PQntuples(res); i++) {
		char origin[256];
		cks_store_topic_origin(PQgetvalue(res, i, 0), prefix, origin, sizeof(origin));
		json_t *o = origin_entry(origins, origin);
		json_int_t n = json_integer_value(json_object_get(o, "dead_letters"));
		json_object_set_new(o, "dead_letters", json_integer(n + cks_sti_int(res, i, 1)));
		const char *cur = json_string_value(json_object_get(o, "last_dead_letter"));
		if (!cur || strcmp(PQgetvalue(res, i, 2), cur) > 0)
			json_object_set_new(o, "last_dead_letter",
			                    json_string(PQgetvalue(res, i, 2)));
	}
	PQclear(res);
	return err;
}

cks_err cks_store_status(cks_store *st, const char *prefix, json_t **out, char *errstr,
                         size_t errstr_size)
{
	json_t *origins = json_object();
	cks_err err = add_partitions(st, prefix, origins, errstr, errstr_size);
	if (!err)
		err = add_conflicts(st, origins, errstr, errstr_size);
	if (!err)
		err = add_dead_letters(st, prefix, origins, errstr, errstr_size);
	*out = NULL;
	if (!err) {
		/* An array in origin order (json objects iterate in hash order). */
		json_t *arr = json_array();
		const char *key;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(origins, tmp, key, v)
		{
			size_t i = 0;
			while (i < json_array_size(arr) &&
			       strcmp(json_string_value(
			                  json_object_get(json_array_get(arr, i), "origin")),
			              key) < 0)
				i++;
			json_array_insert(arr, i, v);
		}
		*out = json_pack("{s:s, s:o}", "instance", cks_store_instance(st), "origins", arr);
	}
	json_decref(origins);
	return err;
}
