#ifndef NULLMXD_IPTABLE_H
#define NULLMXD_IPTABLE_H

/*
 * A fixed-capacity table of clients keyed by address prefix: IPv4 /32, IPv6 a
 * configurable /N. Entries with open connections are pinned; the others sit in a list
 * by last use, so the oldest idle one is evicted when the table is full and expired
 * ones are dropped from its end. Every operation is O(1) (expiry amortised) and
 * allocation-free after iptable_new().
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* IPv4 is stored IPv4-mapped (::ffff:a.b.c.d), so v4 and v4-mapped v6 peers are one key. */
struct iptable_key {
	uint8_t addr[16];
	uint8_t prefix; /* 32..128 in IPv6 terms: a /24 of IPv4 is prefix 120 */
};

struct ipentry {
	struct iptable_key key;
	uint32_t hnext;        /* hash chain (index + 1; 0 ends it) */
	uint32_t prev, next;   /* the idle list, newest first (index + 1) */
	uint32_t wprev, wnext; /* a list its user keeps (guard: open log windows) */
	uint32_t active;       /* pins: open connections */
	uint32_t last_s;       /* when it was last used */
	uint32_t log_start_s;
	uint32_t log_lines;
	uint32_t log_suppressed;
	uint64_t tat; /* rate limit: theoretical arrival time, in ms times the rate */
	bool used;
	bool in_window;
};

struct iptable;
typedef void iptable_evict_cb(struct ipentry *e, void *arg);

/* ttl_s: an idle entry unused that long is dropped. Returns NULL without memory. */
struct iptable *iptable_new(uint32_t capacity, uint32_t ttl_s);
void iptable_free(struct iptable *t);
void iptable_on_evict(struct iptable *t, iptable_evict_cb *cb, void *arg);

/* Groups an address: IPv4 (and IPv4-mapped) by /32, IPv6 by /v6prefix. -1: not IP. */
int iptable_key_from(const struct sockaddr *sa, unsigned v6prefix, struct iptable_key *k);
bool iptable_key_is_v4(const struct iptable_key *k);

/*
 * Finds the entry for k, or makes one (evicting the oldest idle entry when full), and
 * marks it used now. NULL when every entry is pinned: the client goes untracked.
 */
struct ipentry *iptable_get(struct iptable *t, const struct iptable_key *k, uint32_t now_s);
void iptable_pin(struct iptable *t, struct ipentry *e);
void iptable_unpin(struct iptable *t, struct ipentry *e, uint32_t now_s);
uint32_t iptable_count(const struct iptable *t);
uint32_t iptable_pinned(const struct iptable *t);

/* Entry list helpers by index, for a user's own list (wprev/wnext). */
struct ipentry *iptable_at(struct iptable *t, uint32_t index1);
uint32_t iptable_index(const struct iptable *t, const struct ipentry *e);

/*
 * Generic cell rate: at most rate connections per window_ms, refilled smoothly (one
 * every window_ms / rate), so a full window of quiet restores the whole burst.
 */
bool iptable_rate_ok(struct ipentry *e, uint64_t now_ms, uint32_t rate, uint32_t window_ms);

#endif
