#ifndef NULLMXD_ADDR_H
#define NULLMXD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 socket address; sa.sa_family says which. */
union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct cidr {
	union sockaddr_any net;
	unsigned bits;
};

/* Text forms of an address for log lines; IPv4-mapped IPv6 shows as IPv4. */
void addr_text(const struct sockaddr *sa, char *ip, size_t iplen, unsigned *port);
/* "192.0.2.1:25" or "[2001:db8::1]:25". */
void addr_format(const struct sockaddr *sa, char *out, size_t len);

/* "ADDR:PORT", IPv6 as "[ADDR]:PORT"; 0 on success, -1 (out undefined) otherwise. */
int addr_parse(const char *text, union sockaddr_any *out);

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (a host). */
int cidr_parse(const char *text, struct cidr *out);
/* "192.0.2.0/24", "2001:db8::/32": always with the prefix length, a host too. */
void cidr_format(const struct cidr *c, char *out, size_t len);
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* Keeps the first bits of a 16-byte address and zeroes the rest (bits >= 128: all). */
void addr_mask(uint8_t addr[16], unsigned bits);

#endif
