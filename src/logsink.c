/*
 * Log targets behind a bounded queue: the event loop never waits for one.
 *
 * A stalled journald or syslog daemon, or a pipe nobody reads, would stop every client
 * if a log write could block. So every write is non-blocking; what the target does not
 * take waits in the queue (1 MiB, about ten seconds of log.max_lines_per_second's
 * default) while the loop polls the target for room. Once the queue is full, whole
 * lines are dropped and counted until it has drained to half; then one
 * "event=log_dropped count=N" line marks where they went missing.
 *
 * syslog(3) cannot be told not to wait (glibc's send() on /dev/log blocks while the
 * syslog daemon's queue is full), so the syslog target writes the datagram glibc would,
 * "<PRI>Mmm dd hh:mm:ss nullmxd[PID]: line" (RFC 3164), on a non-blocking socket of its
 * own. The journal target writes native entries the same way (see put_journal);
 * libsystemd's sd_journal_send() blocks just like syslog(3).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "logsink.h"

#define RETRY_MS 1000      /* a socket that is not there (yet): journald restarting */
#define FLUSH_WAIT_MS 2000 /* at exit, for a target that takes nothing */

static const char journal_socket[] = "/run/systemd/journal/socket";
static const char syslog_socket[] = "/dev/log";

static struct {
	bool configured;
	enum log_target target;
	int facility;
	int fd;         /* the target's descriptor; -1 while a socket is not connected */
	bool datagrams; /* one datagram per line, each queued after its length */
	bool socket;    /* send() with MSG_DONTWAIT */
	int err_fd;     /* stderr as written: see stderr_open() */
	bool err_socket, err_prefix, err_ready;
	uv_loop_t *loop;
	uv_prepare_t prepare;
	uv_timer_t retry;
	uv_poll_t *poll; /* allocated per descriptor: a closing handle cannot be reused */
	bool attached, waiting, dropping;
	bool closed;  /* stderr's reader is gone: lines are only counted until a reload */
	bool failing; /* stderr refused a write (ENOSPC, EIO): tried again after RETRY_MS */
	bool midline; /* the last write to stderr ended inside a line */
	uint64_t dropped, dropped_total;
	void (*report)(uint64_t dropped); /* writes the line that says so */
	pid_t pid;
	time_t stamp_sec;
	char stamp[20]; /* the syslog header's local time, cached for stamp_sec */
	size_t head, tail;
	char q[SINK_QUEUE_SIZE];
} sk = {.fd = -1, .err_fd = -1};

static void flush(void);

/* $JOURNAL_STREAM names the journal's stream as "device:inode" (systemd.exec(5)). */
static bool is_journal_stream(const struct stat *st)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;

	return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && st->st_dev == (dev_t)dev &&
	       st->st_ino == (ino_t)ino;
}

/*
 * O_NONBLOCK on descriptor 2 would change the open file it shares with whoever started
 * us (a shell's terminal, a supervisor's pipe). A pipe or terminal is opened anew
 * through /proc, a non-blocking open file of our own; a socket (the journal's stream)
 * takes MSG_DONTWAIT on each send; a regular file never waits for a reader. Done once,
 * while still privileged: the pipe may belong to root.
 */
static void stderr_open(void)
{
	struct stat st;
	int fd, fl;

	if (sk.err_ready)
		return;
	sk.err_ready = true;
	sk.err_fd = STDERR_FILENO;
	if (fstat(STDERR_FILENO, &st) != 0)
		return;
	sk.err_prefix = is_journal_stream(&st);
	sk.err_socket = S_ISSOCK(st.st_mode);
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return;
	fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0)
		sk.err_fd = fd;
	else if ((fl = fcntl(STDERR_FILENO, F_GETFL)) >= 0) /* shared, but never blocking */
		fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK);
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		fd = -1;
	}
	return fd;
}

static void on_poll_close(uv_handle_t *h)
{
	free(h);
}

