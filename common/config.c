/* config — see config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define P CKS_CFG_PRODUCER
#define C CKS_CFG_CONSUMER

const cks_cfg_def cks_cfg_defs[] = {
    {"db", CKS_CFG_STRING, NULL, P | C | CKS_CFG_REQUIRED | CKS_CFG_SECRET,
     "PostgreSQL conninfo of this instance (may hold a password: never logged)"},
    {"brokers", CKS_CFG_STRING, NULL, P | C | CKS_CFG_REQUIRED,
     "Kafka bootstrap servers, host:port[,host:port]"},
    {"topic-prefix", CKS_CFG_STRING, "ckansync", P | C, "prefix of every topic name"},
    {"origin", CKS_CFG_LIST, NULL, C | CKS_CFG_REQUIRED,
     "instance id to follow (repeatable, or a comma list in a file)"},
    {"policy", CKS_CFG_STRING, "newest-wins", C,
     "merge policy: newest-wins | origin-priority:A,B,... | local-wins | remote-wins"},
    {"two-way", CKS_CFG_BOOL, "false", C,
     "this instance also publishes to the origins it follows (2-way/mesh): requires a "
     "symmetric policy"},
    {"group-id", CKS_CFG_STRING, NULL, C,
     "Kafka consumer group (default: <topic-prefix>-<instance>)"},
    {"from-beginning", CKS_CFG_BOOL, "false", C,
     "replay: partitions with no offset stored in this instance start at the beginning "
     "(also what happens without it; an empty instance rebuilds from the topics)"},
    {"until-idle", CKS_CFG_BOOL, "false", C,
     "exit 0 once every assigned partition is applied to its end"},
    {"batch-size", CKS_CFG_INT, "500", P | C,
     "messages per PostgreSQL transaction (consumer) / outbox rows per fetch (producer)"},
    {"once", CKS_CFG_BOOL, "false", P,
     "publish what is pending, wait for every delivery report, exit"},
    {"publish.private", CKS_CFG_BOOL, "false", P, "also publish private packages"},
    {"partitions", CKS_CFG_INT, "3", P | C, "partitions of topics the producer creates"},
    {"replication-factor", CKS_CFG_INT, "1", P | C, "replication factor of topics it creates"},
    {"create-topics", CKS_CFG_BOOL, "true", P | C,
     "create missing topics and refuse a revisions topic that would lose history (false: "
     "an operator manages the topics; no admin rights needed, nothing checked)"},
    {"poll-interval-ms", CKS_CFG_INT, "5000", P, "fallback outbox poll when no NOTIFY arrives"},
    {"log-level", CKS_CFG_STRING, "info", P | C, "error | warn | info | debug"},
    {"log-format", CKS_CFG_STRING, "text", P | C, "text | json"},
    {"metrics-port", CKS_CFG_INT, "0", P | C,
     "serve Prometheus metrics on /metrics and a health check on /healthz at this TCP "
     "port (0 = off)"},
    {NULL, 0, NULL, 0, NULL},
};
#undef P
#undef C

typedef struct cfg_entry {
	char *key;
	char *value; /* scalar value (NULL for lists) */
	char **list; /* list values */
	size_t nlist;
	bool from_cli_list; /* list set by repeated options */
} cfg_entry;

struct cks_config {
	cfg_entry *entries;
	size_t n, cap;
};

static const cks_cfg_def *find_def(const char *key)
{
	for (const cks_cfg_def *d = cks_cfg_defs; d->name; d++)
		if (strcmp(d->name, key) == 0)
			return d;
	return NULL;
}

static cfg_entry *find_entry(const cks_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (strcmp(cfg->entries[i].key, key) == 0)
			return &cfg->entries[i];
	return NULL;
}

static cfg_entry *get_entry(cks_config *cfg, const char *key)
{
	cfg_entry *e = find_entry(cfg, key);
	if (e)
		return e;
	if (cfg->n == cfg->cap) {
		cfg->cap = cfg->cap ? cfg->cap * 2 : 16;
		cfg->entries = cks_realloc(cfg->entries, cfg->cap * sizeof(*cfg->entries));
	}
	e = &cfg->entries[cfg->n++];
	memset(e, 0, sizeof(*e));
	e->key = cks_strdup(key);
	return e;
}

