#ifndef NULLMXD_METRICS_H
#define NULLMXD_METRICS_H

/*
 * An optional HTTP listener serving the counters of stats.h in the Prometheus text
 * format on GET /metrics. Requests are bounded in size, time and number; its clients
 * share the loop with SMTP but never wait on it, nor it on them.
 */
#include <stdbool.h>
#include <uv.h>

#include "settings.h"

#define METRICS_REQUEST_MAX 2048
#define METRICS_HEADER_TIMEOUT_MS 2000 /* from accept to the end of the header */
#define METRICS_TIMEOUT_MS 5000        /* from the answer to the close */
#define METRICS_CLIENTS_MAX 8
#define METRICS_CLIENTS_PER_ADDR 2 /* of METRICS_CLIENTS_MAX, per address */
#define METRICS_IPV6_PREFIX 64     /* what counts as one IPv6 address */
#define METRICS_ACCEPT_BATCH 16    /* listen backlog, and accepts per loop turn */

int metrics_init(uv_loop_t *loop);
/* Opens, moves or closes the listener; a failure is logged and leaves none open. */
void metrics_configure(const struct metrics_settings *s);
void metrics_stop(void);

#endif
