#ifndef NULLMXD_ADDR_H
#define NULLMXD_ADDR_H

#include <netinet/in.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 socket address; sa.sa_family says which. */
union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

#endif
