/*
 * Giving up root after binding. setresuid() also empties every capability set, so the
 * only privilege kept is what was already done with it: the bound port 25 sockets.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

static int resolve_user(struct privdrop *p, const char *user)
{
	const char *name = user ? user : PRIVDROP_DEFAULT_USER;
	const struct passwd *pw = getpwnam(name);

	if (!pw && !user) {
		name = PRIVDROP_FALLBACK_USER;
		pw = getpwnam(name);
	}
	if (!pw) {
		log_warnx(user ? "user %s: no such account"
			       : "neither the %s nor the " PRIVDROP_FALLBACK_USER
				 " account exists; "
				 "set user in the config",
			  name);
		return -1;
	}
	snprintf(p->user, sizeof(p->user), "%s", name);
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	return 0;
}

static int resolve_group(struct privdrop *p, const char *group)
{
	const struct group *gr = group ? getgrnam(group) : getgrgid(p->gid);

	if (!gr && group) {
		log_warnx("group %s: no such group", group);
		return -1;
	}
	if (gr) {
		snprintf(p->group, sizeof(p->group), "%s", gr->gr_name);
		p->gid = gr->gr_gid;
	} else {
		snprintf(p->group, sizeof(p->group), "%lu", (unsigned long)p->gid);
	}
	return 0;
}

int privdrop_prepare(struct privdrop *p, const char *user, const char *group)
{
	memset(p, 0, sizeof(*p));
	if (geteuid() != 0)
		return 0;
	p->needed = true;
	if (resolve_user(p, user) != 0 || resolve_group(p, group) != 0)
		return -1;
	if (p->uid == 0 && !(user && strcmp(user, "root") == 0)) {
		log_warnx("user %s has uid 0; to serve as root say user = \"root\"", p->user);
		return -1;
	}
	p->keep_root = p->uid == 0;
	return 0;
}

/* The drop holds only if every id is the target and root is out of reach for good. */
static int verify(const struct privdrop *p)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return -1;
	if (ru != p->uid || eu != p->uid || su != p->uid || rg != p->gid || eg != p->gid ||
	    sg != p->gid || getgroups(0, NULL) != 0)
		return -1;
	if (setuid(0) == 0 || seteuid(0) == 0 || (p->gid != 0 && setgid(0) == 0))
		return -1;
	return 0;
}

int privdrop_apply(const struct privdrop *p, const char *config_path)
{
	if (!p->needed)
		return 0;
	if (p->keep_root) {
		log_warnx("serving as root, as the config says (user = \"root\"): a flaw in "
			  "nullmxd would then be a flaw with root's powers");
		return 0;
	}
	if (setgroups(0, NULL) != 0 || setresgid(p->gid, p->gid, p->gid) != 0 ||
	    setresuid(p->uid, p->uid, p->uid) != 0) {
		log_warn("cannot switch to user %s group %s", p->user, p->group);
		return -1;
	}
	if (verify(p) != 0) {
		log_warnx("switched to user %s group %s, but root can still be regained", p->user,
			  p->group);
		return -1;
	}
	log_begin(LOG_INFO, "privdrop");
	log_str("user", p->user);
	log_uint("uid", p->uid);
	log_str("group", p->group);
	log_uint("gid", p->gid);
	log_end();
	if (access(config_path, R_OK) != 0)
		log_warn("%s: user %s cannot read it, so reloads (SIGHUP) will fail", config_path,
			 p->user);
	return 0;
}
