#ifndef NULLMXD_SETTINGS_H
#define NULLMXD_SETTINGS_H

/*
 * What the config file sets, as the modules that use it read it: the defaults and
 * ranges of every key, in one place, and the settings of flood control, anonymisation
 * and metrics. It includes no module's header, so config.h can hold these settings
 * while guard, anon and metrics include this and never config.h.
 */
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* The daemon: timeouts in milliseconds. */
#define CONFIG_LISTEN_DEFAULT "0.0.0.0:25", "[::]:25"
#define CONFIG_LISTEN_MAX 64
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
#define CONFIG_MAX_COMMANDS 100
#define CONFIG_MAX_COMMANDS_MAX 10000
#define CONFIG_MAX_CONNECTIONS_MAX 10000000
#define CONFIG_FD_RESERVE 32

/* Flood control; 0 switches a limit off. See etc/nullmxd.conf for why. */
#define CONFIG_PER_IP_CONNECTIONS 16
#define CONFIG_PER_IP_RATE 60
#define CONFIG_PER_IP_WINDOW_S 60
#define CONFIG_IPV6_PREFIX 64
#define CONFIG_MAX_CLIENTS 65536
#define CONFIG_MAX_CLIENTS_MAX (1 << 24)
#define CONFIG_WINDOW_MAX_S 86400
#define CONFIG_COUNT_MAX 1000000
#define CONFIG_LOG_PER_IP_LINES 60
#define CONFIG_LOG_PER_IP_WINDOW_S 60
#define CONFIG_LOG_MAX_LINES_PER_SECOND 500
/* log.rejects: an event=reject line per refused RCPT in rcpt mode. */
#define CONFIG_LOG_REJECTS true

/* Anonymisation: the prefix lengths log.anonymize = "truncate" keeps. */
#define CONFIG_TRUNCATE_IPV4 24
#define CONFIG_TRUNCATE_IPV6 48

enum guard_over_limit { GUARD_OVER_LIMIT_REPLY, GUARD_OVER_LIMIT_CLOSE };

struct guard_settings {
	unsigned per_ip_connections;
	unsigned per_ip_rate;
	unsigned per_ip_window_s;
	unsigned ipv6_prefix;
	unsigned max_clients;
	enum guard_over_limit over_limit;
	unsigned log_per_ip_lines;
	unsigned log_per_ip_window_s;
	unsigned log_max_lines_per_second;
};

enum anon_mode { ANON_NONE, ANON_TRUNCATE, ANON_HASH };

#define ANON_KEY_BYTES 16

struct anon_settings {
	enum anon_mode mode;
	unsigned truncate_ipv4; /* prefix length kept, 0..32 */
	unsigned truncate_ipv6; /* 0..128 */
	unsigned ipv6_prefix;   /* the client group that hash mode hashes */
	bool have_key;          /* else a random key, made once per process */
	uint8_t key[ANON_KEY_BYTES];
};

struct metrics_settings {
	bool enabled;
	union sockaddr_any addr;
	char text[64]; /* as written: 127.0.0.1:9325 */
};

#endif
