#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "addr.h"

/*
 * Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf, which is most of
 * the user time a connection's log line costs. out has INET_ADDRSTRLEN bytes at least.
 */
static void ipv4_text(const uint8_t *a, char *out)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (v >= 100)
			*out++ = (char)('0' + v / 100);
		if (v >= 10)
			*out++ = (char)('0' + v / 10 % 10);
		*out++ = (char)('0' + v % 10);
		*out++ = i < 3 ? '.' : '\0';
	}
}

void addr_text(const struct sockaddr *sa, char *ip, size_t iplen, unsigned *port)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		ipv4_text((const uint8_t *)&in->sin_addr, ip);
		*port = ntohs(in->sin_port);
	} else if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		ipv4_text(&in6->sin6_addr.s6_addr[12], ip);
		*port = ntohs(in6->sin6_port);
	} else {
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(in6->sin6_port);
	}
}

/* One spelling per address, so that "[::1]:25" and "[0::1]:25" are the same listener. */
void addr_format(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	addr_text(sa, ip, sizeof(ip), &port);
	snprintf(out, len, strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
}

/* "ADDR:PORT" with IPv6 in brackets; the port in decimal, 0 allowed (any free port). */
int addr_parse(const char *text, union sockaddr_any *out)
{
	char host[INET6_ADDRSTRLEN + 16];
	const char *colon = strrchr(text, ':'), *port = colon ? colon + 1 : NULL;
	size_t hlen = colon ? (size_t)(colon - text) : 0;
	unsigned long p;

	if (!colon || *port == '\0' || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5 || hlen == 0 || hlen >= sizeof(host))
		return -1;
	p = strtoul(port, NULL, 10);
	if (p > 65535)
		return -1;
	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		if (hlen < 3 || text[hlen - 1] != ']')
			return -1;
		memcpy(host, text + 1, hlen - 2);
		host[hlen - 2] = '\0';
		return uv_ip6_addr(host, (int)p, &out->in6) == 0 ? 0 : -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	/* inet_pton, unlike uv_ip4_addr, refuses shorthand such as 127.1 */
	if (uv_ip4_addr(host, (int)p, &out->in) != 0 ||
	    inet_pton(AF_INET, host, &out->in.sin_addr) != 1)
		return -1;
	return 0;
}

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (a host). */
int cidr_parse(const char *text, struct cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;
	char *end;

	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, &out->net.in.sin_addr) == 1) {
		out->net.sa.sa_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, &out->net.in6.sin6_addr) == 1) {
		out->net.sa.sa_family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	out->bits = max;
	if (slash) {
		unsigned long bits = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits > max)
			return -1;
		out->bits = (unsigned)bits;
	}
	return 0;
}

void cidr_format(const struct cidr *c, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	addr_text(&c->net.sa, ip, sizeof(ip), &port);
	snprintf(out, len, "%s/%u", ip, c->bits);
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

void addr_mask(uint8_t addr[16], unsigned bits)
{
	for (unsigned i = 0; i<16; i++, bits = bits> 8 ? bits - 8 : 0)
		addr[i] &= bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
}

bool cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *addr;

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		addr = &in6->sin6_addr.s6_addr[12]; /* an IPv4 client on a dual-stack socket */
	else if (sa->sa_family == AF_INET6)
		return c->net.sa.sa_family == AF_INET6 &&
		       prefix_equal(in6->sin6_addr.s6_addr, c->net.in6.sin6_addr.s6_addr, c->bits);
	else
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	return c->net.sa.sa_family == AF_INET &&
	       prefix_equal(addr, (const uint8_t *)&c->net.in.sin_addr, c->bits);
}
