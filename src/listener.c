#include <string.h>

#include "listener.h"
#include "log.h"

static bool is_wildcard(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

/* fdname: the name a service manager gave a passed socket, NULL for one bound here. */
static int start_listening(struct listener *l, uv_connection_cb cb, const char *fdname)
{
	union sockaddr_any bound;
	int len = sizeof(bound);
	int err;

	if ((err = uv_listen((uv_stream_t *)&l->tcp, SOMAXCONN, cb)) != 0 ||
	    (err = uv_tcp_getsockname(&l->tcp, &bound.sa, &len)) != 0)
		return err;
	addr_text(&bound.sa, l->ip, sizeof(l->ip), &l->port);
	l->wildcard = is_wildcard(&bound);
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

/* The retry timer serves conn.c when it must accept without memory (refuse()). */
static int init_handles(struct listener *l, uv_loop_t *loop)
{
	int err;

	memset(l, 0, sizeof(*l));
	if ((err = uv_tcp_init(loop, &l->tcp)) != 0)
		return err;
	l->tcp.data = l;
	uv_timer_init(loop, &l->retry);
	return 0;
}

int listener_open(struct listener *l, uv_loop_t *loop, const struct listen_addr *a,
		  uv_connection_cb cb)
{
	unsigned flags = a->addr.sa.sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
	int err;

	if ((err = init_handles(l, loop)) != 0)
		return err;
	if ((err = uv_tcp_bind(&l->tcp, &a->addr.sa, flags)) != 0 ||
	    (err = start_listening(l, cb, NULL)) != 0)
		listener_close(l);
	return err;
}

int listener_adopt(struct listener *l, uv_loop_t *loop, int fd, const char *fdname,
		   uv_connection_cb cb)
{
	int err;

	if ((err = init_handles(l, loop)) != 0)
		return err;
	if ((err = uv_tcp_open(&l->tcp, fd)) != 0 || (err = start_listening(l, cb, fdname)) != 0)
		listener_close(l);
	return err;
}

void listener_close(struct listener *l)
{
	if (!uv_is_closing((uv_handle_t *)&l->tcp)) {
		uv_close((uv_handle_t *)&l->tcp, NULL);
		uv_close((uv_handle_t *)&l->retry, NULL);
	}
}
