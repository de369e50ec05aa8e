#ifndef NULLMXD_LOG_H
#define NULLMXD_LOG_H

#include <stdint.h>
#include <stdnoreturn.h>
#include <syslog.h>
#include <uv.h>

#include "logsink.h"

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

struct log_settings {
	enum log_format format;
	enum log_target target;
	int facility;
};

/*
 * Until log_configure() runs, every line is plain text on stderr ("nullmxd: ...").
 * Afterwards lines are events in the configured format and target.
 */
void log_configure(const struct log_settings *s);

/* Buffer lines and flush them once per loop turn; log_stop() flushes and detaches. */
int log_attach(uv_loop_t *loop);
void log_stop(void);
void log_flush(void);

/* One event line: log_begin, then fields, then log_end. */
void log_begin(int priority, const char *event);
void log_str(const char *key, const char *value);
void log_uint(const char *key, uint64_t value);
void log_end(void);

/* Messages: the _warn forms append strerror(errno), the _warnx forms do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
