/*
 * Log lines: key=value text or JSON, to stderr, syslog or the journal (logsink.c).
 *
 * A line is built here, then queued by logsink.c, which writes the queue once per loop
 * turn (before the loop blocks), so a flood of connections costs one write() per turn
 * instead of one per connection. A crash (SIGKILL) loses at most what is queued; every
 * clean exit flushes.
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

/*
 * Room for the longest reject line whole: two 254-octet paths of bytes that each take
 * 6 octets escaped (JSON's \u00NN) are 3.1 KiB, the rest of the line under 300 octets.
 */
#define LOG_LINE_MAX 4096
/* Journal fields: a raw value is never longer than its escaped form in the line. */
#define LOG_FIELDS_MAX (LOG_LINE_MAX + 1024)

static struct {
	bool configured;
	struct log_settings set;
	int priority;
	bool cut;       /* the line ran out of room: a value was cut or fields left out */
	bool fields_on; /* the target wants journal fields */
	size_t len, flen;
	char buf[LOG_LINE_MAX];
	char fields[LOG_FIELDS_MAX];
	time_t ts_sec; /* the second whose text is cached in ts_text */
	char ts_text[32];
} lg;

void log_flush(void)
{
	sink_flush();
}

static void report_dropped(uint64_t n)
{
	log_begin(LOG_WARNING, "log_dropped");
	log_uint("count", n);
	log_end();
}

int log_attach(uv_loop_t *loop)
{
	return sink_attach(loop, report_dropped);
}

void log_stop(void)
{
	sink_stop();
}

void log_configure(const struct log_settings *s)
{
	lg.set = *s;
	lg.configured = true;
	lg.fields_on = s->target == LOG_TARGET_JOURNAL;
	sink_configure(s->target, s->facility);
}

static bool json(void)
{
	return lg.set.format == LOG_FORMAT_JSON;
}

/* What ends a line that ran out of room, so that the cut shows. */
static const char *cut_mark(void)
{
	return json() ? ",\"cut\":true" : " cut=true";
}

#define CUT_MARK_MAX 12

/* Room left in the line, keeping JSON's closing brace and the cut mark. */
static size_t room(void)
{
	size_t keep = 1 + CUT_MARK_MAX;

	return lg.len + keep < LOG_LINE_MAX ? LOG_LINE_MAX - lg.len - keep : 0;
}

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

/*
 * The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF), 0 for none, and its code point. By hand: the
 * check is a dozen lines, and glibc's mbrtowc() depends on the locale.
 */
static size_t utf8_sequence(const unsigned char *p, uint32_t *cp)
{
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;

	if (n == 0 || p[0] > 0xf4)
		return 0;
	*cp = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also the NUL that ends the value */
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3f);
	}
	if (*cp < min[n] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * The escaped form of the character at v, and how many octets of v it stands for.
 * Well-formed UTF-8 is copied as it is but for the C1 controls (U+0080 to U+009F)
 * and U+2028/U+2029, which some readers take for line ends: JSON writes them as
 * \uXXXX, text as \xNN per octet. An octet that is not part of well-formed UTF-8 is
 * \xNN in text, \u00NN in JSON (the only escape JSON has: its value as a code point).
 */
static size_t escape_char(const char *v, char *esc, size_t *len)
{
	const unsigned char *p = (const unsigned char *)v;
	uint32_t cp = p[0];
	size_t n = p[0] < 0x80 ? 1 : utf8_sequence(p, &cp);

	if (n > 1 && cp > 0x9f && cp != 0x2028 && cp != 0x2029) {
		memcpy(esc, v, n);
		*len = n;
		return n;
	}
	if (n == 0 || !json()) { /* text escapes octet by octet */
		n = 1;
		cp = p[0];
	}
	if (cp == '"' || cp == '\\')
		*len = (size_t)snprintf(esc, 8, "\\%c", (char)cp);
	else if (cp < ' ' || cp >= 0x7f)
		*len = (size_t)snprintf(esc, 8, json() ? "\\u%04x" : "\\x%02x", (unsigned)cp);
	else
		*len = (size_t)snprintf(esc, 8, "%c", (char)cp);
	return n;
}

/* A value too long for the line is cut short, but its closing quote is kept. */
static void put_quoted(const char *v)
{
	char esc[8];
	size_t len;

	put("\"", 1);
	while (*v) {
		size_t n = escape_char(v, esc, &len);
		if (len + 1 > room()) {
			lg.cut = true;
			break;
		}
		put(esc, len);
		v += n;
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

/*
 * The journal field of a log key: NULLMXD_KEY=value, or the protocol's binary form
 * (name, newline, 64-bit little-endian length, value) for a value with a newline.
 */
static void put_field(const char *key, const char *value, size_t vlen)
{
	static const char prefix[] = "NULLMXD_";
	size_t klen, need;
	bool binary;
	char *p = lg.fields + lg.flen;

	if (!lg.fields_on) /* every field of every line passes here: stderr and syslog stop */
		return;
	klen = strlen(key);
	need = sizeof(prefix) + klen + 9 + vlen;
	if (need > sizeof(lg.fields) - lg.flen)
		return;
	binary = memchr(value, '\n', vlen) != NULL;
	memcpy(p, prefix, sizeof(prefix) - 1);
	p += sizeof(prefix) - 1;
	for (size_t i = 0; i < klen; i++)
		*p++ = (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 'a' + 'A' : key[i]);
	if (binary) {
		*p++ = '\n';
		for (int i = 0; i < 8; i++)
			*p++ = (char)((uint64_t)vlen >> (8 * i) & 0xff);
	} else {
		*p++ = '=';
	}
	memcpy(p, value, vlen);
	p[vlen] = '\n';
	lg.flen = (size_t)(p + vlen + 1 - lg.fields);
}

void log_begin(int priority, const char *event)
{
	size_t ts;

	lg.priority = priority;
	lg.len = lg.flen = 0;
	lg.cut = false;
	puts_(json() ? "{\"ts\":\"" : "ts=");
	ts = lg.len;
	put_timestamp();
	put_field("ts", lg.buf + ts, lg.len - ts);
	put_field("event", event, strlen(event));
	if (json()) {
		puts_("\",\"event\":\"");
		puts_(event);
		put("\"", 1);
	} else {
		puts_(" event=");
		puts_(event);
	}
}

void log_str(const char *key, const char *value)
{
	size_t vlen = strlen(value);

	if (!field_fits(key, 2))
		return;
	put_key(key);
	if (json() || !bare_word(value) || vlen > room())
		put_quoted(value);
	else
		put(value, vlen);
	put_field(key, value, vlen);
}

void log_uint(const char *key, uint64_t value)
{
	char num[24];
	size_t n = format_uint(num, value);

	if (!field_fits(key, 20))
		return;
	put_key(key);
	put(num, n);
	put_field(key, num, n);
}

/* The line is the sink's now: it may log (log_dropped) before returning. */
void log_end(void)
{
	if (lg.cut) { /* room() kept room for it */
		memcpy(lg.buf + lg.len, cut_mark(), strlen(cut_mark()));
		lg.len += strlen(cut_mark());
	}
	if (json())
		lg.buf[lg.len++] = '}'; /* room() kept a byte for it */
	sink_put(lg.priority, lg.buf, lg.len, lg.fields, lg.flen);
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
