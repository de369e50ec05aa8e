/*
 * The metrics listener: HTTP/1.x, one request per connection, answered and closed.
 * Each client gets a deadline for its header and one for taking the answer, and a
 * request-size cap; only a few may be open at once, and only a share of those from one
 * address. When all are taken, a newcomer within its share takes the slot of the
 * oldest that is still sending its request or has its answer and does not close, so
 * that clients holding connections open, even from several addresses, cannot lock a
 * scraper out. The answer is written without blocking, so a client that never reads
 * just runs into its deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "build-config.h"
#include "http.h"
#include "iptable.h"
#include "log.h"
#include "logsink.h"
#include "metrics.h"
#include "stats.h"

struct mclient {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;
	struct mclient *prev, *next; /* every client still open, for metrics_stop */
	struct iptable_key peer;
	char *response;
	size_t len;
	int handles; /* open handles; freed when the last closes */
	bool answered;
	bool written; /* the whole answer handed to the kernel: only waiting for the EOF */
	bool closing;
	char buf[METRICS_REQUEST_MAX];
};

/*
 * The listener is an allocation of its own, freed in its close callback: a reload that
 * moves it opens the new one while the old one is still closing.
 */
static struct {
	uv_loop_t *loop;
	uv_tcp_t *listener; /* NULL when none is open */
	struct metrics_settings set;
	struct mclient *clients;
	unsigned nclients;   /* open and not closing: the cap */
	unsigned nallocated; /* closing ones too, gone by the end of this loop turn */
	uv_check_t turn;     /* runs once after a loop turn that accepted */
	unsigned accepted;   /* in this loop turn */
	uv_stream_t *held;   /* the listener, when a connection waits for the next turn */
} ms;

int metrics_init(uv_loop_t *loop)
{
	ms.loop = loop;
	return uv_check_init(loop, &ms.turn);
}

static void on_client_close(uv_handle_t *h)
{
	struct mclient *m = h->data;

	if (--m->handles > 0)
		return;
	if (m->prev)
		m->prev->next = m->next;
	else
		ms.clients = m->next;
	if (m->next)
		m->next->prev = m->prev;
	free(m->response);
	free(m);
	ms.nallocated--;
}

static void client_close(struct mclient *m)
{
	if (m->closing)
		return;
	m->closing = true;
	ms.nclients--;
	uv_close((uv_handle_t *)&m->tcp, on_client_close);
	uv_close((uv_handle_t *)&m->timer, on_client_close);
}

/*
 * One write attempt, for a client its caller then closes without a drain so that the
 * slot is free at once. Unread bytes from the client may turn that close into a reset
 * and lose the answer; a scraper retries.
 */
static void answer_once(uv_tcp_t *t, const char *status)
{
	char head[128];
	uv_buf_t buf = uv_buf_init(head, 0);

	buf.len = (size_t)snprintf(head, sizeof(head),
				   "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
				   status);
	uv_try_write((uv_stream_t *)t, &buf, 1);
}

static void on_timeout(uv_timer_t *t)
{
	struct mclient *m = t->data;

	if (!m->answered)
		answer_once(&m->tcp, "408 Request Timeout");
	client_close(m);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	if (status < 0)
		client_close(req->data);
}

static void on_write(uv_write_t *req, int status)
{
	struct mclient *m = req->data;

	m->shutdown_req.data = m;
	if (status < 0 || uv_shutdown(&m->shutdown_req, (uv_stream_t *)&m->tcp, on_shutdown) != 0)
		client_close(m);
	else
		m->written = true;
}

static void respond(struct mclient *m, const char *status, const char *extra, char *body,
		    size_t blen)
{
	FILE *f = open_memstream(&m->response, &m->len);
	uv_buf_t buf;

	m->answered = true;
	uv_timer_start(&m->timer, on_timeout, METRICS_TIMEOUT_MS, 0);
	if (f) {
		fprintf(f, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
			status, blen, extra);
		fwrite(body, 1, blen, f);
		fclose(f);
	}
	free(body);
	buf = uv_buf_init(m->response, (unsigned)m->len);
	m->write_req.data = m;
	if (!f || !m->response ||
	    uv_write(&m->write_req, (uv_stream_t *)&m->tcp, &buf, 1, on_write) != 0)
		client_close(m);
}

static char *text(const char *s, size_t *len)
{
	*len = strlen(s);
	return strdup(s);
}

