/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which labels a restore asks CRIU for.  The new config decides; --lsm-profile and
 * --lsm-mount-context (runc's flags, podman sends them) override it; a host without the LSM gets
 * none and a warning, as podman does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "lsm/lsm.h"

static void warn(struct lsm_decision *d, char *msg)
{
	if (d->n_warnings < LSM_MAX_WARNINGS)
		d->warnings[d->n_warnings++] = msg;
	else
		free(msg);
}

void lsm_decision_clear(struct lsm_decision *d)
{
	free(d->lsm_profile);
	free(d->mount_context);
	for (size_t i = 0; i < d->n_warnings; i++)
		free(d->warnings[i]);
	*d = (struct lsm_decision){ 0 };
}

static int decide_profile(const struct lsm_input *in, const struct lsm_host *h, struct lsm_decision *d,
			  struct stasis_error **err)
{
	const char *type = NULL, *name = NULL;
	char *owned = NULL;
	if (in->profile_override) {
		const char *colon = strchr(in->profile_override, ':');
		if (!colon || !colon[1])
			return error_setx(err, EINVAL,
					  "--lsm-profile `%s`: expected selinux:LABEL or apparmor:PROFILE",
					  in->profile_override);
		owned = xstrndup(in->profile_override, (size_t)(colon - in->profile_override));
		type = owned;
		name = colon + 1;
		if (strcmp(type, "selinux") && strcmp(type, "apparmor")) {
			free(owned);
			return error_setx(err, EINVAL, "--lsm-profile `%s`: the type is selinux or apparmor",
					  in->profile_override);
		}
	} else if (in->selinux_label && in->selinux_label[0]) {
		type = "selinux";
		name = in->selinux_label;
	} else if (in->apparmor_profile && in->apparmor_profile[0]) {
		type = "apparmor";
		name = in->apparmor_profile;
	}
	int r = 0;
	if (!type) {
		/* nothing to set */
	} else if (strcmp(type, "selinux") == 0 && !h->selinux) {
		warn(d, xasprintf("SELinux is not enabled on this host: process label `%s` skipped", name));
	} else if (strcmp(type, "apparmor") == 0 && !h->apparmor) {
		warn(d, xasprintf("AppArmor is not enabled on this host: profile `%s` skipped", name));
	} else if (strcmp(type, "apparmor") == 0 && in->apparmor_loaded && !in->apparmor_loaded(name)) {
		r = error_setx(err, EINVAL,
			       "AppArmor profile `%s` is not loaded on this host: load it, or restore with "
			       "another --lsm-profile",
			       name);
	} else {
		d->lsm_profile = xasprintf("%s:%s", type, name);
	}
	/* a config with both labels: the one not applied is worth a word */
	if (!in->profile_override && in->selinux_label && in->selinux_label[0] && in->apparmor_profile &&
	    in->apparmor_profile[0] && h->apparmor && !h->selinux)
		warn(d,
		     xasprintf(
			     "AppArmor profile `%s` not applied: the config's SELinux label takes precedence",
			     in->apparmor_profile));
	free(owned);
	return r;
}

int lsm_decide(const struct lsm_input *in, const struct lsm_host *host, struct lsm_decision *ret,
	       struct stasis_error **err)
{
	struct lsm_decision d = { 0 };
	int r = decide_profile(in, host, &d, err);
	const char *ctx = in->mount_context_override ? in->mount_context_override : in->mount_label;
	if (r == 0 && ctx && ctx[0]) {
		if (host->selinux)
			d.mount_context = xstrdup(ctx);
		else
			warn(&d, xasprintf("SELinux is not enabled on this host: mount context `%s` skipped",
					   ctx));
	}
	if (r < 0) {
		lsm_decision_clear(&d);
		return r;
	}
	*ret = d;
	return 0;
}
