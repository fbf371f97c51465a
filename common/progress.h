/* progress — one line of progress on a terminal for long work (import,
 * first sync, rebuild): count, percentage and ETA when the total is known,
 * rate; redrawn at most 4 times a second. Writes only to the FILE it is
 * given (stderr when that is a terminal) and nothing when given NULL, so
 * callers pass NULL when not on a terminal and stay quiet in logs and CI. */
#ifndef CKS_PROGRESS_H
#define CKS_PROGRESS_H

#include <stdio.h>
#include "util.h"

/* Plain data: init with cks_progress_init, no release needed. */
typedef struct cks_progress {
	FILE *f;          /* borrowed; NULL = quiet */
	const char *what; /* borrowed, e.g. "import" */
	const char *unit; /* borrowed, e.g. "datasets" */
	int64_t start_us; /* monotonic start */
	int64_t last_us;  /* last redraw, 0 = never drawn */
} cks_progress;

void cks_progress_init(cks_progress *p, FILE *f, const char *what, const char *unit);
/* count: items so far (printed, and the rate); done/total: the fraction of
 * the work (e.g. bytes read of a file, or messages of all to apply), total
 * < 0 if unknown. Redraws if 250 ms passed since the last redraw. */
void cks_progress_update(cks_progress *p, int64_t count, int64_t done, int64_t total);
/* Clears the line if anything was drawn (the caller prints its summary). */
void cks_progress_end(cks_progress *p);
/* The line's text (no \r) for count/done/total after elapsed_s seconds,
 * e.g. "import: 1200 datasets, 40%, 300/s, ETA 0:06". For tests. */
void cks_progress_format(char *out, size_t n, const char *what, const char *unit, int64_t count,
                         int64_t done, int64_t total, double elapsed_s);

#endif
