#ifndef NULLMXD_SERVER_H
#define NULLMXD_SERVER_H

#include <uv.h>

#include "anon.h"
#include "config.h"

/* Opens the listeners of cfg and starts serving; returns 0 or a sysexits code. */
int server_start(uv_loop_t *loop, struct config *cfg);
void server_reload(void);
/* A one-line summary for the service manager's status: open and accepted connections. */
void server_describe(char *buf, size_t len);
/* Stops accepting; uv_run() returns once the last connection has closed. */
void server_stop(const char *signal_name);

/* After the loop has ended: releases what server_start() took. */
void server_free(void);

#endif
