#ifndef NULLMXD_CONFIG_LIMITS_H
#define NULLMXD_CONFIG_LIMITS_H

/* The config of flood control and observability: the limits and metrics groups. */
#include "config_parse.h"
#include "settings.h"

/* The keys config_parse_limits() reads, for the root's and log's lists of known keys. */
#define CONFIG_LIMITS_ROOT_KEYS "limits", "metrics"
#define CONFIG_LIMITS_LOG_KEYS                                                                     \
	"per_ip_lines", "per_ip_window", "max_lines_per_second", "anonymize", "truncate_ipv4",     \
		"truncate_ipv6", "hash_key"

/* The words of log.anonymize and limits.over_limit, in enum order; NULL-terminated. */
extern const char *const config_anon_modes[];
extern const char *const config_over_limits[];

/* Defaults first, then the limits and metrics groups and the log keys named above. */
void config_parse_limits(struct loader *ld, const config_setting_t *root, struct guard_settings *g,
			 struct anon_settings *a, struct metrics_settings *m);

#endif
