/*
 * Queues in deadline order, one timer for all of them. Insertion walks from the tail:
 * in a queue of one timeout value a new entry is last, so it is one step. A queue
 * holding two values would make that walk as long as the queue, and a flood cost the
 * square of its size: there are as many queues as timeout values in use at once.
 */
#include <stdlib.h>
#include <string.h>

#include "drain.h"

/* Queues to begin with: one value, and a few more for a while after reloads. */
#define DRAIN_QUEUES 4

enum { LISTED_NONE, LISTED_DRAIN, LISTED_CHECK };

/*
 * A polled entry gets one look at the end of each stage, the stages growing. A client
 * that closes at once costs one look; one that lingers one a second, until its
 * deadline. The first look comes soon: a socket kept open longer than needed costs
 * more than a look.
 */
static const unsigned check_after_ms[] = {2, 50, 200, 1000};
#define CHECK_STAGES (sizeof(check_after_ms) / sizeof(check_after_ms[0]))

struct queue {
	unsigned timeout_ms;
	struct drain_entry *head, *tail;
};

static struct {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct drain_callbacks cb;
	struct queue *queues; /* one per timeout value in use; one emptied is reused */
	size_t nqueues;
	struct queue checks[CHECK_STAGES]; /* their timeout_ms is unused */
	bool stopping;
	unsigned grace_ms;
} ds;

int drain_init(uv_loop_t *loop, const struct drain_callbacks *cb)
{
	ds.loop = loop;
	ds.cb = *cb;
	if (!(ds.queues = calloc(DRAIN_QUEUES, sizeof(*ds.queues))))
		return UV_ENOMEM;
	ds.nqueues = DRAIN_QUEUES;
	return uv_timer_init(loop, &ds.timer);
}

static void on_timer(uv_timer_t *t);

static void arm_timer(void)
{
	uint64_t now = uv_now(ds.loop), first = UINT64_MAX;

	for (size_t i = 0; i < ds.nqueues; i++)
		if (ds.queues[i].head && ds.queues[i].head->due_ms < first)
			first = ds.queues[i].head->due_ms;
	for (size_t i = 0; i < CHECK_STAGES; i++)
		if (ds.checks[i].head && ds.checks[i].head->due_ms < first)
			first = ds.checks[i].head->due_ms;
	if (first == UINT64_MAX)
		uv_timer_stop(&ds.timer);
	else
		uv_timer_start(&ds.timer, on_timer, first > now ? first - now : 0, 0);
}

/* Twice as many queues; false when out of memory. Entries name theirs by index. */
static bool grow_queues(void)
{
	struct queue *grown = realloc(ds.queues, 2 * ds.nqueues * sizeof(*grown));

	if (!grown)
		return false;
	memset(grown + ds.nqueues, 0, ds.nqueues * sizeof(*grown));
	ds.queues = grown;
	ds.nqueues *= 2;
	return true;
}

static struct queue *queue_for(unsigned timeout_ms)
{
	struct queue *unused = NULL;
	size_t n = ds.nqueues;

	for (size_t i = 0; i < n; i++) {
		struct queue *q = &ds.queues[i];
		if (q->head && q->timeout_ms == timeout_ms)
			return q;
		if (!q->head && !unused)
			unused = q;
	}
	if (!unused && grow_queues())
		unused = &ds.queues[n];
	if (!unused) /* out of memory: slow to insert into, but still in deadline order */
		return &ds.queues[0];
	unused->timeout_ms = timeout_ms;
	return unused;
}

static void queue_insert(struct queue *q, struct drain_entry *e)
{
	struct drain_entry *after = q->tail;

	while (after && after->due_ms > e->due_ms)
		after = after->prev;
	e->prev = after;
	e->next = after ? after->next : q->head;
	if (e->next)
		e->next->prev = e;
	else
		q->tail = e;
	if (after)
		after->next = e;
	else
		q->head = e;
	if (q->head == e)
		arm_timer();
}

/* After a stop request, what begins to drain gets the grace at most. */
static uint64_t capped(uint64_t deadline_ms)
{
	uint64_t limit = uv_now(ds.loop) + ds.grace_ms;

	return ds.stopping && deadline_ms > limit ? limit : deadline_ms;
}

static void to_deadline_queue(struct drain_entry *e)
{
	struct queue *q = queue_for(e->timeout_ms);

	e->due_ms = e->deadline_ms;
	e->queue = (uint32_t)(q - ds.queues);
	e->listed = LISTED_DRAIN;
	queue_insert(q, e);
}

void drain_insert(struct drain_entry *e, uint64_t deadline_ms, unsigned timeout_ms)
{
	e->deadline_ms = capped(deadline_ms);
	e->timeout_ms = timeout_ms;
	to_deadline_queue(e);
}

/* The next check of a polled entry, or its deadline if that comes first. */
static void check_insert(struct drain_entry *e, unsigned stage)
{
	uint64_t due = uv_now(ds.loop) + check_after_ms[stage];

	if (due >= e->deadline_ms) {
		to_deadline_queue(e);
		return;
	}
	e->due_ms = due;
	e->queue = stage;
	e->listed = LISTED_CHECK;
	queue_insert(&ds.checks[stage], e);
}

void drain_insert_polled(struct drain_entry *e, uint64_t deadline_ms, unsigned timeout_ms)
{
	e->deadline_ms = capped(deadline_ms);
	e->timeout_ms = timeout_ms;
	check_insert(e, 0);
}

/*
 * The timer is left as it is: when it fires early it finds nothing due and re-arms.
 * While stopping, an idle timer must not hold the loop open.
 */
void drain_remove(struct drain_entry *e)
{
	struct queue *q = e->listed == LISTED_DRAIN ? &ds.queues[e->queue] : &ds.checks[e->queue];

	if (e->listed == LISTED_NONE)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		q->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		q->tail = e->prev;
	e->listed = LISTED_NONE;
	if (ds.stopping && !q->head)
		arm_timer();
}

static void check(struct drain_entry *e)
{
	unsigned stage = e->queue + 1u < CHECK_STAGES ? e->queue + 1u : e->queue;

	drain_remove(e);
	if (ds.cb.check(e))
		check_insert(e, stage);
}

static void on_timer(uv_timer_t *t)
{
	uint64_t now = uv_now(ds.loop);
	struct drain_entry *e;

	for (size_t i = 0; i < CHECK_STAGES; i++)
		while ((e = ds.checks[i].head) && e->due_ms <= now)
			check(e);
	for (size_t i = 0; i < ds.nqueues; i++)
		while ((e = ds.queues[i].head) && e->due_ms <= now) {
			drain_remove(e);
			ds.cb.expire(e);
		}
	arm_timer();
}

void drain_stop(unsigned grace_ms)
{
	uint64_t limit = uv_now(ds.loop) + grace_ms;

	ds.stopping = true;
	ds.grace_ms = grace_ms;
	/* Capping sorted deadlines at one value keeps them sorted. */
	for (size_t i = 0; i < ds.nqueues; i++)
		for (struct drain_entry *e = ds.queues[i].head; e; e = e->next)
			if (e->deadline_ms > limit)
				e->deadline_ms = e->due_ms = limit;
	/* Polled entries between checks move to a deadline queue at their next one. */
	for (size_t i = 0; i < CHECK_STAGES; i++)
		for (struct drain_entry *e = ds.checks[i].head; e; e = e->next)
			if (e->deadline_ms > limit)
				e->deadline_ms = limit;
	arm_timer();
}
