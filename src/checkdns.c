/*
 * check-dns: does each name publish what a name that never receives mail should?
 *
 * DNS library: ldns (libldns-dev). Its resolver is synchronous, which is all a one-shot
 * command needs; it takes an IPv4 or IPv6 server address plus a port without touching
 * private structures; each try has a timeout and a retry count, so a dead resolver costs
 * a bounded few seconds; and it returns the whole packet, so NXDOMAIN, NODATA, SERVFAIL,
 * a CNAME chain and a referral stay distinct. glibc's res_nquery folds the rcode into
 * h_errno and reaches an IPv6 server only through res_state internals; c-ares is
 * asynchronous and would need a poll loop of our own for no gain here.
 *
 * Every suggested record, applied as printed, leaves the zone valid: a record of a kind
 * already there is suggested as a replacement of it, and nothing goes at a CNAME.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <idn2.h>
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
#include <time.h>

#include "checkdns.h"

/* One try waits this long, twice, per server: a dead resolver fails in about 3 s. */
#define CHECKDNS_TIMEOUT_MS 1500
#define CHECKDNS_TRIES 2

#define NAME_LEN_MAX 253
/* The longest name whose "_dmarc." owner DNS can still carry (RFC 1035 section 2.3.4). */
#define DMARC_NAME_LEN_MAX (NAME_LEN_MAX - 7)
#define FINDINGS_MAX 48
#define SUGGESTED_MAX 4
#define REPLACES_MAX 8
/* Each MX host costs two lookups (A, AAAA): at most 32 for the MX hosts of one name. */
#define MX_HOSTS_CHECKED 16
#define ADDRS_SHOWN 8
#define CNAME_HOPS_MAX 16
#define TXT_STRING_MAX 255

/* Ordered by how much they say: an error is known bad, "unknown" may hide one. */
enum severity { SEV_OK, SEV_INFO, SEV_WARNING, SEV_UNKNOWN, SEV_ERROR };

static const char *const severity_names[] = {"ok", "info", "warning", "unknown", "error"};

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

struct checker {
	ldns_resolver *res;
	struct ifaddrs *ifaddrs;
	bool resolver_dead;
	char resolver_desc[192];
	double wait_s; /* how long ldns waits before it gives up on a query */
};

enum lookup_status {
	LOOKUP_OK,
	LOOKUP_NXDOMAIN,
	LOOKUP_SERVFAIL,
	LOOKUP_BAD_RCODE,
	LOOKUP_REFERRAL,
	LOOKUP_BAD_NAME,
	LOOKUP_NO_REPLY
};

struct answer {
	enum lookup_status status;
	ldns_rr_list *rrs;            /* the asked type from the answer section; NULL when none */
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

struct addr {
	int af;
	unsigned char bytes[16];
	const char *ifname; /* this host's interface holding it, or NULL */
};

struct addrs {
	struct addr list[ADDRS_SHOWN];
	size_t n;
	size_t total;
	bool nxdomain;
};

struct spf {
	bool sends;
	char passer[64];  /* the first term that can pass */
	char unknown[64]; /* the first unknown mechanism: the record is a permanent error */
	char all_qual;    /* qualifier of "all", 0 when absent */
};

/* The TXT records at a name that pass a test, sorted: the verdict never follows RRset order. */
struct txt_match {
	size_t count;
	char **texts; /* the strings joined */
	char **zone;  /* the record as zone-file text, same order */
	char owner[NAME_LEN_MAX + 2];
};

struct options {
	const char *resolver;
	bool json;
	int first_name;
};

/* Memory: a one-shot command has nothing to save when malloc fails. */

static void out_of_memory(void)
{
	fputs("nullmxd check-dns: out of memory\n", stderr);
	exit(EX_OSERR);
}

static char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		out_of_memory();
	return s;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		out_of_memory();
	return p;
}

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
	f->text = xvasprintf(fmt, ap);
	va_end(ap);
}

/* "OWNER IN TYPE RDATA"; returns the suggestion, for replaces, or NULL when full. */
static struct suggestion *suggest(struct report *r, const char *owner, const char *type,
				  const char *rdata)
{
	struct suggestion *s;

	if (r->nsuggested == SUGGESTED_MAX)
		return NULL;
	s = &r->suggested[r->nsuggested++];
	s->record = xasprintf("%s IN %s %s", owner, type, rdata);
	return s;
}

