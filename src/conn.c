/*
 * One connection's whole life: an optional PROXY header, the greeting, in "quit" and
 * "rcpt" modes a command session, then half-close, drain the input until EOF, a byte
 * cap or a deadline, and close. Closing with unread input sends RST, which can destroy
 * the reply in the client's buffers (RFC 1122 §4.2.2.13): hence the drain, which
 * drain.c schedules. Only connections with a PROXY header, a command session or a
 * greeting the socket could not take at once get a session record with a timer of
 * their own.
 *
 *   NEW     -> PROXY    the listener takes a PROXY header         start_proxy()
 *   NEW     -> SESSION  quit and rcpt modes: the greeting is out   start_greeting()
 *   NEW     -> DRAIN    close mode: the greeting is out           serve_bare(), start_greeting()
 *   PROXY   -> SESSION  the header is whole and valid: as from NEW
 *           or DRAIN
 *   SESSION -> DRAIN    QUIT, a limit, a timeout or a stop: one last reply
 *   any     -> closed   EOF, the deadline, an error or a cap      conn_close(), the log line
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anon.h"
#include "conn.h"
#include "drain.h"
#include "guard.h"
#include "log.h"
#include "proxy.h"
#include "stats.h"

/* After a stop request, open drains get at most this long. */
#define STOP_GRACE_MS 1000
#define DISCARD_SIZE (16 * 1024)
/*
 * Before the drain, reads take this much at a time: a session whose replies cannot go
 * out keeps the unanswered rest of one read, so that is all the input it can hold.
 */
#define SESSION_READ SMTP_LINE_MAX
/* Replies gathered from one read before they go out in one write. */
#define BATCH 16
/*
 * A session's send buffer (SO_SNDBUF; Linux doubles it to 40 KiB). A client that
 * pipelines commands and never reads keeps the kernel's send queue full; left to
 * tcp_wmem's autotuning that is about 64 KiB per session, gigabytes at max_connections.
 * Measured on Linux 6.18 on loopback, after the greeting, to a client with the smallest
 * receive window: the longest reply (REPLY_LINES_MAX lines of REPLY_LINE_MAX octets,
 * 16 KiB) goes into the kernel in one write from 18 KiB up, not at 16 KiB (each queued
 * octet also costs its segment's overhead); 20 KiB leaves a margin. What does not fit
 * libuv queues, so this bounds memory, never a reply.
 */
#define SESSION_SNDBUF (20 * 1024)

/* The zero value is a real phase: a calloc'd connection has sent and read nothing. */
enum phase { PHASE_NEW, PHASE_PROXY, PHASE_SESSION, PHASE_DRAIN };

struct conn;

/*
 * Only for connections that read a PROXY header, hold a command session or still have
 * greeting to send: they are libuv streams. Otherwise a close-mode connection is a bare
 * descriptor (see serve_bare()).
 */
struct session {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shutdown_req;
	struct conn *prev, *next; /* every open session, for a stop request */
	struct smtp_reader reader;
	uint64_t session_deadline_ms;
	union sockaddr_any proxy; /* the proxy's own address, when a header named a client */
	unsigned char *header;    /* the PROXY header read so far */
	uint16_t header_len;
	uint16_t held_len;
	char *held;     /* commands read but not answered while replies wait to go out */
	uint8_t writes; /* queued writes not yet completed */
};

struct conn {
	struct drain_entry drain; /* first: the scheduler's entry is the conn */
	int fd;
	struct listener *listener;
	struct profile *profile;
	struct session *session;
	union sockaddr_any peer;
	uint64_t start_ms;
	uint64_t bytes_in;
	uint64_t drain_from; /* bytes_in when the drain began */
	size_t bytes_out;
	uint8_t phase;
	uint8_t end;             /* why the session ended, when it ended itself */
	uint8_t handles;         /* open libuv handles; the memory goes with the last */
	struct guard_ref client; /* the client's entry in the limits table */
	bool closing;
};

