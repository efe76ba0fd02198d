/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The restore policy (docs/guarantees.md, section 5): each rule, and the archives that pass as they are. */
#include "unit/unit.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "oci/oci.h"

#define NETNS "/run/stasis/x/netns"

static const struct oci_policy untrusted = { .netns_path = NETNS };
static const struct oci_policy trusted = { .trust_archive = true, .netns_path = NETNS };

/* the policy applied to text: 0 and the config it made, or the error */
static int apply(const char *text, const struct oci_policy *p, struct oci_config **ret_config,
		 char **ret_trusted, struct stasis_error **err)
{
	char *out = NULL;
	size_t len = 0;
	int r = oci_policy_apply(text, strlen(text), "spec.dump", p, &out, &len, ret_trusted, err);
	if (r == 0) {
		assert_int_equal(strlen(out), len);
		assert_int_equal(oci_config_parse(out, len, "policy's", ret_config, NULL), 0);
	}
	free(out);
	return r;
}

static struct oci_config *allowed(const char *text, const struct oci_policy *p)
{
	struct oci_config *c = NULL;
	assert_int_equal(apply(text, p, &c, NULL, NULL), 0);
	return c;
}

/* the refusal's message, checked for EPERM */
static char *refused(const char *text, const struct oci_policy *p)
{
	struct stasis_error *err = NULL;
	assert_int_equal(apply(text, p, NULL, NULL, &err), -EPERM);
	char *msg = strdup(stasis_error_message(err));
	stasis_error_free(err);
	return msg;
}

static size_t count_namespaces(const struct oci_config *c, const char *type)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_namespaces; i++)
		n += strcmp(c->namespaces[i].type, type) == 0;
	return n;
}

static void missing_namespaces_are_added(void **state)
{
	(void)state;
	/* host network, ipc and uts; the network namespace joined is the one given */
	static const char spec[] = "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}]}}";
	struct oci_config *c = allowed(spec, &untrusted);
	static const char *const own[] = { "pid", "network", "ipc", "uts", "mount" };
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(count_namespaces(c, own[i]), 1);
	assert_int_equal(c->n_namespaces, 5);
	assert_string_equal(oci_config_namespace(c, "network")->path, NETNS);
	assert_null(oci_config_namespace(c, "ipc")->path);
	oci_config_free(c);
	/* no .linux at all */
	c = allowed("{\"ociVersion\":\"1.0.2\"}", &untrusted);
	assert_int_equal(c->n_namespaces, 5);
	oci_config_free(c);
	/* a spec without a network namespace of its own needs one to join */
	struct stasis_error *err = NULL;
	const struct oci_policy none = { 0 };
	assert_int_equal(apply(spec, &none, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "no network namespace of its own"));
	stasis_error_free(err);
}

static void host_namespace_paths_are_dropped(void **state)
{
	(void)state;
	static const char spec[] =
		"{\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"},"
		"{\"type\":\"ipc\",\"path\":\"/proc/1/ns/ipc\"},{\"type\":\"uts\",\"path\":\"/proc/1/ns/"
		"uts\"},"
		"{\"type\":\"mount\",\"path\":\"/proc/1/ns/mnt\"},{\"type\":\"network\",\"path\":\"/proc/1/"
		"ns/net\"},"
		"{\"type\":\"cgroup\",\"path\":\"/proc/1/ns/cgroup\"}]}}";
	struct oci_config *c = allowed(spec, &untrusted);
	assert_null(oci_config_namespace(c, "pid")->path);
	assert_null(oci_config_namespace(c, "ipc")->path);
	assert_null(oci_config_namespace(c, "uts")->path);
	assert_null(oci_config_namespace(c, "mount")->path);
	assert_string_equal(oci_config_namespace(c, "network")->path, NETNS);
	/* user and cgroup namespaces stay as the archive has them */
	assert_string_equal(oci_config_namespace(c, "cgroup")->path, "/proc/1/ns/cgroup");
	assert_int_equal(c->n_namespaces, 6);
	oci_config_free(c);

	/* a network namespace the container owned comes back from the images: no path */
	c = allowed("{\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}", &untrusted);
	assert_null(oci_config_namespace(c, "network")->path);
	oci_config_free(c);
	const struct oci_policy no_netns = { 0 };
	c = allowed("{\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}", &no_netns);
	assert_null(oci_config_namespace(c, "network")->path);
	oci_config_free(c);

	/* a host user namespace: refused, trust or not */
	static const char user[] =
		"{\"linux\":{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"}]}}";
	char *msg = refused(user, &trusted);
	assert_non_null(strstr(msg, "the user namespace `/proc/1/ns/user`"));
	assert_non_null(strstr(msg, "opts.bundle"));
	free(msg);
	c = allowed("{\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}", &untrusted);
	assert_null(oci_config_namespace(c, "user")->path);
	oci_config_free(c);
}