static void suggest_replaces(struct suggestion *s, const char *owner, const char *type,
			     const char *rdata)
{
	if (s && s->nreplaces < REPLACES_MAX)
		s->replaces[s->nreplaces++] = xasprintf("%s IN %s %s", owner, type, rdata);
}

static void report_free(struct report *r)
{
	for (size_t i = 0; i < r->nfindings; i++)
		free(r->findings[i].text);
	for (size_t i = 0; i < r->nsuggested; i++) {
		free(r->suggested[i].record);
		for (size_t k = 0; k < r->suggested[i].nreplaces; k++)
			free(r->suggested[i].replaces[k]);
	}
}

static void add_failure(struct checker *ck, struct report *r, const struct answer *ans,
			const char *type, const char *owner)
{
	int code = ans->status == LOOKUP_SERVFAIL ? EX_TEMPFAIL : EX_UNAVAILABLE;
	const char *fcode = ans->status == LOOKUP_REFERRAL ? "referral" : "lookup-failed";

	add_finding(r, SEV_UNKNOWN, fcode, "%s lookup for %s failed: %s", type, owner, ans->why);
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

static void answer_read(const ldns_pkt *pkt, const ldns_rdf *qname, ldns_rr_type type,
			struct checker *ck, struct answer *ans)
{
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
	const ldns_rdf *end = cname_chain_end(pkt, qname);

	ans->alias = end != qname;
	rdf_name(end, ans->owner, sizeof ans->owner);
	if (rcode == LDNS_RCODE_NXDOMAIN) {
		ans->status = LOOKUP_NXDOMAIN;
	} else if (rcode == LDNS_RCODE_NOERROR) {
		ans->status = LOOKUP_OK;
		ans->rrs = ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);
		/* No answer from a server that is neither authoritative nor recursive. */
		if ((!ans->rrs || !ldns_rr_list_rr_count(ans->rrs)) && !ans->alias &&
		    !ldns_pkt_aa(pkt) && !ldns_pkt_ra(pkt)) {
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
		       size_t hops);

/*
 * A server that does not recurse (an authoritative one) stops a CNAME chain at the edge
 * of its zones: ask it for the target, which it answers or says it cannot.
 */
static void follow_chain(struct checker *ck, const ldns_pkt *pkt, ldns_rr_type type,
			 struct answer *ans, size_t hops)
{
	char target[sizeof ans->owner];

	if (ans->status != LOOKUP_OK || !ans->alias || ldns_pkt_ra(pkt) ||
	    (ans->rrs && ldns_rr_list_rr_count(ans->rrs)) || hops >= CNAME_HOPS_MAX)
		return;
	memcpy(target, ans->owner, sizeof target);
	ldns_rr_list_deep_free(ans->rrs);
	lookup_hop(ck, target, type, ans, hops + 1);
	ans->alias = true;
}

static void lookup(struct checker *ck, const char *owner, ldns_rr_type type, struct answer *ans)
{
	lookup_hop(ck, owner, type, ans, 0);
}

static void lookup_hop(struct checker *ck, const char *owner, ldns_rr_type type, struct answer *ans,
		       size_t hops)
{
	ldns_rdf *dname = ldns_dname_new_frm_str(owner);
	ldns_pkt *pkt = NULL;
	ldns_status st;
	double start = now_s(), waited;

	memset(ans, 0, sizeof *ans);
	snprintf(ans->owner, sizeof ans->owner, "%s", owner);
	if (!dname) {
		ans->status = LOOKUP_BAD_NAME;
		snprintf(ans->why, sizeof ans->why, "not a name DNS can carry");
		return;
	}
	st = ldns_resolver_send(&pkt, ck->res, dname, type, LDNS_RR_CLASS_IN, LDNS_RD);
	waited = now_s() - start;
	if (st == LDNS_STATUS_OK && pkt) {
		answer_read(pkt, dname, type, ck, ans);
		follow_chain(ck, pkt, type, ans, hops);
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

static bool addr_loopback(const struct addr *a)
{
	static const unsigned char v6_loopback[16] = {[15] = 1};

	return a->af == AF_INET ? a->bytes[0] == 127 : memcmp(a->bytes, v6_loopback, 16) == 0;
}

static const char *local_ifname(const struct checker *ck, const struct addr *a)
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
	const struct addr *a = pa, *b = pb;

	if (a->af != b->af)
		return a->af == AF_INET ? -1 : 1;
	return memcmp(a->bytes, b->bytes, a->af == AF_INET ? 4 : 16);
}

static void addrs_add(const struct checker *ck, const ldns_rr_list *rrs, struct addrs *out)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rdf *rdf = ldns_rr_rdf(ldns_rr_list_rr(rrs, i), 0);
		struct addr *a;

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

/* The A and AAAA records of owner, sorted; -1 when a lookup failed (already reported). */
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
		out->nxdomain = ans.status == LOOKUP_NXDOMAIN;
		if (ans.rrs)
			addrs_add(ck, ans.rrs, out);
		ldns_rr_list_deep_free(ans.rrs);
	}
	qsort(out->list, out->n, sizeof out->list[0], addr_cmp);
	return 0;
}

static void addr_text(const struct addr *a, char *buf, size_t len)
{
	inet_ntop(a->af, a->bytes, buf, (socklen_t)len);
}

static void addrs_format(const struct addrs *a, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->n && used < len; i++) {
		addr_text(&a->list[i], text, sizeof text);
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", text);
	}
	if (a->total > a->n && used < len)
		snprintf(buf + used, len - used, " and %zu more", a->total - a->n);
}

