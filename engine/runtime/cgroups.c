/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroups stasis makes for a container it restores without a runtime: their tasks, and their
 * removal; and any process' cgroups on the host, which a lazy restore's helpers join.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "mounts/mounts.h"

/*
 * Calls fn with each directory the cgroups of container id may have: STASIS_CGROUP_PARENT/id in
 * the unified hierarchy mounted at the root (cgroup v2) and in every hierarchy below it (the v1
 * controllers, and a unified one beside them).
 */
static void for_each_cgroup(const char *id, void (*fn)(const char *dir, void *data), void *data)
{
	cleanup_free char *unified = xasprintf(STASIS_CGROUP_ROOT STASIS_CGROUP_PARENT "/%s", id);
	fn(unified, data);
	cleanup_closedir DIR *d = opendir(STASIS_CGROUP_ROOT);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		cleanup_free char *cg =
			xasprintf(STASIS_CGROUP_ROOT "/%s" STASIS_CGROUP_PARENT "/%s", de->d_name, id);
		fn(cg, data);
	}
}

struct pid_list {
	pid_t *v;
	size_t n;
};

static void read_pids(const char *dir, void *data)
{
	struct pid_list *l = data;
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	(void)cgroup_procs_read(procs, &l->v, &l->n);
}

int runtime_cgroup_pids(const char *id, pid_t **ret, size_t *ret_n)
{
	struct pid_list l = { 0 };
	for_each_cgroup(id, read_pids, &l);
	*ret = l.v;
	*ret_n = l.n;
	return (int)l.n;
}

/*
 * Rounds of listing and killing: a task may join after the list was read (a lazy restore's helpers
 * join the container's cgroups just after the restore returned), and would keep the cgroup
 */
#define CGROUP_KILL_ROUNDS 4

int runtime_cgroup_kill(const char *id, int timeout_ms)
{
	int r = 0;
	for (int round = 0; round < CGROUP_KILL_ROUNDS && r == 0; round++) {
		cleanup_free pid_t *pids = NULL;
		size_t n = 0;
		runtime_cgroup_pids(id, &pids, &n);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		for (size_t i = 0; i < n && r == 0; i++)
			if (pid_wait_exit(pids[i], timeout_ms) < 0)
				r = -(int)pids[i];
	}
	/* empty now: the directories go, in every hierarchy */
	runtime_remove_cgroups(id);
	return r;
}

static void remove_dir(const char *dir, void *data)
{
	(void)data;
	(void)rmdir(dir);
}

void runtime_remove_cgroups(const char *id)
{
	/* an empty cgroup goes; one with tasks stays (rmdir refuses it) */
	for_each_cgroup(id, remove_dir, NULL);
}

/* /proc/PID/cgroup has a line a hierarchy: a few KiB; more is not the kernel's file */
#define PROC_CGROUP_MAX (1u << 20)

/* whether every item of a v1 hierarchy's list (cpu,cpuacct; name=systemd) is among a mount's options */
static bool hierarchy_mounted_as(const char *controllers, const char *super_opts)
{
	cleanup_free char *copy = xstrdup(controllers);
	char *save = NULL;
	for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save))
		if (!mnt_option_has(super_opts, c))
			return false;
	return true;
}

/* where this mount namespace has the cgroup PATH of a hierarchy (controllers "": the unified one) */
static char *hierarchy_dir(const struct mnt_table *t, const char *controllers, const char *path)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct mnt_info *m = &t->e[i];
		bool v2 = !*controllers;
		if (strcmp(m->fstype, v2 ? "cgroup2" : "cgroup") != 0 ||
		    (!v2 && !hierarchy_mounted_as(controllers, m->super_opts)))
			continue;
		/* a mount of a part of the hierarchy (its root below /) holds only what is below it */
		size_t root_len = strcmp(m->root, "/") == 0 ? 0 : strlen(m->root);
		if (root_len &&
		    (strncmp(path, m->root, root_len) || (path[root_len] && path[root_len] != '/')))
			continue;
		return xasprintf("%s%s", m->mountpoint, path + root_len);
	}
	return NULL;
}

void runtime_cgroup_dirs_in(char *proc_cgroup, const struct mnt_table *t, runtime_cgroup_dir_fn fn,
			    void *data)
{
	char *save = NULL;
	for (char *line = strtok_r(proc_cgroup, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* ID:CONTROLLERS:PATH, the path relative to our cgroup namespace's root */
		char *controllers = strchr(line, ':');
		char *path = controllers ? strchr(controllers + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		controllers++;
		/* a hierarchy's root holds every process not put elsewhere: no container's own */
		if (path[0] != '/' || !path[1])
			continue;
		cleanup_free char *dir = hierarchy_dir(t, controllers, path);
		if (dir)
			fn(controllers, dir, data);
	}
}

int runtime_cgroup_dirs(pid_t pid, runtime_cgroup_dir_fn fn, void *data)
{
	cleanup_free char *cg_path = xasprintf("/proc/%d/cgroup", (int)pid);
	cleanup_free char *text = NULL;
	cleanup_with(mnt_table_clear) struct mnt_table t = { 0 };
	int r = read_file_capped(cg_path, PROC_CGROUP_MAX, &text, NULL, NULL);
	if (r < 0 || (r = mnt_table_load(0, &t, NULL)) < 0)
		return r;
	runtime_cgroup_dirs_in(text, &t, fn, data);
	return 0;
}

/* moves who into dir: 0 or -errno */
static int move_to(const char *dir, pid_t who)
{
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	cleanup_free char *text = xasprintf("%d", (int)who);
	cleanup_close int fd = open(procs, O_WRONLY | O_CLOEXEC);
	return fd < 0 || write(fd, text, strlen(text)) < 0 ? -errno : 0;
}

struct cgroup_list {
	const char *skip;
	char **dirs;
	size_t n;
	int error;
};

static void list_dir(const char *controllers, const char *dir, void *data)
{
	struct cgroup_list *l = data;
	if (l->skip && *controllers && mnt_option_has(controllers, l->skip))
		return;
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	/* a hierarchy mounted read-only here, say: known before anyone moves */
	if (access(procs, W_OK) < 0 && !l->error)
		l->error = -errno;
	strv_push(&l->dirs, &l->n, xstrdup(dir));
}

int runtime_cgroup_list(pid_t of, const char *skip_controller, char ***ret)
{
	struct cgroup_list l = { skip_controller, xzalloc(sizeof(char *)), 0, 0 };
	int r = runtime_cgroup_dirs(of, list_dir, &l);
	if (r < 0 || (r = l.error) < 0) {
		strv_freep(&l.dirs);
		return r;
	}
	*ret = l.dirs;
	return 0;
}

int runtime_cgroup_move(char *const *dirs, pid_t who)
{
	int first = 0;
	for (size_t i = 0; dirs[i]; i++) {
		int r = move_to(dirs[i], who);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

void runtime_cgroup_leave(pid_t who)
{
	cleanup_with(mnt_table_clear) struct mnt_table t = { 0 };
	if (mnt_table_load(0, &t, NULL) < 0)
		return;
	for (size_t i = 0; i < t.n; i++)
		if ((strcmp(t.e[i].fstype, "cgroup") == 0 || strcmp(t.e[i].fstype, "cgroup2") == 0) &&
		    strcmp(t.e[i].root, "/") == 0)
			(void)move_to(t.e[i].mountpoint, who);
}
