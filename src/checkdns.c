/*
 * check-dns: does each name publish what a name that never receives mail should?
 *
 * DNS library: ldns (libldns-dev). Its resolver is synchronous, which is all a one-shot
 * command needs; it takes an IPv4 or IPv6 server address plus a port without touching
 * private structures; each try has a timeout and a retry count, so a dead resolver costs
 * a bounded few seconds; and it returns the whole packet, so NXDOMAIN, NODATA and
 * SERVFAIL stay distinct. glibc's res_nquery folds the rcode into h_errno and reaches an
 * IPv6 server only through res_state internals; c-ares is asynchronous and would need a
 * poll loop of our own for no gain here.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "checkdns.h"

/* One try waits this long, twice, per server: a dead resolver fails in about 3 s. */
#define CHECKDNS_TIMEOUT_MS 1500
#define CHECKDNS_TRIES 2

#define NAME_LEN_MAX 253
#define FINDINGS_MAX 12
#define SUGGESTED_MAX 4
#define TEXT_MAX 640
#define RECORD_MAX 450
#define MX_HOSTS_CHECKED 4
#define ADDRS_SHOWN 8

/* Ordered by how much they say: an error is known bad, "unknown" may hide one. */
enum severity { SEV_OK, SEV_INFO, SEV_WARNING, SEV_UNKNOWN, SEV_ERROR };

static const char *const severity_names[] = {"ok", "info", "warning", "unknown", "error"};

struct finding {
	enum severity sev;
	const char *code;
	char text[TEXT_MAX];
};

struct report {
	char name[NAME_LEN_MAX + 1]; /* without the final dot */
	char fqdn[NAME_LEN_MAX + 2];
	struct finding findings[FINDINGS_MAX];
	size_t nfindings;
	char suggested[SUGGESTED_MAX][TEXT_MAX];
	size_t nsuggested;
	int failure; /* 0, EX_UNAVAILABLE or EX_TEMPFAIL */
};

struct checker {
	ldns_resolver *res;
	struct ifaddrs *ifaddrs;
	bool resolver_dead;
};

enum lookup_status {
	LOOKUP_OK,
	LOOKUP_NXDOMAIN,
	LOOKUP_SERVFAIL,
	LOOKUP_BAD_RCODE,
	LOOKUP_NO_REPLY
};

struct answer {
	enum lookup_status status;
	ldns_rr_list *rrs; /* the asked type from the answer section; NULL when none */
	char why[128];
};

struct mxset {
	size_t count;
	size_t nnull;
	uint16_t null_pref;
	char hosts[MX_HOSTS_CHECKED][NAME_LEN_MAX + 2];
	uint16_t prefs[MX_HOSTS_CHECKED];
	size_t nhosts;
};

struct addrs {
	char text[ADDRS_SHOWN][INET6_ADDRSTRLEN];
	const char *ifname[ADDRS_SHOWN]; /* this host's interface holding it, or NULL */
	size_t n;
	size_t total;
};

struct spf {
	size_t count;
	char record[RECORD_MAX];
	bool sends;
	char passer[64]; /* the first term that can pass */
	char all_qual;   /* qualifier of "all", 0 when absent */
};

struct txt_match {
	size_t count;
	char record[RECORD_MAX];
};

struct options {
	const char *resolver;
	bool json;
	int first_name;
};

/* Reports */

static void add_finding(struct report *r, enum severity sev, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add_finding(struct report *r, enum severity sev, const char *code, const char *fmt, ...)
{
	struct finding *f;
	va_list ap;

	if (r->nfindings == FINDINGS_MAX)
		return;
	f = &r->findings[r->nfindings++];
	f->sev = sev;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof f->text, fmt, ap);
	va_end(ap);
}

static void add_suggested(struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_suggested(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nsuggested == SUGGESTED_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->suggested[r->nsuggested++], TEXT_MAX, fmt, ap);
	va_end(ap);
}

static void add_failure(struct checker *ck, struct report *r, const struct answer *ans,
			const char *type, const char *owner)
{
	int code = ans->status == LOOKUP_SERVFAIL ? EX_TEMPFAIL : EX_UNAVAILABLE;

	add_finding(r, SEV_UNKNOWN, "lookup-failed", "%s lookup for %s failed: %s", type, owner,
		    ans->why);
	if (r->failure != EX_UNAVAILABLE)
		r->failure = code;
	if (ans->status == LOOKUP_NO_REPLY)
		ck->resolver_dead = true;
}

