/*
 * libconfig 1.5 offers no way to learn what was written for an integer, so its lexer's
 * rules (lib/scanner.l) are followed here by hand, as far as telling integers apart
 * needs: comments, strings, names (which may hold digits), and the longest match among
 * the integer, 64-bit integer, hex and float patterns.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "config_scan.h"

static size_t digits(const char *p, const char *set)
{
	size_t n = 0;

	while (p[n] && strchr(set, p[n]))
		n++;
	return n;
}

static const char dec[] = "0123456789";
static const char hex[] = "0123456789abcdefABCDEF";

/* [-+]?[0-9]*\.[0-9]*([eE][-+]?[0-9]+)? or [-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+ */
static size_t float_len(const char *p)
{
	size_t n = (*p == '-' || *p == '+'), d = digits(p + n, dec), e;
	bool dot;

	n += d;
	dot = p[n] == '.';
	if (dot)
		n += 1 + digits(p + n + 1, dec);
	if (!dot && d == 0)
		return 0;
	if (p[n] == 'e' || p[n] == 'E') {
		e = 1 + (p[n + 1] == '-' || p[n + 1] == '+');
		if (digits(p + n + e, dec) > 0)
			return n + e + digits(p + n + e, dec);
	}
	return dot ? n : 0;
}

/* L or LL after the digits makes a 64-bit literal. */
static size_t suffix_len(const char *p)
{
	return p[0] != 'L' ? 0 : p[1] == 'L' ? 2 : 1;
}

/* A number token: where its digits are, and what kind of literal it is. */
struct number {
	size_t len, skip, ndigits; /* skip: the sign or "0x" before the digits */
	bool integer, is_hex, wide;
};

/*
 * The number token at p (len 0: none): the longest of libconfig's patterns wins, as in
 * any lex scanner.
 */
static struct number number_at(const char *p)
{
	size_t sign = (*p == '-' || *p == '+'), d = digits(p + sign, dec), f = float_len(p);
	struct number t = {0};

	if (d > 0)
		t = (struct number){sign + d, sign, d, true, false, false};
	if (!sign && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && digits(p + 2, hex) > 0) {
		d = digits(p + 2, hex);
		t = (struct number){2 + d, 2, d, true, true, false};
	}
	if (t.integer && suffix_len(p + t.len)) {
		t.len += suffix_len(p + t.len);
		t.wide = true;
	}
	if (f > t.len)
		t = (struct number){.len = f};
	return t;
}

/* The digits' value, saturated at ULLONG_MAX like strtoull. */
static unsigned long long magnitude(const char *p, size_t n, unsigned base)
{
	unsigned long long v = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(strchr(hex, p[i]) - hex);
		d = d >= 16 ? d - 6 : d; /* A-F come after a-f in the set */
		if (v > (ULLONG_MAX - d) / base)
			return ULLONG_MAX;
		v = v * base + d;
	}
	return v;
}

static void describe(const char *p, const struct number *t, struct int_literal *out)
{
	bool neg = p[0] == '-';
	unsigned long long m = magnitude(p + t->skip, t->ndigits, t->is_hex ? 16 : 10);
	unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;

	out->text = p;
	out->len = t->len;
	out->overflow = m > limit;
	if (out->overflow)
		out->value = neg ? LLONG_MIN : LLONG_MAX;
	else
		out->value = neg ? (long long)(0 - m) : (long long)m;
	/* libconfig 1.5 reads them with atoi, atoll, strtoul or strtoull: saturated to the
	 * width of long long or unsigned long long, then kept in an int unless L follows. */
	if (t->is_hex)
		out->libconfig = t->wide ? (long long)m : (int32_t)(uint32_t)m;
	else
		out->libconfig = t->wide ? out->value : (int32_t)(uint32_t)out->value;
}

/* Past a string or include name, or a block comment; escapes as in scanner.l. */
static const char *skip_quoted(const char *p, const char *end_mark, unsigned *line)
{
	size_t mlen = strlen(end_mark);

	while (*p && strncmp(p, end_mark, mlen) != 0) {
		if (*p == '\n')
			(*line)++;
		if (*end_mark == '"' && p[0] == '\\' && (p[1] == '\\' || p[1] == '"'))
			p++;
		p++;
	}
	return *p ? p + mlen : p;
}

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*';
}

/*
 * An @include line at p, at the start of a line: its name unescaped into name (at most
 * size - 1 bytes kept) and the end of the line's quoted name; NULL if p starts none.
 */
static const char *include_at(const char *p, char *name, size_t size, unsigned *line)
{
	size_t n = 0;

	p += strspn(p, " \t");
	if (strncmp(p, "@include", 8) != 0 || !strchr(" \t", p[8]) || !p[8])
		return NULL;
	p += 8 + strspn(p + 8, " \t");
	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '\\' || p[1] == '"'))
			p++;
		else if (*p == '\\') /* scanner.l has no rule for it: flex drops it */
			continue;
		*line += *p == '\n';
		if (n + 1 < size)
			name[n++] = *p;
	}
	name[n] = '\0';
	return *p ? p + 1 : p;
}

static size_t scan(const char *text, size_t index, struct int_literal *out,
		   struct include_line *inc)
{
	static const char name_chars[] =
		"-_*0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	const char *p = text, *q;
	char name[sizeof(inc->name)];
	unsigned line = 1, at;
	size_t count = 0;
	bool bol = true; /* where flex's ^ matches: after a newline outside strings and comments */
	struct number t;

	while (*p) {
		at = line;
		if (bol && inc && (q = include_at(p, name, sizeof(name), &line))) {
			if (count++ == index) {
				memcpy(inc->name, name, sizeof(name));
				inc->line = at;
			}
			p = q;
		} else if (*p == '\n') {
			line++;
			p++;
			bol = true;
			continue;
		} else if (*p == '"') {
			p = skip_quoted(p + 1, "\"", &line);
		} else if (p[0] == '/' && p[1] == '*') {
			p = skip_quoted(p + 2, "*/", &line);
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p += strcspn(p, "\n");
		} else if (name_start(*p)) {
			p += 1 + digits(p + 1, name_chars);
		} else if ((t = number_at(p)).len > 0) {
			if (t.integer && !inc && count++ == index && out) {
				describe(p, &t, out);
				out->line = line;
			}
			p += t.len;
		} else {
			p++;
		}
		bol = false;
	}
	return count;
}

size_t config_scan_integer(const char *text, size_t index, struct int_literal *out)
{
	return scan(text, index, out, NULL);
}

size_t config_scan_include(const char *text, size_t index, struct include_line *out)
{
	struct include_line spare;

	return scan(text, index, NULL, out ? out : &spare);
}