_Static_assert(offsetof(struct conn, drain) == 0, "drain.c's entries are conns");

static struct {
	uv_loop_t *loop;
	struct conn_settings set;
	struct conn *sessions;
	bool stopping;
	char discard[DISCARD_SIZE]; /* every read lands here: nothing is kept but counts */
} cs;

/* In the order of a connection's life, below. */
static void serve(struct conn *c);
static void serve_bare(struct conn *c);
static int open_session(struct conn *c);
static void on_orphan_close(uv_handle_t *h);
static void start_proxy(struct conn *c);
static bool proxy_trusted(const struct profile *p, const struct sockaddr *peer);
static bool admit_peer(struct conn *c);
static bool admit(struct conn *c);
static void shed(struct conn *c, enum end_reason why);
static size_t write_now(struct conn *c, uv_buf_t buf, int *err);
static enum end_reason sock_end(int err);
static void proxy_input(struct conn *c, const char *p, size_t len);
static void start_greeting(struct conn *c);
static void bound_send_buffer(int fd);
static bool start_commands(struct conn *c);
static void session_input(struct conn *c, const char *p, size_t len);
static void note_reject(struct conn *c);
static void hold_input(struct conn *c, const char *p, size_t len);
static void resume_session(struct conn *c);
static void arm_session_timer(struct conn *c, uint64_t ms);
static void on_session_timer(uv_timer_t *t);
static void end_session(struct conn *c, enum end_reason why);
static uv_buf_t reply_buf(const struct conn *c, enum smtp_reply_kind kind);
static uv_buf_t refusal_buf(const struct conn *c);
static int send_replies(struct conn *c, uv_buf_t *bufs, unsigned n);
static void on_write(uv_write_t *req, int status);
static int start_reading(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void begin_drain(struct conn *c);
static int half_close(struct conn *c);
static int shut_wr(int fd);
static int reset_pending(int fd, int err);
static void on_shutdown(uv_shutdown_t *req, int status);
static bool drain_check(struct drain_entry *e);
static void drain_expire(struct drain_entry *e);
static void conn_close(struct conn *c, enum end_reason why);
static bool log_due(struct conn *c);
static void log_conn(struct conn *c, enum end_reason why);
static void log_where(struct conn *c);
static void sessions_remove(struct conn *c);
static void on_close(uv_handle_t *h);
static void conn_free(struct conn *c);

int conn_init(uv_loop_t *loop)
{
	static const struct drain_callbacks cb = {drain_check, drain_expire};

	cs.loop = loop;
	return drain_init(loop, &cb);
}

void conn_configure(const struct conn_settings *set)
{
	cs.set = *set;
}

/* ---- the start: limits, then a bare descriptor or a session ---- */

void conn_start(struct listener *l, int fd, const union sockaddr_any *peer)
{
	struct conn *c = calloc(1, sizeof(*c));

	stats_conn_open();
	if (!c) {
		stats_conn_gone();
		log_warnx("out of memory: a connection on %s port %u closed without a reply", l->ip,
			  l->port);
		close(fd);
		return;
	}
	c->fd = fd;
	c->peer = *peer;
	c->listener = l;
	c->profile = profile_ref(l->profile);
	c->start_ms = uv_now(cs.loop);
	if (stats.open > cs.set.max_connections)
		shed(c, END_OVERLOAD);
	else if (admit_peer(c))
		serve(c);
}

static void serve(struct conn *c)
{
	const struct profile *p = c->profile;

	if (!p->proxy && p->mode == SMTP_MODE_CLOSE)
		serve_bare(c);
	else if (open_session(c) != 0)
		conn_close(c, END_ERROR);
	else if (p->proxy)
		start_proxy(c);
	else
		start_greeting(c);
}

/*
 * The common case, close mode without PROXY, stays a bare descriptor: send, half-close,
 * a polled drain, close. It never meets libuv's stream machinery, whose poll
 * registrations cost more than the rest of the connection. A reply larger than the
 * socket buffer takes the stream path for the rest.
 */
static void serve_bare(struct conn *c)
{
	uv_buf_t buf = reply_buf(c, SMTP_REPLY_GREETING);
	int err;

	c->bytes_out = write_now(c, buf, &err);
	c->phase = PHASE_DRAIN;
	if (err == 0 && c->bytes_out == buf.len && (err = shut_wr(c->fd)) == 0) {
		c->drain_from = c->bytes_in;
		drain_insert_polled(&c->drain, c->start_ms + c->profile->drain_timeout_ms,
				    c->profile->drain_timeout_ms);
	} else if (err != 0 || open_session(c) != 0) {
		conn_close(c, err != 0 ? sock_end(err) : END_ERROR);
	} else {
		buf.base += c->bytes_out;
		buf.len -= c->bytes_out;
		if ((err = send_replies(c, &buf, 1)) != 0)
			conn_close(c, sock_end(err));
		else
			begin_drain(c);
	}
}

/* The descriptor becomes a libuv stream, with the session's timer beside it. */
static int open_session(struct conn *c)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s || uv_tcp_init(cs.loop, &s->tcp) != 0) {
		free(s);
		return -1;
	}
	if (uv_tcp_open(&s->tcp, c->fd) != 0) { /* the descriptor stays the caller's */
		s->tcp.data = s;
		uv_close((uv_handle_t *)&s->tcp, on_orphan_close);
		return -1;
	}
	uv_timer_init(cs.loop, &s->timer);
	s->tcp.data = s->timer.data = c;
	c->session = s;
	c->handles = 2;
	s->next = cs.sessions;
	if (s->next)
		s->next->session->prev = c;
	cs.sessions = c;
	return 0;
}

