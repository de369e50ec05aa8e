/*
 * Log lines: key=value text or JSON, to stderr or syslog.
 *
 * Lines to stderr are gathered in one buffer and written once per loop turn (a prepare
 * handle flushes before the loop blocks), so a flood of connections costs one write()
 * per turn instead of one per connection. A crash (SIGKILL) loses at most the lines of
 * the turn in progress; every clean exit flushes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_BUF_SIZE (64 * 1024)
#define LOG_LINE_MAX 2048

static struct {
	bool configured;
	struct log_settings set;
	uv_prepare_t flush;
	bool attached;
	int priority;
	bool cut;     /* the line ran out of room: later fields are left out */
	size_t start; /* where the line being built begins in buf */
	size_t len;
	char buf[LOG_BUF_SIZE];
	time_t ts_sec; /* the second whose text is cached in ts_text */
	char ts_text[32];
} lg;

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report to */
		p += w;
		n -= (size_t)w;
	}
}

void log_flush(void)
{
	write_all(lg.buf, lg.len);
	lg.len = 0;
}

static void on_prepare(uv_prepare_t *h)
{
	if (lg.len > 0)
		log_flush();
}

int log_attach(uv_loop_t *loop)
{
	int err = uv_prepare_init(loop, &lg.flush);
	if (err == 0)
		err = uv_prepare_start(&lg.flush, on_prepare);
	if (err == 0) {
		uv_unref((uv_handle_t *)&lg.flush);
		lg.attached = true;
	}
	return err;
}

void log_stop(void)
{
	log_flush();
	if (lg.attached)
		uv_close((uv_handle_t *)&lg.flush, NULL);
	lg.attached = false;
}

void log_configure(const struct log_settings *s)
{
	log_flush();
	if (lg.configured && lg.set.target == LOG_TARGET_SYSLOG)
		closelog();
	lg.set = *s;
	lg.configured = true;
	if (s->target == LOG_TARGET_SYSLOG)
		openlog("nullmxd", LOG_PID | LOG_NDELAY, s->facility);
}

/* Room left in the line, keeping one byte for JSON's closing brace. */
static size_t room(void)
{
	size_t used = lg.len - lg.start;

	return used + 1 < LOG_LINE_MAX ? LOG_LINE_MAX - used - 1 : 0;
}

/* log_begin made room for a whole line; callers check room() first. */
static void put(const char *p, size_t n)
{
	if (n > room())
		return;
	memcpy(lg.buf + lg.len, p, n);
	lg.len += n;
}

static void puts_(const char *s)
{
	put(s, strlen(s));
}

/* printf costs more than the rest of a connection's user time: digits by hand. */
static size_t format_uint(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0, len;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (len = n; n > 0; n--)
		out[len - n] = tmp[n - 1];
	return len;
}

/* RFC 3339, UTC, milliseconds; the date part changes once a second. */
static void put_timestamp(void)
{
	struct timespec ts;
	long ms;
	char frac[6] = ".000Z";

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != lg.ts_sec || lg.ts_text[0] == '\0') {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(lg.ts_text, sizeof(lg.ts_text), "%Y-%m-%dT%H:%M:%S", &tm);
		lg.ts_sec = ts.tv_sec;
	}
	puts_(lg.ts_text);
	ms = ts.tv_nsec / 1000000;
	frac[1] = (char)('0' + ms / 100);
	frac[2] = (char)('0' + ms / 10 % 10);
	frac[3] = (char)('0' + ms % 10);
	put(frac, 5);
}

static bool json(void)
{
	return lg.set.format == LOG_FORMAT_JSON;
}

/* Text values go bare when they are one safe word, else quoted with escapes. */
static bool bare_word(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v; v++)
		if (*v <= ' ' || *v > '~' || *v == '"' || *v == '=' || *v == '\\')
			return false;
	return true;
}

/* A value too long for the line is cut short, but its closing quote is kept. */
static void put_quoted(const char *v)
{
	char esc[8];

	put("\"", 1);
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;
		size_t n;
		if (ch == '"' || ch == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\%c", ch);
		else if (ch < ' ' || ch > '~')
			n = (size_t)snprintf(esc, sizeof(esc), json() ? "\\u%04x" : "\\x%02x", ch);
		else
			n = (size_t)snprintf(esc, sizeof(esc), "%c", ch);
		if (n + 1 > room())
			break;
		put(esc, n);
	}
	put("\"", 1);
}

/* A field whose key and shortest value do not fit is left out, with every later one. */
static bool field_fits(const char *key, size_t min_value)
{
	if (!lg.cut && strlen(key) + 4 + min_value > room())
		lg.cut = true;
	return !lg.cut;
}

static void put_key(const char *key)
{
	if (json()) {
		put(",\"", 2);
		puts_(key);
		put("\":", 2);
	} else {
		put(" ", 1);
		puts_(key);
		put("=", 1);
	}
}

void log_begin(int priority, const char *event)
{
	if (sizeof(lg.buf) - lg.len < LOG_LINE_MAX + 2)
		log_flush();
	lg.priority = priority;
	lg.start = lg.len;
	lg.cut = false;
	if (json()) {
		puts_("{\"ts\":\"");
		put_timestamp();
		puts_("\",\"event\":\"");
		puts_(event);
		put("\"", 1);
	} else {
		puts_("ts=");
		put_timestamp();
		puts_(" event=");
		puts_(event);
	}
}

void log_str(const char *key, const char *value)
{
	if (!field_fits(key, 2))
		return;
	put_key(key);
	if (json() || !bare_word(value) || strlen(value) > room())
		put_quoted(value);
	else
		puts_(value);
}

void log_uint(const char *key, uint64_t value)
{
	char num[24];

	if (!field_fits(key, 20))
		return;
	put_key(key);
	put(num, format_uint(num, value));
}

void log_end(void)
{
	if (json())
		lg.buf[lg.len++] = '}'; /* room() kept a byte for it */
	lg.buf[lg.len++] = '\n';        /* and log_begin one past LOG_LINE_MAX */
	if (lg.configured && lg.set.target == LOG_TARGET_SYSLOG) {
		syslog(lg.priority, "%.*s", (int)(lg.len - lg.start - 1), lg.buf + lg.start);
		lg.len = lg.start;
	} else if (!lg.attached) {
		log_flush();
	}
}

__attribute__((format(printf, 4, 0))) static void
vmessage(int priority, const char *event, bool with_errno, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (with_errno && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
	if (!lg.configured) {
		log_flush();
		fprintf(stderr, "nullmxd: %s\n", msg);
		return;
	}
	log_begin(priority, event);
	log_str("msg", msg);
	log_end();
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(LOG_WARNING, "warning", true, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(LOG_WARNING, "warning", false, fmt, ap);
	va_end(ap);
}

void fatalx(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(LOG_ERR, "fatal", false, fmt, ap);
	va_end(ap);
	log_flush();
	exit(status);
}
