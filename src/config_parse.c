/*
 * The loader's checking helpers: every finding is one "file:line: message" line, and
 * every key's type is checked here, because libconfig reports a wrong type as "not found".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_parse.h"
#include "config_scan.h"

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
 * Opened without blocking and checked before reading: the main config is read inside the
 * event loop on SIGHUP, where a FIFO would wait forever and /dev/zero never end.
 */
char *config_read_text(const char *path, size_t *out_len, const char **why)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	size_t len = 0, got = 0;
	char *text = NULL;
	struct stat st;
	ssize_t n = 1;

	*why = NULL;
	if (fd < 0 || fstat(fd, &st) != 0)
		*why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		*why = "not a regular file";
	while (!*why && n > 0) {
		char *grown = len - got < 4096 ? realloc(text, len = len * 2 + 4096) : text;
		if (!grown) {
			*why = strerror(errno);
			break;
		}
		text = grown;
		if ((n = read(fd, text + got, len - got - 1)) < 0)
			*why = strerror(errno);
		got += n > 0 ? (size_t)n : 0;
		text[got] = '\0';
		if (got > CONFIG_TEXT_MAX)
			*why = "larger than " CONFIG_TEXT_MAX_TEXT;
	}
	if (fd >= 0)
		close(fd);
	if (*why) {
		free(text);
		return NULL;
	}
	*out_len = got;
	return text;
}

/* The text settings of file (NULL: the config file itself) were read from. */
static const char *source_text(const struct loader *ld, const char *file)
{
	if (!file)
		return ld->text;
	for (const struct included *inc = ld->included; inc; inc = inc->next)
		if (strcmp(inc->file, file) == 0)
			return inc->text;
	return NULL;
}

bool included_without_final_newline(const struct loader *ld, const char *file)
{
	const char *text = file ? source_text(ld, file) : NULL;
	size_t len = text ? strlen(text) : 0;

	return len > 0 && text[len - 1] != '\n';
}

/* Reads the file an @include names, once, as libconfig 1.5 resolves it: below its dir. */
static const char *read_included(struct loader *ld, const char *from, const struct include_line *at)
{
	const char *where = from ? from : ld->path, *why = NULL;
	struct included *inc = NULL;
	size_t len;
	char *path;

	if (source_text(ld, at->name))
		return NULL; /* read and checked already */
	if (strlen(at->name) + 1 >= sizeof(at->name) ||
	    asprintf(&path, "%s/%s", ld->include_dir, at->name) < 0) {
		fprintf(ld->diag, "%s:%u: @include: name too long\n", where, at->line);
		ld->errors++;
		return NULL;
	}
	/* a directory would make libconfig's lexer exit the process, a FIFO block it */
	if (!(inc = calloc(1, sizeof(*inc))) || !(inc->file = strdup(at->name)))
		why = strerror(errno);
	else
		inc->text = config_read_text(path, &len, &why);
	if (why) {
		fprintf(ld->diag, "%s:%u: @include \"%s\": %s\n", where, at->line, at->name, why);
		ld->errors++;
		if (inc)
			free(inc->file);
		free(inc);
		free(path);
		return NULL;
	}
	free(path);
	inc->next = ld->included;
	ld->included = inc;
	return inc->text;
}

/* libconfig 1.5 allows ten levels of @include; it reports the eleventh itself. */
#define INCLUDE_DEPTH_MAX 10

void read_includes(struct loader *ld, const char *from, const char *text, int depth)
{
	struct include_line at;
	const char *inner;

	for (size_t i = 0; depth < INCLUDE_DEPTH_MAX && i < config_scan_include(text, i, &at); i++)
		if ((inner = read_included(ld, from, &at)))
			read_includes(ld, ld->included->file, inner, depth + 1);
}

void loader_free(struct loader *ld)
{
	while (ld->included) {
		struct included *next = ld->included->next;
		free(ld->included->file);
		free(ld->included->text);
		free(ld->included);
		ld->included = next;
	}
}

static bool same_file(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Counts into *k the integers of file before s, in the order libconfig read them. */
static bool integer_place(const config_setting_t *node, const config_setting_t *s, const char *file,
			  size_t *k)
{
	int type = config_setting_type(node);

	if (node == s)
		return true;
	if ((type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) &&
	    same_file(config_setting_source_file(node), file))
		(*k)++;
	for (int i = 0; config_setting_is_aggregate(node) && i < config_setting_length(node); i++)
		if (integer_place(config_setting_get_elem(node, (unsigned)i), s, file, k))
			return true;
	return false;
}

/*
 * libconfig 1.5 wraps an integer literal without the L suffix to 32 bits: 4294967296
 * reads as 0 and would pass a range check. So the literal is found again in the text
 * libconfig read: the k-th integer of its file is the k-th integer setting from it.
 */
static bool integer_as_written(struct loader *ld, const config_setting_t *s, const char *key,
			       struct int_literal *lit)
{
	const config_setting_t *root = s;
	const char *file = config_setting_source_file(s), *text = source_text(ld, file);
	size_t k = 0, n = 0;

	while (config_setting_parent(root))
		root = config_setting_parent(root);
	if (text && integer_place(root, s, file, &k) && (n = config_scan_integer(text, k, lit)) > 0)
		config_scan_integer(text, k % n, lit); /* a file included more than once */
	if (n > 0 && lit->libconfig == config_setting_get_int64(s))
		return true;
	error_at(ld, s, "%s: cannot find the value as written; did %s change while it was read?",
		 key, file ? file : "the file");
	return false;
}

bool get_integer(struct loader *ld, const config_setting_t *s, const char *key, long long min,
		 long long max, long long *out)
{
	struct int_literal lit;

	if (!config_setting_is_number(s) || config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		error_at(ld, s, "%s must be an integer, not %s", key, type_name(s));
		return false;
	}
	if (!integer_as_written(ld, s, key, &lit))
		return false;
	if (lit.overflow || lit.value < min || lit.value > max) {
		error_at(ld, s, "%s must be between %lld and %lld, not %.*s", key, min, max,
			 (int)lit.len, lit.text);
		return false;
	}
	*out = lit.value;
	return true;
}

void get_seconds(struct loader *ld, const config_setting_t *s, const char *key, unsigned min_ms,
		 unsigned max_ms, unsigned *out_ms)
{
	struct int_literal lit;
	double sec;

	if (!s)
		return;
	if (!config_setting_is_number(s)) {
		error_at(ld, s, "%s must be a number of seconds, not %s", key, type_name(s));
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		sec = config_setting_get_float(s);
	else if (integer_as_written(ld, s, key, &lit))
		sec = (double)lit.value;
	else
		return;
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
