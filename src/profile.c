#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

/* "550 5.1.2 text": a permanent code, one space, the text template. */
static struct reply *build_coded(const char *line, const char *host, char *err, size_t errlen)
{
	size_t bad;
	const char *text = line + 4;

	if (strlen(line) < 4 || line[0] != '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || line[3] != ' ') {
		snprintf(err, errlen, "must start with a permanent code 5xx and a space");
		return NULL;
	}
	return reply_build(&text, 1, atoi(line), host, err, errlen, &bad);
}

static struct reply *build_kind(struct profile *p, const struct profile_text *t,
				enum smtp_reply_kind kind, char *err, size_t errlen,
				bool *from_rcpt, size_t *bad_line)
{
	const struct smtp_reply_default *def = smtp_default_reply(p->mode, kind);
	/* The configured 521 text is the greeting, and the answer to every command. */
	bool is_521 = def && def->code == 521 && t->nreply > 0;

	*from_rcpt = kind == SMTP_REPLY_RCPT_REJECT && t->rcpt_reply;
	if (*from_rcpt)
		return build_coded(t->rcpt_reply, p->hostname, err, errlen);
	if (is_521)
		return reply_build(t->reply, t->nreply, 521, p->hostname, err, errlen, bad_line);
	return reply_build(def->lines, def->nlines, def->code, p->hostname, err, errlen, bad_line);
}

int profile_build(struct profile *p, const struct profile_text *t, char *err, size_t errlen,
		  bool *from_rcpt, size_t *bad_line)
{
	p->refs = 1;
	*bad_line = 0;
	for (int k = 0; k < SMTP_REPLY_KINDS; k++) {
		if (!smtp_default_reply(p->mode, (enum smtp_reply_kind)k))
			continue;
		p->replies[k] = build_kind(p, t, (enum smtp_reply_kind)k, err, errlen, from_rcpt,
					   bad_line);
		if (!p->replies[k])
			return -1;
	}
	return 0;
}

struct profile *profile_ref(struct profile *p)
{
	p->refs++;
	return p;
}

void profile_unref(struct profile *p)
{
	if (!p || --p->refs > 0)
		return;
	for (int k = 0; k < SMTP_REPLY_KINDS; k++)
		reply_unref(p->replies[k]);
	free(p);
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

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
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
