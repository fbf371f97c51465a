/* json_fast — a faster reader and writer of JSON text for jansson values,
 * for the hot paths: the producer reads every state and diff back from
 * PostgreSQL and writes the JSON text fields of every record, the consumer
 * reads those and writes every state and diff for PostgreSQL. jansson's
 * parser and dumper (a callback per character) were the largest part of
 * their CPU. Both give exactly jansson's result; neither indents. */
#ifndef CKS_JSON_FAST_H
#define CKS_JSON_FAST_H

#include <jansson.h>
#include <stddef.h>

/* How cks_json_dumps orders an object's keys. */
typedef enum cks_json_dump_flags {
	CKS_JSON_INSERTION_ORDER = 0, /* as inserted (jansson's default) */
	CKS_JSON_SORT_KEYS = 1,       /* as jansson's JSON_SORT_KEYS: by bytes, NUL-safe */
} cks_json_dump_flags;

/* The value json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, err) returns,
 * equal in every respect (types, integer or real, key order, last of
 * duplicate keys). Plain text is read here; anything unusual (surrogate
 * escapes, a NUL in a key, invalid UTF-8, numbers out of range, deep
 * nesting, any syntax error) is left to jansson, which also writes err
 * (may be NULL). Caller owns the result; NULL on invalid JSON. */
json_t *cks_json_loadb(const char *s, size_t n, json_error_t *err);

/* The fast reader alone: NULL when it leaves the text to jansson (tests). */
json_t *cks_json_fast_only(const char *s, size_t n);

/* json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT), with JSON_SORT_KEYS when
 * flags has CKS_JSON_SORT_KEYS, byte for byte. NULL where jansson fails too
 * (v NULL, a string that is not valid UTF-8, a cycle) and, unlike jansson,
 * for a key that is not valid UTF-8 (jansson writes a broken key) and for
 * nesting deeper than 2048 (text that jansson's parser refuses). Caller
 * owns the NUL-terminated text; free with free(). */
char *cks_json_dumps(const json_t *v, cks_json_dump_flags flags);

#endif
