#ifndef NULLMXD_CONFIG_H
#define NULLMXD_CONFIG_H

#include <stdio.h>

#include "addr.h"
#include "anon.h"
#include "guard.h"
#include "metrics.h"
#include "log.h"
#include "profile.h"

/* Defaults and ranges, in one place. */
#define CONFIG_DRAIN_TIMEOUT_MS 5000
/*
 * RFC 1846 suggests 5 minutes as the outer limit of a 521 session. A sender that reads
 * a 521 only has QUIT left to say, so seconds are plenty; minutes would let every
 * scanner hold a descriptor and memory that long.
 */
#define CONFIG_IDLE_TIMEOUT_MS 10000
#define CONFIG_SESSION_TIMEOUT_MS 30000
#define CONFIG_PROXY_TIMEOUT_MS 5000
#define CONFIG_TIMEOUT_MAX_MS 300000
#define CONFIG_DRAIN_BYTES 4096
#define CONFIG_DRAIN_BYTES_MAX (1024 * 1024)
#define CONFIG_MAX_CONNECTIONS_MAX 10000000
#define CONFIG_LISTEN_MAX 64
#define CONFIG_FD_RESERVE 32
struct listen_addr {
	union sockaddr_any addr;
	char text[64]; /* as written in the file: 127.0.0.1:25, [::1]:25 */
	struct profile *profile;
};

struct config {
	char *path;
	struct listen_addr *listen;
	size_t nlisten;
	char hostname[PROFILE_HOSTNAME_MAX + 1]; /* the global one; listeners may differ */
	struct profile *defaults;                /* from the global keys alone */
	unsigned long max_connections;           /* 0: the open-file limit minus a reserve */
	struct log_settings log;
	char *user; /* a root start drops to these; NULL: the defaults (privdrop.h) */
	char *group;
	/* parsed in config_limits.c */
	struct guard_settings guard;
	struct anon_settings anon;
	struct metrics_settings metrics;
};

/*
 * Reads and checks the file. Every error and warning goes to diag as one
 * "file:line: message" line. Returns 0 when the config is usable (warnings
 * allowed), -1 otherwise; cfg then holds nothing to free.
 */
int config_load(struct config *cfg, const char *path, FILE *diag);
void config_free(struct config *cfg);
void config_print(const struct config *cfg, FILE *out);
int config_listen_equal(const struct config *a, const struct config *b);

#endif
