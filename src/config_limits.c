/*
 * The config of flood control and observability: the limits group, the metrics group
 * and the log keys for flood control and anonymisation. Same rules as config.c:
 * defaults first, every type and range checked, unknown keys rejected, file:line.
 */
#include <string.h>

#include "anon.h"
#include "config_limits.h"

const char *const config_anon_modes[] = {"none", "truncate", "hash", NULL};
const char *const config_over_limits[] = {"reply", "close", NULL};

static void parse_limits(struct loader *ld, const config_setting_t *s, struct guard_settings *g)
{
	static const char *const known[] = {
		"per_ip_connections", "per_ip_rate", "per_ip_window", "ipv6_prefix", "max_clients",
		"over_limit",         NULL};
	const config_setting_t *e;
	int i;

	if (!s || !is_group(ld, s, "limits"))
		return;
	check_known(ld, s, known, "limits.");
	get_uint(ld, config_setting_get_member(s, "per_ip_connections"),
		 "limits.per_ip_connections", 0, CONFIG_COUNT_MAX, &g->per_ip_connections);
	get_uint(ld, config_setting_get_member(s, "per_ip_rate"), "limits.per_ip_rate", 0,
		 CONFIG_COUNT_MAX, &g->per_ip_rate);
	get_uint(ld, config_setting_get_member(s, "per_ip_window"), "limits.per_ip_window", 1,
		 CONFIG_WINDOW_MAX_S, &g->per_ip_window_s);
	get_uint(ld, config_setting_get_member(s, "ipv6_prefix"), "limits.ipv6_prefix", 16, 128,
		 &g->ipv6_prefix);
	get_uint(ld, config_setting_get_member(s, "max_clients"), "limits.max_clients", 1,
		 CONFIG_MAX_CLIENTS_MAX, &g->max_clients);
	if ((e = config_setting_get_member(s, "over_limit")) &&
	    (i = get_choice(ld, e, "limits.over_limit", config_over_limits,
			    "one of \"reply\", \"close\"")) >= 0)
		g->over_limit = (enum guard_over_limit)i;
}

static void parse_hash_key(struct loader *ld, const config_setting_t *s, struct anon_settings *a)
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
	if (anon_key_from_text(key, a->key) != 0) {
		error_at(ld, s, "log.hash_key: cannot derive a key");
		return;
	}
	a->have_key = true;
	if (a->mode != ANON_HASH)
		warn_at(ld, s, "log.hash_key is only used with log.anonymize = \"hash\"");
}

static void parse_log_flood(struct loader *ld, const config_setting_t *s, struct guard_settings *g,
			    struct anon_settings *a)
{
	const config_setting_t *e;
	int i;

	if (!s || config_setting_type(s) != CONFIG_TYPE_GROUP)
		return; /* config.c reports a log that is not a group */
	get_uint(ld, config_setting_get_member(s, "per_ip_lines"), "log.per_ip_lines", 0,
		 CONFIG_COUNT_MAX, &g->log_per_ip_lines);
	get_uint(ld, config_setting_get_member(s, "per_ip_window"), "log.per_ip_window", 1,
		 CONFIG_WINDOW_MAX_S, &g->log_per_ip_window_s);
	get_uint(ld, config_setting_get_member(s, "max_lines_per_second"),
		 "log.max_lines_per_second", 0, CONFIG_COUNT_MAX, &g->log_max_lines_per_second);
	if ((e = config_setting_get_member(s, "anonymize")) &&
	    (i = get_choice(ld, e, "log.anonymize", config_anon_modes,
			    "one of \"none\", \"truncate\", \"hash\"")) >= 0)
		a->mode = (enum anon_mode)i;
	get_uint(ld, config_setting_get_member(s, "truncate_ipv4"), "log.truncate_ipv4", 0, 32,
		 &a->truncate_ipv4);
	get_uint(ld, config_setting_get_member(s, "truncate_ipv6"), "log.truncate_ipv6", 0, 128,
		 &a->truncate_ipv6);
	parse_hash_key(ld, config_setting_get_member(s, "hash_key"), a);
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
	if (addr_parse(text, &m->addr) != 0 || strlen(text) >= sizeof(m->text)) {
		error_at(ld, e,
			 "metrics.listen: bad address '%s' (want ADDR:PORT, IPv6 as [ADDR]:PORT)",
			 text);
		return;
	}
	snprintf(m->text, sizeof(m->text), "%s", text);
	m->enabled = true;
}

void config_parse_limits(struct loader *ld, const config_setting_t *root, struct guard_settings *g,
			 struct anon_settings *a, struct metrics_settings *m)
{
	*g = (struct guard_settings){
		.per_ip_connections = CONFIG_PER_IP_CONNECTIONS,
		.per_ip_rate = CONFIG_PER_IP_RATE,
		.per_ip_window_s = CONFIG_PER_IP_WINDOW_S,
		.ipv6_prefix = CONFIG_IPV6_PREFIX,
		.max_clients = CONFIG_MAX_CLIENTS,
		.over_limit = GUARD_OVER_LIMIT_REPLY,
		.log_per_ip_lines = CONFIG_LOG_PER_IP_LINES,
		.log_per_ip_window_s = CONFIG_LOG_PER_IP_WINDOW_S,
		.log_max_lines_per_second = CONFIG_LOG_MAX_LINES_PER_SECOND,
	};
	*a = (struct anon_settings){
		.mode = ANON_NONE,
		.truncate_ipv4 = CONFIG_TRUNCATE_IPV4,
		.truncate_ipv6 = CONFIG_TRUNCATE_IPV6,
	};
	*m = (struct metrics_settings){0};
	parse_limits(ld, config_setting_get_member(root, "limits"), g);
	parse_log_flood(ld, config_setting_get_member(root, "log"), g, a);
	parse_metrics(ld, config_setting_get_member(root, "metrics"), m);
	a->ipv6_prefix = g->ipv6_prefix;
}
