#ifndef NULLMXD_PROXY_H
#define NULLMXD_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/* proxy-protocol.txt §2.1: a v1 line is at most 107 octets including CRLF. */
#define PROXY_V1_MAX 107
/*
 * §2 says both formats are designed to fit the smallest TCP segment every host must
 * take, 576 - 40 = 536 octets: we refuse longer v2 headers (16 fixed octets, then at
 * most 520 of addresses and TLVs), as Postfix does. A buffer this large always ends
 * the wait: with PROXY_HEADER_MAX octets the answer is never PROXY_NEED_MORE.
 */
#define PROXY_V2_MAX 536
#define PROXY_HEADER_MAX PROXY_V2_MAX

/* Which header a listener takes; never whether one is there (proxy-protocol.txt §5). */
enum proxy_allow {
	PROXY_ALLOW_V1 = 1,
	PROXY_ALLOW_V2 = 2,
	PROXY_ALLOW_ANY = PROXY_ALLOW_V1 | PROXY_ALLOW_V2,
};

enum proxy_status { PROXY_NEED_MORE, PROXY_DONE, PROXY_INVALID };

struct proxy_result {
	size_t used;            /* PROXY_DONE: the header's exact length */
	int version;            /* PROXY_DONE: 1 or 2 */
	bool local;             /* PROXY_DONE: v1 UNKNOWN or v2 LOCAL: keep the real addresses */
	union sockaddr_any src; /* PROXY_DONE and not local: the client */
	union sockaddr_any dst; /* ... and the address it connected to */
	const char *reason;     /* PROXY_INVALID: a short static phrase for the log */
};

/*
 * Parses the octets received so far (the caller keeps them, up to PROXY_HEADER_MAX).
 * Answers PROXY_INVALID as soon as the bytes can no longer start a valid header, and
 * PROXY_DONE once a whole header is there; octets past out->used are not looked at.
 */
enum proxy_status proxy_parse(const void *buf, size_t len, enum proxy_allow allow,
			      struct proxy_result *out);

const char *proxy_allow_name(enum proxy_allow allow);
/* Returns 0 and sets *allow for "v1", "v2" or "any"; -1 otherwise. */
int proxy_allow_parse(const char *name, enum proxy_allow *allow);

#endif
