#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "checkdns_mx.h"
#include "checkdns_sender.h"

/* Each MX host costs two lookups (A, AAAA): at most 32 for the MX hosts of one name. */
#define MX_HOSTS_CHECKED 16

/* Addresses */

static bool addr_loopback(const struct hostaddr *a)
{
	static const unsigned char v6_loopback[16] = {[15] = 1};

	return a->af == AF_INET ? a->bytes[0] == 127 : memcmp(a->bytes, v6_loopback, 16) == 0;
}

static void addr_text(const struct hostaddr *a, char *buf, size_t len)
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

static void report_this_host(struct report *r, const struct addrs *a, bool rcpt_mode)
{
	char text[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < a->n; i++)
		if (a->list[i].ifname) {
			addr_text(&a->list[i], text, sizeof text);
			add_finding(r, SEV_INFO, "this-host",
				    "%s is an address of this host (%s): where nullmxd listens, "
				    "senders connect and %s instead of giving up at once",
				    text, a->list[i].ifname,
				    rcpt_mode ? "are refused at RCPT TO" : "get 521");
			return;
		}
	add_finding(r, SEV_INFO, "not-this-host",
		    "none of these addresses is this host's: whatever listens on port 25 there "
		    "gets the mail");
}

/* Null MX */

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

/* MX hosts */

/* What one MX host is, as flags; 0: senders cannot deliver there. */
enum { MX_AWAY = 1, MX_HERE = 2, MX_UNKNOWN = 4 };

/* Returns MX_HERE when an address of the host is this host's (loopback is not). */
static int report_mx_is_this_host(struct report *r, const struct mxhost *h, const struct addrs *a,
				  bool rcpt_mode)
{
	char text[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < a->n; i++) {
		if (!a->list[i].ifname || addr_loopback(&a->list[i]))
			continue;
		addr_text(&a->list[i], text, sizeof text);
		if (rcpt_mode)
			add_finding(r, SEV_OK, "rcpt-mx",
				    "MX host %s has address %s, which is this host's (%s): "
				    "nullmxd in rcpt mode there refuses every RCPT TO "
				    "permanently, so senders that reach it bounce at once",
				    h->name, text, a->list[i].ifname);
		else
			add_finding(r, SEV_ERROR, "mx-is-this-host",
				    "MX host %s has address %s, which is this host's (%s): "
				    "where nullmxd listens, every message to %s is refused with "
				    "521 (a 521 host must not be an MX, RFC 1846 section 4.3); "
				    "nullmxd in rcpt mode may be one: then check with --rcpt-mode",
				    h->name, text, a->list[i].ifname, r->name);
		return MX_HERE;
	}
	return 0;
}

/* Where senders that pick this MX host go, as MX_ flags. */
static int check_mx_host(struct checker *ck, struct report *r, const struct mxhost *h,
			 bool rcpt_mode)
{
	bool loopback = false;
	int seen = 0;
	struct addrs a;

	if (lookup_addrs(ck, r, h->name, &a) < 0)
		return MX_UNKNOWN; /* not counted against the name */
	if (a.total == 0) {
		add_finding(r, SEV_WARNING, "mx-host-unusable",
			    "MX host %s (%u) %s: senders cannot deliver there; give it an "
			    "address or remove that MX record",
			    h->name, (unsigned)h->pref,
			    a.nxdomain ? "does not exist (NXDOMAIN)" : "has no A or AAAA record");
		return 0;
	}
	for (size_t i = 0; i < a.n; i++) {
		if (addr_loopback(&a.list[i]))
			loopback = true;
		else if (!a.list[i].ifname)
			seen |= MX_AWAY;
	}
	if (loopback)
		add_finding(r, SEV_ERROR, "mx-loopback",
			    "MX host %s (%u) has a loopback address: it names each sender's own "
			    "host, so mail to %s loops back to its sender",
			    h->name, (unsigned)h->pref, r->name);
	seen |= report_mx_is_this_host(r, h, &a, rcpt_mode);
	return a.total > a.n ? seen | MX_AWAY : seen;
}

/* What the MX hosts of one name turned out to be. */
struct mx_tally {
	int seen;         /* MX_ flags of the hosts looked up */
	size_t looked_up; /* hosts whose lookups answered */
	size_t checked;   /* hosts within MX_HOSTS_CHECKED */
	char list[512];   /* every MX host, with its preference */
};

/*
 * Some MX hosts were not looked up and those that were do not decide: after a failed
 * lookup (reported, with the exit status it sets) the name is unknown; beyond the limit
 * a warning, as a name's first 16 MX hosts are the ones senders try.
 */
static void report_unchecked(struct report *r, const struct mxset *mx, const struct mx_tally *t)
{
	size_t rest = mx->nhosts - t->checked;

	if (t->looked_up < t->checked)
		add_finding(r, SEV_UNKNOWN, "mx-not-checked",
			    "not every MX host of %s was looked up (%zu of %zu: a lookup failed), "
			    "and none that was receives its mail elsewhere: whether mail to %s "
			    "is delivered is not known",
			    r->name, mx->nhosts - t->looked_up, mx->nhosts, r->name);
	else if (t->seen & MX_HERE)
		add_finding(r, SEV_WARNING, "mx-too-many",
			    "%s has %zu MX hosts: the first %d in preference order are this "
			    "host, where nullmxd refuses every recipient, and the rest (%zu) were "
			    "not looked up (check-dns stops at %d), so whether some are "
			    "elsewhere, where mail is delivered, is not known; use at most %d",
			    r->name, mx->nhosts, MX_HOSTS_CHECKED, rest, MX_HOSTS_CHECKED,
			    MX_HOSTS_CHECKED);
	else
		add_finding(r, SEV_WARNING, "mx-too-many",
			    "%s has %zu MX hosts: the first %d in preference order cannot "
			    "receive mail, and the rest (%zu) were not looked up (check-dns stops "
			    "at %d); senders try MX hosts in that order and most give up after a "
			    "few: give %s a usable MX host of low preference if it is a bounce "
			    "(Return-Path) domain, or replace its MX records with "
			    "\"%s IN MX 0 .\" if it never receives mail",
			    r->name, mx->nhosts, MX_HOSTS_CHECKED, rest, MX_HOSTS_CHECKED, r->name,
			    mx->owner);
}

