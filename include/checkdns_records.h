#ifndef NULLMXD_CHECKDNS_RECORDS_H
#define NULLMXD_CHECKDNS_RECORDS_H

/*
 * The text of SPF (RFC 7208) and DMARC (RFC 7489) records, read as a receiver reads it,
 * and text written as zone-file TXT data. Pure functions of the text: no DNS, no I/O.
 */
#include <stdbool.h>
#include <stddef.h>

/* What an SPF record says about its name's senders. */
struct spf {
	bool sends;
	char passer[64];  /* the first term that can pass */
	char unknown[64]; /* the first unknown mechanism: the record is a permanent error */
	char all_qual;    /* qualifier of "all", 0 when absent */
};

/* Does the text start "v=spf1", in any case, as a whole term? */
bool spf_is_record(const char *text);
/* Can this record ever give "pass"? Only a "+" mechanism or a redirect can. */
void spf_classify(const char *record, struct spf *spf);

/* Is the first tag "v=DMARC1"? */
bool dmarc_is_record(const char *text);
/* The p= value; "none" when there is none. */
void dmarc_policy(const char *record, char *out, size_t len);
/* The record with p=reject, its other tags (rua=, ...) kept; NULL when out of memory. */
char *dmarc_with_reject(const char *record);

/*
 * Text as zone-file TXT data: quoted strings of at most 255 bytes (RFC 1035 section
 * 3.3); NULL when out of memory.
 */
char *txt_quote(const char *text);

#endif