static enum severity report_verdict(const struct report *r)
{
	enum severity worst = SEV_OK;

	for (size_t i = 0; i < r->nfindings; i++)
		if (r->findings[i].sev > worst)
			worst = r->findings[i].sev;
	return worst == SEV_INFO ? SEV_OK : worst;
}

/* Lookups */

static const char *rcode_name(ldns_pkt_rcode rcode)
{
	static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
					    "NXDOMAIN", "NOTIMP",  "REFUSED"};

	return (size_t)rcode < sizeof names / sizeof names[0] ? names[rcode] : "an unknown rcode";
}

static void lookup(struct checker *ck, const char *owner, ldns_rr_type type, struct answer *ans)
{
	ldns_rdf *dname = ldns_dname_new_frm_str(owner);
	ldns_pkt *pkt = NULL;
	ldns_status st;

	ans->rrs = NULL;
	ans->why[0] = '\0';
	st = dname ? ldns_resolver_send(&pkt, ck->res, dname, type, LDNS_RR_CLASS_IN, LDNS_RD)
		   : LDNS_STATUS_ERR;
	ldns_rdf_deep_free(dname);
	if (st != LDNS_STATUS_OK || !pkt) {
		ans->status = LOOKUP_NO_REPLY;
		snprintf(ans->why, sizeof ans->why, "no answer from the resolver (%s)",
			 ldns_get_errorstr_by_id(st));
	} else if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR) {
		ans->status = LOOKUP_OK;
		ans->rrs = ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);
	} else if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
		ans->status = LOOKUP_NXDOMAIN;
	} else {
		ans->status = ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL ? LOOKUP_SERVFAIL
									     : LOOKUP_BAD_RCODE;
		snprintf(ans->why, sizeof ans->why, "the resolver answered %s",
			 rcode_name(ldns_pkt_get_rcode(pkt)));
	}
	ldns_pkt_free(pkt);
}

static const char *local_ifname(const struct checker *ck, const ldns_rdf *addr)
{
	for (const struct ifaddrs *i = ck->ifaddrs; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa)
			continue;
		if (sa->sa_family == AF_INET && ldns_rdf_get_type(addr) == LDNS_RDF_TYPE_A &&
		    memcmp(&((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			   ldns_rdf_data(addr), 4) == 0)
			return i->ifa_name;
		if (sa->sa_family == AF_INET6 && ldns_rdf_get_type(addr) == LDNS_RDF_TYPE_AAAA &&
		    memcmp(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			   ldns_rdf_data(addr), 16) == 0)
			return i->ifa_name;
	}
	return NULL;
}

static void addrs_add(const struct checker *ck, const ldns_rr_list *rrs, struct addrs *out)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rdf *a = ldns_rr_rdf(ldns_rr_list_rr(rrs, i), 0);
		int af;

		if (!a)
			continue;
		af = ldns_rdf_get_type(a) == LDNS_RDF_TYPE_A ? AF_INET : AF_INET6;
		out->total++;
		if (out->n == ADDRS_SHOWN)
			continue;
		inet_ntop(af, ldns_rdf_data(a), out->text[out->n], sizeof out->text[0]);
		out->ifname[out->n++] = local_ifname(ck, a);
	}
}

/* The A and AAAA records of owner; -1 when a lookup failed (already reported). */
static int lookup_addrs(struct checker *ck, struct report *r, const char *owner, struct addrs *out)
{
	static const ldns_rr_type types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA};
	struct answer ans;

	memset(out, 0, sizeof *out);
	for (size_t t = 0; t < 2; t++) {
		lookup(ck, owner, types[t], &ans);
		if (ans.status != LOOKUP_OK && ans.status != LOOKUP_NXDOMAIN) {
			add_failure(ck, r, &ans, t ? "AAAA" : "A", owner);
			return -1;
		}
		if (ans.rrs)
			addrs_add(ck, ans.rrs, out);
		ldns_rr_list_deep_free(ans.rrs);
	}
	return 0;
}

