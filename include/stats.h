#ifndef NULLMXD_STATS_H
#define NULLMXD_STATS_H

/*
 * Counters for metrics and the SIGUSR1 line. Exact whatever the logs drop: they are
 * bumped before flood control decides whether a line is written.
 */
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "listener.h"

/* Every listen entry, and as many unclaimed sockets from the service manager. */
#define STATS_LISTENERS_MAX (2 * CONFIG_LISTEN_MAX)
/* At least conn.c's end reasons: it checks that at compile time. */
#define STATS_REASONS_MAX 16
enum stats_family { STATS_IPV4, STATS_IPV6, STATS_UNKNOWN, STATS_FAMILIES };
enum stats_limit { STATS_LIMIT_CONNECTIONS, STATS_LIMIT_RATE, STATS_LIMITS };
enum stats_suppress { STATS_SUPPRESS_CLIENT, STATS_SUPPRESS_ALL, STATS_SUPPRESS };

struct stats {
	uint64_t start_time; /* Unix seconds */
	size_t nlisteners;
	struct {
		const struct listener *listener;
		char label[INET6_ADDRSTRLEN + 8];
		uint64_t conns[STATS_FAMILIES][STATS_REASONS_MAX];
	} listeners[STATS_LISTENERS_MAX];
	const char *reasons[STATS_REASONS_MAX]; /* the words conn.c logs, by its index */
	uint64_t conns_total;
	uint64_t bytes_in, bytes_out;
	uint64_t limit[STATS_LIMITS];
	uint64_t suppressed[STATS_SUPPRESS];
	uint64_t accept_errors;
	int last_accept_error;
	uint64_t reloads_ok, reloads_failed;
	uint64_t untracked;        /* clients that found the table full of pinned entries */
	uint32_t tracked;          /* entries in the client table */
	uint64_t metrics_requests; /* HTTP requests the metrics listener answered */
};

extern struct stats stats;

/* Start time and the SIGUSR1 handler (one event=stats line). */
int stats_init(uv_loop_t *loop);

/* One call per connection, when it ends; reason is conn.c's index and word for it. */
void stats_conn_end(const struct listener *l, const struct sockaddr *peer, unsigned reason,
		    const char *word, uint64_t bytes_in, uint64_t bytes_out);
void stats_accept_error(int err);
void stats_reload(bool ok);
/* Connections that ended with this reason word, over every listener and family. */
uint64_t stats_reason_total(const char *word);
void stats_log_line(void);

#endif
