#ifndef NULLMXD_LOGSINK_H
#define NULLMXD_LOGSINK_H

/*
 * Where finished log lines go: stderr, syslog's /dev/log or the journal, through a
 * bounded queue that never makes the event loop wait for the target.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <syslog.h>

enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG, LOG_TARGET_JOURNAL };

/* Bytes queued for a target that does not take them: past this, lines are dropped. */
#define SINK_QUEUE_SIZE (1024 * 1024)

void sink_configure(enum log_target target, int facility);
/*
 * Write from the loop, waiting for the target to take more; sink_stop() detaches.
 * report() is called when the target takes lines again after some were dropped.
 */
int sink_attach(uv_loop_t *loop, void (*report)(uint64_t dropped));
void sink_stop(void);
/* Waits (a bounded time) until the target has taken every queued line. */
void sink_flush(void);

/* One line (no newline), its syslog priority, and its journal fields, each
 * "NULLMXD_KEY=value\n" (or the journal's binary form). */
void sink_put(int priority, const char *line, size_t len, const char *fields, size_t flen);

/* Lines dropped because the target did not take them, since the start. */
uint64_t sink_dropped_total(void);

#endif
