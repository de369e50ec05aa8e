#ifndef NULLMXD_HOSTNAME_H
#define NULLMXD_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

/* A domain name (RFC 1035 labels) or an address literal ([192.0.2.1], [IPv6:2001:db8::1]). */
bool hostname_valid(const char *name);

/*
 * The system's name: gethostname(), and if that has no dot, its canonical name from a
 * lookup bounded to a couple of seconds. Computed once per process. Returns 0 or -1.
 */
int hostname_default(char *out, size_t len);

#endif
