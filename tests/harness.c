/* harness — see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

const char *h_brokers(void)
{
	const char *s = getenv("CKANSYNC_BROKERS");
	return s && *s ? s : NULL;
}

const char *h_pg(void)
{
	const char *s = getenv("CKANSYNC_PG");
	return s && *s ? s : NULL;
}

bool h_services_available(void)
{
	if (h_brokers() && h_pg())
		return true;
	const char *ci = getenv("CI");
	fprintf(stderr, "CKANSYNC_BROKERS/CKANSYNC_PG not set: run under script/test or "
			"eval \"$(script/services start)\" first\n");
	if (ci && strcmp(ci, "true") == 0)
		fail_msg("services not available under CI");
	return false;
}

static unsigned long h_counter;

static void unique_name(char *out, size_t n, const char *prefix)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, n, "%s%ld_%d_%lu_%ld", prefix, (long)ts.tv_sec % 1000000, (int)getpid(),
		 ++h_counter, ts.tv_nsec % 100000);
}

void h_fresh_db_into(char *out, size_t out_size)
{
	char name[64], admin[512];
	assert_non_null(h_pg());
	unique_name(name, sizeof(name), "cks_t");
	snprintf(admin, sizeof(admin), "%s dbname=postgres", h_pg());
	PGconn *conn = PQconnectdb(admin);
	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("connect %s: %s", admin, PQerrorMessage(conn));
	char *ident = PQescapeIdentifier(conn, name, strlen(name));
	char sql[256];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ident);
	PQfreemem(ident);
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	snprintf(out, out_size, "%s dbname=%s", h_pg(), name);
}

const char *h_fresh_db(void)
{
	static char buf[512];
	h_fresh_db_into(buf, sizeof(buf));
	return buf;
}

const char *h_topic_prefix(void)
{
	static char buf[64];
	unique_name(buf, sizeof(buf), "t");
	return buf;
}

const char *h_data_path(const char *rel)
{
	static char buf[1024];
	const char *src = getenv("CKS_SOURCE_DIR");
	snprintf(buf, sizeof(buf), "%s/../shared/data/%s", src ? src : CKS_SOURCE_DIR, rel);
	struct stat sb;
	if (stat(buf, &sb) != 0) {
		fprintf(stderr, "skipping: %s is absent (real CKAN data lives in ../shared/data)\n",
			buf);
		return NULL;
	}
	return buf;
}

const char *h_bin(const char *name)
{
	static char buf[1024];
	const char *b = getenv("CKS_BUILD_DIR");
	snprintf(buf, sizeof(buf), "%s/%s", b ? b : CKS_BINARY_DIR, name);
	return buf;
}

int h_run(char **out, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	FILE *p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	buf[len] = '\0';
	int st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
