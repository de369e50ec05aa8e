/*
 * loadgen: connection load generator for nullmxd's benchmark.
 *
 * Load mode keeps -c connections in flight for -d seconds: connect, read the
 * reply (to EOF, to the end of the reply, or send QUIT and read to EOF), check
 * its code, close. Hold mode (-H K) opens K connections, reads each greeting
 * and keeps them idle for -d seconds; with -P N each sends N empty command lines
 * after the greeting and never reads again, from a small receive window and an
 * Internet-sized segment (the worst client of a session). One epoll loop, one
 * thread. The result is one key=value line on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ull
#define NS_PER_SEC 1000000000ull
#define FINE_US 65536
#define COARSE_MS 65536
#define MAX_EVENTS 256
#define RAMP_SEC 60

enum end_mode { END_EOF, END_REPLY, END_QUIT };
enum phase { PH_FREE, PH_REPLY, PH_QUIT, PH_HELD };

enum err_kind {
	ERR_REFUSED,
	ERR_RESET,
	ERR_TIMEOUT,
	ERR_BADREPLY,
	ERR_EMPTY,
	ERR_ADDR,
	ERR_OTHER,
	ERR_MAX,
};

static const char *const err_names[ERR_MAX] = {
	"refused", "reset", "timeout", "badreply", "empty", "addrnotavail", "other",
};

struct slot {
	int fd;
	enum phase phase;
	uint64_t start_ns;
	uint32_t got;
	uint32_t linepos;
	char fourth;
	int bad;
	int complete;
};

struct opts {
	struct sockaddr_in addr;
	unsigned conc;
	double secs;
	uint64_t max_conns;
	uint64_t timeout_ns;
	enum end_mode end;
	int rst;
	unsigned hold;
	unsigned pipeline; /* -P: empty lines each held connection sends, never reading */
	char code[4];
};

struct stats {
	uint64_t started;
	uint64_t ok;
	uint64_t held;
	uint64_t halfclosed;
	uint64_t dropped;
	uint64_t piped; /* bytes of -P lines the kernel took */
	uint64_t err[ERR_MAX];
	uint32_t fine[FINE_US];
	uint32_t coarse[COARSE_MS];
};

static struct opts opt;
static struct stats st;
static struct slot *slots;
static unsigned nslots;
static unsigned *freelist;
static unsigned nfree;
static unsigned active;
static int epfd;
static volatile sig_atomic_t stop_flag;
static char rbuf[4096];
static char *lines; /* -P's empty lines */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen -p PORT [-a ADDR] [-c CONC] [-d SECONDS] [-n MAX]\n"
			"               [-t TIMEOUT_MS] [-m eof|reply|quit] [-l fin|rst]\n"
			"               [-H HOLD] [-P LINES] [-x CODE]\n");
	exit(2);
}

static void record_latency(uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (us < FINE_US)
		st.fine[us]++;
	else if (us / 1000 < COARSE_MS)
		st.coarse[us / 1000]++;
	else
		st.coarse[COARSE_MS - 1]++;
}

static uint64_t percentile_us(double p)
{
	uint64_t want = (uint64_t)(p * (double)st.ok + 0.5);
	uint64_t seen = 0;

	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < FINE_US; i++) {
		seen += st.fine[i];
		if (seen >= want)
			return i;
	}
	for (unsigned i = 0; i < COARSE_MS; i++) {
		seen += st.coarse[i];
		if (seen >= want)
			return (uint64_t)i * 1000;
	}
	return 0;
}

static enum err_kind errno_kind(int e)
{
	switch (e) {
	case ECONNREFUSED: return ERR_REFUSED;
	case ECONNRESET:
	case EPIPE: return ERR_RESET;
	case ETIMEDOUT: return ERR_TIMEOUT;
	case EADDRNOTAVAIL:
	case EADDRINUSE: return ERR_ADDR;
	default: return ERR_OTHER;
	}
}

static void slot_release(struct slot *s)
{
	if (opt.rst) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(s->fd);
	s->fd = -1;
	s->phase = PH_FREE;
	freelist[nfree++] = (unsigned)(s - slots);
	active--;
}

