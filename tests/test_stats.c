/* The counters' tables: every listener a slot of its own, every reason its own word. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "stats.h"
#include "test.h"

/* As many listeners as there can be: every listen entry, and as many passed sockets. */
static void test_every_listener_counted_apart(void)
{
	size_t n = 2 * CONFIG_LISTEN_MAX;
	struct listener *l = calloc(n, sizeof(*l));
	struct sockaddr_in peer = {.sin_family = AF_INET};
	char want[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(l[i].ip, sizeof(l[i].ip), "127.0.%zu.1", i);
		l[i].port = 25;
		stats_conn_end(&l[i], (struct sockaddr *)&peer, 1, "eof", 0, 0);
		stats_conn_end(&l[i], (struct sockaddr *)&peer, 1, "eof", 0, 0);
	}
	CHECK(stats.nlisteners == n);
	for (size_t i = 0; i < n && i < stats.nlisteners; i++) {
		snprintf(want, sizeof(want), "127.0.%zu.1:25", i);
		CHECK_STR(stats.listeners[i].label, want);
		CHECK(stats.listeners[i].conns[STATS_IPV4][1] == 2);
	}
	CHECK(stats_reason_total("eof") == 2 * n);
	free(l);
}

int main(void)
{
	test_every_listener_counted_apart();
	return test_done();
}
