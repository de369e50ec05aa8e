/*
 * DNS library: ldns (libldns-dev). Its resolver is synchronous, which is all a one-shot
 * command needs; it takes an IPv4 or IPv6 server address plus a port without touching
 * private structures; each try has a timeout and a retry count, so a dead resolver costs
 * a bounded few seconds; and it returns the whole packet, so NXDOMAIN, NODATA, SERVFAIL,
 * a CNAME chain and a referral stay distinct. glibc's res_nquery folds the rcode into
 * h_errno and reaches an IPv6 server only through res_state internals; c-ares is
 * asynchronous and would need a poll loop of our own for no gain here.
 */
#include <ifaddrs.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

#include "checkdns_alloc.h"
#include "checkdns_lookup.h"
#include "checkdns_resolver.h"

#define CNAME_HOPS_MAX 16

struct checker {
	ldns_resolver *res;
	struct ifaddrs *ifaddrs;
	bool resolver_dead;
	char resolver_desc[192];
	double wait_s; /* how long ldns waits before it gives up on a query */
};

struct checker *checker_open(const char *resolver)
{
	struct checker *ck = xcalloc(1, sizeof *ck);

	ck->res = resolver_open(resolver);
	if (!ck->res) {
		free(ck);
		return NULL;
	}
	ck->wait_s =
		resolver_describe(ck->res, resolver, ck->resolver_desc, sizeof ck->resolver_desc);
	if (getifaddrs(&ck->ifaddrs) < 0)
		ck->ifaddrs = NULL; /* then no address looks like this host's */
	return ck;
}

void checker_close(struct checker *ck)
{
	if (ck->ifaddrs)
		freeifaddrs(ck->ifaddrs);
	ldns_resolver_deep_free(ck->res);
	free(ck);
}

bool checker_dead(const struct checker *ck)
{
	return ck->resolver_dead;
}

void lookup_failed(struct checker *ck, struct report *r, const struct answer *ans, const char *type,
		   const char *owner)
{
	int code = ans->status == LOOKUP_SERVFAIL ? EX_TEMPFAIL : EX_UNAVAILABLE;
	const char *fcode = ans->status == LOOKUP_REFERRAL ? "referral" : "lookup-failed";

	add_finding(r, SEV_UNKNOWN, fcode, "%s lookup for %s failed: %s", type, owner, ans->why);
	if (r->failure != EX_UNAVAILABLE)
		r->failure = code;
	if (ans->status == LOOKUP_NO_REPLY)
		ck->resolver_dead = true;
}

/* One question */

static const char *rcode_name(ldns_pkt_rcode rcode)
{
	static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
					    "NXDOMAIN", "NOTIMP",  "REFUSED"};

	return (size_t)rcode < sizeof names / sizeof names[0] ? names[rcode] : "an unknown rcode";
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rdf_name(const ldns_rdf *rdf, char *out, size_t len)
{
	char *s = ldns_rdf2str(rdf);

	snprintf(out, len, "%s", s ? s : "?");
	free(s);
}

/* Where the records of qname are: the end of the CNAME chain in the answer, or qname. */
static const ldns_rdf *cname_chain_end(const ldns_pkt *pkt, const ldns_rdf *qname)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	const ldns_rdf *cur = qname;
	size_t hops = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && hops < CNAME_HOPS_MAX; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rdf(rr, 0) &&
		    ldns_dname_compare(ldns_rr_owner(rr), cur) == 0) {
			cur = ldns_rr_rdf(rr, 0);
			hops++;
			i = (size_t)-1; /* the chain may come in any order */
		}
	}
	return cur;
}

/* rrs: the asked type from the answer section; NULL when none. */
static void answer_read(const ldns_pkt *pkt, const ldns_rdf *qname, ldns_rr_type type,
			struct checker *ck, struct answer *ans, ldns_rr_list **rrs)
{
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
	const ldns_rdf *end = cname_chain_end(pkt, qname);

