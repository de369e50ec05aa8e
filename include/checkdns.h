#ifndef NULLMXD_CHECKDNS_H
#define NULLMXD_CHECKDNS_H

/*
 * "nullmxd check-dns [--resolver ADDR[:PORT]] [--json] [--rcpt-mode] NAME...": asks DNS
 * whether each name publishes what a name that never receives mail should (a null MX,
 * RFC 7505, or with --rcpt-mode an MX naming this host) and reports a verdict per name. argv[0] is
 * "check-dns". Returns the exit status: 0 all OK, 1 warnings, 2 errors, 64 bad usage, 69 resolver
 * unreachable or unable to answer (a referral, REFUSED), 75 resolver SERVFAIL.
 */
int checkdns_main(int argc, char **argv);

#endif