static void images_host_namespaces_are_refused_unless_trusted(void **state)
{
	(void)state;
	/* a container that shared the host's pid namespace: CRIU can restore it only there */
	static const char spec[] = "{\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";
	struct oci_policy p = untrusted;
	p.images_host_namespaces = CLONE_NEWPID;
	char *msg = refused(spec, &p);
	assert_non_null(strstr(msg, "the host's pid namespace"));
	assert_non_null(strstr(msg, "opts.trust_archive"));
	free(msg);
	/* trusted, it stays as the archive has it: no pid namespace is added that would not be there */
	p.trust_archive = true;
	struct oci_config *c = NULL;
	char *let_through = NULL;
	assert_int_equal(apply(spec, &p, &c, &let_through, NULL), 0);
	assert_null(oci_config_namespace(c, "pid"));
	assert_non_null(oci_config_namespace(c, "ipc"));
	assert_non_null(strstr(let_through, "pid namespace"));
	free(let_through);
	oci_config_free(c);
}

static const char extra_caps[] =
	"{\"process\":{\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_SYS_ADMIN\",\"CAP_NET_ADMIN\"],"
	"\"effective\":[\"CAP_SYS_ADMIN\"],\"permitted\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\"],"
	"\"ambient\":[\"CAP_MADE_UP\"]}},\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}";

static void an_extra_capability_is_refused_and_allowed_with_trust(void **state)
{
	(void)state;
	char *msg = refused(extra_caps, &untrusted);
	assert_non_null(strstr(msg, "CAP_SYS_ADMIN (bounding, effective, permitted)"));
	assert_non_null(strstr(msg, "CAP_NET_ADMIN (bounding)"));
	assert_non_null(strstr(msg, "CAP_MADE_UP (ambient)"));
	assert_null(strstr(msg, "CAP_KILL"));
	assert_null(strstr(msg, "CAP_CHOWN"));
	assert_non_null(strstr(msg, "allow it with opts.trust_archive, or give opts.bundle"));
	free(msg);

	char *let_through = NULL;
	struct oci_config *c = NULL;
	assert_int_equal(apply(extra_caps, &trusted, &c, &let_through, NULL), 0);
	assert_non_null(strstr(let_through, "CAP_SYS_ADMIN"));
	free(let_through);
	oci_config_free(c);

	/* CRIU gives back what the images hold, whatever spec.dump says */
	static const char plain[] = "{\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}";
	struct oci_policy p = untrusted;
	p.images_capabilities = oci_policy_default_capabilities() | (UINT64_C(1) << CAP_SYS_PTRACE);
	msg = refused(plain, &p);
	assert_non_null(strstr(msg, "CAP_SYS_PTRACE (the images' threads)"));
	free(msg);
	p.images_capabilities = oci_policy_default_capabilities();
	c = allowed(plain, &p);
	oci_config_free(c);
	p.images_capabilities_above_63 = true;
	msg = refused(plain, &p);
	assert_non_null(strstr(msg, "above 63"));
	free(msg);

	struct stasis_error *err = NULL;
	assert_int_equal(apply("{\"process\":{\"capabilities\":[]}}", &untrusted, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), ".process.capabilities: expected object"));
	stasis_error_free(err);
}

static void a_device_is_refused(void **state)
{
	(void)state;
	static const char devices[] =
		"{\"linux\":{\"namespaces\":[{\"type\":\"network\"}],\"devices\":[{\"path\":\"/dev/null\","
		"\"type\":\"c\",\"major\":1,\"minor\":3},{\"path\":\"/dev/sda\",\"type\":\"b\",\"major\":8,"
		"\"minor\":0},{\"path\":\"/dev/fifo\",\"type\":\"p\"}],\"resources\":{\"devices\":["
		"{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,"
		"\"access\":\"rw\"},{\"allow\":true,\"type\":\"c\",\"major\":136,\"access\":\"rwm\"},"
		"{\"allow\":true,\"type\":\"b\",\"access\":\"m\"},{\"allow\":true,\"type\":\"b\",\"major\":8,"
		"\"access\":\"rw\"},{\"allow\":true},{\"allow\":false,\"type\":\"c\",\"major\":10,\"minor\":"
		"229}]}}}";
	char *msg = refused(devices, &untrusted);
	assert_non_null(strstr(msg, "device `/dev/sda` (b 8:0, .linux.devices[1])"));
	assert_non_null(strstr(msg, "device rule `b 8:* rw` (.linux.resources.devices[4])"));
	assert_non_null(strstr(msg, "device rule `a *:* rwm` (.linux.resources.devices[5])"));
	assert_null(strstr(msg, "/dev/null"));
	assert_null(strstr(msg, "/dev/fifo"));
	assert_null(strstr(msg, "devices[2]"));
	assert_null(strstr(msg, "devices[3]"));
	free(msg);
	struct oci_config *c = allowed(devices, &trusted);
	oci_config_free(c);
}

static void a_writable_proc_sys_is_refused_unless_trusted(void **state)
{
	(void)state;
	static const char spec[] = "{\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}";
	struct oci_policy p = untrusted;
	p.images_proc_sys_writable = true;
	char *msg = refused(spec, &p);
	assert_non_null(strstr(msg, "a writable /proc/sys"));
	free(msg);
	p.trust_archive = true;
	struct oci_config *c = allowed(spec, &p);
	oci_config_free(c);
}