/* TXT records */

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

/* Text as zone-file TXT data: quoted strings of at most 255 bytes (RFC 1035 section 3.3). */
static char *txt_quote(const char *text)
{
	size_t len = strlen(text), used = 0;
	char *out = xcalloc(len * 2 + (len / TXT_STRING_MAX + 1) * 3 + 1, 1);

	for (size_t i = 0; i == 0 || i < len; i += TXT_STRING_MAX) {
		out[used++] = '"';
		for (size_t k = i; k < len && k < i + TXT_STRING_MAX; k++) {
			if (text[k] == '"' || text[k] == '\\')
				out[used++] = '\\';
			out[used++] = text[k];
		}
		out[used++] = '"';
		if (i + TXT_STRING_MAX < len)
			out[used++] = ' ';
	}
	out[used] = '\0';
	return out;
}

static bool is_spf(const char *t)
{
	return strncasecmp(t, "v=spf1", 6) == 0 && (t[6] == ' ' || t[6] == '\0');
}

static const char *skip_wsp(const char *p)
{
	return p + strspn(p, " \t");
}

/*
 * The next "tag = value" of a DMARC record (RFC 7489 section 6.4: blanks may surround
 * "=" and ";"). Returns the position after it, or NULL at the end.
 */
static const char *dmarc_tag(const char *p, const char **name, size_t *name_len, const char **value,
			     size_t *value_len)
{
	const char *end;

	p = skip_wsp(p);
	if (!*p)
		return NULL;
	end = p + strcspn(p, ";");
	*name = p;
	*name_len = strcspn(p, "= \t;");
	p = skip_wsp(p + *name_len);
	*value = NULL;
	*value_len = 0;
	if (*p == '=') {
		*value = skip_wsp(p + 1);
		*value_len = (size_t)(end - *value);
		while (*value_len && strchr(" \t", (*value)[*value_len - 1]))
			(*value_len)--;
	}
	return *end ? end + 1 : end;
}

static bool is_dmarc(const char *t)
{
	const char *name, *value;
	size_t name_len, value_len;

	return dmarc_tag(t, &name, &name_len, &value, &value_len) && name_len == 1 &&
	       *name == 'v' && value && value_len == 6 && strncmp(value, "DMARC1", 6) == 0;
}

static void txt_match_free(struct txt_match *m)
{
	for (size_t i = 0; i < m->count; i++) {
		free(m->texts[i]);
		free(m->zone[i]);
	}
	free(m->texts);
	free(m->zone);
}

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

