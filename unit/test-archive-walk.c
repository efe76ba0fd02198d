/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The archive member walker's one set of rules, seen through every reader (import, verify, scan,
 * apply), on tars written byte by byte here: nameless members, "..", links, devices, duplicates;
 * and 50,000 members verified through the public API with a constant-time name lookup.
 */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "engine/images/set.h"
#include "include/stasis.h"

#define IMAGES UNIT_DATA "/images"
#define TAR_BLOCK 512
#define MANY_MEMBERS 50000

/* ---- a tar written by hand: the walker must judge what no well-behaved writer produces ---- */

struct tar {
	char *data;
	size_t len;
};

/* width - 1 octal digits and a NUL, as ustar fields are */
static void tar_octal(char *field, size_t width, unsigned long long v)
{
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%0*llo", (int)width - 1, v);
	assert_int_equal(n, (int)width - 1);
	memcpy(field, digits, width);
}

/* type: '0' file, '1' hardlink, '2' symlink, '3' char device, '5' directory */
static void tar_add(struct tar *t, const char *name, char type, const char *link, const char *body)
{
	size_t size = body ? strlen(body) : 0;
	size_t pad = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	t->data = xrealloc(t->data, t->len + TAR_BLOCK + pad);
	char *h = t->data + t->len;
	memset(h, 0, TAR_BLOCK + pad);
	strncpy(h, name, 100);
	tar_octal(h + 100, 8, type == '5' ? 0755 : 0644);
	tar_octal(h + 108, 8, 0);
	tar_octal(h + 116, 8, 0);
	tar_octal(h + 124, 12, size);
	tar_octal(h + 136, 12, 0);
	h[156] = type;
	if (link)
		strncpy(h + 157, link, 100);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	if (body)
		memcpy(h + TAR_BLOCK, body, size);
	t->len += TAR_BLOCK + pad;
}

static char *tar_write(struct tar *t, const char *dir, const char *name)
{
	t->data = xrealloc(t->data, t->len + 2 * TAR_BLOCK);
	memset(t->data + t->len, 0, 2 * TAR_BLOCK);
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite_all(fd, t->data, t->len + 2 * TAR_BLOCK, 0), 0);
	close(fd);
	free(t->data);
	*t = (struct tar){ 0 };
	return path;
}

/* a podman-shaped checkpoint (no manifest): what passes the structure check */
static void tar_checkpoint(struct tar *t)
{
	tar_add(t, "checkpoint/", '5', NULL, NULL);
	tar_add(t, "checkpoint/inventory.img", '0', NULL, "x");
	tar_add(t, "spec.dump", '0', NULL, "{}");
	tar_add(t, "config.dump", '0', NULL, "{}");
}

static int scan_all(void *data, struct arc_scan_member *m, struct stasis_error **err)
{
	(void)m;
	(void)err;
	(*(size_t *)data)++;
	return 0;
}

/* the errno every checkpoint reader (import, verify, scan) gives the same archive */
static void expect_checkpoint_readers(const char *archive, int want, const char *words)
{
	cleanup_free char *out = unit_tmpdir("walk");
	struct arc_import imp = { 0 };
	struct stasis_error *e = NULL;
	assert_int_equal(arc_import(archive, out, NULL, &imp, &e), -want);
	assert_non_null(strstr(stasis_error_message(e), words));
	e = stasis_error_free(e);
	size_t members = 0;
	unsigned long long bytes = 0;
	assert_int_equal(arc_verify(archive, &imp, &members, &bytes, &e), -want);
	assert_non_null(strstr(stasis_error_message(e), words));
	e = stasis_error_free(e);
	size_t seen = 0;
	assert_int_equal(arc_scan(archive, scan_all, &seen, &e), -want);
	assert_non_null(strstr(stasis_error_message(e), words));
	e = stasis_error_free(e);
	/* nothing of a refused archive stays behind */
	assert_int_equal(rmdir(out), 0);
}

