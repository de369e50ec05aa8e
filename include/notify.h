#ifndef NULLMXD_NOTIFY_H
#define NULLMXD_NOTIFY_H

#include <stddef.h>
#include <uv.h>

/*
 * The service manager's readiness protocol (sd_notify(3)): one datagram per state
 * change to $NOTIFY_SOCKET. Without that variable every call is a no-op.
 */

/* Writes a short status line ("3 open, 120 accepted, 2 listeners") into buf. */
typedef void notify_describe_fn(char *buf, size_t len);

/*
 * Reads and unsets $NOTIFY_SOCKET and connects to it, so later messages need no
 * permission on the socket's path (they still work after a privilege drop).
 * A socket that cannot be reached is logged and ignored.
 */
void notify_init(void);

/* Sends STATUS= from describe every few seconds when it changed; the timer holds no ref. */
int notify_attach(uv_loop_t *loop, notify_describe_fn *describe);

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status_now(void);
void notify_close(void);

#endif