static void on_orphan_close(uv_handle_t *h)
{
	free(h->data);
}

static void start_proxy(struct conn *c)
{
	struct session *s = c->session;

	c->phase = PHASE_PROXY;
	s->session_deadline_ms = uv_now(cs.loop) + c->profile->proxy_timeout_ms;
	if (!(s->header = malloc(PROXY_HEADER_MAX)) || start_reading(c) != 0) {
		conn_close(c, END_ERROR);
		return;
	}
	arm_session_timer(c, c->profile->proxy_timeout_ms);
}

static bool proxy_trusted(const struct profile *p, const struct sockaddr *peer)
{
	for (size_t i = 0; i < p->nproxy_from; i++)
		if (cidr_match(&p->proxy_from[i], peer))
			return true;
	return false;
}

/*
 * At accept. What ends before a PROXY header counts against the address that connected,
 * as on any listener, so a flood of those cannot take the global log ceiling from
 * everybody else. A source outside proxy_from is held to every limit and closed
 * without a reply, within them or not. A load balancer in proxy_from carries many
 * clients and is limited by none: only the lines of its own connections count, at
 * the end (log_due()). Returns false when it ended the connection.
 */
static bool admit_peer(struct conn *c)
{
	const struct profile *p = c->profile;

	if (!p->proxy)
		return admit(c);
	if (proxy_trusted(p, &c->peer.sa))
		return true;
	conn_close(c, guard_admit(&c->client, &c->peer.sa) == GUARD_OK ? END_PROXY_UNTRUSTED
								       : END_LIMIT);
	return false;
}

/*
 * Per-client limits, checked once the client is known (after a PROXY
 * header, if any). Over a limit: the 521 without the drain, or (over_limit = "close")
 * nothing. Returns false when it ended the connection.
 */
static bool admit(struct conn *c)
{
	switch (guard_admit(&c->client, &c->peer.sa)) {
	case GUARD_OK: return true;
	case GUARD_LIMIT_REPLY: shed(c, END_LIMIT); return false;
	case GUARD_LIMIT_CLOSE: conn_close(c, END_LIMIT); return false;
	}
	return true;
}

