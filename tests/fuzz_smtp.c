#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

/*
 * Input: a mode octet, a max_commands octet, a chunking seed octet, then what a client
 * sends. Whatever the chunking, the reader must give the same decisions, each one a
 * reply the mode has a default for (so the daemon has built its bytes).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DECISIONS 4096

struct trace {
	size_t n;
	uint8_t kind[MAX_DECISIONS];
	uint8_t close[MAX_DECISIONS];
};

static void check(int ok)
{
	if (!ok)
		abort();
}

static void record(struct trace *t, enum smtp_mode mode, const struct smtp_decision *d)
{
	check(d->reply > SMTP_REPLY_NONE && d->reply < SMTP_REPLY_KINDS);
	check(smtp_default_reply(mode, d->reply) != NULL);
	check((d->action == SMTP_CLOSE) == (d->reason != END_NONE));
	if (t->n < MAX_DECISIONS) {
		t->kind[t->n] = (uint8_t)d->reply;
		t->close[t->n] = d->action == SMTP_CLOSE;
	}
	t->n++;
}

static void run(enum smtp_mode mode, uint32_t max, const uint8_t *p, size_t len, unsigned seed,
		struct trace *t)
{
	struct smtp_envelope env;
	struct smtp_reader r;
	struct smtp_decision d;
	int closed = 0;

	memset(t, 0, sizeof(*t));
	smtp_reader_init(&r, mode, max, &env);
	while (len > 0) {
		size_t chunk = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 17 : len;

		if (chunk > len)
			chunk = len;
		for (size_t left = chunk; left > 0;) {
			size_t used = smtp_read(&r, p, left, &d);

			check(used >= 1 && used <= left);
			p += used;
			left -= used;
			len -= used;
			if (d.reply == SMTP_REPLY_NONE) {
				check(left == 0);
				break;
			}
			check(!closed && mode != SMTP_MODE_CLOSE);
			record(t, mode, &d);
			/* A refused RCPT's addresses are whole strings without a blank. */
			if (d.reply == SMTP_REPLY_RCPT_REJECT)
				check(strlen(env.from) <= SMTP_PATH_MAX &&
				      strlen(env.to) <= SMTP_PATH_MAX &&
				      !strpbrk(env.from, " \t\r") && !strpbrk(env.to, " \t\r"));
			closed = d.action == SMTP_CLOSE;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace whole, split;

	if (size < 3)
		return 0;
	enum smtp_mode mode = (enum smtp_mode)(data[0] % 3);
	uint32_t max = data[1];
	unsigned seed = data[2] | 1u;

	run(mode, max, data + 3, size - 3, 0, &whole);
	run(mode, max, data + 3, size - 3, seed, &split);
	check(whole.n == split.n);
	size_t n = whole.n < MAX_DECISIONS ? whole.n : MAX_DECISIONS;
	check(memcmp(whole.kind, split.kind, n) == 0);
	check(memcmp(whole.close, split.close, n) == 0);
	check(whole.n <= (size_t)max + 1);
	return 0;
}
