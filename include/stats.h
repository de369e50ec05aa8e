#ifndef NULLMXD_STATS_H
#define NULLMXD_STATS_H

/*
 * Counters for metrics and the SIGUSR1 line. Exact whatever the logs drop: they are
 * bumped before flood control decides whether a line is written.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "reason.h"

/* Every listen entry, and as many unclaimed sockets from the service manager. */
#define STATS_LISTENERS_MAX 128
enum stats_family { STATS_IPV4, STATS_IPV6, STATS_UNKNOWN, STATS_FAMILIES };
enum stats_limit { STATS_LIMIT_CONNECTIONS, STATS_LIMIT_RATE, STATS_LIMITS };
enum stats_suppress { STATS_SUPPRESS_CLIENT, STATS_SUPPRESS_ALL, STATS_SUPPRESS };

struct stats {
	uint64_t start_time; /* Unix seconds */
	size_t nlisteners;
	struct {
		char label[INET6_ADDRSTRLEN + 8];
		uint64_t conns[STATS_FAMILIES][END_REASONS];
	} listeners[STATS_LISTENERS_MAX];
	size_t open;       /* connections open now, until their memory goes */
	uint64_t accepted; /* connections accepted */
	uint64_t conns_total;
	uint64_t bytes_in, bytes_out;
	uint64_t rejects; /* RCPT TO refused in rcpt mode */
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

/*
 * A listener's slot in the per-listener table, labelled with its bound address; past
 * STATS_LISTENERS_MAX the last slot is shared.
 */
unsigned stats_listener(const struct sockaddr *bound);

/* A connection was accepted (open and accepted count up), and its memory went. */
void stats_conn_open(void);
void stats_conn_gone(void);
/* One call per connection, when it ends; listener is stats_listener()'s slot. */
void stats_conn_end(unsigned listener, const struct sockaddr *peer, enum end_reason reason,
		    uint64_t bytes_in, uint64_t bytes_out);
void stats_accept_error(int err);
void stats_reload(bool ok);

/*
 * The event=pressure line: connections turned away or failed since the last call, if
 * any were. Called once a second at most, and once more at stop.
 */
void stats_log_pressure(void);

#endif
