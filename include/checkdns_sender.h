#ifndef NULLMXD_CHECKDNS_SENDER_H
#define NULLMXD_CHECKDNS_SENDER_H

/*
 * Verdicts on a name's SPF (RFC 7208) and DMARC (RFC 7489) records, for a name with a
 * null MX, none, or MX hosts that are all this host in rcpt mode (refusing every
 * recipient): does it send? If not, it should say so.
 */
#include "checkdns_lookup.h"
#include "checkdns_report.h"

void check_sender(struct checker *ck, struct report *r, const struct mxset *mx);

#endif