static void one_rule_for_every_reader(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("walk");
	struct tar t = { 0 };

	tar_checkpoint(&t);
	tar_add(&t, "", '0', NULL, "x");
	cleanup_free char *nameless = tar_write(&t, dir, "nameless.tar");
	expect_checkpoint_readers(nameless, EBADMSG, "a member without a name");

	tar_checkpoint(&t);
	tar_add(&t, "../escape", '0', NULL, "x");
	cleanup_free char *dotdot = tar_write(&t, dir, "dotdot.tar");
	expect_checkpoint_readers(dotdot, EPERM, "member `../escape`: an absolute path or one with \"..\"");

	tar_checkpoint(&t);
	tar_add(&t, "checkpoint/link.img", '2', "/etc/shadow", NULL);
	cleanup_free char *symlink = tar_write(&t, dir, "symlink.tar");
	expect_checkpoint_readers(symlink, EPERM, "member `checkpoint/link.img`: not a regular file");

	/* a link deep in a directory we would skip is refused all the same: one rule, no corners */
	tar_checkpoint(&t);
	tar_add(&t, "artifacts/deep/dev", '3', NULL, NULL);
	cleanup_free char *dev = tar_write(&t, dir, "device.tar");
	expect_checkpoint_readers(dev, EPERM, "member `artifacts/deep/dev`: not a regular file");

	tar_checkpoint(&t);
	tar_add(&t, "./spec.dump", '0', NULL, "{}");
	cleanup_free char *twice = tar_write(&t, dir, "twice.tar");
	expect_checkpoint_readers(twice, EEXIST, "member `spec.dump` appears twice");

	/* the same archive without the fault reads, with "./" names and a skipped artifacts/ dir */
	tar_checkpoint(&t);
	tar_add(&t, "./artifacts/", '5', NULL, NULL);
	tar_add(&t, "./artifacts/x", '0', NULL, "skipped");
	cleanup_free char *good = tar_write(&t, dir, "good.tar");
	cleanup_free char *out = unit_tmpdir("walk");
	struct arc_import imp = { 0 };
	assert_int_equal(arc_import(good, out, NULL, &imp, NULL), 0);
	assert_false(imp.has_manifest);
	cleanup_free char *spec = xasprintf("%s/spec.dump", out);
	assert_int_equal(access(spec, F_OK), 0);
	cleanup_free char *art = xasprintf("%s/artifacts", out);
	assert_int_equal(access(art, F_OK), -1);
	arc_import_clear(&imp);
	rm_rf(out);
	rm_rf(dir);
}

