/*
 * The config of flood control and observability: the limits group, the metrics group
 * and the log keys for flood control and anonymisation. Same rules as config.c:
 * defaults first, every type and range checked, unknown keys rejected, file:line.
 */
#include <string.h>

#include "config_parse.h"

static void get_uint(struct loader *ld, const config_setting_t *group, const char *key,
		     const char *name, long long min, long long max, unsigned *out)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	long long v;

	if (s && get_integer(ld, s, name, min, max, &v))
		*out = (unsigned)v;
}

static bool is_group(struct loader *ld, const config_setting_t *s, const char *name)
{
	if (config_setting_type(s) == CONFIG_TYPE_GROUP)
		return true;
	error_at(ld, s, "%s must be a group { ... }, not %s", name, type_name(s));
	return false;
}

static void parse_limits(struct loader *ld, const config_setting_t *s, struct guard_settings *g)
{
	static const char *const known[] = {
		"per_ip_connections", "per_ip_rate", "per_ip_window", "ipv6_prefix", "max_clients",
		"over_limit",         NULL};
	static const char *const modes[] = {"reply", "close", NULL};
	const config_setting_t *e;
	int i;

	if (!s || !is_group(ld, s, "limits"))
		return;
	check_known(ld, s, known, "limits.");
	get_uint(ld, s, "per_ip_connections", "limits.per_ip_connections", 0, GUARD_COUNT_MAX,
		 &g->per_ip_connections);
	get_uint(ld, s, "per_ip_rate", "limits.per_ip_rate", 0, GUARD_COUNT_MAX, &g->per_ip_rate);
	get_uint(ld, s, "per_ip_window", "limits.per_ip_window", 1, GUARD_WINDOW_MAX_S,
		 &g->per_ip_window_s);
	get_uint(ld, s, "ipv6_prefix", "limits.ipv6_prefix", 16, 128, &g->ipv6_prefix);
	get_uint(ld, s, "max_clients", "limits.max_clients", 1, GUARD_MAX_CLIENTS_MAX,
		 &g->max_clients);
	if ((e = config_setting_get_member(s, "over_limit")) &&
	    (i = get_choice(ld, e, "limits.over_limit", modes, "\"reply\", \"close\"")) >= 0)
		g->over_limit = (enum guard_over_limit)i;
}

static void parse_hash_key(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	const char *key = s ? get_string(ld, s, "log.hash_key") : NULL;

	if (!key)
		return;
	if (strlen(key) < 16) {
		error_at(ld, s,
			 "log.hash_key must be at least 16 characters (a secret: the "
			 "tokens of all 2^32 IPv4 addresses can be computed from it)");
		return;
	}
	if (anon_key_from_text(key, cfg->anon.key) != 0) {
		error_at(ld, s, "log.hash_key: cannot derive a key");
		return;
	}
	cfg->anon.have_key = true;
	if (cfg->anon.mode != ANON_HASH)
		warn_at(ld, s, "log.hash_key is only used with log.anonymize = \"hash\"");
}

static void parse_log_flood(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	static const char *const modes[] = {"none", "truncate", "hash", NULL};
	struct guard_settings *g = &cfg->guard;
	const config_setting_t *e;
	int i;

	if (!s || config_setting_type(s) != CONFIG_TYPE_GROUP)
		return; /* config.c reports a log that is not a group */
	get_uint(ld, s, "per_ip_lines", "log.per_ip_lines", 0, GUARD_COUNT_MAX,
		 &g->log_per_ip_lines);
	get_uint(ld, s, "per_ip_window", "log.per_ip_window", 1, GUARD_WINDOW_MAX_S,
		 &g->log_per_ip_window_s);
	get_uint(ld, s, "max_lines_per_second", "log.max_lines_per_second", 0, GUARD_COUNT_MAX,
		 &g->log_max_lines_per_second);
	if ((e = config_setting_get_member(s, "anonymize")) &&
	    (i = get_choice(ld, e, "log.anonymize", modes, "\"none\", \"truncate\", \"hash\"")) >=
		    0)
		cfg->anon.mode = (enum anon_mode)i;
	get_uint(ld, s, "truncate_ipv4", "log.truncate_ipv4", 0, 32, &cfg->anon.truncate_ipv4);
	get_uint(ld, s, "truncate_ipv6", "log.truncate_ipv6", 0, 128, &cfg->anon.truncate_ipv6);
	parse_hash_key(ld, config_setting_get_member(s, "hash_key"), cfg);
}

