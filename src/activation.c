/*
 * Socket activation without libsystemd: sd_listen_fds(3) is three environment variables
 * and a range of descriptors. The variables are unset once read, so nothing started
 * later mistakes the sockets for its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "activation.h"
#include "log.h"

#define LISTEN_FDS_START 3

static struct {
	struct activated *fds;
	size_t n;
	bool active;
} act;

static long parse_count(const char *text)
{
	char *end;
	long v;

	if (!text || !*text)
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	return errno || *end || v < 0 ? -1 : v;
}

/* Takes the next ':'-separated name off *names; an absent list gives "unknown". */
static void next_name(const char **names, char *out, size_t len)
{
	const char *p = *names ? *names : "", *colon = strchr(p, ':');
	size_t n = colon ? (size_t)(colon - p) : strlen(p);

	if (!*names || n == 0 || n >= len) {
		snprintf(out, len, "unknown");
	} else {
		memcpy(out, p, n);
		out[n] = '\0';
	}
	if (*names)
		*names = colon ? colon + 1 : NULL;
}

static int check_socket(struct activated *a)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type), alen = sizeof(a->addr);

	if (fcntl(a->fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    getsockopt(a->fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    (len = sizeof(listening),
	     getsockopt(a->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) ||
	    getsockname(a->fd, &a->addr.sa, &alen) != 0) {
		log_warn("socket activation: fd %d (%s)", a->fd, a->name);
		return -1;
	}
	if (type != SOCK_STREAM || !listening ||
	    (a->addr.sa.sa_family != AF_INET && a->addr.sa.sa_family != AF_INET6)) {
		log_warnx("socket activation: fd %d (%s) is not a listening TCP socket; "
			  "use ListenStream= with an IP address or port",
			  a->fd, a->name);
		return -1;
	}
	return 0;
}

int activation_init(void)
{
	long pid = parse_count(getenv("LISTEN_PID"));
	long n = parse_count(getenv("LISTEN_FDS"));
	const char *names = getenv("LISTEN_FDNAMES");
	int rc = 0;

	if (pid == (long)getpid() && n > 0 && n <= CONFIG_LISTEN_MAX) {
		act.fds = calloc((size_t)n, sizeof(*act.fds));
		rc = act.fds ? 0 : -1;
		for (long i = 0; act.fds && i < n; i++) {
			struct activated *a = &act.fds[act.n++];
			a->fd = LISTEN_FDS_START + (int)i;
			next_name(&names, a->name, sizeof(a->name));
			if (check_socket(a) != 0)
				rc = -1;
		}
		act.active = true;
	} else if (pid == (long)getpid() && n != 0) {
		log_warnx("socket activation: LISTEN_FDS=%s: want 1 to %d sockets",
			  getenv("LISTEN_FDS"), CONFIG_LISTEN_MAX);
		rc = -1;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc < 0 ? -1 : (int)act.n;
}

bool activation_active(void)
{
	return act.active;
}

static bool same_addr(const union sockaddr_any *a, const union sockaddr_any *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr)) == 0;
}

struct activated *activation_take(const union sockaddr_any *addr)
{
	for (size_t i = 0; i < act.n; i++)
		if (!act.fds[i].taken && same_addr(&act.fds[i].addr, addr)) {
			act.fds[i].taken = true;
			return &act.fds[i];
		}
	return NULL;
}

struct activated *activation_next_untaken(void)
{
	for (size_t i = 0; i < act.n; i++)
		if (!act.fds[i].taken) {
			act.fds[i].taken = true;
			return &act.fds[i];
		}
	return NULL;
}

void activation_done(void)
{
	for (size_t i = 0; i < act.n; i++)
		if (!act.fds[i].taken)
			close(act.fds[i].fd);
	free(act.fds);
	act.fds = NULL;
	act.n = 0;
}
