/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cgroups stasis makes for a container it restores without a runtime: their tasks, and their removal. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"

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

int runtime_cgroup_kill(const char *id, int timeout_ms)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	runtime_cgroup_pids(id, &pids, &n);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		if (pid_wait_exit(pids[i], timeout_ms) < 0)
			r = -(int)pids[i];
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
