#ifndef NULLMXD_PRIVDROP_H
#define NULLMXD_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

#define PRIVDROP_DEFAULT_USER "nullmxd"
#define PRIVDROP_FALLBACK_USER "nobody"
#define PRIVDROP_NAME_MAX 64

/* Whom a root start turns into once the listeners are bound. */
struct privdrop {
	bool needed;    /* started as root */
	bool keep_root; /* user = "root" in the config: serve as root, warned */
	uid_t uid;
	gid_t gid;
	char user[PRIVDROP_NAME_MAX];
	char group[PRIVDROP_NAME_MAX];
};

/*
 * Resolves user and group (NULL: the defaults). Without root it does nothing and
 * succeeds: a service manager already chose the account. Returns 0, or -1 after logging.
 */
int privdrop_prepare(struct privdrop *p, const char *user, const char *group);

/*
 * Clears supplementary groups, sets real, effective and saved ids, and checks that
 * root cannot be regained; warns when config_path is then unreadable. Returns 0, or -1 after
 * logging: then nullmxd must not serve.
 */
int privdrop_apply(const struct privdrop *p, const char *config_path);

#endif