static void masked_paths_are_added(void **state)
{
	(void)state;
	static const char none[] =
		"{\"linux\":{\"namespaces\":[{\"type\":\"network\"}],\"readonlyPaths\":[]}}";
	struct oci_config *c = allowed(none, &untrusted);
	assert_int_equal(strv_length(c->masked_paths), 10);
	assert_string_equal(c->masked_paths[2], "/proc/kcore");
	assert_int_equal(strv_length(c->readonly_paths), 5);
	assert_string_equal(c->readonly_paths[4], "/proc/sysrq-trigger");
	oci_config_free(c);
	/* the archive's own lists stay as they are */
	static const char own[] =
		"{\"linux\":{\"namespaces\":[{\"type\":\"network\"}],\"maskedPaths\":[\"/proc/x\"],"
		"\"readonlyPaths\":[\"/proc/y\"]}}";
	c = allowed(own, &untrusted);
	assert_int_equal(strv_length(c->masked_paths), 1);
	assert_string_equal(c->masked_paths[0], "/proc/x");
	assert_int_equal(strv_length(c->readonly_paths), 1);
	oci_config_free(c);
}

static void device_cgroup_rules_are_runcs(void **state)
{
	(void)state;
	static const char spec[] =
		"{\"linux\":{\"devices\":[{\"path\":\"/dev/kmsg\",\"type\":\"c\",\"major\":1,\"minor\":11},"
		"{\"path\":\"/dev/f\",\"type\":\"p\"}],\"resources\":{\"devices\":[{\"allow\":false,"
		"\"access\":\"rwm\"},{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":-1,\"access\":"
		"\"r\"}]}}}";
	struct oci_device_rule *v = NULL;
	size_t n = 0;
	assert_int_equal(oci_device_cgroup_rules(spec, strlen(spec), "config.json", &v, &n, NULL), 0);
	static const struct {
		bool allow;
		const char *rule;
	} want[] = {
		{ false, "a *:* rwm" }, { false, "a *:* rwm" }, { true, "b 8:* r" },   { true, "c 1:11 rwm" },
		{ true, "c *:* m" },	{ true, "b *:* m" },	{ true, "c 1:3 rwm" },
	};
	assert_true(n > 7);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(v[i].allow, want[i].allow);
		assert_string_equal(v[i].rule, want[i].rule);
	}
	assert_string_equal(v[n - 1].rule, "c 10:200 rwm");
	oci_device_rules_free(v, n);
	struct stasis_error *err = NULL;
	static const char bad[] =
		"{\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}}";
	assert_int_equal(oci_device_cgroup_rules(bad, strlen(bad), "config.json", &v, &n, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), ".linux.resources.devices[0]"));
	stasis_error_free(err);
}

/* runc's and podman 4.3's default containers restore without opts.trust_archive, changed only where they must */
static void default_archives_pass(void **state)
{
	(void)state;
	static const char *const fixtures[] = { UNIT_DATA "/runc-config.json",
						UNIT_DATA "/podman-4.3-spec.dump" };
	for (size_t i = 0; i < 2; i++) {
		char *text = NULL;
		size_t len = 0;
		assert_int_equal(read_file_capped(fixtures[i], 1 << 20, &text, &len, NULL), 0);
		struct oci_config *before = NULL;
		assert_int_equal(oci_config_parse(text, len, fixtures[i], &before, NULL), 0);
		struct oci_policy p = untrusted;
		p.images_capabilities = oci_policy_default_capabilities();
		char *out = NULL, *let_through = NULL;
		size_t out_len = 0;
		assert_int_equal(
			oci_policy_apply(text, len, fixtures[i], &p, &out, &out_len, &let_through, NULL), 0);
		assert_null(let_through);
		struct oci_config *after = NULL;
		assert_int_equal(oci_config_parse(out, out_len, "policy's", &after, NULL), 0);
		assert_int_equal(after->n_namespaces, before->n_namespaces);
		assert_null(oci_config_namespace(after, "network")->path);
		assert_int_equal(strv_length(after->masked_paths), strv_length(before->masked_paths));
		assert_int_equal(after->n_mounts, before->n_mounts);
		assert_string_equal(after->args[0], before->args[0]);
		oci_config_free(before);
		oci_config_free(after);
		free(out);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_namespaces_are_added),
		cmocka_unit_test(host_namespace_paths_are_dropped),
		cmocka_unit_test(images_host_namespaces_are_refused_unless_trusted),
		cmocka_unit_test(an_extra_capability_is_refused_and_allowed_with_trust),
		cmocka_unit_test(a_device_is_refused),
		cmocka_unit_test(a_writable_proc_sys_is_refused_unless_trusted),
		cmocka_unit_test(masked_paths_are_added),
		cmocka_unit_test(device_cgroup_rules_are_runcs),
		cmocka_unit_test(default_archives_pass),
	};
	return cmocka_run_group_tests_name("oci-policy", tests, NULL, NULL);
}