/* Over a cap: one non-blocking write of the 521 and an immediate close, no drain. */
static void shed(struct conn *c, enum end_reason why)
{
	int err;

	c->bytes_out = write_now(c, refusal_buf(c), &err);
	conn_close(c, why);
}

/* One non-blocking write; what does not fit is not sent. *err: a failure, or 0. */
static size_t write_now(struct conn *c, uv_buf_t buf, int *err)
{
	ssize_t n;

	if (c->session)
		n = uv_try_write((uv_stream_t *)&c->session->tcp, &buf, 1);
	else if ((n = send(c->fd, buf.base, buf.len, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0)
		n = uv_translate_sys_error(errno);
	*err = n < 0 && n != UV_EAGAIN && n != UV_EINTR ? (int)n : 0;
	return n > 0 ? (size_t)n : 0;
}

/* ---- a PROXY header, the greeting, a command session ---- */

/*
 * A client's reset is its own ending, which operators read apart from a socket error,
 * wherever it shows: a read or the first write after it fails ECONNRESET, a later write
 * EPIPE (nullmxd never writes after its own half-close), shutdown(2) see reset_pending().
 */
static enum end_reason sock_end(int err)
{
	switch (err) {
	case UV_EOF: return END_EOF;
	case UV_ECONNRESET:
	case UV_EPIPE: return END_RESET;
	default: return END_ERROR;
	}
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	if (nread < 0) {
		conn_close(c, sock_end((int)nread));
		return;
	}
	c->bytes_in += (uint64_t)nread;
	if (c->phase == PHASE_PROXY)
		proxy_input(c, buf->base, (size_t)nread);
	else if (c->phase == PHASE_SESSION)
		session_input(c, buf->base, (size_t)nread);
	if (c->phase == PHASE_DRAIN && !c->closing &&
	    c->bytes_in - c->drain_from > c->profile->drain_bytes)
		conn_close(c, END_INPUT_LIMIT);
}

/*
 * Collects the PROXY header; nothing is sent before it is whole and valid. The bytes
 * after it are the client's: commands for a session, drained input otherwise.
 */
static void proxy_input(struct conn *c, const char *p, size_t len)
{
	struct session *s = c->session;
	size_t before = s->header_len, take = PROXY_HEADER_MAX - before, rest;
	struct proxy_result r;

	if (take > len)
		take = len;
	memcpy(s->header + before, p, take);
	s->header_len = (uint16_t)(before + take);
	switch (proxy_parse(s->header, s->header_len, (enum proxy_allow)c->profile->proxy, &r)) {
	case PROXY_NEED_MORE: return;
	case PROXY_INVALID: conn_close(c, END_PROXY_INVALID); return;
	case PROXY_DONE: break;
	}
	free(s->header);
	s->header = NULL;
	/* The header ends in this chunk: with the bytes before it, it was incomplete. */
	p += r.used - before;
	rest = len - (r.used - before);
	/* A health check (no client named) is the load balancer's own: no limits. */
	if (!r.local) {
		s->proxy = c->peer;
		c->peer = r.src;
		if (!admit(c))
			return;
	}
	start_greeting(c);
	if (c->closing || rest == 0)
		return;
	if (c->phase == PHASE_SESSION)
		session_input(c, p, rest);
	else
		c->drain_from -= rest;
}

static void start_greeting(struct conn *c)
{
	uv_buf_t buf = reply_buf(c, SMTP_REPLY_GREETING);
	const struct profile *p = c->profile;
	int err;

	if (p->mode != SMTP_MODE_CLOSE)
		bound_send_buffer(c->fd);
	if ((err = send_replies(c, &buf, 1)) != 0) {
		conn_close(c, sock_end(err));
		return;
	}
	if (p->mode == SMTP_MODE_CLOSE) {
		begin_drain(c);
		return;
	}
	c->phase = PHASE_SESSION;
	if (!start_commands(c)) {
		conn_close(c, END_ERROR);
		return;
	}
	c->session->session_deadline_ms = uv_now(cs.loop) + p->session_timeout_ms;
	arm_session_timer(c, p->idle_timeout_ms);
	if (start_reading(c) != 0)
		conn_close(c, END_ERROR);
}

/*
 * Best effort: a socket that refuses keeps the kernel's default, and its session works
 * as before.
 */
static void bound_send_buffer(int fd)
{
	int size = SESSION_SNDBUF;

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* The command reader; in rcpt mode with log.rejects, with room for the envelope. */
static bool start_commands(struct conn *c)
{
	const struct profile *p = c->profile;
	struct smtp_envelope *env = NULL;

	if (p->mode == SMTP_MODE_RCPT && cs.set.log_rejects && !(env = malloc(sizeof(*env))))
		return false;
	smtp_reader_init(&c->session->reader, p->mode, p->max_commands, env);
	return true;
}

/*
 * Answers the complete commands in the bytes, in order, with as few writes as it can,
 * until a write must wait for the client to read: the rest waits with it, so a client
 * that sends without reading holds one queued write and one read of input, whatever it
 * sends and whatever max_commands allows.
 */
static void session_input(struct conn *c, const char *p, size_t len)
{
	uv_buf_t bufs[BATCH];
	unsigned n = 0, answered = 0;
	int err = 0;

	while (len > 0 && c->end == END_NONE && err == 0 && c->session->writes == 0) {
		struct smtp_decision d;
		size_t used = smtp_read(&c->session->reader, p, len, &d);
		p += used;
		len -= used;
		if (d.reply == SMTP_REPLY_NONE)
			continue;
		answered++;
		if (d.reply == SMTP_REPLY_RCPT_REJECT)
			note_reject(c);
		bufs[n++] = reply_buf(c, d.reply);
		if (d.action == SMTP_CLOSE)
			c->end = d.reason;
		if (n == BATCH) {
			err = send_replies(c, bufs, n);
			n = 0;
		}
	}
	if (err == 0 && n > 0)
		err = send_replies(c, bufs, n);
	if (err != 0) {
		conn_close(c, sock_end(err));
	} else if (c->end != END_NONE) {
		begin_drain(c);
		c->drain_from -= len; /* what followed the last command is drained input */
	} else {
		if (len > 0)
			hold_input(c, p, len);
		if (answered > 0 && !c->closing) /* a client trickling one line is still idle */
			arm_session_timer(c, c->profile->idle_timeout_ms);
	}
}

/*
 * A refused RCPT: counted always; logged with the envelope (log.rejects), unless flood
 * control holds the line back, like a connection's.
 */
static void note_reject(struct conn *c)
{
	const struct smtp_envelope *env = c->session->reader.env;
	const char *code = reply_buf(c, SMTP_REPLY_RCPT_REJECT).base;

	stats.rejects++;
	if (!env || !cs.set.log_rejects || !log_due(c))
		return;
	log_begin(LOG_INFO, "reject");
	log_where(c);
	anon_log_path("from", env->from); /* log.anonymize: the domain only */
	anon_log_path("to", env->to);
	log_uint("code", (uint64_t)((code[0] - '0') * 100 + (code[1] - '0') * 10 + code[2] - '0'));
	log_end();
}

/* Keeps what was read but not answered, and reads no more, until the replies are out. */
static void hold_input(struct conn *c, const char *p, size_t len)
{
	struct session *s = c->session;

	if (!s->held && !(s->held = malloc(SESSION_READ))) {
		conn_close(c, END_ERROR);
		return;
	}
	memmove(s->held, p, len); /* p may point into held: what is left of it */
	s->held_len = (uint16_t)len;
	uv_read_stop((uv_stream_t *)&s->tcp);
}

/* The replies are out: answer what was held back, then read again. */
static void resume_session(struct conn *c)
{
	struct session *s = c->session;
	size_t len = s->held_len;

	s->held_len = 0;
	if (len > 0)
		session_input(c, s->held, len);
	if (c->closing || c->phase != PHASE_SESSION || s->writes > 0)
		return;
	free(s->held);
	s->held = NULL;
	if (start_reading(c) != 0)
		conn_close(c, END_ERROR);
}

/* The idle deadline moves with every command; the session deadline does not. */
static void arm_session_timer(struct conn *c, uint64_t ms)
{
	uint64_t now = uv_now(cs.loop), deadline = now + ms;
	struct session *s = c->session;

	if (deadline > s->session_deadline_ms)
		deadline = s->session_deadline_ms;
	uv_timer_start(&s->timer, on_session_timer, deadline > now ? deadline - now : 0, 0);
}

static void on_session_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->phase == PHASE_PROXY)
		conn_close(c, END_PROXY_TIMEOUT);
	else if (c->phase == PHASE_SESSION)
		end_session(c, uv_now(cs.loop) >= c->session->session_deadline_ms
				       ? END_SESSION_TIMEOUT
				       : END_IDLE_TIMEOUT);
}

/* A session ends on its own terms: one last permanent reply, then the drain. */
static void end_session(struct conn *c, enum end_reason why)
{
	uv_buf_t buf = refusal_buf(c);
	int err;

	c->end = why;
	if ((err = send_replies(c, &buf, 1)) != 0)
		conn_close(c, sock_end(err));
	else
		begin_drain(c);
}

/* ---- replies ---- */

static uv_buf_t reply_buf(const struct conn *c, enum smtp_reply_kind kind)
{
	const struct reply *r = c->profile->replies[kind];

	if (!r) /* a kind this mode never sends: answer with its 521 rather than nothing */
		r = c->profile->replies[SMTP_REPLY_GREETING];
	return uv_buf_init((char *)r->wire, (unsigned)r->len);
}

/* What a connection gets when it must end now: the permanent 521, in every mode. */
static uv_buf_t refusal_buf(const struct conn *c)
{
	const struct reply *r = c->profile->refusal;

	return uv_buf_init((char *)r->wire, (unsigned)r->len);
}

struct queued_write {
	uv_write_t req;
	size_t len;
};

/*
 * Writes synchronously when the socket has room, which is nearly always: no request,
 * no callback. What does not fit is queued, and a session neither reads nor answers
 * commands until it is out (session_input), so a client that sends without reading
 * cannot make replies pile up.
 */
static int send_replies(struct conn *c, uv_buf_t *bufs, unsigned n)
{
	uv_stream_t *s = (uv_stream_t *)&c->session->tcp;
	struct queued_write *q;
	int w = uv_try_write(s, bufs, n);
	size_t left;

	if (w == UV_EAGAIN)
		w = 0;
	if (w < 0)
		return w;
	c->bytes_out += (size_t)w;
	for (left = (size_t)w; n > 0 && left >= bufs->len; n--, bufs++)
		left -= bufs->len;
	if (n == 0)
		return 0;
	bufs->base += left;
	bufs->len -= left;
	if (!(q = malloc(sizeof(*q))))
		return UV_ENOMEM;
	q->len = 0;
	for (unsigned i = 0; i < n; i++)
		q->len += bufs[i].len;
	if (c->phase == PHASE_SESSION)
		uv_read_stop(s);
	w = uv_write(&q->req, s, bufs, n, on_write);
	if (w != 0)
		free(q);
	else
		c->session->writes++;
	return w;
}

static void on_write(uv_write_t *req, int status)
{
	struct queued_write *q = (struct queued_write *)req;
	struct conn *c = req->handle->data;

	if (status == 0)
		c->bytes_out += q->len;
	free(q);
	c->session->writes--;
	if (status < 0 && status != UV_ECANCELED)
		conn_close(c, sock_end(status));
	else if (status == 0 && c->phase == PHASE_SESSION && !c->closing && c->session->writes == 0)
		resume_session(c);
}

/* Reading may already be on: starting it again is not an error here. */
static int start_reading(struct conn *c)
{
	int err = uv_read_start((uv_stream_t *)&c->session->tcp, on_alloc, on_read);
	return err == UV_EALREADY ? 0 : err;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	const struct conn *c = h->data;

	*buf = uv_buf_init(cs.discard, c->phase == PHASE_DRAIN ? sizeof(cs.discard) : SESSION_READ);
}

/* ---- the drain ---- */

/* A stream: half-close once the replies are out, then read and discard until EOF. */
static void begin_drain(struct conn *c)
{
	unsigned timeout = c->profile->drain_timeout_ms;
	int err;

	c->phase = PHASE_DRAIN;
	c->drain_from = c->bytes_in;
	uv_timer_stop(&c->session->timer);
	if ((err = half_close(c)) != 0 || (err = start_reading(c)) != 0) {
		conn_close(c, sock_end(err));
		return;
	}
	drain_insert(&c->drain, uv_now(cs.loop) + timeout, timeout);
}

/*
 * With nothing queued the half-close is one shutdown(2) now; uv_shutdown() would
 * wait for a writable event first, which costs a poll registration and a loop turn.
 */
static int half_close(struct conn *c)
{
	struct session *s = c->session;

	if (s->tcp.write_queue_size > 0)
		return uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, on_shutdown);
	return shut_wr(c->fd);
}

