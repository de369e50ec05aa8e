#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_parse.h"
#include "proxy.h"
#include "test.h"

static char path[] = "/tmp/nullmxd-test-config-XXXXXX";
static char *diag;
static char want[1024];

/* Loads text as a config file; returns config_load's result, diagnostics in diag. */
static int load(const char *text, struct config *cfg)
{
	size_t len;
	FILE *f = fopen(path, "w"), *d = open_memstream(&diag, &len);
	int rc;

	fputs(text, f);
	fclose(f);
	free(diag);
	diag = NULL;
	rc = config_load(cfg, path, d);
	fclose(d);
	return rc;
}

/* Expects exactly one diagnostic, at line, with message. */
#define CHECK_ERROR(text, line, message)                                                           \
	do {                                                                                       \
		struct config c_;                                                                  \
		CHECK(load(text, &c_) == -1);                                                      \
		snprintf(want, sizeof(want), "%s:%d: %s\n", path, line, message);                  \
		CHECK_STR(diag, want);                                                             \
	} while (0)

static void test_unknown_keys(void)
{
	CHECK_ERROR("hostname = \"a.example\";\nlisten_on = 1;\n", 2, "unknown key 'listen_on'");
	CHECK_ERROR("hostname = \"a.example\";\nlog = {\n  level = 3;\n};\n", 3,
		    "unknown key 'log.level'");
}

static void test_wrong_types(void)
{
	CHECK_ERROR("hostname = 5;\n", 1, "hostname must be a string, not an integer");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = \"127.0.0.1:25\";\n", 2,
		    "listen must be a list of \"ADDR:PORT\" strings or groups, not a string");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( \"127.0.0.1:25\", 25 );\n", 2,
		    "listen entry must be a string, not an integer");
	CHECK_ERROR("hostname = \"a.example\";\nreply = true;\n", 2,
		    "reply must be a string or a list of strings, not a boolean");
	CHECK_ERROR("hostname = \"a.example\";\nmax_connections = 1.5;\n", 2,
		    "max_connections must be an integer, not a number");
	CHECK_ERROR("hostname = \"a.example\";\ndrain_timeout = \"5s\";\n", 2,
		    "drain_timeout must be a number of seconds, not a string");
	CHECK_ERROR("hostname = \"a.example\";\ndrain_bytes = \"4k\";\n", 2,
		    "drain_bytes must be an integer, not a string");
	CHECK_ERROR("hostname = \"a.example\";\nlog = \"syslog\";\n", 2,
		    "log must be a group { ... }, not a string");
	CHECK_ERROR("hostname = \"a.example\";\nlog = { target = [ \"syslog\" ]; };\n", 2,
		    "log.target must be a string, not an array");
}

static void test_ranges(void)
{
	CHECK_ERROR("hostname = \"a.example\";\nmax_connections = 0;\n", 2,
		    "max_connections must be between 1 and 10000000, not 0");
	CHECK_ERROR("hostname = \"a.example\";\ndrain_timeout = 0;\n", 2,
		    "drain_timeout must be between 0.001 and 300 seconds");
	CHECK_ERROR("hostname = \"a.example\";\ndrain_timeout = 300.5;\n", 2,
		    "drain_timeout must be between 0.001 and 300 seconds");
	CHECK_ERROR("hostname = \"a.example\";\ndrain_bytes = 2000000;\n", 2,
		    "drain_bytes must be between 0 and 1048576, not 2000000");
	CHECK_ERROR("hostname = \"a.example\";\nlog = { format = \"xml\"; };\n", 2,
		    "log.format must be one of \"text\", \"json\", not \"xml\"");
	CHECK_ERROR("hostname = \"a.example\";\nlog = { facility = \"kern\"; };\n", 2,
		    "log.facility must be mail, daemon, user or local0..local7, not \"kern\"");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = [];\n", 2,
		    "listen needs 1 to 64 addresses");
	/* libconfig wraps these to 0 and 100 without the L suffix */
	CHECK_ERROR("hostname = \"a.example\";\ndrain_bytes = 4294967296;\n", 2,
		    "drain_bytes must be between 0 and 1048576, not 4294967296");
	CHECK_ERROR("hostname = \"a.example\";\nmax_connections : 0x1000000064;\n", 2,
		    "max_connections must be between 1 and 10000000, not 0x1000000064");
	CHECK_ERROR("hostname = \"a.example\";\ndrain_timeout = 4294967297;\n", 2,
		    "drain_timeout must be between 0.001 and 300 seconds");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = { a = \"127.0.0.1:25\"; };\n", 2,
		    "listen must be a list of \"ADDR:PORT\" strings or groups, not a group");
}

