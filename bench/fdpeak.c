/*
 * fdpeak: how many descriptors a process holds, sampled every -i ms for -d
 * seconds (or until SIGTERM). A server's open descriptors are its open
 * connections plus a few, so this shows how many it keeps alive under load,
 * which memory and the connection cap depend on. Prints max, p99 and p50.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 100000

static volatile sig_atomic_t stop_flag;
static unsigned samples[MAX_SAMPLES];

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int count_fds(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	char dir[64];
	long interval_ms = 2;
	double secs = 10;
	size_t n = 0;
	int c;

	while ((c = getopt(argc, argv, "i:d:")) != -1) {
		if (c == 'i')
			interval_ms = strtol(optarg, NULL, 10);
		else if (c == 'd')
			secs = strtod(optarg, NULL);
		else
			return 2;
	}
	if (optind != argc - 1 || interval_ms <= 0 || secs <= 0) {
		fprintf(stderr, "usage: fdpeak [-i MS] [-d SECONDS] PID\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/proc/%s/fd", argv[optind]);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (double end = now_sec() + secs; now_sec() < end && n < MAX_SAMPLES && !stop_flag;) {
		struct timespec ts = {.tv_nsec = interval_ms % 1000 * 1000000,
				      .tv_sec = interval_ms / 1000};
		int k = count_fds(dir);

		if (k < 0)
			break;
		samples[n++] = (unsigned)k;
		nanosleep(&ts, NULL);
	}
	qsort(samples, n, sizeof(samples[0]), cmp_unsigned);
	if (n == 0)
		printf("samples=0 fds_max=0 fds_p99=0 fds_p50=0\n");
	else
		printf("samples=%zu fds_max=%u fds_p99=%u fds_p50=%u\n", n, samples[n - 1],
		       samples[n * 99 / 100], samples[n / 2]);
	return 0;
}
