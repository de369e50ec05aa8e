/*
 * One connection's whole life: accept, write the reply, half-close, drain the input
 * until EOF, a byte cap or a deadline, then close (RFC 1122 §4.2.2.13: closing with
 * unread input sends RST, which can destroy the reply in the client's buffers).
 *
 * Every drain has the same timeout, so deadlines arrive in accept order: one list,
 * kept sorted, and one timer serve all connections instead of a timer each.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "conn.h"
#include "log.h"

/* After a stop request, open drains get at most this long. */
#define STOP_GRACE_MS 1000
#define DISCARD_SIZE (16 * 1024)

enum end_reason { END_EOF, END_TIMEOUT, END_INPUT_LIMIT, END_ERROR, END_SHUTDOWN, END_OVERLOAD };

static const char *const end_words[] = {
	[END_EOF] = "eof",	     [END_TIMEOUT] = "timeout",   [END_INPUT_LIMIT] = "input_limit",
	[END_ERROR] = "error",	     [END_SHUTDOWN] = "shutdown", [END_OVERLOAD] = "overload",
};

struct conn {
	uv_tcp_t tcp;
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;
	struct conn *prev, *next; /* the deadline list, earliest first */
	struct listener *listener;
	struct reply *reply;
	union sockaddr_any peer;
	uint64_t start_ms;
	uint64_t deadline_ms;
	uint64_t bytes_in;
	size_t bytes_out;
	size_t drain_bytes;
	bool listed;
	bool closing;
};

static struct {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct conn_settings set;
	struct conn *head, *tail;
	size_t count;
	bool stopping;
	char discard[DISCARD_SIZE]; /* every drain reads into it: the bytes are thrown away */
} cs;

int conn_init(uv_loop_t *loop)
{
	cs.loop = loop;
	return uv_timer_init(loop, &cs.timer);
}

void conn_configure(const struct conn_settings *set)
{
	struct reply *old = cs.set.reply;

	cs.set = *set;
	reply_ref(cs.set.reply);
	reply_unref(old);
}

size_t conn_count(void)
{
	return cs.count;
}

static void on_timeout(uv_timer_t *t);

static void arm_timer(void)
{
	uint64_t now = uv_now(cs.loop);

	if (cs.head)
		uv_timer_start(&cs.timer, on_timeout,
			       cs.head->deadline_ms > now ? cs.head->deadline_ms - now : 0, 0);
	else
		uv_timer_stop(&cs.timer);
}

/* Insert from the tail: deadlines normally grow, so this is one step. */
static void deadline_insert(struct conn *c)
{
	struct conn *after = cs.tail;

	while (after && after->deadline_ms > c->deadline_ms)
		after = after->prev;
	c->prev = after;
	c->next = after ? after->next : cs.head;
	if (c->next)
		c->next->prev = c;
	else
		cs.tail = c;
	if (after)
		after->next = c;
	else
		cs.head = c;
	c->listed = true;
	if (cs.head == c)
		arm_timer();
}

/*
 * The timer is left as it is: when it fires early it finds nothing due and re-arms.
 * While stopping, an idle timer must not hold the loop open.
 */
static void deadline_remove(struct conn *c)
{
	if (!c->listed)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		cs.head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		cs.tail = c->prev;
	c->listed = false;
	if (cs.stopping && !cs.head)
		uv_timer_stop(&cs.timer);
}

static void log_conn(struct conn *c, enum end_reason why)
{
	char ip[INET6_ADDRSTRLEN] = "-", local[INET6_ADDRSTRLEN];
	const char *local_ip = c->listener->ip;
	unsigned port = 0, local_port = c->listener->port;
	union sockaddr_any sa;
	int len = sizeof(sa);

	if (c->peer.sa.sa_family != AF_UNSPEC)
		addr_text(&c->peer.sa, ip, sizeof(ip), &port);
	if (c->listener->wildcard && uv_tcp_getsockname(&c->tcp, &sa.sa, &len) == 0) {
		addr_text(&sa.sa, local, sizeof(local), &local_port);
		local_ip = local;
	}
	log_begin(LOG_INFO, "conn");
	log_str("client", ip);
	log_uint("client_port", port);
	log_str("local", local_ip);
	log_uint("local_port", local_port);
	log_uint("duration_ms", uv_now(cs.loop) - c->start_ms);
	log_uint("bytes_in", c->bytes_in);
	log_uint("bytes_out", c->bytes_out);
	log_str("reason", end_words[why]);
	log_end();
}

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;

	reply_unref(c->reply);
	free(c);
	cs.count--;
}

