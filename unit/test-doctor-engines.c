/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stasis_doctor_engines on engine configurations written under a scratch config_root. */
#include "unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "include/stasis.h"

static char *root;

static int setup(void **state)
{
	(void)state;
	root = unit_tmpdir("engines");
	/* podman's own override would win over config_root */
	unsetenv("CONTAINERS_CONF");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(root);
	free(root);
	return 0;
}

/* writes root/path (its directories made), mode 0755 for a fake binary */
static void put(const char *path, const char *text)
{
	char *full = xasprintf("%s%s", root, path);
	char *dir = xstrdup(full);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755, NULL), 0);
	FILE *f = fopen(full, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(full, 0755), 0);
	free(dir);
	free(full);
}

static struct stasis_report *doctor(const char *containers_conf)
{
	struct stasis_doctor_engines_opts o = { .size = sizeof(o),
						.config_root = root,
						.containers_conf = containers_conf };
	struct stasis_report *r = NULL;
	struct stasis_error *err = NULL;
	assert_int_equal(stasis_doctor_engines(&o, &r, &err), 0);
	assert_null(err);
	return r;
}

/* the cause of the finding id; NULL when there is none */
static const char *cause_of(const struct stasis_report *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->findings[i].id, id) == 0) {
			assert_int_equal(r->findings[i].severity, STASIS_SEVERITY_INFO);
			return r->findings[i].cause;
		}
	return NULL;
}

static void has(const struct stasis_report *r, const char *id, const char *text)
{
	const char *cause = cause_of(r, id);
	if (!cause)
		fail_msg("no finding %s", id);
	if (!strstr(cause, text))
		fail_msg("%s: \"%s\" does not say \"%s\"", id, cause, text);
}

static void nothing_configured(void **state)
{
	(void)state;
	struct stasis_report *r = doctor(NULL);
	has(r, "engine-podman", "default runtime crun (podman's default); no runtime uses stasis");
	has(r, "engine-podman", "no containers.conf");
	has(r, "engine-containerd", "no BinaryName names stasis");
	has(r, "engine-containerd", "no `/etc/containerd/config.toml`");
	has(r, "engine-crio", "no runtime handler uses stasis");
	assert_null(cause_of(r, "engine-podman-json"));
	assert_null(cause_of(r, "engine-crio-criu"));
	stasis_report_free(r);
}

/* /usr/share's file, /etc's file and the drop-ins in the order of their names */
static void podman_order(void **state)
{
	(void)state;
	put("/usr/local/bin/stasis-crun", "");
	put("/usr/share/containers/containers.conf", "[engine]\n"
						     "runtime = \"runc\"\n"
						     "runtime_supports_json = [\"crun\", \"runc\"]\n"
						     "[engine.runtimes]\n"
						     "stasis-crun = [\"/nowhere/stasis-crun\"]\n");
	put("/etc/containers/containers.conf", "[engine]\nruntime = \"stasis-crun\"\n");
	put("/etc/containers/containers.conf.d/20-json.conf",
	    "[engine]\nruntime_supports_json = [\"crun\", \"stasis-crun\"]\n");
	put("/etc/containers/containers.conf.d/10-paths.conf",
	    "[engine.runtimes]\nstasis-crun = [\"/nowhere/stasis-crun\", \"/usr/local/bin/stasis-crun\"]\n"
	    "runc = [\"/usr/local/bin/stasis-runc\"]\n");
	put("/etc/containers/containers.conf.d/notes.txt", "not = [toml");
	struct stasis_report *r = doctor(NULL);
	has(r, "engine-podman", "default runtime stasis-crun (stasis)");
	/* the first path that exists is the one podman runs */
	has(r, "engine-podman", "stasis-crun (`/usr/local/bin/stasis-crun`)");
	/* the name trick of docs/podman.md: runc is stasis, but its binary is not here */
	has(r, "engine-podman", "runc (none of its paths is an executable file here)");
	has(r, "engine-podman",
	    "read `/usr/share/containers/containers.conf`, `/etc/containers/containers.conf`, "
	    "`/etc/containers/containers.conf.d/10-paths.conf`, "
	    "`/etc/containers/containers.conf.d/20-json.conf`");
	/* the last runtime_supports_json has stasis-crun, not runc */
	size_t json = 0;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->findings[i].id, "engine-podman-json") == 0) {
			json++;
			assert_string_equal(r->findings[i].subject, "podman runtime runc");
			assert_non_null(strstr(r->findings[i].fix, "add \"runc\" to runtime_supports_json"));
		}
	assert_int_equal(json, 1);
	stasis_report_free(r);
}

