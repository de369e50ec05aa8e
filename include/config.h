#ifndef NULLMXD_CONFIG_H
#define NULLMXD_CONFIG_H

#include <stdio.h>
#include <netinet/in.h>

#include "log.h"
#include "reply.h"

/* Defaults and ranges, in one place. */
#define CONFIG_DRAIN_TIMEOUT_MS 5000
#define CONFIG_DRAIN_TIMEOUT_MAX_MS 300000
#define CONFIG_DRAIN_BYTES 4096
#define CONFIG_DRAIN_BYTES_MAX (1024 * 1024)
#define CONFIG_MAX_CONNECTIONS_MAX 10000000
#define CONFIG_LISTEN_MAX 64
#define CONFIG_FD_RESERVE 32
#define CONFIG_HOSTNAME_MAX 255

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct listen_addr {
	union sockaddr_any addr;
	char text[64]; /* as written in the file, normalised: 127.0.0.1:25, [::1]:25 */
};

struct config {
	char *path;
	struct listen_addr *listen;
	size_t nlisten;
	char hostname[CONFIG_HOSTNAME_MAX + 1];
	struct reply *reply;
	unsigned long max_connections; /* 0: the open-file limit minus a reserve */
	unsigned drain_timeout_ms;
	unsigned long drain_bytes;
	struct log_settings log;
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
