#ifndef NULLMXD_CONFIG_H
#define NULLMXD_CONFIG_H

#include <stdio.h>

#include "addr.h"
#include "log.h"
#include "profile.h"
#include "settings.h" /* the defaults and ranges of every key */

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
	bool log_rejects; /* log.rejects */
	char *user;       /* a root start drops to these; NULL: the defaults (privdrop.h) */
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
/* The words of log.format and log.target, in the order of their enums; NULL-terminated. */
extern const char *const config_log_formats[];
extern const char *const config_log_targets[];
/* The name log.facility has for a syslog facility. */
const char *config_facility_name(int facility);
int config_listen_equal(const struct config *a, const struct config *b);

#endif