static void slot_fail(struct slot *s, enum err_kind kind)
{
	st.err[kind]++;
	slot_release(s);
}

static void slot_done(struct slot *s)
{
	st.ok++;
	record_latency(now_ns() - s->start_ns);
	slot_release(s);
}

/* Follows the reply byte by byte: its first three bytes must be the
 * expected code, and a line whose fourth byte is a space ends it. */
static void reply_scan(struct slot *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !s->complete; i++) {
		if (s->got < 3 && p[i] != opt.code[s->got])
			s->bad = 1;
		s->got++;
		if (s->linepos == 3)
			s->fourth = p[i];
		s->linepos++;
		if (p[i] == '\n') {
			s->complete = s->fourth == ' ';
			s->linepos = 0;
		}
	}
}

/* Pipelines the empty lines and stops reading for good: replies pile up at the server. */
static void never_read(struct slot *s)
{
	ssize_t n = send(s->fd, lines, opt.pipeline, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n > 0)
		st.piped += (uint64_t)n;
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
}

static void reply_complete(struct slot *s)
{
	static const char quit[] = "QUIT\r\n";

	if (s->bad) {
		slot_fail(s, ERR_BADREPLY);
	} else if (opt.hold) {
		s->phase = PH_HELD;
		st.held++;
		if (opt.pipeline)
			never_read(s);
	} else if (opt.end == END_REPLY) {
		slot_done(s);
	} else if (opt.end == END_QUIT) {
		if (write(s->fd, quit, sizeof(quit) - 1) < 0)
			slot_fail(s, errno_kind(errno));
		else
			s->phase = PH_QUIT;
	}
}

/* A client that never closes keeps its end open after the server's FIN;
 * the server may still hold the connection (draining), which is what a
 * hold test measures. The socket stays readable at EOF, so leave epoll. */
static void on_eof(struct slot *s)
{
	if (s->phase == PH_HELD) {
		st.halfclosed++;
		epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
	} else if (s->phase == PH_QUIT) {
		slot_done(s);
	} else if (s->got == 0) {
		slot_fail(s, ERR_EMPTY);
	} else if (s->bad || s->got < 3 || opt.end != END_EOF || opt.hold) {
		slot_fail(s, ERR_BADREPLY);
	} else {
		slot_done(s);
	}
}

static void on_error(struct slot *s, int e)
{
	if (s->phase == PH_HELD) {
		st.held--;
		st.dropped++;
		slot_release(s);
	} else {
		slot_fail(s, errno_kind(e));
	}
}

static void on_readable(struct slot *s)
{
	for (;;) {
		ssize_t n = read(s->fd, rbuf, sizeof(rbuf));

		if (n > 0) {
			if (s->phase != PH_REPLY || s->complete)
				continue;
			reply_scan(s, rbuf, (size_t)n);
			if (s->complete)
				reply_complete(s);
			if (s->phase == PH_FREE || (s->phase == PH_HELD && opt.pipeline))
				return;
		} else if (n == 0) {
			on_eof(s);
			return;
		} else if (errno == EINTR) {
			continue;
		} else {
			if (errno != EAGAIN)
				on_error(s, errno);
			return;
		}
	}
}

/* Returns 0 when a connection was started (or failed at once and was
 * counted), -1 when the failure means trying again right away is useless. */
static int conn_start(void)
{
	struct slot *s = &slots[freelist[nfree - 1]];
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	st.started++;
	if (fd < 0) {
		st.err[ERR_OTHER]++;
		return -1;
	}
	if (opt.pipeline) {
		int rcvbuf = 4096, mss = 1400;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	}
	if (connect(fd, (struct sockaddr *)&opt.addr, sizeof(opt.addr)) < 0 &&
	    errno != EINPROGRESS) {
		st.err[errno_kind(errno)]++;
		close(fd);
		return -1;
	}
	nfree--;
	active++;
	*s = (struct slot){.fd = fd, .phase = PH_REPLY, .start_ns = now_ns()};
	ev.data.u32 = (uint32_t)(s - slots);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		slot_fail(s, ERR_OTHER);
		return -1;
	}
	return 0;
}

