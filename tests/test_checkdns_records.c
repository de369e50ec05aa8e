#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkdns_records.h"
#include "test.h"

/* 40 terms that can never pass: what decides a record this long comes after byte 449. */
static char no_pass[1024];

static struct spf spf_of(const char *record)
{
	struct spf spf;

	spf_classify(record, &spf);
	return spf;
}

static struct spf spf_long(const char *tail, char *record, size_t len)
{
	snprintf(record, len, "v=spf1 %s %s", no_pass, tail);
	return spf_of(record);
}

static void test_spf_is_record(void)
{
	CHECK(spf_is_record("v=spf1 -all"));
	CHECK(spf_is_record("v=spf1"));
	CHECK(spf_is_record("V=SPF1 -ALL"));
	CHECK(!spf_is_record("v=spf10 -all"));
	CHECK(!spf_is_record("v=spf1-all"));
	CHECK(!spf_is_record("spf1 -all"));
	CHECK(!spf_is_record("v=DMARC1; p=reject"));
}

static void test_spf_quiet(void)
{
	struct spf spf = spf_of("v=spf1 -all");

	CHECK(!spf.sends && spf.all_qual == '-' && !spf.unknown[0]);
	spf = spf_of("v=spf1 ~all");
	CHECK(!spf.sends && spf.all_qual == '~');
	spf = spf_of("v=spf1 ?all");
	CHECK(!spf.sends && spf.all_qual == '?');
	spf = spf_of("v=spf1");
	CHECK(!spf.sends && spf.all_qual == 0);
	spf = spf_of("v=spf1 -ip4:192.0.2.1 ~a -all");
	CHECK(!spf.sends && spf.all_qual == '-');
	/* A bare mx names the name's own MX hosts: a null MX has none (RFC 7208 5.4). */
	spf = spf_of("v=spf1 mx ~all");
	CHECK(!spf.sends && spf.all_qual == '~');
	spf = spf_of("v=spf1   -all  ");
	CHECK(!spf.sends && spf.all_qual == '-');
}

static void test_spf_sends(void)
{
	struct spf spf = spf_of("v=spf1 ip4:192.0.2.0/24 include:spf.example.net -all");

	CHECK(spf.sends && spf.all_qual == '-');
	CHECK_STR(spf.passer, "ip4:192.0.2.0/24");
	spf = spf_of("v=spf1 +a -all");
	CHECK(spf.sends);
	CHECK_STR(spf.passer, "a");
	spf = spf_of("v=spf1 a/24 -all");
	CHECK_STR(spf.passer, "a/24");
	spf = spf_of("v=spf1 mx:mail.example.net -all");
	CHECK(spf.sends);
	CHECK_STR(spf.passer, "mx:mail.example.net");
	spf = spf_of("v=spf1 +all");
	CHECK(spf.sends && spf.all_qual == '+');
	CHECK_STR(spf.passer, "all");
}

/* Mechanisms after "all" are never tested (RFC 7208 section 5.1). */
static void test_spf_after_all(void)
{
	struct spf spf = spf_of("v=spf1 -all include:spf.example.net");

	CHECK(!spf.sends && spf.all_qual == '-');
	spf = spf_of("v=spf1 ~all +all");
	CHECK(!spf.sends && spf.all_qual == '~');
	spf = spf_of("v=spf1 -all redirect=_spf.example.net");
	CHECK(!spf.sends);
}

/* An unknown mechanism is a permanent error wherever it is (RFC 7208 section 4.6). */
static void test_spf_unknown(void)
{
	char longterm[128], want[64], record[2048];
	struct spf spf = spf_of("v=spf1 ipv4:192.0.2.1 -all");

	CHECK_STR(spf.unknown, "ipv4:192.0.2.1");
	spf = spf_of("v=spf1 -all bogus");
	CHECK_STR(spf.unknown, "bogus");
	spf = spf_of("v=spf1 ~foo ?bar -all");
	CHECK_STR(spf.unknown, "foo");
	memset(longterm, 'x', 100);
	snprintf(longterm + 100, sizeof longterm - 100, ":y");
	spf = spf_long(longterm, record, sizeof record);
	snprintf(want, sizeof want, "%.60s", longterm);
	CHECK_STR(spf.unknown, want);
	/* An unknown modifier is ignored (RFC 7208 section 6). */
	spf = spf_of("v=spf1 exp=explain._spf.example.net foo=bar -all");
	CHECK(!spf.unknown[0] && !spf.sends && spf.all_qual == '-');
}

static void test_spf_long(void)
{
	char quiet[2048], sends[2048];
	struct spf spf = spf_long("-all", quiet, sizeof quiet);

	CHECK(strlen(quiet) > 449);
	CHECK(!spf.sends && spf.all_qual == '-' && !spf.unknown[0]);
	spf = spf_long("include:spf.example.net -all", sends, sizeof sends);
	CHECK(strstr(sends, "include:") - sends > 449);
	CHECK(spf.sends && spf.all_qual == '-');
	CHECK_STR(spf.passer, "include:spf.example.net");
}

