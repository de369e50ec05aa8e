/*
 * Config loading: defaults first, then the file, checked key by key into a plain
 * struct. libconfig reports a wrong type as "not found", so every key's type is
 * checked here, and every finding names file:line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "hostname.h"

static const char *const default_listen[] = {"0.0.0.0:25", "[::]:25"};
static const char *const default_reply[] = {"%h does not accept mail",
					    "5.3.2 %h does not accept mail"};

struct loader {
	const char *path;
	FILE *diag;
	int errors;
};

static void vreport(struct loader *ld, const config_setting_t *s, const char *kind,
		    const char *fmt, va_list ap)
{
	const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s)
							      : ld->path;

	fprintf(ld->diag, "%s:%u: %s", file, s ? config_setting_source_line(s) : 0, kind);
	vfprintf(ld->diag, fmt, ap);
	fputc('\n', ld->diag);
}

__attribute__((format(printf, 3, 4))) static void error_at(struct loader *ld,
							 const config_setting_t *s,
							 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(ld, s, "", fmt, ap);
	va_end(ap);
	ld->errors++;
}

__attribute__((format(printf, 3, 4))) static void warn_at(struct loader *ld,
							const config_setting_t *s,
							const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(ld, s, "warning: ", fmt, ap);
	va_end(ap);
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "something else";
	}
}

/* Rejects keys nobody reads: a typo must not silently fall back to a default. */
static void check_known(struct loader *ld, const config_setting_t *group,
			const char *const *known, const char *where)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *const *k = known;
		while (*k && strcmp(*k, config_setting_name(s)) != 0)
			k++;
		if (!*k)
			error_at(ld, s, "unknown key '%s%s'", where, config_setting_name(s));
	}
}

static const char *get_string(struct loader *ld, const config_setting_t *s, const char *key)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		error_at(ld, s, "%s must be a string, not %s", key, type_name(s));
		return NULL;
	}
	return config_setting_get_string(s);
}

static bool get_integer(struct loader *ld, const config_setting_t *s, const char *key,
			long long min, long long max, long long *out)
{
	if (!config_setting_is_number(s) || config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		error_at(ld, s, "%s must be an integer, not %s", key, type_name(s));
		return false;
	}
	*out = config_setting_get_int64(s);
	if (*out < min || *out > max) {
		error_at(ld, s, "%s must be between %lld and %lld, not %lld", key, min, max, *out);
		return false;
	}
	return true;
}

/* "ADDR:PORT" with IPv6 in brackets; the port in decimal, 0 allowed (any free port). */
static int parse_addr(const char *text, union sockaddr_any *out)
{
	char host[INET6_ADDRSTRLEN + 16];
	const char *colon = strrchr(text, ':'), *port = colon ? colon + 1 : NULL;
	size_t hlen = colon ? (size_t)(colon - text) : 0;
	char *end;
	unsigned long p;

	if (!colon || *port == '\0' || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5)
		return -1;
	p = strtoul(port, &end, 10);
	if (p > 65535 || hlen == 0 || hlen >= sizeof(host))
		return -1;
	if (text[0] == '[') {
		if (hlen < 3 || text[hlen - 1] != ']')
			return -1;
		memcpy(host, text + 1, hlen - 2);
		host[hlen - 2] = '\0';
		return uv_ip6_addr(host, (int)p, &out->in6) == 0 ? 0 : -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	return uv_ip4_addr(host, (int)p, &out->in) == 0 && inet_pton(AF_INET, host, &out->in.sin_addr) == 1 ? 0 : -1;
}

static void add_listen(struct loader *ld, struct config *cfg, const config_setting_t *s,
		       const char *text)
{
	struct listen_addr *a = &cfg->listen[cfg->nlisten];

	if (parse_addr(text, &a->addr) != 0) {
		error_at(ld, s, "listen: bad address '%s' (want ADDR:PORT, IPv6 as [ADDR]:PORT)",
			 text);
		return;
	}
	snprintf(a->text, sizeof(a->text), "%s", text);
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (strcmp(cfg->listen[i].text, text) == 0) {
			error_at(ld, s, "listen: '%s' is listed twice", text);
			return;
		}
	cfg->nlisten++;
}

static void parse_listen(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	int n = s ? config_setting_length(s) : 2;

	if (s && config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		error_at(ld, s, "listen must be a list of \"ADDR:PORT\" strings, not %s",
			 type_name(s));
		return;
	}
	if (n == 0 || n > CONFIG_LISTEN_MAX) {
		error_at(ld, s, "listen needs 1 to %d addresses", CONFIG_LISTEN_MAX);
		return;
	}
	cfg->listen = calloc((size_t)n, sizeof(*cfg->listen));
	if (!cfg->listen) {
		error_at(ld, s, "out of memory");
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = s ? config_setting_get_elem(s, (unsigned)i) : NULL;
		const char *text = e ? get_string(ld, e, "listen entry") : default_listen[i];
		if (text)
			add_listen(ld, cfg, e ? e : s, text);
	}
}

static void parse_hostname(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	const char *name = s ? get_string(ld, s, "hostname") : NULL;

	if (s && !name)
		return;
	if (!s && hostname_default(cfg->hostname, sizeof(cfg->hostname)) != 0) {
		error_at(ld, s, "hostname: the system has no hostname; set one here");
		return;
	}
	if (name)
		snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", name);
	if (!hostname_valid(cfg->hostname))
		error_at(ld, s, "hostname '%s'%s is not a domain name or address literal",
			 cfg->hostname, s ? "" : " (from the system; set hostname)");
}

/* Custom text is sent as written; these departures only earn a warning. */
static void lint_reply(struct loader *ld, const config_setting_t *s, const struct config *cfg)
{
	int found = reply_lint(cfg->reply, cfg->hostname);

	if (found & REPLY_LINT_HOST_FIRST)
		warn_at(ld, s, "reply: the first line does not start with the hostname '%s' "
			       "(RFC 1846 section 4.1, RFC 5321 section 4.3.1)",
			cfg->hostname);
	if (found & REPLY_LINT_ENHANCED_LAST)
		warn_at(ld, s, "reply: the last line has no enhanced status code such as 5.3.2 "
			       "right after 521 (Postfix reads it only there)");
}

static void parse_reply(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	const char *lines[REPLY_LINES_MAX];
	size_t n = 0, bad;
	char err[160];
	int type = s ? config_setting_type(s) : CONFIG_TYPE_NONE;

	if (!s) {
		lines[n++] = default_reply[0];
		lines[n++] = default_reply[1];
	} else if (type == CONFIG_TYPE_STRING) {
		lines[n++] = config_setting_get_string(s);
	} else if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
		if (config_setting_length(s) < 1 || config_setting_length(s) > REPLY_LINES_MAX) {
			error_at(ld, s, "reply needs 1 to %d lines", REPLY_LINES_MAX);
			return;
		}
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			const char *line = get_string(ld, e, "reply line");
			if (!line)
				return;
			lines[n++] = line;
		}
	} else {
		error_at(ld, s, "reply must be a string or a list of strings, not %s", type_name(s));
		return;
	}
	cfg->reply = reply_build(lines, n, 521, cfg->hostname, err, sizeof(err), &bad);
	if (!cfg->reply) {
		error_at(ld, type == CONFIG_TYPE_STRING ? s : config_setting_get_elem(s, (unsigned)bad),
			 "reply: %s", err);
		return;
	}
	if (s)
		lint_reply(ld, s, cfg);
}

