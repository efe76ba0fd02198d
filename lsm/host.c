/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host side of labelling: libselinux and libapparmor, confined to this file. */
#include <errno.h>
#include <fcntl.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/apparmor.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "lsm/lsm.h"

void lsm_host_detect(struct lsm_host *ret)
{
	ret->selinux = is_selinux_enabled() > 0;
	ret->apparmor = aa_is_enabled() == 1;
	ret->selinux_enforcing = ret->selinux && security_getenforce() == 1;
}

bool lsm_apparmor_loaded(const char *profile)
{
	char *mnt = NULL;
	if (aa_find_mountpoint(&mnt) < 0)
		return false;
	cleanup_free char *path = xasprintf("%s/profiles", mnt);
	free(mnt);
	cleanup_fclose FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[4096];
	size_t l = strlen(profile);
	while (fgets(line, sizeof(line), f))
		/* "name (mode)" */
		if (strncmp(line, profile, l) == 0 && line[l] == ' ')
			return true;
	return false;
}

int lsm_relabel(const char *rootfs, char *const *paths, size_t n, const char *label,
		struct stasis_error **err)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = xasprintf("%s/%s", rootfs, paths[i]);
		if (lsetfilecon(p, label) < 0 && errno != ENOENT)
			return error_set(err, errno, "relabel `%s` to `%s`", paths[i], label);
	}
	return 0;
}
