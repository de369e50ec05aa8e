#ifndef NULLMXD_PROFILE_H
#define NULLMXD_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "reply.h"
#include "smtp.h"

#define PROFILE_PROXY_FROM_MAX 32
#define PROFILE_HOSTNAME_MAX 255

/*
 * Everything a listener's connections need, built once per config load and shared
 * read-only: a reload makes new profiles, open connections keep theirs.
 */
struct profile {
	unsigned refs;
	enum smtp_mode mode;
	unsigned proxy; /* enum proxy_allow; 0: the listener takes no PROXY header */
	size_t nproxy_from;
	struct cidr proxy_from[PROFILE_PROXY_FROM_MAX];
	unsigned drain_timeout_ms;
	unsigned idle_timeout_ms;
	unsigned session_timeout_ms;
	unsigned proxy_timeout_ms;
	uint32_t drain_bytes;
	uint32_t max_commands;
	char hostname[PROFILE_HOSTNAME_MAX + 1];
	struct reply *replies[SMTP_REPLY_KINDS]; /* NULL where the mode never sends it */
	/* What a connection gets when it must end now (a limit, a timeout, a stop, no
	 * descriptor): the permanent 521, in every mode. One of replies[]. */
	const struct reply *refusal;
};

/* The texts a profile's replies come from; NULL or 0 lines: the mode's default. */
struct profile_text {
	const char *const *reply; /* the 521 reply: greeting in close and quit modes */
	size_t nreply;
	const char *rcpt_reply; /* "5xx text" for RCPT TO in rcpt mode */
};

/*
 * Builds every reply the profile's mode sends. On failure returns -1 with err set and
 * *from_rcpt telling whether rcpt_reply (rather than reply) was at fault, and which line.
 */
int profile_build(struct profile *p, const struct profile_text *t, char *err, size_t errlen,
		  bool *from_rcpt, size_t *bad_line);
struct profile *profile_ref(struct profile *p);
void profile_unref(struct profile *p);

#endif
