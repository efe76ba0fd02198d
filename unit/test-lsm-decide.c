/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every combination of config labels, overrides and host LSMs for a restore. */
#include "unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "lsm/lsm.h"

static const struct lsm_host none = { .selinux = false }, selinux = { .selinux = true },
			     apparmor = { .apparmor = true };

static bool loaded(const char *p)
{
	return strcmp(p, "loaded-profile") == 0;
}

static struct lsm_decision decide(const struct lsm_input *in, const struct lsm_host *h, int want)
{
	struct lsm_decision d = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(lsm_decide(in, h, &d, &err), want);
	stasis_error_free(err);
	return d;
}

static void str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void table(void **state)
{
	(void)state;
	static const struct {
		const char *se, *mount, *aa, *po, *mo;
		const struct lsm_host *host;
		int ret;
		const char *profile, *ctx;
		size_t warnings;
	} cases[] = {
		/* nothing asked, any host: nothing set, nothing said */
		{ NULL, NULL, NULL, NULL, NULL, &none, 0, NULL, NULL, 0 },
		{ NULL, NULL, NULL, NULL, NULL, &selinux, 0, NULL, NULL, 0 },
		{ NULL, NULL, NULL, NULL, NULL, &apparmor, 0, NULL, NULL, 0 },
		/* SELinux labels from the config */
		{ "system_u:system_r:container_t:s0:c1,c2", "system_u:object_r:container_file_t:s0:c1,c2",
		  NULL, NULL, NULL, &selinux, 0, "selinux:system_u:system_r:container_t:s0:c1,c2",
		  "system_u:object_r:container_file_t:s0:c1,c2", 0 },
		{ "system_u:system_r:container_t:s0", "system_u:object_r:container_file_t:s0", NULL, NULL,
		  NULL, &none, 0, NULL, NULL, 2 },
		{ "system_u:system_r:container_t:s0", NULL, NULL, NULL, NULL, &apparmor, 0, NULL, NULL, 1 },
		/* overrides win over the config */
		{ "a_t", "m_t", NULL, "selinux:b_t", "n_t", &selinux, 0, "selinux:b_t", "n_t", 0 },
		{ NULL, NULL, NULL, NULL, "n_t", &none, 0, NULL, NULL, 1 },
		/* AppArmor */
		{ NULL, NULL, "loaded-profile", NULL, NULL, &apparmor, 0, "apparmor:loaded-profile", NULL,
		  0 },
		{ NULL, NULL, "missing-profile", NULL, NULL, &apparmor, -EINVAL, NULL, NULL, 0 },
		{ NULL, NULL, "loaded-profile", NULL, NULL, &none, 0, NULL, NULL, 1 },
		{ NULL, NULL, NULL, "apparmor:loaded-profile", NULL, &apparmor, 0, "apparmor:loaded-profile",
		  NULL, 0 },
		{ NULL, NULL, NULL, "apparmor:loaded-profile", NULL, &selinux, 0, NULL, NULL, 1 },
		/* both in the config: SELinux takes precedence, AppArmor's host says so */
		{ "a_t", NULL, "loaded-profile", NULL, NULL, &selinux, 0, "selinux:a_t", NULL, 0 },
		{ "a_t", NULL, "loaded-profile", NULL, NULL, &apparmor, 0, NULL, NULL, 2 },
		/* malformed overrides */
		{ NULL, NULL, NULL, "selinux", NULL, &selinux, -EINVAL, NULL, NULL, 0 },
		{ NULL, NULL, NULL, "smack:x", NULL, &selinux, -EINVAL, NULL, NULL, 0 },
		{ NULL, NULL, NULL, "selinux:", NULL, &selinux, -EINVAL, NULL, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lsm_input in = {
			.selinux_label = cases[i].se,
			.mount_label = cases[i].mount,
			.apparmor_profile = cases[i].aa,
			.profile_override = cases[i].po,
			.mount_context_override = cases[i].mo,
			.apparmor_loaded = loaded,
		};
		struct lsm_decision d = decide(&in, cases[i].host, cases[i].ret);
		str_or_null(d.lsm_profile, cases[i].profile);
		str_or_null(d.mount_context, cases[i].ctx);
		assert_int_equal(d.n_warnings, cases[i].warnings);
		lsm_decision_clear(&d);
	}
}

static void warning_names_the_label(void **state)
{
	(void)state;
	struct lsm_input in = { .selinux_label = "container_t", .mount_label = "container_file_t" };
	struct lsm_decision d = decide(&in, &none, 0);
	assert_int_equal(d.n_warnings, 2);
	assert_non_null(strstr(d.warnings[0], "SELinux is not enabled"));
	assert_non_null(strstr(d.warnings[0], "container_t"));
	assert_non_null(strstr(d.warnings[1], "container_file_t"));
	lsm_decision_clear(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(warning_names_the_label),
	};
	return cmocka_run_group_tests_name("lsm-decide", tests, NULL, NULL);
}