static int shut_wr(int fd)
{
	return shutdown(fd, SHUT_WR) == 0 ? 0 : reset_pending(fd, uv_translate_sys_error(errno));
}

/*
 * shutdown(2) on a connection the client has reset fails ENOTCONN, as after any other
 * fatal error: the error the socket holds, which no call has taken yet, tells which.
 */
static int reset_pending(int fd, int err)
{
	int pending = 0;
	socklen_t len = sizeof(pending);

	if (err == UV_ENOTCONN && getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len) == 0 &&
	    pending != 0)
		return uv_translate_sys_error(pending);
	return err;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->handle->data;

	if (status < 0 && status != UV_ECANCELED)
		conn_close(c, sock_end(reset_pending(c->fd, status)));
}

/* Reads what a bare descriptor's client sent; END_NONE while it has more to say. */
static enum end_reason drain_recv(struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, cs.discard, sizeof(cs.discard), MSG_DONTWAIT);
		if (n > 0) {
			c->bytes_in += (uint64_t)n;
			if (c->bytes_in - c->drain_from > c->profile->drain_bytes)
				return END_INPUT_LIMIT;
		} else if (n == 0) {
			return END_EOF;
		} else if (errno != EINTR) {
			return errno == EAGAIN || errno == EWOULDBLOCK
				       ? END_NONE
				       : sock_end(uv_translate_sys_error(errno));
		}
	}
}

