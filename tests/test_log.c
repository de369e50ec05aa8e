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
	CHECK(line && strlen(line) <= 2049);
	CHECK(line && strcmp(line + strlen(line) - 5, "\\\"\"}\n") == 0);
	CHECK(line && !strstr(line, "after"));
	log_begin(LOG_INFO, "conn");
	log_str("msg", "tab\there");
	log_end();
	line = captured();
	CHECK(line && strstr(line, ",\"event\":\"conn\",\"msg\":\"tab\\u0009here\"}\n"));
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		return 99;
	test_text_quoting();
	test_json_line_stays_whole_when_cut();
	unlink(path);
	return test_done();
}
