/* The counters' tables: every listener a slot of its own, every reason its own word. */
#include <arpa/inet.h>

#include "stats.h"
#include "test.h"

/* As many listeners as there can be: every listen entry, and as many passed sockets. */
static void test_every_listener_counted_apart(void)
{
	struct sockaddr_in peer = {.sin_family = AF_INET};
	char want[32];
	uint64_t eof = 0;

	for (size_t i = 0; i < STATS_LISTENERS_MAX; i++) {
		struct sockaddr_in bound = {.sin_family = AF_INET, .sin_port = htons(25)};
		unsigned slot;
		bound.sin_addr.s_addr = htonl(0x7f000001u | (uint32_t)i << 8);
		slot = stats_listener((struct sockaddr *)&bound);
		CHECK(slot == i);
		stats_conn_end(slot, (struct sockaddr *)&peer, END_EOF, 0, 0);
		stats_conn_end(slot, (struct sockaddr *)&peer, END_EOF, 0, 0);
	}
	CHECK(stats.nlisteners == STATS_LISTENERS_MAX);
	for (size_t i = 0; i < STATS_LISTENERS_MAX && i < stats.nlisteners; i++) {
		snprintf(want, sizeof(want), "127.0.%zu.1:25", i);
		CHECK_STR(stats.listeners[i].label, want);
		CHECK(stats.listeners[i].conns[STATS_IPV4][END_EOF] == 2);
		eof += stats.listeners[i].conns[STATS_IPV4][END_EOF];
	}
	CHECK(eof == 2 * STATS_LISTENERS_MAX);
	CHECK(stats.conns_total == 2 * STATS_LISTENERS_MAX);
}

/* Past the table's end, listeners share its last slot rather than write beyond it. */
static void test_listener_past_the_table_shares_the_last_slot(void)
{
	struct sockaddr_in6 bound = {.sin6_family = AF_INET6, .sin6_port = htons(25)};

	CHECK(stats_listener((struct sockaddr *)&bound) == STATS_LISTENERS_MAX - 1);
	CHECK(stats.nlisteners == STATS_LISTENERS_MAX);
}

/* Every reason has a word of its own: a missing one would label a metric "(null)". */
static void test_every_reason_has_a_word(void)
{
	for (int r = 0; r < END_REASONS; r++) {
		const char *w = end_reason_word((enum end_reason)r);
		CHECK(w != NULL && w[0] != '\0');
		for (int o = 0; w && o < r; o++)
			CHECK(strcmp(w, end_reason_word((enum end_reason)o)) != 0);
	}
	CHECK_STR(end_reason_word(END_OVERLOAD), "overload");
}

/* Open counts down when a connection's memory goes; accepted only counts up. */
static void test_open_and_accepted(void)
{
	stats_conn_open();
	stats_conn_open();
	stats_conn_gone();
	CHECK(stats.open == 1);
	CHECK(stats.accepted == 2);
}

int main(void)
{
	test_every_listener_counted_apart();
	test_listener_past_the_table_shares_the_last_slot();
	test_every_reason_has_a_word();
	test_open_and_accepted();
	return test_done();
}
