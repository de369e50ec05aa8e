#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostname.h"

#define LOOKUP_TIMEOUT_SEC 2

static bool label_valid(const char *p, size_t len)
{
	if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return false;
	return true;
}

/* RFC 5321 §4.1.3 address literals: [192.0.2.1] or [IPv6:2001:db8::1]. */
static bool literal_valid(const char *name)
{
	char addr[64];
	unsigned char bin[16];
	size_t len = strlen(name);

	if (len < 3 || len - 2 >= sizeof(addr) || name[len - 1] != ']')
		return false;
	memcpy(addr, name + 1, len - 2);
	addr[len - 2] = '\0';
	if (strncasecmp(addr, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, addr + 5, bin) == 1;
	return inet_pton(AF_INET, addr, bin) == 1;
}

bool hostname_valid(const char *name)
{
	const char *label = name, *dot;
	size_t len = strlen(name);

	if (name[0] == '[')
		return literal_valid(name);
	if (len == 0 || len > 253)
		return false;
	while ((dot = strchr(label, '.')) != NULL) {
		if (!label_valid(label, (size_t)(dot - label)))
			return false;
		label = dot + 1;
	}
	/* An all-numeric last label is an address written bare, not a name. */
	if (!label_valid(label, strlen(label)) || strspn(label, "0123456789") == strlen(label))
		return false;
	return true;
}

/*
 * getaddrinfo() cannot be bounded; its asynchronous form can. Whatever it reads stays
 * static, since a lookup that cannot be cancelled goes on in its own thread.
 */
static void canonical_name(char *out, size_t len)
{
	static struct addrinfo hints = {.ai_flags = AI_CANONNAME};
	static struct gaicb req;
	static char name[256];
	struct gaicb *list[] = {&req};
	struct timespec timeout = {LOOKUP_TIMEOUT_SEC, 0};

	snprintf(name, sizeof(name), "%s", out);
	req.ar_name = name;
	req.ar_request = &hints;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0)
		return;
	if (gai_suspend((const struct gaicb *const *)list, 1, &timeout) != 0 ||
	    gai_error(&req) != 0) {
		gai_cancel(&req); /* if it cannot be cancelled, req stays static and alive */
		return;
	}
	if (req.ar_result->ai_canonname && strchr(req.ar_result->ai_canonname, '.'))
		snprintf(out, len, "%s", req.ar_result->ai_canonname);
	freeaddrinfo(req.ar_result);
}

int hostname_default(char *out, size_t len)
{
	static char cached[256];

	if (cached[0] == '\0') {
		char name[256] = "";
		if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0')
			return -1;
		if (!strchr(name, '.'))
			canonical_name(name, sizeof(name));
		snprintf(cached, sizeof(cached), "%s", name);
	}
	snprintf(out, len, "%s", cached);
	return 0;
}
