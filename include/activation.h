#ifndef NULLMXD_ACTIVATION_H
#define NULLMXD_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * Sockets passed by a service manager (sd_listen_fds(3)): $LISTEN_FDS descriptors from
 * fd 3 on, for the process named by $LISTEN_PID, named by $LISTEN_FDNAMES.
 */
struct activated {
	int fd;
	char name[256];
	union sockaddr_any addr; /* what the socket is bound to */
	bool taken;
};

/*
 * Reads and unsets the variables and checks every passed descriptor is a listening TCP
 * socket. Returns how many were passed (0 when none were, or they were for another
 * process), or -1 after logging why they cannot be used.
 */
int activation_init(void);
bool activation_active(void);

/* The passed socket bound to exactly addr, marked taken; NULL when there is none. */
struct activated *activation_take(const union sockaddr_any *addr);

/* The next passed socket that no listen entry took, marked taken; NULL at the end. */
struct activated *activation_next_untaken(void);

/* Closes every passed socket not taken (after a failed start) and frees the list. */
void activation_done(void);

#endif