/* The one way out: idempotent, writes the connection's only log line. */
static void conn_close(struct conn *c, enum end_reason why)
{
	if (c->closing)
		return;
	c->closing = true;
	log_conn(c, why);
	deadline_remove(c);
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_timeout(uv_timer_t *t)
{
	uint64_t now = uv_now(cs.loop);

	while (cs.head && cs.head->deadline_ms <= now)
		conn_close(cs.head, cs.stopping ? END_SHUTDOWN : END_TIMEOUT);
	arm_timer();
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	*buf = uv_buf_init(cs.discard, sizeof(cs.discard));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (nread > 0) {
		c->bytes_in += (uint64_t)nread;
		if (c->bytes_in > c->drain_bytes)
			conn_close(c, END_INPUT_LIMIT);
	} else if (nread < 0) {
		conn_close(c, nread == UV_EOF ? END_EOF : END_ERROR);
	}
}

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->handle->data;

	if (status == 0)
		c->bytes_out = c->reply->len;
	else if (status != UV_ECANCELED)
		conn_close(c, END_ERROR);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	if (status < 0 && status != UV_ECANCELED)
		conn_close(req->handle->data, END_ERROR);
}

/* Synchronous when the socket has room, which is nearly always: no request, no callback. */
static int write_reply(struct conn *c)
{
	uv_stream_t *s = (uv_stream_t *)&c->tcp;
	uv_buf_t buf = uv_buf_init(c->reply->wire, (unsigned)c->reply->len);
	int n = uv_try_write(s, &buf, 1);

	if (n == UV_EAGAIN)
		n = 0;
	if (n < 0)
		return n;
	c->bytes_out = (size_t)n;
	if ((size_t)n == buf.len)
		return 0;
	buf.base += n;
	buf.len -= (size_t)n;
	return uv_write(&c->write_req, s, &buf, 1, on_write);
}

static void serve(struct conn *c)
{
	uv_stream_t *s = (uv_stream_t *)&c->tcp;

	c->reply = reply_ref(cs.set.reply);
	c->drain_bytes = cs.set.drain_bytes;
	c->deadline_ms = c->start_ms + cs.set.drain_timeout_ms;
	if (write_reply(c) != 0 || uv_shutdown(&c->shutdown_req, s, on_shutdown) != 0 ||
	    uv_read_start(s, on_alloc, on_read) != 0) {
		conn_close(c, END_ERROR);
		return;
	}
	deadline_insert(c);
}

/* Over the cap: one non-blocking write of the reply and an immediate close, no drain. */
static void shed(struct conn *c)
{
	uv_buf_t buf = uv_buf_init(cs.set.reply->wire, (unsigned)cs.set.reply->len);
	int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);

	c->bytes_out = n > 0 ? (size_t)n : 0;
	conn_close(c, END_OVERLOAD);
}

static void on_spare_close(uv_handle_t *h)
{
	h->data = NULL;
}

/*
 * Without memory for a connection it is still accepted, into a static handle, and
 * closed: libuv stops watching a listener whose pending connection nobody accepts.
 */
static void refuse(struct listener *l)
{
	static uv_tcp_t spare;

	log_warnx("out of memory for a connection on %s port %u: closed without a reply", l->ip,
		  l->port);
	if (spare.data || uv_tcp_init(cs.loop, &spare) != 0)
		return;
	spare.data = &spare;
	uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&spare);
	uv_close((uv_handle_t *)&spare, on_spare_close);
}

void conn_accept(struct listener *l)
{
	struct conn *c = calloc(1, sizeof(*c));
	int len = sizeof(union sockaddr_any);

	if (!c || uv_tcp_init(cs.loop, &c->tcp) != 0) {
		free(c);
		refuse(l);
		return;
	}
	c->tcp.data = c;
	c->listener = l;
	c->start_ms = uv_now(cs.loop);
	cs.count++;
	if (uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_tcp_getpeername(&c->tcp, &c->peer.sa, &len) != 0) {
		c->peer.sa.sa_family = AF_UNSPEC;
		conn_close(c, END_ERROR);
	} else if (cs.count > cs.set.max_connections) {
		shed(c);
	} else {
		serve(c);
	}
}

void conn_stop_all(void)
{
	uint64_t limit = uv_now(cs.loop) + STOP_GRACE_MS;

	cs.stopping = true;
	/* Capping sorted deadlines at one value keeps them sorted. */
	for (struct conn *c = cs.head; c; c = c->next)
		if (c->deadline_ms > limit)
			c->deadline_ms = limit;
	arm_timer();
}
