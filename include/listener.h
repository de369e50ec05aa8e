#ifndef NULLMXD_LISTENER_H
#define NULLMXD_LISTENER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <uv.h>

#include "config.h"

struct listener;
/* One accepted connection: its descriptor (now the callee's) and the client's address. */
typedef void (*listener_cb)(struct listener *l, int fd, const union sockaddr_any *peer);

/*
 * A listening socket watched by a libuv poll handle: nullmxd accepts by itself, so
 * that accept4() hands over the client's address and a batch limit keeps a flood of
 * new connections from starving the ones already open. Out of descriptors, a reserve
 * one still lets every client hear the profile's refusal.
 */
struct listener {
	uv_poll_t poll;
	uv_timer_t rest; /* polling again after a pause */
	int fd;
	listener_cb accepted;      /* called for each connection accepted */
	char ip[INET6_ADDRSTRLEN]; /* the bound address, for log lines */
	unsigned port;
	bool wildcard; /* bound to 0.0.0.0 or [::]: each connection's local address differs */
	char text[64]; /* its listen entry's address as written; "" for a passed socket no entry
			  claims */
	struct profile *profile; /* what its new connections get; a reload replaces it */
	unsigned stats_slot;     /* its counters in stats */
};

/* Binds and listens; an IPv6 listener is IPv6-only so [::] and 0.0.0.0 coexist. */
int listener_open(struct listener *l, uv_loop_t *loop, const struct listen_addr *a,
		  listener_cb accepted);
/* Listens on a socket a service manager passed, bound as it was (socket activation). */
int listener_adopt(struct listener *l, uv_loop_t *loop, int fd, const char *fdname,
		   listener_cb accepted);
void listener_close(struct listener *l);

#endif