static void addrs_format(const struct addrs *a, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", a->text[i]);
	if (a->total > a->n && used < len)
		snprintf(buf + used, len - used, " and %zu more", a->total - a->n);
}

/* TXT records */

/* Bytes outside printable ASCII become '?': they are invalid in SPF and DMARC anyway. */
static void txt_join(const ldns_rr *rr, char *out, size_t len)
{
	size_t used = 0;

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *s = ldns_rr_rdf(rr, i);
		const uint8_t *d = ldns_rdf_data(s);

		for (size_t k = 1; k < ldns_rdf_size(s) && k <= d[0] && used + 1 < len; k++)
			out[used++] = d[k] >= 0x20 && d[k] < 0x7f ? (char)d[k] : '?';
	}
	out[used] = '\0';
}

static bool is_spf(const char *t)
{
	return strncasecmp(t, "v=spf1", 6) == 0 && (t[6] == ' ' || t[6] == '\0');
}

static bool is_dmarc(const char *t)
{
	return strncmp(t, "v=DMARC1", 8) == 0 && strchr("; ", t[8]);
}

/* Counts the TXT records at owner that pass the test and keeps the first. */
static int txt_find(struct checker *ck, struct report *r, const char *owner,
		    bool (*test)(const char *), struct txt_match *m)
{
	struct answer ans;
	char text[RECORD_MAX];

	memset(m, 0, sizeof *m);
	lookup(ck, owner, LDNS_RR_TYPE_TXT, &ans);
	if (ans.status != LOOKUP_OK && ans.status != LOOKUP_NXDOMAIN) {
		add_failure(ck, r, &ans, "TXT", owner);
		return -1;
	}
	for (size_t i = 0; ans.rrs && i < ldns_rr_list_rr_count(ans.rrs); i++) {
		txt_join(ldns_rr_list_rr(ans.rrs, i), text, sizeof text);
		if (!test(text))
			continue;
		if (m->count++ == 0)
			memcpy(m->record, text, sizeof text);
	}
	ldns_rr_list_deep_free(ans.rrs);
	return 0;
}

/* SPF (RFC 7208) */

static bool spf_known_mechanism(const char *name, size_t len)
{
	static const char *const known[] = {"all", "include", "a",   "mx",
					    "ptr", "ip4",     "ip6", "exists"};

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i]) == len && strncasecmp(name, known[i], len) == 0)
			return true;
	return false;
}

static void spf_term(const char *t, size_t len, struct spf *spf, bool *redirect)
{
	char qual = '+';
	size_t name_len = strcspn(t, ":/= ");

	if (t[name_len] == '=') {
		if (name_len == 8 && strncasecmp(t, "redirect", 8) == 0)
			*redirect = true;
		return;
	}
	if (strchr("+-~?", *t)) {
		qual = *t++;
		len--;
		name_len--;
	}
	if (!spf_known_mechanism(t, name_len))
		return;
	if (name_len == 3 && strncasecmp(t, "all", 3) == 0)
		spf->all_qual = qual;
	/*
	 * A bare "mx" looks at the name's own MX hosts: a null MX has none, and without
	 * an MX the implicit MX does not apply to SPF (RFC 7208 section 5.4).
	 */
	if (qual != '+' || (name_len == 2 && strncasecmp(t, "mx", 2) == 0 && t[2] != ':'))
		return;
	if (!spf->sends)
		snprintf(spf->passer, sizeof spf->passer, "%.*s", (int)(len < 60 ? len : 60), t);
	spf->sends = true;
}

/* Can this record ever give "pass"? Only a "+" mechanism or a redirect can. */
static void spf_classify(struct spf *spf)
{
	const char *p = spf->record + 6;
	bool redirect = false;

	spf->sends = false;
	spf->all_qual = 0;
	spf->passer[0] = '\0';
	while (*p) {
		size_t len;

		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (len)
			spf_term(p, len, spf, &redirect);
		p += len;
	}
	/* redirect= is ignored when the record has an "all" (RFC 7208 section 6.1). */
	if (redirect && !spf->all_qual && !spf->sends) {
		spf->sends = true;
		snprintf(spf->passer, sizeof spf->passer, "redirect=");
	}
}

/* DMARC (RFC 7489) */