/* The TXT records at owner that pass the test; -1 when the lookup failed (reported). */
static int txt_find(struct checker *ck, struct report *r, const char *owner,
		    bool (*test)(const char *), struct txt_match *m)
{
	struct answer ans;
	size_t n;

	memset(m, 0, sizeof *m);
	lookup(ck, owner, LDNS_RR_TYPE_TXT, &ans);
	if (ans.status != LOOKUP_OK && ans.status != LOOKUP_NXDOMAIN) {
		add_failure(ck, r, &ans, "TXT", owner);
		return -1;
	}
	snprintf(m->owner, sizeof m->owner, "%s", ans.owner);
	n = ans.rrs ? ldns_rr_list_rr_count(ans.rrs) : 0;
	m->texts = xcalloc(n, sizeof *m->texts);
	m->zone = xcalloc(n, sizeof *m->zone);
	for (size_t i = 0; i < n; i++) {
		char *text = txt_join(ldns_rr_list_rr(ans.rrs, i));

		if (!test(text)) {
			free(text);
			continue;
		}
		m->texts[m->count] = text;
		m->zone[m->count++] = txt_zone(ldns_rr_list_rr(ans.rrs, i));
	}
	ldns_rr_list_deep_free(ans.rrs);
	txt_sort(m); /* insertion sort: a name has a handful of TXT records */
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
	/* An unknown mechanism is a syntax error, wherever it is (RFC 7208 section 4.6). */
	if (!spf_known_mechanism(t, name_len)) {
		if (!spf->unknown[0])
			snprintf(spf->unknown, sizeof spf->unknown, "%.*s",
				 (int)(len < 60 ? len : 60), t);
		return;
	}
	/* Mechanisms after "all" are never tested (RFC 7208 section 5.1). */
	if (spf->all_qual)
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
static void spf_classify(const char *record, struct spf *spf)
{
	const char *p = record + 6;
	bool redirect = false;

	memset(spf, 0, sizeof *spf);
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

/* The p= value; "none" when there is none. */
static void dmarc_policy(const char *record, char *out, size_t len)
{
	const char *p = record, *name, *value;
	size_t name_len, value_len;

	snprintf(out, len, "none");
	while ((p = dmarc_tag(p, &name, &name_len, &value, &value_len)))
		if (name_len == 1 && *name == 'p' && value) {
			snprintf(out, len, "%.*s", (int)value_len, value);
			return;
		}
}

/* The record with p=reject, its other tags (rua=, ...) kept. */
static char *dmarc_with_reject(const char *record)
{
	const char *p = record, *name, *value;
	size_t name_len, value_len;

	while ((p = dmarc_tag(p, &name, &name_len, &value, &value_len)))
		if (name_len == 1 && *name == 'p' && value)
			return xasprintf("%.*sreject%s", (int)(value - record), record,
					 value + value_len);
	return xasprintf("v=DMARC1; p=reject;");
}

/* The verdicts */

/* One record with p=reject in place of all there are. */
static void dmarc_suggest_reject(struct report *r, const struct txt_match *m)
{
	char *reject = dmarc_with_reject(m->texts[0]), *quoted = txt_quote(reject);
	struct suggestion *s = suggest(r, m->owner, "TXT", quoted);

	for (size_t i = 0; i < m->count; i++)
		suggest_replaces(s, m->owner, "TXT", m->zone[i]);
	free(quoted);
	free(reject);
}

static void check_dmarc(struct checker *ck, struct report *r)
{
	char owner[NAME_LEN_MAX + 16], policy[32];
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
	if (txt_find(ck, r, owner, is_dmarc, &m) < 0)
		return;
	if (m.count == 0) {
		add_finding(r, SEV_INFO, "dmarc-missing",
			    "no DMARC record at %s: with p=reject, receivers reject mail that "
			    "forges %s",
			    owner, r->name);
		suggest(r, m.owner, "TXT", "\"v=DMARC1; p=reject;\"");
		txt_match_free(&m);
		return;
	}
	dmarc_policy(m.texts[0], policy, sizeof policy);
	if (m.count > 1)
		add_finding(r, SEV_WARNING, "dmarc-multiple",
			    "%zu DMARC records at %s: receivers then apply no DMARC policy (RFC "
			    "7489 section 6.6.3); keep one, with p=reject",
			    m.count, owner);
	else if (strcasecmp(policy, "reject") == 0)
		add_finding(r, SEV_OK, "dmarc-reject", "DMARC \"%s\" at %s", m.texts[0], owner);
	else
		add_finding(r, SEV_INFO, "dmarc-weak",
			    "DMARC \"%s\" at %s has p=%s; a name that never sends can use "
			    "p=reject",
			    m.texts[0], owner, policy);
	if (m.count > 1 || strcasecmp(policy, "reject") != 0)
		dmarc_suggest_reject(r, &m);
	txt_match_free(&m);
}

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
			     bool null_mx)
{
	if (null_mx)
		add_finding(r, SEV_WARNING, "null-mx-sender",
			    "SPF \"%s\" authorizes senders (%s), so %s sends mail, yet its null "
			    "MX says it receives none: receivers may reject its mail (550 "
			    "5.7.27, RFC 7505 section 4.2); use a bounce (Return-Path) domain "
			    "that keeps a working MX",
			    record, spf->passer, r->name);
	else
		add_finding(r, SEV_WARNING, "sender-without-mx",
			    "SPF \"%s\" authorizes senders (%s), so %s sends mail: if it is a "
			    "bounce (Return-Path) domain it needs a working MX, not a null MX "
			    "(RFC 7505 section 4.2)",
			    record, spf->passer, r->name);
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
		spf_report_sends(r, m->texts[0], &spf, mx->nnull > 0);
		return false;
	}
	if (mx->count == 0)
		suggest(r, mx->owner, "MX", "0 .");
	spf_report_quiet(r, m, &spf);
	return true;
}