/* Every integer is the literal written for it, found by its place in the file. */
static void test_integers_as_written(void)
{
	struct config c;
	char *long_text;

	/* libconfig reads leading zeros as decimal; so must the range check */
	CHECK(load("hostname = \"a.example\";\nmax_commands = 010;\ndrain_bytes = 09;\n", &c) == 0);
	CHECK(c.defaults && c.defaults->max_commands == 10 && c.defaults->drain_bytes == 9);
	config_free(&c);
	/* a key in a comment or a string earlier on the line is not the setting */
	CHECK(load("hostname = \"a.example\"; /* drain_bytes = 7 */ drain_bytes = 5;\n"
		   "reply = [ \"a.example max_commands = 3\", \"5.3.2 no\" ]; max_commands = 12; "
		   "# max_commands = 4\n",
		   &c) == 0);
	CHECK(c.defaults && c.defaults->drain_bytes == 5 && c.defaults->max_commands == 12);
	config_free(&c);
	CHECK_ERROR("hostname = \"a.example\";\n// drain_bytes = 1\n"
		    "reply = [ \"a.example drain_bytes = 2\", \"5.3.2 no\" ]; drain_bytes = "
		    "4294967296;\n",
		    3, "drain_bytes must be between 0 and 1048576, not 4294967296");
	/* two groups' keys of one name on one line: each is its own */
	CHECK_ERROR("hostname = \"a.example\";\nlimits = { per_ip_window = 60; }; "
		    "log = { per_ip_window = 4294967296; };\n",
		    2, "log.per_ip_window must be between 1 and 86400, not 4294967296");
	CHECK(load("hostname = \"a.example\";\nlimits = { per_ip_window = 60; }; "
		   "log = { per_ip_window = 30; };\n",
		   &c) == 0);
	CHECK(c.guard.per_ip_window_s == 60 && c.guard.log_per_ip_window_s == 30);
	config_free(&c);
	/* lines longer than any line buffer before an out-of-range value */
	long_text = malloc(8192);
	snprintf(long_text, 8192,
		 "hostname = \"a.example\";\n#%02000d\n#%03000d\ndrain_bytes = %s;\n", 0, 0,
		 "4294967297");
	CHECK_ERROR(long_text, 4, "drain_bytes must be between 0 and 1048576, not 4294967297");
	snprintf(long_text, 8192, "hostname = \"a.example\";\n#%02000d\nmax_commands = %s;\n", 0,
		 "4294967296");
	CHECK_ERROR(long_text, 3, "max_commands must be between 1 and 10000, not 4294967296");
	free(long_text);
	/* hex, the L suffix, and values past 64 bits */
	CHECK_ERROR("hostname = \"a.example\";\nmax_commands = 0x100000001;\n", 2,
		    "max_commands must be between 1 and 10000, not 0x100000001");
	CHECK_ERROR("hostname = \"a.example\";\nmax_commands = 99999999999999999999;\n", 2,
		    "max_commands must be between 1 and 10000, not 99999999999999999999");
	CHECK(load("hostname = \"a.example\";\nmax_commands = 0x20; drain_bytes = 100L;\n", &c) ==
	      0);
	CHECK(c.defaults && c.defaults->max_commands == 32 && c.defaults->drain_bytes == 100);
	config_free(&c);
	/* list elements count too: the integer after them is still the right one */
	CHECK(load("hostname = \"a.example\";\nlisten = [ \"127.0.0.1:25\" ]; max_commands = "
		   "7;\nlog = { per_ip_lines = 3; per_ip_window = 9; };\n",
		   &c) == 0);
	CHECK(c.defaults && c.defaults->max_commands == 7 && c.guard.log_per_ip_lines == 3 &&
	      c.guard.log_per_ip_window_s == 9);
	config_free(&c);
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( \"127.0.0.1:25\", 4294967296 );\n", 2,
		    "listen entry must be a string, not an integer");
}