static void expire(uint64_t now)
{
	for (unsigned i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];

		if (s->phase == PH_REPLY || s->phase == PH_QUIT) {
			if (now - s->start_ns > opt.timeout_ns)
				slot_fail(s, ERR_TIMEOUT);
		}
	}
}

static void dispatch(struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		struct slot *s = &slots[evs[i].data.u32];

		if (s->phase != PH_FREE)
			on_readable(s);
	}
}

/* Runs the loop until done() is true. want() says how many connections
 * should be in flight now. */
static void run_loop(uint64_t deadline, int (*done)(uint64_t), unsigned (*want)(void))
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t next_scan = 0, retry_at = 0;

	for (;;) {
		uint64_t now = now_ns();
		int n;

		if (now >= next_scan) {
			expire(now);
			next_scan = now + 50 * NS_PER_MS;
		}
		if (done(now) || now >= deadline)
			return;
		while (now >= retry_at && active < want() && nfree > 0) {
			if (conn_start() < 0)
				retry_at = now + NS_PER_MS;
		}
		n = epoll_wait(epfd, evs, MAX_EVENTS, active ? 50 : 1);
		if (n > 0)
			dispatch(evs, n);
	}
}

static uint64_t load_deadline;

static unsigned want_load(void)
{
	if (stop_flag || now_ns() >= load_deadline)
		return 0;
	if (opt.max_conns && st.started >= opt.max_conns)
		return 0;
	return opt.conc;
}

static int done_load(uint64_t now)
{
	(void)now;
	return active == 0 && want_load() == 0;
}

static unsigned want_ramp(void)
{
	unsigned pending = active - (unsigned)st.held;

	if (stop_flag || st.started >= 2ull * opt.hold)
		return active;
	if (st.held + pending >= opt.hold)
		return active;
	return active + (pending < opt.conc ? opt.conc - pending : 0);
}

static int done_ramp(uint64_t now)
{
	(void)now;
	if (stop_flag || st.held >= opt.hold)
		return 1;
	return st.started >= 2ull * opt.hold && active == st.held;
}

static unsigned want_none(void)
{
	return 0;
}

static int done_hold(uint64_t now)
{
	(void)now;
	return stop_flag || st.held == 0;
}