/* Null MX or no MX: does the name send? If not, it should say so. */
static void check_sender(struct checker *ck, struct report *r, const struct mxset *mx)
{
	struct txt_match m;
	bool quiet;

	if (txt_find(ck, r, r->fqdn, is_spf, &m) < 0)
		return;
	quiet = check_spf(r, &m, mx);
	txt_match_free(&m);
	if (quiet)
		check_dmarc(ck, r);
}

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

static void mx_free(struct mxset *mx)
{
	for (size_t i = 0; i < mx->nhosts; i++)
		free(mx->hosts[i].name);
	free(mx->hosts);
}

static void check_null_mx(struct report *r, const struct mxset *mx)
{
	char old[16];

	if (mx->count > 1) {
		add_finding(r, SEV_ERROR, "null-mx-mixed",
			    "a null MX among %zu MX records: a null MX must be the only MX (RFC "
			    "7505 section 3); remove the null MX if %s receives mail, the other "
			    "MX records if it does not",
			    mx->count, r->name);
	} else if (mx->null_pref != 0) {
		add_finding(r, SEV_WARNING, "null-mx-preference",
			    "null MX with preference %u: RFC 7505 section 3 specifies 0; "
			    "replace it with \"%s IN MX 0 .\"",
			    (unsigned)mx->null_pref, mx->owner);
		snprintf(old, sizeof old, "%u .", (unsigned)mx->null_pref);
		suggest_replaces(suggest(r, mx->owner, "MX", "0 ."), mx->owner, "MX", old);
	} else {
		add_finding(r, SEV_OK, "null-mx",
			    "null MX \"%s IN MX 0 .\" is its only MX: senders give up without "
			    "connecting (RFC 7505)",
			    mx->owner);
	}
}

/* Is this MX host usable: does it have an address other than a loopback one? */
static bool check_mx_host(struct checker *ck, struct report *r, const struct mxhost *h)
{
	char text[INET6_ADDRSTRLEN];
	bool usable = false, loopback = false;
	struct addrs a;

	if (lookup_addrs(ck, r, h->name, &a) < 0)
		return true; /* unknown: not counted against the name */
	if (a.total == 0) {
		add_finding(r, SEV_WARNING, "mx-host-unusable",
			    "MX host %s (%u) %s: senders cannot deliver there; give it an "
			    "address or remove that MX record",
			    h->name, (unsigned)h->pref,
			    a.nxdomain ? "does not exist (NXDOMAIN)" : "has no A or AAAA record");
		return false;
	}
	for (size_t i = 0; i < a.n; i++) {
		if (addr_loopback(&a.list[i]))
			loopback = true;
		else
			usable = true;
	}
	if (loopback)
		add_finding(r, SEV_ERROR, "mx-loopback",
			    "MX host %s (%u) has a loopback address: it names each sender's own "
			    "host, so mail to %s loops back to its sender",
			    h->name, (unsigned)h->pref, r->name);
	for (size_t i = 0; i < a.n; i++)
		if (a.list[i].ifname && !addr_loopback(&a.list[i])) {
			addr_text(&a.list[i], text, sizeof text);
			add_finding(r, SEV_ERROR, "mx-is-this-host",
				    "MX host %s has address %s, which is this host's (%s): "
				    "where nullmxd listens, every message to %s is refused with "
				    "521 (a 521 host must not be an MX, RFC 1846 section 4.3)",
				    h->name, text, a.list[i].ifname, r->name);
			break;
		}
	return usable || a.total > a.n;
}

