/* log — leveled logging for the daemons and the CLI, text or JSON lines on
 * stderr. The one piece of process-wide state in common/: main() configures
 * it once (like syslog's openlog); library code only calls CKS_LOG, and the
 * level check happens before the arguments are evaluated. Never log secrets. */
#ifndef CKS_LOG_H
#define CKS_LOG_H

#include "util.h"

typedef enum cks_log_level {
	CKS_LOG_ERROR = 0,
	CKS_LOG_WARN = 1,
	CKS_LOG_INFO = 2,
	CKS_LOG_DEBUG = 3,
} cks_log_level;

typedef enum cks_log_format { CKS_LOG_TEXT = 0, CKS_LOG_JSON = 1 } cks_log_format;

/* Configure once from main(): program name (e.g. "ckansync-consumer"), the
 * most verbose level printed, and the line format. */
void cks_log_setup(const char *program, cks_log_level level, cks_log_format format);
/* Adds the instance id to every line from now on ("program@A" in text,
 * "instance" in JSON); the daemons call it once they have read it from the
 * database. Copied. */
void cks_log_set_instance(const char *instance);
/* Parse "error|warn|info|debug"; false if unknown. */
bool cks_log_level_parse(const char *s, cks_log_level *level);
extern cks_log_level cks_log_threshold; /* read by CKS_LOG, set by cks_log_setup */

void cks_log_write(cks_log_level level, const char *ctx, const char *fmt, ...) CKS_PRINTF(3, 4);

/* ctx: short context such as "ckansync.A.revisions[0]@42" or NULL. */
#define CKS_LOG(level, ctx, ...)                                                                   \
	do {                                                                                       \
		if ((level) <= cks_log_threshold)                                                  \
			cks_log_write((level), (ctx), __VA_ARGS__);                                \
	} while (0)

#endif
