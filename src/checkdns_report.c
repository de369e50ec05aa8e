#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkdns_alloc.h"
#include "checkdns_report.h"

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

int report_init(struct report *r, const char *arg)
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

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->nfindings; i++)
		free(r->findings[i].text);
	for (size_t i = 0; i < r->nsuggested; i++) {
		free(r->suggested[i].record);
		for (size_t k = 0; k < r->suggested[i].nreplaces; k++)
			free(r->suggested[i].replaces[k]);
	}
}

void add_finding(struct report *r, enum severity sev, const char *code, const char *fmt, ...)
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

struct suggestion *suggest(struct report *r, const char *owner, const char *type, const char *rdata)
{
	struct suggestion *s;

	if (r->nsuggested == SUGGESTED_MAX)
		return NULL;
	s = &r->suggested[r->nsuggested++];
	s->record = xasprintf("%s IN %s %s", owner, type, rdata);
	return s;
}

void suggest_replaces(struct suggestion *s, const char *owner, const char *type, const char *rdata)
{
	if (s && s->nreplaces < REPLACES_MAX)
		s->replaces[s->nreplaces++] = xasprintf("%s IN %s %s", owner, type, rdata);
}

enum severity report_verdict(const struct report *r)
{
	enum severity worst = SEV_OK;

	for (size_t i = 0; i < r->nfindings; i++)
		if (r->findings[i].sev > worst)
			worst = r->findings[i].sev;
	return worst == SEV_INFO ? SEV_OK : worst;
}

const char *severity_name(enum severity sev)
{
	static const char *const names[] = {"ok", "info", "warning", "unknown", "error"};

	return names[sev];
}
