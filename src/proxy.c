#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

/* References are to sections of HAProxy's proxy-protocol.txt. */

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

#define V2_FIXED 16
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_TCP4 0x11
#define V2_TCP6 0x21
#define V2_TCP4_LEN 12
#define V2_TCP6_LEN 36
#define V1_ADDR6_MAX 45 /* INET6_ADDRSTRLEN - 1: "::ffff:" and a dotted quad */

struct cursor {
	const unsigned char *p;
	size_t pos;
	size_t len;
};

struct span {
	const unsigned char *s;
	size_t n;
};

static enum proxy_status invalid(struct proxy_result *out, const char *reason)
{
	out->reason = reason;
	return PROXY_INVALID;
}

/* Compares as much of a fixed string as has arrived. */
static enum proxy_status literal(struct cursor *c, const char *want, size_t n)
{
	size_t have = c->len - c->pos;
	size_t k = have < n ? have : n;

	if (memcmp(c->p + c->pos, want, k) != 0)
		return PROXY_INVALID;
	if (k < n)
		return PROXY_NEED_MORE;
	c->pos += n;
	return PROXY_DONE;
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_hex(int ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* §2.1: decimal 0..65535 without leading zeros; holds for a prefix of a valid port too. */
static bool port_prefix_ok(const unsigned char *s, size_t n)
{
	unsigned long v = 0;

	if (n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v <= 65535;
}

/* §2.1: four decimal numbers 0..255 without leading zeros, dot-separated. */
static bool addr4_prefix_ok(const unsigned char *s, size_t n)
{
	size_t digits = 0, dots = 0;
	unsigned v = 0;

	if (n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return false;
			digits = 0;
			v = 0;
			continue;
		}
		if (!is_digit(s[i]) || (digits == 1 && v == 0) || ++digits > 3)
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > 255)
			return false;
	}
	return true;
}

/* inet_pton decides; this only stops garbage early. Dots allow ::ffff:192.0.2.1. */
static bool addr6_prefix_ok(const unsigned char *s, size_t n)
{
	if (n > V1_ADDR6_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return false;
	return true;
}

/* A field ended by `end`; the part that has arrived must already look right. */
static enum proxy_status field(struct cursor *c, char end,
			       bool (*prefix_ok)(const unsigned char *, size_t), struct span *f)
{
	const unsigned char *s = c->p + c->pos;
	size_t avail = c->len - c->pos;
	const unsigned char *e = memchr(s, end, avail);
	size_t n = e ? (size_t)(e - s) : avail;

	if (!prefix_ok(s, n))
		return PROXY_INVALID;
	if (!e)
		return PROXY_NEED_MORE;
	if (n == 0)
		return PROXY_INVALID;
	f->s = s;
	f->n = n;
	c->pos += n + 1;
	return PROXY_DONE;
}

static bool set_addr(union sockaddr_any *a, int family, struct span addr, struct span port)
{
	char text[V1_ADDR6_MAX + 1];
	unsigned long v = 0;

	memcpy(text, addr.s, addr.n);
	text[addr.n] = '\0';
	for (size_t i = 0; i < port.n; i++)
		v = v * 10 + (unsigned long)(port.s[i] - '0');
	a->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET) {
		a->in.sin_port = htons((uint16_t)v);
		return inet_pton(AF_INET, text, &a->in.sin_addr) == 1;
	}
	a->in6.sin6_port = htons((uint16_t)v);
	return inet_pton(AF_INET6, text, &a->in6.sin6_addr) == 1;
}

static enum proxy_status v1_addresses(struct cursor *c, int family, struct proxy_result *out)
{
	static const char ends[4] = {' ', ' ', ' ', '\r'};
	static const char *const why[4] = {"bad v1 source address", "bad v1 destination address",
					   "bad v1 source port", "bad v1 destination port"};
	bool (*addr_ok)(const unsigned char *, size_t) =
		family == AF_INET ? addr4_prefix_ok : addr6_prefix_ok;
	struct span f[4];
	enum proxy_status st;

