/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cgroups stasis makes for a container it restores without a runtime, and their removal. */
#include <dirent.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "engine/runtime/runtime-internal.h"

void runtime_remove_cgroups(const char *id)
{
	/* the unified hierarchy mounted at the root (cgroup v2 only) */
	cleanup_free char *unified = xasprintf(STASIS_CGROUP_ROOT STASIS_CGROUP_PARENT "/%s", id);
	(void)rmdir(unified);
	/* one directory a hierarchy (cgroup v1 controllers, and the unified one); empty ones go */
	cleanup_closedir DIR *d = opendir(STASIS_CGROUP_ROOT);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		cleanup_free char *cg =
			xasprintf(STASIS_CGROUP_ROOT "/%s" STASIS_CGROUP_PARENT "/%s", de->d_name, id);
		(void)rmdir(cg);
	}
}