static void dmarc_policy(const char *record, char *out, size_t len)
{
	const char *p = record;

	snprintf(out, len, "none");
	while ((p = strchr(p, ';'))) {
		p += 1 + strspn(p + 1, " \t");
		if (p[0] == 'p' && p[1] == '=') {
			snprintf(out, len, "%.*s", (int)strcspn(p + 2, "; \t"), p + 2);
			return;
		}
	}
}

/* The verdicts */

static void check_dmarc(struct checker *ck, struct report *r)
{
	char owner[NAME_LEN_MAX + 16];
	char policy[32];
	struct txt_match m;

	snprintf(owner, sizeof owner, "_dmarc.%s", r->fqdn);
	if (txt_find(ck, r, owner, is_dmarc, &m) < 0)
		return;
	if (m.count == 0) {
		add_finding(r, SEV_INFO, "dmarc-missing",
			    "no DMARC record at %s: with p=reject, receivers reject mail that "
			    "forges %s",
			    owner, r->name);
	} else {
		dmarc_policy(m.record, policy, sizeof policy);
		if (strcasecmp(policy, "reject") == 0) {
			add_finding(r, SEV_OK, "dmarc-reject", "DMARC \"%s\" at %s", m.record,
				    owner);
			return;
		}
		add_finding(r, SEV_INFO, "dmarc-weak",
			    "DMARC \"%s\" at %s has p=%s; a name that never sends can use "
			    "p=reject",
			    m.record, owner, policy);
	}
	add_suggested(r, "%s IN TXT \"v=DMARC1; p=reject;\"", owner);
}

static void spf_report_quiet(struct report *r, const struct spf *spf)
{
	if (spf->count == 0) {
		add_finding(r, SEV_INFO, "spf-missing",
			    "no SPF record: if %s never sends mail, say so with \"v=spf1 -all\"",
			    r->name);
	} else if (spf->all_qual != '-') {
		add_finding(r, SEV_INFO, "spf-not-fail",
			    "SPF \"%s\" authorizes no sender but does not end in -all; "
			    "\"v=spf1 -all\" makes receivers fail forgeries",
			    spf->record);
	} else {
		add_finding(r, SEV_OK, "spf-no-sender", "SPF \"%s\" authorizes no sender",
			    spf->record);
		return;
	}
	add_suggested(r, "%s IN TXT \"v=spf1 -all\"", r->fqdn);
}

static void spf_report_sends(struct report *r, const struct spf *spf, bool null_mx)
{
	if (null_mx)
		add_finding(r, SEV_WARNING, "null-mx-sender",
			    "SPF \"%s\" authorizes senders (%s), so %s sends mail, yet its null "
			    "MX says it receives none: receivers may reject its mail (550 "
			    "5.7.27, RFC 7505 section 4.2); use a bounce (Return-Path) domain "
			    "that keeps a working MX",
			    spf->record, spf->passer, r->name);
	else
		add_finding(r, SEV_WARNING, "sender-without-mx",
			    "SPF \"%s\" authorizes senders (%s), so %s sends mail: if it is a "
			    "bounce (Return-Path) domain it needs a working MX, not a null MX "
			    "(RFC 7505 section 4.2)",
			    spf->record, spf->passer, r->name);
}

/* Null MX or no MX: does the name send? If not, it should say so. */
static void check_sender(struct checker *ck, struct report *r, const struct mxset *mx)
{
	struct txt_match m;
	struct spf spf;

	if (txt_find(ck, r, r->fqdn, is_spf, &m) < 0)
		return;
	spf.count = m.count;
	memcpy(spf.record, m.record, sizeof spf.record);
	if (spf.count > 1) {
		add_finding(r, SEV_WARNING, "spf-multiple",
			    "%zu SPF records: receivers treat that as a permanent error (RFC "
			    "7208 section 4.5); keep one",
			    spf.count);
		return;
	}
	if (spf.count == 1)
		spf_classify(&spf);
	if (spf.count == 1 && spf.sends) {
		spf_report_sends(r, &spf, mx->nnull > 0);
		return;
	}
	if (mx->count == 0 || (mx->count == 1 && mx->null_pref != 0))
		add_suggested(r, "%s IN MX 0 .", r->fqdn);
	spf_report_quiet(r, &spf);
	check_dmarc(ck, r);
}

