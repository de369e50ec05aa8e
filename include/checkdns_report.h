#ifndef NULLMXD_CHECKDNS_REPORT_H
#define NULLMXD_CHECKDNS_REPORT_H

/*
 * What check-dns found out about one name: findings, each with a severity, and the
 * records it suggests. Every suggested record, applied as printed, leaves the zone valid:
 * a record of a kind already there is suggested as a replacement of it, and nothing goes
 * at a CNAME.
 */
#include <stddef.h>

#define NAME_LEN_MAX 253
#define FINDINGS_MAX 48
#define SUGGESTED_MAX 4
#define REPLACES_MAX 8

/* Ordered by how much they say: an error is known bad, "unknown" may hide one. */
enum severity { SEV_OK, SEV_INFO, SEV_WARNING, SEV_UNKNOWN, SEV_ERROR };

struct finding {
	enum severity sev;
	const char *code;
	char *text;
};

/* A record to add, and the records it replaces (to delete first). */
struct suggestion {
	char *record;
	char *replaces[REPLACES_MAX];
	size_t nreplaces;
};

struct report {
	char name[NAME_LEN_MAX + 1]; /* without the final dot */
	char fqdn[NAME_LEN_MAX + 2];
	struct finding findings[FINDINGS_MAX];
	size_t nfindings;
	struct suggestion suggested[SUGGESTED_MAX];
	size_t nsuggested;
	int failure; /* 0, EX_UNAVAILABLE or EX_TEMPFAIL */
};

/* -1 when arg is not a DNS name in ASCII (an optional final dot aside). */
int report_init(struct report *r, const char *arg);
void report_free(struct report *r);

void add_finding(struct report *r, enum severity sev, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "OWNER IN TYPE RDATA"; returns the suggestion, for replaces, or NULL when full. */
struct suggestion *suggest(struct report *r, const char *owner, const char *type,
			   const char *rdata);
void suggest_replaces(struct suggestion *s, const char *owner, const char *type, const char *rdata);

/* The worst severity found; info counts as ok. */
enum severity report_verdict(const struct report *r);
const char *severity_name(enum severity sev);

#endif
