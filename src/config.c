/*
 * Config loading: defaults first, then the file, checked key by key into a plain
 * struct. libconfig reports a wrong type as "not found", so every key's type is
 * checked here, and every finding names file:line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "config_parse.h" /* the helpers below are shared with config_flood.c */
#include "hostname.h"
#include "proxy.h"

static const char *const default_listen[] = {"0.0.0.0:25", "[::]:25"};

/* What a listener's profile is made of: the global keys, then a listen group's own. */
struct spec {
	char hostname[PROFILE_HOSTNAME_MAX + 1];
	const char *reply[REPLY_LINES_MAX];
	size_t nreply;
	const config_setting_t *reply_at; /* NULL: the default text */
	const char *rcpt_reply;
	const config_setting_t *rcpt_at;
	struct profile base; /* mode, proxy, numbers; no replies */
};

__attribute__((format(printf, 4, 0))) static void
vreport(struct loader *ld, const config_setting_t *s, const char *kind, const char *fmt, va_list ap)
{
	const char *file =
		s && config_setting_source_file(s) ? config_setting_source_file(s) : ld->path;

	fprintf(ld->diag, "%s:%u: %s", file, s ? config_setting_source_line(s) : 0, kind);
	vfprintf(ld->diag, fmt, ap);
	fputc('\n', ld->diag);
}

__attribute__((format(printf, 3, 4))) void error_at(struct loader *ld, const config_setting_t *s,
						    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(ld, s, "", fmt, ap);
	va_end(ap);
	ld->errors++;
}

__attribute__((format(printf, 3, 4))) void warn_at(struct loader *ld, const config_setting_t *s,
						   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(ld, s, "warning: ", fmt, ap);
	va_end(ap);
}

const char *type_name(const config_setting_t *s)
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
void check_known(struct loader *ld, const config_setting_t *group, const char *const *known,
		 const char *where)
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

const char *get_string(struct loader *ld, const config_setting_t *s, const char *key)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		error_at(ld, s, "%s must be a string, not %s", key, type_name(s));
		return NULL;
	}
	return config_setting_get_string(s);
}

/*
 * libconfig 1.5 wraps an integer literal without the L suffix to 32 bits: 4294967296
 * reads as 0 and would pass a range check. So the literal is read again from its line.
 */
