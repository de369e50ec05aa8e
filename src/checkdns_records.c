#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checkdns_records.h"

#define TXT_STRING_MAX 255

static const char *skip_wsp(const char *p)
{
	return p + strspn(p, " \t");
}

/* SPF (RFC 7208) */

bool spf_is_record(const char *text)
{
	return strncasecmp(text, "v=spf1", 6) == 0 && (text[6] == ' ' || text[6] == '\0');
}

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

void spf_classify(const char *record, struct spf *spf)
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

bool dmarc_is_record(const char *text)
{
	const char *name, *value;
	size_t name_len, value_len;

	return dmarc_tag(text, &name, &name_len, &value, &value_len) && name_len == 1 &&
	       *name == 'v' && value && value_len == 6 && strncmp(value, "DMARC1", 6) == 0;
}

void dmarc_policy(const char *record, char *out, size_t len)
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

char *dmarc_with_reject(const char *record)
{
	const char *p = record, *name, *value;
	size_t name_len, value_len;
	char *out;

	while ((p = dmarc_tag(p, &name, &name_len, &value, &value_len)))
		if (name_len == 1 && *name == 'p' && value)
			break;
	if (!p)
		return strdup("v=DMARC1; p=reject;");
	if (asprintf(&out, "%.*sreject%s", (int)(value - record), record, value + value_len) < 0)
		return NULL;
	return out;
}

/* Zone files */

char *txt_quote(const char *text)
{
	size_t len = strlen(text), used = 0;
	char *out = calloc(len * 2 + (len / TXT_STRING_MAX + 1) * 3 + 1, 1);

	if (!out)
		return NULL;
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