/* An included file's integers are read from that file, at their own place in it. */
static void test_included_integers(void)
{
	char inc[64], text[256];
	struct config c;
	FILE *f;

	snprintf(inc, sizeof(inc), "nullmxd-test-include-%ld.conf", (long)getpid());
	snprintf(want, sizeof(want), "/tmp/%s", inc);
	if (!(f = fopen(want, "w")))
		return;
	fputs("# drain_bytes = 1\ndrain_bytes = 7; limits = { per_ip_window = 0x10; };\n", f);
	fclose(f);
	snprintf(text, sizeof(text),
		 "hostname = \"a.example\"; max_commands = 4294967306;\n@include \"%s\"\n"
		 "log = { per_ip_window = 4294967297; };\n",
		 inc);
	CHECK(load(text, &c) == -1);
	snprintf(text, sizeof(text),
		 "%s:1: max_commands must be between 1 and 10000, not 4294967306\n"
		 "%s:3: log.per_ip_window must be between 1 and 86400, not 4294967297\n",
		 path, path);
	CHECK_STR(diag, text);
	snprintf(text, sizeof(text),
		 "hostname = \"a.example\"; max_commands = 011;\n@include \"%s\"\n"
		 "log = { per_ip_window = 9; };\n",
		 inc);
	CHECK(load(text, &c) == 0);
	CHECK(c.defaults && c.defaults->max_commands == 11 && c.defaults->drain_bytes == 7);
	CHECK(c.guard.per_ip_window_s == 16 && c.guard.log_per_ip_window_s == 9);
	config_free(&c);
	if ((f = fopen(want, "w"))) {
		fputs("\n\ndrain_bytes = 4294967296;\n", f);
		fclose(f);
	}
	CHECK(load(text, &c) == -1);
	snprintf(text, sizeof(text),
		 "%s:3: drain_bytes must be between 0 and 1048576, not 4294967296\n", inc);
	CHECK_STR(diag, text);
	/* libconfig reads an included file itself: the operator is told what to add */
	if ((f = fopen(want, "w"))) {
		fputs("drain_bytes = 7;\n# no newline", f);
		fclose(f);
	}
	snprintf(text, sizeof(text), "hostname = \"a.example\";\n@include \"%s\"\n", inc);
	CHECK(load(text, &c) == -1);
	snprintf(text, sizeof(text),
		 "%s:2: syntax error (if the last line is a comment, end it with a newline)\n",
		 inc);
	CHECK_STR(diag, text);
	unlink(want);
}

/* A NUL byte would end libconfig's reading of the text: the rest would be lost. */
static void test_nul_byte(void)
{
	struct config c;
	FILE *f = fopen(path, "w");
	size_t len;
	FILE *d;

	fwrite("hostname = \"a.example\";\n\0max_commands = 0;\n", 1, 43, f);
	fclose(f);
	free(diag);
	d = open_memstream(&diag, &len);
	CHECK(config_load(&c, path, d) == -1);
	fclose(d);
	snprintf(want, sizeof(want), "%s:2: a NUL byte: not a text file\n", path);
	CHECK_STR(diag, want);
}

