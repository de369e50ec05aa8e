/*
 * Counters. Connections are counted by listener, address family and end reason; the
 * listener and reason tables fill as they are first seen, so conn.c needs no
 * registration step; a new end reason there needs no change here until the reasons
 * outgrow STATS_REASONS_MAX, which conn.c checks when it compiles.
 */
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "logsink.h"
#include "stats.h"

struct stats stats;
static uv_signal_t usr1;

static void on_usr1(uv_signal_t *h, int signum)
{
	stats_log_line();
}

int stats_init(uv_loop_t *loop)
{
	int err;

	stats.start_time = (uint64_t)time(NULL);
	if ((err = uv_signal_init(loop, &usr1)) != 0 ||
	    (err = uv_signal_start(&usr1, on_usr1, SIGUSR1)) != 0)
		return err;
	uv_unref((uv_handle_t *)&usr1);
	return 0;
}

/* Usually one or two listeners: a short scan, the last hit first. */
static size_t listener_slot(const struct listener *l)
{
	static size_t last;
	size_t i;

	if (last < stats.nlisteners && stats.listeners[last].listener == l)
		return last;
	for (i = 0; i < stats.nlisteners; i++)
		if (stats.listeners[i].listener == l)
			return last = i;
	if (i == STATS_LISTENERS_MAX)
		return last = STATS_LISTENERS_MAX - 1;
	stats.listeners[i].listener = l;
	if (strchr(l->ip, ':'))
		snprintf(stats.listeners[i].label, sizeof(stats.listeners[i].label), "[%s]:%u",
			 l->ip, l->port);
	else
		snprintf(stats.listeners[i].label, sizeof(stats.listeners[i].label), "%s:%u", l->ip,
			 l->port);
	stats.nlisteners++;
	return last = i;
}

void stats_conn_end(const struct listener *l, const struct sockaddr *peer, unsigned reason,
		    const char *word, uint64_t bytes_in, uint64_t bytes_out)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
	enum stats_family f = peer->sa_family == AF_INET              ? STATS_IPV4
			      : peer->sa_family != AF_INET6           ? STATS_UNKNOWN
			      : IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? STATS_IPV4
								      : STATS_IPV6;

	if (reason >= STATS_REASONS_MAX)
		reason = STATS_REASONS_MAX - 1;
	if (!stats.reasons[reason])
		stats.reasons[reason] = word;
	stats.listeners[listener_slot(l)].conns[f][reason]++;
	stats.conns_total++;
	stats.bytes_in += bytes_in;
	stats.bytes_out += bytes_out;
}

void stats_accept_error(int err)
{
	stats.accept_errors++;
	stats.last_accept_error = err;
}

void stats_reload(bool ok)
{
	if (ok)
		stats.reloads_ok++;
	else
		stats.reloads_failed++;
}

uint64_t stats_reason_total(const char *word)
{
	uint64_t n = 0;

	for (unsigned r = 0; r < STATS_REASONS_MAX; r++)
		if (stats.reasons[r] && strcmp(stats.reasons[r], word) == 0)
			for (size_t i = 0; i < stats.nlisteners; i++)
				for (int f = 0; f < STATS_FAMILIES; f++)
					n += stats.listeners[i].conns[f][r];
	return n;
}

void stats_log_line(void)
{
	log_begin(LOG_INFO, "stats");
	log_uint("uptime_s", (uint64_t)time(NULL) - stats.start_time);
	log_uint("connections", stats.conns_total);
	log_uint("open", conn_count());
	log_uint("overload", stats_reason_total("overload"));
	log_uint("limit_connections", stats.limit[STATS_LIMIT_CONNECTIONS]);
	log_uint("limit_rate", stats.limit[STATS_LIMIT_RATE]);
	log_uint("bytes_in", stats.bytes_in);
	log_uint("bytes_out", stats.bytes_out);
	log_uint("suppressed_client", stats.suppressed[STATS_SUPPRESS_CLIENT]);
	log_uint("suppressed_all", stats.suppressed[STATS_SUPPRESS_ALL]);
	log_uint("log_dropped", sink_dropped_total());
	log_uint("accept_errors", stats.accept_errors);
	log_uint("tracked", stats.tracked);
	log_uint("reloads", stats.reloads_ok);
	log_uint("reload_failures", stats.reloads_failed);
	log_end();
}