	for (int i = 0; i < 4; i++) {
		st = field(c, ends[i], i < 2 ? addr_ok : port_prefix_ok, &f[i]);
		if (st != PROXY_DONE)
			return st == PROXY_INVALID ? invalid(out, why[i]) : st;
	}
	st = literal(c, "\n", 1);
	if (st != PROXY_DONE)
		return st == PROXY_INVALID ? invalid(out, "v1 line not ended by CRLF") : st;
	if (!set_addr(&out->src, family, f[0], f[2]))
		return invalid(out, why[0]);
	if (!set_addr(&out->dst, family, f[1], f[3]))
		return invalid(out, why[1]);
	return PROXY_DONE;
}

/* §2.1: after UNKNOWN the receiver ignores everything up to the CRLF. */
static enum proxy_status v1_unknown(struct cursor *c, struct proxy_result *out)
{
	if (c->pos < c->len && !memchr(" \r\n", c->p[c->pos], 3))
		return invalid(out, "bad v1 protocol");
	for (size_t i = c->pos; i < c->len; i++) {
		if (c->p[i] == '\n')
			return invalid(out, "v1 line not ended by CRLF");
		if (c->p[i] != '\r')
			continue;
		if (i + 1 == c->len)
			return PROXY_NEED_MORE;
		if (c->p[i + 1] != '\n')
			return invalid(out, "v1 line not ended by CRLF");
		c->pos = i + 2;
		out->local = true;
		return PROXY_DONE;
	}
	return PROXY_NEED_MORE;
}

static enum proxy_status v1_body(struct cursor *c, struct proxy_result *out)
{
	static const char *const protos[] = {"TCP4 ", "TCP6 ", "UNKNOWN"};
	enum proxy_status st = literal(c, "PROXY ", 6);
	bool partial = false;

	if (st != PROXY_DONE)
		return st == PROXY_INVALID ? invalid(out, "not a PROXY v1 header") : st;
	for (int i = 0; i < 3; i++) {
		switch (literal(c, protos[i], strlen(protos[i]))) {
		case PROXY_DONE:
			if (i == 2)
				return v1_unknown(c, out);
			return v1_addresses(c, i == 0 ? AF_INET : AF_INET6, out);
		case PROXY_NEED_MORE: partial = true; break;
		case PROXY_INVALID: break;
		}
	}
	return partial ? PROXY_NEED_MORE : invalid(out, "bad v1 protocol");
}

static enum proxy_status parse_v1(const unsigned char *p, size_t len, struct proxy_result *out)
{
	struct cursor c = {p, 0, len < PROXY_V1_MAX ? len : PROXY_V1_MAX};
	enum proxy_status st = v1_body(&c, out);

	if (st == PROXY_NEED_MORE && len >= PROXY_V1_MAX)
		return invalid(out, "no CRLF within 107 octets");
	if (st == PROXY_DONE) {
		out->version = 1;
		out->used = c.pos;
	}
	return st;
}

/*
 * §2.2: LOCAL ignores the family. With PROXY, UDP and UNIX never carry SMTP, and for
 * UNSPEC the receiver may reject: taking the proxy's own address as the client's would
 * put every sender behind it under one name in the log and in per-address limits.
 */
static const char *v2_family_error(unsigned cmd, unsigned fam)
{
	if (cmd == V2_CMD_LOCAL || fam == V2_TCP4 || fam == V2_TCP6)
		return NULL;
	if (fam == 0x00 || fam == 0x12 || fam == 0x22 || fam == 0x31 || fam == 0x32)
		return "unsupported v2 family";
	return "bad v2 family";
}

static void v2_addresses(const unsigned char *a, unsigned fam, struct proxy_result *out)
{
	if (fam == V2_TCP4) {
		out->src.in.sin_family = AF_INET;
		out->dst.in.sin_family = AF_INET;
		memcpy(&out->src.in.sin_addr, a, 4);
		memcpy(&out->dst.in.sin_addr, a + 4, 4);
		memcpy(&out->src.in.sin_port, a + 8, 2);
		memcpy(&out->dst.in.sin_port, a + 10, 2);
		return;
	}
	out->src.in6.sin6_family = AF_INET6;
	out->dst.in6.sin6_family = AF_INET6;
	memcpy(&out->src.in6.sin6_addr, a, 16);
	memcpy(&out->dst.in6.sin6_addr, a + 16, 16);
	memcpy(&out->src.in6.sin6_port, a + 32, 2);
	memcpy(&out->dst.in6.sin6_port, a + 34, 2);
}

static enum proxy_status parse_v2(const unsigned char *p, size_t len, struct proxy_result *out)
{
	struct cursor c = {p, 0, len};
	const char *why;
	unsigned cmd, fam;
	size_t total, need;

