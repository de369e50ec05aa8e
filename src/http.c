/*
 * By hand: the metrics listener looks at one request line. Debian 12's one C HTTP
 * parser, libhttp-parser (nodejs/http-parser 2.9), is archived upstream in favour of
 * llhttp, which Debian 12 does not ship; not worth a dependency for one line.
 */
#include <string.h>

#include "http.h"

static int header_ended(const char *buf, size_t len)
{
	return memmem(buf, len, "\r\n\r\n", 4) || memmem(buf, len, "\n\n", 2);
}

static int is_metrics(const char *target, size_t len)
{
	return (len == 8 && memcmp(target, "/metrics", 8) == 0) ||
	       (len > 8 && memcmp(target, "/metrics?", 9) == 0);
}

enum http_request http_read(const char *buf, size_t len, size_t max)
{
	const char *eol, *sp1, *sp2;

	if (!header_ended(buf, len))
		return len >= max ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
	eol = memchr(buf, '\n', len); /* the header's end has one */
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2)
		return HTTP_BAD_REQUEST;
	if (sp1 - buf != 3 || memcmp(buf, "GET", 3) != 0)
		return HTTP_NOT_ALLOWED;
	return is_metrics(sp1 + 1, (size_t)(sp2 - sp1 - 1)) ? HTTP_METRICS : HTTP_NOT_FOUND;
}
