#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "config_print.h"
#include "conn.h"
#include "log.h"
#include "notify.h"
#include "privdrop.h"
#include "server.h"

static const char usage_text[] =
	"usage: nullmxd [-c FILE] [-t] [-V] [-h]\n"
	"       nullmxd check-dns [--resolver ADDR[:PORT]] [--json] [--rcpt-mode] NAME...\n"
	"\n"
	"Answers every SMTP connection with 521 (RFC 7504) and logs each client.\n"
	"\n"
	"  -c, --config FILE    config file (default " NULLMXD_CONFIG ")\n"
	"  -t, --check-config   check the config, print the effective settings, exit\n"
	"  -V, --version        print the version and exit\n"
	"  -h, --help           print this help and exit\n";

static uv_signal_t signals[3];

/*
 * SIGHUP and SIGUSR1 end a process that has no handler for them, and loading the config
 * can take seconds (the hostname's lookup): they are held from the first line of main
 * until the loop's handlers are in place, then taken as if they had just come.
 */
static sigset_t held, inherited;

static void hold_signals(void)
{
	sigemptyset(&held);
	sigaddset(&held, SIGHUP);
	sigaddset(&held, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &held, &inherited);
}

/*
 * Started with 0, 1 or 2 closed (`2>&-`), the first descriptor opened would take its
 * number: log lines meant for stderr would go to the epoll descriptor or a client's
 * socket. /dev/null holds each closed one, before anything else opens a descriptor.
 */
static void hold_std_descriptors(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
			_exit(EX_OSERR);
}

/* Connections cost one descriptor each: take all the system lets us have. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	if (signum == SIGHUP) {
		notify_reloading();
		server_reload();
		notify_ready();
	} else {
		notify_stopping();
		server_stop(signum == SIGINT ? "INT" : "TERM");
		notify_status_now();
	}
}

/* Signal handles do not keep the loop alive: it ends when listeners and connections do. */
static int watch_signals(uv_loop_t *loop)
{
	static const int nums[] = {SIGTERM, SIGINT, SIGHUP};

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		int err = uv_signal_init(loop, &signals[i]);
		if (err || (err = uv_signal_start(&signals[i], on_signal, nums[i])) != 0)
			return err;
		uv_unref((uv_handle_t *)&signals[i]);
	}
	return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Binds as whoever started us, then serves as the configured unprivileged user. */
static int start(uv_loop_t *loop, struct config *cfg)
{
	const char *path = cfg->path; /* the server owns cfg from here on, path included */
	struct privdrop drop;
	int rc;

	if (privdrop_prepare(&drop, cfg->user, cfg->group) != 0)
		return EX_NOUSER;
	rc = server_start(loop, cfg);
	/* Connected while still privileged: the socket may belong to root. */
	if (rc == 0)
		notify_init();
	if (rc == 0 && privdrop_apply(&drop, path) != 0)
		rc = EX_NOPERM;
	if (rc == 0 && (rc = notify_attach(loop, server_describe)) != 0)
		rc = EX_OSERR;
	if (rc == 0)
		notify_ready();
	return rc;
}

static int run(struct config *cfg)
{
	uv_loop_t *loop = uv_default_loop();
	sigset_t late = held;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	sigaddset(&late, SIGTERM);
	sigaddset(&late, SIGINT);
	if (log_attach(loop) != 0 || conn_init(loop) != 0 || watch_signals(loop) != 0)
		fatalx(EX_OSERR, "cannot set up the event loop");
	rc = start(loop, cfg);
	if (rc == 0) {
		/* The loop's handlers (here and in stats.c) take them now, and any that waited. */
		pthread_sigmask(SIG_UNBLOCK, &held, NULL);
		uv_run(loop, UV_RUN_DEFAULT);
	}
	log_begin(rc == 0 ? LOG_INFO : LOG_ERR, "exit");
	log_uint("status", (uint64_t)rc);
	log_end();
	log_stop();
	notify_close();
	/* Closing the signal handles restores the default actions, which end the process:
	 * a late signal must not turn a clean exit into a kill. Blocked, it waits unseen. */
	pthread_sigmask(SIG_BLOCK, &late, NULL);
	uv_walk(loop, close_handle, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	server_free();
	return rc;
}

/*
 * check-dns is a program of its own (nullmxd-check-dns) beside this one, so that the
 * daemon never loads ldns: the build tree and an installed tree both keep them together.
 */
static int exec_check_dns(char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	pthread_sigmask(SIG_SETMASK, &inherited, NULL); /* a new program starts as we did */
	if (n > 0) {
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/nullmxd-check-dns", dirname(self));
		execv(path, argv);
	}
	execv(NULLMXD_SBINDIR "/nullmxd-check-dns", argv);
	fprintf(stderr, "nullmxd: cannot run nullmxd-check-dns: %s\n", strerror(errno));
	return EX_UNAVAILABLE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 't'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULLMXD_CONFIG;
	struct config cfg;
	int check = 0, opt;

	hold_std_descriptors();
	hold_signals();
	if (argc > 1 && strcmp(argv[1], "check-dns") == 0)
		return exec_check_dns(argv + 1);
	while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': check = 1; break;
		case 'V': printf("nullmxd %s\n", NULLMXD_VERSION); return 0;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	raise_nofile();
	if (config_load(&cfg, path, stderr) != 0)
		return EX_CONFIG;
	if (check) {
		config_print(&cfg, stdout);
		config_free(&cfg);
		return 0;
	}
	return run(&cfg);
}