static long long integer_as_written(const struct loader *ld, const config_setting_t *s)
{
	const char *name = config_setting_name(s), *file = config_setting_source_file(s), *p;
	long long v = config_setting_get_int64(s);
	unsigned n = 0, want = config_setting_source_line(s);
	char line[1024], *end;
	FILE *f;

	if (config_setting_type(s) != CONFIG_TYPE_INT || !name ||
	    !(f = fopen(file ? file : ld->path, "r")))
		return v;
	while (n < want && fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	if (n != want || !(p = strstr(line, name)))
		return v;
	p += strlen(name);
	p += strspn(p, " \t");
	if (*p != '=' && *p != ':')
		return v;
	errno = 0;
	long long written = strtoll(p + 1, &end, 0);
	if (end == p + 1)
		return v;
	return errno == ERANGE ? (written < 0 ? LLONG_MIN : LLONG_MAX) : written;
}

bool get_integer(struct loader *ld, const config_setting_t *s, const char *key, long long min,
		 long long max, long long *out)
{
	if (!config_setting_is_number(s) || config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		error_at(ld, s, "%s must be an integer, not %s", key, type_name(s));
		return false;
	}
	*out = integer_as_written(ld, s);
	if (*out < min || *out > max) {
		error_at(ld, s, "%s must be between %lld and %lld, not %lld", key, min, max, *out);
		return false;
	}
	return true;
}

/* "ADDR:PORT" with IPv6 in brackets; the port in decimal, 0 allowed (any free port). */
int parse_addr(const char *text, union sockaddr_any *out)
{
	char host[INET6_ADDRSTRLEN + 16];
	const char *colon = strrchr(text, ':'), *port = colon ? colon + 1 : NULL;
	size_t hlen = colon ? (size_t)(colon - text) : 0;
	unsigned long p;

	if (!colon || *port == '\0' || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5 || hlen == 0 || hlen >= sizeof(host))
		return -1;
	p = strtoul(port, NULL, 10);
	if (p > 65535)
		return -1;
	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		if (hlen < 3 || text[hlen - 1] != ']')
			return -1;
		memcpy(host, text + 1, hlen - 2);
		host[hlen - 2] = '\0';
		return uv_ip6_addr(host, (int)p, &out->in6) == 0 ? 0 : -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	/* inet_pton, unlike uv_ip4_addr, refuses shorthand such as 127.1 */
	if (uv_ip4_addr(host, (int)p, &out->in) != 0 ||
	    inet_pton(AF_INET, host, &out->in.sin_addr) != 1)
		return -1;
	return 0;
}

/* Seconds, integer or not, into milliseconds within [min_ms, max_ms]. */
static void get_seconds(struct loader *ld, const config_setting_t *s, const char *key,
			unsigned min_ms, unsigned max_ms, unsigned *out_ms)
{
	double sec;

	if (!s)
		return;
	if (!config_setting_is_number(s)) {
		error_at(ld, s, "%s must be a number of seconds, not %s", key, type_name(s));
		return;
	}
	sec = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
							  : (double)integer_as_written(ld, s);
	if (!(sec * 1000 >= min_ms && sec * 1000 <= max_ms)) {
		error_at(ld, s, "%s must be between %g and %g seconds", key, min_ms / 1000.0,
			 max_ms / 1000.0);
		return;
	}
	*out_ms = (unsigned)(sec * 1000 + 0.5);
}

static void get_uint32(struct loader *ld, const config_setting_t *s, const char *key, long long min,
		       long long max, uint32_t *out)
{
	long long v;

	if (s && get_integer(ld, s, key, min, max, &v))
		*out = (uint32_t)v;
}

/* Looks up a string key among choices; returns its index or -1 (error reported). */
int get_choice(struct loader *ld, const config_setting_t *s, const char *key,
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

static void get_hostname(struct loader *ld, const config_setting_t *s, char *out)
{
	const char *name = get_string(ld, s, "hostname");

	if (!name)
		return;
	if (!hostname_valid(name)) {
		error_at(ld, s, "hostname '%s' is not a domain name or address literal", name);
		return;
	}
	snprintf(out, PROFILE_HOSTNAME_MAX + 1, "%s", name);
}

static void default_hostname(struct loader *ld, struct spec *sp)
{
	if (hostname_default(sp->hostname, sizeof(sp->hostname)) != 0)
		error_at(ld, NULL, "hostname: the system has no hostname; set one here");
	else if (!hostname_valid(sp->hostname))
		error_at(ld, NULL,
			 "hostname '%s' (from the system) is not a domain name or "
			 "address literal; set hostname",
			 sp->hostname);
}

static void get_reply(struct loader *ld, const config_setting_t *s, struct spec *sp)
{
	int type = config_setting_type(s);

	sp->nreply = 0;
	if (type == CONFIG_TYPE_STRING) {
		sp->reply[sp->nreply++] = config_setting_get_string(s);
	} else if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
		int n = config_setting_length(s);
		if (n < 1 || n > REPLY_LINES_MAX) {
			error_at(ld, s, "reply needs 1 to %d lines", REPLY_LINES_MAX);
			return;
		}
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (!(sp->reply[sp->nreply++] = get_string(ld, e, "reply line")))
				return;
		}
	} else {
		error_at(ld, s, "reply must be a string or a list of strings, not %s",
			 type_name(s));
		return;
	}
	sp->reply_at = s;
}

static void get_mode(struct loader *ld, const config_setting_t *s, struct spec *sp)
{
	const char *v = get_string(ld, s, "mode");

	if (v && smtp_mode_parse(v, &sp->base.mode) != 0)
		error_at(ld, s, "mode must be one of \"close\", \"quit\", \"rcpt\", not \"%s\"", v);
}

/* Checked here, whatever the mode, so that a bad text never waits for a mode change. */
static void get_rcpt_reply(struct loader *ld, const config_setting_t *s, struct spec *sp)
{
	const char *text = get_string(ld, s, "rcpt_reply");
	struct reply *trial;
	char err[160];

	if (!text)
		return;
	if (!(trial = reply_build_coded(text, sp->hostname, err, sizeof(err)))) {
		error_at(ld, s, "rcpt_reply: %s", err);
		return;
	}
	reply_free(trial);
	sp->rcpt_reply = text;
	sp->rcpt_at = s;
}

