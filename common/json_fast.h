/* json_fast — a faster reader of JSON text into jansson values, for the
 * hot paths: the producer reads every state and diff back from PostgreSQL,
 * the consumer reads the JSON text fields of every record, and jansson's
 * parser (a stream read character by character) was half of the producer's
 * CPU. */
#ifndef CKS_JSON_FAST_H
#define CKS_JSON_FAST_H

#include <jansson.h>
#include <stddef.h>

/* The value json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, err) returns,
 * equal in every respect (types, integer or real, key order, last of
 * duplicate keys). Plain text is read here; anything unusual (surrogate
 * escapes, a NUL in a key, invalid UTF-8, numbers out of range, deep
 * nesting, any syntax error) is left to jansson, which also writes err
 * (may be NULL). Caller owns the result; NULL on invalid JSON. */
json_t *cks_json_loadb(const char *s, size_t n, json_error_t *err);

/* The fast reader alone: NULL when it leaves the text to jansson (tests). */
json_t *cks_json_fast_only(const char *s, size_t n);

#endif
