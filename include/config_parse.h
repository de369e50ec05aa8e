#ifndef NULLMXD_CONFIG_PARSE_H
#define NULLMXD_CONFIG_PARSE_H

/*
 * The loader's checking helpers, for every file that parses part of the config. Each
 * get_* reports a missing value, a wrong type or a range as "file:line: message" and
 * then leaves *out as it was, so a default set beforehand stays.
 */
#include <libconfig.h>
#include <stdbool.h>
#include <stdio.h>

/* A file named by @include, read again for the integers written in it. */
struct included {
	char *file; /* as libconfig names it: as written after @include */
	char *text;
	struct included *next;
};

struct loader {
	const char *path;
	FILE *diag;
	int errors;
	const char *text;        /* the config file, as read once and handed to libconfig */
	const char *include_dir; /* where libconfig looks for @include files */
	struct included *included;
};

/* A config file larger than this is refused: no config comes near it. */
#define CONFIG_TEXT_MAX (1024 * 1024)
#define CONFIG_TEXT_MAX_TEXT "1 MiB"

/*
 * The whole file, NUL-terminated, its length in *len; or NULL with *why saying why: it
 * cannot be opened, is not a regular file, or is larger than CONFIG_TEXT_MAX.
 */
char *config_read_text(const char *path, size_t *len, const char **why);
/*
 * Reads every file text's @include lines name (from: the name of the file text is, NULL
 * for the config file), checking that each is a regular file; errors as file:line.
 */
void read_includes(struct loader *ld, const char *from, const char *text, int depth);
/* Whether the included file (as libconfig names it) ends without a newline. */
bool included_without_final_newline(const struct loader *ld, const char *file);
void loader_free(struct loader *ld);

__attribute__((format(printf, 3, 4))) void error_at(struct loader *ld, const config_setting_t *s,
						    const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void warn_at(struct loader *ld, const config_setting_t *s,
						   const char *fmt, ...);
/* "a group", "an integer"...: for messages. */
const char *type_name(const config_setting_t *s);
/* Rejects keys nobody reads: a typo must not silently fall back to a default. */
void check_known(struct loader *ld, const config_setting_t *group, const char *const *known,
		 const char *where);
/* Whether s is a group; if not, says "KEY must be a group". */
bool is_group(struct loader *ld, const config_setting_t *s, const char *key);
/* The string, or NULL (error reported). */
const char *get_string(struct loader *ld, const config_setting_t *s, const char *key);
bool get_integer(struct loader *ld, const config_setting_t *s, const char *key, long long min,
		 long long max, long long *out);
/* s may be NULL (the key is absent): then *out keeps its default, and so on any error. */
void get_uint(struct loader *ld, const config_setting_t *s, const char *key, long long min,
	      long long max, unsigned *out);
/* Seconds, integer or not, into milliseconds within [min_ms, max_ms]; s may be NULL. */
void get_seconds(struct loader *ld, const config_setting_t *s, const char *key, unsigned min_ms,
		 unsigned max_ms, unsigned *out_ms);
/*
 * The index of the string among choices (NULL-terminated), or -1 (error reported as
 * "KEY must be WANT, not ...", so want reads e.g. "one of \"text\", \"json\"").
 */
int get_choice(struct loader *ld, const config_setting_t *s, const char *key,
	       const char *const *choices, const char *want);

#endif
