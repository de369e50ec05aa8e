#ifndef NULLMXD_LISTENER_H
#define NULLMXD_LISTENER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <uv.h>

#include "config.h"

struct listener {
	uv_tcp_t tcp;
	char ip[INET6_ADDRSTRLEN]; /* the bound address, for log lines */
	unsigned port;
	bool wildcard; /* bound to 0.0.0.0 or [::]: each connection's local address differs */
	struct profile *profile; /* what its new connections get; a reload replaces it */
	uv_timer_t retry;	 /* accepting again when out of memory */
};

/* Binds and listens; an IPv6 listener is IPv6-only so [::] and 0.0.0.0 coexist. */
int listener_open(struct listener *l, uv_loop_t *loop, const struct listen_addr *a,
		  uv_connection_cb cb);
/* Listens on a socket a service manager passed, bound as it was (socket activation). */
int listener_adopt(struct listener *l, uv_loop_t *loop, int fd, const char *fdname,
		   uv_connection_cb cb);
void listener_close(struct listener *l);

#endif
