#ifndef NULLMXD_CONN_H
#define NULLMXD_CONN_H

#include <stddef.h>
#include <uv.h>

#include "listener.h"
#include "reply.h"

/* What new connections get; a reload replaces it, open connections keep theirs. */
struct conn_settings {
	struct reply *reply;
	unsigned drain_timeout_ms;
	size_t drain_bytes;
	size_t max_connections;
};

int conn_init(uv_loop_t *loop);
void conn_configure(const struct conn_settings *set);

/* Accepts one pending connection on l; never fails the listener. */
void conn_accept(struct listener *l);
size_t conn_count(void);

/* Cuts every drain to at most a second; the loop ends once the last one closes. */
void conn_stop_all(void);

#endif