	if (literal(&c, (const char *)v2_sig, sizeof(v2_sig)) == PROXY_INVALID)
		return invalid(out, "not a PROXY v2 header");
	if (len > 12 && (p[12] >> 4) != 2)
		return invalid(out, "bad v2 version");
	if (len > 12 && (p[12] & 0x0F) > V2_CMD_PROXY)
		return invalid(out, "bad v2 command");
	if (len < V2_FIXED) {
		why = len > 13 ? v2_family_error(p[12] & 0x0F, p[13]) : NULL;
		return why ? invalid(out, why) : PROXY_NEED_MORE;
	}
	cmd = p[12] & 0x0F;
	fam = p[13];
	if ((why = v2_family_error(cmd, fam)))
		return invalid(out, why);
	total = V2_FIXED + ((size_t)p[14] << 8 | p[15]);
	if (total > PROXY_V2_MAX)
		return invalid(out, "v2 header too long");
	need = cmd == V2_CMD_LOCAL ? 0 : fam == V2_TCP4 ? V2_TCP4_LEN : V2_TCP6_LEN;
	if (total < V2_FIXED + need)
		return invalid(out, "v2 address block too short");
	if (len < total)
		return PROXY_NEED_MORE;
	/* TLVs after the addresses are skipped by the length, as §2.2 allows. */
	out->version = 2;
	out->used = total;
	out->local = cmd == V2_CMD_LOCAL;
	if (!out->local)
		v2_addresses(p + V2_FIXED, fam, out);
	return PROXY_DONE;
}

enum proxy_status proxy_parse(const void *buf, size_t len, enum proxy_allow allow,
			      struct proxy_result *out)
{
	const unsigned char *p = buf;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return PROXY_NEED_MORE;
	/* §2.2: the v2 signature starts with CR, v1 with "P": one octet tells them apart. */
	if ((allow & PROXY_ALLOW_V2) && p[0] == v2_sig[0])
		return parse_v2(p, len, out);
	if ((allow & PROXY_ALLOW_V1) && p[0] == 'P')
		return parse_v1(p, len, out);
	if (allow == PROXY_ALLOW_V1)
		return invalid(out, "not a PROXY v1 header");
	if (allow == PROXY_ALLOW_V2)
		return invalid(out, "not a PROXY v2 header");
	return invalid(out, "not a PROXY header");
}

static const char *const allow_names[] = {
	[PROXY_ALLOW_V1] = "v1",
	[PROXY_ALLOW_V2] = "v2",
	[PROXY_ALLOW_ANY] = "any",
};

const char *proxy_allow_name(enum proxy_allow allow)
{
	if ((unsigned)allow >= sizeof(allow_names) / sizeof(allow_names[0]) || !allow_names[allow])
		return "?";
	return allow_names[allow];
}

int proxy_allow_parse(const char *name, enum proxy_allow *allow)
{
	for (size_t i = 1; i < sizeof(allow_names) / sizeof(allow_names[0]); i++) {
		if (strcmp(name, allow_names[i]) == 0) {
			*allow = (enum proxy_allow)i;
			return 0;
		}
	}
	return -1;
}
