#include <arpa/inet.h>
#include <stdint.h>

#include "proxy.h"
#include "test.h"

#define AFTER "EHLO client.example\r\n"

static const char *ip_of(const union sockaddr_any *a)
{
	static char buf[2][INET6_ADDRSTRLEN + 8];
	static int which;
	char ip[INET6_ADDRSTRLEN];
	char *out = buf[which ^= 1];

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
		snprintf(out, sizeof(buf[0]), "%s:%u", ip, ntohs(a->in.sin_port));
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(out, sizeof(buf[0]), "[%s]:%u", ip, ntohs(a->in6.sin6_port));
	} else {
		snprintf(out, sizeof(buf[0]), "none");
	}
	return out;
}

/*
 * A valid header: every shorter prefix needs more, the whole is done, and with SMTP
 * bytes behind it the header length is the same. Returns the result for the whole.
 */
static struct proxy_result valid(int line, const void *hdr, size_t len, enum proxy_allow allow)
{
	unsigned char buf[PROXY_HEADER_MAX + sizeof(AFTER)];
	struct proxy_result res;
	int bad_prefixes = 0;

	memcpy(buf, hdr, len);
	memcpy(buf + len, AFTER, sizeof(AFTER) - 1);
	for (size_t k = 0; k < len; k++)
		bad_prefixes += proxy_parse(buf, k, allow, &res) != PROXY_NEED_MORE;
	if (bad_prefixes)
		fprintf(stderr, "line %d: %d prefixes not NEED_MORE\n", line, bad_prefixes);
	CHECK(bad_prefixes == 0);
	CHECK(proxy_parse(buf, len + sizeof(AFTER) - 1, allow, &res) == PROXY_DONE);
	CHECK(res.used == len);
	CHECK(proxy_parse(buf, len, allow, &res) == PROXY_DONE);
	CHECK(res.used == len);
	if (res.used != len)
		fprintf(stderr, "line %d: used %zu of %zu\n", line, res.used, len);
	return res;
}

/* An invalid header: the parse fails with `why` and no later octet changes that. */
static void bad(int line, const void *hdr, size_t len, enum proxy_allow allow, const char *why)
{
	unsigned char buf[PROXY_HEADER_MAX + sizeof(AFTER)];
	struct proxy_result res;

	memcpy(buf, hdr, len);
	memcpy(buf + len, AFTER, sizeof(AFTER) - 1);
	if (proxy_parse(buf, len, allow, &res) != PROXY_INVALID)
		fprintf(stderr, "line %d: not invalid\n", line);
	CHECK(res.reason != NULL);
	CHECK_STR(res.reason, why);
	CHECK(proxy_parse(buf, len + sizeof(AFTER) - 1, allow, &res) == PROXY_INVALID);
}

#define VALID(lit, allow) valid(__LINE__, lit, sizeof(lit) - 1, allow)
#define BAD(lit, allow, why) bad(__LINE__, lit, sizeof(lit) - 1, allow, why)
#define ANY PROXY_ALLOW_ANY
#define V1 PROXY_ALLOW_V1
#define V2 PROXY_ALLOW_V2

