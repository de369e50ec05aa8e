/*
 * The running daemon: its config, its listeners, reload and stop. Listeners stay open
 * across reloads; everything else in the config applies to new connections.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>

#include "activation.h"
#include "build-config.h"
#include "conn.h"
#include "guard.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "stats.h"

static struct {
	struct config cfg;
	struct listener *listeners;
	size_t nlisteners;
	bool stopping;
} srv;

_Static_assert(STATS_LISTENERS_MAX >= 2 * CONFIG_LISTEN_MAX, "a stats slot for every listener");

/* Each connection holds one descriptor; the reserve covers listeners, logs and libuv. */
static size_t connection_cap(const struct config *cfg)
{
	struct rlimit rl;
	size_t limit = 1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > CONFIG_FD_RESERVE + 1)
		limit = rl.rlim_cur == RLIM_INFINITY ? CONFIG_MAX_CONNECTIONS_MAX
						     : (size_t)rl.rlim_cur - CONFIG_FD_RESERVE;
	if (cfg->max_connections == 0)
		return limit;
	if (cfg->max_connections > limit) {
		log_warnx("max_connections %lu is more than the open-file limit allows; using %zu",
			  cfg->max_connections, limit);
		return limit;
	}
	return cfg->max_connections;
}

static void apply(const struct config *cfg)
{
	struct conn_settings set;

	log_configure(&cfg->log);
	set.max_connections = connection_cap(cfg);
	set.log_rejects = cfg->log_rejects;
	conn_configure(&set);
	if (guard_configure(&cfg->guard) != 0 || anon_configure(&cfg->anon) != 0)
		log_warnx("out of memory for the client table: per-client limits are off");
	metrics_configure(&cfg->metrics);
}

/*
 * A listener takes the profile of the entry with its address. One whose entry left
 * the config stays bound until a restart and keeps what it had: taking the global
 * settings could drop its PROXY header and serve a balancer's headers as input. A
 * passed socket that no entry claims follows the global settings.
 */
static void assign_profiles(const struct config *cfg)
{
	for (size_t i = 0; i < srv.nlisteners; i++) {
		struct listener *l = &srv.listeners[i];
		struct profile *p = l->text[0] && l->profile ? l->profile : cfg->defaults;
		for (size_t j = 0; j < cfg->nlisten; j++)
			if (strcmp(cfg->listen[j].text, l->text) == 0)
				p = cfg->listen[j].profile;
		profile_ref(p);
		profile_unref(l->profile);
		l->profile = p;
	}
}

/* Socket-activated, the socket units decide the addresses: an entry without a socket is skipped. */
static int open_listener(uv_loop_t *loop, const struct listen_addr *a)
{
	struct listener *l = &srv.listeners[srv.nlisteners];
	struct activated *passed = NULL;
	int err;

	if (activation_active() && !(passed = activation_take(&a->addr))) {
		log_warnx("listen %s: the service manager passed no socket for it; not listening "
			  "there",
			  a->text);
		return 0;
	}
	err = passed ? listener_adopt(l, loop, passed->fd, passed->name, conn_start)
		     : listener_open(l, loop, a, conn_start);
	if (err) {
		log_warnx("cannot listen on %s: %s", a->text, uv_strerror(err));
		return EX_OSERR;
	}
	snprintf(l->text, sizeof(l->text), "%s", a->text);
	srv.nlisteners++;
	return 0;
}

/*
 * A passed socket no entry claims still gets clients: answer them rather than let them
 * hang. With no address text of its own it takes the global settings (assign_profiles).
 */
static int adopt_unclaimed(uv_loop_t *loop)
{
	struct activated *a;

	while ((a = activation_next_untaken()) != NULL) {
		struct listener *l = &srv.listeners[srv.nlisteners];
		char ip[INET6_ADDRSTRLEN];
		unsigned port;
		int err;

		addr_text(&a->addr.sa, ip, sizeof(ip), &port);
		log_warnx("socket activation: %s port %u (%s) matches no listen entry in %s; "
			  "serving it with the global settings",
			  ip, port, a->name, srv.cfg.path);
		if ((err = listener_adopt(l, loop, a->fd, a->name, conn_start)) != 0) {
			log_warnx("cannot listen on passed fd %d: %s", a->fd, uv_strerror(err));
			return EX_OSERR;
		}
		srv.nlisteners++;
	}
	return 0;
}

int server_start(uv_loop_t *loop, struct config *cfg)
{
	int npassed, rc = 0;
	size_t n;

	srv.cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (stats_init(loop) != 0 || guard_init(loop) != 0 || metrics_init(loop) != 0)
		return EX_OSERR;
	apply(&srv.cfg);
	log_begin(LOG_INFO, "start");
	log_str("version", NULLMXD_VERSION);
	log_str("config", srv.cfg.path);
	log_str("hostname", srv.cfg.hostname);
	log_end();
	npassed = activation_init();
	n = srv.cfg.nlisten + (npassed > 0 ? (size_t)npassed : 0);
	srv.listeners = calloc(n, sizeof(*srv.listeners));
	if (npassed < 0 || !srv.listeners)
		rc = EX_OSERR;
	for (size_t i = 0; rc == 0 && i < srv.cfg.nlisten; i++)
		rc = open_listener(loop, &srv.cfg.listen[i]);
	if (rc == 0)
		rc = adopt_unclaimed(loop);
	activation_done();
	assign_profiles(&srv.cfg);
	return rc;
}

void server_describe(char *buf, size_t len)
{
	snprintf(buf, len, "%s%zu open, %llu accepted, %zu listener%s",
		 srv.stopping ? "stopping: " : "", stats.open, (unsigned long long)stats.accepted,
		 srv.nlisteners, srv.nlisteners == 1 ? "" : "s");
}

/* Every line the loader wrote, one log line each. */
static void log_diagnostics(char *text)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		log_warnx("%s", line);
}

void server_reload(void)
{
	struct config next;
	char *diag = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (srv.stopping)
		return;
	f = open_memstream(&diag, &len);
	rc = f ? config_load(&next, srv.cfg.path, f) : -1;
	if (f)
		fclose(f);
	if (diag)
		log_diagnostics(diag);
	free(diag);
	log_begin(rc == 0 ? LOG_INFO : LOG_ERR, "reload");
	log_str("config", srv.cfg.path);
	log_str("status", rc == 0 ? "ok" : "refused");
	log_end();
	stats_reload(rc == 0);
	if (rc != 0)
		return;
	if (!config_listen_equal(&srv.cfg, &next))
		log_warnx("listen changed in %s: restart nullmxd to bind or unbind addresses; "
			  "the rest applies now",
			  srv.cfg.path);
	config_free(&srv.cfg);
	srv.cfg = next;
	apply(&srv.cfg);
	assign_profiles(&srv.cfg);
}

void server_stop(const char *signal_name)
{
	if (srv.stopping)
		return;
	srv.stopping = true;
	log_begin(LOG_INFO, "shutdown");
	log_str("signal", signal_name);
	log_uint("open", stats.open);
	log_end();
	for (size_t i = 0; i < srv.nlisteners; i++)
		listener_close(&srv.listeners[i]);
	guard_stop(); /* pending summaries, then every line */
	metrics_stop();
	conn_stop_all();
}

void server_free(void)
{
	for (size_t i = 0; i < srv.nlisteners; i++)
		profile_unref(srv.listeners[i].profile);
	free(srv.listeners);
	config_free(&srv.cfg);
	memset(&srv, 0, sizeof(srv));
}
