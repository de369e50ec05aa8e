#include <stdlib.h>

#include "reply.h"
#include "test.h"

static char err[160];
static size_t bad;

static struct reply *build(const char *const *lines, size_t n)
{
	return reply_build(lines, n, 521, "mx.example.test", err, sizeof(err), &bad);
}

static void test_bad_bytes(void)
{
	const char *lf[] = {"ok", "two\nlines"};
	const char *cr[] = {"a\rb"};
	const char *high[] = {"caf\xc3\xa9"};
	const char *del[] = {"\x7f"};

	CHECK(build(lf, 2) == NULL);
	CHECK_STR(err, "byte 0x0a is not allowed (printable ASCII and tab only)");
	CHECK(bad == 1);
	CHECK(build(cr, 1) == NULL);
	CHECK_STR(err, "byte 0x0d is not allowed (printable ASCII and tab only)");
	CHECK(build(high, 1) == NULL);
	CHECK_STR(err, "byte 0xc3 is not allowed (printable ASCII and tab only)");
	CHECK(build(del, 1) == NULL);
}

static void test_escapes(void)
{
	const char *unknown[] = {"50%x off"};
	const char *lone[] = {"100%"};
	const char *both[] = {"%h: 100%% %h"};
	struct reply *r;

	CHECK(build(unknown, 1) == NULL);
	CHECK_STR(err, "unknown escape %x (%h is the hostname, %% a percent sign)");
	CHECK(build(lone, 1) == NULL);
	CHECK_STR(err, "lone % at the end (write %% for a percent sign)");
	const char want[] = "521 mx.example.test: 100% mx.example.test\r\n";
	r = build(both, 1);
	CHECK(r && r->len == sizeof(want) - 1 && memcmp(r->wire, want, r->len) == 0);
	reply_free(r);
}

static void test_line_cap(void)
{
	static char longest[507], over[508];
	const char *ok[] = {longest};
	const char *no[] = {"short", over};
	const char *host_grows[] = {longest + 10}; /* 496 bytes: %h below makes it too long */
	struct reply *r;

	memset(longest, 'a', sizeof(longest) - 1);
	memset(over, 'a', sizeof(over) - 1);
	r = build(ok, 1);
	CHECK(r && r->len == REPLY_LINE_MAX);
	reply_free(r);
	CHECK(build(no, 2) == NULL);
	CHECK_STR(err, "line longer than 512 octets on the wire");
	CHECK(bad == 1);
	longest[10] = '%';
	longest[11] = 'h';
	CHECK(build(host_grows, 1) == NULL);
}

static void test_line_count(void)
{
	const char *many[REPLY_LINES_MAX + 1];

	for (size_t i = 0; i <= REPLY_LINES_MAX; i++)
		many[i] = "x";
	CHECK(build(many, 0) == NULL);
	CHECK_STR(err, "a reply has 1 to 32 lines");
	CHECK(build(many, REPLY_LINES_MAX + 1) == NULL);
	struct reply *r = build(many, REPLY_LINES_MAX);
	CHECK(r && r->len == REPLY_LINES_MAX * 7);
	CHECK(r && memcmp(r->wire, "521-x\r\n", 7) == 0 &&
	      memcmp(r->wire + r->len - 7, "521 x\r\n", 7) == 0);
	reply_free(r);
}

static void test_default_shape_and_lint(void)
{
	const char *def[] = {"%h does not accept mail", "5.3.2 %h does not accept mail"};
	const char *one[] = {"5.3.2 %h does not accept mail"};
	const char *plain[] = {"no mail here"};
	const char *tab[] = {"%h\tno"};
	struct reply *r = build(def, 2);
	const char want[] = "521-mx.example.test does not accept mail\r\n"
			    "521 5.3.2 mx.example.test does not accept mail\r\n";

	CHECK(r && r->len == sizeof(want) - 1 && memcmp(r->wire, want, r->len) == 0);
	CHECK(r && reply_lint(r, "mx.example.test") == 0);
	reply_free(r);
	r = build(one, 1);
	CHECK(r && reply_lint(r, "mx.example.test") == 0);
	reply_free(r);
	r = build(plain, 1);
	CHECK(r && reply_lint(r, "mx.example.test") ==
			   (REPLY_LINT_HOST_FIRST | REPLY_LINT_ENHANCED_LAST));
	reply_free(r);
	r = build(tab, 1);
	CHECK(r && reply_lint(r, "mx.example.test") ==
			   (REPLY_LINT_HOST_FIRST | REPLY_LINT_ENHANCED_LAST));
	reply_free(r);
}

int main(void)
{
	test_bad_bytes();
	test_escapes();
	test_line_cap();
	test_line_count();
	test_default_shape_and_lint();
	return test_done();
}
