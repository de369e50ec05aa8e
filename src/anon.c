/*
 * Client anonymisation for log lines. Hash mode uses SipHash-2-4 (libsodium's
 * crypto_shorthash): a keyed PRF made for short inputs, fast enough for a log line
 * per connection. The key is secret: IPv4 has only 2^32 addresses, so anyone holding
 * the key could hash them all and reverse the tokens.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "anon.h"
#include "log.h"

static struct {
	struct anon_settings set;
	bool have_random;
	uint8_t random_key[ANON_KEY_BYTES];
} an;

int anon_key_from_text(const char *text, uint8_t key[ANON_KEY_BYTES])
{
	if (sodium_init() < 0)
		return -1;
	return crypto_generichash(key, ANON_KEY_BYTES, (const unsigned char *)text, strlen(text),
				  NULL, 0);
}

int anon_configure(const struct anon_settings *s)
{
	if (sodium_init() < 0)
		return -1;
	an.set = *s;
	if (!an.set.have_key) {
		if (!an.have_random) {
			randombytes_buf(an.random_key, sizeof(an.random_key));
			an.have_random = true;
		}
		memcpy(an.set.key, an.random_key, sizeof(an.set.key));
	}
	return 0;
}

/* The key's address cut to prefix (IPv6 terms), written as ADDR or ADDR/N. */
static void key_text(const struct iptable_key *k, unsigned prefix, char *out, size_t len)
{
	bool v4 = iptable_key_is_v4(k);
	struct cidr c = {.bits = v4 ? prefix - 96 : prefix};
	uint8_t a[16];
	unsigned port;

	memcpy(a, k->addr, sizeof(a));
	addr_mask(a, prefix);
	c.net.sa.sa_family = v4 ? AF_INET : AF_INET6;
	if (v4)
		memcpy(&c.net.in.sin_addr, a + 12, 4);
	else
		memcpy(&c.net.in6.sin6_addr, a, sizeof(a));
	if (prefix >= 128)
		addr_text(&c.net.sa, out, len, &port);
	else
		cidr_format(&c, out, len);
}

static void hash_text(const struct iptable_key *k, char *out, size_t len)
{
	unsigned char h[crypto_shorthash_BYTES];
	static const char hex[] = "0123456789abcdef";
	char tok[2 + 2 * sizeof(h) + 1] = "h:";

	crypto_shorthash(h, (const unsigned char *)k, sizeof(*k), an.set.key);
	for (size_t i = 0; i < sizeof(h); i++) {
		tok[2 + 2 * i] = hex[h[i] >> 4];
		tok[3 + 2 * i] = hex[h[i] & 15];
	}
	tok[sizeof(tok) - 1] = '\0';
	snprintf(out, len, "%s", tok);
}

static unsigned truncate_prefix(const struct iptable_key *k)
{
	return iptable_key_is_v4(k) ? 96 + an.set.truncate_ipv4 : an.set.truncate_ipv6;
}

void anon_group(const struct iptable_key *k, char *out, size_t len)
{
	unsigned p = k->prefix;

	if (an.set.mode == ANON_HASH) {
		hash_text(k, out, len);
		return;
	}
	if (an.set.mode == ANON_TRUNCATE && truncate_prefix(k) < p)
		p = truncate_prefix(k);
	key_text(k, p, out, len);
}

/* The client as the log shows it, and its port; "-" for a non-IP address. */
static void anon_client(const struct sockaddr *sa, char *out, size_t len, unsigned *port)
{
	struct iptable_key k;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(out, len, "-");
		*port = 0;
		return;
	}
	addr_text(sa, out, len, port);
	if (an.set.mode == ANON_NONE)
		return;
	if (an.set.mode == ANON_HASH) {
		iptable_key_from(sa, an.set.ipv6_prefix, &k);
		hash_text(&k, out, len);
	} else {
		iptable_key_from(sa, 128, &k);
		key_text(&k, truncate_prefix(&k), out, len);
	}
}

void anon_log_client(const struct sockaddr *sa)
{
	char ip[ANON_TEXT_MAX];
	unsigned port;

	anon_client(sa, ip, sizeof(ip), &port);
	log_str("client", ip);
	log_uint("client_port", port);
}

void anon_log_path(const char *key, const char *path)
{
	char text[300]; /* a path comes cut to 254 octets (smtp.h) */
	const char *at = strrchr(path, '@');

	if (an.set.mode != ANON_NONE && *path)
		path = at ? at : "@";
	snprintf(text, sizeof(text), "<%s>", path);
	log_str(key, text);
}
