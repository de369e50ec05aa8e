#ifndef NULLMXD_HTTP_H
#define NULLMXD_HTTP_H

/*
 * The metrics listener's request reader: what the bytes a client has sent so far ask
 * for. Pure (no I/O, no allocation), so it is fuzzed on its own. Only the request line
 * decides; the headers are read to their end and not used.
 */
#include <stddef.h>

enum http_request {
	HTTP_INCOMPLETE,  /* the header has not ended: read more */
	HTTP_METRICS,     /* GET /metrics, with or without a query */
	HTTP_BAD_REQUEST, /* 400: no METHOD TARGET VERSION line */
	HTTP_NOT_ALLOWED, /* 405: a method other than GET */
	HTTP_NOT_FOUND,   /* 404: another target */
	HTTP_TOO_LARGE,   /* 431: max bytes and the header has not ended */
};

/* Reads the first len bytes of a request; the caller never has more than max. */
enum http_request http_read(const char *buf, size_t len, size_t max);

#endif
