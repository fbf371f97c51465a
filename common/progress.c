/* progress — see progress.h. */
#include "progress.h"

#include <string.h>

void cks_progress_init(cks_progress *p, FILE *f, const char *what, const char *unit)
{
	p->f = f;
	p->what = what;
	p->unit = unit;
	p->start_us = cks_mono_us();
	p->last_us = 0;
}

static void format_duration(char *out, size_t n, double s)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

void cks_progress_format(char *out, size_t n, const char *what, const char *unit, int64_t count,
                         int64_t done, int64_t total, double elapsed_s)
{
	size_t len = 0;
	len += (size_t)snprintf(out, n, "%s: %lld %s", what, (long long)count, unit);
	if (total > 0 && len < n) {
		double frac = done >= total ? 1.0 : (double)(done < 0 ? 0 : done) / (double)total;
		len += (size_t)snprintf(out + len, n - len, ", %d%%", (int)(frac * 100));
	}
	if (elapsed_s >= 0.5 && len < n)
		len += (size_t)snprintf(out + len, n - len, ", %.0f/s", (double)count / elapsed_s);
	if (total > 0 && done > 0 && done < total && elapsed_s >= 0.5 && len < n) {
		char eta[32];
		format_duration(eta, sizeof(eta),
		                elapsed_s * (double)(total - done) / (double)done);
		snprintf(out + len, n - len, ", ETA %s", eta);
	}
}

void cks_progress_update(cks_progress *p, int64_t count, int64_t done, int64_t total)
{
	if (!p->f)
		return;
	int64_t now = cks_mono_us();
	if (p->last_us && now - p->last_us < 250000)
		return;
	char line[256];
	cks_progress_format(line, sizeof(line), p->what, p->unit, count, done, total,
	                    (double)(now - p->start_us) / 1e6);
	fprintf(p->f, "\r%s\033[K", line);
	fflush(p->f);
	p->last_us = now;
}

void cks_progress_end(cks_progress *p)
{
	if (p->f && p->last_us) {
		fputs("\r\033[K", p->f);
		fflush(p->f);
	}
	p->last_us = 0;
}