/* $CONTAINERS_CONF (here: opts.containers_conf) is read alone */
static void podman_override(void **state)
{
	(void)state;
	put("/etc/containers/containers.conf", "[engine]\nruntime = \"stasis-crun\"\n");
	char *conf = xasprintf("%s/only.conf", root);
	put("/only.conf", "[engine]\nruntime = \"/opt/bin/stasis-runc\"\n"
			  "[engine.runtimes]\nrunc = [\"/usr/local/bin/stasis-runc\"]\n");
	struct stasis_report *r = doctor(conf);
	has(r, "engine-podman", "default runtime /opt/bin/stasis-runc (stasis)");
	has(r, "engine-podman", "read `");
	/* runc is in podman's own list: only the path's base name is missing from it */
	has(r, "engine-podman-json", "stasis-runc is not in runtime_supports_json (not set");
	size_t json = 0;
	for (size_t i = 0; i < r->n; i++)
		json += strcmp(r->findings[i].id, "engine-podman-json") == 0;
	assert_int_equal(json, 1);
	stasis_report_free(r);
	/* a missing override is said, as podman refuses to run without it */
	free(conf);
	conf = xasprintf("%s/missing.conf", root);
	r = doctor(conf);
	has(r, "engine-podman", "no containers.conf; not read: ");
	has(r, "engine-podman", "missing.conf");
	stasis_report_free(r);
	free(conf);
}

static void podman_broken(void **state)
{
	(void)state;
	put("/etc/containers/containers.conf", "[engine]\nruntime = \"stasis-crun\n");
	struct stasis_report *r = doctor(NULL);
	has(r, "engine-podman",
	    "not read: `/etc/containers/containers.conf`: line 2: a string is not closed on its line");
	has(r, "engine-podman", "default runtime crun (podman's default)");
	stasis_report_free(r);
	/* a stasis name without its [engine.runtimes] entry */
	put("/etc/containers/containers.conf", "[engine]\nruntime = \"stasis-crun\"\n");
	r = doctor(NULL);
	has(r, "engine-podman", "default runtime stasis-crun (no [engine.runtimes] entry has that name");
	stasis_report_free(r);
}

static void containerd(void **state)
{
	(void)state;
	put("/usr/local/bin/stasis-runc", "");
	put("/etc/containerd/config.toml",
	    "version = 2\n"
	    "imports = [\"/etc/containerd/conf.d/*.toml\"]\n"
	    "[plugins]\n"
	    "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
	    "    BinaryName = \"/usr/local/bin/stasis-runc\"\n"
	    "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata.options]\n"
	    "    BinaryName = \"/usr/bin/kata-runtime\"\n"
	    "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.empty.options]\n"
	    "    BinaryName = \"\"\n");
	struct stasis_report *r = doctor(NULL);
	has(r, "engine-containerd",
	    "runtimes that use stasis (BinaryName): runc runs `/usr/local/bin/stasis-runc`;");
	has(r, "engine-containerd", "other runtimes: kata runs `/usr/bin/kata-runtime`;");
	has(r, "engine-containerd",
	    "read `/etc/containerd/config.toml`; the files in its `imports` are not read");
	stasis_report_free(r);
}

static void crio(void **state)
{
	(void)state;
	put("/etc/crio/crio.conf", "[crio.runtime]\n"
				   "default_runtime = \"runc\"\n"
				   "enable_criu_support = false\n"
				   "[crio.runtime.runtimes.runc]\n"
				   "runtime_path = \"/usr/bin/runc\"\n");
	put("/etc/crio/crio.conf.d/50-stasis.conf", "[crio.runtime.runtimes.stasis]\n"
						    "runtime_path = \"/usr/local/bin/stasis-runc\"\n"
						    "runtime_type = \"oci\"\n"
						    "runtime_root = \"/run/runc\"\n");
	struct stasis_report *r = doctor(NULL);
	has(r, "engine-crio",
	    "runtime handlers that use stasis: stasis (`/usr/local/bin/stasis-runc`, not an executable file "
	    "here); default_runtime runc; enable_criu_support = false; read `/etc/crio/crio.conf`, "
	    "`/etc/crio/crio.conf.d/50-stasis.conf`");
	has(r, "engine-crio-criu", "enable_criu_support is not true");
	stasis_report_free(r);
	/* a drop-in turns it on */
	put("/etc/crio/crio.conf.d/60-criu.conf", "[crio.runtime]\nenable_criu_support = true\n");
	r = doctor(NULL);
	has(r, "engine-crio", "enable_criu_support = true");
	assert_null(cause_of(r, "engine-crio-criu"));
	stasis_report_free(r);
}

static void bad_opts(void **state)
{
	(void)state;
	struct stasis_doctor_engines_opts o = { 0 };
	struct stasis_report *r = NULL;
	struct stasis_error *err = NULL;
	assert_int_equal(stasis_doctor_engines(&o, &r, &err), -EINVAL);
	assert_null(r);
	stasis_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(nothing_configured, setup, teardown),
		cmocka_unit_test_setup_teardown(podman_order, setup, teardown),
		cmocka_unit_test_setup_teardown(podman_override, setup, teardown),
		cmocka_unit_test_setup_teardown(podman_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(containerd, setup, teardown),
		cmocka_unit_test_setup_teardown(crio, setup, teardown),
		cmocka_unit_test(bad_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