static void entry_clear_list(cfg_entry *e)
{
	for (size_t i = 0; i < e->nlist; i++)
		free(e->list[i]);
	free(e->list);
	e->list = NULL;
	e->nlist = 0;
}

cks_config *cks_config_new(void)
{
	cks_config *cfg = cks_calloc(1, sizeof(*cfg));
	for (const cks_cfg_def *d = cks_cfg_defs; d->name; d++)
		if (d->def && d->type != CKS_CFG_LIST)
			get_entry(cfg, d->name)->value = cks_strdup(d->def);
	return cfg;
}

void cks_config_destroy(cks_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
		entry_clear_list(&cfg->entries[i]);
	}
	free(cfg->entries);
	free(cfg);
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return (*out = true), true;
		if (strcasecmp(v, no[i]) == 0)
			return (*out = false), true;
	}
	return false;
}

static bool parse_int(const char *v, int64_t *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return false;
	*out = n;
	return true;
}

static cks_err set_list(cfg_entry *e, const char *value, bool append, char *errstr, size_t esz)
{
	if (!append)
		entry_clear_list(e);
	char *copy = cks_strdup(value), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		char *end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*tok)
			continue;
		e->list = cks_realloc(e->list, (e->nlist + 1) * sizeof(char *));
		e->list[e->nlist++] = cks_strdup(tok);
	}
	free(copy);
	if (e->nlist == 0)
		return cks_seterr(errstr, esz, CKS_ERR_PERMANENT, "%s: empty list", e->key);
	return CKS_OK;
}

static cks_err config_set(cks_config *cfg, const char *key, const char *value, bool from_file,
                          char *errstr, size_t esz)
{
	if (strncmp(key, "kafka.", 6) == 0) {
		if (!key[6])
			return cks_seterr(errstr, esz, CKS_ERR_PERMANENT, "empty kafka.* setting");
		cfg_entry *e = get_entry(cfg, key);
		free(e->value);
		e->value = cks_strdup(value);
		return CKS_OK;
	}
	const cks_cfg_def *d = find_def(key);
	if (!d)
		return cks_seterr(errstr, esz, CKS_ERR_PERMANENT, "unknown setting '%s'", key);
	int64_t n;
	bool b;
	if (d->type == CKS_CFG_INT && !parse_int(value, &n))
		return cks_seterr(errstr, esz, CKS_ERR_PERMANENT, "%s: '%s' is not a whole number",
		                  key, value);
	if (d->type == CKS_CFG_BOOL && !parse_bool(value, &b))
		return cks_seterr(errstr, esz, CKS_ERR_PERMANENT,
		                  "%s: '%s' is not a boolean (true/false)", key, value);
	cfg_entry *e = get_entry(cfg, key);
	if (d->type == CKS_CFG_LIST) {
		bool append = !from_file && e->from_cli_list;
		cks_err err = set_list(e, value, append, errstr, esz);
		e->from_cli_list = !from_file;
		return err;
	}
	free(e->value);
	e->value = cks_strdup(value);
	return CKS_OK;
}

cks_err cks_config_set(cks_config *cfg, const char *key, const char *value, char *errstr,
                       size_t errstr_size)
{
	return config_set(cfg, key, value, false, errstr, errstr_size);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

cks_err cks_config_load_string(cks_config *cfg, const char *text, const char *name, char *errstr,
                               size_t errstr_size)
{
	cks_err err = CKS_OK;
	char *copy = cks_strdup(text), *save = NULL, sub[512];
	int lineno = 0;
	/* strtok_r would skip empty lines and so miscount; walk by hand. */
	char *line = copy;
	(void)save;
	while (line && err == CKS_OK) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		char *s = trim(line);
		if (*s && *s != '#') {
			char *eq = strchr(s, '=');
			if (!eq) {
				err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				                 "%s:%d: expected 'key = value'", name, lineno);
				break;
			}
			*eq = '\0';
			char *key = trim(s), *value = trim(eq + 1);
			if (!*key) {
				err = cks_seterr(errstr, errstr_size, CKS_ERR_PERMANENT,
				                 "%s:%d: missing key before '='", name, lineno);
				break;
			}
			err = config_set(cfg, key, value, true, sub, sizeof(sub));
			if (err)
				cks_seterr(errstr, errstr_size, err, "%s:%d: %s", name, lineno,
				           sub);
		}
		line = nl ? nl + 1 : NULL;
	}
	free(copy);
	return err;
}

