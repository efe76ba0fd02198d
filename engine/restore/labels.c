/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which SELinux/AppArmor labels the restored container gets (lsm/ decides), and relabelling what
 * the rootfs diff wrote. */
#include "common/error.h"
#include "engine/restore/restore-internal.h"
#include "lsm/lsm.h"

int restore_decide_labels(struct restore_ctx *r, struct lsm_decision *d, struct stasis_error **err)
{
	struct lsm_host host;
	lsm_host_detect(&host);
	struct lsm_input in = {
		.selinux_label = r->config->selinux_label,
		.mount_label = r->config->mount_label,
		.apparmor_profile = r->config->apparmor_profile,
		.profile_override = r->o.lsm_profile,
		.mount_context_override = r->o.lsm_mount_context,
		.apparmor_loaded = lsm_apparmor_loaded,
	};
	int ret = lsm_decide(&in, &host, d, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < d->n_warnings; i++)
		restore_warn(r, "%s", d->warnings[i]);
	if (d->mount_context && r->n_diff_paths)
		ret = lsm_relabel(r->rootfs, r->diff_paths, r->n_diff_paths, d->mount_context, err);
	return ret;
}
