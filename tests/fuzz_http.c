#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/*
 * The metrics request reader on what a client sends, with the listener's cap and a
 * small one: it needs more bytes exactly until the header ends (or the cap is reached),
 * then its answer is that of the header alone, and GET /metrics is answered only to a
 * request line that asks for it. A request line built around the input's bytes as the
 * target is read as that target.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LISTENER_MAX 2048 /* METRICS_REQUEST_MAX */
#define SMALL_MAX 48

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Where the header ends (just past its blank line), or 0 within len. */
static size_t header_end(const char *s, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		if (s[i] == '\n' && s[i - 1] == '\n')
			return i + 1;
		if (i >= 3 && memcmp(s + i - 3, "\r\n\r\n", 4) == 0)
			return i + 1;
	}
	return 0;
}

static void check_answer(const char *s, size_t len, enum http_request r)
{
	const char *eol = memchr(s, '\n', len);

	check(r > HTTP_INCOMPLETE && r <= HTTP_TOO_LARGE);
	if (r == HTTP_METRICS)
		check(len > 13 && memcmp(s, "GET /metrics", 12) == 0 &&
		      (s[12] == ' ' || s[12] == '?') &&
		      memchr(s + 12, ' ', (size_t)(eol - s - 12)));
	if (r == HTTP_NOT_ALLOWED || r == HTTP_NOT_FOUND)
		check(eol && memchr(s, ' ', (size_t)(eol - s)));
	if (r == HTTP_NOT_FOUND)
		check(memcmp(s, "GET ", 4) == 0);
}

static void check_cap(const char *s, size_t size, size_t max)
{
	size_t len = size < max ? size : max, end = header_end(s, len);
	enum http_request r = http_read(s, len, max);

	if (!end) {
		check(r == (len == max ? HTTP_TOO_LARGE : HTTP_INCOMPLETE));
		return;
	}
	check_answer(s, end, r);
	check(http_read(s, end, max) == r);
	check(http_read(s, end - 1, max) == HTTP_INCOMPLETE);
}

/* Every prefix: more is needed until the answer, which then never changes. */
static void check_prefixes(const char *s, size_t size)
{
	enum http_request first = HTTP_INCOMPLETE;

	for (size_t k = 0; k <= size && k <= SMALL_MAX; k++) {
		enum http_request r = http_read(s, k, SMALL_MAX);

		if (first != HTTP_INCOMPLETE)
			check(r == first);
		check(r != HTTP_INCOMPLETE || k < SMALL_MAX);
		check(r != HTTP_TOO_LARGE || k == SMALL_MAX);
		first = r;
	}
}

static void check_target(const char *s, size_t size)
{
	char req[LISTENER_MAX];
	size_t n = 0;
	int metrics;

	memcpy(req, "GET ", 4);
	for (size_t i = 0; i < size && n < 256; i++)
		if (s[i] != ' ' && s[i] != '\n')
			req[4 + n++] = s[i];
	metrics = (n == 8 && memcmp(req + 4, "/metrics", 8) == 0) ||
		  (n > 8 && memcmp(req + 4, "/metrics?", 9) == 0);
	memcpy(req + 4 + n, " HTTP/1.1\r\n\r\n", 13);
	check(http_read(req, 4 + n + 13, LISTENER_MAX) ==
	      (metrics ? HTTP_METRICS : HTTP_NOT_FOUND));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	check_cap(s, size, LISTENER_MAX);
	check_cap(s, size, SMALL_MAX);
	check_prefixes(s, size);
	check_target(s, size);
	return 0;
}