static void mx_read(const ldns_rr_list *rrs, struct mxset *mx)
{
	memset(mx, 0, sizeof *mx);
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		const ldns_rdf *exchange = ldns_rr_mx_exchange(rr);
		const ldns_rdf *prefrdf = ldns_rr_mx_preference(rr);
		uint16_t pref;
		char *host;

		if (!exchange || !prefrdf)
			continue;
		pref = ldns_rdf2native_int16(prefrdf);
		mx->count++;
		if (ldns_rdf_size(exchange) == 1) { /* the root: "." */
			mx->nnull++;
			mx->null_pref = pref;
			continue;
		}
		if (mx->nhosts == MX_HOSTS_CHECKED || !(host = ldns_rdf2str(exchange)))
			continue;
		snprintf(mx->hosts[mx->nhosts], sizeof mx->hosts[0], "%s", host);
		mx->prefs[mx->nhosts++] = pref;
		free(host);
	}
}

static void check_null_mx(struct report *r, const struct mxset *mx)
{
	if (mx->count > 1)
		add_finding(r, SEV_ERROR, "null-mx-mixed",
			    "a null MX among %zu MX records: a null MX must be the only MX (RFC "
			    "7505 section 3); remove the null MX if %s receives mail, the other "
			    "MX records if it does not",
			    mx->count, r->name);
	else if (mx->null_pref != 0)
		add_finding(r, SEV_WARNING, "null-mx-preference",
			    "null MX with preference %u: RFC 7505 section 3 specifies 0; "
			    "replace it with \"%s IN MX 0 .\"",
			    (unsigned)mx->null_pref, r->fqdn);
	else
		add_finding(r, SEV_OK, "null-mx",
			    "null MX \"%s IN MX 0 .\" is its only MX: senders give up without "
			    "connecting (RFC 7505)",
			    r->fqdn);
}

static void check_mx_host(struct checker *ck, struct report *r, const char *host)
{
	struct addrs a;

	if (lookup_addrs(ck, r, host, &a) < 0)
		return;
	for (size_t i = 0; i < a.n; i++)
		if (a.ifname[i])
			add_finding(r, SEV_ERROR, "mx-is-this-host",
				    "MX host %s has address %s, which is this host's (%s): "
				    "where nullmxd listens, every message to %s is refused with "
				    "521 (a 521 host must not be an MX, RFC 1846 section 4.3)",
				    host, a.text[i], a.ifname[i], r->name);
}

static void check_real_mx(struct checker *ck, struct report *r, const struct mxset *mx)
{
	char list[TEXT_MAX / 2];
	size_t used = 0;

	list[0] = '\0';
	for (size_t i = 0; i < mx->nhosts && used < sizeof list; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (%u)",
					 i ? ", " : "", mx->hosts[i], (unsigned)mx->prefs[i]);
	add_finding(r, SEV_INFO, "real-mx",
		    "%s receives mail at its MX %s%s; that is right for a bounce (Return-Path) "
		    "domain, but nullmxd does not refuse its mail",
		    r->name, list, mx->count > mx->nhosts ? " and more" : "");
	for (size_t i = 0; i < mx->nhosts && !ck->resolver_dead; i++)
		check_mx_host(ck, r, mx->hosts[i]);
}

static void report_this_host(struct report *r, const struct addrs *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->ifname[i]) {
			add_finding(r, SEV_INFO, "this-host",
				    "%s is an address of this host (%s): where nullmxd listens, "
				    "senders connect and get 521 instead of giving up at once",
				    a->text[i], a->ifname[i]);
			return;
		}
	add_finding(r, SEV_INFO, "not-this-host",
		    "none of these addresses is this host's: whatever listens on port 25 there "
		    "gets the mail");
}

/* No MX: returns false when there is nothing more to check. */
static bool check_no_mx(struct checker *ck, struct report *r)
{
	char list[TEXT_MAX / 2];
	struct addrs a;

	if (lookup_addrs(ck, r, r->fqdn, &a) < 0)
		return false;
	if (a.total == 0) {
		add_finding(r, SEV_WARNING, "no-mx-no-address",
			    "no MX and no A/AAAA records: mail to %s fails, but only a null MX "
			    "tells senders so at once (RFC 7505 section 3)",
			    r->name);
		return true;
	}
	addrs_format(&a, list, sizeof list);
	add_finding(r, SEV_WARNING, "implicit-mx",
		    "no MX, but A/AAAA records: %s %s an implicit MX (RFC 5321 section 5.1), so "
		    "mail to %s will come to %s",
		    list, a.total > 1 ? "are" : "is", r->name, a.total > 1 ? "them" : "it");
	report_this_host(r, &a);
	return true;
}

