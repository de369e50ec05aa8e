#ifndef NULLMXD_DRAIN_H
#define NULLMXD_DRAIN_H

/*
 * The drain scheduler: when each draining connection is looked at next, on one timer.
 *
 * Drains with the same timeout end in the order they began: one FIFO queue per
 * timeout value in use (one, or a few for a while after a reload) serves them all,
 * instead of a timer each. An entry that is polled rather than watched (a bare
 * descriptor) is checked at growing intervals until its deadline.
 */
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Embedded in what drains; the scheduler's own fields. */
struct drain_entry {
	struct drain_entry *prev, *next; /* its queue, earliest first */
	uint64_t deadline_ms;            /* loop time when the drain ends */
	uint64_t due_ms;                 /* when its queue acts on it: a check, or the deadline */
	unsigned timeout_ms;             /* the drain timeout it began with: its queue */
	uint32_t queue;                  /* its deadline queue, or its check stage */
	uint8_t listed;                  /* not listed, in a deadline queue or a check stage */
};

/*
 * check: a polled entry's look is due; it returns true to be looked at again later,
 * false when it ended the entry. expire: the entry's deadline came. Either is called
 * with the entry already out of its queue.
 */
struct drain_callbacks {
	bool (*check)(struct drain_entry *e);
	void (*expire)(struct drain_entry *e);
};

int drain_init(uv_loop_t *loop, const struct drain_callbacks *cb);
/* Watched until deadline_ms: the drain ends by itself (EOF) or at the deadline. */
void drain_insert(struct drain_entry *e, uint64_t deadline_ms, unsigned timeout_ms);
/* Polled: checked soon, then at growing intervals, until deadline_ms. */
void drain_insert_polled(struct drain_entry *e, uint64_t deadline_ms, unsigned timeout_ms);
/* Out of its queue; nothing if it is in none. */
void drain_remove(struct drain_entry *e);
/*
 * Caps every deadline, present and to come, at grace_ms from now; once the queues are
 * empty the timer no longer holds the loop open.
 */
void drain_stop(unsigned grace_ms);

#endif
