#include "http.h"
#include "test.h"

#define MAX 64

static enum http_request req(const char *s)
{
	return http_read(s, strlen(s), MAX);
}

/* Every strict prefix of a whole request needs more; the whole gives want. */
static void whole(int line, const char *s, enum http_request want)
{
	size_t len = strlen(s);
	int early = 0;

	for (size_t k = 0; k < len; k++)
		early += http_read(s, k, MAX) != HTTP_INCOMPLETE;
	if (early || http_read(s, len, MAX) != want)
		printf("line %d: %d early answers, got %d\n", line, early, http_read(s, len, MAX));
	CHECK(early == 0 && http_read(s, len, MAX) == want);
}

int main(void)
{
	whole(__LINE__, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_METRICS);
	whole(__LINE__, "GET /metrics?name[]=up HTTP/1.0\r\n\r\n", HTTP_METRICS);
	whole(__LINE__, "GET /metrics HTTP/1.1\n\n", HTTP_METRICS);
	whole(__LINE__, "GET / HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND);
	whole(__LINE__, "GET /metricsx HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND);
	whole(__LINE__, "GET /metrics/ HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND);
	whole(__LINE__, "GET http://h/metrics HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND);
	whole(__LINE__, "HEAD /metrics HTTP/1.1\r\n\r\n", HTTP_NOT_ALLOWED);
	whole(__LINE__, "POST /metrics HTTP/1.1\r\n\r\n", HTTP_NOT_ALLOWED);
	whole(__LINE__, "get /metrics HTTP/1.1\r\n\r\n", HTTP_NOT_ALLOWED);
	whole(__LINE__, "\r\n\r\n", HTTP_BAD_REQUEST);
	whole(__LINE__, "GET /metrics\r\n\r\n", HTTP_BAD_REQUEST);
	/* Spaces in a header are no request line's. */
	whole(__LINE__, "GET\r\nX: /metrics y\r\n\r\n", HTTP_BAD_REQUEST);
	whole(__LINE__, "GET /metrics\r\nX: a b\r\n\r\n", HTTP_BAD_REQUEST);

	/* What follows the header changes nothing. */
	CHECK(req("GET /metrics HTTP/1.1\r\n\r\nPOST / x\r\n\r\n") == HTTP_METRICS);
	CHECK(req("") == HTTP_INCOMPLETE);
	CHECK(req("GET /metrics HTTP/1.1\r\n") == HTTP_INCOMPLETE);
	CHECK(req("GET /metrics HTTP/1.1\r\n\r") == HTTP_INCOMPLETE);
	{
		static const char nul[] = "GET /metrics HTTP/1.1\r\nX: \0\r\n\r\n";

		CHECK(http_read(nul, sizeof(nul) - 1, MAX) ==
		      HTTP_METRICS); /* a NUL ends nothing */
	}

	/* max bytes without the header's end is too large; with it, it is a request. */
	{
		char buf[MAX + 1];

		memset(buf, 'a', MAX);
		memcpy(buf, "GET /metrics HTTP/1.1\r\nX: ", 26);
		CHECK(http_read(buf, MAX - 1, MAX) == HTTP_INCOMPLETE);
		CHECK(http_read(buf, MAX, MAX) == HTTP_TOO_LARGE);
		memcpy(buf + MAX - 4, "\r\n\r\n", 4);
		CHECK(http_read(buf, MAX, MAX) == HTTP_METRICS);
	}
	return test_done();
}
