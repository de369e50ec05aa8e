#ifndef NULLMXD_CHECKDNS_LOOKUP_H
#define NULLMXD_CHECKDNS_LOOKUP_H

/*
 * check-dns's questions to DNS, and what the answers hold: MX hosts, addresses, TXT
 * records. A failed lookup is reported in the name's report as it happens.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkdns_report.h"

#define ADDRS_SHOWN 8

/* The resolver, and this host's addresses to recognise among the answers. */
struct checker;

enum lookup_status {
	LOOKUP_OK,
	LOOKUP_NXDOMAIN,
	LOOKUP_SERVFAIL,
	LOOKUP_BAD_RCODE,
	LOOKUP_REFERRAL,
	LOOKUP_BAD_NAME,
	LOOKUP_NO_REPLY
};

/* How a lookup went, apart from the records it found. */
struct answer {
	enum lookup_status status;
	char owner[NAME_LEN_MAX + 2]; /* where the records are: the end of a CNAME chain */
	bool alias;                   /* the name asked for is a CNAME */
	char why[384];
};

struct mxhost {
	uint16_t pref;
	char *name;
};

struct mxset {
	size_t count;
	size_t nnull;
	uint16_t null_pref;
	struct mxhost *hosts; /* sorted by preference, then name */
	size_t nhosts;
	char owner[NAME_LEN_MAX + 2]; /* where MX records for the name go */
};

struct hostaddr {
	int af;
	unsigned char bytes[16];
	const char *ifname; /* this host's interface holding it, or NULL */
};

struct addrs {
	struct hostaddr list[ADDRS_SHOWN]; /* sorted */
	size_t n;
	size_t total;
	bool nxdomain;
};

/* The TXT records at a name that pass a test, sorted: the verdict never follows RRset order. */
struct txt_match {
	size_t count;
	char **texts; /* the strings joined */
	char **zone;  /* the record as zone-file text, same order */
	char owner[NAME_LEN_MAX + 2];
};

/* resolver as in resolver_open(); NULL after saying why on stderr. */
struct checker *checker_open(const char *resolver);
void checker_close(struct checker *ck);
/* The resolver stopped answering: asking more only costs time. */
bool checker_dead(const struct checker *ck);

/* Reports a lookup of type at owner that got no usable answer. */
void lookup_failed(struct checker *ck, struct report *r, const struct answer *ans, const char *type,
		   const char *owner);
/* The MX records of owner, read into mx when ans->status is LOOKUP_OK. */
void lookup_mx(struct checker *ck, const char *owner, struct answer *ans, struct mxset *mx);
void mx_free(struct mxset *mx);
/* -1 when a lookup failed (reported). */
int lookup_addrs(struct checker *ck, struct report *r, const char *owner, struct addrs *out);
/* The TXT records at owner that pass the test; -1 when the lookup failed (reported). */
int lookup_txt(struct checker *ck, struct report *r, const char *owner, bool (*test)(const char *),
	       struct txt_match *m);
void txt_match_free(struct txt_match *m);

#endif
