/*
 * Reply building: config text in, wire bytes out, once per config load. Every
 * connection then writes the same immutable buffer.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

/* "CODE-" or "CODE " before the text, CRLF after it. */
#define LINE_OVERHEAD 6

/* RFC 5321 §4.2: reply text is HT, SP and printable US-ASCII. */
static bool text_char(char ch)
{
	return ch == '\t' || (ch >= ' ' && ch <= '~');
}

/* Expands one template into out; returns its length, or -1 with err set. */
static long expand(const char *tpl, const char *host, char *out, size_t cap, char *err,
		   size_t errlen)
{
	size_t n = 0;

	for (const char *p = tpl; *p; p++) {
		const char *piece = p;
		size_t len = 1;

		if (*p == '%') {
			if (p[1] == 'h') {
				piece = host;
				len = strlen(host);
			} else if (p[1] == '\0') {
				snprintf(err, errlen,
					 "lone %% at the end (write %%%% for a percent sign)");
				return -1;
			} else if (p[1] != '%') {
				snprintf(err, errlen,
					 "unknown escape %%%c (%%h is the hostname, %%%% a percent "
					 "sign)",
					 text_char(p[1]) ? p[1] : '?');
				return -1;
			}
			p++;
		} else if (!text_char(*p)) {
			snprintf(err, errlen,
				 "byte 0x%02x is not allowed (printable ASCII and tab only)",
				 (unsigned char)*p);
			return -1;
		}
		if (n + len > cap) {
			snprintf(err, errlen, "line longer than %d octets on the wire",
				 REPLY_LINE_MAX);
			return -1;
		}
		memcpy(out + n, piece, len);
		n += len;
	}
	return (long)n;
}

struct reply *reply_build(const char *const *lines, size_t nlines, int code, const char *host,
			  char *err, size_t errlen, size_t *bad_line)
{
	struct reply *r;
	size_t len = 0;

	*bad_line = 0;
	if (nlines == 0 || nlines > REPLY_LINES_MAX) {
		snprintf(err, errlen, "a reply has 1 to %d lines", REPLY_LINES_MAX);
		return NULL;
	}
	r = malloc(sizeof(*r) + nlines * REPLY_LINE_MAX);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < nlines; i++) {
		char *line = r->wire + len;
		long n = expand(lines[i], host, line + 4, REPLY_LINE_MAX - LINE_OVERHEAD, err,
				errlen);
		if (n < 0) {
			*bad_line = i;
			free(r);
			return NULL;
		}
		line[0] = (char)('0' + code / 100);
		line[1] = (char)('0' + code / 10 % 10);
		line[2] = (char)('0' + code % 10);
		line[3] = i + 1 < nlines ? '-' : ' ';
		memcpy(line + 4 + n, "\r\n", 2);
		len += (size_t)n + LINE_OVERHEAD;
	}
	r->len = len;
	return r;
}

/* "550 5.1.2 text": a permanent code, one space, the text template. */
struct reply *reply_build_coded(const char *line, const char *host, char *err, size_t errlen)
{
	size_t bad;
	const char *text = line + 4;

	if (strlen(line) < 4 || line[0] != '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
	    line[2] > '9' || line[3] != ' ') {
		snprintf(err, errlen, "must start with a permanent code 5xx and a space");
		return NULL;
	}
	return reply_build(&text, 1, atoi(line), host, err, errlen, &bad);
}

void reply_free(struct reply *r)
{
	free(r);
}

/* Does an enhanced status code (RFC 3463: class.subject.detail) start at p? */
static bool enhanced_code(const char *p)
{
	/* RFC 3463 §3.1: the class is 2, 4 or 5 */
	if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return false;
	p += 2;
	for (int part = 0; part < 2; part++) {
		int digits = 0;
		while (isdigit((unsigned char)*p) && digits < 4) {
			p++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return false;
		if (part == 0 && *p++ != '.')
			return false;
	}
	return *p == ' ' || *p == '\r';
}

int reply_lint(const struct reply *r, const char *host)
{
	const char *first = r->wire + 4;
	const char *last = r->wire;
	size_t hlen = strlen(host);
	int found = 0;

	for (const char *p = r->wire; p < r->wire + r->len - 2; p++)
		if (p[0] == '\r' && p[1] == '\n')
			last = p + 2;
	if (enhanced_code(first)) { /* "521 5.3.2 host ..." names the host second */
		first += strcspn(first, " \r");
		first += *first == ' ';
	}
	if (strncmp(first, host, hlen) != 0 || (first[hlen] != ' ' && first[hlen] != '\r'))
		found |= REPLY_LINT_HOST_FIRST;
	if (!enhanced_code(last + 4))
		found |= REPLY_LINT_ENHANCED_LAST;
	return found;
}
