#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "smtp.h"
#include "test.h"

static const char *kind_name(enum smtp_reply_kind k)
{
	static const char *const names[SMTP_REPLY_KINDS] = {
		[SMTP_REPLY_NONE] = "none",
		[SMTP_REPLY_GREETING] = "greeting",
		[SMTP_REPLY_521] = "521",
		[SMTP_REPLY_221] = "221",
		[SMTP_REPLY_EHLO] = "ehlo",
		[SMTP_REPLY_HELO] = "helo",
		[SMTP_REPLY_OK_250] = "250",
		[SMTP_REPLY_RCPT_REJECT] = "rcpt",
		[SMTP_REPLY_BAD_SEQUENCE_503] = "503",
		[SMTP_REPLY_NO_RCPT_554] = "554",
		[SMTP_REPLY_UNRECOGNISED_500] = "500",
		[SMTP_REPLY_SYNTAX_501] = "501",
		[SMTP_REPLY_NOT_IMPLEMENTED_502] = "502",
		[SMTP_REPLY_LINE_TOO_LONG] = "long",
		[SMTP_REPLY_TOO_MANY_COMMANDS] = "many",
	};
	return (unsigned)k < SMTP_REPLY_KINDS ? names[k] : "?";
}

/*
 * Feeds in chunks of `chunk` octets; the decisions as "250 rcpt 221:quit", or with
 * paths set, the addresses of each refused RCPT as "<from>to" after the decisions.
 */
static const char *run_paths(enum smtp_mode mode, uint32_t max, const char *in, size_t len,
			     size_t chunk, bool paths)
{
	static char out[4096];
	struct smtp_envelope env;
	struct smtp_reader r;
	struct smtp_decision d;

	out[0] = '\0';
	memset(&env, 'z', sizeof(env)); /* nothing may be read before it is written */
	smtp_reader_init(&r, mode, max, &env);
	for (size_t off = 0; off < len;) {
		size_t n = len - off < chunk ? len - off : chunk;
		const char *p = in + off;

		off += n;
		while (n > 0) {
			size_t used = smtp_read(&r, p, n, &d);

			CHECK(used >= 1 && used <= n);
			p += used;
			n -= used;
			if (d.reply == SMTP_REPLY_NONE) {
				CHECK(n == 0);
				break;
			}
			CHECK((d.action == SMTP_CLOSE) == (d.reason != END_NONE));
			if (paths && d.reply == SMTP_REPLY_RCPT_REJECT) {
				CHECK(strlen(env.from) <= SMTP_PATH_MAX &&
				      strlen(env.to) <= SMTP_PATH_MAX);
				snprintf(out + strlen(out), sizeof(out) - strlen(out), "<%s>%s",
					 env.from, env.to);
			} else if (!paths) {
				snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s%s%s",
					 out[0] ? " " : "", kind_name(d.reply), d.reason ? ":" : "",
					 d.reason ? end_reason_word(d.reason) : "");
			}
		}
	}
	return out;
}

static const char *run(enum smtp_mode mode, uint32_t max, const char *in, size_t len, size_t chunk)
{
	return run_paths(mode, max, in, len, chunk, false);
}

/* The same decisions whatever the chunking: whole, then 1, 2, 3 and 7 octets at a time. */
static void expect_n(int line, enum smtp_mode mode, uint32_t max, const char *in, size_t len,
		     const char *want)
{
	static const size_t chunks[] = {SIZE_MAX, 1, 2, 3, 7};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		const char *got = run(mode, max, in, len, chunks[i]);

		if (strcmp(got, want) != 0)
			fprintf(stderr, "line %d, chunk %zu:\n", line, chunks[i]);
		CHECK_STR(got, want);
	}
}

#define EXPECT(mode, max, lit, want) expect_n(__LINE__, mode, max, lit, sizeof(lit) - 1, want)