/* Keys a listen group may set for itself, like the global ones of the same name. */
static void apply_common(struct loader *ld, const config_setting_t *group, struct spec *sp)
{
	const config_setting_t *s;

	if ((s = config_setting_get_member(group, "hostname")))
		get_hostname(ld, s, sp->hostname);
	if ((s = config_setting_get_member(group, "reply")))
		get_reply(ld, s, sp);
	if ((s = config_setting_get_member(group, "mode")))
		get_mode(ld, s, sp);
	if ((s = config_setting_get_member(group, "rcpt_reply")))
		get_rcpt_reply(ld, s, sp);
}

static void get_proxy_from(struct loader *ld, const config_setting_t *s, struct profile *p)
{
	int n = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		error_at(ld, s, "proxy_from must be a list of addresses or CIDR prefixes, not %s",
			 type_name(s));
		return;
	}
	if (n < 1 || n > PROFILE_PROXY_FROM_MAX) {
		error_at(ld, s, "proxy_from needs 1 to %d entries", PROFILE_PROXY_FROM_MAX);
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *text = get_string(ld, e, "proxy_from entry");
		if (text && cidr_parse(text, &p->proxy_from[p->nproxy_from]) != 0)
			error_at(ld, e, "proxy_from: bad address or prefix '%s'", text);
		else if (text)
			p->nproxy_from++;
	}
}

/* PROXY headers are trusted per listener and only from the sources listed. */
static void get_proxy(struct loader *ld, const config_setting_t *group, struct spec *sp)
{
	const config_setting_t *s = config_setting_get_member(group, "proxy");
	const config_setting_t *from = config_setting_get_member(group, "proxy_from");
	enum proxy_allow allow;
	const char *v;

	if (s && !(v = get_string(ld, s, "proxy")))
		return;
	if (!s || strcmp(v, "none") == 0) {
		if (from)
			error_at(ld, from, "proxy_from needs proxy = \"v1\", \"v2\" or \"any\"");
		return;
	}
	if (proxy_allow_parse(v, &allow) != 0) {
		error_at(ld, s,
			 "proxy must be one of \"none\", \"v1\", \"v2\", \"any\", not \"%s\"", v);
		return;
	}
	sp->base.proxy = allow;
	if (!from)
		error_at(ld, s, "proxy needs proxy_from: the addresses allowed to send headers");
	else
		get_proxy_from(ld, from, &sp->base);
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

static void parse_log(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	static const char *const known[] = {"format", "target", "facility",
					    /* parsed in config_flood.c */
					    CONFIG_FLOOD_LOG_KEYS, NULL};
	static const char *const formats[] = {"text", "json", NULL};
	static const char *const targets[] = {"stderr", "syslog", "journal", NULL};
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
	    (i = get_choice(ld, e, "log.target", targets, "\"stderr\", \"syslog\", \"journal\"")) >=
		    0)
		cfg->log.target = (enum log_target)i;
	if ((e = config_setting_get_member(s, "facility")) && get_string(ld, e, "log.facility")) {
		const char *v = config_setting_get_string(e);
		for (i = 0; i < (int)(sizeof(facilities) / sizeof(facilities[0])); i++)
			if (strcmp(v, facilities[i].name) == 0)
				break;
		if (i == (int)(sizeof(facilities) / sizeof(facilities[0])))
			error_at(ld, e,
				 "log.facility must be mail, daemon, user or local0..local7, not "
				 "\"%s\"",
				 v);
		else
			cfg->log.facility = facilities[i].value;
	}
}

/* Custom text is sent as written; these departures only earn a warning. */
static void lint_reply(struct loader *ld, const struct spec *sp, const struct profile *p)
{
	int found;

	if (!sp->reply_at || p->mode == SMTP_MODE_RCPT)
		return;
	found = reply_lint(p->replies[SMTP_REPLY_GREETING], p->hostname);
	if (found & REPLY_LINT_HOST_FIRST)
		warn_at(ld, sp->reply_at,
			"reply: the first line does not start with the hostname "
			"'%s' (RFC 1846 section 4.1, RFC 5321 section 4.3.1)",
			p->hostname);
	if (found & REPLY_LINT_ENHANCED_LAST)
		warn_at(ld, sp->reply_at,
			"reply: the last line has no enhanced status code such as "
			"5.3.2 right after 521 (Postfix reads it only there)");
}

