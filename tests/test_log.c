#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

static char path[] = "/tmp/nullmxd-test-log-XXXXXX";

/* Everything written to stderr since the last call. */
static char *captured(void)
{
	static char buf[8192];
	FILE *f;
	size_t n;

	log_flush();
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (truncate(path, 0) != 0 || lseek(STDERR_FILENO, 0, SEEK_SET) != 0)
		return NULL;
	return buf;
}

static void test_text_quoting(void)
{
	struct log_settings s = {LOG_FORMAT_TEXT, LOG_TARGET_STDERR, LOG_MAIL};
	char *line;

	log_configure(&s);
	log_begin(LOG_INFO, "conn");
	log_str("client", "192.0.2.1");
	log_str("msg", "say \"hi\"\\ now\x01");
	log_str("empty", "");
	log_uint("n", 18446744073709551615ull);
	log_uint("z", 0);
	log_end();
	line = captured();
	CHECK(line && strncmp(line, "ts=", 3) == 0);
	CHECK(line &&
	      strstr(line, "Z event=conn client=192.0.2.1 msg=\"say \\\"hi\\\"\\\\ now\\x01\" "
			   "empty=\"\" n=18446744073709551615 z=0\n"));
}

static void test_json_line_stays_whole_when_cut(void)
{
	struct log_settings s = {LOG_FORMAT_JSON, LOG_TARGET_STDERR, LOG_MAIL};
	static char huge[5000];
	char *line;

	memset(huge, '"', sizeof(huge) - 1);
	log_configure(&s);
	log_begin(LOG_INFO, "start");
	log_str("config", huge);
	log_uint("after", 7);
	log_end();
	line = captured();
	CHECK(line && strncmp(line, "{\"ts\":\"", 7) == 0);
	CHECK(line && strlen(line) <= 4097);
	/* The value keeps its closing quote, and the line says it was cut. */
	CHECK(line && strcmp(line + strlen(line) - 16, "\\\"\",\"cut\":true}\n") == 0);
	CHECK(line && !strstr(line, "after"));
	log_begin(LOG_INFO, "conn");
	log_str("msg", "tab\there");
	log_end();
	line = captured();
	CHECK(line && strstr(line, ",\"event\":\"conn\",\"msg\":\"tab\\u0009here\"}\n"));
}

/* The line of one "to" field in a format. */
static char *to_line(enum log_format format, const char *value)
{
	struct log_settings s = {format, LOG_TARGET_STDERR, LOG_MAIL};

	log_configure(&s);
	log_begin(LOG_INFO, "reject");
	log_str("to", value);
	log_end();
	return captured();
}

/* UTF-8 as it is; other octets, controls and line separators escaped. */
static void test_utf8_kept_and_bad_octets_escaped(void)
{
	static const char value[] = "<\xc3\xa9t\xc3\xa9@b.example \xf0\x9f\x98\x80|\xff|\xc2\x85|"
				    "\xe2\x80\xa8|\xc0\xaf|\xed\xa0\x80|\x7f|\xe2\x82>";
	char *line = to_line(LOG_FORMAT_TEXT, value);

	CHECK(line && strstr(line, " to=\"<\xc3\xa9t\xc3\xa9@b.example \xf0\x9f\x98\x80|\\xff|"
				   "\\xc2\\x85|\\xe2\\x80\\xa8|\\xc0\\xaf|\\xed\\xa0\\x80|"
				   "\\x7f|\\xe2\\x82>\"\n"));
	line = to_line(LOG_FORMAT_JSON, value);
	CHECK(line && strstr(line, ",\"to\":\"<\xc3\xa9t\xc3\xa9@b.example \xf0\x9f\x98\x80|"
				   "\\u00ff|\\u0085|\\u2028|\\u00c0\\u00af|"
				   "\\u00ed\\u00a0\\u0080|\\u007f|\\u00e2\\u0082>\"}\n"));
}

/* The longest reject line there can be is whole in both formats: no field is lost. */
static void test_longest_reject_line_is_whole(void)
{
	static const char ip[] = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
	struct log_settings s = {LOG_FORMAT_TEXT, LOG_TARGET_STDERR, LOG_MAIL};
	char addr[258], proxy[64];
	char *line;

	addr[0] = '<';
	memset(addr + 1, 0xff, 254);
	strcpy(addr + 255, ">");
	snprintf(proxy, sizeof(proxy), "[%s]:65535", ip);
	for (int json = 0; json < 2; json++) {
		s.format = json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
		log_configure(&s);
		log_begin(LOG_INFO, "reject");
		log_str("client", "h:0123456789abcdef0123456789abcdef");
		log_uint("client_port", 65535);
		log_str("local", ip);
		log_uint("local_port", 65535);
		log_str("proxy", proxy);
		log_str("from", addr);
		log_str("to", addr);
		log_uint("code", 550);
		log_end();
		line = captured();
		CHECK(line && !strstr(line, "cut"));
		CHECK(line &&
		      strstr(line, json ? "\\u00ff>\",\"code\":550}\n" : "\\xff>\" code=550\n"));
	}
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		return 99;
	test_text_quoting();
	test_json_line_stays_whole_when_cut();
	test_utf8_kept_and_bad_octets_escaped();
	test_longest_reject_line_is_whole();
	unlink(path);
	return test_done();
}