/* The addresses of each refused RCPT, whatever the chunking. */
static void expect_paths_n(int line, const char *in, size_t len, const char *want)
{
	static const size_t chunks[] = {SIZE_MAX, 1, 2, 3, 7};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		const char *got = run_paths(SMTP_MODE_RCPT, 1000, in, len, chunks[i], true);

		if (strcmp(got, want) != 0)
			fprintf(stderr, "line %d, chunk %zu:\n", line, chunks[i]);
		CHECK_STR(got, want);
	}
}

#define PATHS(lit, want) expect_paths_n(__LINE__, lit, sizeof(lit) - 1, want)
#define QUIT_MODE(lit, want) EXPECT(SMTP_MODE_QUIT, 100, lit, want)
#define RCPT_MODE(lit, want) EXPECT(SMTP_MODE_RCPT, 100, lit, want)

/* A line of `n` octets: `verb`, then 'a' padding, then `end`. */
static char *line_of(const char *verb, size_t n, const char *end)
{
	char *s = malloc(n + 1);
	size_t v = strlen(verb), e = strlen(end);

	memcpy(s, verb, v);
	memset(s + v, 'a', n - v - e);
	memcpy(s + n - e, end, e);
	s[n] = '\0';
	return s;
}

static void test_line_length(void)
{
	char *s;

	s = line_of("NOOP ", 512, "\r\n"); /* RFC 5321 §4.5.3.1.4: 512 with CRLF is fine */
	expect_n(__LINE__, SMTP_MODE_RCPT, 100, s, 512, "250");
	expect_n(__LINE__, SMTP_MODE_QUIT, 100, s, 512, "521");
	free(s);
	s = line_of("NOOP ", 513, "\r\n");
	expect_n(__LINE__, SMTP_MODE_RCPT, 100, s, 513, "long:line_too_long");
	expect_n(__LINE__, SMTP_MODE_QUIT, 100, s, 513, "long:line_too_long");
	free(s);
	s = line_of("NOOP ", 512, "\n");
	expect_n(__LINE__, SMTP_MODE_RCPT, 100, s, 512, "250");
	free(s);
	s = line_of("NOOP ", 513, "\n");
	expect_n(__LINE__, SMTP_MODE_RCPT, 100, s, 513, "long:line_too_long");
	free(s);
	s = line_of("QUIT", 512, "\r\n");
	memset(s + 4, ' ', 506);
	expect_n(__LINE__, SMTP_MODE_RCPT, 100, s, 512, "221:quit");
	free(s);
}

static void test_line_too_long_answers_early(void)
{
	char buf[4096];
	struct smtp_reader r;
	struct smtp_decision d;

	memset(buf, 'x', sizeof(buf));
	smtp_reader_init(&r, SMTP_MODE_QUIT, 100, NULL);
	CHECK(smtp_read(&r, buf, sizeof(buf), &d) == SMTP_LINE_MAX);
	CHECK(d.reply == SMTP_REPLY_LINE_TOO_LONG && d.action == SMTP_CLOSE);
	CHECK(smtp_read(&r, buf, sizeof(buf), &d) == sizeof(buf));
	CHECK(d.reply == SMTP_REPLY_NONE);
}

static void test_quit_mode(void)
{
	QUIT_MODE("QUIT\r\n", "221:quit");
	QUIT_MODE("quit\r\n", "221:quit");
	QUIT_MODE("QuIt   \r\n", "221:quit");
	QUIT_MODE("QUIT\t\r\n", "221:quit");
	QUIT_MODE("QUIT\n", "221:quit");
	QUIT_MODE("QUIT", "");
	QUIT_MODE("QUIT x\r\n", "521");
	QUIT_MODE("QUITX\r\n", "521");
	QUIT_MODE(" QUIT\r\n", "521");
	QUIT_MODE("QU\0IT\r\n", "521");
	QUIT_MODE("QUIT\0\r\n", "521");
	QUIT_MODE("\0\0\0\n", "521");
	QUIT_MODE("\r\n", "521");
	QUIT_MODE("\n\n", "521 521");
	QUIT_MODE("EHLO a.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nQUIT\r\n",
		  "521 521 521 221:quit");
	QUIT_MODE("QUIT\r\nQUIT\r\nNOOP\r\n", "221:quit");
	QUIT_MODE("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", "521");
}

