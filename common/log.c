/* log — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

cks_log_level cks_log_threshold = CKS_LOG_INFO;
static const char *log_program = "ckansync";
static cks_log_format log_format = CKS_LOG_TEXT;
static char log_instance[64]; /* "" until the daemon knows it */
static bool log_tty;          /* text on a terminal: clear a progress line first */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"error", "warn", "info", "debug"};

void cks_log_setup(const char *program, cks_log_level level, cks_log_format format)
{
	log_program = program;
	cks_log_threshold = level;
	log_format = format;
	log_tty = format == CKS_LOG_TEXT && isatty(STDERR_FILENO);
}

void cks_log_set_instance(const char *instance)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_instance, sizeof(log_instance), "%s", instance ? instance : "");
	pthread_mutex_unlock(&log_lock);
}

bool cks_log_level_parse(const char *s, cks_log_level *level)
{
	for (int i = 0; i <= CKS_LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = (cks_log_level)i;
			return true;
		}
	}
	return false;
}

static void json_escape(cks_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			cks_buf_appendf(b, "\\%c", c);
		else if (c < 0x20)
			cks_buf_appendf(b, "\\u%04x", c);
		else
			cks_buf_append(b, s, 1);
	}
}

/* Appends ,"key":"escaped value" (JSON lines). */
static void json_field(cks_buf *b, const char *key, const char *value)
{
	cks_buf_appendf(b, ",\"%s\":\"", key);
	json_escape(b, value);
	cks_buf_appendf(b, "\"");
}

void cks_log_write(cks_log_level level, const char *ctx, const char *fmt, ...)
{
	char msg[4096], ts[40];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cks_time_format(cks_now_us(), ts, sizeof(ts));
	cks_buf b = CKS_BUF_INIT;
	pthread_mutex_lock(&log_lock);
	if (log_format == CKS_LOG_JSON) {
		cks_buf_appendf(&b, "{\"ts\":\"%sZ\",\"level\":\"%s\"", ts, level_names[level]);
		json_field(&b, "program", log_program);
		cks_buf_appendf(&b, ",\"pid\":%d", (int)getpid());
		if (*log_instance)
			json_field(&b, "instance", log_instance);
		if (ctx)
			json_field(&b, "context", ctx);
		json_field(&b, "msg", msg);
		cks_buf_appendf(&b, "}\n");
	} else {
		cks_buf_appendf(&b, "%s%sZ %s%s%s %s%s%s%s: %s\n", log_tty ? "\r\033[K" : "", ts,
		                log_program, *log_instance ? "@" : "", log_instance,
		                level_names[level], ctx ? " [" : "", ctx ? ctx : "", ctx ? "]" : "",
		                msg);
	}
	fwrite(b.data, 1, b.len, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	cks_buf_release(&b);
}