/* A polled drain's look: true while the client has more to say. */
static bool drain_check(struct drain_entry *e)
{
	struct conn *c = (struct conn *)e;
	enum end_reason why = drain_recv(c);

	if (why != END_NONE)
		conn_close(c, why);
	return why == END_NONE;
}

/* A bare descriptor gets a last look, in case its client closed since the last check. */
static void drain_expire(struct drain_entry *e)
{
	struct conn *c = (struct conn *)e;
	enum end_reason why = c->session ? END_NONE : drain_recv(c);

	conn_close(c, why != END_NONE ? why : cs.stopping ? END_SHUTDOWN : END_TIMEOUT);
}

/* ---- the end: one way out, one log line ---- */

/*
 * The one way out: idempotent, writes the connection's only log line. A session that
 * ended itself (QUIT, a limit) is logged with that reason, whatever ends the drain.
 */
static void conn_close(struct conn *c, enum end_reason why)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->end != END_NONE)
		why = (enum end_reason)c->end;
	/* counted always, logged unless flood control holds the line back */
	stats_conn_end(c->listener->stats_slot, &c->peer.sa, why, c->bytes_in, c->bytes_out);
	if (log_due(c))
		log_conn(c, why);
	guard_release(&c->client);
	drain_remove(&c->drain);
	if (!c->session) { /* a bare descriptor */
		close(c->fd);
		conn_free(c);
		return;
	}
	sessions_remove(c);
	uv_close((uv_handle_t *)&c->session->timer, on_close);
	uv_close((uv_handle_t *)&c->session->tcp, on_close);
}

