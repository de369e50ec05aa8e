#ifndef NULLMXD_CONFIG_PARSE_H
#define NULLMXD_CONFIG_PARSE_H

/* The loader's checking helpers, shared by config.c and config_limits.c. */
#include <libconfig.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"

struct loader {
	const char *path;
	FILE *diag;
	int errors;
};

__attribute__((format(printf, 3, 4))) void error_at(struct loader *ld, const config_setting_t *s,
						    const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void warn_at(struct loader *ld, const config_setting_t *s,
						   const char *fmt, ...);
const char *type_name(const config_setting_t *s);
void check_known(struct loader *ld, const config_setting_t *group, const char *const *known,
		 const char *where);
const char *get_string(struct loader *ld, const config_setting_t *s, const char *key);
bool get_integer(struct loader *ld, const config_setting_t *s, const char *key, long long min,
		 long long max, long long *out);
int get_choice(struct loader *ld, const config_setting_t *s, const char *key,
	       const char *const *choices, const char *list);
int parse_addr(const char *text, union sockaddr_any *out);

/* config_limits.c: the limits and metrics groups and the log keys of flood control. */
#define CONFIG_FLOOD_ROOT_KEYS "limits", "metrics"
#define CONFIG_FLOOD_LOG_KEYS                                                                      \
	"per_ip_lines", "per_ip_window", "max_lines_per_second", "anonymize", "truncate_ipv4",     \
		"truncate_ipv6", "hash_key"
void config_parse_flood(struct loader *ld, const config_setting_t *root, struct config *cfg);
void config_print_flood(const struct config *cfg, FILE *out);

#endif