	ans->alias = end != qname;
	rdf_name(end, ans->owner, sizeof ans->owner);
	if (rcode == LDNS_RCODE_NXDOMAIN) {
		ans->status = LOOKUP_NXDOMAIN;
	} else if (rcode == LDNS_RCODE_NOERROR) {
		ans->status = LOOKUP_OK;
		*rrs = ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);
		/* No answer from a server that is neither authoritative nor recursive. */
		if ((!*rrs || !ldns_rr_list_rr_count(*rrs)) && !ans->alias && !ldns_pkt_aa(pkt) &&
		    !ldns_pkt_ra(pkt)) {
			ans->status = LOOKUP_REFERRAL;
			snprintf(ans->why, sizeof ans->why,
				 "%s sent a referral (no answer, neither authoritative nor "
				 "recursive): it does not serve that name; ask a recursive "
				 "resolver or the name's own authoritative server",
				 ck->resolver_desc);
		}
	} else {
		ans->status = rcode == LDNS_RCODE_SERVFAIL ? LOOKUP_SERVFAIL : LOOKUP_BAD_RCODE;
		snprintf(ans->why, sizeof ans->why, "%s answered %s", ck->resolver_desc,
			 rcode_name(rcode));
	}
}

static void lookup_hop(struct checker *ck, const char *owner, ldns_rr_type type, struct answer *ans,
		       ldns_rr_list **rrs, size_t hops);

/*
 * A server that does not recurse (an authoritative one) stops a CNAME chain at the edge
 * of its zones: ask it for the target, which it answers or says it cannot.
 */
static void follow_chain(struct checker *ck, const ldns_pkt *pkt, ldns_rr_type type,
			 struct answer *ans, ldns_rr_list **rrs, size_t hops)
{
	char target[sizeof ans->owner];

	if (ans->status != LOOKUP_OK || !ans->alias || ldns_pkt_ra(pkt) ||
	    (*rrs && ldns_rr_list_rr_count(*rrs)) || hops >= CNAME_HOPS_MAX)
		return;
	memcpy(target, ans->owner, sizeof target);
	ldns_rr_list_deep_free(*rrs);
	lookup_hop(ck, target, type, ans, rrs, hops + 1);
	ans->alias = true;
}

static void lookup(struct checker *ck, const char *owner, ldns_rr_type type, struct answer *ans,
		   ldns_rr_list **rrs)
{
	lookup_hop(ck, owner, type, ans, rrs, 0);
}

static void lookup_hop(struct checker *ck, const char *owner, ldns_rr_type type, struct answer *ans,
		       ldns_rr_list **rrs, size_t hops)
{
	ldns_rdf *dname = ldns_dname_new_frm_str(owner);
	ldns_pkt *pkt = NULL;
	ldns_status st;
	double start = now_s(), waited;

	memset(ans, 0, sizeof *ans);
	*rrs = NULL;
	snprintf(ans->owner, sizeof ans->owner, "%s", owner);
	if (!dname) {
		ans->status = LOOKUP_BAD_NAME;
		snprintf(ans->why, sizeof ans->why, "not a name DNS can carry");
		return;
	}
	st = ldns_resolver_send(&pkt, ck->res, dname, type, LDNS_RR_CLASS_IN, LDNS_RD);
	waited = now_s() - start;
	if (st == LDNS_STATUS_OK && pkt) {
		answer_read(pkt, dname, type, ck, ans, rrs);
		follow_chain(ck, pkt, type, ans, rrs, hops);
	} else {
		ans->status = LOOKUP_NO_REPLY;
		/* ldns says "network error" for a timeout too: only the clock tells them apart. */
		if (waited >= ck->wait_s * 0.9)
			snprintf(ans->why, sizeof ans->why,
				 "timed out: no answer from %s in %.1f s", ck->resolver_desc,
				 waited);
		else
			snprintf(ans->why, sizeof ans->why, "no answer from %s (%s)",
				 ck->resolver_desc, ldns_get_errorstr_by_id(st));
	}
	ldns_rdf_deep_free(dname);
	ldns_pkt_free(pkt);
}

