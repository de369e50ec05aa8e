/* The client table: prefix grouping, the rate window, eviction, expiry. */
#include <arpa/inet.h>

#include "iptable.h"
#include "test.h"

static struct sockaddr_storage ss;

static const struct sockaddr *addr(const char *text)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
	} else {
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &in6->sin6_addr);
	}
	return (const struct sockaddr *)&ss;
}

static struct iptable_key key(const char *text, unsigned v6prefix)
{
	struct iptable_key k;
	iptable_key_from(addr(text), v6prefix, &k);
	return k;
}

static bool same(const char *a, const char *b, unsigned v6prefix)
{
	struct iptable_key ka = key(a, v6prefix), kb = key(b, v6prefix);
	return memcmp(&ka, &kb, sizeof(ka)) == 0;
}

static void test_grouping(void)
{
	struct iptable_key k;

	CHECK(!same("192.0.2.1", "192.0.2.2", 64)); /* IPv4 is always /32 */
	CHECK(same("192.0.2.1", "::ffff:192.0.2.1", 64));
	CHECK(iptable_key_is_v4(&(struct iptable_key){0}) == false);
	k = key("::ffff:192.0.2.1", 64);
	CHECK(iptable_key_is_v4(&k) && k.prefix == 128);
	CHECK(same("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 64));
	CHECK(!same("2001:db8:1:2::1", "2001:db8:1:3::1", 64));
	CHECK(same("2001:db8:1:2::1", "2001:db8:1:3::1", 48));
	CHECK(!same("2001:db8:1:2::1", "2001:db8:1:2::2", 128));
	CHECK(same("2001:db8:1:2::1", "2001:db8:1:2:0:0:0:1", 128));
	CHECK(same("2001:db8:1:ff00::", "2001:db8:1:ff7f::", 57)); /* a prefix inside a byte */
	CHECK(!same("2001:db8:1:ff00::", "2001:db8:1:ff80::", 57));
	k = key("2001:db8::1", 56);
	CHECK(k.prefix == 56 && !iptable_key_is_v4(&k));
	struct sockaddr un = {.sa_family = AF_UNIX};
	CHECK(iptable_key_from(&un, 64, &k) == -1);
}

static void test_rate(void)
{
	struct ipentry e = {0};
	uint64_t t = 1000000;

	/* 3 per 60 s: a burst of 3, then one every 20 s; a quiet minute restores all 3. */
	CHECK(iptable_rate_ok(&e, t, 3, 60000));
	CHECK(iptable_rate_ok(&e, t, 3, 60000));
	CHECK(iptable_rate_ok(&e, t + 10, 3, 60000));
	CHECK(!iptable_rate_ok(&e, t + 20, 3, 60000));
	CHECK(!iptable_rate_ok(&e, t + 19000, 3, 60000));
	CHECK(iptable_rate_ok(&e, t + 20010, 3, 60000));
	CHECK(!iptable_rate_ok(&e, t + 20020, 3, 60000));
	t += 20010 + 60000;
	for (int i = 0; i < 3; i++)
		CHECK(iptable_rate_ok(&e, t, 3, 60000));
	CHECK(!iptable_rate_ok(&e, t, 3, 60000));

	struct ipentry one = {0}; /* rate 1: exactly one per window */
	CHECK(iptable_rate_ok(&one, 5000, 1, 1000));
	CHECK(!iptable_rate_ok(&one, 5999, 1, 1000));
	CHECK(iptable_rate_ok(&one, 6000, 1, 1000));
}

static int evicted;
static void on_evict(struct ipentry *e, void *arg)
{
	evicted++;
}

static void test_eviction(void)
{
	struct iptable *t = iptable_new(3, 100);
	struct iptable_key a = key("192.0.2.1", 64), b = key("192.0.2.2", 64),
			   c = key("192.0.2.3", 64), d = key("192.0.2.4", 64);
	struct ipentry *ea, *eb, *ec, *ed;

	iptable_on_evict(t, on_evict, NULL);
	ea = iptable_get(t, &a, 1);
	eb = iptable_get(t, &b, 2);
	ec = iptable_get(t, &c, 3);
	CHECK(ea && eb && ec && iptable_count(t) == 3);
	CHECK(iptable_get(t, &a, 4) == ea); /* a is now the newest: b is the oldest */
	ea->log_lines = 7;
	ed = iptable_get(t, &d, 5);
	CHECK(ed && evicted == 1 && iptable_count(t) == 3);
	CHECK(iptable_get(t, &a, 6) == ea && ea->log_lines == 7);
	eb = iptable_get(t, &b, 7); /* b comes back fresh, in c's place (c was oldest) */
	CHECK(eb && evicted == 2 && eb->log_lines == 0);

	/* Pinned entries are never evicted; when all are pinned, new clients go untracked. */
	iptable_pin(t, ea);
	iptable_pin(t, eb);
	iptable_pin(t, ed);
	CHECK(iptable_pinned(t) == 3);
	CHECK(iptable_get(t, &c, 8) == NULL);
	CHECK(iptable_get(t, &a, 8) == ea); /* known clients are still found */
	iptable_pin(t, ea);
	iptable_unpin(t, ea, 9);
	CHECK(iptable_pinned(t) == 3);
	iptable_unpin(t, eb, 9);
	CHECK(iptable_pinned(t) == 2);
	evicted = 0;
	ec = iptable_get(t, &c, 10); /* b was the only idle entry: it goes */
	CHECK(ec && evicted == 1 && iptable_count(t) == 3);
	CHECK(iptable_get(t, &b, 11) && evicted == 2); /* and comes back in c's place */
	iptable_free(t);
}

static void test_expiry(void)
{
	struct iptable *t = iptable_new(8, 60);
	struct iptable_key a = key("2001:db8:1::1", 64), b = key("2001:db8:2::1", 64);
	struct ipentry *ea;

	evicted = 0;
	iptable_on_evict(t, on_evict, NULL);
	ea = iptable_get(t, &a, 100);
	iptable_get(t, &b, 130);
	iptable_pin(t, ea);
	CHECK(iptable_count(t) == 2);
	iptable_get(t, &b, 180); /* b used again within its 60 s */
	CHECK(iptable_count(t) == 2 && evicted == 0);
	iptable_get(t, &b, 205); /* a is pinned: only idle entries expire */
	CHECK(iptable_count(t) == 2 && evicted == 0);
	iptable_unpin(t, ea, 210);
	iptable_get(t, &b, 260);
	CHECK(iptable_count(t) == 2); /* b idle 55 s, a 50 s */
	iptable_get(t, &b, 270);
	CHECK(iptable_count(t) == 1 && evicted == 1);
	iptable_get(t, &a, 400); /* b expires here, a comes back new */
	CHECK(iptable_count(t) == 1 && evicted == 2);
	iptable_free(t);
}

static void test_many(void)
{
	struct iptable *t = iptable_new(1000, 3600);
	char text[32];
	int found = 0;

	for (int i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		struct iptable_key k = key(text, 64);
		CHECK(iptable_get(t, &k, (uint32_t)i / 100) != NULL);
	}
	CHECK(iptable_count(t) == 1000);
	for (int i = 4000; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		struct iptable_key k = key(text, 64);
		struct ipentry *e = iptable_get(t, &k, 50);
		found += e && memcmp(&e->key, &k, sizeof(k)) == 0;
	}
	CHECK(found == 1000 && iptable_count(t) == 1000);
	iptable_free(t);
}

int main(void)
{
	test_grouping();
	test_rate();
	test_eviction();
	test_expiry();
	test_many();
	return test_done();
}
