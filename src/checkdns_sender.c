#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checkdns_alloc.h"
#include "checkdns_records.h"
#include "checkdns_sender.h"

/* The longest name whose "_dmarc." owner DNS can still carry (RFC 1035 section 2.3.4). */
#define DMARC_NAME_LEN_MAX (NAME_LEN_MAX - 7)

/* DMARC (RFC 7489) */

/* One record with p=reject in place of all there are. */
static void dmarc_suggest_reject(struct report *r, const struct txt_match *m)
{
	char *reject = dmarc_with_reject(m->texts[0]), *quoted = reject ? txt_quote(reject) : NULL;
	struct suggestion *s;

	if (!quoted)
		out_of_memory();
	s = suggest(r, m->owner, "TXT", quoted);
	for (size_t i = 0; i < m->count; i++)
		suggest_replaces(s, m->owner, "TXT", m->zone[i]);
	free(quoted);
	free(reject);
}

static void dmarc_report(struct report *r, const struct txt_match *m, const char *owner)
{
	char policy[32];

	dmarc_policy(m->texts[0], policy, sizeof policy);
	if (m->count > 1)
		add_finding(r, SEV_WARNING, "dmarc-multiple",
			    "%zu DMARC records at %s: receivers then apply no DMARC policy (RFC "
			    "7489 section 6.6.3); keep one, with p=reject",
			    m->count, owner);
	else if (strcasecmp(policy, "reject") == 0)
		add_finding(r, SEV_OK, "dmarc-reject", "DMARC \"%s\" at %s", m->texts[0], owner);
	else
		add_finding(r, SEV_INFO, "dmarc-weak",
			    "DMARC \"%s\" at %s has p=%s; a name that never sends can use "
			    "p=reject",
			    m->texts[0], owner, policy);
	if (m->count > 1 || strcasecmp(policy, "reject") != 0)
		dmarc_suggest_reject(r, m);
}

static void check_dmarc(struct checker *ck, struct report *r)
{
	char owner[NAME_LEN_MAX + 16];
	struct txt_match m;

	snprintf(owner, sizeof owner, "_dmarc.%s", r->fqdn);
	if (strlen(r->name) > DMARC_NAME_LEN_MAX) {
		add_finding(r, SEV_INFO, "dmarc-name-too-long",
			    "no DMARC record can exist for %s: %s would be longer than the 253 "
			    "characters DNS allows (RFC 1035 section 2.3.4); receivers use the "
			    "DMARC record of its organizational domain (RFC 7489 section 6.6.3)",
			    r->name, owner);
		return;
	}
	if (lookup_txt(ck, r, owner, dmarc_is_record, &m) < 0)
		return;
	if (m.count == 0) {
		add_finding(r, SEV_INFO, "dmarc-missing",
			    "no DMARC record at %s: with p=reject, receivers reject mail that "
			    "forges %s",
			    owner, r->name);
		suggest(r, m.owner, "TXT", "\"v=DMARC1; p=reject;\"");
	} else {
		dmarc_report(r, &m, owner);
	}
	txt_match_free(&m);
}

/* SPF (RFC 7208) */

static void spf_report_quiet(struct report *r, const struct txt_match *m, const struct spf *spf)
{
	if (m->count == 0) {
		add_finding(r, SEV_INFO, "spf-missing",
			    "no SPF record: if %s never sends mail, say so with \"v=spf1 -all\"",
			    r->name);
		suggest(r, m->owner, "TXT", "\"v=spf1 -all\"");
	} else if (spf->all_qual != '-') {
		add_finding(r, SEV_INFO, "spf-not-fail",
			    "SPF \"%s\" authorizes no sender but does not end in -all; "
			    "\"v=spf1 -all\" in its place makes receivers fail forgeries",
			    m->texts[0]);
		suggest_replaces(suggest(r, m->owner, "TXT", "\"v=spf1 -all\""), m->owner, "TXT",
				 m->zone[0]);
	} else {
		add_finding(r, SEV_OK, "spf-no-sender", "SPF \"%s\" authorizes no sender",
			    m->texts[0]);
	}
}

static void spf_report_sends(struct report *r, const char *record, const struct spf *spf,
			     const struct mxset *mx)
{
	const char *code = "sender-without-mx",
		   *why = ": if it is a bounce (Return-Path) domain it needs a working MX, not a "
			  "null MX (RFC 7505 section 4.2)";

	if (mx->nnull > 0) {
		code = "null-mx-sender";
		why = ", yet its null MX says it receives none: receivers may reject its mail "
		      "(550 5.7.27, RFC 7505 section 4.2); use a bounce (Return-Path) domain "
		      "that keeps a working MX";
	} else if (mx->count > 0) {
		code = "rcpt-mx-sender";
		why = ", yet its MX refuses every recipient: bounces and replies to it are lost; "
		      "use a bounce (Return-Path) domain that keeps a working MX (RFC 7505 "
		      "section 4.2)";
	}
	add_finding(r, SEV_WARNING, code, "SPF \"%s\" authorizes senders (%s), so %s sends mail%s",
		    record, spf->passer, r->name, why);
}

/* Returns false when the name may send mail: then nothing more is suggested. */
static bool check_spf(struct report *r, const struct txt_match *m, const struct mxset *mx)
{
	struct spf spf = {0};

	if (m->count > 1) {
		add_finding(r, SEV_WARNING, "spf-multiple",
			    "%zu SPF records: receivers treat that as a permanent error (RFC "
			    "7208 section 4.5); keep one",
			    m->count);
		return false;
	}
	if (m->count == 1)
		spf_classify(m->texts[0], &spf);
	if (spf.unknown[0]) {
		add_finding(r, SEV_WARNING, "spf-invalid",
			    "SPF \"%s\" has an unknown mechanism, \"%s\": receivers treat the "
			    "record as a permanent error (RFC 7208 section 4.6), so none of it "
			    "applies, not even its \"all\"; correct that term",
			    m->texts[0], spf.unknown);
		return false;
	}
	if (spf.sends) {
		spf_report_sends(r, m->texts[0], &spf, mx);
		return false;
	}
	if (mx->count == 0)
		suggest(r, mx->owner, "MX", "0 .");
	spf_report_quiet(r, m, &spf);
	return true;
}

void check_sender(struct checker *ck, struct report *r, const struct mxset *mx)
{
	struct txt_match m;
	bool quiet;

	if (lookup_txt(ck, r, r->fqdn, spf_is_record, &m) < 0)
		return;
	quiet = check_spf(r, &m, mx);
	txt_match_free(&m);
	if (quiet)
		check_dmarc(ck, r);
}
