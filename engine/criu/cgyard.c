/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRIU's cgroup yard, kept for the boot (criu-internal.h says why).  CRIU names a hierarchy's
 * directory in a yard after its controllers as /proc/PID/cgroup lists them, comma-separated, a
 * named one without its "name=" and the unified one "unified", and mounts it with those names as
 * its options, "none" first for a named one (cgroup.c: ctrl_dir_and_opt; a dump opens the same
 * names).  A restore mounts what the yard lacks itself; a dump fails on it: so the yard is checked
 * whole against this host's hierarchies before each CRIU run, and not given to CRIU otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"

/* one stasis at a time completes the yard; CRIU adds nothing to a whole one */
#define CGYARD_LOCK STASIS_STATE_ROOT "/@cgyard.lock"
/* a named hierarchy's prefix in /proc/PID/cgroup */
#define CGROUP_NAME_PREFIX "name="

/* dir is the root of a hierarchy mounted there: a cgroup (v2: cgroup2) file system of its own */
static bool mounted_hierarchy(const char *dir, dev_t yard_dev, bool v2)
{
	struct statfs fs;
	struct stat st;
	return statfs(dir, &fs) == 0 && fs.f_type == (v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC) &&
	       stat(dir, &st) == 0 && st.st_dev != yard_dev;
}

/*
 * A hierarchy's controllers as /proc/PID/cgroup lists them ("cpu,cpuacct", "name=systemd", "" for
 * the unified one): the directory CRIU looks for and the options to mount it with.
 */
static void yard_names(const char *controllers, char **ret_dir, char **ret_opts)
{
	if (!*controllers) {
		*ret_dir = xstrdup("unified");
		*ret_opts = xstrdup("");
		return;
	}
	cleanup_free char *copy = xstrdup(controllers);
	char dir[PATH_MAX] = "";
	size_t len = 0;
	bool named = false;
	for (char *save = NULL, *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (strncmp(name, CGROUP_NAME_PREFIX, strlen(CGROUP_NAME_PREFIX)) == 0) {
			name += strlen(CGROUP_NAME_PREFIX);
			named = true;
		}
		len += (size_t)snprintf(dir + len, sizeof(dir) - len, "%s%s", len ? "," : "", name);
		if (len >= sizeof(dir))
			break;
	}
	*ret_dir = xstrdup(dir);
	*ret_opts = xasprintf("%s%s", named ? "none," : "", controllers);
}

/*
 * every hierarchy of /proc/self/cgroup mounted in the yard (mounted now when missing): how many
 * there are, or -errno
 */
static int complete_yard(dev_t yard_dev)
{
	cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int n = 0;
	while (getline(&line, &cap, f) > 0) {
		/* ID:CONTROLLERS:PATH */
		char *first = strchr(line, ':');
		char *second = first ? strchr(first + 1, ':') : NULL;
		if (!second)
			return -EBADMSG;
		*second = '\0';
		const char *controllers = first + 1;
		bool v2 = !*controllers;
		cleanup_free char *name = NULL, *opts = NULL;
		yard_names(controllers, &name, &opts);
		cleanup_free char *dir = xasprintf("%s/%s", STASIS_CGYARD_DIR, name);
		n++;
		if (mounted_hierarchy(dir, yard_dev, v2))
			continue;
		/* a directory left without its mount (a CRIU killed between the two) is mounted over */
		if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
		    mount("none", dir, v2 ? "cgroup2" : "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
			return -errno;
	}
	return n ? n : -ENOENT;
}

const char *cr_cgroup_yard(struct stasis_ctx *ctx)
{
	if (!cr_boot_tmpfs(STASIS_CGYARD_DIR, "stasis-cgyard", true)) {
		ctx_log(ctx, STASIS_LOG_DEBUG, "cgroup yard: `%s` is not ours alone: CRIU mounts its own",
			STASIS_CGYARD_DIR);
		return NULL;
	}
	cleanup_close int lock = open(CGYARD_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat yard;
	int r = lock < 0 ? -errno : flock(lock, LOCK_EX) < 0 ? -errno : 0;
	if (r == 0)
		r = stat(STASIS_CGYARD_DIR, &yard) < 0 ? -errno : complete_yard(yard.st_dev);
	if (r < 0) {
		ctx_log(ctx, STASIS_LOG_DEBUG, "cgroup yard `%s`: %s: CRIU mounts its own", STASIS_CGYARD_DIR,
			strerror(-r));
		return NULL;
	}
	ctx_log(ctx, STASIS_LOG_DEBUG, "cgroup yard `%s`: %d hierarchies", STASIS_CGYARD_DIR, r);
	return STASIS_CGYARD_DIR;
}
