#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkdns_resolver.h"

/*
 * One try waits this long, three times, per server: a dead resolver fails in about
 * 3 s. A lost datagram costs a second, and a retry that is lost with it (some
 * servers drop a burst of queries) does not end the run.
 */
#define CHECKDNS_TIMEOUT_MS 1000
#define CHECKDNS_TRIES 3

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

ldns_resolver *resolver_open(const char *spec)
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

double resolver_describe(const ldns_resolver *res, const char *spec, char *out, size_t len)
{
	size_t n = ldns_resolver_nameserver_count(res), used = 0;
	ldns_rdf **ns = ldns_resolver_nameservers(res);

	out[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		char *addr = ldns_rdf2str(ns[i]);

		used += (size_t)snprintf(out + used, len - used, "%s%s port %u", i ? ", " : "",
					 addr ? addr : "?", (unsigned)ldns_resolver_port(res));
		free(addr);
	}
	if (!spec && used < len)
		snprintf(out + used, len - used, " (/etc/resolv.conf)");
	return (double)n * CHECKDNS_TRIES * CHECKDNS_TIMEOUT_MS / 1000;
}
