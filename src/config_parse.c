/*
 * The loader's checking helpers: every finding is one "file:line: message" line, and
 * every key's type is checked here, because libconfig reports a wrong type as "not found".
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

__attribute__((format(printf, 4, 0))) static void
vreport(struct loader *ld, const config_setting_t *s, const char *kind, const char *fmt, va_list ap)
{
	const char *file =
		s && config_setting_source_file(s) ? config_setting_source_file(s) : ld->path;

	fprintf(ld->diag, "%s:%u: %s", file, s ? config_setting_source_line(s) : 0, kind);
	vfprintf(ld->diag, fmt, ap);
	fputc('\n', ld->diag);
}

__attribute__((format(printf, 3, 4))) void error_at(struct loader *ld, const config_setting_t *s,
						    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(ld, s, "", fmt, ap);
	va_end(ap);
	ld->errors++;
}

__attribute__((format(printf, 3, 4))) void warn_at(struct loader *ld, const config_setting_t *s,
						   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(ld, s, "warning: ", fmt, ap);
	va_end(ap);
}

const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "something else";
	}
}

/* Rejects keys nobody reads: a typo must not silently fall back to a default. */
void check_known(struct loader *ld, const config_setting_t *group, const char *const *known,
		 const char *where)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *const *k = known;
		while (*k && strcmp(*k, config_setting_name(s)) != 0)
			k++;
		if (!*k)
			error_at(ld, s, "unknown key '%s%s'", where, config_setting_name(s));
	}
}

const char *get_string(struct loader *ld, const config_setting_t *s, const char *key)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		error_at(ld, s, "%s must be a string, not %s", key, type_name(s));
		return NULL;
	}
	return config_setting_get_string(s);
}

/*
 * libconfig 1.5 wraps an integer literal without the L suffix to 32 bits: 4294967296
 * reads as 0 and would pass a range check. So the literal is read again from its line.
 */
static long long integer_as_written(const struct loader *ld, const config_setting_t *s)
{
	const char *name = config_setting_name(s), *file = config_setting_source_file(s), *p;
	long long v = config_setting_get_int64(s);
	unsigned n = 0, want = config_setting_source_line(s);
	char line[1024], *end;
	FILE *f;

	if (config_setting_type(s) != CONFIG_TYPE_INT || !name ||
	    !(f = fopen(file ? file : ld->path, "r")))
		return v;
	while (n < want && fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	if (n != want || !(p = strstr(line, name)))
		return v;
	p += strlen(name);
	p += strspn(p, " \t");
	if (*p != '=' && *p != ':')
		return v;
	errno = 0;
	long long written = strtoll(p + 1, &end, 0);
	if (end == p + 1)
		return v;
	return errno == ERANGE ? (written < 0 ? LLONG_MIN : LLONG_MAX) : written;
}

bool get_integer(struct loader *ld, const config_setting_t *s, const char *key, long long min,
		 long long max, long long *out)
{
	if (!config_setting_is_number(s) || config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		error_at(ld, s, "%s must be an integer, not %s", key, type_name(s));
		return false;
	}
	*out = integer_as_written(ld, s);
	if (*out < min || *out > max) {
		error_at(ld, s, "%s must be between %lld and %lld, not %lld", key, min, max, *out);
		return false;
	}
	return true;
}

void get_seconds(struct loader *ld, const config_setting_t *s, const char *key, unsigned min_ms,
		 unsigned max_ms, unsigned *out_ms)
{
	double sec;

	if (!s)
		return;
	if (!config_setting_is_number(s)) {
		error_at(ld, s, "%s must be a number of seconds, not %s", key, type_name(s));
		return;
	}
	sec = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
							  : (double)integer_as_written(ld, s);
	if (!(sec * 1000 >= min_ms && sec * 1000 <= max_ms)) {
		error_at(ld, s, "%s must be between %g and %g seconds", key, min_ms / 1000.0,
			 max_ms / 1000.0);
		return;
	}
	*out_ms = (unsigned)(sec * 1000 + 0.5);
}

void get_uint(struct loader *ld, const config_setting_t *s, const char *key, long long min,
	      long long max, unsigned *out)
{
	long long v;

	if (s && get_integer(ld, s, key, min, max, &v))
		*out = (unsigned)v;
}

bool is_group(struct loader *ld, const config_setting_t *s, const char *key)
{
	if (config_setting_type(s) == CONFIG_TYPE_GROUP)
		return true;
	error_at(ld, s, "%s must be a group { ... }, not %s", key, type_name(s));
	return false;
}

int get_choice(struct loader *ld, const config_setting_t *s, const char *key,
	       const char *const *choices, const char *want)
{
	const char *v = get_string(ld, s, key);

	for (int i = 0; v && choices[i]; i++)
		if (strcmp(v, choices[i]) == 0)
			return i;
	if (v)
		error_at(ld, s, "%s must be %s, not \"%s\"", key, want, v);
	return -1;
}
