#ifndef NULLMXD_CONFIG_SCAN_H
#define NULLMXD_CONFIG_SCAN_H

/*
 * The integer literals of a config text, in order, as libconfig's scanner splits the
 * text into tokens: so that the loader reads the value written, not the one libconfig
 * 1.5 kept after wrapping it to 32 bits; and its @include lines, to check what they name
 * before libconfig opens it. Comments, strings and @include lines hold no integer.
 */
#include <stdbool.h>
#include <stddef.h>

struct int_literal {
	long long value;     /* as written; when overflow, LLONG_MAX or LLONG_MIN */
	bool overflow;       /* beyond a 64-bit integer */
	long long libconfig; /* the value libconfig 1.5 stores for it */
	unsigned line;       /* 1-based */
	const char *text;    /* as written, len bytes, not terminated */
	size_t len;
};

/*
 * Counts the integer literals of text (up to its first NUL) and, when index is below
 * that count, describes the index-th one (0-based) in *out.
 */
size_t config_scan_integer(const char *text, size_t index, struct int_literal *out);

/* An @include line: libconfig reads the file itself, wherever the name leads. */
struct include_line {
	char name[256]; /* unescaped; a longer name is cut */
	unsigned line;
};

/* Counts the @include lines of text and describes the index-th one, as above. */
size_t config_scan_include(const char *text, size_t index, struct include_line *out);

#endif
