/*
 * Config loading: defaults first, then the file, checked key by key into a plain
 * struct with config_parse.c's helpers, so every finding names file:line. The limits
 * and metrics groups are config_limits.c's; nullmxd -t prints with config_print.c.
 */
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <libgen.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_limits.h"
#include "config_parse.h"
#include "hostname.h"
#include "proxy.h"

static const char *const default_listen[] = {CONFIG_LISTEN_DEFAULT};

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

const char *const config_log_formats[] = {"text", "json", NULL};
const char *const config_log_targets[] = {"stderr", "syslog", "journal", NULL};

/* log.facility: the names (a list, for get_choice), and the syslog facility of each. */
static const char *const facility_names[] = {"mail",   "daemon", "user",   "local0",
					     "local1", "local2", "local3", "local4",
					     "local5", "local6", "local7", NULL};
static const int facility_values[] = {LOG_MAIL,   LOG_DAEMON, LOG_USER,   LOG_LOCAL0,
				      LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4,
				      LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};

_Static_assert(sizeof(facility_names) / sizeof(facility_names[0]) ==
		       sizeof(facility_values) / sizeof(facility_values[0]) + 1,
	       "one syslog facility per name");

const char *config_facility_name(int facility)
{
	for (size_t i = 0; facility_names[i]; i++)
		if (facility_values[i] == facility)
			return facility_names[i];
	return "?";
}

static void parse_log(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	static const char *const known[] = {"format", "target", "facility", "rejects",
					    /* parsed in config_limits.c */
					    CONFIG_LIMITS_LOG_KEYS, NULL};
	const config_setting_t *e;
	int i;

	cfg->log = (struct log_settings){LOG_FORMAT_TEXT, LOG_TARGET_STDERR, LOG_MAIL};
	cfg->log_rejects = CONFIG_LOG_REJECTS;
	if (!s || !is_group(ld, s, "log"))
		return;
	check_known(ld, s, known, "log.");
	if ((e = config_setting_get_member(s, "format")) &&
	    (i = get_choice(ld, e, "log.format", config_log_formats,
			    "one of \"text\", \"json\"")) >= 0)
		cfg->log.format = (enum log_format)i;
	if ((e = config_setting_get_member(s, "target")) &&
	    (i = get_choice(ld, e, "log.target", config_log_targets,
			    "one of \"stderr\", \"syslog\", \"journal\"")) >= 0)
		cfg->log.target = (enum log_target)i;
	if ((e = config_setting_get_member(s, "facility")) &&
	    (i = get_choice(ld, e, "log.facility", facility_names,
			    "mail, daemon, user or local0..local7")) >= 0)
		cfg->log.facility = facility_values[i];
	if ((e = config_setting_get_member(s, "rejects")) &&
	    config_setting_type(e) != CONFIG_TYPE_BOOL)
		error_at(ld, e, "log.rejects must be true or false, not %s", type_name(e));
	else if (e)
		cfg->log_rejects = config_setting_get_bool(e);
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

	if (addr_parse(text, &a->addr) != 0) {
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
		.max_commands = CONFIG_MAX_COMMANDS,
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
	get_uint(ld, config_setting_get_member(root, "drain_bytes"), "drain_bytes", 0,
		 CONFIG_DRAIN_BYTES_MAX, &sp->base.drain_bytes);
	get_uint(ld, config_setting_get_member(root, "max_commands"), "max_commands", 1,
		 CONFIG_MAX_COMMANDS_MAX, &sp->base.max_commands);
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
					    CONFIG_LIMITS_ROOT_KEYS,
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
	/* Root keeps gid 0, and could take any group back: a group here would only mislead. */
	if (cfg->user && cfg->group && strcmp(cfg->user, "root") == 0)
		error_at(ld, config_setting_get_member(root, "group"),
			 "group cannot be set with user = \"root\", which keeps root's groups; "
			 "remove group, or set user to an unprivileged account");
	config_parse_limits(ld, root, &cfg->guard, &cfg->anon, &cfg->metrics);
}

/*
 * libconfig 1.5 refuses a file whose last line is a comment with no newline after it, as
 * editors often leave it: it gets the text with that newline, which moves no line. Returns
 * the file's last line when it added one, else 0; -1 when out of memory.
 */
static int add_final_newline(struct loader *ld, size_t len)
{
	char *text = (char *)ld->text;
	int lines = 1;

	if (len == 0 || text[len - 1] == '\n')
		return 0;
	if (!(text = realloc(text, len + 2)))
		return -1;
	text[len] = '\n';
	text[len + 1] = '\0';
	ld->text = text;
	for (const char *p = text; p < text + len; p++)
		lines += *p == '\n';
	return lines;
}

/*
 * An error at the end of a text given a newline is on the file's last line, not past it.
 * libconfig reads included files itself, so only the operator can add theirs.
 */
static void report_syntax(struct loader *ld, const config_t *lc, int last)
{
	const char *file = config_error_file(lc);
	int at = config_error_line(lc);

	fprintf(ld->diag, "%s:%d: %s%s\n", file ? file : ld->path,
		!file && last > 0 && at > last ? last : at, config_error_text(lc),
		included_without_final_newline(ld, file)
			? " (if the last line is a comment, end it with a newline)"
			: "");
}

/*
 * The file is read once, and libconfig parses that very text, so that the integers are
 * read back from what was parsed even when the file changes meanwhile. libconfig resolves
 * @include against its include dir: the config file's own directory.
 */
static int read_file(struct loader *ld, config_t *lc, char *dir)
{
	size_t len = 0;
	const char *why;
	char *text = config_read_text(ld->path, &len, &why);
	unsigned line = 1;
	int last;

	if (!text) {
		fprintf(ld->diag, "%s:0: cannot read: %s\n", ld->path, why);
		return -1;
	}
	ld->text = text;
	ld->include_dir = dirname(dir);
	if (strlen(text) < len) { /* libconfig would stop there and drop the rest unread */
		for (const char *p = text; *p; p++)
			line += *p == '\n';
		fprintf(ld->diag, "%s:%u: a NUL byte: not a text file\n", ld->path, line);
		return -1;
	}
	if ((last = add_final_newline(ld, len)) < 0) {
		fprintf(ld->diag, "%s:0: out of memory\n", ld->path);
		return -1;
	}
	read_includes(ld, NULL, ld->text, 0);
	if (ld->errors > 0)
		return -1;
	config_set_include_dir(lc, ld->include_dir);
	if (!config_read_string(lc, ld->text)) {
		report_syntax(ld, lc, last);
		return -1;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, FILE *diag)
{
	struct loader ld = {path, diag, 0, NULL, NULL, NULL};
	char *dir = strdup(path);
	config_t lc;

	memset(cfg, 0, sizeof(*cfg));
	config_init(&lc);
	if (dir && read_file(&ld, &lc, dir) == 0)
		parse_root(&ld, config_root_setting(&lc), cfg);
	else
		ld.errors++;
	config_destroy(&lc);
	loader_free(&ld);
	free((char *)ld.text);
	free(dir);
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