static void close_target(void)
{
	if (sk.poll)
		uv_close((uv_handle_t *)sk.poll, on_poll_close);
	sk.poll = NULL;
	sk.waiting = false;
	if (sk.datagrams && sk.fd >= 0)
		close(sk.fd);
	sk.fd = -1;
}

static bool open_target(void)
{
	if (sk.target == LOG_TARGET_STDERR) {
		stderr_open();
		sk.fd = sk.err_fd;
		sk.socket = sk.err_socket;
	} else {
		sk.fd = connect_socket(sk.target == LOG_TARGET_JOURNAL ? journal_socket
								       : syslog_socket);
		sk.socket = true;
	}
	return sk.fd >= 0;
}

static size_t used(void)
{
	return sk.tail - sk.head;
}

/* Lines lost from the queue after its first keep bytes: its datagrams, or its newlines. */
static void discard_queue(size_t keep)
{
	const char *p = sk.q + sk.head + keep, *end = sk.q + sk.tail;
	uint32_t len;

	for (; p < end; sk.dropped++, sk.dropped_total++) {
		if (sk.datagrams) {
			memcpy(&len, p, sizeof(len));
			p += sizeof(len) + len;
		} else if (!(p = memchr(p, '\n', (size_t)(end - p)))) {
			p = end;
		} else {
			p++;
		}
	}
	sk.tail = sk.head + keep;
}

static void on_writable(uv_poll_t *h, int status, int events)
{
	uv_poll_stop(h);
	sk.waiting = false;
	flush();
}

static void on_retry(uv_timer_t *t)
{
	sk.waiting = false;
	sk.failing = false;
	flush();
}

/* Outside the loop (before it runs, in tests, at exit) sink_flush() waits instead. */
static void wait_retry(void)
{
	if (sk.attached) {
		uv_timer_start(&sk.retry, on_retry, RETRY_MS, 0);
		sk.waiting = true;
	}
}

static void wait_writable(void)
{
	if (!sk.attached)
		return;
	if (!sk.poll && (sk.poll = malloc(sizeof(*sk.poll))) != NULL) {
		int fl = fcntl(sk.fd, F_GETFL);
		if (uv_poll_init(sk.loop, sk.poll, sk.fd) == 0) {
			uv_unref((uv_handle_t *)sk.poll);
		} else {
			free(sk.poll);
			sk.poll = NULL;
		}
		/* libuv set O_NONBLOCK, on the journal's stream shared with our parent too */
		if (fl >= 0)
			fcntl(sk.fd, F_SETFL, fl);
	}
	if (sk.poll && uv_poll_start(sk.poll, UV_WRITABLE, on_writable) == 0)
		sk.waiting = true;
	else
		wait_retry(); /* a descriptor epoll refuses */
}

enum progress { SENT, BUSY, GONE, FAILED };

/*
 * A full disk or an I/O error may pass: the lines queued are dropped and counted, and
 * so is every line until the next try, whose log_dropped line then marks the gap. The
 * rest of a line already half written is kept, so that two lines never run together.
 */
static enum progress stderr_failed(void)
{
	const char *nl = sk.midline ? memchr(sk.q + sk.head, '\n', used()) : NULL;

	discard_queue(nl ? (size_t)(nl + 1 - (sk.q + sk.head)) : 0);
	sk.dropping = true;
	sk.failing = true;
	return FAILED;
}

/* One write: of all the text queued, or of the first datagram. */
static enum progress send_next(void)
{
	const char *p = sk.q + sk.head;
	size_t n = used();
	uint32_t len = 0;
	ssize_t w;