static void parse_max_connections(struct loader *ld, const config_setting_t *s,
				  struct config *cfg)
{
	long long v;

	if (s && get_integer(ld, s, "max_connections", 1, CONFIG_MAX_CONNECTIONS_MAX, &v))
		cfg->max_connections = (unsigned long)v;
}

static void parse_drain(struct loader *ld, const config_setting_t *timeout,
			const config_setting_t *bytes, struct config *cfg)
{
	long long v;

	cfg->drain_timeout_ms = CONFIG_DRAIN_TIMEOUT_MS;
	cfg->drain_bytes = CONFIG_DRAIN_BYTES;
	if (timeout && !config_setting_is_number(timeout)) {
		error_at(ld, timeout, "drain_timeout must be a number of seconds, not %s",
			 type_name(timeout));
	} else if (timeout) {
		double sec = config_setting_get_float(timeout);
		if (config_setting_type(timeout) != CONFIG_TYPE_FLOAT)
			sec = (double)config_setting_get_int64(timeout);
		if (!(sec >= 0.001 && sec <= CONFIG_DRAIN_TIMEOUT_MAX_MS / 1000))
			error_at(ld, timeout, "drain_timeout must be between 0.001 and %d seconds",
				 CONFIG_DRAIN_TIMEOUT_MAX_MS / 1000);
		else
			cfg->drain_timeout_ms = (unsigned)(sec * 1000 + 0.5);
	}
	if (bytes && get_integer(ld, bytes, "drain_bytes", 0, CONFIG_DRAIN_BYTES_MAX, &v))
		cfg->drain_bytes = (unsigned long)v;
}

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

static const char *facility_name(int value)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (facilities[i].value == value)
			return facilities[i].name;
	return "?";
}

/* Looks up a string key among choices; returns its index or -1 (error reported). */
static int get_choice(struct loader *ld, const config_setting_t *s, const char *key,
		      const char *const *choices, const char *list)
{
	const char *v = get_string(ld, s, key);

	for (int i = 0; v && choices[i]; i++)
		if (strcmp(v, choices[i]) == 0)
			return i;
	if (v)
		error_at(ld, s, "%s must be one of %s, not \"%s\"", key, list, v);
	return -1;
}