static void check_real_mx(struct checker *ck, struct report *r, const struct mxset *mx)
{
	size_t checked = mx->nhosts < MX_HOSTS_CHECKED ? mx->nhosts : MX_HOSTS_CHECKED;
	size_t usable = 0, used = 0;
	char list[512];

	list[0] = '\0';
	for (size_t i = 0; i < mx->nhosts && used < sizeof list; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (%u)",
					 i ? ", " : "", mx->hosts[i].name,
					 (unsigned)mx->hosts[i].pref);
	for (size_t i = 0; i < checked && !ck->resolver_dead; i++)
		usable += check_mx_host(ck, r, &mx->hosts[i]);
	if (ck->resolver_dead || usable > 0 || checked < mx->nhosts) {
		add_finding(r, SEV_INFO, "real-mx",
			    "%s receives mail at its MX %s; that is right for a bounce "
			    "(Return-Path) domain, but nullmxd does not refuse its mail%s",
			    r->name, list,
			    checked < mx->nhosts ? " (only the first MX hosts are checked)" : "");
		return;
	}
	add_finding(r, SEV_WARNING, "mx-unusable",
		    "no MX host of %s can receive mail (%s), so mail to %s cannot be delivered "
		    "(RFC 5321 section 5.1): if it is a bounce (Return-Path) domain, give it an "
		    "MX host that can (RFC 7505 section 4.2); if it never receives mail, "
		    "replace its MX records with \"%s IN MX 0 .\"",
		    r->name, list, r->name, mx->owner);
}

static void report_this_host(struct report *r, const struct addrs *a)
{
	char text[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < a->n; i++)
		if (a->list[i].ifname) {
			addr_text(&a->list[i], text, sizeof text);
			add_finding(r, SEV_INFO, "this-host",
				    "%s is an address of this host (%s): where nullmxd listens, "
				    "senders connect and get 521 instead of giving up at once",
				    text, a->list[i].ifname);
			return;
		}
	add_finding(r, SEV_INFO, "not-this-host",
		    "none of these addresses is this host's: whatever listens on port 25 there "
		    "gets the mail");
}