/* MX */

static int mxhost_cmp(const void *pa, const void *pb)
{
	const struct mxhost *a = pa, *b = pb;

	return a->pref != b->pref ? (a->pref < b->pref ? -1 : 1) : strcasecmp(a->name, b->name);
}

static void mx_read(const ldns_rr_list *rrs, struct mxset *mx)
{
	size_t n = rrs ? ldns_rr_list_rr_count(rrs) : 0;

	mx->hosts = xcalloc(n, sizeof *mx->hosts);
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		const ldns_rdf *exchange = ldns_rr_mx_exchange(rr);
		const ldns_rdf *prefrdf = ldns_rr_mx_preference(rr);
		uint16_t pref;

		if (!exchange || !prefrdf)
			continue;
		pref = ldns_rdf2native_int16(prefrdf);
		mx->count++;
		if (ldns_rdf_size(exchange) == 1) { /* the root: "." */
			mx->nnull++;
			mx->null_pref = pref;
			continue;
		}
		mx->hosts[mx->nhosts].pref = pref;
		mx->hosts[mx->nhosts++].name = ldns_rdf2str(exchange);
		if (!mx->hosts[mx->nhosts - 1].name)
			out_of_memory();
	}
	qsort(mx->hosts, mx->nhosts, sizeof *mx->hosts, mxhost_cmp);
}

void lookup_mx(struct checker *ck, const char *owner, struct answer *ans, struct mxset *mx)
{
	ldns_rr_list *rrs;

	memset(mx, 0, sizeof *mx);
	lookup(ck, owner, LDNS_RR_TYPE_MX, ans, &rrs);
	if (ans->status == LOOKUP_OK) {
		snprintf(mx->owner, sizeof mx->owner, "%s", ans->owner);
		mx_read(rrs, mx);
	}
	ldns_rr_list_deep_free(rrs);
}

void mx_free(struct mxset *mx)
{
	for (size_t i = 0; i < mx->nhosts; i++)
		free(mx->hosts[i].name);
	free(mx->hosts);
}

/* A and AAAA */

static const char *local_ifname(const struct checker *ck, const struct hostaddr *a)
{
	for (const struct ifaddrs *i = ck->ifaddrs; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa || sa->sa_family != a->af)
			continue;
		if (a->af == AF_INET &&
		    memcmp(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, a->bytes,
			   4) == 0)
			return i->ifa_name;
		if (a->af == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, a->bytes,
			   16) == 0)
			return i->ifa_name;
	}
	return NULL;
}

static int addr_cmp(const void *pa, const void *pb)
{
	const struct hostaddr *a = pa, *b = pb;

	if (a->af != b->af)
		return a->af == AF_INET ? -1 : 1;
	return memcmp(a->bytes, b->bytes, a->af == AF_INET ? 4 : 16);
}

static void addrs_add(const struct checker *ck, const ldns_rr_list *rrs, struct addrs *out)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rdf *rdf = ldns_rr_rdf(ldns_rr_list_rr(rrs, i), 0);
		struct hostaddr *a;

		if (!rdf || (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_A &&
			     ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_AAAA))
			continue;
		out->total++;
		if (out->n == ADDRS_SHOWN)
			continue;
		a = &out->list[out->n++];
		a->af = ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_A ? AF_INET : AF_INET6;
		memcpy(a->bytes, ldns_rdf_data(rdf), a->af == AF_INET ? 4 : 16);
		a->ifname = local_ifname(ck, a);
	}
}

