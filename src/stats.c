/*
 * Counters. Connections are counted by listener, address family and end reason; a
 * listener's slot is handed out when it starts listening.
 */
#include <time.h>

#include "addr.h"
#include "log.h"
#include "logsink.h"
#include "stats.h"

struct stats stats;
static uv_signal_t usr1;

/* What the last event=pressure line reported, so the next one tells what is new. */
static struct {
	uint64_t overload, limit, errors;
} seen;

static uint64_t reason_total(enum end_reason r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < stats.nlisteners; i++)
		for (int f = 0; f < STATS_FAMILIES; f++)
			n += stats.listeners[i].conns[f][r];
	return n;
}

static void log_stats(void)
{
	log_begin(LOG_INFO, "stats");
	log_uint("uptime_s", (uint64_t)time(NULL) - stats.start_time);
	log_uint("connections", stats.conns_total);
	log_uint("rejects", stats.rejects);
	log_uint("open", stats.open);
	log_uint("overload", reason_total(END_OVERLOAD));
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

/* One line a second at most, and only when connections were turned away or failed. */
void stats_log_pressure(void)
{
	uint64_t overload = reason_total(END_OVERLOAD);
	uint64_t limit = stats.limit[STATS_LIMIT_CONNECTIONS] + stats.limit[STATS_LIMIT_RATE];
	uint64_t errors = stats.accept_errors;

	if (overload == seen.overload && limit == seen.limit && errors == seen.errors)
		return;
	log_begin(LOG_WARNING, "pressure");
	log_uint("open", stats.open);
	log_uint("overload", overload - seen.overload);
	log_uint("limit", limit - seen.limit);
	log_uint("accept_errors", errors - seen.errors);
	if (errors != seen.errors)
		log_str("accept_error", uv_err_name(stats.last_accept_error));
	log_end();
	seen.overload = overload;
	seen.limit = limit;
	seen.errors = errors;
}

static void on_usr1(uv_signal_t *h, int signum)
{
	log_stats();
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

unsigned stats_listener(const struct sockaddr *bound)
{
	size_t i = stats.nlisteners;

	if (i == STATS_LISTENERS_MAX)
		return STATS_LISTENERS_MAX - 1;
	addr_format(bound, stats.listeners[i].label, sizeof(stats.listeners[i].label));
	stats.nlisteners++;
	return (unsigned)i;
}

void stats_conn_open(void)
{
	stats.open++;
	stats.accepted++;
}

void stats_conn_gone(void)
{
	stats.open--;
}

void stats_conn_end(unsigned listener, const struct sockaddr *peer, enum end_reason reason,
		    uint64_t bytes_in, uint64_t bytes_out)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
	enum stats_family f = peer->sa_family == AF_INET              ? STATS_IPV4
			      : peer->sa_family != AF_INET6           ? STATS_UNKNOWN
			      : IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? STATS_IPV4
								      : STATS_IPV6;

	stats.listeners[listener].conns[f][reason]++;
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