static void test_max_commands(void)
{
	EXPECT(SMTP_MODE_QUIT, 3, "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n",
	       "521 521 521 many:max_commands");
	EXPECT(SMTP_MODE_QUIT, 3, "NOOP\r\nNOOP\r\nNOOP\r\nQUIT\r\n", "521 521 521 221:quit");
	EXPECT(SMTP_MODE_QUIT, 0, "NOOP\r\n", "many:max_commands");
	EXPECT(SMTP_MODE_RCPT, 2, "EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\n",
	       "ehlo 250 many:max_commands");
	EXPECT(SMTP_MODE_RCPT, 2, "\r\n\r\n\r\n", "500 500 many:max_commands");
}

static void test_close_mode(void)
{
	struct smtp_reader r;
	struct smtp_decision d;

	smtp_reader_init(&r, SMTP_MODE_CLOSE, 100, NULL);
	CHECK(smtp_read(&r, "QUIT\r\n", 6, &d) == 6);
	CHECK(d.reply == SMTP_REPLY_NONE);
}

static void test_rcpt_mode_transaction(void)
{
	static const char session[] = "EHLO a.example\r\nMAIL FROM:<x@y.example>\r\n"
				      "RCPT TO:<a@b.example>\r\nRCPT TO:<c@b.example>\r\n"
				      "DATA\r\nRSET\r\nQUIT\r\n";

	RCPT_MODE(session, "ehlo 250 rcpt rcpt 554 250 221:quit");
	RCPT_MODE("HELO a.example\r\nmail from:<>\r\nrcpt to:<a@b>\r\nquit\r\n",
		  "helo 250 rcpt 221:quit");
	RCPT_MODE("RCPT TO:<a@b>\r\n", "503");
	RCPT_MODE("DATA\r\n", "503");
	RCPT_MODE("MAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\n", "250 503");
	RCPT_MODE("MAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<a@b>\r\n", "250 250 250");
	RCPT_MODE("MAIL FROM:<a@b>\r\nEHLO x\r\nRCPT TO:<a@b>\r\n", "250 ehlo 503");
	RCPT_MODE("MAIL FROM:<a@b>\r\nHELO x\r\nMAIL FROM:<a@b>\r\n", "250 helo 250");
	RCPT_MODE("MAIL FROM: <a@b> SMTPUTF8\r\nRCPT TO: <a@b>\r\n", "250 rcpt");
	RCPT_MODE("MAIL FROM:<a@b>\r\nDATA\r\nDATA\r\n", "250 554 554");
}

static void test_rcpt_mode_syntax(void)
{
	RCPT_MODE("EHLO\r\n", "501");
	RCPT_MODE("EHLO \r\n", "501");
	RCPT_MODE("HELO\r\n", "501");
	RCPT_MODE("EHLOx\r\n", "500");
	RCPT_MODE("MAIL\r\n", "501");
	RCPT_MODE("MAIL TO:<a@b>\r\n", "501");
	RCPT_MODE("MAILFROM:<a@b>\r\n", "500");
	RCPT_MODE("MAIL  FROM:<a@b>\r\n", "501");
	RCPT_MODE("RCPT FROM:<a@b>\r\n", "501");
	RCPT_MODE("DATA x\r\n", "501");
	RCPT_MODE("RSET x\r\n", "501");
	RCPT_MODE("QUIT x\r\n", "501");
	RCPT_MODE("NOOP\r\nNOOP hello\r\n", "250 250");
	RCPT_MODE("VRFY postmaster\r\nEXPN list\r\nHELP\r\n", "502 502 502");
	RCPT_MODE("STARTTLS\r\nAUTH PLAIN AGFAYg==\r\nBDAT 10 LAST\r\n", "502 502 502");
	RCPT_MODE("STARTTLSX\r\n", "500");
	RCPT_MODE("GET / HTTP/1.0\r\n", "500");
	RCPT_MODE("\r\n", "500");
	RCPT_MODE("NO\0OP\r\n", "500");
	RCPT_MODE("NOOP\0\r\n", "500");
	RCPT_MODE("NO\rOP\r\n", "500");
	RCPT_MODE("ehlo a\nmail from:<>\nrcpt to:<b>\nquit\n", "ehlo 250 rcpt 221:quit");
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((*s < 0x20 || *s > 0x7e) && *s != '\t')
			return false;
	return true;
}