/* Editors often leave no newline after the last line; libconfig 1.5 refused a comment there. */
static void test_no_final_newline(void)
{
	struct config c;

	CHECK(load("hostname = \"a.example\";\nmax_commands = 7;\n# the last line", &c) == 0);
	CHECK(c.defaults && c.defaults->max_commands == 7);
	config_free(&c);
	CHECK(load("hostname = \"a.example\";\n// max_commands = 8", &c) == 0);
	CHECK(c.defaults && c.defaults->max_commands == CONFIG_MAX_COMMANDS);
	config_free(&c);
	CHECK(load("hostname = \"a.example\"; drain_bytes = 09; # no newline", &c) == 0);
	CHECK(c.defaults && c.defaults->drain_bytes == 9);
	config_free(&c);
	/* what is wrong is still told on the file's own lines */
	CHECK_ERROR(
		"hostname = \"a.example\";\n# a comment\ndrain_bytes = 4294967296; # no newline", 3,
		"drain_bytes must be between 0 and 1048576, not 4294967296");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = [ \"127.0.0.1:25\"", 2, "syntax error");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = [ \"127.0.0.1:25\" # no newline", 2,
		    "syntax error");
}

/* libconfig would open them itself: a directory made it exit the process, a FIFO hang. */
static void test_include_targets(void)
{
	char fifo[64], text[256];
	struct config c;

	CHECK(load("hostname = \"a.example\";\n\n@include \"\"\n", &c) == -1);
	snprintf(want, sizeof(want), "%s:3: @include \"\": not a regular file\n", path);
	CHECK_STR(diag, want);
	CHECK(load("hostname = \"a.example\";\n  @include \"nullmxd-no-such.conf\"\n", &c) == -1);
	snprintf(want, sizeof(want),
		 "%s:2: @include \"nullmxd-no-such.conf\": No such file or directory\n", path);
	CHECK_STR(diag, want);
	snprintf(fifo, sizeof(fifo), "nullmxd-test-fifo-%ld", (long)getpid());
	snprintf(text, sizeof(text), "/tmp/%s", fifo);
	CHECK(mkfifo(text, 0600) == 0);
	snprintf(text, sizeof(text),
		 "hostname = \"a.example\"; # @include \"x\"\n@include \"%s\"\n", fifo);
	CHECK(load(text, &c) == -1);
	snprintf(want, sizeof(want), "%s:2: @include \"%s\": not a regular file\n", path, fifo);
	CHECK_STR(diag, want);
	snprintf(text, sizeof(text), "/tmp/%s", fifo);
	unlink(text);
}

/* Loads the config from at, which the test made; diagnostics in diag. */
static int load_from(const char *at, struct config *cfg)
{
	size_t len;
	FILE *d = open_memstream(&diag, &len);
	int rc;

	free(diag);
	diag = NULL;
	rc = config_load(cfg, at, d);
	fclose(d);
	return rc;
}

/* Read on SIGHUP inside the event loop: a FIFO blocked it for good, /dev/zero ate memory. */
static void test_main_file_targets(void)
{
	char fifo[64];
	struct config c;
	FILE *f;

	snprintf(fifo, sizeof(fifo), "/tmp/nullmxd-test-main-fifo-%ld", (long)getpid());
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(load_from(fifo, &c) == -1);
	snprintf(want, sizeof(want), "%s:0: cannot read: not a regular file\n", fifo);
	CHECK_STR(diag, want);
	unlink(fifo);
	CHECK(load_from("/dev/zero", &c) == -1);
	CHECK_STR(diag, "/dev/zero:0: cannot read: not a regular file\n");
	CHECK(load_from("/tmp", &c) == -1);
	CHECK_STR(diag, "/tmp:0: cannot read: not a regular file\n");

	CHECK(load("hostname = \"a.example\";\n", &c) == 0);
	config_free(&c);
	CHECK((f = fopen(path, "a")) != NULL);
	for (size_t n = 0; f && n < CONFIG_TEXT_MAX; n += 64)
		fprintf(f, "# %61s\n", "a comment line, 64 bytes in all");
	if (f)
		fclose(f);
	CHECK(load_from(path, &c) == -1);
	snprintf(want, sizeof(want), "%s:0: cannot read: larger than 1 MiB\n", path);
	CHECK_STR(diag, want);
}

