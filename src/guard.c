/*
 * Per-client limits and log flood control over one client table.
 *
 * A client's log window opens with its first line and lasts log.per_ip_window
 * seconds; windows open in time order, so one FIFO (through the entries' wprev/wnext)
 * holds them by closing time and the tick pops the ended ones, each at most once.
 */
#include <stdlib.h>

#include "anon.h"
#include "guard.h"
#include "log.h"
#include "stats.h"

#define TICK_MS 1000

struct retired {
	struct iptable *table;
	struct retired *next;
};

static struct {
	uv_loop_t *loop;
	uv_timer_t tick;
	struct guard_settings set;
	struct iptable *table;
	uint32_t whead, wtail;   /* open log windows, oldest first */
	struct retired *retired; /* old tables that connections still pin */
	uint64_t second;         /* the global ceiling's current second */
	uint32_t second_lines;
	uint64_t held_all; /* lines the global ceiling held back since the last tick */
} g;

static uint32_t now_s(void)
{
	return (uint32_t)(uv_now(g.loop) / 1000);
}

static void log_suppressed(struct ipentry *e)
{
	char client[ANON_TEXT_MAX];

	anon_group(&e->key, client, sizeof(client));
	log_begin(LOG_NOTICE, "suppressed");
	log_str("client", client);
	log_uint("count", e->log_suppressed);
	log_uint("window_s", g.set.log_per_ip_window_s);
	log_end();
}

static void window_end(struct ipentry *e)
{
	struct ipentry *p = iptable_at(g.table, e->wprev), *n = iptable_at(g.table, e->wnext);

	if (e->log_suppressed)
		log_suppressed(e);
	if (p)
		p->wnext = e->wnext;
	else
		g.whead = e->wnext;
	if (n)
		n->wprev = e->wprev;
	else
		g.wtail = e->wprev;
	e->wprev = e->wnext = 0;
	e->in_window = false;
	e->log_lines = e->log_suppressed = 0;
}

static void window_begin(struct ipentry *e, uint32_t now)
{
	uint32_t i = iptable_index(g.table, e);

	e->in_window = true;
	e->log_start_s = now;
	e->wprev = g.wtail;
	e->wnext = 0;
	if (g.wtail)
		iptable_at(g.table, g.wtail)->wnext = i;
	else
		g.whead = i;
	g.wtail = i;
}

static void on_evict(struct ipentry *e, void *arg)
{
	if (e->in_window)
		window_end(e);
}

static void windows_close(uint32_t until)
{
	struct ipentry *e;

	while ((e = iptable_at(g.table, g.whead)) &&
	       until - e->log_start_s >= g.set.log_per_ip_window_s)
		window_end(e);
}

static void log_held_all(void)
{
	if (!g.held_all)
		return;
	log_begin(LOG_NOTICE, "suppressed");
	log_str("scope", "all");
	log_uint("count", g.held_all);
	log_uint("window_s", 1);
	log_end();
	g.held_all = 0;
}

static void on_tick(uv_timer_t *t)
{
	if (g.table)
		windows_close(now_s());
	log_held_all();
	stats_log_pressure();
}

int guard_init(uv_loop_t *loop)
{
	int err;

	g.loop = loop;
	if ((err = uv_timer_init(loop, &g.tick)) != 0 ||
	    (err = uv_timer_start(&g.tick, on_tick, TICK_MS, TICK_MS)) != 0)
		return err;
	uv_unref((uv_handle_t *)&g.tick);
	return 0;
}

/* Connections still pin entries of the old table: it goes when the last one closes. */
static void retire_table(void)
{
	struct retired *r;

	if (!g.table)
		return;
	while (g.whead)
		window_end(iptable_at(g.table, g.whead));
	if (iptable_pinned(g.table) == 0) {
		iptable_free(g.table);
		g.table = NULL;
		return;
	}
	/* Without memory the table is left behind: freeing it under its pins is worse. */
	if (!(r = malloc(sizeof(*r)))) {
		g.table = NULL;
		return;
	}
	r->table = g.table;
	r->next = g.retired;
	g.retired = r;
	iptable_on_evict(g.table, NULL, NULL);
	g.table = NULL;
}

static bool same_shape(const struct guard_settings *a, const struct guard_settings *b)
{
	return a->max_clients == b->max_clients && a->ipv6_prefix == b->ipv6_prefix &&
	       a->per_ip_window_s == b->per_ip_window_s &&
	       a->log_per_ip_window_s == b->log_per_ip_window_s;
}

