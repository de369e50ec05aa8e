/*
 * sd_notify(3) without libsystemd: the protocol is one datagram of newline-separated
 * VAR=value assignments to an AF_UNIX socket named by $NOTIFY_SOCKET, a path or, with a
 * leading '@', a name in the abstract namespace. libsystemd would add a dependency for
 * about fifty lines, and it opens the socket anew for every message, which fails once
 * nullmxd has dropped root if the socket belongs to root.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define STATUS_INTERVAL_MS 5000
#define STATUS_MAX 200

static struct {
	int fd;
	bool warned;
	uv_timer_t timer;
	bool attached;
	notify_describe_fn *describe;
	char last_status[STATUS_MAX];
} nt = {.fd = -1};

static int connect_to(const char *name)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	socklen_t salen;
	int fd;

	if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof(sun.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	/* An abstract name is exactly len bytes long: no terminating NUL counts. */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, salen) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void notify_init(void)
{
	const char *name = getenv("NOTIFY_SOCKET");

	if (!name || !*name)
		return;
	nt.fd = connect_to(name);
	if (nt.fd < 0)
		log_warn("NOTIFY_SOCKET %s: cannot connect; the service manager will not hear "
			 "from nullmxd",
			 name);
	unsetenv("NOTIFY_SOCKET");
}

static void send_text(const char *text)
{
	if (nt.fd < 0)
		return;
	while (send(nt.fd, text, strlen(text), MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		if (!nt.warned)
			log_warn("NOTIFY_SOCKET: cannot send");
		nt.warned = true;
		return;
	}
}

static void send_status(bool force)
{
	char msg[STATUS_MAX + 8], text[STATUS_MAX];

	if (nt.fd < 0 || !nt.describe)
		return;
	nt.describe(text, sizeof(text));
	if (!force && strcmp(text, nt.last_status) == 0)
		return;
	memcpy(nt.last_status, text, sizeof(text));
	snprintf(msg, sizeof(msg), "STATUS=%s", text);
	send_text(msg);
}

static void on_status_timer(uv_timer_t *t)
{
	send_status(false);
}

int notify_attach(uv_loop_t *loop, notify_describe_fn *describe)
{
	int err;

	nt.describe = describe;
	if (nt.fd < 0)
		return 0;
	if ((err = uv_timer_init(loop, &nt.timer)) != 0)
		return err;
	nt.attached = true;
	uv_unref((uv_handle_t *)&nt.timer);
	return uv_timer_start(&nt.timer, on_status_timer, STATUS_INTERVAL_MS, STATUS_INTERVAL_MS);
}

void notify_ready(void)
{
	send_text("READY=1");
	send_status(true);
}

/* systemd 253+ matches RELOADING=1 to the reload it started by this clock reading. */
void notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	if (nt.fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	send_text(msg);
}

void notify_stopping(void)
{
	send_text("STOPPING=1");
}

void notify_status_now(void)
{
	send_status(true);
}

void notify_close(void)
{
	if (nt.attached && !uv_is_closing((uv_handle_t *)&nt.timer))
		uv_close((uv_handle_t *)&nt.timer, NULL);
	nt.attached = false;
	if (nt.fd >= 0)
		close(nt.fd);
	nt.fd = -1;
}
