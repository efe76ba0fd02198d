/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.json parsing and the dump plan, on a config and mountinfo captured from a real runc container. */
#include "unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fs.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

static struct oci_config *load_config(void)
{
	struct oci_config *c = NULL;
	struct stasis_error *err = NULL;
	assert_int_equal(oci_config_load(UNIT_DATA "/runc-config.json", &c, &err), 0);
	return c;
}

static void load_mountinfo(struct mnt_table *t)
{
	char *text = NULL;
	assert_int_equal(read_file_capped(UNIT_DATA "/runc-mountinfo.txt", 1 << 20, &text, NULL, NULL), 0);
	assert_int_equal(mnt_table_parse(text, "mountinfo", t, NULL), 0);
	free(text);
}

static const char *ext_val(const struct mnt_plan *p, const char *key)
{
	for (size_t i = 0; i < p->n_ext_mnt; i++)
		if (strcmp(p->ext_mnt[i].key, key) == 0)
			return p->ext_mnt[i].val;
	return NULL;
}

static void config_fields(void **state)
{
	(void)state;
	struct oci_config *c = load_config();
	assert_string_equal(c->args[0], "/bin/workload");
	assert_false(c->terminal);
	assert_non_null(oci_config_namespace(c, "network"));
	assert_null(oci_config_namespace(c, "network")->path);
	assert_non_null(c->masked_paths);
	assert_string_equal(c->mounts[c->n_mounts - 1].destination, "/data");
	assert_true(oci_mount_is_bind(&c->mounts[c->n_mounts - 1]));
	oci_config_free(c);
}

static void plan_runc_container(void **state)
{
	(void)state;
	struct oci_config *c = load_config();
	struct mnt_table t = { 0 };
	load_mountinfo(&t);
	struct mnt_plan_input in = {
		.config = c, .mountinfo = &t, .netns_ino = 4026532000ul, .pidns_ino = 1
	};
	struct mnt_plan p = { 0 };
	assert_int_equal(mnt_plan_dump(&in, &p, NULL), 0);

	/* runc's keys: bind mounts by destination, masked files as /dev/null, cgroup mounts by path */
	assert_string_equal(ext_val(&p, "/data"), "/data");
	assert_string_equal(ext_val(&p, "/proc/timer_list"), "/dev/null");
	assert_string_equal(ext_val(&p, "/sys/fs/cgroup/freezer"), "/sys/fs/cgroup/freezer");
	/* masked directories are tmpfs mounts CRIU dumps itself */
	assert_null(ext_val(&p, "/proc/acpi"));
	assert_null(ext_val(&p, "/sys/firmware"));
	assert_int_equal(p.n_unexplained, 0);
	assert_string_equal(p.upperdir, "/tmp/fx/upper");
	assert_true(p.owns_netns);
	/* the container owns its namespaces: nothing external */
	assert_int_equal(p.n_external, 0);
	assert_int_equal(p.n_binds, 1);
	assert_string_equal(p.binds[0].source, "/tmp/fx/data");
	mnt_plan_clear(&p);

	/* an extra bind mount made inside the container is reported, not silently dumped */
	char *text = NULL;
	read_file_capped(UNIT_DATA "/runc-mountinfo.txt", 1 << 20, &text, NULL, NULL);
	char *more = NULL;
	assert_true(asprintf(&more, "%s999 71 0:40 /tmp /mnt/x rw - overlay overlay rw,upperdir=/u\n", text) >
		    0);
	struct mnt_table t2 = { 0 };
	assert_int_equal(mnt_table_parse(more, "mountinfo", &t2, NULL), 0);
	in.mountinfo = &t2;
	assert_int_equal(mnt_plan_dump(&in, &p, NULL), 0);
	assert_int_equal(p.n_unexplained, 1);
	assert_string_equal(p.unexplained[0], "/mnt/x");
	mnt_plan_clear(&p);

	/* namespaces joined by path become CRIU externals with runc's keys */
	for (size_t i = 0; i < c->n_namespaces; i++)
		if (strcmp(c->namespaces[i].type, "network") == 0)
			c->namespaces[i].path = strdup("/run/netns/x");
	in.mountinfo = &t;
	assert_int_equal(mnt_plan_dump(&in, &p, NULL), 0);
	assert_int_equal(p.n_external, 1);
	assert_string_equal(p.external[0], "net[4026532000]:extRootNetNS");
	assert_false(p.owns_netns);
	mnt_plan_clear(&p);

	mnt_table_clear(&t);
	mnt_table_clear(&t2);
	free(text);
	free(more);
	oci_config_free(c);
}

static void bad_json_names_the_path(void **state)
{
	(void)state;
	struct oci_config *c = NULL;
	struct stasis_error *err = NULL;
	const char *j = "{\"linux\":{\"maskedPaths\":[\"/a\",\"/b\",3]}}";
	assert_int_equal(oci_config_parse(j, strlen(j), "config.json", &c, &err), -EINVAL);
	assert_string_equal(stasis_error_message(err), "config.json: .linux.maskedPaths[2]: expected string");
	stasis_error_free(err);
	err = NULL;
	j = "{\"mounts\":[{\"type\":\"bind\"}]}";
	assert_int_equal(oci_config_parse(j, strlen(j), "config.json", &c, &err), -EINVAL);
	assert_string_equal(stasis_error_message(err), "config.json: .mounts[0].destination: missing");
	stasis_error_free(err);
	err = NULL;
	j = "{\"root\": ";
	assert_int_equal(oci_config_parse(j, strlen(j), "config.json", &c, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "config.json: invalid JSON"));
	stasis_error_free(err);
}

static void mountinfo_escapes(void **state)
{
	(void)state;
	struct mnt_table t = { 0 };
	const char *text = "36 35 98:0 /a\\040b /mnt/with\\040space rw - ext4 /dev/x rw,upperdir=/u\n";
	assert_int_equal(mnt_table_parse(text, "m", &t, NULL), 0);
	assert_string_equal(t.e[0].mountpoint, "/mnt/with space");
	assert_string_equal(t.e[0].root, "/a b");
	char *v = mnt_option_value(t.e[0].super_opts, "upperdir");
	assert_string_equal(v, "/u");
	free(v);
	mnt_table_clear(&t);
	struct stasis_error *err = NULL;
	assert_int_equal(mnt_table_parse("garbage\n", "m", &t, &err), -EBADMSG);
	stasis_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_fields),
		cmocka_unit_test(plan_runc_container),
		cmocka_unit_test(bad_json_names_the_path),
		cmocka_unit_test(mountinfo_escapes),
	};
	return cmocka_run_group_tests_name("mounts-plan", tests, NULL, NULL);
}
