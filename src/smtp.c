#include <stdbool.h>
#include <string.h>

#include "smtp.h"

enum {
	F_MAIL = 1 << 0, /* a MAIL FROM was accepted and no RSET, HELO or EHLO since */
	F_DONE = 1 << 1, /* a decision to close was given: read nothing more */
};

enum verb {
	VERB_NONE,
	VERB_HELO,
	VERB_EHLO,
	VERB_MAIL,
	VERB_RCPT,
	VERB_DATA,
	VERB_RSET,
	VERB_NOOP,
	VERB_QUIT,
	VERB_UNIMPLEMENTED,
};

enum args { ARGS_NONE, ARGS_REQUIRED, ARGS_ANY };

struct verb_def {
	const char *word; /* for MAIL and RCPT the word includes what must follow */
	enum verb verb;
	enum args args;
};

/*
 * RFC 5321 §4.5.1 lists the commands every server implements; VRFY is among them, but
 * §3.5.3 forbids claiming a verified address and 252 says "will accept message", which
 * this host never does, so VRFY gets 502 as §7.3 allows for servers that disable it.
 */
static const struct verb_def verbs[] = {
	{"HELO", VERB_HELO, ARGS_REQUIRED},     {"EHLO", VERB_EHLO, ARGS_REQUIRED},
	{"MAIL FROM:", VERB_MAIL, ARGS_ANY},    {"RCPT TO:", VERB_RCPT, ARGS_ANY},
	{"DATA", VERB_DATA, ARGS_NONE},         {"RSET", VERB_RSET, ARGS_NONE},
	{"NOOP", VERB_NOOP, ARGS_ANY},          {"QUIT", VERB_QUIT, ARGS_NONE},
	{"VRFY", VERB_UNIMPLEMENTED, ARGS_ANY}, {"EXPN", VERB_UNIMPLEMENTED, ARGS_ANY},
	{"HELP", VERB_UNIMPLEMENTED, ARGS_ANY}, {"BDAT", VERB_UNIMPLEMENTED, ARGS_ANY},
	{"ETRN", VERB_UNIMPLEMENTED, ARGS_ANY}, {"TURN", VERB_UNIMPLEMENTED, ARGS_ANY},
	{"AUTH", VERB_UNIMPLEMENTED, ARGS_ANY}, {"STARTTLS", VERB_UNIMPLEMENTED, ARGS_ANY},
};

struct command {
	enum verb verb;
	int syntax_ok;
};

void smtp_reader_init(struct smtp_reader *r, enum smtp_mode mode, uint32_t max_commands,
		      struct smtp_envelope *env)
{
	memset(r, 0, sizeof(*r));
	r->env = env;
	r->mode = (uint8_t)mode;
	r->max_commands = max_commands;
	if (mode == SMTP_MODE_CLOSE)
		r->flags = F_DONE;
}

static int ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Locale-free and NUL-safe: the head may hold any byte a client sent. */
static int head_starts_with(const struct smtp_reader *r, const char *word, size_t n)
{
	size_t have = r->len < SMTP_HEAD_MAX ? r->len : SMTP_HEAD_MAX;

	if (n > have)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ascii_upper((unsigned char)r->head[i]) != word[i])
			return 0;
	return 1;
}

/* The verb ends the line (blanks aside) or is followed by a space. */
static int verb_ends(const struct smtp_reader *r, size_t n)
{
	return r->trimmed == n || (n < SMTP_HEAD_MAX && r->len > n && r->head[n] == ' ');
}

static int args_ok(const struct smtp_reader *r, const struct verb_def *v, size_t n)
{
	switch (v->args) {
	case ARGS_NONE: return r->trimmed == n;
	case ARGS_REQUIRED: return r->trimmed > n + 1;
	case ARGS_ANY: break;
	}
	return 1;
}

static struct command classify(const struct smtp_reader *r)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb_def *v = &verbs[i];
		size_t n = strlen(v->word);

		if (v->verb == VERB_MAIL || v->verb == VERB_RCPT) {
			/* "MAIL" alone or "MAIL TO:" is MAIL with bad arguments. */
			if (head_starts_with(r, v->word, 4) && verb_ends(r, 4))
				return (struct command){v->verb, head_starts_with(r, v->word, n)};
			continue;
		}
		if (head_starts_with(r, v->word, n) && verb_ends(r, n))
			return (struct command){v->verb, args_ok(r, v, n)};
	}
	return (struct command){VERB_NONE, 0};
}

/*
 * A cut at SMTP_PATH_MAX octets may end inside a UTF-8 character: its lead byte and
 * continuation bytes go, so that the journal's fields of the path stay valid UTF-8.
 */
