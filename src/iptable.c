/*
 * The client table: one array of entries, a power-of-two array of hash buckets, and
 * the idle list. Indices are stored plus one so that calloc's zeroes mean "none" and
 * the untouched parts of a large table stay unmapped pages.
 *
 * The bucket is chosen by SipHash-2-4 (libsodium's crypto_shorthash) with a random
 * key, so a client who controls many addresses (an IPv6 /48 holds 65536 /64s) cannot
 * aim them all at one chain.
 */
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "iptable.h"

struct iptable {
	uint32_t capacity;
	uint32_t mask; /* buckets - 1 */
	uint32_t ttl_s;
	uint32_t count;
	uint32_t pinned;
	uint32_t free_next;  /* entries never used yet start here */
	uint32_t free_head;  /* dropped entries, chained through hnext (index + 1) */
	uint32_t head, tail; /* the idle list: head is the newest */
	iptable_evict_cb *evict;
	void *evict_arg;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	uint32_t *buckets;
	struct ipentry entries[];
};

struct iptable *iptable_new(uint32_t capacity, uint32_t ttl_s)
{
	struct iptable *t;
	uint32_t nb = 1;

	if (capacity == 0 || capacity > (UINT32_MAX >> 2) || sodium_init() < 0)
		return NULL;
	while (nb < capacity)
		nb <<= 1;
	t = calloc(1, sizeof(*t) + (size_t)capacity * sizeof(struct ipentry));
	if (!t)
		return NULL;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->capacity = capacity;
	t->mask = nb - 1;
	t->ttl_s = ttl_s;
	randombytes_buf(t->hkey, sizeof(t->hkey));
	return t;
}

void iptable_free(struct iptable *t)
{
	if (t)
		free(t->buckets);
	free(t);
}

void iptable_on_evict(struct iptable *t, iptable_evict_cb *cb, void *arg)
{
	t->evict = cb;
	t->evict_arg = arg;
}

int iptable_key_from(const struct sockaddr *sa, unsigned v6prefix, struct iptable_key *k)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	unsigned bits;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		k->addr[10] = k->addr[11] = 0xff;
		memcpy(&k->addr[12], &((const struct sockaddr_in *)sa)->sin_addr, 4);
		k->prefix = 128;
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	memcpy(k->addr, &in6->sin6_addr, 16);
	bits = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? 128 : v6prefix;
	k->prefix = (uint8_t)bits;
	addr_mask(k->addr, bits);
	return 0;
}

bool iptable_key_is_v4(const struct iptable_key *k)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(k->addr, mapped, sizeof(mapped)) == 0;
}

struct ipentry *iptable_at(struct iptable *t, uint32_t index1)
{
	return index1 ? &t->entries[index1 - 1] : NULL;
}

uint32_t iptable_index(const struct iptable *t, const struct ipentry *e)
{
	return e ? (uint32_t)(e - t->entries) + 1 : 0;
}

uint32_t iptable_count(const struct iptable *t)
{
	return t->count;
}

uint32_t iptable_pinned(const struct iptable *t)
{
	return t->pinned;
}

static uint32_t *bucket_of(struct iptable *t, const struct iptable_key *k)
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, (const unsigned char *)k, sizeof(*k), t->hkey);
	return &t->buckets[h & t->mask];
}

static void idle_unlink(struct iptable *t, struct ipentry *e)
{
	uint32_t i = iptable_index(t, e);

	if (e->prev)
		iptable_at(t, e->prev)->next = e->next;
	else if (t->head == i)
		t->head = e->next;
	if (e->next)
		iptable_at(t, e->next)->prev = e->prev;
	else if (t->tail == i)
		t->tail = e->prev;
	e->prev = e->next = 0;
}

static void idle_push(struct iptable *t, struct ipentry *e)
{
	uint32_t i = iptable_index(t, e);

	e->prev = 0;
	e->next = t->head;
	if (t->head)
		iptable_at(t, t->head)->prev = i;
	else
		t->tail = i;
	t->head = i;
}

/* Takes an idle entry out of the table; its slot goes to the next new client. */
static void drop(struct iptable *t, struct ipentry *e)
{
	uint32_t i = iptable_index(t, e), *p = bucket_of(t, &e->key);

	if (t->evict)
		t->evict(e, t->evict_arg);
	while (*p != i)
		p = &iptable_at(t, *p)->hnext;
	*p = e->hnext;
	idle_unlink(t, e);
	e->used = false;
	e->hnext = t->free_head;
	t->free_head = i;
	t->count--;
}

static void expire(struct iptable *t, uint32_t now_s)
{
	struct ipentry *e;

	while ((e = iptable_at(t, t->tail)) && now_s - e->last_s >= t->ttl_s)
		drop(t, e);
}

static struct ipentry *make(struct iptable *t, const struct iptable_key *k, uint32_t *bucket)
{
	struct ipentry *e;

	if (!t->free_head && t->free_next == t->capacity) {
		if (!t->tail)
			return NULL; /* every entry is pinned */
		drop(t, iptable_at(t, t->tail));
	}
	if (t->free_head) {
		e = iptable_at(t, t->free_head);
		t->free_head = e->hnext;
	} else {
		e = &t->entries[t->free_next++];
	}
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->used = true;
	e->hnext = *bucket;
	*bucket = iptable_index(t, e);
	idle_push(t, e);
	t->count++;
	return e;
}

struct ipentry *iptable_get(struct iptable *t, const struct iptable_key *k, uint32_t now_s)
{
	uint32_t *bucket;
	struct ipentry *e;

	expire(t, now_s);
	bucket = bucket_of(t, k);
	for (e = iptable_at(t, *bucket); e; e = iptable_at(t, e->hnext))
		if (memcmp(&e->key, k, sizeof(*k)) == 0)
			break;
	if (!e && !(e = make(t, k, bucket)))
		return NULL;
	if (!e->active) {
		idle_unlink(t, e);
		idle_push(t, e);
	}
	e->last_s = now_s;
	return e;
}

void iptable_pin(struct iptable *t, struct ipentry *e)
{
	if (e->active++ == 0) {
		idle_unlink(t, e);
		t->pinned++;
	}
}

void iptable_unpin(struct iptable *t, struct ipentry *e, uint32_t now_s)
{
	if (e->active == 0 || --e->active > 0)
		return;
	t->pinned--;
	e->last_s = now_s;
	idle_push(t, e);
}

/*
 * The arrival time is kept in microseconds, not in units scaled by the rate: a reload
 * that changes the rate keeps the table, and a scaled value would be read on the new
 * scale (a lowered rate then blocked a client for about half the host's uptime).
 */
bool iptable_rate_ok(struct ipentry *e, uint64_t now_ms, uint32_t rate, uint32_t window_ms)
{
	uint64_t now = now_ms * 1000, interval = (uint64_t)window_ms * 1000 / rate;
	uint64_t tau = interval * (rate - 1);

	if (e->tat < now)
		e->tat = now;
	if (e->tat - now > tau)
		return false;
	e->tat += interval;
	return true;
}
