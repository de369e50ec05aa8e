/*
 * nullmxd -t: the settings in effect after defaults, as the daemon will use them, with
 * each listener's exact reply lines.
 */
#include <string.h>

#include "addr.h"
#include "config_limits.h"
#include "config_print.h"
#include "proxy.h"

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
			char net[INET6_ADDRSTRLEN + 4];
			cidr_format(&p->proxy_from[i], net, sizeof(net));
			fprintf(out, " %s", net);
		}
		fputc('\n', out);
	}
	if (p->mode == SMTP_MODE_RCPT) {
		print_reply(out, "greeting", p->replies[SMTP_REPLY_GREETING]);
		print_reply(out, "rcpt_reply", p->replies[SMTP_REPLY_RCPT_REJECT]);
	}
	print_reply(out, "reply", p->refusal); /* what limits, timeouts and a stop answer */
}

static void print_ms(FILE *out, const char *key, unsigned ms)
{
	fprintf(out, "%s %u.%03u\n", key, ms / 1000, ms % 1000);
}

static void print_limits(const struct config *cfg, FILE *out)
{
	const struct guard_settings *g = &cfg->guard;

	fprintf(out, "log.per_ip_lines %u\n", g->log_per_ip_lines);
	fprintf(out, "log.per_ip_window %u\n", g->log_per_ip_window_s);
	fprintf(out, "log.max_lines_per_second %u\n", g->log_max_lines_per_second);
	fprintf(out, "log.anonymize %s\n", config_anon_modes[cfg->anon.mode]);
	fprintf(out, "log.truncate_ipv4 %u\n", cfg->anon.truncate_ipv4);
	fprintf(out, "log.truncate_ipv6 %u\n", cfg->anon.truncate_ipv6);
	fprintf(out, "log.hash_key %s\n", cfg->anon.have_key ? "(set)" : "(random per start)");
	fprintf(out, "limits.per_ip_connections %u\n", g->per_ip_connections);
	fprintf(out, "limits.per_ip_rate %u\n", g->per_ip_rate);
	fprintf(out, "limits.per_ip_window %u\n", g->per_ip_window_s);
	fprintf(out, "limits.ipv6_prefix %u\n", g->ipv6_prefix);
	fprintf(out, "limits.max_clients %u\n", g->max_clients);
	fprintf(out, "limits.over_limit %s\n", config_over_limits[g->over_limit]);
	fprintf(out, "metrics.listen %s\n", cfg->metrics.enabled ? cfg->metrics.text : "off");
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
	fprintf(out, "log.format %s\n", config_log_formats[cfg->log.format]);
	fprintf(out, "log.target %s\n", config_log_targets[cfg->log.target]);
	fprintf(out, "log.facility %s\n", config_facility_name(cfg->log.facility));
	fprintf(out, "log.rejects %s\n", cfg->log_rejects ? "true" : "false");
	fprintf(out, "user %s\n",
		cfg->user ? cfg->user : "auto (nullmxd if it exists, else nobody)");
	fprintf(out, "group %s\n", cfg->group ? cfg->group : "auto (the user's primary group)");
	print_limits(cfg, out);
}
