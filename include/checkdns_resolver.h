#ifndef NULLMXD_CHECKDNS_RESOLVER_H
#define NULLMXD_CHECKDNS_RESOLVER_H

/* The server check-dns asks: --resolver ADDR[:PORT], or those in /etc/resolv.conf. */
#include <ldns/ldns.h>
#include <stddef.h>

/* spec NULL: /etc/resolv.conf. NULL after saying why on stderr. */
ldns_resolver *resolver_open(const char *spec);
/*
 * Names the servers in out, for messages ("127.0.0.1 port 5353"); returns how long, in
 * seconds, ldns waits before it gives up on a query.
 */
double resolver_describe(const ldns_resolver *res, const char *spec, char *out, size_t len);

#endif
