/*
 * The running daemon: its config, its listeners, reload and stop. Listeners stay open
 * across reloads; everything else in the config applies to new connections.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>

#include "build-config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "server.h"

static struct {
	struct config cfg;
	struct listener *listeners;
	char (*texts)[64]; /* each listener's address as the config wrote it */
	size_t nlisteners;
	bool stopping;
} srv;

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
	conn_configure(&set);
}

/*
 * A listener takes the profile of the entry with its address; one whose address left
 * the config (it stays bound until a restart) takes the global settings.
 */
static void assign_profiles(const struct config *cfg)
{
	for (size_t i = 0; i < srv.nlisteners; i++) {
		struct listener *l = &srv.listeners[i];
		struct profile *p = cfg->defaults;
		for (size_t j = 0; j < cfg->nlisten; j++)
			if (strcmp(cfg->listen[j].text, srv.texts[i]) == 0)
				p = cfg->listen[j].profile;
		profile_unref(l->profile);
		l->profile = profile_ref(p);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	if (status == 0)
		conn_accept(server->data);
	else
		log_warnx("accept: %s", uv_strerror(status));
}

int server_start(uv_loop_t *loop, struct config *cfg)
{
	srv.cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	apply(&srv.cfg);
	log_begin(LOG_INFO, "start");
	log_str("version", NULLMXD_VERSION);
	log_str("config", srv.cfg.path);
	log_str("hostname", srv.cfg.hostname);
	log_end();
	srv.listeners = calloc(srv.cfg.nlisten, sizeof(*srv.listeners));
	srv.texts = calloc(srv.cfg.nlisten, sizeof(*srv.texts));
	if (!srv.listeners || !srv.texts)
		return EX_OSERR;
	for (size_t i = 0; i < srv.cfg.nlisten; i++, srv.nlisteners++) {
		int err = listener_open(&srv.listeners[i], loop, &srv.cfg.listen[i], on_connection);
		if (err) {
			log_warnx("cannot listen on %s: %s", srv.cfg.listen[i].text, uv_strerror(err));
			return EX_OSERR;
		}
		memcpy(srv.texts[i], srv.cfg.listen[i].text, sizeof(srv.texts[i]));
	}
	assign_profiles(&srv.cfg);
	return 0;
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
	log_uint("open", conn_count());
	log_end();
	for (size_t i = 0; i < srv.nlisteners; i++)
		listener_close(&srv.listeners[i]);
	conn_stop_all();
}

void server_free(void)
{
	for (size_t i = 0; i < srv.nlisteners; i++)
		profile_unref(srv.listeners[i].profile);
	free(srv.listeners);
	free(srv.texts);
	config_free(&srv.cfg);
	memset(&srv, 0, sizeof(srv));
}
