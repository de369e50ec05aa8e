#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

/*
 * Parses every prefix of the input with each `allow`: once a prefix is invalid every
 * longer one is, once one is done every longer one is done with the same header, and
 * a need for more bytes never outlasts PROXY_HEADER_MAX octets.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int same_result(const struct proxy_result *a, const struct proxy_result *b)
{
	return a->used == b->used && a->version == b->version && a->local == b->local &&
	       memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	       memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

/* A v1 TCP4 line is canonical (§2.1 forbids leading zeros): printing it gives it back. */
static void check_v1_tcp4(const uint8_t *data, const struct proxy_result *r)
{
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], line[PROXY_V1_MAX + 1];
	int n;

	if (r->version != 1 || r->local || r->src.sa.sa_family != AF_INET)
		return;
	inet_ntop(AF_INET, &r->src.in.sin_addr, src, sizeof(src));
	inet_ntop(AF_INET, &r->dst.in.sin_addr, dst, sizeof(dst));
	n = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", src, dst,
		     ntohs(r->src.in.sin_port), ntohs(r->dst.in.sin_port));
	check(n > 0 && (size_t)n == r->used && memcmp(line, data, r->used) == 0);
}

static void check_allow(const uint8_t *data, size_t size, enum proxy_allow allow)
{
	struct proxy_result first = {0}, r;
	enum proxy_status seen = PROXY_NEED_MORE;
	size_t top = size < PROXY_HEADER_MAX + 8 ? size : PROXY_HEADER_MAX + 8;

	for (size_t k = 0; k <= top; k++) {
		enum proxy_status st = proxy_parse(data, k, allow, &r);

		if (seen != PROXY_NEED_MORE)
			check(st == seen);
		if (st == PROXY_INVALID)
			check(r.reason != NULL && r.reason[0] != '\0');
		if (st == PROXY_NEED_MORE)
			check(k < PROXY_HEADER_MAX);
		if (st == PROXY_DONE) {
			check(r.used > 0 && r.used <= k && r.used <= PROXY_HEADER_MAX);
			check(r.version == 1 || r.version == 2);
			check(r.version != 1 || r.used <= PROXY_V1_MAX);
			if (seen == PROXY_DONE) {
				check(same_result(&first, &r));
			} else {
				check(r.used == k); /* no shorter prefix was enough */
				first = r;
			}
		}
		seen = st;
	}
	if (seen == PROXY_DONE)
		check_v1_tcp4(data, &first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_allow(data, size, PROXY_ALLOW_V1);
	check_allow(data, size, PROXY_ALLOW_V2);
	check_allow(data, size, PROXY_ALLOW_ANY);
	return 0;
}
