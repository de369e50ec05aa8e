/*
 * The metrics listener: HTTP/1.x, one request per connection, answered and closed.
 * Each client gets a deadline and a request-size cap, and only a few may be open at
 * once; the answer is written without blocking, so a client that never reads just
 * runs into its deadline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "log.h"
#include "metrics.h"
#include "stats.h"

struct mclient {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;
	struct mclient *prev, *next; /* every client still open, for metrics_stop */
	char *response;
	size_t len;
	int handles; /* open handles; freed when the last closes */
	bool answered;
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
	unsigned nclients;
} ms;

int metrics_init(uv_loop_t *loop)
{
	ms.loop = loop;
	return 0;
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
	ms.nclients--;
}

static void client_close(struct mclient *m)
{
	if (m->closing)
		return;
	m->closing = true;
	uv_close((uv_handle_t *)&m->tcp, on_client_close);
	uv_close((uv_handle_t *)&m->timer, on_client_close);
}

static void on_timeout(uv_timer_t *t)
{
	client_close(t->data);
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
}

static void respond(struct mclient *m, const char *status, const char *extra, char *body,
		    size_t blen)
{
	FILE *f = open_memstream(&m->response, &m->len);
	uv_buf_t buf;

	m->answered = true;
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

/* The request line decides; headers are read (to their end) but not used. */
static void handle(struct mclient *m)
{
	char *sp1 = memchr(m->buf, ' ', m->len), *body;
	char *sp2 = sp1 ? memchr(sp1 + 1, ' ', m->len - (size_t)(sp1 + 1 - m->buf)) : NULL;
	size_t plen = sp2 ? (size_t)(sp2 - sp1 - 1) : 0, blen;
	const char *plain = "Content-Type: text/plain; charset=utf-8\r\n";

	stats.metrics_requests++;
	if (!sp2) {
		body = text("bad request\n", &blen);
		respond(m, "400 Bad Request", plain, body, blen);
	} else if ((size_t)(sp1 - m->buf) != 3 || memcmp(m->buf, "GET", 3) != 0) {
		body = text("only GET\n", &blen);
		respond(m, "405 Method Not Allowed",
			"Allow: GET\r\nContent-Type: text/plain; charset=utf-8\r\n", body, blen);
	} else if (!((plen == 8 && memcmp(sp1 + 1, "/metrics", 8) == 0) ||
		     (plen > 8 && memcmp(sp1 + 1, "/metrics?", 9) == 0))) {
		body = text("not found: try /metrics\n", &blen);
		respond(m, "404 Not Found", plain, body, blen);
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct mclient *m = s->data;

	if (nread < 0) {
		client_close(m);
		return;
	}
	if (m->answered || nread == 0)
		return;
	m->len += (size_t)nread;
	if (memmem(m->buf, m->len, "\r\n\r\n", 4) || memmem(m->buf, m->len, "\n\n", 2)) {
		handle(m);
	} else if (m->len == sizeof(m->buf)) {
		size_t blen;
		char *body = text("request too large\n", &blen);
		respond(m, "431 Request Header Fields Too Large", "", body, blen);
	}
}

static void on_refused_close(uv_handle_t *h)
{
	free(h);
}

/*
 * Over the client cap: accept anyway, as a connection left pending stops libuv from
 * watching the listener for good. The 503 goes out only if the socket takes it at
 * once; a request already sent may turn the close into a reset, which is fine for a
 * scraper that will retry.
 */
static void refuse(uv_stream_t *server)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	uv_buf_t buf = uv_buf_init((char *)busy, sizeof(busy) - 1);
	uv_tcp_t *t = malloc(sizeof(*t));

	if (!t || uv_tcp_init(ms.loop, t) != 0) {
		free(t); /* out of memory: the listener waits for the next uv_accept */
		return;
	}
	if (uv_accept(server, (uv_stream_t *)t) == 0)
		uv_try_write((uv_stream_t *)t, &buf, 1);
	uv_close((uv_handle_t *)t, on_refused_close);
}

static void client_link(struct mclient *m)
{
	m->next = ms.clients;
	if (ms.clients)
		ms.clients->prev = m;
	ms.clients = m;
	ms.nclients++;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct mclient *m;

	if (status < 0) {
		stats_accept_error(status);
		return;
	}
	m = ms.nclients < METRICS_CLIENTS_MAX ? calloc(1, sizeof(*m)) : NULL;
	if (!m) {
		refuse(server);
		return;
	}
	client_link(m);
	uv_tcp_init(ms.loop, &m->tcp);
	uv_timer_init(ms.loop, &m->timer);
	m->handles = 2;
	m->tcp.data = m->timer.data = m;
	if (uv_accept(server, (uv_stream_t *)&m->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&m->tcp, on_alloc, on_read) != 0 ||
	    uv_timer_start(&m->timer, on_timeout, METRICS_TIMEOUT_MS, 0) != 0)
		client_close(m);
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
}

static int listener_bind(uv_tcp_t *t, const struct metrics_settings *s)
{
	union sockaddr_any bound;
	int len = sizeof(bound), err;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	if ((err = uv_tcp_bind(t, &s->addr.sa,
			       s->addr.sa.sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0)) != 0 ||
	    (err = uv_listen((uv_stream_t *)t, 16, on_connection)) != 0 ||
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
