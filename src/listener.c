#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "stats.h"

static bool is_wildcard(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct listener *l = p->data;

	if (status < 0) /* libuv stopped the handle: watch again shortly */
		listener_pause(l, 100);
	else
		l->ready(l);
}

static void on_rest_over(uv_timer_t *t)
{
	struct listener *l = t->data;

	uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

/* fdname: the name a service manager gave a passed socket, NULL for one bound here. */
static int start_listening(struct listener *l, uv_loop_t *loop, const char *fdname)
{
	union sockaddr_any bound;
	socklen_t len = sizeof(bound);
	int err;

	if (listen(l->fd, SOMAXCONN) != 0 || getsockname(l->fd, &bound.sa, &len) != 0)
		return -errno;
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
		  listener_cb ready)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->ready = ready;
	if ((l->fd = bind_socket(a)) < 0)
		return l->fd;
	if ((err = start_listening(l, loop, NULL)) != 0 && !uv_is_closing((uv_handle_t *)&l->poll))
		close(l->fd);
	return err;
}

int listener_adopt(struct listener *l, uv_loop_t *loop, int fd, const char *fdname,
		   listener_cb ready)
{
	int type, err;
	socklen_t len = sizeof(type);

	memset(l, 0, sizeof(*l));
	l->ready = ready;
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

void listener_pause(struct listener *l, unsigned ms)
{
	uv_poll_stop(&l->poll);
	uv_timer_start(&l->rest, on_rest_over, ms, 0);
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
