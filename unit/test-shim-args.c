/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engines' command lines as stasis-runc and stasis-crun read them (runtime-hooks/shim-args.c):
 * the argv podman, conmon and containerd's shim were seen to pass (docs/design/runtime-shim.md),
 * stasis' own flags kept from the delegate, go's one-dash flags, and runtime.conf.
 */
#include "unit/unit.h"

#include <errno.h>

#include "common/cleanup.h"
#include "runtime-hooks/shim-args.h"

/* the delegate's argv, joined with spaces */
static char *joined(const char *const *v)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	for (size_t i = 0; v[i]; i++)
		fprintf(f, "%s%s", i ? " " : "", v[i]);
	fclose(f);
	return out;
}

static void containerd_restore(void **state)
{
	(void)state;
	/* containerd 1.6.20's shim, captured on this host */
	char *argv[] = { "stasis-runc", "--root",      "/run/containerd/runc/k8s",
			 "--log",	"/b/log.json", "--log-format",
			 "json",	"restore",     "--image-path",
			 "/i",		"--detach",    "-no-subreaper",
			 "--bundle",	"/b",	       "ctd-dst",
			 NULL };
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	cleanup_with(shim_args_clear) struct shim_args a;
	const char *bad = NULL;
	assert_int_equal(shim_args_parse(argc, argv, &a, &bad), 0);
	assert_string_equal(a.root, "/run/containerd/runc/k8s");
	assert_string_equal(a.log, "/b/log.json");
	assert_string_equal(a.log_format, "json");
	assert_false(a.debug);
	assert_int_equal(a.verb, 7);
	assert_null(a.runtime_args[0]);
	cleanup_free char *d = joined(a.delegate_argv);
	assert_string_equal(d,
			    "stasis-runc --root /run/containerd/runc/k8s --log /b/log.json --log-format json "
			    "restore --image-path /i --detach -no-subreaper --bundle /b ctd-dst");
	char **owned = NULL;
	size_t n_owned = 0;
	shim_args_long_dashes(argc - a.verb, argv + a.verb, &owned, &n_owned);
	assert_string_equal(argv[a.verb + 4], "--no-subreaper");
	/* a short flag and values stay as they are */
	assert_string_equal(argv[a.verb + 3], "--detach");
	assert_string_equal(argv[a.verb + 6], "/b");
	assert_int_equal(n_owned, 1);
	strv_freep(&owned);
}

static void conmon_forms_and_own_flags(void **state)
{
	(void)state;
	/* conmon: --log-format=json and --log PATH as separate words; podman's runtime flags first */
	char *argv[] = { "/usr/local/bin/stasis-crun",
			 "--stasis-criu=/opt/criu",
			 "--systemd-cgroup",
			 "--cgroup-manager",
			 "systemd",
			 "--rootless=false",
			 "--log-format=json",
			 "--log",
			 "/run/x/oci-log",
			 "--debug",
			 "--stasis-delegate",
			 "/usr/bin/crun",
			 "--unknown",
			 "restore",
			 "--bundle",
			 "/b",
			 "ID",
			 NULL };
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	cleanup_with(shim_args_clear) struct shim_args a;
	const char *bad = NULL;
	assert_int_equal(shim_args_parse(argc, argv, &a, &bad), 0);
	assert_string_equal(a.criu, "/opt/criu");
	assert_string_equal(a.delegate, "/usr/bin/crun");
	assert_string_equal(a.log, "/run/x/oci-log");
	assert_string_equal(a.log_format, "json");
	assert_true(a.debug);
	assert_string_equal(argv[a.verb], "restore");
	/* what changes how the runtime reads a container goes with every command stasis runs */
	cleanup_free char *fwd = joined((const char *const *)a.runtime_args);
	assert_string_equal(fwd, "--systemd-cgroup --cgroup-manager=systemd --rootless=false");
	/* stasis' own flags never reach crun, which refuses what it does not know */
	cleanup_free char *d = joined(a.delegate_argv);
	assert_string_equal(d, "/usr/local/bin/stasis-crun --systemd-cgroup --cgroup-manager systemd "
			       "--rootless=false --log-format=json --log /run/x/oci-log --debug --unknown "
			       "restore --bundle /b ID");
}

static void no_verb_and_missing_value(void **state)
{
	(void)state;
	char *version[] = { "stasis-runc", "--version", NULL };
	cleanup_with(shim_args_clear) struct shim_args a;
	const char *bad = NULL;
	assert_int_equal(shim_args_parse(2, version, &a, &bad), 0);
	assert_int_equal(a.verb, 2);
	cleanup_free char *d = joined(a.delegate_argv);
	assert_string_equal(d, "stasis-runc --version");

	char *cut[] = { "stasis-runc", "--debug", "--root", NULL };
	cleanup_with(shim_args_clear) struct shim_args b;
	assert_int_equal(shim_args_parse(3, cut, &b, &bad), -EINVAL);
	assert_string_equal(bad, "--root");
	assert_null(b.delegate_argv);
}

static void runtime_conf(void **state)
{
	(void)state;
	const char *text = "# criu=/commented\n"
			   "  criu = /opt/criu/bin/criu  \r\n"
			   "delegate=/usr/bin/crun\n"
			   "criuX=/nope\n";
	cleanup_free char *criu = shim_conf_value(text, "criu");
	cleanup_free char *delegate = shim_conf_value(text, "delegate");
	cleanup_free char *none = shim_conf_value(text, "root");
	assert_string_equal(criu, "/opt/criu/bin/criu");
	assert_string_equal(delegate, "/usr/bin/crun");
	assert_null(none);
	cleanup_free char *last = shim_conf_value("delegate=/x", "delegate");
	assert_string_equal(last, "/x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(containerd_restore),
		cmocka_unit_test(conmon_forms_and_own_flags),
		cmocka_unit_test(no_verb_and_missing_value),
		cmocka_unit_test(runtime_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