/* Every kind a mode can produce has a default, every default is valid reply text. */
static void test_defaults(void)
{
	static const enum smtp_reply_kind quit_kinds[] = {SMTP_REPLY_GREETING, SMTP_REPLY_521,
							  SMTP_REPLY_221, SMTP_REPLY_LINE_TOO_LONG,
							  SMTP_REPLY_TOO_MANY_COMMANDS};
	const struct smtp_reply_default *d;

	for (int m = SMTP_MODE_CLOSE; m <= SMTP_MODE_RCPT; m++) {
		CHECK(smtp_default_reply(m, SMTP_REPLY_NONE) == NULL);
		CHECK(smtp_default_reply(m, SMTP_REPLY_KINDS) == NULL);
		for (int k = 0; k < SMTP_REPLY_KINDS; k++) {
			if (!(d = smtp_default_reply(m, k)))
				continue;
			CHECK(d->code >= 200 && d->code <= 599 && d->code / 100 != 4);
			CHECK(d->nlines >= 1);
			for (size_t i = 0; i < d->nlines; i++)
				CHECK(printable(d->lines[i]) && strlen(d->lines[i]) < 200);
		}
	}
	for (size_t i = 0; i < sizeof(quit_kinds) / sizeof(quit_kinds[0]); i++)
		CHECK(smtp_default_reply(SMTP_MODE_QUIT, quit_kinds[i]) != NULL);
	for (int k = SMTP_REPLY_GREETING; k < SMTP_REPLY_KINDS; k++)
		CHECK((smtp_default_reply(SMTP_MODE_RCPT, k) != NULL) == (k != SMTP_REPLY_521));
	CHECK(smtp_default_reply(SMTP_MODE_CLOSE, SMTP_REPLY_221) == NULL);
	CHECK(smtp_default_reply(SMTP_MODE_QUIT, SMTP_REPLY_EHLO) == NULL);

	d = smtp_default_reply(SMTP_MODE_CLOSE, SMTP_REPLY_GREETING);
	CHECK(d->code == 521 && d->nlines == 2);
	CHECK_STR(d->lines[0], "%h does not accept mail");
	CHECK(strncmp(d->lines[1], "5.3.2 ", 6) == 0);
	d = smtp_default_reply(SMTP_MODE_RCPT, SMTP_REPLY_GREETING);
	CHECK(d->code == 220 && strncmp(d->lines[0], "%h ", 3) == 0);
	d = smtp_default_reply(SMTP_MODE_RCPT, SMTP_REPLY_RCPT_REJECT);
	CHECK(d->code == 550 && d->nlines == 1);
	CHECK_STR(d->lines[0], "5.1.2 %h does not accept mail");
	d = smtp_default_reply(SMTP_MODE_RCPT, SMTP_REPLY_EHLO);
	CHECK(d->code == 250 && d->nlines == 5);
	CHECK_STR(d->lines[0], "%h");
	for (size_t i = 0; i < d->nlines; i++)
		CHECK(strstr(d->lines[i], "STARTTLS") == NULL &&
		      strstr(d->lines[i], "AUTH") == NULL);
	d = smtp_default_reply(SMTP_MODE_QUIT, SMTP_REPLY_221);
	CHECK(d->code == 221);
	CHECK(smtp_default_reply(SMTP_MODE_QUIT, SMTP_REPLY_TOO_MANY_COMMANDS)->code == 521);
	CHECK(smtp_default_reply(SMTP_MODE_RCPT, SMTP_REPLY_TOO_MANY_COMMANDS)->code == 521);
}