static void family_reason(FILE *f, size_t li, int fam, enum end_reason r)
{
	static const char *const families[] = {"ipv4", "ipv6", "unknown"};
	uint64_t n = stats.listeners[li].conns[fam][r];

	if (n)
		fprintf(f,
			"nullmxd_connections_total{listener=\"%s\",family=\"%s\",reason=\"%s\"} "
			"%llu\n",
			stats.listeners[li].label, families[fam], end_reason_word(r),
			(unsigned long long)n);
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The exposition text, malloc'ed. */
static char *metrics_render(size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);

	if (!f)
		return NULL;
	metric(f, "nullmxd_build_info", "gauge", "Always 1; the version is in the label.");
	fprintf(f, "nullmxd_build_info{version=\"%s\"} 1\n", NULLMXD_VERSION);
	metric(f, "nullmxd_start_time_seconds", "gauge",
	       "Start time of the process, Unix seconds.");
	fprintf(f, "nullmxd_start_time_seconds %llu\n", (unsigned long long)stats.start_time);
	metric(f, "nullmxd_connections_total", "counter",
	       "Connections ended, by listener, client address family and end reason.");
	for (size_t i = 0; i < stats.nlisteners; i++)
		for (int fam = 0; fam < STATS_FAMILIES; fam++)
			for (int r = 0; r < END_REASONS; r++)
				family_reason(f, i, fam, (enum end_reason)r);
	metric(f, "nullmxd_connections_open", "gauge", "Connections open now.");
	fprintf(f, "nullmxd_connections_open %zu\n", stats.open);
	metric(f, "nullmxd_limit_hits_total", "counter", "Connections over a per-client limit.");
	fprintf(f, "nullmxd_limit_hits_total{limit=\"connections\"} %llu\n",
		(unsigned long long)stats.limit[STATS_LIMIT_CONNECTIONS]);
	fprintf(f, "nullmxd_limit_hits_total{limit=\"rate\"} %llu\n",
		(unsigned long long)stats.limit[STATS_LIMIT_RATE]);
	metric(f, "nullmxd_received_bytes_total", "counter",
	       "Bytes read from clients (and discarded).");
	fprintf(f, "nullmxd_received_bytes_total %llu\n", (unsigned long long)stats.bytes_in);
	metric(f, "nullmxd_sent_bytes_total", "counter", "Bytes of replies written to clients.");
	fprintf(f, "nullmxd_sent_bytes_total %llu\n", (unsigned long long)stats.bytes_out);
	metric(f, "nullmxd_rejects_total", "counter", "RCPT TO commands refused in rcpt mode.");
	fprintf(f, "nullmxd_rejects_total %llu\n", (unsigned long long)stats.rejects);
	metric(f, "nullmxd_log_lines_suppressed_total", "counter",
	       "Log lines of connections and rejects held back by flood control, by ceiling.");
	fprintf(f, "nullmxd_log_lines_suppressed_total{scope=\"client\"} %llu\n",
		(unsigned long long)stats.suppressed[STATS_SUPPRESS_CLIENT]);
	fprintf(f, "nullmxd_log_lines_suppressed_total{scope=\"all\"} %llu\n",
		(unsigned long long)stats.suppressed[STATS_SUPPRESS_ALL]);
	metric(f, "nullmxd_log_lines_dropped_total", "counter",
	       "Log lines dropped because the log target took none in time.");
	fprintf(f, "nullmxd_log_lines_dropped_total %llu\n",
		(unsigned long long)sink_dropped_total());
	metric(f, "nullmxd_config_reloads_total", "counter", "Config reloads, by result.");
	fprintf(f, "nullmxd_config_reloads_total{result=\"ok\"} %llu\n",
		(unsigned long long)stats.reloads_ok);
	fprintf(f, "nullmxd_config_reloads_total{result=\"failed\"} %llu\n",
		(unsigned long long)stats.reloads_failed);
	metric(f, "nullmxd_accept_errors_total", "counter", "Errors the listeners reported.");
	fprintf(f, "nullmxd_accept_errors_total %llu\n", (unsigned long long)stats.accept_errors);
	metric(f, "nullmxd_tracked_clients", "gauge", "Entries in the per-client table.");
	fprintf(f, "nullmxd_tracked_clients %u\n", stats.tracked);
	metric(f, "nullmxd_untracked_connections_total", "counter",
	       "Connections admitted untracked because every table entry was in use.");
	fprintf(f, "nullmxd_untracked_connections_total %llu\n",
		(unsigned long long)stats.untracked);
	metric(f, "nullmxd_metrics_requests_total", "counter",
	       "Requests the metrics listener answered, this one included.");
	fprintf(f, "nullmxd_metrics_requests_total %llu\n",
		(unsigned long long)stats.metrics_requests);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void handle(struct mclient *m, enum http_request r)
{
	const char *plain = "Content-Type: text/plain; charset=utf-8\r\n";
	size_t blen;
	char *body;

	stats.metrics_requests++;
	if (r == HTTP_BAD_REQUEST) {
		body = text("bad request\n", &blen);
		respond(m, "400 Bad Request", plain, body, blen);
	} else if (r == HTTP_NOT_ALLOWED) {
		body = text("only GET\n", &blen);
		respond(m, "405 Method Not Allowed",
			"Allow: GET\r\nContent-Type: text/plain; charset=utf-8\r\n", body, blen);
	} else if (r == HTTP_NOT_FOUND) {
		body = text("not found: try /metrics\n", &blen);
		respond(m, "404 Not Found", plain, body, blen);
	} else if (r == HTTP_TOO_LARGE) {
		body = text("request too large\n", &blen);
		respond(m, "431 Request Header Fields Too Large", "", body, blen);
	} else {
		body = metrics_render(&blen);
		respond(m, body ? "200 OK" : "500 Internal Server Error",
			"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", body,
			body ? blen : 0);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mclient *m = h->data;

	if (m->answered) /* draining what follows the request until EOF */
		*buf = uv_buf_init(m->buf, sizeof(m->buf));
	else
		*buf = uv_buf_init(m->buf + m->len, (unsigned)(sizeof(m->buf) - m->len));
}

/* n more bytes of the request are in m->buf: whether they end it, and it is answered. */
static bool request_grew(struct mclient *m, size_t n)
{
	enum http_request r;

	m->len += n;
	if ((r = http_read(m->buf, m->len, sizeof(m->buf))) == HTTP_INCOMPLETE)
		return false;
	handle(m, r);
	return true;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct mclient *m = s->data;

	if (nread < 0)
		client_close(m);
	else if (!m->answered && nread > 0)
		request_grew(m, (size_t)nread);
}

static void on_refused_close(uv_handle_t *h)
{
	free(h);
}

static void on_turn_end(uv_check_t *c);
static void on_connection(uv_stream_t *server, int status);

/*
 * libuv stops watching a listener whose callback leaves its connection unaccepted:
 * the connection waits for the end of the loop turn, which takes it (or holds it
 * again) and so watches the listener again.
 */
static void hold(uv_stream_t *server)
{
	ms.held = server;
	uv_check_start(&ms.turn, on_turn_end);
}

/* A failed uv_accept() has closed its connection and stopped watching: watch again. */
static void rearm(uv_stream_t *server)
{
	int err = uv_listen(server, METRICS_ACCEPT_BATCH, on_connection);

	if (err != 0)
		log_warnx("metrics: listening again failed: %s", uv_strerror(err));
}

/* Over the client cap: accept, answer 503 and close, rather than leave it pending. */
static void refuse(uv_stream_t *server)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	if (!t || uv_tcp_init(ms.loop, t) != 0) {
		free(t); /* out of memory: try again after this turn */
		hold(server);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)t) == 0)
		answer_once(t, "503 Service Unavailable");
	else
		rearm(server);
	uv_close((uv_handle_t *)t, on_refused_close);
}