/* redirect= counts only without an "all" (RFC 7208 section 6.1). */
static void test_spf_redirect(void)
{
	struct spf spf = spf_of("v=spf1 redirect=_spf.example.net");

	CHECK(spf.sends && spf.all_qual == 0);
	CHECK_STR(spf.passer, "redirect=");
	spf = spf_of("v=spf1 REDIRECT=_spf.example.net");
	CHECK(spf.sends);
	spf = spf_of("v=spf1 redirect=_spf.example.net -all");
	CHECK(!spf.sends && spf.all_qual == '-');
	spf = spf_of("v=spf1 a redirect=_spf.example.net");
	CHECK_STR(spf.passer, "a");
}

static void test_spf_case(void)
{
	struct spf spf = spf_of("V=SPF1 -ALL");

	CHECK(!spf.sends && spf.all_qual == '-' && !spf.unknown[0]);
	spf = spf_of("v=spf1 INCLUDE:spf.example.net -All");
	CHECK(spf.sends && spf.all_qual == '-');
	CHECK_STR(spf.passer, "INCLUDE:spf.example.net");
	spf = spf_of("v=spf1 MX -all");
	CHECK(!spf.sends);
	spf = spf_of("v=spf1 Ip6:2001:db8::/32 -all");
	CHECK(spf.sends && !spf.unknown[0]);
}

static void test_dmarc_is_record(void)
{
	CHECK(dmarc_is_record("v=DMARC1; p=reject;"));
	CHECK(dmarc_is_record("v=DMARC1"));
	CHECK(dmarc_is_record(" v = DMARC1 ; p = none"));
	CHECK(!dmarc_is_record("v=DMARC10; p=reject"));
	CHECK(!dmarc_is_record("p=reject; v=DMARC1"));
	CHECK(!dmarc_is_record("v=spf1 -all"));
	CHECK(!dmarc_is_record(""));
}

static void test_dmarc_policy(void)
{
	char policy[32];

	dmarc_policy("v=DMARC1; p=reject;", policy, sizeof policy);
	CHECK_STR(policy, "reject");
	dmarc_policy("v=DMARC1; p = reject", policy, sizeof policy);
	CHECK_STR(policy, "reject");
	dmarc_policy("v=DMARC1;p=quarantine;rua=mailto:d@example.test", policy, sizeof policy);
	CHECK_STR(policy, "quarantine");
	dmarc_policy("v=DMARC1; sp=reject; p=none", policy, sizeof policy);
	CHECK_STR(policy, "none");
	dmarc_policy("v=DMARC1; rua=mailto:d@example.test", policy, sizeof policy);
	CHECK_STR(policy, "none");
	dmarc_policy("v=DMARC1; p=REJECT", policy, sizeof policy);
	CHECK_STR(policy, "REJECT");
}

static void check_reject(const char *record, const char *want)
{
	char *got = dmarc_with_reject(record);

	CHECK_STR(got, want);
	free(got);
}

static void test_dmarc_with_reject(void)
{
	check_reject("v=DMARC1; p=none; rua=mailto:d@example.test",
		     "v=DMARC1; p=reject; rua=mailto:d@example.test");
	check_reject("v=DMARC1; p = quarantine ; pct=50", "v=DMARC1; p = reject ; pct=50");
	check_reject("v=DMARC1; p=none", "v=DMARC1; p=reject");
	check_reject("v=DMARC1; rua=mailto:d@example.test", "v=DMARC1; p=reject;");
}

static void check_quote(const char *text, const char *want)
{
	char *got = txt_quote(text);

	CHECK_STR(got, want);
	free(got);
}

/* Strings of at most 255 bytes (RFC 1035 section 3.3). */
static void test_txt_quote(void)
{
	char text[301], want[400];

	check_quote("", "\"\"");
	check_quote("v=spf1 -all", "\"v=spf1 -all\"");
	check_quote("a\"b\\c", "\"a\\\"b\\\\c\"");
	memset(text, 'a', 300);
	text[300] = '\0';
	snprintf(want, sizeof want, "\"%.255s\" \"%.45s\"", text, text);
	check_quote(text, want);
	text[255] = '\0';
	snprintf(want, sizeof want, "\"%s\"", text);
	check_quote(text, want);
}

int main(void)
{
	size_t used = 0;

	for (int i = 1; i <= 40; i++)
		used += (size_t)snprintf(no_pass + used, sizeof no_pass - used,
					 "%s-ip4:198.51.100.%d", i > 1 ? " " : "", i);
	test_spf_is_record();
	test_spf_quiet();
	test_spf_sends();
	test_spf_after_all();
	test_spf_unknown();
	test_spf_long();
	test_spf_redirect();
	test_spf_case();
	test_dmarc_is_record();
	test_dmarc_policy();
	test_dmarc_with_reject();
	test_txt_quote();
	return test_done();
}