	if (sk.datagrams) {
		memcpy(&len, p, sizeof(len));
		p += sizeof(len);
		n = len;
	}
	do
		w = sk.socket ? send(sk.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(sk.fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return BUSY;
	if (w < 0 && sk.datagrams && (errno == ECONNREFUSED || errno == ENOTCONN))
		return GONE; /* the daemon restarted: its socket is a new one */
	if (w < 0 && !sk.datagrams && (errno == EPIPE || errno == ECONNRESET || errno == EBADF)) {
		discard_queue(0); /* stderr's reader (or stderr) is gone: nobody will read these */
		sk.closed = true;
		return SENT;
	}
	if (w < 0 && !sk.datagrams)
		return stderr_failed();
	if (w < 0) { /* this datagram alone is refused (too long) */
		sk.dropped++;
		sk.dropped_total++;
	}
	if (!sk.datagrams && w > 0)
		sk.midline = p[w - 1] != '\n';
	sk.head += sk.datagrams ? sizeof(len) + len : (size_t)w;
	return SENT;
}

static void report_drops(void)
{
	uint64_t n = sk.dropped;

	sk.dropped = 0;
	sk.dropping = false;
	sk.report(n);
}

static void flush(void)
{
	bool reconnected = false;

	while (used() > 0) {
		enum progress p = sk.fd < 0 && !open_target() ? GONE : send_next();
		if (p == BUSY) {
			wait_writable();
			break;
		}
		if (p == FAILED) {
			wait_retry();
			break;
		}
		if (p == GONE) {
			close_target();
			if (reconnected || !open_target()) {
				wait_retry();
				break;
			}
			reconnected = true;
		}
	}
	if (used() == 0)
		sk.head = sk.tail = 0;
	if (sk.dropped > 0 && sk.report && used() <= SINK_QUEUE_SIZE / 2 && sk.fd >= 0 &&
	    !sk.closed && !sk.failing)
		report_drops();
}

static void on_prepare(uv_prepare_t *h)
{
	if (used() > 0 && !sk.waiting)
		flush();
}

int sink_attach(uv_loop_t *loop, void (*report)(uint64_t dropped))
{
	int err;

	stderr_open();
	sk.loop = loop;
	sk.report = report;
	if ((err = uv_prepare_init(loop, &sk.prepare)) != 0 ||
	    (err = uv_prepare_start(&sk.prepare, on_prepare)) != 0 ||
	    (err = uv_timer_init(loop, &sk.retry)) != 0)
		return err;
	uv_unref((uv_handle_t *)&sk.prepare);
	uv_unref((uv_handle_t *)&sk.retry);
	sk.attached = true;
	return 0;
}

/* Monotonic; the loop's own clock is not updated while sink_flush() waits. */
static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

void sink_flush(void)
{
	uint64_t deadline = now_ms() + FLUSH_WAIT_MS, now;

	sk.failing = false; /* outside the loop, no timer tries again: each call does */
	for (;;) {
		flush();
		if (used() == 0 || sk.fd < 0 || sk.failing || (now = now_ms()) >= deadline)
			return;
		struct pollfd pfd = {.fd = sk.fd, .events = POLLOUT};
		if (poll(&pfd, 1, (int)(deadline - now)) == 0)
			return;
	}
}

void sink_stop(void)
{
	bool was = sk.attached;

	sk.attached = false;
	sk.waiting = false;
	sink_flush();
	if (!was)
		return;
	close_target();
	uv_close((uv_handle_t *)&sk.prepare, NULL);
	uv_close((uv_handle_t *)&sk.retry, NULL);
}

/* On stderr, without waiting for it either. */
static void note_unreachable(const char *path)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg),
			 "%snullmxd: cannot reach %s: %s; log lines wait for it\n",
			 sk.err_prefix ? "<4>" : "", path, strerror(errno));

	if (n > 0 && (size_t)n < sizeof(msg) &&
	    (sk.err_socket ? send(sk.err_fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL)
			   : write(sk.err_fd, msg, (size_t)n)) < 0)
		return; /* nowhere to say it */
}

void sink_configure(enum log_target target, int facility)
{
	sk.facility = facility;
	sk.pid = getpid();
	if (sk.configured && target == sk.target && !sk.closed)
		return;
	if (sk.configured) {
		flush();
		discard_queue(0); /* queued in the old target's form: counted, reported */
		close_target();
	}
	stderr_open();
	sk.configured = true;
	sk.closed = false;
	sk.target = target;
	sk.datagrams = target != LOG_TARGET_STDERR;
	if (!open_target())
		note_unreachable(target == LOG_TARGET_JOURNAL ? journal_socket : syslog_socket);
}

