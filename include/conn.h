#ifndef NULLMXD_CONN_H
#define NULLMXD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "listener.h"

/* Limits over all connections; what each one says comes from its listener's profile. */
struct conn_settings {
	size_t max_connections;
	bool log_rejects; /* log.rejects: an event=reject line per refused RCPT */
};

int conn_init(uv_loop_t *loop);
void conn_configure(const struct conn_settings *set);

/* A listener_cb: serves one accepted connection, whose descriptor it now owns. */
void conn_start(struct listener *l, int fd, const union sockaddr_any *peer);

/* Cuts every drain to at most a second; the loop ends once the last one closes. */
void conn_stop_all(void);

#endif