/* Serving as root keeps gid 0: a group beside it would be a promise not kept. */
static void test_root_with_group(void)
{
	struct config c;

	CHECK_ERROR("hostname = \"a.example\";\nuser = \"root\";\ngroup = \"root\";\n", 3,
		    "group cannot be set with user = \"root\", which keeps root's groups; "
		    "remove group, or set user to an unprivileged account");
	CHECK(load("hostname = \"a.example\";\nuser = \"root\";\n", &c) == 0);
	CHECK(c.user && strcmp(c.user, "root") == 0 && !c.group);
	config_free(&c);
	CHECK(load("hostname = \"a.example\";\ngroup = \"root\";\n", &c) == 0);
	config_free(&c);
}

static void test_bad_addresses(void)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:+25", "::1:25",
		"[::1]25",   "[::1:25",    "localhost:25",    "256.1.1.1:25",  "127.1:25",
		":25",       "[]:25",      "127.0.0.1:0025x"};
	char text[256], msg[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "hostname = \"a.example\";\nlisten = [ \"%s\" ];\n",
			 bad[i]);
		snprintf(msg, sizeof(msg),
			 "listen: bad address '%s' (want ADDR:PORT, IPv6 as [ADDR]:PORT)", bad[i]);
		CHECK_ERROR(text, 2, msg);
	}
	CHECK_ERROR("hostname = \"a.example\";\nlisten = [ \"[::1]:25\", \"[::1]:25\" ];\n", 2,
		    "listen: '[::1]:25' is listed twice");
}

static void test_bad_hostnames(void)
{
	static const char *const bad[] = {
		"",          "-a.example",    "a-.example", "a..example", "a_b.example",
		"192.0.2.1", "[192.0.2.300]", "[::1]",      "a.example.", "[IPv6:zz]"};
	char text[256], msg[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "hostname = \"%s\";\n", bad[i]);
		snprintf(msg, sizeof(msg), "hostname '%s' is not a domain name or address literal",
			 bad[i]);
		CHECK_ERROR(text, 1, msg);
	}
}

static void test_bad_replies(void)
{
	CHECK_ERROR("hostname = \"a.example\";\nreply = \"tab\\tok but bell \\x07 no\";\n", 2,
		    "reply: byte 0x07 is not allowed (printable ASCII and tab only)");
	CHECK_ERROR("hostname = \"a.example\";\nreply = [\n  \"%h fine\",\n  \"5.3.2 50%x\",\n  "
		    "\"ok\"\n];\n",
		    4, "reply: unknown escape %x (%h is the hostname, %% a percent sign)");
	CHECK_ERROR("hostname = \"a.example\";\nreply = ( \"%h\", 5 );\n", 2,
		    "reply line must be a string, not an integer");
	CHECK_ERROR("hostname = \"a.example\";\nreply = [];\n", 2, "reply needs 1 to 32 lines");
}