static struct profile *build_profile(struct loader *ld, const struct spec *sp, bool lint)
{
	struct profile_text text = {sp->reply, sp->nreply, sp->rcpt_reply};
	struct profile *p = malloc(sizeof(*p));
	const config_setting_t *at;
	char err[160];
	bool from_rcpt;
	size_t bad;

	if (!p) {
		error_at(ld, NULL, "out of memory");
		return NULL;
	}
	*p = sp->base;
	snprintf(p->hostname, sizeof(p->hostname), "%s", sp->hostname);
	if (profile_build(p, &text, err, sizeof(err), &from_rcpt, &bad) != 0) {
		at = from_rcpt ? sp->rcpt_at : sp->reply_at;
		if (at && config_setting_is_aggregate(at))
			at = config_setting_get_elem(at, (unsigned)bad);
		error_at(ld, at, "%s: %s", from_rcpt ? "rcpt_reply" : "reply", err);
		profile_unref(p);
		return NULL;
	}
	if (lint)
		lint_reply(ld, sp, p);
	return p;
}

static void add_listen(struct loader *ld, struct config *cfg, const config_setting_t *at,
		       const char *text, const struct spec *sp, bool own_text)
{
	struct listen_addr *a = &cfg->listen[cfg->nlisten];

	if (parse_addr(text, &a->addr) != 0) {
		error_at(ld, at, "listen: bad address '%s' (want ADDR:PORT, IPv6 as [ADDR]:PORT)",
			 text);
		return;
	}
	addr_format(&a->addr.sa, a->text, sizeof(a->text));
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (strcmp(cfg->listen[i].text, a->text) == 0) {
			error_at(ld, at, "listen: '%s' is listed twice", a->text);
			return;
		}
	if (!cfg->defaults) /* the global keys were bad: that is reported already */
		return;
	if ((a->profile = build_profile(ld, sp, own_text)) != NULL)
		cfg->nlisten++;
}

/* A listen entry: "ADDR:PORT", or a group with address and its own settings. */
static void parse_listen_entry(struct loader *ld, const config_setting_t *e,
			       const struct spec *base, struct config *cfg)
{
	static const char *const known[] = {"address",    "hostname", "reply",      "mode",
					    "rcpt_reply", "proxy",    "proxy_from", NULL};
	struct spec sp = *base;
	const config_setting_t *a;
	const char *text;
	int errors = ld->errors;

	if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
		if ((text = get_string(ld, e, "listen entry")) != NULL)
			add_listen(ld, cfg, e, text, &sp, false);
		return;
	}
	check_known(ld, e, known, "listen.");
	if (!(a = config_setting_get_member(e, "address"))) {
		error_at(ld, e, "a listen group needs an address = \"ADDR:PORT\"");
		return;
	}
	apply_common(ld, e, &sp);
	get_proxy(ld, e, &sp);
	if ((text = get_string(ld, a, "listen address")) != NULL && ld->errors == errors)
		add_listen(ld, cfg, a, text, &sp,
			   config_setting_get_member(e, "reply") ||
				   config_setting_get_member(e, "hostname"));
}

static void parse_listen(struct loader *ld, const config_setting_t *s, const struct spec *base,
			 struct config *cfg)
{
	int n = s ? config_setting_length(s) : 2;

	if (s && config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		error_at(ld, s, "listen must be a list of \"ADDR:PORT\" strings or groups, not %s",
			 type_name(s));
		return;
	}
	if (n == 0 || n > CONFIG_LISTEN_MAX) {
		error_at(ld, s, "listen needs 1 to %d addresses", CONFIG_LISTEN_MAX);
		return;
	}
	if (!(cfg->listen = calloc((size_t)n, sizeof(*cfg->listen)))) {
		error_at(ld, s, "out of memory");
		return;
	}
	for (int i = 0; i < n; i++) {
		if (s)
			parse_listen_entry(ld, config_setting_get_elem(s, (unsigned)i), base, cfg);
		else
			add_listen(ld, cfg, NULL, default_listen[i], base, false);
	}
}