static void check_name(struct checker *ck, struct report *r)
{
	struct answer ans;
	struct mxset mx;

	if (ck->resolver_dead) {
		add_finding(r, SEV_UNKNOWN, "not-checked",
			    "not checked: the resolver did not answer");
		r->failure = EX_UNAVAILABLE;
		return;
	}
	lookup(ck, r->fqdn, LDNS_RR_TYPE_MX, &ans);
	if (ans.status == LOOKUP_NXDOMAIN) {
		add_finding(r, SEV_WARNING, "nxdomain",
			    "%s does not exist (NXDOMAIN): mail to it fails already; check the "
			    "spelling, and publish a null MX if the name comes into use",
			    r->name);
		return;
	}
	if (ans.status != LOOKUP_OK) {
		add_failure(ck, r, &ans, "MX", r->fqdn);
		return;
	}
	mx_read(ans.rrs, &mx);
	ldns_rr_list_deep_free(ans.rrs);
	if (mx.count > 0 && mx.nnull == 0) {
		check_real_mx(ck, r, &mx);
		return;
	}
	if (mx.nnull > 0)
		check_null_mx(r, &mx);
	else if (!check_no_mx(ck, r))
		return;
	check_sender(ck, r, &mx);
}

/* Output */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void print_json_report(FILE *out, const struct report *r)
{
	fputs("{\"name\":", out);
	json_string(out, r->name);
	fprintf(out, ",\"verdict\":\"%s\",\"findings\":[", severity_names[report_verdict(r)]);
	for (size_t i = 0; i < r->nfindings; i++) {
		fprintf(out, "%s{\"severity\":\"%s\",\"code\":\"%s\",\"message\":", i ? "," : "",
			severity_names[r->findings[i].sev], r->findings[i].code);
		json_string(out, r->findings[i].text);
		fputc('}', out);
	}
	fputs("],\"suggested\":[", out);
	for (size_t i = 0; i < r->nsuggested; i++) {
		fputs(i ? "," : "", out);
		json_string(out, r->suggested[i]);
	}
	fputs("]}", out);
}

static void print_json(FILE *out, const struct report *reports, size_t n)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", out);
		print_json_report(out, &reports[i]);
	}
	fputs("\n]\n", out);
}

/* Records start at column 0: in a zone file, leading blanks mean "same owner". */
static void print_text(FILE *out, const struct report *reports, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct report *r = &reports[i];

		fprintf(out, "%s%s: %s\n", i ? "\n" : "", r->name,
			severity_names[report_verdict(r)]);
		for (size_t k = 0; k < r->nfindings; k++)
			fprintf(out, "  %s: %s\n", severity_names[r->findings[k].sev],
				r->findings[k].text);
		if (r->nsuggested)
			fprintf(out, "; suggested records for %s\n", r->name);
		for (size_t k = 0; k < r->nsuggested; k++)
			fprintf(out, "%s\n", r->suggested[k]);
	}
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

/* Setup */

static bool name_valid(const char *name, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > NAME_LEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((isalnum(c) || c == '-' || c == '_') && ++label <= 63) {
			continue;
		} else {
			return false;
		}
	}
	return label > 0;
}

static int report_init(struct report *r, const char *arg)
{
	size_t len = strlen(arg);

	if (len > 0 && arg[len - 1] == '.')
		len--;
	if (!name_valid(arg, len))
		return -1;
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%.*s", (int)len, arg);
	snprintf(r->fqdn, sizeof r->fqdn, "%s.", r->name);
	return 0;
}

