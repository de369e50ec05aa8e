#ifndef NULLMXD_CHECKDNS_MX_H
#define NULLMXD_CHECKDNS_MX_H

/*
 * Verdicts on one name, from its MX records: a null MX (RFC 7505), MX hosts that can or
 * cannot receive (RFC 5321 section 5.1), or the implicit MX of a name without one; then,
 * for a name that receives no mail, its SPF and DMARC records.
 */
#include <stdbool.h>

#include "checkdns_lookup.h"
#include "checkdns_report.h"

/* rcpt_mode: nullmxd on this host refuses at RCPT TO, so an MX may name this host. */
void check_name(struct checker *ck, struct report *r, bool rcpt_mode);

#endif