static void test_mode_names(void)
{
	enum smtp_mode m = SMTP_MODE_CLOSE;

	CHECK(smtp_mode_parse("rcpt", &m) == 0 && m == SMTP_MODE_RCPT);
	CHECK(smtp_mode_parse("quit", &m) == 0 && m == SMTP_MODE_QUIT);
	CHECK(smtp_mode_parse("close", &m) == 0 && m == SMTP_MODE_CLOSE);
	CHECK(smtp_mode_parse("CLOSE", &m) == -1);
	CHECK(smtp_mode_parse("", &m) == -1);
	CHECK_STR(smtp_mode_name(SMTP_MODE_RCPT), "rcpt");
	CHECK_STR(smtp_mode_name((enum smtp_mode)9), "?");
}

static void test_rcpt_paths(void)
{
	char in[4096], want[4096];

	PATHS("MAIL FROM:<x@y.example>\r\nRCPT TO:<a@b.example>\r\nRCPT TO:<c@b.example>\r\n",
	      "<x@y.example>a@b.example<x@y.example>c@b.example");
	PATHS("mail from:<>\r\nrcpt to:<a@b>\r\n", "<>a@b");
	PATHS("MAIL FROM: <a@b> SIZE=10\r\nRCPT TO: <c@d> NOTIFY=NEVER\r\n", "<a@b>c@d");
	PATHS("MAIL FROM:a@b SIZE=1\nRCPT TO:c@d\n", "<a@b>c@d");
	PATHS("MAIL FROM:<a@b\r\nRCPT TO:<c@d\r\n", "<a@b>c@d");
	PATHS("MAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<c@d>\r\nRCPT TO:<e@f>\r\n", "<c@d>e@f");
	PATHS("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nEHLO x\r\nRCPT TO:<e@f>\r\n", "<a@b>c@d");
	/* A blank ends the path: no client text with spaces reaches a log line. */
	PATHS("MAIL FROM:<a event=conn client=192.0.2.1 client_port=1 @b>\r\n"
	      "RCPT TO:<\"x y\"@d>\r\nRCPT TO:<c\td@e>\r\n",
	      "<a>\"x<a>c");
	/* Other bytes stay for the log to escape; a NUL ends the path. */
	PATHS("MAIL FROM:<a\x01=\"@b>\r\nRCPT TO:<d\0e@f>\r\n", "<a\x01=\"@b>d");

	/* Cut to SMTP_PATH_MAX octets: a path of exactly that many is whole. */
	snprintf(in, sizeof(in), "MAIL FROM:<%0300d>\r\nRCPT TO:<%0254d>\r\n", 1, 2);
	snprintf(want, sizeof(want), "<%0254d>%0254d", 0, 2);
	expect_paths_n(__LINE__, in, strlen(in), want);

	/*
	 * The cut never splits a UTF-8 character (é is 2 octets, € 3, U+1F600 4): one that
	 * would end past octet 254 is left out whole. A client's own invalid UTF-8 stays.
	 */
	snprintf(in, sizeof(in),
		 "MAIL FROM:<%0253d\xc3\xa9>\r\nRCPT TO:<%0252d\xe2\x82\xac>\r\n"
		 "RCPT TO:<%0251d\xf0\x9f\x98\x80>\r\nRCPT TO:<%0251d\xe2\x82\xac>\r\n"
		 "RCPT TO:<a\xc3>\r\nRCPT TO:<%0253d\xff\xff>\r\n",
		 1, 2, 3, 4, 5);
	snprintf(want, sizeof(want),
		 "<%0253d>%0252d<%0253d>%0251d<%0253d>%0251d\xe2\x82\xac"
		 "<%0253d>a\xc3<%0253d>%0253d\xff",
		 1, 2, 1, 3, 1, 4, 1, 1, 5);
	expect_paths_n(__LINE__, in, strlen(in), want);
}

int main(void)
{
	test_line_length();
	test_line_too_long_answers_early();
	test_quit_mode();
	test_max_commands();
	test_close_mode();
	test_rcpt_mode_transaction();
	test_rcpt_mode_syntax();
	test_rcpt_paths();
	test_defaults();
	test_mode_names();
	CHECK(sizeof(struct smtp_reader) <= 40); /* the envelope, when kept, is apart */
	return test_done();
}