/* ADDR, ADDR:PORT, IPV6, [IPV6] or [IPV6]:PORT; no names, so no lookup before the lookups. */
static ldns_rdf *resolver_addr(const char *spec, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN];
	const char *end, *rest;
	unsigned char buf[16];
	unsigned long p = 53;
	char *stop;

	if (spec[0] == '[') {
		end = strchr(spec, ']');
		rest = end ? end + 1 : NULL;
		spec++;
	} else {
		end = strchr(spec, ':');
		end = end && strchr(end + 1, ':') ? spec + strlen(spec) : end;
		end = end ? end : spec + strlen(spec);
		rest = end;
	}
	if (!rest || end - spec >= (long)sizeof host || (*rest && *rest != ':'))
		return NULL;
	if (*rest) {
		p = strtoul(rest + 1, &stop, 10);
		if (!isdigit((unsigned char)rest[1]) || *stop || p == 0 || p > 65535)
			return NULL;
	}
	*port = (uint16_t)p;
	snprintf(host, sizeof host, "%.*s", (int)(end - spec), spec);
	if (inet_pton(AF_INET, host, buf) == 1)
		return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, buf);
	if (inet_pton(AF_INET6, host, buf) == 1)
		return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, buf);
	return NULL;
}

static ldns_resolver *resolver_open(const char *spec)
{
	ldns_resolver *res = NULL;
	ldns_rdf *addr;
	uint16_t port;
	ldns_status st;

	if (!spec) {
		st = ldns_resolver_new_frm_file(&res, NULL);
		if (st != LDNS_STATUS_OK) {
			fprintf(stderr, "nullmxd check-dns: /etc/resolv.conf: %s\n",
				ldns_get_errorstr_by_id(st));
			return NULL;
		}
	} else {
		if (!(addr = resolver_addr(spec, &port))) {
			fprintf(stderr,
				"nullmxd check-dns: --resolver wants an IP address and "
				"an optional port, not %s\n",
				spec);
			return NULL;
		}
		res = ldns_resolver_new();
		st = res ? ldns_resolver_push_nameserver(res, addr) : LDNS_STATUS_MEM_ERR;
		ldns_rdf_deep_free(addr);
		if (st != LDNS_STATUS_OK) {
			fprintf(stderr, "nullmxd check-dns: %s\n", ldns_get_errorstr_by_id(st));
			ldns_resolver_deep_free(res);
			return NULL;
		}
		ldns_resolver_set_port(res, port);
	}
	ldns_resolver_set_timeout(res,
				  (struct timeval){.tv_sec = CHECKDNS_TIMEOUT_MS / 1000,
						   .tv_usec = CHECKDNS_TIMEOUT_MS % 1000 * 1000});
	ldns_resolver_set_retry(res, CHECKDNS_TRIES);
	ldns_resolver_set_retrans(res, 0);
	ldns_resolver_set_recursive(res, true);
	ldns_resolver_set_defnames(res, false);
	ldns_resolver_set_dnsrch(res, false);
	return res;
}

static void usage(FILE *out)
{
	fputs("usage: nullmxd check-dns [--resolver ADDR[:PORT]] [--json] NAME...\n"
	      "  -r, --resolver ADDR[:PORT]  ask this server (IPv6 as [::1]:5353) instead of\n"
	      "                              those in /etc/resolv.conf\n"
	      "  -j, --json                  print one JSON document\n",
	      out);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {{"resolver", required_argument, NULL, 'r'},
						 {"json", no_argument, NULL, 'j'},
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

static int reports_init(struct report *reports, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (report_init(&reports[i], names[i]) < 0) {
			fprintf(stderr, "nullmxd check-dns: not a domain name: %s\n", names[i]);
			return -1;
		}
	}
	return 0;
}

static int run(const struct options *opt, struct report *reports, size_t n)
{
	struct checker ck = {0};

	ck.res = resolver_open(opt->resolver);
	if (!ck.res)
		return opt->resolver ? EX_USAGE : EX_UNAVAILABLE;
	if (getifaddrs(&ck.ifaddrs) < 0)
		ck.ifaddrs = NULL; /* then no address looks like this host's */
	for (size_t i = 0; i < n; i++)
		check_name(&ck, &reports[i]);
	if (opt->json)
		print_json(stdout, reports, n);
	else
		print_text(stdout, reports, n);
	fflush(stdout);
	if (ck.ifaddrs)
		freeifaddrs(ck.ifaddrs);
	ldns_resolver_deep_free(ck.res);
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
	free(reports);
	return status;
}