/* The global keys every listener starts from. */
/* The global keys every listener starts from. */
static void parse_globals(struct loader *ld, const config_setting_t *root, struct spec *sp,
			  struct config *cfg)
{
	const struct smtp_reply_default *greeting =
		smtp_default_reply(SMTP_MODE_CLOSE, SMTP_REPLY_GREETING);

	sp->base = (struct profile){
		.mode = SMTP_MODE_CLOSE,
		.drain_timeout_ms = CONFIG_DRAIN_TIMEOUT_MS,
		.idle_timeout_ms = CONFIG_IDLE_TIMEOUT_MS,
		.session_timeout_ms = CONFIG_SESSION_TIMEOUT_MS,
		.proxy_timeout_ms = CONFIG_PROXY_TIMEOUT_MS,
		.drain_bytes = CONFIG_DRAIN_BYTES,
		.max_commands = SMTP_MAX_COMMANDS_DEFAULT,
	};
	sp->nreply = greeting->nlines;
	memcpy(sp->reply, greeting->lines, greeting->nlines * sizeof(sp->reply[0]));
	if (!config_setting_get_member(root, "hostname"))
		default_hostname(ld, sp);
	apply_common(ld, root, sp);
	get_seconds(ld, config_setting_get_member(root, "drain_timeout"), "drain_timeout", 1,
		    CONFIG_TIMEOUT_MAX_MS, &sp->base.drain_timeout_ms);
	get_seconds(ld, config_setting_get_member(root, "idle_timeout"), "idle_timeout", 1000,
		    CONFIG_TIMEOUT_MAX_MS, &sp->base.idle_timeout_ms);
	get_seconds(ld, config_setting_get_member(root, "session_timeout"), "session_timeout", 1000,
		    CONFIG_TIMEOUT_MAX_MS, &sp->base.session_timeout_ms);
	/* proxy-protocol.txt: a receiver should wait at least 3 seconds for the header. */
	get_seconds(ld, config_setting_get_member(root, "proxy_timeout"), "proxy_timeout", 3000,
		    CONFIG_TIMEOUT_MAX_MS, &sp->base.proxy_timeout_ms);
	get_uint32(ld, config_setting_get_member(root, "drain_bytes"), "drain_bytes", 0,
		   CONFIG_DRAIN_BYTES_MAX, &sp->base.drain_bytes);
	get_uint32(ld, config_setting_get_member(root, "max_commands"), "max_commands", 1,
		   SMTP_MAX_COMMANDS_MAX, &sp->base.max_commands);
	/* The global texts are checked once, so a bad one is reported once. */
	if (ld->errors == 0)
		cfg->defaults = build_profile(ld, sp, true);
}

/* Names only, checked now so a typo is a file:line error and not a failed start. */
static void parse_account(struct loader *ld, const config_setting_t *s, const char *key, char **out)
{
	const char *name = s ? get_string(ld, s, key) : NULL;
	bool user = strcmp(key, "user") == 0;

	if (!name)
		return;
	if (!*name || strlen(name) >= 64)
		error_at(ld, s, "%s must be a name of 1 to 63 characters", key);
	else if (user ? !getpwnam(name) : !getgrnam(name))
		error_at(ld, s, "%s: no %s named '%s' on this system", key, key, name);
	else if (!(*out = strdup(name)))
		error_at(ld, s, "out of memory");
}