static void parse_metrics(struct loader *ld, const config_setting_t *s, struct metrics_settings *m)
{
	static const char *const known[] = {"listen", NULL};
	const config_setting_t *e;
	const char *text;

	if (!s || !is_group(ld, s, "metrics"))
		return;
	check_known(ld, s, known, "metrics.");
	if (!(e = config_setting_get_member(s, "listen"))) {
		error_at(ld, s, "metrics needs listen = \"ADDR:PORT\"");
		return;
	}
	if (!(text = get_string(ld, e, "metrics.listen")))
		return;
	if (parse_addr(text, &m->addr) != 0 || strlen(text) >= sizeof(m->text)) {
		error_at(ld, e,
			 "metrics.listen: bad address '%s' (want ADDR:PORT, IPv6 as [ADDR]:PORT)",
			 text);
		return;
	}
	snprintf(m->text, sizeof(m->text), "%s", text);
	m->enabled = true;
}

void config_parse_flood(struct loader *ld, const config_setting_t *root, struct config *cfg)
{
	cfg->guard = (struct guard_settings){
		.per_ip_connections = GUARD_PER_IP_CONNECTIONS,
		.per_ip_rate = GUARD_PER_IP_RATE,
		.per_ip_window_s = GUARD_PER_IP_WINDOW_S,
		.ipv6_prefix = GUARD_IPV6_PREFIX,
		.max_clients = GUARD_MAX_CLIENTS,
		.over_limit = GUARD_OVER_LIMIT_REPLY,
		.log_per_ip_lines = GUARD_LOG_PER_IP_LINES,
		.log_per_ip_window_s = GUARD_LOG_PER_IP_WINDOW_S,
		.log_max_lines_per_second = GUARD_LOG_MAX_LINES_PER_SECOND,
	};
	cfg->anon =
		(struct anon_settings){.mode = ANON_NONE, .truncate_ipv4 = 24, .truncate_ipv6 = 48};
	memset(&cfg->metrics, 0, sizeof(cfg->metrics));
	parse_limits(ld, config_setting_get_member(root, "limits"), &cfg->guard);
	parse_log_flood(ld, config_setting_get_member(root, "log"), cfg);
	parse_metrics(ld, config_setting_get_member(root, "metrics"), &cfg->metrics);
	cfg->anon.ipv6_prefix = cfg->guard.ipv6_prefix;
}

void config_print_flood(const struct config *cfg, FILE *out)
{
	static const char *const anon[] = {"none", "truncate", "hash"};
	const struct guard_settings *g = &cfg->guard;

	fprintf(out, "log.per_ip_lines %u\n", g->log_per_ip_lines);
	fprintf(out, "log.per_ip_window %u\n", g->log_per_ip_window_s);
	fprintf(out, "log.max_lines_per_second %u\n", g->log_max_lines_per_second);
	fprintf(out, "log.anonymize %s\n", anon[cfg->anon.mode]);
	fprintf(out, "log.truncate_ipv4 %u\n", cfg->anon.truncate_ipv4);
	fprintf(out, "log.truncate_ipv6 %u\n", cfg->anon.truncate_ipv6);
	fprintf(out, "log.hash_key %s\n", cfg->anon.have_key ? "(set)" : "(random per start)");
	fprintf(out, "limits.per_ip_connections %u\n", g->per_ip_connections);
	fprintf(out, "limits.per_ip_rate %u\n", g->per_ip_rate);
	fprintf(out, "limits.per_ip_window %u\n", g->per_ip_window_s);
	fprintf(out, "limits.ipv6_prefix %u\n", g->ipv6_prefix);
	fprintf(out, "limits.max_clients %u\n", g->max_clients);
	fprintf(out, "limits.over_limit %s\n",
		g->over_limit == GUARD_OVER_LIMIT_CLOSE ? "close" : "reply");
	fprintf(out, "metrics.listen %s\n", cfg->metrics.enabled ? cfg->metrics.text : "off");
}
