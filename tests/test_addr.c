#include <arpa/inet.h>

#include "addr.h"
#include "test.h"

static union sockaddr_any v4(const char *ip, unsigned port)
{
	union sockaddr_any a = {0};

	a.in.sin_family = AF_INET;
	a.in.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &a.in.sin_addr);
	return a;
}

static union sockaddr_any v6(const char *ip, unsigned port)
{
	union sockaddr_any a = {0};

	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_port = htons((uint16_t)port);
	inet_pton(AF_INET6, ip, &a.in6.sin6_addr);
	return a;
}

static void test_text(void)
{
	static const char *const quads[] = {"0.0.0.0", "255.255.255.255", "10.0.100.5",
					    "192.0.2.19", "1.22.203.4"};
	char ip[INET6_ADDRSTRLEN], text[64];
	unsigned port;
	union sockaddr_any a;

	for (size_t i = 0; i < sizeof(quads) / sizeof(quads[0]); i++) {
		a = v4(quads[i], 25);
		addr_text(&a.sa, ip, sizeof(ip), &port);
		CHECK_STR(ip, quads[i]);
		CHECK(port == 25);
	}
	a = v6("::ffff:198.51.100.7", 2525);
	addr_text(&a.sa, ip, sizeof(ip), &port);
	CHECK_STR(ip, "198.51.100.7");
	addr_format(&a.sa, text, sizeof(text));
	CHECK_STR(text, "198.51.100.7:2525");
	a = v6("2001:db8:0:0::1", 0);
	addr_format(&a.sa, text, sizeof(text));
	CHECK_STR(text, "[2001:db8::1]:0");
}

static void test_parse(void)
{
	static const char *const bad[] = {"127.0.0.1",      "127.0.0.1:",      ":25",
					  "127.1:25",       "127.0.0.1:65536", "1.2.3.4:+25",
					  "1.2.3.4:123456", "::1:25",          "[::1]",
					  "[]:25",          "[::1:25",         "host.example:25"};
	union sockaddr_any a;
	char text[64];

	CHECK(addr_parse("192.0.2.1:25", &a) == 0 && a.sa.sa_family == AF_INET);
	addr_format(&a.sa, text, sizeof(text));
	CHECK_STR(text, "192.0.2.1:25");
	CHECK(addr_parse("[2001:db8:0::1]:65535", &a) == 0 && a.sa.sa_family == AF_INET6);
	addr_format(&a.sa, text, sizeof(text));
	CHECK_STR(text, "[2001:db8::1]:65535");
	CHECK(addr_parse("0.0.0.0:0", &a) == 0 && a.in.sin_port == 0); /* any free port */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(addr_parse(bad[i], &a) == -1);
}

static void test_cidr(void)
{
	struct cidr c;
	union sockaddr_any a;

	CHECK(cidr_parse("192.0.2.0/24", &c) == 0 && c.bits == 24);
	a = v4("192.0.2.200", 1);
	CHECK(cidr_match(&c, &a.sa));
	a = v4("192.0.3.1", 1);
	CHECK(!cidr_match(&c, &a.sa));
	a = v6("::ffff:192.0.2.9", 1); /* an IPv4 client seen on an IPv6 socket */
	CHECK(cidr_match(&c, &a.sa));
	CHECK(cidr_parse("2001:db8::/33", &c) == 0 && c.bits == 33);
	a = v6("2001:db8:7fff::1", 1);
	CHECK(cidr_match(&c, &a.sa));
	a = v6("2001:db8:8000::1", 1);
	CHECK(!cidr_match(&c, &a.sa));
	CHECK(cidr_parse("::1", &c) == 0 && c.bits == 128);
	CHECK(cidr_parse("10.0.0.0/33", &c) == -1);
	CHECK(cidr_parse("10.0.0.0/", &c) == -1);
	CHECK(cidr_parse("10.0.0.0/-1", &c) == -1);
	CHECK(cidr_parse("host.example", &c) == -1);
	CHECK(cidr_parse("/8", &c) == -1);
}

static void test_cidr_format(void)
{
	static const char *const nets[] = {"192.0.2.0/24",  "0.0.0.0/0", "127.0.0.1/32",
					   "2001:db8::/33", "::1/128",   "::/0"};
	char text[64];
	struct cidr c;

	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		CHECK(cidr_parse(nets[i], &c) == 0);
		cidr_format(&c, text, sizeof(text));
		CHECK_STR(text, nets[i]);
	}
	CHECK(cidr_parse("10.1.2.3", &c) == 0); /* a bare address is a host */
	cidr_format(&c, text, sizeof(text));
	CHECK_STR(text, "10.1.2.3/32");
	CHECK(cidr_parse("2001:DB8:0:0::0/32", &c) == 0); /* one spelling per network */
	cidr_format(&c, text, sizeof(text));
	CHECK_STR(text, "2001:db8::/32");
	cidr_format(&c, text, 8); /* cut, never overrun */
	CHECK_STR(text, "2001:db");
}

static void test_mask(void)
{
	uint8_t a[16], want[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80};

	memset(a, 0xff, sizeof(a));
	addr_mask(a, 57); /* inside a byte */
	CHECK(memcmp(a, want, sizeof(a)) == 0);
	memset(a, 0xff, sizeof(a));
	addr_mask(a, 128);
	CHECK(a[0] == 0xff && a[15] == 0xff);
	addr_mask(a, 0);
	CHECK(a[0] == 0 && a[15] == 0);
}

int main(void)
{
	test_text();
	test_parse();
	test_cidr();
	test_cidr_format();
	test_mask();
	return test_done();
}