static void parse_root(struct loader *ld, const config_setting_t *root, struct config *cfg)
{
	static const char *const known[] = {"listen",
					    "hostname",
					    "reply",
					    "mode",
					    "rcpt_reply",
					    "max_connections",
					    "drain_timeout",
					    "drain_bytes",
					    "idle_timeout",
					    "session_timeout",
					    "max_commands",
					    "proxy_timeout",
					    "log",
					    "user",
					    "group",
					    CONFIG_FLOOD_ROOT_KEYS,
					    NULL};
	const config_setting_t *s;
	struct spec base = {0};
	long long v;

	check_known(ld, root, known, "");
	parse_globals(ld, root, &base, cfg);
	snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", base.hostname);
	if ((s = config_setting_get_member(root, "max_connections")) &&
	    get_integer(ld, s, "max_connections", 1, CONFIG_MAX_CONNECTIONS_MAX, &v))
		cfg->max_connections = (unsigned long)v;
	parse_log(ld, config_setting_get_member(root, "log"), cfg);
	parse_listen(ld, config_setting_get_member(root, "listen"), &base, cfg);
	parse_account(ld, config_setting_get_member(root, "user"), "user", &cfg->user);
	parse_account(ld, config_setting_get_member(root, "group"), "group", &cfg->group);
	config_parse_flood(ld, root, cfg); /* limits, metrics, log flood control */
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
	for (size_t i = 0; i < cfg->nlisten; i++)
		profile_unref(cfg->listen[i].profile);
	profile_unref(cfg->defaults);
	free(cfg->path);
	free(cfg->listen);
	free(cfg->user);
	free(cfg->group);
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

static void print_reply(FILE *out, const char *name, const struct reply *r)
{
	const char *line = r->wire, *end = r->wire + r->len;

	while (line < end) {
		const char *crlf = memmem(line, (size_t)(end - line), "\r\n", 2);
		fprintf(out, "  %s %.*s\n", name, (int)(crlf - line), line);
		line = crlf + 2;
	}
}

static void print_listener(FILE *out, const struct listen_addr *a)
{
	const struct profile *p = a->profile;

	fprintf(out, "listen %s\n", a->text);
	fprintf(out, "  hostname %s\n", p->hostname);
	fprintf(out, "  mode %s\n", smtp_mode_name(p->mode));
	if (p->proxy) {
		fprintf(out, "  proxy %s from", proxy_allow_name((enum proxy_allow)p->proxy));
		for (size_t i = 0; i < p->nproxy_from; i++) {
			char ip[INET6_ADDRSTRLEN];
			const struct cidr *c = &p->proxy_from[i];
			inet_ntop(c->net.sa.sa_family,
				  c->net.sa.sa_family == AF_INET
					  ? (const void *)&c->net.in.sin_addr
					  : (const void *)&c->net.in6.sin6_addr,
				  ip, sizeof(ip));
			fprintf(out, " %s/%u", ip, c->bits);
		}
		fputc('\n', out);
	}
	if (p->mode == SMTP_MODE_RCPT) {
		print_reply(out, "greeting", p->replies[SMTP_REPLY_GREETING]);
		print_reply(out, "rcpt_reply", p->replies[SMTP_REPLY_RCPT_REJECT]);
		/* what limits, timeouts and a stop still answer */
		print_reply(out, "reply", p->replies[SMTP_REPLY_TOO_MANY_COMMANDS]);
	} else {
		print_reply(out, "reply", p->replies[SMTP_REPLY_GREETING]);
	}
}

static void print_ms(FILE *out, const char *key, unsigned ms)
{
	fprintf(out, "%s %u.%03u\n", key, ms / 1000, ms % 1000);
}

void config_print(const struct config *cfg, FILE *out)
{
	const struct profile *p = cfg->listen[0].profile;

	fprintf(out, "config %s\n", cfg->path);
	for (size_t i = 0; i < cfg->nlisten; i++)
		print_listener(out, &cfg->listen[i]);
	if (cfg->max_connections)
		fprintf(out, "max_connections %lu\n", cfg->max_connections);
	else
		fprintf(out, "max_connections auto (open-file limit minus %d)\n",
			CONFIG_FD_RESERVE);
	print_ms(out, "drain_timeout", p->drain_timeout_ms);
	fprintf(out, "drain_bytes %u\n", p->drain_bytes);
	print_ms(out, "idle_timeout", p->idle_timeout_ms);
	print_ms(out, "session_timeout", p->session_timeout_ms);
	fprintf(out, "max_commands %u\n", p->max_commands);
	print_ms(out, "proxy_timeout", p->proxy_timeout_ms);
	fprintf(out, "log.format %s\n", cfg->log.format == LOG_FORMAT_JSON ? "json" : "text");
	fprintf(out, "log.target %s\n",
		cfg->log.target == LOG_TARGET_SYSLOG    ? "syslog"
		: cfg->log.target == LOG_TARGET_JOURNAL ? "journal"
							: "stderr");
	fprintf(out, "log.facility %s\n", facility_name(cfg->log.facility));
	fprintf(out, "user %s\n",
		cfg->user ? cfg->user : "auto (nullmxd if it exists, else nobody)");
	fprintf(out, "group %s\n", cfg->group ? cfg->group : "auto (the user's primary group)");
	config_print_flood(cfg, out);
}
