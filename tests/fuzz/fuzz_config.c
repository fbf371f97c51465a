/* fuzz_config — libFuzzer target for the config parser: any bytes given to
 * cks_config_load_string (the `--config FILE` format) load or fail with a
 * message naming the line, without crash, leak or hang; whatever loaded can
 * be read back with every getter, the kafka.* settings iterate, the required
 * check runs for both roles, and loading the same text twice gives the same
 * settings. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

/* Reads everything back (getters, lists, kafka.* iteration). */
static void read_all(const cks_config *cfg)
{
	char err[256];
	for (const cks_cfg_def *d = cks_cfg_defs; d->name; d++) {
		(void)cks_config_get(cfg, d->name);
		(void)cks_config_get_int(cfg, d->name);
		(void)cks_config_get_bool(cfg, d->name);
		size_t n;
		const char *const *l = cks_config_get_list(cfg, d->name, &n);
		for (size_t i = 0; i < n; i++)
			if (!l[i])
				abort();
	}
	size_t it = 0;
	const char *k, *v;
	while (cks_config_kafka_next(cfg, &it, &k, &v))
		if (!k || !v)
			abort();
	(void)cks_config_check_required(cfg, CKS_CFG_PRODUCER, err, sizeof(err));
	(void)cks_config_check_required(cfg, CKS_CFG_CONSUMER, err, sizeof(err));
}

/* The same text loaded twice into fresh configs gives the same kafka.*
 * settings, in the same order. */
static void check_deterministic(const cks_config *a, const cks_config *b)
{
	size_t ia = 0, ib = 0;
	const char *ka, *va, *kb, *vb;
	for (;;) {
		bool more_a = cks_config_kafka_next(a, &ia, &ka, &va);
		bool more_b = cks_config_kafka_next(b, &ib, &kb, &vb);
		if (more_a != more_b)
			abort();
		if (!more_a)
			break;
		if (strcmp(ka, kb) != 0 || strcmp(va, vb) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0'; /* a file is read whole; a NUL ends the text here */
	cks_config *a = cks_config_new(), *b = cks_config_new();
	cks_err ea = cks_config_load_string(a, text, "fuzz.conf", err, sizeof(err));
	if (ea != CKS_OK && strncmp(err, "fuzz.conf:", 10) != 0)
		abort(); /* an error must name the file and line */
	cks_err eb = cks_config_load_string(b, text, "fuzz.conf", err, sizeof(err));
	if (ea != eb)
		abort();
	read_all(a);
	check_deterministic(a, b);
	cks_config_destroy(a);
	cks_config_destroy(b);
	free(text);
	return 0;
}
