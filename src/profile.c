#include <stdlib.h>

#include "profile.h"

static struct reply *build_kind(struct profile *p, const struct profile_text *t,
				enum smtp_reply_kind kind, char *err, size_t errlen,
				bool *from_rcpt, size_t *bad_line)
{
	const struct smtp_reply_default *def = smtp_default_reply(p->mode, kind);
	/* The configured 521 text is the greeting, and the answer to every command. */
	bool is_521 = def && def->code == 521 && t->nreply > 0;

	*from_rcpt = kind == SMTP_REPLY_RCPT_REJECT && t->rcpt_reply;
	if (*from_rcpt)
		return reply_build_coded(t->rcpt_reply, p->hostname, err, errlen);
	if (is_521)
		return reply_build(t->reply, t->nreply, 521, p->hostname, err, errlen, bad_line);
	return reply_build(def->lines, def->nlines, def->code, p->hostname, err, errlen, bad_line);
}

int profile_build(struct profile *p, const struct profile_text *t, char *err, size_t errlen,
		  bool *from_rcpt, size_t *bad_line)
{
	p->refs = 1;
	*bad_line = 0;
	for (int k = 0; k < SMTP_REPLY_KINDS; k++) {
		if (!smtp_default_reply(p->mode, (enum smtp_reply_kind)k))
			continue;
		p->replies[k] =
			build_kind(p, t, (enum smtp_reply_kind)k, err, errlen, from_rcpt, bad_line);
		if (!p->replies[k])
			return -1;
	}
	/* In rcpt mode the greeting is a 220: its 521 is the one for too many commands. */
	p->refusal = p->replies[p->mode == SMTP_MODE_RCPT ? SMTP_REPLY_TOO_MANY_COMMANDS
							  : SMTP_REPLY_GREETING];
	return 0;
}

struct profile *profile_ref(struct profile *p)
{
	p->refs++;
	return p;
}

void profile_unref(struct profile *p)
{
	if (!p || --p->refs > 0)
		return;
	for (int k = 0; k < SMTP_REPLY_KINDS; k++)
		reply_free(p->replies[k]);
	free(p);
}