/*
 * Every MX host this host in rcpt mode: the name receives no mail, like one with a null
 * MX. Beside a host elsewhere, which of the two a sender reaches decides whether its
 * message is delivered or bounced.
 */
static void check_rcpt_mx(struct checker *ck, struct report *r, const struct mxset *mx,
			  const struct mx_tally *t)
{
	if (t->seen & MX_AWAY)
		add_finding(r, SEV_ERROR, "rcpt-mx-mixed",
			    "%s has MX hosts both here, where nullmxd refuses every recipient, "
			    "and elsewhere (%s): whether a message bounces or is delivered "
			    "depends on which one its sender reaches; point every MX at this host "
			    "if %s receives no mail, or remove this host's MX if it does",
			    r->name, t->list, r->name);
	else if (t->looked_up < mx->nhosts)
		report_unchecked(r, mx, t);
	else if (!checker_dead(ck))
		check_sender(ck, r, mx);
}

static void check_real_mx(struct checker *ck, struct report *r, const struct mxset *mx,
			  bool rcpt_mode)
{
	struct mx_tally t = {.checked =
				     mx->nhosts < MX_HOSTS_CHECKED ? mx->nhosts : MX_HOSTS_CHECKED};
	size_t used = 0;

	for (size_t i = 0; i < mx->nhosts && used < sizeof t.list; i++)
		used += (size_t)snprintf(t.list + used, sizeof t.list - used, "%s%s (%u)",
					 i ? ", " : "", mx->hosts[i].name,
					 (unsigned)mx->hosts[i].pref);
	for (size_t i = 0; i < t.checked && !checker_dead(ck); i++) {
		int host = check_mx_host(ck, r, &mx->hosts[i], rcpt_mode);

		t.looked_up += host != MX_UNKNOWN;
		t.seen |= host & ~MX_UNKNOWN;
	}
	if (rcpt_mode && (t.seen & MX_HERE)) {
		check_rcpt_mx(ck, r, mx, &t);
		return;
	}
	if (t.seen & MX_HERE)
		return; /* mx-is-this-host: nullmxd refuses its mail */
	if (t.seen & MX_AWAY) {
		add_finding(r, SEV_INFO, "real-mx",
			    "%s receives mail at its MX %s; that is right for a bounce "
			    "(Return-Path) domain, but nullmxd does not refuse its mail%s",
			    r->name, t.list,
			    t.looked_up < mx->nhosts ? " (not every MX host was looked up)" : "");
		return;
	}
	if (t.looked_up < mx->nhosts) {
		report_unchecked(r, mx, &t);
		return;
	}
	add_finding(r, SEV_WARNING, "mx-unusable",
		    "no MX host of %s can receive mail (%s), so mail to %s cannot be delivered "
		    "(RFC 5321 section 5.1): if it is a bounce (Return-Path) domain, give it an "
		    "MX host that can (RFC 7505 section 4.2); if it never receives mail, "
		    "replace its MX records with \"%s IN MX 0 .\"",
		    r->name, t.list, r->name, mx->owner);
}

/* No MX: returns false when there is nothing more to check. */
static bool check_no_mx(struct checker *ck, struct report *r, bool rcpt_mode)
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
	report_this_host(r, &a, rcpt_mode);
	return true;
}

/* The name */

static void check_mx(struct checker *ck, struct report *r, const struct mxset *mx, bool rcpt_mode)
{
	if (mx->count > 0 && mx->nnull == 0) {
		check_real_mx(ck, r, mx, rcpt_mode);
		return;
	}
	if (mx->nnull > 0)
		check_null_mx(r, mx);
	else if (!check_no_mx(ck, r, rcpt_mode))
		return;
	check_sender(ck, r, mx);
}

void check_name(struct checker *ck, struct report *r, bool rcpt_mode)
{
	struct mxset mx;
	struct answer ans;

	if (checker_dead(ck)) {
		add_finding(r, SEV_UNKNOWN, "not-checked",
			    "not checked: the resolver did not answer");
		r->failure = EX_UNAVAILABLE;
		return;
	}
	lookup_mx(ck, r->fqdn, &ans, &mx);
	if (ans.alias)
		add_finding(r, SEV_INFO, "alias",
			    "%s is an alias (CNAME) of %s: no other record may sit beside a CNAME "
			    "(RFC 2181 section 10.1), so its records are those of %s, and go there",
			    r->name, ans.owner, ans.owner);
	if (ans.status == LOOKUP_NXDOMAIN)
		add_finding(r, SEV_WARNING, "nxdomain",
			    "%s does not exist (NXDOMAIN): mail to it fails already; check the "
			    "spelling, and publish a null MX if the name comes into use",
			    ans.alias ? ans.owner : r->name);
	else if (ans.status != LOOKUP_OK)
		lookup_failed(ck, r, &ans, "MX", r->fqdn);
	else
		check_mx(ck, r, &mx, rcpt_mode);
	mx_free(&mx);
}
