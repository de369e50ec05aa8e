#include <limits.h>

#include "config_scan.h"
#include "test.h"

/* The index-th integer of text, written as expected, with libconfig 1.5's value. */
static void check_integer(const char *text, size_t index, const char *written, long long value,
			  long long libconfig, unsigned line)
{
	struct int_literal lit = {0};

	CHECK(config_scan_integer(text, index, &lit) > index);
	CHECK(lit.len == strlen(written) && strncmp(lit.text, written, lit.len) == 0);
	CHECK(lit.value == value && lit.libconfig == libconfig && lit.line == line);
	CHECK(!lit.overflow);
}

static void test_numbers(void)
{
	/* leading zeros are decimal, as libconfig's atoi reads them */
	check_integer("a = 010;", 0, "010", 10, 10, 1);
	check_integer("a = 09;", 0, "09", 9, 9, 1);
	check_integer("a = 4294967296;", 0, "4294967296", 4294967296LL, 0, 1);
	check_integer("a = -2147483649;", 0, "-2147483649", -2147483649LL, 2147483647, 1);
	check_integer("a = 0x100000001;", 0, "0x100000001", 4294967297LL, 1, 1);
	check_integer("a = 0XfFL;", 0, "0XfFL", 255, 255, 1);
	check_integer("a = 4294967296LL;", 0, "4294967296LL", 4294967296LL, 4294967296LL, 1);
	check_integer("a = +7;", 0, "+7", 7, 7, 1);
	/* floats hold no integer: the longest pattern wins */
	CHECK(config_scan_integer("a = 1e5; b = 1.; c = .5; d = -2.5e-3; e = 1.5e", 0, NULL) == 0);
	/* 1LLL is 1LL then a name; 0x alone is 0 then a name; 1e is 1 then a name */
	CHECK(config_scan_integer("a = 1LLL 0x 1e", 0, NULL) == 3);
}

static void test_overflow(void)
{
	struct int_literal lit;

	CHECK(config_scan_integer("a = 99999999999999999999;", 0, &lit) == 1);
	CHECK(lit.overflow && lit.value == LLONG_MAX && lit.libconfig == -1);
	CHECK(config_scan_integer("a = -99999999999999999999;", 0, &lit) == 1);
	CHECK(lit.overflow && lit.value == LLONG_MIN && lit.libconfig == 0);
	CHECK(config_scan_integer("a = 0xFFFFFFFFFFFFFFFFL;", 0, &lit) == 1);
	CHECK(lit.overflow && lit.libconfig == -1);
	CHECK(config_scan_integer("a = -9223372036854775808L;", 0, &lit) == 1);
	CHECK(!lit.overflow && lit.value == LLONG_MIN);
}

static void test_not_integers(void)
{
	const char *text = "# a = 1\n"
			   "// b = 2\n"
			   "/* c = 3\n d = 4 */ e = \"f = 5 \\\" g = 6 \\\\\" h1-2 = x9;\n"
			   "i = 0x7;";

	/* comments, strings with escapes, and names with digits hold none */
	CHECK(config_scan_integer(text, 0, NULL) == 1);
	check_integer(text, 0, "0x7", 7, 7, 5);
	/* a string's backslash before anything else is itself */
	check_integer("a = \"\\x\"; b = 3;", 0, "3", 3, 3, 1);
	/* lines counted inside comments and strings */
	check_integer("/*\n\n*/ a = \"\n\"; b = [1,\n2];", 1, "2", 2, 2, 5);
}

static void test_includes(void)
{
	struct include_line at;

	CHECK(config_scan_include("a = 1;\n  @include \"x\\\"y\\\\z.conf\"\nb = 2;\n", 0, &at) ==
	      1);
	CHECK(strcmp(at.name, "x\"y\\z.conf") == 0 && at.line == 2);
	/* only at the start of a line, outside comments and strings */
	CHECK(config_scan_include("a = 1; @include \"x\"\n", 0, NULL) == 0);
	CHECK(config_scan_include("/* x */@include \"x\"\n# @include \"y\"\n", 0, NULL) == 0);
	CHECK(config_scan_include("a = \"\n@include \\\"x\\\"\";\n", 0, NULL) == 0);
	CHECK(config_scan_include("@include \"\"\n@include \"b\"", 1, &at) == 2);
	CHECK(strcmp(at.name, "b") == 0 && at.line == 2);
	/* the include line's name is no string of the file's */
	CHECK(config_scan_integer("@include \"1\"\na = 2;", 0, NULL) == 1);
}

int main(void)
{
	test_numbers();
	test_overflow();
	test_not_integers();
	test_includes();
	return test_done();
}