/*
 * Whether flood control lets a line of the connection out. A load balancer's own
 * connection, one that never named a client, takes the balancer's entry only at its
 * first line (a reject or its end): held from the accept, it would count as one of
 * that address's open connections when a header names it.
 */
static bool log_due(struct conn *c)
{
	const struct session *s = c->session;

	if (c->profile->proxy && s && s->proxy.sa.sa_family == AF_UNSPEC && !c->client.entry)
		guard_track(&c->client, &c->peer.sa);
	return guard_log(&c->client);
}

static void log_conn(struct conn *c, enum end_reason why)
{
	const struct session *s = c->session;

	log_begin(LOG_INFO, "conn");
	log_where(c);
	log_uint("duration_ms", uv_now(cs.loop) - c->start_ms);
	log_uint("bytes_in", c->bytes_in);
	log_uint("bytes_out", c->bytes_out);
	if (c->profile->mode != SMTP_MODE_CLOSE && s)
		log_uint("commands", s->reader.commands);
	log_str("reason", end_reason_word(why));
	log_end();
}

/* The fields every line about a connection starts with: client, local end, proxy. */
static void log_where(struct conn *c)
{
	union sockaddr_any local;
	socklen_t len = sizeof(local);
	const struct session *s = c->session;

	anon_log_client(&c->peer.sa); /* client and client_port, log.anonymize */
	if (c->listener->wildcard && getsockname(c->fd, &local.sa, &len) == 0) {
		char ip[INET6_ADDRSTRLEN];
		unsigned port;
		addr_text(&local.sa, ip, sizeof(ip), &port);
		log_str("local", ip);
		log_uint("local_port", port);
	} else {
		log_str("local", c->listener->ip);
		log_uint("local_port", c->listener->port);
	}
	if (s && s->proxy.sa.sa_family != AF_UNSPEC) {
		char text[INET6_ADDRSTRLEN + 8];
		addr_format(&s->proxy.sa, text, sizeof(text));
		log_str("proxy", text);
	}
}

static void sessions_remove(struct conn *c)
{
	struct session *s = c->session;

	if (s->prev)
		s->prev->session->next = s->next;
	else
		cs.sessions = s->next;
	if (s->next)
		s->next->session->prev = s->prev;
}

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles == 0)
		conn_free(c);
}

static void conn_free(struct conn *c)
{
	if (c->session) {
		free(c->session->header);
		free(c->session->held);
		free(c->session->reader.env);
	}
	free(c->session);
	profile_unref(c->profile);
	free(c);
	stats_conn_gone();
}

/* ---- a stop request ---- */

/* Sessions get their last 521 and a short drain; unfinished PROXY headers get nothing. */
void conn_stop_all(void)
{
	struct conn *c, *next;

	cs.stopping = true;
	drain_stop(STOP_GRACE_MS);
	for (c = cs.sessions; c; c = next) {
		next = c->session->next;
		if (c->phase == PHASE_PROXY)
			conn_close(c, END_SHUTDOWN);
		else if (c->phase == PHASE_SESSION)
			end_session(c, END_SHUTDOWN);
	}
}