static void parse_log(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	static const char *const known[] = {"format", "target", "facility", NULL};
	static const char *const formats[] = {"text", "json", NULL};
	static const char *const targets[] = {"stderr", "syslog", NULL};
	const config_setting_t *e;
	int i;

	cfg->log = (struct log_settings){LOG_FORMAT_TEXT, LOG_TARGET_STDERR, LOG_MAIL};
	if (!s)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		error_at(ld, s, "log must be a group { ... }, not %s", type_name(s));
		return;
	}
	check_known(ld, s, known, "log.");
	if ((e = config_setting_get_member(s, "format")) &&
	    (i = get_choice(ld, e, "log.format", formats, "\"text\", \"json\"")) >= 0)
		cfg->log.format = (enum log_format)i;
	if ((e = config_setting_get_member(s, "target")) &&
	    (i = get_choice(ld, e, "log.target", targets, "\"stderr\", \"syslog\"")) >= 0)
		cfg->log.target = (enum log_target)i;
	if ((e = config_setting_get_member(s, "facility")) && get_string(ld, e, "log.facility")) {
		const char *v = config_setting_get_string(e);
		for (i = 0; i < (int)(sizeof(facilities) / sizeof(facilities[0])); i++)
			if (strcmp(v, facilities[i].name) == 0)
				break;
		if (i == (int)(sizeof(facilities) / sizeof(facilities[0])))
			error_at(ld, e, "log.facility must be mail, daemon, user or local0..local7, not \"%s\"", v);
		else
			cfg->log.facility = facilities[i].value;
	}
}

static void parse_root(struct loader *ld, const config_setting_t *root, struct config *cfg)
{
	static const char *const known[] = {"listen",      "hostname",      "reply",
					    "max_connections", "drain_timeout", "drain_bytes",
					    "log",         NULL};
	const config_setting_t *s;

	check_known(ld, root, known, "");
	parse_hostname(ld, config_setting_get_member(root, "hostname"), cfg);
	parse_reply(ld, config_setting_get_member(root, "reply"), cfg);
	parse_listen(ld, config_setting_get_member(root, "listen"), cfg);
	s = config_setting_get_member(root, "max_connections");
	parse_max_connections(ld, s, cfg);
	parse_drain(ld, config_setting_get_member(root, "drain_timeout"),
		    config_setting_get_member(root, "drain_bytes"), cfg);
	parse_log(ld, config_setting_get_member(root, "log"), cfg);
}

/* libconfig resolves @include against its include dir: the config file's own directory. */
static int read_file(struct loader *ld, config_t *lc)
{
	char *copy = strdup(ld->path);
	FILE *f = fopen(ld->path, "r");
	int ok;

	if (!f || !copy) {
		fprintf(ld->diag, "%s:0: cannot read: %s\n", ld->path, strerror(errno));
		free(copy);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	config_set_include_dir(lc, dirname(copy));
	ok = config_read_file(lc, ld->path);
	free(copy);
	if (!ok) {
		fprintf(ld->diag, "%s:%d: %s\n",
			config_error_file(lc) ? config_error_file(lc) : ld->path,
			config_error_line(lc), config_error_text(lc));
		return -1;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, FILE *diag)
{
	struct loader ld = {path, diag, 0};
	config_t lc;

	memset(cfg, 0, sizeof(*cfg));
	config_init(&lc);
	if (read_file(&ld, &lc) == 0)
		parse_root(&ld, config_root_setting(&lc), cfg);
	else
		ld.errors++;
	config_destroy(&lc);
	cfg->path = strdup(path);
	if (ld.errors > 0 || !cfg->path) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->listen);
	reply_unref(cfg->reply);
	memset(cfg, 0, sizeof(*cfg));
}

int config_listen_equal(const struct config *a, const struct config *b)
{
	if (a->nlisten != b->nlisten)
		return 0;
	for (size_t i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
			return 0;
	return 1;
}

void config_print(const struct config *cfg, FILE *out)
{
	const char *line = cfg->reply->wire, *end = line + cfg->reply->len;

	fprintf(out, "config %s\n", cfg->path);
	for (size_t i = 0; i < cfg->nlisten; i++)
		fprintf(out, "listen %s\n", cfg->listen[i].text);
	fprintf(out, "hostname %s\n", cfg->hostname);
	while (line < end) {
		const char *crlf = memmem(line, (size_t)(end - line), "\r\n", 2);
		fprintf(out, "reply %.*s\n", (int)(crlf - line), line);
		line = crlf + 2;
	}
	if (cfg->max_connections)
		fprintf(out, "max_connections %lu\n", cfg->max_connections);
	else
		fprintf(out, "max_connections auto (open-file limit minus %d)\n", CONFIG_FD_RESERVE);
	fprintf(out, "drain_timeout %u.%03u\n", cfg->drain_timeout_ms / 1000,
		cfg->drain_timeout_ms % 1000);
	fprintf(out, "drain_bytes %lu\n", cfg->drain_bytes);
	fprintf(out, "log.format %s\n", cfg->log.format == LOG_FORMAT_JSON ? "json" : "text");
	fprintf(out, "log.target %s\n", cfg->log.target == LOG_TARGET_SYSLOG ? "syslog" : "stderr");
	fprintf(out, "log.facility %s\n", facility_name(cfg->log.facility));
}
