#ifndef NULLMXD_GUARD_H
#define NULLMXD_GUARD_H

/*
 * Flood control: per-client connection limits at accept, and per-client and global
 * log-rate ceilings when a connection's line is due. The summaries of what was held
 * back (event=suppressed, and stats.c's event=pressure) are written by a one-second tick.
 */
#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "iptable.h"
#include "settings.h"

/* What a connection holds of the client table: its entry, pinned until release. */
struct guard_ref {
	struct iptable *table;
	struct ipentry *entry;
};

enum guard_verdict { GUARD_OK, GUARD_LIMIT_REPLY, GUARD_LIMIT_CLOSE };

int guard_init(uv_loop_t *loop);
/* Applies to new connections; a changed table shape starts a new, empty table. */
int guard_configure(const struct guard_settings *s);
/* Writes the pending summaries; after it every line is written, none held back. */
void guard_stop(void);

/* Takes the client's entry and checks its connection limits. */
enum guard_verdict guard_admit(struct guard_ref *r, const struct sockaddr *peer);
/* Takes the client's entry for its log budget only: no connection limit applies. */
void guard_track(struct guard_ref *r, const struct sockaddr *peer);
/* Whether the connection's line may be written now; counts it either way. */
bool guard_log(struct guard_ref *r);
void guard_release(struct guard_ref *r);

#endif