/* Whether m's address is within its share; m is linked, so it counts itself. */
static bool within_share(struct mclient *m)
{
	union sockaddr_any peer;
	int len = sizeof(peer);
	unsigned same = 0;

	if (uv_tcp_getpeername(&m->tcp, &peer.sa, &len) != 0 ||
	    iptable_key_from(&peer.sa, METRICS_IPV6_PREFIX, &m->peer) != 0)
		return false;
	for (struct mclient *o = ms.clients; o; o = o->next)
		same += !o->closing && memcmp(&o->peer, &m->peer, sizeof(m->peer)) == 0;
	return same <= METRICS_CLIENTS_PER_ADDR;
}

/*
 * Reads, past libuv, what has arrived of a request whose read callback may not have
 * run yet (it was accepted in this loop turn, or its bytes wait in this one's events),
 * so that a request already there is answered rather than cut. Whether m is now
 * answered or closing.
 */
static bool read_arrived(struct mclient *m)
{
	uv_os_fd_t fd;
	ssize_t n;

	if (uv_fileno((uv_handle_t *)&m->tcp, &fd) != 0)
		return false;
	n = recv(fd, m->buf + m->len, sizeof(m->buf) - m->len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		client_close(m);
		return true;
	}
	return n > 0 && request_grew(m, (size_t)n);
}

/*
 * The whole answer is in the kernel: written, or accepted by the socket at once, its
 * callback still to come in a later turn.
 */
static bool handed_over(const struct mclient *m)
{
	return m->written || (m->answered && m->tcp.write_queue_size == 0);
}

/*
 * Every slot is taken: the oldest client, m aside, whose request has not ended or whose
 * answer is written is cut as at its deadline, so holding connections open from a few
 * addresses cannot keep a prompt scraper out. The list runs newest first.
 */
