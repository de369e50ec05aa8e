/*
 * Listening sockets and accepting from them. accept(2) errors are of three kinds: of
 * the one pending connection (take the next), out of descriptors (answer from the
 * reserve), or the kernel short of memory (rest, as polling again would spin).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "profile.h"
#include "stats.h"

/* Connections accepted per wake-up of a listener, and its rest when accepting fails. */
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100

static int reserve = -1; /* a descriptor to give back when there are none (EMFILE) */

static bool is_wildcard(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

static void on_readable(uv_poll_t *p, int status, int events);

static void on_rest_over(uv_timer_t *t)
{
	struct listener *l = t->data;

	uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

/* Stops watching for ms milliseconds: accepting failed in a way that polling repeats. */
static void pause_listener(struct listener *l, unsigned ms)
{
	uv_poll_stop(&l->poll);
	uv_timer_start(&l->rest, on_rest_over, ms, 0);
}

/*
 * Out of descriptors: the reserve gives one back for long enough to accept, say 521
 * and close, so that even then every client hears a permanent answer. Without a
 * reserve, the listener rests a little rather than wake the loop for ever.
 */
static void answer_without_descriptor(struct listener *l)
{
	const struct reply *r = l->profile->refusal;
	int fd;

	if (reserve < 0 && (reserve = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		pause_listener(l, ACCEPT_PAUSE_MS);
		return;
	}
	close(reserve);
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		if ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
			break;
		(void)!send(fd, r->wire, r->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
	}
	reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* accept(2): errors of the one pending connection, not of the listener: take the next. */
static bool accept_again(int err)
{
	return err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM ||
	       err == ENETDOWN || err == ENONET || err == EHOSTDOWN || err == EHOSTUNREACH ||
	       err == ENETUNREACH || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

/* At most a batch per wake-up, so that a flood of new connections cannot starve the
 * drains of those already answered. */
static void accept_batch(struct listener *l)
{
	for (size_t n = 0; n < ACCEPT_BATCH;) {
		union sockaddr_any peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(l->fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			l->accepted(l, fd, &peer);
			n++;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else if (!accept_again(errno)) {
			stats_accept_error(-errno);
			if (errno == EMFILE || errno == ENFILE)
				answer_without_descriptor(l);
			else /* ENOBUFS, ENOMEM: the kernel is short; polling again would spin */
				pause_listener(l, ACCEPT_PAUSE_MS);
			break;
		}
	}
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct listener *l = p->data;

	if (status < 0) /* libuv stopped the handle: watch again shortly */
		pause_listener(l, ACCEPT_PAUSE_MS);
	else
		accept_batch(l);
}

/* fdname: the name a service manager gave a passed socket, NULL for one bound here. */
static int start_listening(struct listener *l, uv_loop_t *loop, const char *fdname)
{
	union sockaddr_any bound;
	socklen_t len = sizeof(bound);
	int err;

	if (listen(l->fd, SOMAXCONN) != 0 || getsockname(l->fd, &bound.sa, &len) != 0)
		return -errno;
	if (reserve < 0)
		reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((err = uv_poll_init_socket(loop, &l->poll, l->fd)) != 0)
		return err;
	uv_timer_init(loop, &l->rest);
	l->poll.data = l->rest.data = l;
	if ((err = uv_poll_start(&l->poll, UV_READABLE, on_readable)) != 0) {
		listener_close(l);
		return err;
	}
	addr_text(&bound.sa, l->ip, sizeof(l->ip), &l->port);
	l->wildcard = is_wildcard(&bound);
	l->stats_slot = stats_listener(&bound.sa);
	log_begin(LOG_INFO, "listen");
	log_str("addr", l->ip);
	log_uint("port", l->port);
	if (fdname) {
		log_str("activated", "yes");
		log_str("name", fdname);
	}
	log_end();
	return 0;
}

static int bind_socket(const struct listen_addr *a)
{
	int fd, one = 1;
	socklen_t len = a->addr.sa.sa_family == AF_INET6 ? sizeof(a->addr.in6) : sizeof(a->addr.in);

	fd = socket(a->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (a->addr.sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, &a->addr.sa, len) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int listener_open(struct listener *l, uv_loop_t *loop, const struct listen_addr *a,
		  listener_cb accepted)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->accepted = accepted;
	if ((l->fd = bind_socket(a)) < 0)
		return l->fd;
	if ((err = start_listening(l, loop, NULL)) != 0 && !uv_is_closing((uv_handle_t *)&l->poll))
		close(l->fd);
	return err;
}

int listener_adopt(struct listener *l, uv_loop_t *loop, int fd, const char *fdname,
		   listener_cb accepted)
{
	int type, err;
	socklen_t len = sizeof(type);

	memset(l, 0, sizeof(*l));
	l->accepted = accepted;
	l->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return -errno;
	if (type != SOCK_STREAM)
		return UV_EINVAL;
	if ((err = start_listening(l, loop, fdname)) != 0 &&
	    !uv_is_closing((uv_handle_t *)&l->poll))
		close(l->fd);
	return err;
}

/* Closing the poll handle stops watching at once, so the descriptor can go now. */
void listener_close(struct listener *l)
{
	if (uv_is_closing((uv_handle_t *)&l->poll))
		return;
	uv_close((uv_handle_t *)&l->poll, NULL);
	uv_close((uv_handle_t *)&l->rest, NULL);
	close(l->fd);
}
