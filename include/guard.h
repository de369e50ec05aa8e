#ifndef NULLMXD_GUARD_H
#define NULLMXD_GUARD_H

/*
 * Flood control: per-client connection limits at accept, and per-client and global
 * log-rate ceilings when a connection's line is due. The summaries of what was held
 * back (event=suppressed, and stats.c's event=pressure) are written by a one-second tick.
 */
#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "iptable.h"

/* Defaults; 0 switches a limit off. See etc/nullmxd.conf for why. */
#define GUARD_PER_IP_CONNECTIONS 16
#define GUARD_PER_IP_RATE 60
#define GUARD_PER_IP_WINDOW_S 60
#define GUARD_IPV6_PREFIX 64
#define GUARD_MAX_CLIENTS 65536
#define GUARD_MAX_CLIENTS_MAX (1 << 24)
#define GUARD_WINDOW_MAX_S 86400
#define GUARD_COUNT_MAX 1000000
#define GUARD_LOG_PER_IP_LINES 60
#define GUARD_LOG_PER_IP_WINDOW_S 60
#define GUARD_LOG_MAX_LINES_PER_SECOND 500

enum guard_over_limit { GUARD_OVER_LIMIT_REPLY, GUARD_OVER_LIMIT_CLOSE };

struct guard_settings {
	unsigned per_ip_connections;
	unsigned per_ip_rate;
	unsigned per_ip_window_s;
	unsigned ipv6_prefix;
	unsigned max_clients;
	enum guard_over_limit over_limit;
	unsigned log_per_ip_lines;
	unsigned log_per_ip_window_s;
	unsigned log_max_lines_per_second;
};

/* What a connection holds of the client table: its entry, pinned until release. */
struct guard_ref {
	struct iptable *table;
	struct ipentry *entry;
};

enum guard_verdict { GUARD_OK, GUARD_LIMIT_REPLY, GUARD_LIMIT_CLOSE };

int guard_init(uv_loop_t *loop);
/* Applies to new connections; a changed table shape starts a new, empty table. */
int guard_configure(const struct guard_settings *s);
/* Writes the pending summaries; after it every line is written, none held back. */
void guard_stop(void);

enum guard_verdict guard_admit(struct guard_ref *r, const struct sockaddr *peer);
/* Whether the connection's line may be written now; counts it either way. */
bool guard_log(struct guard_ref *r);
void guard_release(struct guard_ref *r);

#endif