uint64_t sink_dropped_total(void)
{
	return sk.dropped_total;
}

/* Room for n more bytes at the tail, moving the queue to the front if that makes it. */
static char *reserve(size_t n)
{
	if (sk.dropping || sk.closed || used() + n > SINK_QUEUE_SIZE) {
		sk.dropping = true;
		sk.dropped++;
		sk.dropped_total++;
		return NULL;
	}
	if (SINK_QUEUE_SIZE - sk.tail < n) {
		memmove(sk.q, sk.q + sk.head, used());
		sk.tail -= sk.head;
		sk.head = 0;
	}
	return sk.q + sk.tail;
}

/* A datagram's length goes before it; len is its size without that. */
static char *reserve_datagram(size_t len)
{
	uint32_t n = (uint32_t)len;
	char *p = reserve(sizeof(n) + len);

	if (p)
		memcpy(p, &n, sizeof(n));
	return p ? p + sizeof(n) : NULL;
}

/* "<4>" for the journal's stream: it files the line at that priority (sd-daemon(3)). */
static void put_stderr(int priority, const char *line, size_t len)
{
	char *p = reserve(len + 4);

	if (!p)
		return;
	if (sk.err_prefix) {
		p[0] = '<';
		p[1] = (char)('0' + LOG_PRI(priority));
		p[2] = '>';
		p += 3;
	}
	memcpy(p, line, len);
	p[len] = '\n';
	sk.tail = (size_t)(p + len + 1 - sk.q);
}

/* As glibc's syslog(3) writes it: local time, in the C locale's month names. */
static void put_syslog(int priority, const char *line, size_t len)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	char head[64], *p;
	time_t now = time(NULL);
	int n;

	if (now != sk.stamp_sec) {
		struct tm tm;
		localtime_r(&now, &tm);
		snprintf(sk.stamp, sizeof(sk.stamp), "%s %2d %02d:%02d:%02d", months[tm.tm_mon],
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		sk.stamp_sec = now;
	}
	n = snprintf(head, sizeof(head), "<%d>%s nullmxd[%ld]: ", LOG_PRI(priority) | sk.facility,
		     sk.stamp, (long)sk.pid);
	if ((p = reserve_datagram((size_t)n + len)) != NULL) {
		memcpy(p, head, (size_t)n);
		memcpy(p + n, line, len);
		sk.tail = (size_t)(p + n + len - sk.q);
	}
}

/*
 * A native journal entry: one datagram of "FIELD=value\n" lines (systemd's "Native
 * Journal Protocol"); the line is MESSAGE=, each log key a NULLMXD_ field.
 */
static void put_journal(int priority, const char *line, size_t len, const char *fields, size_t flen)
{
	char head[96], *p;
	int n = snprintf(head, sizeof(head),
			 "PRIORITY=%d\nSYSLOG_FACILITY=%d\nSYSLOG_IDENTIFIER=nullmxd\nMESSAGE=",
			 LOG_PRI(priority), LOG_FAC(sk.facility));

	if ((p = reserve_datagram((size_t)n + len + 1 + flen)) != NULL) {
		memcpy(p, head, (size_t)n);
		p += n;
		memcpy(p, line, len);
		p[len] = '\n';
		memcpy(p + len + 1, fields, flen);
		sk.tail = (size_t)(p + len + 1 + flen - sk.q);
	}
}

void sink_put(int priority, const char *line, size_t len, const char *fields, size_t flen)
{
	if (!sk.configured)
		sink_configure(LOG_TARGET_STDERR, LOG_MAIL);
	if (sk.target == LOG_TARGET_JOURNAL)
		put_journal(priority, line, len, fields, flen);
	else if (sk.target == LOG_TARGET_SYSLOG)
		put_syslog(priority, line, len);
	else
		put_stderr(priority, line, len);
	if (!sk.attached)
		sink_flush();
}
