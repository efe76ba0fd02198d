/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mount destinations resolved inside a rootfs (symlinks, nested and file mounts) and the rootfs
 * diff of a plain directory against its base: on small trees built in a temporary directory.
 */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

static char *tmp_tree(void)
{
	char *d = xstrdup("/tmp/stasis-unit-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void put(const char *root, const char *rel, const char *text, mode_t mode)
{
	cleanup_free char *p = xasprintf("%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void dir(const char *root, const char *rel)
{
	cleanup_free char *p = xasprintf("%s/%s", root, rel);
	assert_int_equal(mkdir_p(p, 0755, NULL), 0);
}

static void link_(const char *root, const char *rel, const char *target)
{
	cleanup_free char *p = xasprintf("%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

static void expect_resolved(const char *root, const char *path, const char *want)
{
	cleanup_free char *got = mnt_resolve_in_root(root, path);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void resolve_in_root(void **state)
{
	(void)state;
	cleanup_free char *root = tmp_tree();
	dir(root, "srv/real");
	link_(root, "data", "/srv/real");      /* absolute: relative to the container's root */
	link_(root, "rel", "srv/real");	       /* relative */
	link_(root, "escape", "../../../etc"); /* ".." clamps at the root, never the host's /etc */
	link_(root, "srv/up", "../srv/real");
	expect_resolved(root, "/data", "/srv/real");
	expect_resolved(root, "/rel/sub/file", "/srv/real/sub/file");
	expect_resolved(root, "/escape", "/etc");
	expect_resolved(root, "/escape/passwd", "/etc/passwd");
	expect_resolved(root, "/srv/up/x", "/srv/real/x");
	expect_resolved(root, "/not/there", "/not/there");
	expect_resolved(root, "/", "/");
	assert_null(mnt_resolve_in_root("/nonexistent-stasis-root", "/x"));
	rm_rf(root);
}

static const char config_json[] =
	"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
	"\"process\":{\"args\":[\"/bin/sh\"],\"cwd\":\"/\"},"
	"\"mounts\":["
	"{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	"{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/host/data\",\"options\":[\"rbind\"]},"
	"{\"destination\":\"/data/nested/\",\"type\":\"bind\",\"source\":\"/host/n\",\"options\":[\"bind\"]},"
	"{\"destination\":\"/etc/app.conf\",\"source\":\"/host/app.conf\",\"options\":[\"bind\",\"ro\"]},"
	"{\"destination\":\"/dev/fuse\",\"source\":\"/dev/fuse\",\"options\":[\"bind\"]}],"
	"\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"network\",\"path\":\"/run/netns/x\"},"
	"{\"type\":\"pid\"}]}}";

/* what the kernel shows for those mounts when /data is a symlink to /srv/real in the rootfs */
static const char mountinfo[] = "1 0 0:40 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
				"2 1 0:41 / /proc rw - proc proc rw\n"
				"3 1 8:1 /host/data /srv/real rw - ext4 /dev/vda rw\n"
				"4 3 8:1 /host/n /srv/real/nested rw - ext4 /dev/vda rw\n"
				"5 1 8:1 /host/app.conf /etc/app.conf ro - ext4 /dev/vda rw\n"
				"6 1 0:5 /fuse /dev/fuse rw - devtmpfs udev rw\n";

static char *fake_resolve(const char *dest, void *data)
{
	(void)data;
	if (strncmp(dest, "/data", 5) == 0 && (dest[5] == '/' || !dest[5]))
		return xasprintf("/srv/real%s", dest + 5);
	return NULL;
}

static const char *ext_val(const struct mnt_plan *p, const char *key)
{
	for (size_t i = 0; i < p->n_ext_mnt; i++)
		if (strcmp(p->ext_mnt[i].key, key) == 0)
			return p->ext_mnt[i].val;
	return NULL;
}

static void plan_resolves_binds(void **state)
{
	(void)state;
	struct oci_config *c = NULL;
	assert_int_equal(oci_config_parse(config_json, strlen(config_json), "config.json", &c, NULL), 0);
	struct mnt_table t = { 0 };
	assert_int_equal(mnt_table_parse(mountinfo, "mountinfo", &t, NULL), 0);
	struct mnt_plan_input in = {
		.config = c, .mountinfo = &t, .netns_ino = 77, .pidns_ino = 78, .resolve = fake_resolve
	};
	struct mnt_plan p = { 0 };
	assert_int_equal(mnt_plan_dump(&in, &p, NULL), 0);
	/* keys are the resolved destinations, as runc's securejoin gives them */
	assert_string_equal(ext_val(&p, "/srv/real"), "/srv/real");
	assert_string_equal(ext_val(&p, "/srv/real/nested"), "/srv/real/nested");
	assert_string_equal(ext_val(&p, "/etc/app.conf"), "/etc/app.conf");
	/* a bind-mounted device node is an external like any bind */
	assert_string_equal(ext_val(&p, "/dev/fuse"), "/dev/fuse");
	assert_null(ext_val(&p, "/data"));
	assert_int_equal(p.n_unexplained, 0);
	assert_int_equal(p.n_binds, 4);
	assert_string_equal(p.binds[0].destination, "/srv/real");
	assert_string_equal(p.binds[0].source, "/host/data");
	/* the joined netns is external, the owned pid namespace is not */
	assert_int_equal(p.n_external, 1);
	assert_string_equal(p.external[0], "net[77]:extRootNetNS");
	assert_false(p.owns_netns);
	assert_string_equal(p.upperdir, "/u");
	mnt_plan_clear(&p);

	/* without resolution the symlinked mounts are not what config.json says */
	in.resolve = NULL;
	assert_int_equal(mnt_plan_dump(&in, &p, NULL), 0);
	assert_int_equal(p.n_unexplained, 2);
	assert_string_equal(p.unexplained[0], "/srv/real");
	mnt_plan_clear(&p);
	mnt_table_clear(&t);
	oci_config_free(c);
}

static bool has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void diff_against_base(void **state)
{
	(void)state;
	cleanup_free char *base = tmp_tree();
	cleanup_free char *root = tmp_tree();
	for (int i = 0; i < 2; i++) {
		const char *t = i ? root : base;
		dir(t, "etc");
		dir(t, "bin");
		dir(t, "gone/deep");
		dir(t, "proc/1");
		put(t, "etc/same", "same\n", 0644);
		put(t, "etc/edited", "one\n", 0644);
		put(t, "etc/samesize", "aaaa\n", 0644);
		put(t, "etc/chmod", "x\n", 0644);
		put(t, "etc/removed", "bye\n", 0644);
		put(t, "gone/deep/f", "f\n", 0644);
		link_(t, "bin/sh", "busybox");
	}
	cleanup_free char *p = xasprintf("%s/gone", root);
	rm_rf(p);
	free(p);
	p = xasprintf("%s/etc/removed", root);
	unlink(p);
	free(p);
	p = xasprintf("%s/bin/sh", root);
	unlink(p);
	link_(root, "bin/sh", "toybox");
	put(root, "etc/edited", "two, longer\n", 0644);
	put(root, "etc/samesize", "bbbb\n", 0644);
	put(root, "etc/chmod", "x\n", 0600);
	put(root, "etc/new", "new\n", 0600);
	put(root, "proc/1/ignored", "runtime\n", 0644);

	char *excludes[] = { "/proc", NULL };
	struct mnt_diff d = { 0 };
	assert_int_equal(mnt_diff_dirs(root, base, excludes, &d, NULL), 0);
	assert_int_equal(d.n_changed, 5);
	assert_true(has(d.changed, d.n_changed, "bin/sh"));
	assert_true(has(d.changed, d.n_changed, "etc/edited"));
	assert_true(has(d.changed, d.n_changed, "etc/samesize"));
	assert_true(has(d.changed, d.n_changed, "etc/chmod"));
	assert_true(has(d.changed, d.n_changed, "etc/new"));
	assert_int_equal(d.n_deleted, 2);
	assert_string_equal(d.deleted[0], "/etc/removed");
	assert_string_equal(d.deleted[1], "/gone");
	mnt_diff_clear(&d);

	struct stasis_error *err = NULL;
	assert_int_equal(mnt_diff_dirs(root, "/nonexistent-stasis-base", excludes, &d, &err), -ENOENT);
	assert_non_null(strstr(stasis_error_message(err), "--rootfs-base"));
	stasis_error_free(err);
	rm_rf(root);
	rm_rf(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resolve_in_root),
		cmocka_unit_test(plan_resolves_binds),
		cmocka_unit_test(diff_against_base),
	};
	return cmocka_run_group_tests_name("mounts-fs", tests, NULL, NULL);
}
