/*
 * check-dns, the command: does each name publish what a name that never receives mail
 * should? Reads the options and names, checks each name, prints the reports and turns
 * their verdicts into the exit status.
 */
#include <getopt.h>
#include <idn2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "checkdns.h"
#include "checkdns_lookup.h"
#include "checkdns_mx.h"
#include "checkdns_print.h"
#include "checkdns_report.h"

struct options {
	const char *resolver;
	bool json;
	bool rcpt_mode;
	int first_name;
};

static void usage(FILE *out)
{
	fputs("usage: nullmxd check-dns [--resolver ADDR[:PORT]] [--json] [--rcpt-mode] NAME...\n"
	      "  -r, --resolver ADDR[:PORT]  ask this server (IPv6 as [::1]:5353) instead of\n"
	      "                              those in /etc/resolv.conf\n"
	      "  -j, --json                  print one JSON document\n"
	      "      --rcpt-mode             nullmxd on this host runs mode = \"rcpt\": an MX\n"
	      "                              may name this host\n",
	      out);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {{"resolver", required_argument, NULL, 'r'},
						 {"json", no_argument, NULL, 'j'},
						 {"rcpt-mode", no_argument, NULL, 'R'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	int c;

	memset(opt, 0, sizeof *opt);
	optind = 0; /* the caller may have used getopt already */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+r:jh", longopts, NULL)) != -1) {
		if (c == 'r') {
			opt->resolver = optarg;
		} else if (c == 'j') {
			opt->json = true;
		} else if (c == 'R') {
			opt->rcpt_mode = true;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "nullmxd check-dns: bad option or missing argument\n");
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "nullmxd check-dns: no name to check\n");
		usage(stderr);
		return EX_USAGE;
	}
	opt->first_name = optind;
	return -1;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* DNS holds internationalized names in their IDNA form (RFC 5890); libidn2 computes it. */
static void name_error(const char *arg)
{
	char *ace = NULL;

	if (is_ascii(arg)) {
		fprintf(stderr, "nullmxd check-dns: not a domain name: %s\n", arg);
		return;
	}
	if (idn2_to_ascii_8z(arg, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) == IDN2_OK)
		fprintf(stderr,
			"nullmxd check-dns: %s is not in the form DNS holds: use its IDNA "
			"form, %s\n",
			arg, ace);
	else
		fprintf(stderr,
			"nullmxd check-dns: %s is not in the form DNS holds: use its xn-- "
			"(IDNA) form\n",
			arg);
	idn2_free(ace);
}

static int reports_init(struct report *reports, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (report_init(&reports[i], names[i]) < 0) {
			name_error(names[i]);
			return -1;
		}
	}
	return 0;
}

/* Warnings give 1 and errors 2, but an incomplete check never passes for a clean one. */
static int exit_status(const struct report *reports, size_t n)
{
	int worst = 0, failure = 0;

	for (size_t i = 0; i < n; i++) {
		enum severity v = report_verdict(&reports[i]);

		if (reports[i].failure == EX_UNAVAILABLE)
			failure = EX_UNAVAILABLE;
		else if (reports[i].failure && !failure)
			failure = reports[i].failure;
		if (v == SEV_ERROR)
			worst = 2;
		else if (v == SEV_WARNING && worst < 1)
			worst = 1;
	}
	return failure ? failure : worst;
}

static int run(const struct options *opt, struct report *reports, size_t n)
{
	struct checker *ck = checker_open(opt->resolver);

	if (!ck)
		return opt->resolver ? EX_USAGE : EX_UNAVAILABLE;
	for (size_t i = 0; i < n; i++)
		check_name(ck, &reports[i], opt->rcpt_mode);
	if (opt->json)
		print_json(stdout, reports, n);
	else
		print_text(stdout, reports, n);
	fflush(stdout);
	checker_close(ck);
	return exit_status(reports, n);
}

int checkdns_main(int argc, char **argv)
{
	struct options opt;
	struct report *reports;
	size_t n;
	int status = parse_args(argc, argv, &opt);

	if (status >= 0)
		return status;
	n = (size_t)(argc - opt.first_name);
	reports = calloc(n, sizeof *reports);
	if (!reports) {
		perror("nullmxd check-dns");
		return EX_OSERR;
	}
	if (reports_init(reports, argv + opt.first_name, n) < 0)
		status = EX_USAGE;
	else
		status = run(&opt, reports, n);
	for (size_t i = 0; i < n; i++)
		report_free(&reports[i]);
	free(reports);
	return status;
}
