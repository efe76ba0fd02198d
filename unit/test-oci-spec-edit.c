/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The restored container's config.json: what changes, and that nothing else does. */
#include "unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fs.h"
#include "oci/oci.h"

static const char spec[] =
	"{\"ociVersion\":\"1.0.2\",\"x-unknown\":{\"keep\":[1,2.50,true,null]},"
	"\"root\":{\"path\":\"/old/rootfs\",\"readonly\":false},"
	"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	"{\"destination\":\"/data/\",\"type\":\"bind\",\"source\":\"/old/data\",\"options\":[\"rbind\"]},"
	"{\"destination\":\"/etc/hosts\",\"source\":\"/old/hosts\",\"options\":[\"bind\"]}],"
	"\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"},{\"type\":\"network\"},"
	"{\"type\":\"ipc\",\"path\":\"/proc/7/ns/ipc\"}],\"memory\":{\"limit\":1073741824}}}";

static struct oci_config *edit(const struct oci_spec_edit *e, char **text)
{
	size_t len;
	assert_int_equal(oci_spec_edit(spec, strlen(spec), "spec.dump", e, text, &len, NULL), 0);
	struct oci_config *c = NULL;
	assert_int_equal(oci_config_parse(*text, len, "edited", &c, NULL), 0);
	return c;
}

static void rewrites_what_the_new_host_needs(void **state)
{
	(void)state;
	struct oci_kv binds[] = { { "/data", "/new/data" }, { "/etc/hosts", "/run/stasis/x/files/hosts" } };
	struct oci_spec_edit e = {
		.root_path = "/run/stasis/x/rootfs",
		.bind_sources = binds,
		.n_bind_sources = 2,
		.cgroups_path = "/stasis/x",
	};
	char *text = NULL;
	struct oci_config *c = edit(&e, &text);
	assert_string_equal(c->root_path, "/run/stasis/x/rootfs");
	assert_string_equal(c->mounts[1].source, "/new/data");
	assert_string_equal(c->mounts[2].source, "/run/stasis/x/files/hosts");
	assert_string_equal(c->mounts[0].source, "proc");
	/* namespaces are the policy's (test-oci-policy.c): the editor keeps them */
	assert_string_equal(oci_config_namespace(c, "pid")->path, "/proc/1/ns/pid");
	assert_null(oci_config_namespace(c, "network")->path);
	assert_string_equal(oci_config_namespace(c, "ipc")->path, "/proc/7/ns/ipc");
	assert_string_equal(c->cgroups_path, "/stasis/x");
	/* unknown fields and number texts pass through */
	assert_non_null(strstr(text, "\"x-unknown\""));
	assert_non_null(strstr(text, "2.50"));
	assert_non_null(strstr(text, "1073741824"));
	assert_null(strstr(text, "/old/"));
	oci_config_free(c);
	free(text);
}

static void nothing_asked_nothing_changed(void **state)
{
	(void)state;
	static const char joined[] =
		"{\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"network\","
		"\"path\":\"/run/netns/old\"}],\"cgroupsPath\":\"/old\"}}";
	struct oci_spec_edit e = { 0 };
	char *text = NULL;
	size_t len;
	assert_int_equal(oci_spec_edit(joined, strlen(joined), "spec.dump", &e, &text, &len, NULL), 0);
	assert_non_null(strstr(text, "/run/netns/old"));
	assert_non_null(strstr(text, "\"/old\""));
	free(text);
	struct stasis_error *err = NULL;
	assert_int_equal(oci_spec_edit("[1]", 3, "spec.dump", &e, &text, &len, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "spec.dump"));
	stasis_error_free(err);
}

static void archive_members_parse(void **state)
{
	(void)state;
	static const char bm[] = "[{\"source\":\"/s\",\"destination\":\"/data\",\"file_type\":\"directory\","
				 "\"permissions\":493},{\"destination\":\"/etc/x\",\"file_type\":\"file\"}]";
	struct oci_bind_mount *b = NULL;
	size_t n = 0;
	assert_int_equal(oci_bind_mounts_parse(bm, strlen(bm), &b, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_true(b[0].is_dir);
	assert_int_equal(b[0].mode, 0755);
	assert_false(b[1].is_dir);
	oci_bind_mounts_free(b, n);
	char **v = NULL;
	assert_int_equal(oci_string_array_parse("[\"/a\",\"/b\"]", 11, "deleted.files", &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[1], "/b");
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	struct stasis_error *err = NULL;
	assert_int_equal(oci_string_array_parse("[\"/a\",3]", 8, "deleted.files", &v, &n, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "deleted.files: [1]: expected string"));
	stasis_error_free(err);
	struct oci_manifest *m = NULL;
	err = NULL;
	static const char bad[] = "{\"format\":1,\"digest\":\"sha256\",\"members\":{\"a\":\"xyz\"}}";
	assert_int_equal(oci_manifest_parse(bad, strlen(bad), &m, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "sha256"));
	stasis_error_free(err);
}

static void hooks_parse_and_never_come_from_an_archive(void **state)
{
	(void)state;
	static const char hooked[] =
		"{\"root\":{\"path\":\"r\"},\"hooks\":{\"prestart\":[{\"path\":\"/bin/p\",\"args\":[\"p\","
		"\"-x\"],\"env\":[\"A=1\"],\"timeout\":5}],\"createRuntime\":[{\"path\":\"/bin/c\"}],"
		"\"poststop\":[{\"path\":\"/bin/s\"}]}}";
	struct oci_config *c = NULL;
	assert_int_equal(oci_config_parse(hooked, strlen(hooked), "config.json", &c, NULL), 0);
	assert_int_equal(c->n_hooks_prestart, 1);
	assert_string_equal(c->hooks_prestart[0].path, "/bin/p");
	assert_string_equal(c->hooks_prestart[0].args[1], "-x");
	assert_string_equal(c->hooks_prestart[0].env[0], "A=1");
	assert_int_equal(c->hooks_prestart[0].timeout, 5);
	assert_int_equal(c->n_hooks_create_runtime, 1);
	assert_null(c->hooks_create_runtime[0].args);
	assert_int_equal(c->hooks_create_runtime[0].timeout, 0);
	assert_true(c->has_hooks);
	oci_config_free(c);

	struct oci_spec_edit e = { .drop_hooks = true };
	char *text = NULL;
	size_t len;
	assert_int_equal(oci_spec_edit(hooked, strlen(hooked), "spec.dump", &e, &text, &len, NULL), 0);
	assert_null(strstr(text, "hooks"));
	assert_non_null(strstr(text, "\"r\""));
	free(text);

	/* stasis' own hook replaces the archive's */
	static const char *const args[] = { "stasis", "hook", "loopback-up", NULL };
	e.add_hook_path = "/usr/bin/stasis";
	e.add_hook_args = args;
	assert_int_equal(oci_spec_edit(hooked, strlen(hooked), "spec.dump", &e, &text, &len, NULL), 0);
	assert_int_equal(oci_config_parse(text, len, "edited", &c, NULL), 0);
	assert_int_equal(c->n_hooks_prestart, 0);
	assert_int_equal(c->n_hooks_create_runtime, 1);
	assert_string_equal(c->hooks_create_runtime[0].path, "/usr/bin/stasis");
	assert_string_equal(c->hooks_create_runtime[0].args[2], "loopback-up");
	assert_null(strstr(text, "/bin/s\""));
	oci_config_free(c);
	free(text);

	static const char bad[] = "{\"hooks\":{\"prestart\":[{\"path\":\"/p\",\"timeout\":-1}]}}";
	struct stasis_error *err = NULL;
	assert_int_equal(oci_config_parse(bad, strlen(bad), "config.json", &c, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), ".hooks.prestart[0].timeout"));
	stasis_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rewrites_what_the_new_host_needs),
		cmocka_unit_test(nothing_asked_nothing_changed),
		cmocka_unit_test(archive_members_parse),
		cmocka_unit_test(hooks_parse_and_never_come_from_an_archive),
	};
	return cmocka_run_group_tests_name("oci-spec-edit", tests, NULL, NULL);
}