static void drop_split_character(char *out, size_t n)
{
	size_t lead = n, want;
	unsigned char c;

	while (lead > 0 && lead + 3 > n && ((unsigned char)out[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0 || (c = (unsigned char)out[lead - 1]) < 0xc2 || c > 0xf4)
		return;
	want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (n - (lead - 1) < want)
		out[lead - 1] = '\0';
}

/*
 * The path after a verb of `skip` octets, between < and > (RFC 5321 §4.1.2; a blank
 * before the < is tolerated, as most servers do), or up to the first blank without
 * them. Cutting at blanks keeps a client's spaces out of the log line, where a filter
 * such as fail2ban's could take what follows for a field of its own.
 */
static void take_path(const struct smtp_reader *r, size_t skip, char *out)
{
	const char *p = r->env->line + skip;
	size_t len = (r->len < SMTP_CAPTURE_MAX ? r->len : SMTP_CAPTURE_MAX) - skip, n = 0;
	bool bracket;

	while (len > 0 && *p == ' ') {
		p++;
		len--;
	}
	bracket = len > 0 && *p == '<';
	for (size_t i = bracket; i < len && n < SMTP_PATH_MAX; i++) {
		if ((bracket && p[i] == '>') || p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\0')
			break;
		out[n++] = p[i];
	}
	out[n] = '\0';
	if (n == SMTP_PATH_MAX)
		drop_split_character(out, n);
}

static enum smtp_reply_kind rcpt_mode_reply(struct smtp_reader *r, enum verb verb)
{
	switch (verb) {
	case VERB_HELO:
	case VERB_EHLO:
		/* RFC 5321 §4.1.4: a new greeting clears the transaction like RSET. */
		r->flags &= (uint8_t)~F_MAIL;
		return verb == VERB_EHLO ? SMTP_REPLY_EHLO : SMTP_REPLY_HELO;
	case VERB_MAIL:
		if (r->flags & F_MAIL)
			return SMTP_REPLY_BAD_SEQUENCE_503;
		r->flags |= F_MAIL;
		if (r->env)
			take_path(r, strlen("MAIL FROM:"), r->env->from);
		return SMTP_REPLY_OK_250;
	case VERB_RCPT:
		if (!(r->flags & F_MAIL))
			return SMTP_REPLY_BAD_SEQUENCE_503;
		if (r->env)
			take_path(r, strlen("RCPT TO:"), r->env->to);
		return SMTP_REPLY_RCPT_REJECT;
	case VERB_DATA:
		/* RFC 5321 §3.3: 554 "no valid recipients" once MAIL was given. */
		return r->flags & F_MAIL ? SMTP_REPLY_NO_RCPT_554 : SMTP_REPLY_BAD_SEQUENCE_503;
	case VERB_RSET: r->flags &= (uint8_t)~F_MAIL; return SMTP_REPLY_OK_250;
	case VERB_NOOP: return SMTP_REPLY_OK_250;
	case VERB_UNIMPLEMENTED: return SMTP_REPLY_NOT_IMPLEMENTED_502;
	case VERB_QUIT:
	case VERB_NONE: break;
	}
	return SMTP_REPLY_UNRECOGNISED_500;
}

static void decide_close(struct smtp_reader *r, struct smtp_decision *d, enum smtp_reply_kind reply,
			 enum end_reason reason)
{
	r->flags |= F_DONE;
	d->reply = reply;
	d->action = SMTP_CLOSE;
	d->reason = reason;
}

static void line_end(struct smtp_reader *r, struct smtp_decision *d)
{
	struct command c = classify(r);

	r->commands++;
	if (c.verb == VERB_QUIT && c.syntax_ok)
		decide_close(r, d, SMTP_REPLY_221, END_QUIT);
	else if (r->commands > r->max_commands)
		decide_close(r, d, SMTP_REPLY_TOO_MANY_COMMANDS, END_MAX_COMMANDS);
	else if (r->mode == SMTP_MODE_QUIT)
		d->reply = SMTP_REPLY_521;
	else if (c.verb != VERB_NONE && !c.syntax_ok)
		d->reply = SMTP_REPLY_SYNTAX_501;
	else
		d->reply = rcpt_mode_reply(r, c.verb);
	r->len = 0;
	r->trimmed = 0;
}

static void take_byte(struct smtp_reader *r, unsigned char c)
{
	if (r->len < SMTP_HEAD_MAX)
		r->head[r->len] = (char)c;
	if (r->env && r->len < SMTP_CAPTURE_MAX)
		r->env->line[r->len] = (char)c;
	r->len++;
	if (c != ' ' && c != '\t' && c != '\r')
		r->trimmed = r->len;
}

size_t smtp_read(struct smtp_reader *r, const void *buf, size_t len, struct smtp_decision *d)
{
	const unsigned char *p = buf;

	*d = (struct smtp_decision){SMTP_REPLY_NONE, SMTP_CONTINUE, END_NONE};
	if (r->flags & F_DONE)
		return len;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			line_end(r, d);
			return i + 1;
		}
		/*
		 * Any octet but LF at position 512 means the line ends at 513 or later:
		 * answer now instead of reading the rest of an overlong line.
		 */
		if (r->len + 1u >= SMTP_LINE_MAX) {
			decide_close(r, d, SMTP_REPLY_LINE_TOO_LONG, END_LINE_TOO_LONG);
			return i + 1;
		}
		take_byte(r, p[i]);
	}
	return len;
}

#define LINES(...)                                                                                 \
	(const char *const[]){__VA_ARGS__},                                                        \
		sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

/*
 * RFC 1846 §4.1 and RFC 5321 §4.3.1: a greeting names the host first. Postfix reads an
 * enhanced code (RFC 3463 X.3.2 goes with 521) only right after the code on the last line.
 */
#define GREETING_521                                                                               \
	{                                                                                          \
		521, LINES("%h does not accept mail", "5.3.2 %h does not accept mail")             \
	}
#define REPLY_521                                                                                  \
	{                                                                                          \
		521, LINES("5.3.2 %h does not accept mail")                                        \
	}
#define REPLY_221                                                                                  \
	{                                                                                          \
		221, LINES("2.0.0 %h closing transmission channel")                                \
	}
/* RFC 5321 §4.5.3.1: "500 Line too long" is the reply for an overlong command line. */
#define LINE_TOO_LONG                                                                              \
	{                                                                                          \
		500, LINES("5.5.2 Line too long")                                                  \
	}

static const struct smtp_reply_default quit_mode[SMTP_REPLY_KINDS] = {
	[SMTP_REPLY_GREETING] = GREETING_521,
	[SMTP_REPLY_521] = REPLY_521,
	[SMTP_REPLY_221] = REPLY_221,
	[SMTP_REPLY_LINE_TOO_LONG] = LINE_TOO_LONG,
	[SMTP_REPLY_TOO_MANY_COMMANDS] = REPLY_521,
};

/*
 * EHLO offers only what lets any sender reach RCPT and read our refusal: PIPELINING
 * saves round trips, SMTPUTF8 (which RFC 6531 §3.2 ties to 8BITMIME) keeps senders of
 * internationalised mail from failing on their side with a reason that is not ours, and
 * ENHANCEDSTATUSCODES (RFC 2034) announces the X.Y.Z codes every reply carries.
 */
static const struct smtp_reply_default rcpt_mode[SMTP_REPLY_KINDS] = {
	[SMTP_REPLY_GREETING] = {220, LINES("%h ESMTP accepts no mail")},
	[SMTP_REPLY_221] = REPLY_221,
	[SMTP_REPLY_EHLO] = {250, LINES("%h", "PIPELINING", "8BITMIME", "SMTPUTF8",
					"ENHANCEDSTATUSCODES")},
	[SMTP_REPLY_HELO] = {250, LINES("%h")},
	[SMTP_REPLY_OK_250] = {250, LINES("2.0.0 Ok")},
	[SMTP_REPLY_RCPT_REJECT] = {550, LINES("5.1.2 %h does not accept mail")},
	[SMTP_REPLY_BAD_SEQUENCE_503] = {503, LINES("5.5.1 Bad sequence of commands")},
	[SMTP_REPLY_NO_RCPT_554] = {554, LINES("5.5.1 No valid recipients")},
	[SMTP_REPLY_UNRECOGNISED_500] = {500, LINES("5.5.2 Command unrecognized")},
	[SMTP_REPLY_SYNTAX_501] = {501, LINES("5.5.4 Syntax error in parameters or arguments")},
	[SMTP_REPLY_NOT_IMPLEMENTED_502] = {502, LINES("5.5.1 Command not implemented")},
	[SMTP_REPLY_LINE_TOO_LONG] = LINE_TOO_LONG,
	/* Over a limit the answer stays permanent (never 4xx): 521, then close. */
	[SMTP_REPLY_TOO_MANY_COMMANDS] = REPLY_521,
};

static const struct smtp_reply_default close_mode[SMTP_REPLY_KINDS] = {
	[SMTP_REPLY_GREETING] = GREETING_521,
};

const struct smtp_reply_default *smtp_default_reply(enum smtp_mode mode, enum smtp_reply_kind kind)
{
	const struct smtp_reply_default *table;

	if ((unsigned)kind >= SMTP_REPLY_KINDS)
		return NULL;
	switch (mode) {
	case SMTP_MODE_CLOSE: table = close_mode; break;
	case SMTP_MODE_QUIT: table = quit_mode; break;
	case SMTP_MODE_RCPT: table = rcpt_mode; break;
	default: return NULL;
	}
	return table[kind].code ? &table[kind] : NULL;
}

static const char *const mode_names[] = {
	[SMTP_MODE_CLOSE] = "close",
	[SMTP_MODE_QUIT] = "quit",
	[SMTP_MODE_RCPT] = "rcpt",
};

const char *smtp_mode_name(enum smtp_mode mode)
{
	if ((unsigned)mode >= sizeof(mode_names) / sizeof(mode_names[0]))
		return "?";
	return mode_names[mode];
}

int smtp_mode_parse(const char *name, enum smtp_mode *mode)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(name, mode_names[i]) == 0) {
			*mode = (enum smtp_mode)i;
			return 0;
		}
	}
	return -1;
}