static void tree_rules(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("walk");
	cleanup_free char *root = xasprintf("%s/root", dir);
	assert_int_equal(mkdir(root, 0755), 0);
	struct tar t = { 0 };
	struct stasis_error *e = NULL;

	/* a device: listed by inspect, never created by a restore */
	tar_add(&t, "./etc/", '5', NULL, NULL);
	tar_add(&t, "./etc/hosts", '0', NULL, "127.0.0.1 x\n");
	tar_add(&t, "./dev/null", '3', NULL, NULL);
	cleanup_free char *devtar = tar_write(&t, dir, "dev.tar");
	char **paths = NULL;
	size_t n = 0;
	assert_int_equal(arc_list_tar(devtar, &paths, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(paths[0], "/etc");
	assert_string_equal(paths[2], "/dev/null");
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	assert_int_equal(arc_apply_tree(devtar, root, NULL, NULL, &e), -EPERM);
	assert_non_null(strstr(stasis_error_message(e), "member `dev/null`: not a file, directory or link"));
	e = stasis_error_free(e);

	tar_add(&t, "a", '0', NULL, "x");
	tar_add(&t, "b", '1', "../../etc/passwd", NULL);
	cleanup_free char *hard = tar_write(&t, dir, "hard.tar");
	assert_int_equal(arc_apply_tree(hard, root, NULL, NULL, &e), -EPERM);
	assert_non_null(strstr(stasis_error_message(e), "hardlink target absolute or with \"..\""));
	e = stasis_error_free(e);

	tar_add(&t, "", '0', NULL, "x");
	cleanup_free char *nameless = tar_write(&t, dir, "nameless.tar");
	assert_int_equal(arc_apply_tree(nameless, root, NULL, NULL, &e), -EBADMSG);
	e = stasis_error_free(e);
	assert_int_equal(arc_list_tar(nameless, &paths, &n, &e), -EBADMSG);
	e = stasis_error_free(e);
	rm_rf(dir);
}

/* 50,000 lookups cost about 50,000 key comparisons, not 50,000 squared over two */
static void name_lookup_is_constant_time(void **state)
{
	(void)state;
	cleanup_with(strmap_free) struct strmap *m = strmap_new();
	for (size_t i = 0; i < MANY_MEMBERS; i++) {
		cleanup_free char *k = xasprintf("checkpoint/empty-%05zu.img", i);
		assert_int_equal(strmap_put(m, k, i), 0);
	}
	assert_int_equal(strmap_put(m, "checkpoint/empty-00042.img", 7), -EEXIST);
	for (size_t i = 0; i < MANY_MEMBERS; i++) {
		cleanup_free char *k = xasprintf("checkpoint/empty-%05zu.img", i);
		size_t v;
		assert_true(strmap_get(m, k, &v));
		assert_int_equal(v, i);
	}
	assert_false(strmap_get(m, "checkpoint/empty-50000.img", NULL));
	assert_int_equal(strmap_size(m), MANY_MEMBERS);
	assert_true(strmap_probes(m) < 3 * MANY_MEMBERS);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * A real checkpoint's images plus 50,000 empty members, written by our writer (manifest and all)
 * and checked by stasis_verify: every member hashed and found in the manifest.  The time is printed
 * for who compares (it was 7 s with linear lookups), never asserted.
 */
static void verify_fifty_thousand_members(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("walk");
	cleanup_free char *path = xasprintf("%s/many.tar", dir);
	struct arc_writer *w = NULL;
	assert_int_equal(arc_writer_open(path, "none", NULL, &w, NULL), 0);
	assert_int_equal(arc_writer_add_dir(w, "checkpoint", NULL), 0);
	static const char *const images[] = { "inventory.img", "pstree.img", "core-1.img", "core-6.img" };
	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		cleanup_free char *src = xasprintf("%s/%s", IMAGES, images[i]);
		cleanup_free char *name = xasprintf("checkpoint/%s", images[i]);
		assert_int_equal(arc_writer_add_file(w, name, src, NULL), 0);
	}
	assert_int_equal(arc_writer_add_buffer(w, "spec.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_writer_add_buffer(w, "config.dump", "{}", 2, NULL), 0);
	for (size_t i = 0; i < MANY_MEMBERS; i++) {
		cleanup_free char *name = xasprintf("checkpoint/empty-%05zu.img", i);
		assert_int_equal(arc_writer_add_buffer(w, name, "", 0, NULL), 0);
	}
	assert_int_equal(arc_writer_commit(w, "4.2.1", NULL), 0);

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct stasis_verify_result res = { .size = sizeof(res) };
	struct stasis_error *e = NULL;
	int r = stasis_verify(path, &res, &e);
	if (r < 0)
		fail_msg("%s", stasis_error_message(e));
	print_message("stasis_verify of %d members: %.2f s\n", MANY_MEMBERS, seconds_since(&t0));
	assert_true(res.has_manifest);
	/* the images, the two dumps, the empties and the manifest */
	assert_int_equal(res.members, ARRAY_SIZE(images) + 2 + MANY_MEMBERS + 1);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_rule_for_every_reader),
		cmocka_unit_test(tree_rules),
		cmocka_unit_test(name_lookup_is_constant_time),
		cmocka_unit_test(verify_fifty_thousand_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
