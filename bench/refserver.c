/*
 * refserver: the floor for nullmxd's benchmark. An epoll loop that accepts,
 * writes the same 521 reply nullmxd sends and closes: three syscalls per
 * connection, no log, no drain. With -k it keeps each connection after the
 * reply, discarding input until the client closes, so that hold tests have
 * a bare peer too.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

static char reply[1024];
static size_t reply_len;
static int keep;
static int epfd;
static int lfd;
static char rbuf[4096];

static void usage(void)
{
	fprintf(stderr, "usage: refserver [-a ADDR] [-p PORT] [-H HOSTNAME] [-k]\n");
	exit(2);
}

static int listen_on(const char *addr, long port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(sin);
	int one = 1;
	int fd;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		usage();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	printf("event=listen addr=%s port=%u\n", addr, ntohs(sin.sin_port));
	fflush(stdout);
	return fd;
}

/* Out of descriptors: the pending connection stays queued and the listener
 * stays readable, so wait a little instead of spinning. */
static void accept_backoff(void)
{
	struct timespec ts = {.tv_nsec = 1000000};

	nanosleep(&ts, NULL);
}

static void on_accept(void)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				accept_backoff();
			return;
		}
		if (write(fd, reply, reply_len) < 0 || !keep) {
			close(fd);
			continue;
		}
		ev.data.fd = fd;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

static void on_readable(int fd)
{
	for (;;) {
		ssize_t n = read(fd, rbuf, sizeof(rbuf));

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close(fd);
		return;
	}
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void serve(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[MAX_EVENTS];

	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				on_accept();
			else
				on_readable(evs[i].data.fd);
		}
	}
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *host = "bench.example";
	long port = 0;
	int c;

	while ((c = getopt(argc, argv, "a:p:H:k")) != -1) {
		if (c == 'a')
			addr = optarg;
		else if (c == 'p')
			port = strtol(optarg, NULL, 10);
		else if (c == 'H')
			host = optarg;
		else if (c == 'k')
			keep = 1;
		else
			usage();
	}
	if (port < 0 || port > 65535 || strlen(host) > 200)
		usage();
	reply_len = (size_t)snprintf(reply, sizeof(reply),
				     "521-%s does not accept mail\r\n"
				     "521 5.3.2 %s does not accept mail\r\n",
				     host, host);
	raise_nofile();
	lfd = listen_on(addr, port);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || epfd < 0) {
		perror("refserver");
		return 1;
	}
	serve();
}