/* No MX: returns false when there is nothing more to check. */
static bool check_no_mx(struct checker *ck, struct report *r)
{
	char list[512];
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

static void check_mx(struct checker *ck, struct report *r, const ldns_rr_list *rrs,
		     struct mxset *mx)
{
	mx_read(rrs, mx);
	if (mx->count > 0 && mx->nnull == 0) {
		check_real_mx(ck, r, mx);
		return;
	}
	if (mx->nnull > 0)
		check_null_mx(r, mx);
	else if (!check_no_mx(ck, r))
		return;
	check_sender(ck, r, mx);
}

static void check_name(struct checker *ck, struct report *r)
{
	struct mxset mx = {0};
	struct answer ans;

	if (ck->resolver_dead) {
		add_finding(r, SEV_UNKNOWN, "not-checked",
			    "not checked: the resolver did not answer");
		r->failure = EX_UNAVAILABLE;
		return;
	}
	lookup(ck, r->fqdn, LDNS_RR_TYPE_MX, &ans);
	if (ans.alias)
		add_finding(r, SEV_INFO, "alias",
			    "%s is an alias (CNAME) of %s: no other record may sit beside a CNAME "
			    "(RFC 2181 section 10.1), so its records are those of %s, and go there",
			    r->name, ans.owner, ans.owner);
	if (ans.status == LOOKUP_NXDOMAIN) {
		add_finding(r, SEV_WARNING, "nxdomain",
			    "%s does not exist (NXDOMAIN): mail to it fails already; check the "
			    "spelling, and publish a null MX if the name comes into use",
			    ans.alias ? ans.owner : r->name);
		return;
	}
	if (ans.status != LOOKUP_OK) {
		add_failure(ck, r, &ans, "MX", r->fqdn);
		return;
	}
	snprintf(mx.owner, sizeof mx.owner, "%s", ans.owner);
	check_mx(ck, r, ans.rrs, &mx);
	ldns_rr_list_deep_free(ans.rrs);
	mx_free(&mx);
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

static void print_json_suggestion(FILE *out, const struct suggestion *s)
{
	fputs("{\"record\":", out);
	json_string(out, s->record);
	fputs(",\"replaces\":[", out);
	for (size_t k = 0; k < s->nreplaces; k++) {
		fputs(k ? "," : "", out);
		json_string(out, s->replaces[k]);
	}
	fputs("]}", out);
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
		print_json_suggestion(out, &r->suggested[i]);
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

/*
 * Records start at column 0: in a zone file, leading blanks mean "same owner". A record
 * that replaces others follows them, each as a "; replace: " comment line.
 */
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
		for (size_t k = 0; k < r->nsuggested; k++) {
			for (size_t j = 0; j < r->suggested[k].nreplaces; j++)
				fprintf(out, "; replace: %s\n", r->suggested[k].replaces[j]);
			fprintf(out, "%s\n", r->suggested[k].record);
		}
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

/* "::1:5353" is an address, but most likely meant as [::1]:5353. */
static bool ipv6_port_lookalike(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	char head[INET6_ADDRSTRLEN];
	unsigned char buf[16];

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    colon - spec >= (long)sizeof head)
		return false;
	snprintf(head, sizeof head, "%.*s", (int)(colon - spec), spec);
	return inet_pton(AF_INET6, head, buf) == 1;
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

static void resolver_bad(const char *spec)
{
	const char *colon = strrchr(spec, ':');

	if (ipv6_port_lookalike(spec))
		fprintf(stderr,
			"nullmxd check-dns: --resolver %s is ambiguous: write [%.*s]:%s for port "
			"%s of %.*s, or [%s] for that address and port 53\n",
			spec, (int)(colon - spec), spec, colon + 1, colon + 1, (int)(colon - spec),
			spec, spec);
	else
		fprintf(stderr,
			"nullmxd check-dns: --resolver wants an IP address and an optional port, "
			"not %s\n",
			spec);
}

/* Names the servers in messages: "127.0.0.1 port 5353". */
static void resolver_describe(struct checker *ck, const char *spec)
{
	size_t n = ldns_resolver_nameserver_count(ck->res), used = 0;
	ldns_rdf **ns = ldns_resolver_nameservers(ck->res);
	char addr[INET6_ADDRSTRLEN + 2];

	ck->resolver_desc[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof ck->resolver_desc; i++) {
		rdf_name(ns[i], addr, sizeof addr);
		used += (size_t)snprintf(ck->resolver_desc + used, sizeof ck->resolver_desc - used,
					 "%s%s port %u", i ? ", " : "", addr,
					 (unsigned)ldns_resolver_port(ck->res));
	}
	if (!spec && used < sizeof ck->resolver_desc)
		snprintf(ck->resolver_desc + used, sizeof ck->resolver_desc - used,
			 " (/etc/resolv.conf)");
	ck->wait_s = (double)n * CHECKDNS_TRIES * CHECKDNS_TIMEOUT_MS / 1000;
}

static ldns_resolver *resolver_from_spec(const char *spec)
{
	ldns_resolver *res;
	ldns_rdf *addr;
	uint16_t port;
	ldns_status st;

	if (ipv6_port_lookalike(spec) || !(addr = resolver_addr(spec, &port))) {
		resolver_bad(spec);
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
	return res;
}

static ldns_resolver *resolver_open(const char *spec)
{
	ldns_resolver *res = NULL;
	ldns_status st;

	if (spec) {
		res = resolver_from_spec(spec);
		if (!res)
			return NULL;
	} else {
		st = ldns_resolver_new_frm_file(&res, NULL);
		if (st != LDNS_STATUS_OK) {
			fprintf(stderr, "nullmxd check-dns: /etc/resolv.conf: %s\n",
				ldns_get_errorstr_by_id(st));
			return NULL;
		}
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
			name_error(names[i]);
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
	resolver_describe(&ck, opt->resolver);
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
	for (size_t i = 0; i < n; i++)
		report_free(&reports[i]);
	free(reports);
	return status;
}
