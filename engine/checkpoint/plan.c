/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dump plan: the container's mounts, cgroups and namespaces as CRIU's external resources. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/checkpoint/checkpoint-internal.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "mounts/mounts.h"

static unsigned long ns_inode(pid_t pid, const char *ns)
{
	cleanup_free char *p = xasprintf("/proc/%d/ns/%s", (int)pid, ns);
	struct stat st;
	return stat(p, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static void take_freezer(const char *controllers, const char *dir, void *data)
{
	char **out = data;
	if (!*out && *controllers && mnt_option_has(controllers, "freezer"))
		*out = xstrdup(dir);
}

/* The container's freezer cgroup on the host (cgroup v1), for CRIU's freeze_cgroup. */
static char *find_freezer(pid_t pid)
{
	char *out = NULL;
	(void)runtime_cgroup_dirs(pid, take_freezer, &out);
	return out;
}

static char *resolve_dest(const char *dest, void *data)
{
	return mnt_resolve_in_root(data, dest);
}

int ckpt_plan(struct ckpt *c, struct stasis_error **err)
{
	pid_t pid = c->state->pid;
	/*
	 * The keys of the runtime that can restore the images: a crun container's own crun when it
	 * has C/R (Debian 12's has none), else runc's, which runc, podman with runc and CRI-O take
	 */
	const char *keys =
		c->o.ext_mount_keys ? c->o.ext_mount_keys
		: c->runtime && strcmp(c->runtime, "crun") == 0 && runtime_can_checkpoint(c->ctx, "crun")
			? "crun"
			: "runc";
	if (strcmp(keys, "runc") != 0 && strcmp(keys, "crun") != 0)
		return error_setx(err, EINVAL, "opts.ext_mount_keys `%s`: expected runc or crun", keys);
	int r = mnt_table_load(pid, &c->mountinfo, err);
	if (r < 0)
		return r;
	struct mnt_plan_input in = {
		.config = c->config,
		.mountinfo = &c->mountinfo,
		.netns_ino = ns_inode(pid, "net"),
		.pidns_ino = ns_inode(pid, "pid"),
		.resolve = resolve_dest,
		.resolve_data = c->state->rootfs,
		/* so that the container's own runtime (or the one asked for) can restore the images */
		.masked_keys_by_path = strcmp(keys, "crun") == 0,
	};
	r = mnt_plan_dump(&in, &c->plan, err);
	if (r < 0)
		return r;
	if (c->plan.n_unexplained) {
		cleanup_free char *list = xstrdup("");
		for (size_t i = 0; i < c->plan.n_unexplained; i++) {
			char *l = xasprintf("%s%s`%s`", list, i ? ", " : "", c->plan.unexplained[i]);
			free(list);
			list = l;
		}
		return error_setx(
			err, EINVAL,
			"mounted in the container but not in config.json: %s; CRIU cannot dump such "
			"mounts (\"doesn't have a proper root mount\"): unmount them or declare them "
			"as bind mounts",
			list);
	}
	c->freezer = find_freezer(pid);
	/* check what the archive needs before anything is frozen: after the dump it is too late */
	if (c->o.export_path && !c->o.ignore_rootfs && c->plan.upperdir) {
		struct stat st;
		if (c->plan.upperdir[0] != '/' || stat(c->plan.upperdir, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_setx(
				err, ENOENT,
				"the rootfs overlay's upper dir `%s` (from mountinfo) is not an absolute "
				"path to a directory: cannot compute the rootfs diff (set "
				"opts.ignore_rootfs)",
				c->plan.upperdir);
	}
	if (c->o.export_path && !c->o.ignore_rootfs && !c->plan.upperdir && c->o.rootfs_base) {
		struct stat st;
		if (stat(c->o.rootfs_base, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_setx(err, ENOENT, "opts.rootfs_base `%s` is not a directory",
					  c->o.rootfs_base);
	}
	return 0;
}
