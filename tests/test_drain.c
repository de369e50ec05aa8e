/*
 * The drain scheduler on a real loop: no timing is asserted beyond what a deadline
 * promises (nothing ends before it), and gaps are wide enough for a loaded machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "drain.h"
#include "test.h"

#define MAX_ENTRIES 32
#define LONG_MS 60000 /* never reached: a stop or the test's end comes first */

struct item {
	struct drain_entry e; /* first: the scheduler hands back entries */
	const char *name;
	uint64_t deadline0; /* the deadline it was inserted with */
	int checks;         /* looks it had; it ends at the look numbered `ends_at` */
	int ends_at;
};

static uv_loop_t loop;
static const char *order[MAX_ENTRIES];
static uint64_t ended_at[MAX_ENTRIES];
static size_t nended;
static void (*after_expire)(struct item *it);

static void ended(struct item *it)
{
	CHECK(nended < MAX_ENTRIES);
	if (nended < MAX_ENTRIES) {
		order[nended] = it->name;
		ended_at[nended++] = uv_now(&loop);
	}
}

static bool on_check(struct drain_entry *e)
{
	struct item *it = (struct item *)e;

	if (++it->checks < it->ends_at)
		return true;
	ended(it);
	return false;
}

static void on_expire(struct drain_entry *e)
{
	struct item *it = (struct item *)e;

	CHECK(uv_now(&loop) >= e->deadline_ms); /* never before its deadline */
	ended(it);
	if (after_expire)
		after_expire(it);
}

static void insert(struct item *it, const char *name, unsigned timeout_ms)
{
	it->name = name;
	it->deadline0 = uv_now(&loop) + timeout_ms;
	drain_insert(&it->e, it->deadline0, timeout_ms);
}

static void expect_order(const char *const *want, size_t n)
{
	CHECK(nended == n);
	for (size_t i = 0; i < n && i < nended; i++)
		CHECK_STR(order[i], want[i]);
}

static struct item old1, old2, new1, new2, late;

/* The new timeout's drains are done: stop now, with the old ones still waiting. */
static void stop_after_new(struct item *it)
{
	if (it != &new2)
		return;
	CHECK(old1.e.deadline_ms == old1.deadline0); /* a reload moved no old deadline */
	CHECK(old2.e.deadline_ms == old2.deadline0);
	drain_stop(100);
	CHECK(old1.e.deadline_ms <= uv_now(&loop) + 100);
	insert(&late, "late", LONG_MS); /* begun after the stop: capped as well */
	CHECK(late.e.deadline_ms <= uv_now(&loop) + 100);
}

/*
 * A reload changed drain_timeout from a long value to 50 ms: drains begun before keep
 * their deadline, those begun after queue under the new value and end first, in the
 * order they began. A stop then caps everything left, and once the queues are empty
 * the timer no longer holds the loop: uv_run() returns.
 */
static void test_reload_then_stop(void)
{
	static const char *const want[] = {"new1", "new2", "old1", "old2", "late"};
	uint64_t stopped;

	insert(&old1, "old1", LONG_MS);
	insert(&old2, "old2", LONG_MS);
	insert(&new1, "new1", 50);
	insert(&new2, "new2", 50);
	after_expire = stop_after_new;
	uv_run(&loop, UV_RUN_DEFAULT);
	expect_order(want, sizeof(want) / sizeof(want[0]));
	stopped = nended >= 3 ? ended_at[1] : 0;
	for (size_t i = 2; i < nended; i++) /* the stop's cap, not the old deadline */
		CHECK(ended_at[i] < stopped + LONG_MS / 2);
	after_expire = NULL;
	nended = 0;
}

/*
 * Polled entries get looks until one ends them, the looks further apart each time
 * (the third comes 200 ms after the second, past short's deadline); removing an entry
 * takes it out of its stage; a deadline before the next look ends it by expiry.
 */
static void test_polled(void)
{
	static struct item quick = {.name = "quick", .ends_at = 1};
	static struct item slow = {.name = "slow", .ends_at = 3};
	static struct item gone = {.name = "gone", .ends_at = 1};
	static struct item short_lived = {.name = "short", .ends_at = 1000};
	static const char *const want[] = {"quick", "short", "slow"};
	uint64_t now = uv_now(&loop);

	drain_insert_polled(&quick.e, now + LONG_MS, LONG_MS);
	drain_insert_polled(&slow.e, now + LONG_MS, LONG_MS);
	drain_insert_polled(&gone.e, now + LONG_MS, LONG_MS);
	drain_remove(&gone.e);
	drain_remove(&gone.e); /* twice is nothing */
	drain_insert_polled(&short_lived.e, now + 120, 120);
	uv_run(&loop, UV_RUN_DEFAULT);
	expect_order(want, sizeof(want) / sizeof(want[0]));
	CHECK(quick.checks == 1 && slow.checks == 3 && gone.checks == 0);
	CHECK(short_lived.checks >= 1 && short_lived.checks < 1000);
	nended = 0;
}

static size_t position(const char *name)
{
	for (size_t i = 0; i < nended; i++)
		if (strcmp(order[i], name) == 0)
			return i;
	return SIZE_MAX;
}

#define NVALUES 10 /* timeout values live at once: more than the four queues begun with */

/* Two entries for each of NVALUES timeouts: first_ms, then 50 ms longer each. */
static void insert_values(struct item *it, char (*names)[16], unsigned first_ms)
{
	for (unsigned i = 0; i < 2 * NVALUES; i++) {
		unsigned ms = first_ms + 50 * (i / 2);
		snprintf(names[i], sizeof(names[i]), "t%u%c", ms, i % 2 ? 'b' : 'a');
		insert(&it[i], names[i], ms);
	}
}

/*
 * Many reloads in a row, each with its own drain_timeout: every value gets a queue of
 * its own, never one shared with another value (where an insert walks the queue), the
 * entries of one value end in the order they began, none before its deadline (on_expire
 * checks), and queues emptied are used again rather than more made.
 */
static void test_many_timeouts(void)
{
	static struct item it[2 * NVALUES], again[2 * NVALUES];
	static char names[2 * NVALUES][16], names2[2 * NVALUES][16];

	insert_values(it, names, 50);
	for (int i = 0; i < NVALUES; i++) {
		CHECK(it[2 * i].e.queue == it[2 * i + 1].e.queue);
		for (int j = 0; j < i; j++)
			CHECK(it[2 * i].e.queue != it[2 * j].e.queue);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(nended == 2 * NVALUES);
	for (int i = 0; i < 2 * NVALUES; i += 2)
		CHECK(position(names[i]) < position(names[i + 1]));
	CHECK(position("t50a") < position("t500a"));
	nended = 0;

	insert_values(again, names2, 57);
	for (int i = 0; i < 2 * NVALUES; i++)
		CHECK(again[i].e.queue < NVALUES);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(nended == 2 * NVALUES);
	nended = 0;
}

int main(void)
{
	static const struct drain_callbacks cb = {on_check, on_expire};

	uv_loop_init(&loop);
	drain_init(&loop, &cb);
	/* Before any stop, an idle timer does not hold the loop either: it is stopped. */
	test_polled();
	test_many_timeouts();
	test_reload_then_stop(); /* last: a stop is for good */
	return test_done();
}
