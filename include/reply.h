#ifndef NULLMXD_REPLY_H
#define NULLMXD_REPLY_H

#include <stddef.h>

/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including code and CRLF. */
#define REPLY_LINE_MAX 512
#define REPLY_LINES_MAX 32

/* The wire bytes of one reply, shared read-only by every connection that sends it. */
struct reply {
	size_t len;
	char wire[];
};

/* Lint findings: custom text that departs from RFC 1846 §4.1 or from what Postfix reads. */
enum {
	REPLY_LINT_HOST_FIRST = 1 << 0,
	REPLY_LINT_ENHANCED_LAST = 1 << 1,
};

/*
 * Expands each template line (%h is host, %% a percent sign) behind the 3-digit code,
 * as "CODE-" lines ended by one "CODE " line. On failure returns NULL, writes why into
 * err and the index of the offending line into *bad_line.
 */
struct reply *reply_build(const char *const *lines, size_t nlines, int code, const char *host,
			  char *err, size_t errlen, size_t *bad_line);
/* One line written with its code, "550 5.1.2 %h ...": the code must be permanent (5xx). */
struct reply *reply_build_coded(const char *line, const char *host, char *err, size_t errlen);
void reply_free(struct reply *r);
int reply_lint(const struct reply *r, const char *host);

#endif