int guard_configure(const struct guard_settings *s)
{
	bool want = s->per_ip_connections || s->per_ip_rate || s->log_per_ip_lines;
	uint32_t ttl = s->per_ip_window_s > s->log_per_ip_window_s ? s->per_ip_window_s
								   : s->log_per_ip_window_s;

	if (g.table && (!want || !same_shape(&g.set, s)))
		retire_table();
	g.set = *s;
	if (want && !g.table) {
		g.table = iptable_new(s->max_clients, ttl + 1);
		if (!g.table)
			return -1;
		iptable_on_evict(g.table, on_evict, NULL);
	}
	stats.tracked = g.table ? iptable_count(g.table) : 0;
	return 0;
}

void guard_stop(void)
{
	if (g.table) {
		while (g.whead)
			window_end(iptable_at(g.table, g.whead));
	}
	log_held_all();
	stats_log_pressure();
	g.set.log_per_ip_lines = 0;
	g.set.log_max_lines_per_second = 0;
}

static enum guard_verdict over(enum stats_limit which)
{
	stats.limit[which]++;
	return g.set.over_limit == GUARD_OVER_LIMIT_CLOSE ? GUARD_LIMIT_CLOSE : GUARD_LIMIT_REPLY;
}

void guard_track(struct guard_ref *r, const struct sockaddr *peer)
{
	struct iptable_key k;
	struct ipentry *e;

	r->table = NULL;
	r->entry = NULL;
	if (!g.table || iptable_key_from(peer, g.set.ipv6_prefix, &k) != 0)
		return;
	e = iptable_get(g.table, &k, now_s());
	stats.tracked = iptable_count(g.table);
	if (!e) {
		stats.untracked++;
		return;
	}
	iptable_pin(g.table, e);
	r->table = g.table;
	r->entry = e;
}

enum guard_verdict guard_admit(struct guard_ref *r, const struct sockaddr *peer)
{
	struct ipentry *e;

	guard_track(r, peer);
	if (!(e = r->entry))
		return GUARD_OK;
	if (g.set.per_ip_connections && e->active > g.set.per_ip_connections)
		return over(STATS_LIMIT_CONNECTIONS);
	if (g.set.per_ip_rate &&
	    !iptable_rate_ok(e, uv_now(g.loop), g.set.per_ip_rate, g.set.per_ip_window_s * 1000))
		return over(STATS_LIMIT_RATE);
	return GUARD_OK;
}

static bool client_may_log(struct ipentry *e)
{
	uint32_t now = now_s();

	if (e->in_window && now - e->log_start_s >= g.set.log_per_ip_window_s)
		window_end(e);
	if (!e->in_window)
		window_begin(e, now);
	if (e->log_lines < g.set.log_per_ip_lines) {
		e->log_lines++;
		return true;
	}
	e->log_suppressed++;
	stats.suppressed[STATS_SUPPRESS_CLIENT]++;
	return false;
}

bool guard_log(struct guard_ref *r)
{
	uint64_t sec;

	if (r->entry && r->table == g.table && g.set.log_per_ip_lines && !client_may_log(r->entry))
		return false;
	if (!g.set.log_max_lines_per_second)
		return true;
	sec = uv_now(g.loop) / 1000;
	if (sec != g.second) {
		g.second = sec;
		g.second_lines = 0;
	}
	if (g.second_lines < g.set.log_max_lines_per_second) {
		g.second_lines++;
		return true;
	}
	g.held_all++;
	stats.suppressed[STATS_SUPPRESS_ALL]++;
	return false;
}

static void release_retired(struct iptable *t, struct ipentry *e)
{
	for (struct retired **p = &g.retired; *p; p = &(*p)->next) {
		if ((*p)->table != t)
			continue;
		iptable_unpin(t, e, now_s());
		if (iptable_pinned(t) == 0) {
			struct retired *dead = *p;
			*p = dead->next;
			iptable_free(dead->table);
			free(dead);
		}
		return;
	}
}

void guard_release(struct guard_ref *r)
{
	if (!r->entry)
		return;
	if (r->table == g.table)
		iptable_unpin(g.table, r->entry, now_s());
	else
		release_retired(r->table, r->entry);
	r->entry = NULL;
	r->table = NULL;
}
