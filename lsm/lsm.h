/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Labels for a restored container.  lsm_decide() is pure (every combination is unit-tested);
 * the host facts and the relabelling come from libselinux and libapparmor, used nowhere else.
 */
#ifndef STASIS_LSM_H
#define STASIS_LSM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cleanup.h"

struct stasis_error;

struct lsm_host {
	bool selinux;  /* SELinux enabled */
	bool apparmor; /* AppArmor enabled */
	bool selinux_enforcing;
};

struct lsm_input {
	const char *selinux_label;	    /* config.json process.selinuxLabel */
	const char *mount_label;	    /* config.json linux.mountLabel */
	const char *apparmor_profile;	    /* config.json process.apparmorProfile */
	const char *profile_override;	    /* --lsm-profile TYPE:NAME */
	const char *mount_context_override; /* --lsm-mount-context CTX */
	/* whether a named AppArmor profile is loaded; NULL: assume it is */
	bool (*apparmor_loaded)(const char *profile);
};

#define LSM_MAX_WARNINGS 4

struct lsm_decision {
	char *lsm_profile;   /* CRIU lsm_profile ("selinux:..." / "apparmor:..."), or NULL */
	char *mount_context; /* CRIU lsm_mount_context, and the label for rootfs-diff files, or NULL */
	char *warnings[LSM_MAX_WARNINGS];
	size_t n_warnings;
};

/* Fails (-EINVAL) on a malformed override or an AppArmor profile that is not loaded. */
int lsm_decide(const struct lsm_input *in, const struct lsm_host *host, struct lsm_decision *ret,
	       struct stasis_error **err);
void lsm_decision_clear(struct lsm_decision *d);
DEFINE_CLEANUP_CLEAR(struct lsm_decision, lsm_decision_clear)

/* This host's LSMs. */
void lsm_host_detect(struct lsm_host *ret);
/* Whether AppArmor has the profile loaded (libapparmor). */
bool lsm_apparmor_loaded(const char *profile);
/* Relabels the given paths (relative to rootfs, not following symlinks) with the SELinux label. */
int lsm_relabel(const char *rootfs, char *const *paths, size_t n, const char *label,
		struct stasis_error **err);

#endif
