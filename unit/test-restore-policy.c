/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the restore policy hears from CRIU's images: capabilities and the namespaces shared with the host. */
#include "unit/unit.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "engine/restore/policy.h"

#define CAP_BIT(c) (UINT64_C(1) << (c))

/* as a restore reads them: the root task's facts, then the policy's */
static int images_facts(const char *dir, struct oci_policy *p, struct stasis_error **err)
{
	struct images_root_facts f;
	int r = restore_images_root_facts(dir, &f, err);
	if (r == 0)
		r = restore_images_facts(dir, &f, p, err);
	images_root_facts_clear(&f);
	return r;
}

/* a runc container (runc spec's capabilities) in namespaces of its own */
static void a_container_holds_its_own(void **state)
{
	(void)state;
	struct oci_policy p = { 0 };
	assert_int_equal(images_facts(UNIT_DATA "/images", &p, NULL), 0);
	assert_int_equal(p.images_host_namespaces, 0);
	assert_int_equal(p.images_capabilities,
			 CAP_BIT(CAP_AUDIT_WRITE) | CAP_BIT(CAP_KILL) | CAP_BIT(CAP_NET_BIND_SERVICE));
	assert_false(p.images_capabilities_above_63);
	/* runc's read-only /proc/sys is in its mount tree */
	assert_false(p.images_proc_sys_writable);
}

/* a bare process tree dumped by root: the host's pid and mount namespaces, root's capabilities */
static void a_host_process_tree_holds_the_host(void **state)
{
	(void)state;
	struct oci_policy p = { 0 };
	/* one of its tasks is a zombie: its core image has no creds and its thread list is garbage */
	assert_int_equal(images_facts(UNIT_DATA "/task-states", &p, NULL), 0);
	assert_int_equal(p.images_host_namespaces, CLONE_NEWPID | CLONE_NEWNS);
	assert_true(p.images_capabilities & CAP_BIT(CAP_SYS_ADMIN));
	assert_true(p.images_capabilities & CAP_BIT(CAP_CHECKPOINT_RESTORE));
}

static void missing_images_are_refused(void **state)
{
	(void)state;
	struct oci_policy p = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(images_facts(UNIT_DATA, &p, &err), -ENOENT);
	stasis_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_container_holds_its_own),
		cmocka_unit_test(a_host_process_tree_holds_the_host),
		cmocka_unit_test(missing_images_are_refused),
	};
	return cmocka_run_group_tests_name("restore-policy", tests, NULL, NULL);
}