static void test_modes_and_listener_groups(void)
{
	CHECK_ERROR("hostname = \"a.example\";\nmode = \"bounce\";\n", 2,
		    "mode must be one of \"close\", \"quit\", \"rcpt\", not \"bounce\"");
	CHECK_ERROR("hostname = \"a.example\";\nidle_timeout = 0.5;\n", 2,
		    "idle_timeout must be between 1 and 300 seconds");
	CHECK_ERROR("hostname = \"a.example\";\nproxy_timeout = 1;\n", 2,
		    "proxy_timeout must be between 3 and 300 seconds");
	CHECK_ERROR("hostname = \"a.example\";\nmax_commands = 0;\n", 2,
		    "max_commands must be between 1 and 10000, not 0");
	CHECK_ERROR("hostname = \"a.example\";\nrcpt_reply = \"450 4.1.2 try later\";\n", 2,
		    "rcpt_reply: must start with a permanent code 5xx and a space");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { hostname = \"b.example\"; } );\n", 2,
		    "a listen group needs an address = \"ADDR:PORT\"");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { address = \"127.0.0.1:25\";\n"
		    "  ports = 3; } );\n",
		    3, "unknown key 'listen.ports'");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { address = \"127.0.0.1:25\";\n"
		    "  proxy = \"v1\"; } );\n",
		    3, "proxy needs proxy_from: the addresses allowed to send headers");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { address = \"127.0.0.1:25\";\n"
		    "  proxy_from = [ \"10.0.0.0/8\" ]; } );\n",
		    3, "proxy_from needs proxy = \"v1\", \"v2\" or \"any\"");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { address = \"127.0.0.1:25\";\n"
		    "  proxy = \"none\"; proxy_from = [ \"bogus\" ]; } );\n",
		    3, "proxy_from needs proxy = \"v1\", \"v2\" or \"any\"");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { address = \"127.0.0.1:25\";\n"
		    "  proxy = \"v3\"; proxy_from = [ \"::1\" ]; } );\n",
		    3, "proxy must be one of \"none\", \"v1\", \"v2\", \"any\", not \"v3\"");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { address = \"127.0.0.1:25\";\n"
		    "  proxy = \"any\"; proxy_from = [ \"10.0.0.0/33\" ]; } );\n",
		    3, "proxy_from: bad address or prefix '10.0.0.0/33'");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( { address = \"127.0.0.1:25\";\n"
		    "  hostname = \"b_c.example\"; } );\n",
		    3, "hostname 'b_c.example' is not a domain name or address literal");
	CHECK_ERROR("hostname = \"a.example\";\nlisten = ( \"[::1]:25\", \"[0:0::1]:25\" );\n", 2,
		    "listen: '[::1]:25' is listed twice");
}

static void test_listener_overrides(void)
{
	struct config c;
	const struct profile *p;

	CHECK(load("hostname = \"a.example\";\nmode = \"quit\";\n"
		   "listen = ( \"127.0.0.1:25\", { address = \"[::1]:25\"; mode = \"rcpt\";\n"
		   "  hostname = \"b.example\"; rcpt_reply = \"551 5.1.6 %h moved\";\n"
		   "  proxy = \"v2\"; proxy_from = [ \"192.0.2.0/24\", \"2001:db8::1\" ]; } );\n",
		   &c) == 0);
	CHECK_STR(diag, "");
	CHECK(c.nlisten == 2);
	p = c.listen[0].profile;
	CHECK(p->mode == SMTP_MODE_QUIT && strcmp(p->hostname, "a.example") == 0 && p->proxy == 0);
	CHECK(p->replies[SMTP_REPLY_221] && !p->replies[SMTP_REPLY_RCPT_REJECT]);
	p = c.listen[1].profile;
	CHECK(p->mode == SMTP_MODE_RCPT && strcmp(p->hostname, "b.example") == 0);
	CHECK(p->proxy == PROXY_ALLOW_V2 && p->nproxy_from == 2 && p->proxy_from[0].bits == 24);
	CHECK(p->replies[SMTP_REPLY_RCPT_REJECT]->len == strlen("551 5.1.6 b.example moved\r\n") &&
	      memcmp(p->replies[SMTP_REPLY_RCPT_REJECT]->wire, "551 5.1.6 b.example moved", 25) ==
		      0);
	CHECK(memcmp(p->replies[SMTP_REPLY_GREETING]->wire, "220 b.example ", 14) == 0);
	config_free(&c);
}

static void test_missing_file_and_syntax(void)
{
	struct config c;
	size_t len;
	FILE *d;

	free(diag);
	d = open_memstream(&diag, &len);
	CHECK(config_load(&c, "/nonexistent/nullmxd.conf", d) == -1);
	fclose(d);
	CHECK_STR(diag, "/nonexistent/nullmxd.conf:0: cannot read: No such file or directory\n");
	CHECK_ERROR("hostname = \"a.example\";\n\nlisten = [ \"127.0.0.1:25\" \n", 4,
		    "syntax error");
}

static void test_good_config(void)
{
	struct config c;

	CHECK(load("listen = [ \"127.0.0.1:2525\", \"[::1]:0\" ];\n"
		   "hostname = \"[IPv6:2001:db8::25]\";\n"
		   "reply = \"%h says no\";\n"
		   "max_connections = 1000;\n"
		   "drain_timeout = 0.25;\n"
		   "drain_bytes = 0;\n"
		   "log = { format = \"json\"; target = \"syslog\"; facility = \"local3\"; };\n",
		   &c) == 0);
	snprintf(want, sizeof(want),
		 "%s:3: warning: reply: the last line has no enhanced status "
		 "code such as 5.3.2 right after 521 (Postfix reads it only there)\n",
		 path);
	CHECK_STR(diag, want);
	CHECK(c.nlisten == 2 && strcmp(c.listen[1].text, "[::1]:0") == 0);
	CHECK(c.listen[0].addr.in.sin_port == htons(2525));
	CHECK(c.listen[1].addr.sa.sa_family == AF_INET6);
	const struct profile *p = c.listen[0].profile;
	CHECK(p->replies[SMTP_REPLY_GREETING]->len ==
	      strlen("521 [IPv6:2001:db8::25] says no\r\n"));
	CHECK(c.max_connections == 1000 && p->drain_timeout_ms == 250 && p->drain_bytes == 0);
	CHECK(c.listen[1].profile->drain_timeout_ms == 250);
	CHECK(c.log.format == LOG_FORMAT_JSON && c.log.target == LOG_TARGET_SYSLOG);
	CHECK(c.log.facility == LOG_LOCAL3);
	config_free(&c);
}

static void test_defaults(void)
{
	struct config c;

	CHECK(load("hostname = \"mx.example\";\n", &c) == 0);
	CHECK_STR(diag, "");
	CHECK(c.nlisten == 2 && strcmp(c.listen[0].text, "0.0.0.0:25") == 0 &&
	      strcmp(c.listen[1].text, "[::]:25") == 0);
	const struct profile *p = c.listen[0].profile;
	CHECK(c.max_connections == 0 && p->drain_timeout_ms == CONFIG_DRAIN_TIMEOUT_MS &&
	      p->drain_bytes == CONFIG_DRAIN_BYTES && p->mode == SMTP_MODE_CLOSE && p->proxy == 0);
	CHECK(p->idle_timeout_ms == CONFIG_IDLE_TIMEOUT_MS &&
	      p->session_timeout_ms == CONFIG_SESSION_TIMEOUT_MS &&
	      p->proxy_timeout_ms == CONFIG_PROXY_TIMEOUT_MS &&
	      p->max_commands == CONFIG_MAX_COMMANDS);
	CHECK(c.log.format == LOG_FORMAT_TEXT && c.log.target == LOG_TARGET_STDERR &&
	      c.log.facility == LOG_MAIL);
	CHECK(memcmp(p->replies[SMTP_REPLY_GREETING]->wire, "521-mx.example does", 19) == 0);
	config_free(&c);
}

static void test_log_rejects(void)
{
	struct config c;

	CHECK_ERROR("hostname = \"a.example\";\nlog = { rejects = \"no\"; };\n", 2,
		    "log.rejects must be true or false, not a string");
	CHECK(load("hostname = \"a.example\";\n", &c) == 0);
	CHECK(c.log_rejects == CONFIG_LOG_REJECTS && c.log_rejects);
	config_free(&c);
	CHECK(load("hostname = \"a.example\";\nlog = { rejects = false; };\n", &c) == 0);
	CHECK_STR(diag, "");
	CHECK(!c.log_rejects);
	config_free(&c);
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return 99;
	close(fd);
	test_unknown_keys();
	test_wrong_types();
	test_ranges();
	test_integers_as_written();
	test_included_integers();
	test_nul_byte();
	test_no_final_newline();
	test_include_targets();
	test_main_file_targets();
	test_root_with_group();
	test_bad_addresses();
	test_bad_hostnames();
	test_bad_replies();
	test_modes_and_listener_groups();
	test_listener_overrides();
	test_missing_file_and_syntax();
	test_good_config();
	test_defaults();
	test_log_rejects();
	unlink(path);
	free(diag);
	return test_done();
}