cks_err cks_config_load_file(cks_config *cfg, const char *path, bool *insecure, char *errstr,
                             size_t errstr_size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL, "cannot read config %s: %s",
		                  path, strerror(errno));
	cks_buf b = CKS_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cks_buf_append(&b, chunk, n);
	struct stat sb;
	bool world = fstat(fileno(f), &sb) == 0 && (sb.st_mode & (S_IRGRP | S_IROTH));
	fclose(f);
	size_t before = cfg->n;
	cks_err err = cks_config_load_string(cfg, b.data ? b.data : "", path, errstr, errstr_size);
	cks_buf_release(&b);
	if (insecure) {
		*insecure = false;
		for (size_t i = 0; world && i < cfg->n; i++)
			if (cks_config_is_secret(cfg->entries[i].key) &&
			    (i >= before || cfg->entries[i].value))
				*insecure = true;
	}
	return err == CKS_OK ? CKS_OK : CKS_ERR_FATAL;
}

const char *cks_config_get(const cks_config *cfg, const char *key)
{
	cfg_entry *e = find_entry(cfg, key);
	if (!e)
		return NULL;
	if (e->value)
		return e->value;
	return e->nlist ? e->list[0] : NULL;
}

int64_t cks_config_get_int(const cks_config *cfg, const char *key)
{
	int64_t n = 0;
	const char *v = cks_config_get(cfg, key);
	return v && parse_int(v, &n) ? n : 0;
}

bool cks_config_get_bool(const cks_config *cfg, const char *key)
{
	bool b = false;
	const char *v = cks_config_get(cfg, key);
	return v && parse_bool(v, &b) ? b : false;
}

const char *const *cks_config_get_list(const cks_config *cfg, const char *key, size_t *n)
{
	cfg_entry *e = find_entry(cfg, key);
	*n = e ? e->nlist : 0;
	return e ? (const char *const *)e->list : NULL;
}

bool cks_config_kafka_next(const cks_config *cfg, size_t *iter, const char **key,
                           const char **value)
{
	for (; *iter < cfg->n; (*iter)++) {
		cfg_entry *e = &cfg->entries[*iter];
		if (strncmp(e->key, "kafka.", 6) == 0) {
			*key = e->key + 6;
			*value = e->value;
			(*iter)++;
			return true;
		}
	}
	return false;
}

cks_err cks_config_check_required(const cks_config *cfg, int role, char *errstr, size_t errstr_size)
{
	for (const cks_cfg_def *d = cks_cfg_defs; d->name; d++)
		if ((d->flags & CKS_CFG_REQUIRED) && (d->flags & role) &&
		    !cks_config_get(cfg, d->name))
			return cks_seterr(errstr, errstr_size, CKS_ERR_FATAL,
			                  "missing required setting '%s' (--%s or '%s = ...' in "
			                  "--config)",
			                  d->name, d->name, d->name);
	return CKS_OK;
}

bool cks_config_is_secret(const char *key)
{
	const cks_cfg_def *d = find_def(key);
	if (d)
		return d->flags & CKS_CFG_SECRET;
	if (strncmp(key, "kafka.", 6) != 0)
		return false;
	return strstr(key, "password") || strstr(key, "secret") || strstr(key, "key.pem") ||
	       strstr(key, "keystore") || strstr(key, "sasl.oauthbearer.config");
}

void cks_config_help(cks_buf *b, int role)
{
	for (const cks_cfg_def *d = cks_cfg_defs; d->name; d++) {
		if (!(d->flags & role))
			continue;
		char opt[64];
		snprintf(opt, sizeof(opt), "--%s%s", d->name,
		         d->type == CKS_CFG_BOOL ? "" : (d->type == CKS_CFG_INT ? " N" : " V"));
		cks_buf_appendf(b, "  %-24s %s", opt, d->help);
		if (d->def && !(d->flags & CKS_CFG_SECRET))
			cks_buf_appendf(b, " (default: %s)", d->def);
		cks_buf_appendf(b, "\n");
	}
	cks_buf_appendf(b, "  %-24s %s\n", "--config FILE",
	                "read 'key = value' settings (same names; kafka.* keys go to librdkafka)");
}
