/* util — error codes, errstr helpers, UUIDs, time, small string helpers.
 * The bottom of the dependency graph: includes nothing of ckansync.
 * Does not log, exit or allocate global state. */
#ifndef CKS_UTIL_H
#define CKS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CKS_WUR          __attribute__((warn_unused_result))
#define CKS_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Error classes (SQLite-style: the caller decides what to do with each).
 * Only main() decides to retry (RETRIABLE) or to stop (FATAL). */
typedef enum cks_err {
	CKS_OK = 0,
	CKS_ERR_RETRIABLE = 1,      /* lost connection, serialization failure, broker transport */
	CKS_ERR_PERMANENT = 2,      /* bad input / bad record: refuse it, dead-letter it */
	CKS_ERR_FATAL = 3,          /* bad config, wrong instance, fenced producer */
	CKS_ERR_NOTFOUND = 4,       /* object / revision does not exist */
	CKS_ERR_UNKNOWN_SCHEMA = 5, /* Avro writer fingerprint not known */
} cks_err;

/* Printable name of an error class ("retriable", "permanent", ...). */
const char *cks_err_name(cks_err err);

/* Formats into errstr (if not NULL) and returns err: `return cks_seterr(...)`. */
cks_err cks_seterr(char *errstr, size_t errstr_size, cks_err err, const char *fmt, ...)
    CKS_PRINTF(4, 5);

#define CKS_UUID_LEN 36 /* text form without NUL */
typedef char cks_uuid_str[CKS_UUID_LEN + 1];

/* Random (v4) UUID in canonical lowercase text form. */
void cks_uuid_v4(cks_uuid_str out);
/* Name-based (v5, SHA-1) UUID of name in namespace ns (text form). Returns
 * false if ns is not a valid UUID. */
bool cks_uuid_v5(const char *ns, const void *name, size_t name_len, cks_uuid_str out);
/* True iff s is a canonical UUID text (36 chars, hex and dashes). */
bool cks_uuid_valid(const char *s);

/* Wall clock, microseconds since the Unix epoch (UTC). */
int64_t cks_now_us(void);
/* Monotonic clock in microseconds, for intervals and timeouts. */
int64_t cks_mono_us(void);
/* Formats us-since-epoch as ISO 8601 UTC "2024-05-01T10:00:00.123456". */
void cks_time_format(int64_t us, char *out, size_t out_size);
/* Parses ISO 8601 (date, optional time, fraction, 'Z' or offset); false on error. */
bool cks_time_parse(const char *s, int64_t *us);

/* strdup that aborts on out-of-memory (allocation failure is not a handled
 * error in this project: like Redis' zmalloc, we stop). */
char *cks_strdup(const char *s);
void *cks_malloc(size_t n);
void *cks_calloc(size_t n, size_t m);
void *cks_realloc(void *p, size_t n);

/* Growable byte buffer (git's strbuf). Plain data: init with CKS_BUF_INIT,
 * release with cks_buf_release. data is always NUL-terminated. */
typedef struct cks_buf {
	char *data; /* owned; NULL until first append */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
} cks_buf;
#define CKS_BUF_INIT                                                                               \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}
void cks_buf_append(cks_buf *b, const void *p, size_t n);
void cks_buf_appendf(cks_buf *b, const char *fmt, ...) CKS_PRINTF(2, 3);
void cks_buf_reset(cks_buf *b);
void cks_buf_release(cks_buf *b);

/* True iff [s, s+n) is valid UTF-8 (no overlongs, no surrogates). */
bool cks_utf8_valid(const char *s, size_t n);

/* Embedded files (schemas/NAME.avsc, common/sql/NNN_NAME.sql), by path relative to the
 * source root, e.g. "schemas/revision.avsc". Borrowed, static; NULL if absent. */
const char *cks_embedded_get(const char *path, size_t *len);
struct cks_embedded {
	const char *path;
	const char *data;
	size_t len;
};
extern const struct cks_embedded cks_embedded_files[]; /* NULL-path terminated */

#endif