static bool make_room(struct mclient *m)
{
	for (;;) {
		struct mclient *oldest = NULL;

		for (struct mclient *o = m->next; o; o = o->next)
			if (!o->closing && (!o->answered || handed_over(o)))
				oldest = o;
		if (!oldest)
			return false;
		if (oldest->answered || !read_arrived(oldest)) {
			on_timeout(&oldest->timer);
			return true;
		}
		if (oldest->closing)
			return true;
	}
}

static void client_link(struct mclient *m)
{
	m->next = ms.clients;
	if (ms.clients)
		ms.clients->prev = m;
	ms.clients = m;
	ms.nclients++;
	ms.nallocated++;
}

static void on_turn_end(uv_check_t *c)
{
	uv_stream_t *held = ms.held;

	uv_check_stop(c);
	ms.accepted = 0;
	ms.held = NULL;
	if (held)
		on_connection(held, 0);
}

/*
 * libuv accepts for as long as connections are queued; past a batch in one loop turn,
 * one is left pending, which stops libuv from watching the listener until the next
 * turn accepts it, so that a flood of connections cannot starve the rest of the loop.
 */
static bool batch_full(uv_stream_t *server)
{
	if (ms.accepted++ == 0)
		uv_check_start(&ms.turn, on_turn_end);
	if (ms.accepted <= METRICS_ACCEPT_BATCH)
		return false;
	hold(server);
	return true;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct mclient *m;

	if (status < 0) {
		stats_accept_error(status);
		return;
	}
	if (batch_full(server))
		return;
	/*
	 * A client over the cap is let in to learn its address: within its share it may
	 * take the slot of a request that has not ended. Clients cut or refused count no
	 * more once closing; the second cap bounds the memory of those closing, and past
	 * it a refusal costs only a bare handle.
	 */
	if (ms.nallocated < 2 * METRICS_CLIENTS_MAX)
		m = calloc(1, sizeof(*m));
	else
		m = NULL;
	if (!m) {
		refuse(server);
		return;
	}
	client_link(m);
	uv_tcp_init(ms.loop, &m->tcp);
	uv_timer_init(ms.loop, &m->timer);
	m->handles = 2;
	m->tcp.data = m->timer.data = m;
	if (uv_accept(server, (uv_stream_t *)&m->tcp) != 0) {
		client_close(m);
		rearm(server);
	} else if (!within_share(m) || (ms.nclients > METRICS_CLIENTS_MAX && !make_room(m))) {
		answer_once(&m->tcp, "503 Service Unavailable");
		client_close(m);
	} else if (uv_read_start((uv_stream_t *)&m->tcp, on_alloc, on_read) != 0 ||
		   uv_timer_start(&m->timer, on_timeout, METRICS_HEADER_TIMEOUT_MS, 0) != 0) {
		client_close(m);
	}
}

static void on_listener_close(uv_handle_t *h)
{
	free(h);
}

static void listener_stop(void)
{
	if (ms.listener)
		uv_close((uv_handle_t *)ms.listener, on_listener_close);
	ms.listener = NULL;
	ms.held = NULL; /* its connection is closed with it */
}

static int listener_bind(uv_tcp_t *t, const struct metrics_settings *s)
{
	union sockaddr_any bound;
	int len = sizeof(bound), err;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	if ((err = uv_tcp_bind(t, &s->addr.sa,
			       s->addr.sa.sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0)) != 0 ||
	    (err = uv_listen((uv_stream_t *)t, METRICS_ACCEPT_BATCH, on_connection)) != 0 ||
	    (err = uv_tcp_getsockname(t, &bound.sa, &len)) != 0)
		return err;
	addr_text(&bound.sa, ip, sizeof(ip), &port);
	log_begin(LOG_INFO, "metrics_listen");
	log_str("addr", ip);
	log_uint("port", port);
	log_end();
	return 0;
}

static int listener_start(const struct metrics_settings *s)
{
	uv_tcp_t *t = malloc(sizeof(*t));
	int err;

	if (!t)
		return UV_ENOMEM;
	if ((err = uv_tcp_init(ms.loop, t)) != 0) {
		free(t);
		return err;
	}
	ms.listener = t;
	if ((err = listener_bind(t, s)) != 0)
		listener_stop();
	return err;
}

void metrics_configure(const struct metrics_settings *s)
{
	int err;

	if (ms.listener && s->enabled && strcmp(s->text, ms.set.text) == 0)
		return;
	listener_stop();
	ms.set = *s;
	if (s->enabled && (err = listener_start(s)) != 0)
		log_warnx("metrics: cannot listen on %s: %s", s->text, uv_strerror(err));
}

/* Idle clients would hold the loop open until their deadline. */
void metrics_stop(void)
{
	listener_stop();
	for (struct mclient *m = ms.clients; m; m = m->next)
		client_close(m);
}