static void print_result(const char *mode, uint64_t t0, uint64_t t1)
{
	struct rusage ru;
	double secs = (double)(t1 - t0) / NS_PER_SEC;
	double cpu_us;

	getrusage(RUSAGE_SELF, &ru);
	cpu_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
		 (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
	printf("mode=%s started=%llu ok=%llu secs=%.3f rate=%.0f p50_us=%llu p99_us=%llu", mode,
	       (unsigned long long)st.started, (unsigned long long)st.ok, secs,
	       secs > 0 ? (double)st.ok / secs : 0.0, (unsigned long long)percentile_us(0.50),
	       (unsigned long long)percentile_us(0.99));
	if (opt.hold)
		printf(" held=%llu halfclosed=%llu dropped=%llu piped=%llu",
		       (unsigned long long)st.held, (unsigned long long)st.halfclosed,
		       (unsigned long long)st.dropped, (unsigned long long)st.piped);
	for (int k = 0; k < ERR_MAX; k++)
		printf(" err_%s=%llu", err_names[k], (unsigned long long)st.err[k]);
	printf(" client_cpu_us=%.0f\n", cpu_us);
	fflush(stdout);
}

static void release_all(void)
{
	for (unsigned i = 0; i < nslots; i++) {
		if (slots[i].phase != PH_FREE)
			slot_release(&slots[i]);
	}
}

static void run_load(void)
{
	uint64_t t0 = now_ns();

	load_deadline = t0 + (uint64_t)(opt.secs * NS_PER_SEC);
	run_loop(load_deadline + opt.timeout_ns + NS_PER_SEC, done_load, want_load);
	release_all();
	print_result("load", t0, now_ns());
}

/* The first line says the connections are held (the caller measures the
 * server then); the second comes when the hold ends. */
static void run_hold(void)
{
	uint64_t t0 = now_ns();

	run_loop(t0 + RAMP_SEC * NS_PER_SEC, done_ramp, want_ramp);
	print_result("ramp", t0, now_ns());
	t0 = now_ns();
	run_loop(t0 + (uint64_t)(opt.secs * NS_PER_SEC), done_hold, want_none);
	print_result("hold", t0, now_ns());
	release_all();
}

static int parse_addr(const char *s, uint16_t port)
{
	opt.addr.sin_family = AF_INET;
	opt.addr.sin_port = htons(port);
	return inet_pton(AF_INET, s, &opt.addr.sin_addr) == 1 ? 0 : -1;
}

static int parse_end(const char *s)
{
	if (strcmp(s, "eof") == 0)
		opt.end = END_EOF;
	else if (strcmp(s, "reply") == 0)
		opt.end = END_REPLY;
	else if (strcmp(s, "quit") == 0)
		opt.end = END_QUIT;
	else
		return -1;
	return 0;
}

static void parse_opt(int c, const char *arg, const char **addr, long *port)
{
	switch (c) {
	case 'a': addr[0] = arg; break;
	case 'p': *port = strtol(arg, NULL, 10); break;
	case 'c': opt.conc = (unsigned)strtoul(arg, NULL, 10); break;
	case 'd': opt.secs = strtod(arg, NULL); break;
	case 'n': opt.max_conns = strtoull(arg, NULL, 10); break;
	case 't': opt.timeout_ns = strtoull(arg, NULL, 10) * NS_PER_MS; break;
	case 'm':
		if (parse_end(arg) < 0)
			usage();
		break;
	case 'l': opt.rst = strcmp(arg, "rst") == 0; break;
	case 'H': opt.hold = (unsigned)strtoul(arg, NULL, 10); break;
	case 'P': opt.pipeline = (unsigned)strtoul(arg, NULL, 10); break;
	case 'x':
		if (strlen(arg) != 3)
			usage();
		memcpy(opt.code, arg, 4);
		break;
	default: usage();
	}
}

static void parse_opts(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	long port = 0;
	int c;

	opt.conc = 64;
	opt.secs = 5;
	opt.timeout_ns = 5000 * NS_PER_MS;
	memcpy(opt.code, "521", 4);
	while ((c = getopt(argc, argv, "a:p:c:d:n:t:m:l:H:P:x:")) != -1)
		parse_opt(c, optarg, &addr, &port);
	if (port <= 0 || port > 65535 || opt.conc == 0 || opt.secs <= 0 ||
	    (opt.pipeline && !opt.hold) || opt.pipeline > 1024 * 1024 ||
	    parse_addr(addr, (uint16_t)port) < 0)
		usage();
}

/* Hold mode needs a descriptor per held connection: take the hard limit. */
static void raise_nofile(unsigned need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need + 16)
		fprintf(stderr, "loadgen: RLIMIT_NOFILE %llu is below %u\n",
			(unsigned long long)rl.rlim_cur, need + 16);
}

static void setup(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	nslots = opt.hold ? opt.hold : opt.conc;
	slots = calloc(nslots, sizeof(*slots));
	freelist = calloc(nslots, sizeof(*freelist));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!slots || !freelist || epfd < 0) {
		perror("loadgen: setup");
		exit(1);
	}
	for (unsigned i = 0; i < nslots; i++)
		freelist[nfree++] = nslots - 1 - i;
	if (opt.pipeline && (lines = malloc(opt.pipeline)) != NULL)
		memset(lines, '\n', opt.pipeline);
	if (opt.pipeline && !lines) {
		perror("loadgen: setup");
		exit(1);
	}
	raise_nofile(nslots);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	parse_opts(argc, argv);
	setup();
	if (opt.hold)
		run_hold();
	else
		run_load();
	return 0;
}
