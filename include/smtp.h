#ifndef NULLMXD_SMTP_H
#define NULLMXD_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "reason.h"

/* RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF. */
#define SMTP_LINE_MAX 512

enum smtp_mode {
	SMTP_MODE_CLOSE, /* 521 greeting, then close: no command is read */
	SMTP_MODE_QUIT,  /* 521 greeting, 521 to every command but QUIT (RFC 7504 §3) */
	SMTP_MODE_RCPT,  /* 220 greeting, every RCPT TO refused permanently */
};

enum smtp_reply_kind {
	SMTP_REPLY_NONE, /* no complete command yet */
	SMTP_REPLY_GREETING,
	SMTP_REPLY_521,
	SMTP_REPLY_221,
	SMTP_REPLY_EHLO,
	SMTP_REPLY_HELO,
	SMTP_REPLY_OK_250,
	SMTP_REPLY_RCPT_REJECT,
	SMTP_REPLY_BAD_SEQUENCE_503,
	SMTP_REPLY_NO_RCPT_554,
	SMTP_REPLY_UNRECOGNISED_500,
	SMTP_REPLY_SYNTAX_501,
	SMTP_REPLY_NOT_IMPLEMENTED_502,
	SMTP_REPLY_LINE_TOO_LONG,
	SMTP_REPLY_TOO_MANY_COMMANDS,
	SMTP_REPLY_KINDS
};

enum smtp_action { SMTP_CONTINUE, SMTP_CLOSE };

/* What to answer to one command, and whether the session ends after that answer. */
struct smtp_decision {
	enum smtp_reply_kind reply;
	enum smtp_action action;
	enum end_reason reason; /* SMTP_CLOSE: END_QUIT, END_MAX_COMMANDS or END_LINE_TOO_LONG */
};

/*
 * Reads command lines without storing them: only the first bytes of a line (enough to
 * tell the verb) and its length are kept, so the whole reader is a few dozen bytes.
 */
#define SMTP_HEAD_MAX 16

/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets, its angle brackets included. */
#define SMTP_PATH_MAX 254
/* Enough of a line for "MAIL FROM: <" and a whole path. */
#define SMTP_CAPTURE_MAX (SMTP_HEAD_MAX + SMTP_PATH_MAX + 2)

/*
 * The addresses of a transaction, for the log: what MAIL FROM and the last RCPT TO
 * named, without angle brackets, cut at the first blank and to SMTP_PATH_MAX octets,
 * NUL-terminated ("" for the null sender <>).
 */
struct smtp_envelope {
	char from[SMTP_PATH_MAX + 1];
	char to[SMTP_PATH_MAX + 1];
	char line[SMTP_CAPTURE_MAX]; /* the first octets of the line being read */
};

struct smtp_reader {
	struct smtp_envelope *env; /* NULL: no address is kept */
	uint32_t max_commands;
	uint32_t commands;
	uint16_t len;     /* octets of the current line so far */
	uint16_t trimmed; /* line length without trailing blanks, CR and LF */
	uint8_t mode;
	uint8_t flags;
	char head[SMTP_HEAD_MAX];
};

/*
 * In close mode the reader takes every byte and decides nothing: no command is read.
 * env (or NULL) receives the addresses in rcpt mode: env->to is the address of the
 * RCPT TO that an SMTP_REPLY_RCPT_REJECT answers, env->from that of its MAIL FROM.
 */
void smtp_reader_init(struct smtp_reader *r, enum smtp_mode mode, uint32_t max_commands,
		      struct smtp_envelope *env);

/*
 * Consumes bytes up to and including the end of the next command (LF or CRLF) and
 * returns how many it took. If that completed a command, *d says what to answer;
 * otherwise d->reply is SMTP_REPLY_NONE and all len bytes were taken. Call again with
 * the rest of the chunk until it returns a decision to close or the chunk is used up.
 * After a decision to close, every further byte is taken without a decision.
 */
size_t smtp_read(struct smtp_reader *r, const void *buf, size_t len, struct smtp_decision *d);

/* A reply's default: code and template lines (%h is the host name), for reply_build(). */
struct smtp_reply_default {
	int code;
	const char *const *lines;
	size_t nlines;
};

/* NULL when the mode never sends that kind: build exactly the non-NULL ones. */
const struct smtp_reply_default *smtp_default_reply(enum smtp_mode mode, enum smtp_reply_kind kind);

const char *smtp_mode_name(enum smtp_mode mode);
/* Returns 0 and sets *mode for "close", "quit" or "rcpt"; -1 otherwise. */
int smtp_mode_parse(const char *name, enum smtp_mode *mode);

#endif