static void test_v1_valid(void)
{
	struct proxy_result r;

	r = VALID("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n", V1);
	CHECK(r.version == 1 && !r.local);
	CHECK_STR(ip_of(&r.src), "192.0.2.1:56324");
	CHECK_STR(ip_of(&r.dst), "198.51.100.2:25");
	r = VALID("PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n", ANY);
	CHECK_STR(ip_of(&r.src), "255.255.255.255:65535");
	CHECK_STR(ip_of(&r.dst), "0.0.0.0:0");
	r = VALID("PROXY TCP6 2001:db8::1 2001:DB8::2 1 25\r\n", ANY);
	CHECK_STR(ip_of(&r.src), "[2001:db8::1]:1");
	CHECK_STR(ip_of(&r.dst), "[2001:db8::2]:25");
	r = VALID("PROXY TCP6 ::ffff:192.0.2.1 ::1 40000 25\r\n", V1);
	CHECK_STR(ip_of(&r.src), "[::ffff:192.0.2.1]:40000");
	r = VALID("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		  V1);
	CHECK(r.used == 104);
	r = VALID("PROXY UNKNOWN\r\n", ANY);
	CHECK(r.local && r.version == 1 && r.src.sa.sa_family == 0);
	/* §2.1's worst case, 107 octets: whatever follows UNKNOWN is ignored. */
	r = VALID("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		  V1);
	CHECK(r.local && r.used == PROXY_V1_MAX);
	r = VALID("PROXY UNKNOWN whatever \x01\x7f\r\n", V1);
	CHECK(r.local);
}

static void test_v1_invalid(void)
{
	BAD("GET / HTTP/1.1\r\n", V1, "not a PROXY v1 header");
	BAD("G", V1, "not a PROXY v1 header");
	BAD("PROXY", V2, "not a PROXY v2 header");
	BAD("E", ANY, "not a PROXY header");
	BAD("proxy tcp4 ", V1, "not a PROXY v1 header");
	BAD("PROXY  TCP4", V1, "bad v1 protocol");
	BAD("PROXY TCP5 ", V1, "bad v1 protocol");
	BAD("PROXY tcp4 ", V1, "bad v1 protocol");
	BAD("PROXY UNKNOWNX\r\n", V1, "bad v1 protocol");
	BAD("PROXY TCP4\r\n", V1, "bad v1 protocol");
	BAD("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\n", V1, "bad v1 destination port");
	BAD("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\rX", V1, "v1 line not ended by CRLF");
	BAD("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25 \r\n", V1, "bad v1 destination port");
	BAD("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25 26\r\n", V1, "bad v1 destination port");
	BAD("PROXY TCP4  192.0.2.1", V1, "bad v1 source address");
	BAD("PROXY TCP4 192.0.2.1  198", V1, "bad v1 destination address");
	BAD("PROXY TCP4 192.0.2.1 198.51.100.2  25", V1, "bad v1 source port");
	BAD("PROXY UNKNOWN\n", V1, "v1 line not ended by CRLF");
	BAD("PROXY UNKNOWN x\ny\r\n", V1, "v1 line not ended by CRLF");
	BAD("PROXY UNKNOWN\rx", V1, "v1 line not ended by CRLF");
}

/* Each of these fails before the line ends: no waiting for 107 octets of garbage. */
static void test_v1_fails_early(void)
{
	BAD("PROXY TCP4 01", V1, "bad v1 source address");
	BAD("PROXY TCP4 1.02", V1, "bad v1 source address");
	BAD("PROXY TCP4 256", V1, "bad v1 source address");
	BAD("PROXY TCP4 1.2.3.4.", V1, "bad v1 source address");
	BAD("PROXY TCP4 1..", V1, "bad v1 source address");
	BAD("PROXY TCP4 .", V1, "bad v1 source address");
	BAD("PROXY TCP4 2001:", V1, "bad v1 source address");
	BAD("PROXY TCP4 1x", V1, "bad v1 source address");
	BAD("PROXY TCP6 2001:db8::g", V1, "bad v1 source address");
	BAD("PROXY TCP6 ::1 ::1 00", V1, "bad v1 source port");
	BAD("PROXY TCP6 ::1 ::1 025", V1, "bad v1 source port");
	BAD("PROXY TCP6 ::1 ::1 65536", V1, "bad v1 source port");
	BAD("PROXY TCP6 ::1 ::1 123456", V1, "bad v1 source port");
	BAD("PROXY TCP6 ::1 ::1 1 -1", V1, "bad v1 destination port");
	BAD("PROXY TCP6 ::1 ::1 1 99999", V1, "bad v1 destination port");
	BAD("PROXY TCP6 ::1 ::1 1 0x", V1, "bad v1 destination port");
	BAD("PROXY TCP6 0123456789abcdef0123456789abcdef0123456789abcd", V1,
	    "bad v1 source address");
}

/* Prefixes that look right and are only found wrong when the field ends. */
static void test_v1_invalid_whole(void)
{
	BAD("PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n", V1, "bad v1 source address");
	BAD("PROXY TCP4 1.2.3.4 1.2.3 1 2\r\n", V1, "bad v1 destination address");
	BAD("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", V1, "bad v1 source address");
	BAD("PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n", V1, "bad v1 destination address");
	BAD("PROXY TCP6 ::1::2 ::1 1 2\r\n", V1, "bad v1 source address");
}

static void test_v1_length_cap(void)
{
	char line[200] = "PROXY UNKNOWN ";
	struct proxy_result r;

	memset(line + 14, 'x', sizeof(line) - 14);
	CHECK(proxy_parse(line, PROXY_V1_MAX - 1, V1, &r) == PROXY_NEED_MORE);
	CHECK(proxy_parse(line, PROXY_V1_MAX, V1, &r) == PROXY_INVALID);
	CHECK_STR(r.reason, "no CRLF within 107 octets");
	CHECK(proxy_parse(line, sizeof(line), V1, &r) == PROXY_INVALID);
	/* CRLF as octets 107 and 108: one too many. */
	memcpy(line + 106, "\r\n", 2);
	CHECK(proxy_parse(line, 108, V1, &r) == PROXY_INVALID);
	memcpy(line + 105, "\r\n", 2);
	CHECK(proxy_parse(line, 108, V1, &r) == PROXY_DONE && r.used == 107);
}

#define SIG "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A"

static void test_v2_valid(void)
{
	struct proxy_result r;

	r = VALID(SIG "\x21\x11\x00\x0C"
		      "\xC0\x00\x02\x01"
		      "\xC6\x33\x64\x02"
		      "\xDC\x04\x00\x19",
		  V2);
	CHECK(r.version == 2 && !r.local && r.used == 28);
	CHECK_STR(ip_of(&r.src), "192.0.2.1:56324");
	CHECK_STR(ip_of(&r.dst), "198.51.100.2:25");
	r = VALID(SIG "\x21\x21\x00\x24"
		      "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
		      "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
		      "\xFF\xFF\x00\x00",
		  ANY);
	CHECK(r.used == 52);
	CHECK_STR(ip_of(&r.src), "[2001:db8::1]:65535");
	CHECK_STR(ip_of(&r.dst), "[2001:db8::2]:0");
	r = VALID(SIG "\x20\x00\x00\x00", V2);
	CHECK(r.local && r.used == 16 && r.src.sa.sa_family == 0);
	/* §2.2: LOCAL ignores the family and whatever address block is there. */
	r = VALID(SIG "\x20\x11\x00\x0C"
		      "\x7F\x00\x00\x01\x7F\x00\x00\x01\x00\x01\x00\x19",
		  ANY);
	CHECK(r.local && r.used == 28);
	r = VALID(SIG "\x20\x77\x00\x00", V2);
	CHECK(r.local);
	/* TLVs after the addresses: an AUTHORITY, a NOOP and a custom type. */
	r = VALID(SIG "\x21\x11\x00\x23"
		      "\xC0\x00\x02\x01\xC6\x33\x64\x02\xDC\x04\x00\x19"
		      "\x02\x00\x0Bmx.example\x00"
		      "\x04\x00\x00"
		      "\xE0\x00\x03"
		      "abc",
		  V2);
	CHECK(r.used == 16 + 35);
	CHECK_STR(ip_of(&r.src), "192.0.2.1:56324");
	/* Surplus after the addresses need not even be well-formed TLVs. */
	r = VALID(SIG "\x21\x11\x00\x0E"
		      "\xC0\x00\x02\x01\xC6\x33\x64\x02\xDC\x04\x00\x19\xEE\xEE",
		  V2);
	CHECK(r.used == 30);
}

static void test_v2_size_cap(void)
{
	unsigned char buf[PROXY_HEADER_MAX + 64];
	struct proxy_result r;
	size_t body = PROXY_V2_MAX - 16;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, SIG "\x21\x11", 14);
	buf[14] = (unsigned char)(body >> 8);
	buf[15] = (unsigned char)body;
	CHECK(proxy_parse(buf, 16, V2, &r) == PROXY_NEED_MORE);
	CHECK(proxy_parse(buf, PROXY_V2_MAX - 1, V2, &r) == PROXY_NEED_MORE);
	CHECK(proxy_parse(buf, sizeof(buf), V2, &r) == PROXY_DONE && r.used == PROXY_V2_MAX);
	body++;
	buf[14] = (unsigned char)(body >> 8);
	buf[15] = (unsigned char)body;
	CHECK(proxy_parse(buf, 16, V2, &r) == PROXY_INVALID);
	CHECK_STR(r.reason, "v2 header too long");
	buf[14] = buf[15] = 0xFF;
	CHECK(proxy_parse(buf, 16, ANY, &r) == PROXY_INVALID);
}

static void test_v2_invalid(void)
{
	BAD("\x0D\x0A\x0D\x0A\x01", V2, "not a PROXY v2 header");
	BAD("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0B", V2, "not a PROXY v2 header");
	BAD("\x0D\x0A", V1, "not a PROXY v1 header");
	BAD(SIG "\x11", V2, "bad v2 version");
	BAD(SIG "\x31\x11\x00\x0C", V2, "bad v2 version");
	BAD(SIG "\x22", V2, "bad v2 command");
	BAD(SIG "\x2F", ANY, "bad v2 command");
	BAD(SIG "\x21\x12", V2, "unsupported v2 family");
	BAD(SIG "\x21\x22", V2, "unsupported v2 family");
	BAD(SIG "\x21\x31", V2, "unsupported v2 family");
	BAD(SIG "\x21\x32", V2, "unsupported v2 family");
	BAD(SIG "\x21\x00\x00\x00", V2, "unsupported v2 family");
	BAD(SIG "\x21\x13", V2, "bad v2 family");
	BAD(SIG "\x21\x41", V2, "bad v2 family");
	BAD(SIG "\x21\x10\x00\x0C", V2, "bad v2 family");
	BAD(SIG "\x21\x11\x00\x0B", V2, "v2 address block too short");
	BAD(SIG "\x21\x11\x00\x00", V2, "v2 address block too short");
	BAD(SIG "\x21\x21\x00\x0C", V2, "v2 address block too short");
}

static void test_truncated(void)
{
	static const char v2[] = SIG "\x21\x11\x00\x0C\xC0\x00\x02\x01\xC6\x33\x64\x02\xDC\x04";
	struct proxy_result r;

	CHECK(proxy_parse("", 0, ANY, &r) == PROXY_NEED_MORE);
	CHECK(proxy_parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31, ANY, &r) == PROXY_NEED_MORE);
	CHECK(proxy_parse(v2, sizeof(v2) - 1, ANY, &r) == PROXY_NEED_MORE);
	CHECK(r.used == 0);
}

static void test_allow_names(void)
{
	enum proxy_allow a = V1;

	CHECK(proxy_allow_parse("v2", &a) == 0 && a == V2);
	CHECK(proxy_allow_parse("any", &a) == 0 && a == ANY);
	CHECK(proxy_allow_parse("v1", &a) == 0 && a == V1);
	CHECK(proxy_allow_parse("V1", &a) == -1);
	CHECK(proxy_allow_parse("", &a) == -1);
	CHECK_STR(proxy_allow_name(ANY), "any");
	CHECK_STR(proxy_allow_name((enum proxy_allow)0), "?");
	CHECK_STR(proxy_allow_name((enum proxy_allow)7), "?");
}

int main(void)
{
	test_v1_valid();
	test_v1_invalid();
	test_v1_fails_early();
	test_v1_invalid_whole();
	test_v1_length_cap();
	test_v2_valid();
	test_v2_size_cap();
	test_v2_invalid();
	test_truncated();
	test_allow_names();
	return test_done();
}