int lookup_addrs(struct checker *ck, struct report *r, const char *owner, struct addrs *out)
{
	static const ldns_rr_type types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA};
	struct answer ans;
	ldns_rr_list *rrs;

	memset(out, 0, sizeof *out);
	for (size_t t = 0; t < 2; t++) {
		lookup(ck, owner, types[t], &ans, &rrs);
		if (ans.status != LOOKUP_OK && ans.status != LOOKUP_NXDOMAIN) {
			lookup_failed(ck, r, &ans, t ? "AAAA" : "A", owner);
			ldns_rr_list_deep_free(rrs);
			return -1;
		}
		out->nxdomain = ans.status == LOOKUP_NXDOMAIN;
		if (rrs)
			addrs_add(ck, rrs, out);
		ldns_rr_list_deep_free(rrs);
	}
	qsort(out->list, out->n, sizeof out->list[0], addr_cmp);
	return 0;
}

/* TXT */

/* The strings joined (RFC 7208 section 3.3); bytes outside printable ASCII become '?':
 * they are invalid in SPF and DMARC anyway. A record can be as long as DNS carries. */
static char *txt_join(const ldns_rr *rr)
{
	size_t total = 1, used = 0;
	char *out;

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		total += ldns_rdf_size(ldns_rr_rdf(rr, i));
	out = xcalloc(total, 1);
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *s = ldns_rr_rdf(rr, i);
		const uint8_t *d = ldns_rdf_data(s);

		for (size_t k = 1; k < ldns_rdf_size(s) && k <= d[0]; k++)
			out[used++] = d[k] >= 0x20 && d[k] < 0x7f ? (char)d[k] : '?';
	}
	out[used] = '\0';
	return out;
}

/* The record's strings in zone-file syntax, as DNS holds them. */
static char *txt_zone(const ldns_rr *rr)
{
	char *out = xcalloc(1, 1);

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		char *s = ldns_rdf2str(ldns_rr_rdf(rr, i)), *joined;

		joined = xasprintf("%s%s%s", out, i ? " " : "", s ? s : "\"\"");
		free(s);
		free(out);
		out = joined;
	}
	return out;
}

/* Insertion sort: a name has a handful of TXT records. */
static void txt_sort(struct txt_match *m)
{
	for (size_t i = 1; i < m->count; i++)
		for (size_t k = i; k > 0 && strcmp(m->texts[k - 1], m->texts[k]) > 0; k--) {
			char *t = m->texts[k], *z = m->zone[k];

			m->texts[k] = m->texts[k - 1];
			m->zone[k] = m->zone[k - 1];
			m->texts[k - 1] = t;
			m->zone[k - 1] = z;
		}
}

int lookup_txt(struct checker *ck, struct report *r, const char *owner, bool (*test)(const char *),
	       struct txt_match *m)
{
	struct answer ans;
	ldns_rr_list *rrs;
	size_t n;

	memset(m, 0, sizeof *m);
	lookup(ck, owner, LDNS_RR_TYPE_TXT, &ans, &rrs);
	if (ans.status != LOOKUP_OK && ans.status != LOOKUP_NXDOMAIN) {
		lookup_failed(ck, r, &ans, "TXT", owner);
		ldns_rr_list_deep_free(rrs);
		return -1;
	}
	snprintf(m->owner, sizeof m->owner, "%s", ans.owner);
	n = rrs ? ldns_rr_list_rr_count(rrs) : 0;
	m->texts = xcalloc(n, sizeof *m->texts);
	m->zone = xcalloc(n, sizeof *m->zone);
	for (size_t i = 0; i < n; i++) {
		char *text = txt_join(ldns_rr_list_rr(rrs, i));

		if (!test(text)) {
			free(text);
			continue;
		}
		m->texts[m->count] = text;
		m->zone[m->count++] = txt_zone(ldns_rr_list_rr(rrs, i));
	}
	ldns_rr_list_deep_free(rrs);
	txt_sort(m);
	return 0;
}

void txt_match_free(struct txt_match *m)
{
	for (size_t i = 0; i < m->count; i++) {
		free(m->texts[i]);
		free(m->zone[i]);
	}
	free(m->texts);
	free(m->zone);
}
