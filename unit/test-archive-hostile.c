/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Archives made to hurt: a member that declares more than the target filesystem has free (a small
 * zstd archive expands into terabytes), sparse members whose blocks moved (the data bytes the same,
 * the file they make not), and sparse maps that go backwards or past the member's size.
 */
#include "unit/unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "include/stasis.h"

#define IMAGES UNIT_DATA "/images"
#define PAGE 4096
#define TAR_BLOCK 512
/* the tmpfs the budget test writes into, and a member four times its size */
#define SMALL_FS_SIZE "4m"
#define BIG_MEMBER (16u << 20)

static char *slurp(const char *path, size_t *ret_len)
{
	char *buf = NULL;
	assert_int_equal(read_file_capped(path, 64u << 20, &buf, ret_len, NULL), 0);
	return buf;
}

/* a checkpoint archive written by our writer, with pages (a file) as checkpoint/pages-1.img */
static void write_checkpoint(const char *path, const char *compress, const char *pages)
{
	struct arc_writer *w = NULL;
	assert_int_equal(arc_writer_open(path, compress, NULL, &w, NULL), 0);
	assert_int_equal(arc_writer_add_dir(w, "checkpoint", NULL), 0);
	static const char *const images[] = { "inventory.img", "pstree.img", "core-1.img", "core-6.img" };
	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		cleanup_free char *src = xasprintf("%s/%s", IMAGES, images[i]);
		cleanup_free char *name = xasprintf("checkpoint/%s", images[i]);
		assert_int_equal(arc_writer_add_file(w, name, src, NULL), 0);
	}
	assert_int_equal(arc_writer_add_buffer(w, "spec.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_writer_add_buffer(w, "config.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_writer_add_file(w, "checkpoint/pages-1.img", pages, NULL), 0);
	assert_int_equal(arc_writer_commit(w, "4.2.1", NULL), 0);
}

/* ---- disk use bounded before a byte is written ---- */

/* a tmpfs of SMALL_FS_SIZE in a mount namespace of this test's own: no one else sees it */
static bool mount_small_fs(const char *dir)
{
	if (geteuid() != 0)
		return false;
	assert_int_equal(unshare(CLONE_NEWNS), 0);
	assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mount("hx-stasis-small", dir, "tmpfs", 0, "size=" SMALL_FS_SIZE), 0);
	return true;
}

static void archive_bigger_than_the_disk_is_refused_before_writing(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("hostile");
	cleanup_free char *small = xasprintf("%s/small", dir);
	assert_int_equal(mkdir(small, 0700), 0);
	if (!mount_small_fs(small)) {
		rm_rf(dir);
		if (getenv("STASIS_MUST_WORK"))
			fail_msg("a tmpfs needs root, and STASIS_MUST_WORK is set");
		skip();
	}
	/* 16 MiB of zeros: a zstd archive of a few KiB */
	cleanup_free char *pages = xasprintf("%s/pages", dir);
	int fd = open(pages, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, BIG_MEMBER), 0);
	close(fd);
	cleanup_free char *bomb = xasprintf("%s/bomb.tar.zst", dir);
	write_checkpoint(bomb, "zstd", pages);
	struct stat st;
	assert_int_equal(stat(bomb, &st), 0);
	assert_true(st.st_size < 64 * 1024);

	cleanup_free char *out = xasprintf("%s/out", small);
	assert_int_equal(mkdir(out, 0700), 0);
	struct arc_import imp = { 0 };
	struct stasis_error *e = NULL;
	assert_int_equal(arc_import(bomb, out, NULL, &imp, &e), -ENOSPC);
	const char *msg = stasis_error_message(e);
	print_message("%s\n", msg);
	assert_non_null(strstr(msg, "member `checkpoint/pages-1.img`"));
	assert_non_null(strstr(msg, "16777216 bytes"));
	assert_non_null(strstr(msg, "bytes free"));
	e = stasis_error_free(e);
	/* nothing of it stays */
	assert_int_equal(rmdir(out), 0);

	/* the same archive with a member that fits imports */
	fd = open(pages, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1u << 20), 0);
	close(fd);
	cleanup_free char *fits = xasprintf("%s/fits.tar.zst", dir);
	write_checkpoint(fits, "zstd", pages);
	assert_int_equal(mkdir(out, 0700), 0);
	assert_int_equal(arc_import(fits, out, NULL, &imp, &e), 0);
	assert_true(imp.has_manifest);
	arc_import_clear(&imp);
	rm_rf(out);

	/* a rootfs diff is held to the same: the rootfs' filesystem */
	cleanup_free char *tree = xasprintf("%s/tree", dir);
	assert_int_equal(mkdir(tree, 0755), 0);
	cleanup_free char *big = xasprintf("%s/big", tree);
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	static const char one[] = "x";
	/* data at both ends: a tar of 16 MiB, sparse or not */
	assert_int_equal(pwrite_all(fd, one, 1, 0), 0);
	assert_int_equal(pwrite_all(fd, one, 1, BIG_MEMBER - 1), 0);
	close(fd);
	cleanup_free char *diff = xasprintf("%s/diff.tar", dir);
	char *paths[] = { "big" };
	assert_int_equal(arc_write_tree(diff, tree, paths, 1, NULL), 0);
	cleanup_free char *rootfs = xasprintf("%s/rootfs", small);
	assert_int_equal(mkdir(rootfs, 0755), 0);
	assert_int_equal(arc_apply_tree(diff, rootfs, NULL, NULL, &e), -ENOSPC);
	assert_non_null(strstr(stasis_error_message(e), "entry `big`: 16777216 bytes do not fit"));
	e = stasis_error_free(e);
	assert_int_equal(umount2(small, MNT_DETACH), 0);
	rm_rf(dir);
}

/* ---- sparse members: the digest covers the file they make, holes and all ---- */

/* rewrites the archive src as a pax tar at dst, member made sparse with the given data regions */
struct region {
	off_t off, len;
};

static void resparse(const char *src, const char *dst, const char *member, const char *content, size_t size,
		     const struct region *regions, size_t n)
{
	struct archive *in = archive_read_new();
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	assert_int_equal(archive_read_open_filename(in, src, 1 << 16), ARCHIVE_OK);
	struct archive *out = archive_write_new();
	archive_write_set_format_pax(out);
	assert_int_equal(archive_write_open_filename(out, dst), ARCHIVE_OK);
	struct archive_entry *e;
	while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
		struct archive_entry *copy = archive_entry_clone(e);
		bool target = strcmp(archive_entry_pathname(e), member) == 0;
		if (target) {
			archive_entry_set_size(copy, (la_int64_t)size);
			archive_entry_sparse_clear(copy);
			for (size_t i = 0; i < n; i++)
				archive_entry_sparse_add_entry(copy, regions[i].off, regions[i].len);
		}
		assert_int_equal(archive_write_header(out, copy), ARCHIVE_OK);
		if (target) {
			/* the whole file: the writer leaves the holes out */
			assert_int_equal(archive_write_data(out, content, size), (la_ssize_t)size);
		} else {
			char buf[65536];
			la_ssize_t got;
			while ((got = archive_read_data(in, buf, sizeof(buf))) > 0)
				assert_int_equal(archive_write_data(out, buf, (size_t)got), got);
		}
		archive_entry_free(copy);
	}
	assert_int_equal(archive_write_close(out), ARCHIVE_OK);
	archive_write_free(out);
	archive_read_free(in);
}

/* what a verify and an import (which hashes on its own threads) say about an archive */
static int verify_and_import(const char *archive, const char *dir, struct stasis_error **err)
{
	struct arc_import imp = { 0 };
	size_t members = 0;
	unsigned long long bytes = 0;
	int r = arc_verify(archive, &imp, &members, &bytes, err);
	arc_import_clear(&imp);
	cleanup_free char *out = xasprintf("%s/out", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	struct stasis_error *e2 = NULL;
	int r2 = arc_import(archive, out, NULL, &imp, &e2);
	if (r2 != r)
		fail_msg("verify %d, import %d (%s)", r, r2, stasis_error_message(e2));
	stasis_error_free(e2);
	arc_import_clear(&imp);
	return r;
}

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)(seed >> 16 | 1); /* never a zero byte: only holes are zeros */
	}
}

/* a page image moved one page on by a hole: the data bytes are the manifest's, the file is not */
static void shifted_page_image_fails_verification(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("hostile");
	cleanup_free char *pages = xasprintf("%s/pages", dir);
	char content[3 * PAGE + PAGE];
	memset(content, 0, PAGE);
	fill(content + PAGE, 3 * PAGE, 7);
	assert_int_equal(write_file_atomic(pages, content + PAGE, 3 * PAGE, 0600, 0, NULL), 0);
	cleanup_free char *orig = xasprintf("%s/orig.tar", dir);
	write_checkpoint(orig, "none", pages);
	cleanup_free char *shifted = xasprintf("%s/shifted.tar", dir);
	const struct region moved[] = { { PAGE, 3 * PAGE } };
	resparse(orig, shifted, "checkpoint/pages-1.img", content, sizeof(content), moved, 1);
	struct stasis_error *e = NULL;
	assert_int_equal(verify_and_import(shifted, dir, &e), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(e), "member `checkpoint/pages-1.img` does not match its "
							"sha256"));
	stasis_error_free(e);
	rm_rf(dir);
}

/* holes that are zeros in the original file: the same content, the same digest */
static void truly_sparse_member_verifies(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("hostile");
	cleanup_free char *pages = xasprintf("%s/pages", dir);
	/* a page, two pages of zeros, a page, and zeros to the end: a hole inside and one at the tail */
	char content[6 * PAGE];
	memset(content, 0, sizeof(content));
	fill(content, PAGE, 1);
	fill(content + 3 * PAGE, PAGE, 2);
	assert_int_equal(write_file_atomic(pages, content, sizeof(content), 0600, 0, NULL), 0);
	cleanup_free char *orig = xasprintf("%s/orig.tar", dir);
	write_checkpoint(orig, "none", pages);
	cleanup_free char *sparse = xasprintf("%s/sparse.tar", dir);
	const struct region data[] = { { 0, PAGE }, { 3 * PAGE, PAGE } };
	resparse(orig, sparse, "checkpoint/pages-1.img", content, sizeof(content), data, 2);
	struct stasis_error *e = NULL;
	if (verify_and_import(sparse, dir, &e) != 0)
		fail_msg("%s", stasis_error_message(e));
	/* what the import wrote is the original file */
	cleanup_free char *got = xasprintf("%s/out/checkpoint/pages-1.img", dir);
	size_t len = 0;
	cleanup_free char *text = slurp(got, &len);
	assert_int_equal(len, sizeof(content));
	assert_memory_equal(text, content, sizeof(content));
	struct stasis_verify_result res = { .size = sizeof(res) };
	assert_int_equal(stasis_verify(sparse, &res, NULL), 0);
	assert_true(res.has_manifest);
	rm_rf(dir);
}

/* ---- sparse maps no writer makes ---- */

static void tar_octal(char *field, size_t width, unsigned long long v)
{
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%0*llo", (int)width - 1, v);
	assert_int_equal(n, (int)width - 1);
	memcpy(field, digits, width);
}

/*
 * An old GNU sparse member ('S'): the map in the header (offset 386, up to four offset/length
 * pairs of 12 octal digits), the real size at 483, then the data of the regions, one after the other.
 */
static void put_gnu_sparse(int fd, off_t *pos, const char *name, unsigned long long realsize,
			   const struct region *regions, size_t n)
{
	char h[TAR_BLOCK];
	memset(h, 0, sizeof(h));
	unsigned long long stored = 0;
	for (size_t i = 0; i < n; i++)
		stored += (unsigned long long)regions[i].len;
	snprintf(h, 100, "%s", name);
	tar_octal(h + 100, 8, 0644);
	tar_octal(h + 108, 8, 0);
	tar_octal(h + 116, 8, 0);
	tar_octal(h + 124, 12, stored);
	tar_octal(h + 136, 12, 0);
	h[156] = 'S';
	memcpy(h + 257, "ustar  ", 8); /* GNU's magic and version */
	for (size_t i = 0; i < n; i++) {
		tar_octal(h + 386 + 24 * i, 12, (unsigned long long)regions[i].off);
		tar_octal(h + 386 + 24 * i + 12, 12, (unsigned long long)regions[i].len);
	}
	tar_octal(h + 483, 12, realsize);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	assert_int_equal(pwrite_all(fd, h, sizeof(h), *pos), 0);
	*pos += TAR_BLOCK;
	size_t padded = (stored + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	char *data = xmalloc(padded ? padded : 1);
	memset(data, 0, padded);
	fill(data, stored, 3);
	assert_int_equal(pwrite_all(fd, data, padded, *pos), 0);
	free(data);
	*pos += (off_t)padded;
}

static void put_file(int fd, off_t *pos, const char *name, const char *body)
{
	char h[TAR_BLOCK];
	memset(h, 0, sizeof(h));
	snprintf(h, 100, "%s", name);
	tar_octal(h + 100, 8, 0644);
	tar_octal(h + 108, 8, 0);
	tar_octal(h + 116, 8, 0);
	tar_octal(h + 124, 12, strlen(body));
	tar_octal(h + 136, 12, 0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	assert_int_equal(pwrite_all(fd, h, sizeof(h), *pos), 0);
	*pos += TAR_BLOCK;
	char data[TAR_BLOCK];
	memset(data, 0, sizeof(data));
	memcpy(data, body, strlen(body));
	assert_int_equal(pwrite_all(fd, data, sizeof(data), *pos), 0);
	*pos += TAR_BLOCK;
}

static char *sparse_archive(const char *dir, const char *name, unsigned long long realsize,
			    const struct region *regions, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	off_t pos = 0;
	put_file(fd, &pos, "checkpoint/inventory.img", "x");
	put_file(fd, &pos, "spec.dump", "{}");
	put_file(fd, &pos, "config.dump", "{}");
	put_gnu_sparse(fd, &pos, "checkpoint/pages-1.img", realsize, regions, n);
	char end[2 * TAR_BLOCK];
	memset(end, 0, sizeof(end));
	assert_int_equal(pwrite_all(fd, end, sizeof(end), pos), 0);
	close(fd);
	return path;
}

static void sparse_map_past_the_size_or_backwards_is_refused(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("hostile");
	struct stasis_error *e = NULL;
	/* a well-formed one reads: the map is what GNU tar writes */
	const struct region good[] = { { 0, TAR_BLOCK }, { 2 * PAGE, TAR_BLOCK } };
	cleanup_free char *ok = sparse_archive(dir, "ok.tar", 3 * PAGE, good, 2);
	if (verify_and_import(ok, dir, &e) != 0)
		fail_msg("%s", stasis_error_message(e));
	rm_rf(dir);
	assert_int_equal(mkdir(dir, 0700), 0);

	/* data at 8 KiB of a member that says it has 4 KiB */
	const struct region past[] = { { 0, TAR_BLOCK }, { 2 * PAGE, TAR_BLOCK } };
	cleanup_free char *beyond = sparse_archive(dir, "past.tar", PAGE, past, 2);
	assert_int_equal(verify_and_import(beyond, dir, &e), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(e), "member `checkpoint/pages-1.img`"));
	assert_non_null(strstr(stasis_error_message(e), "past its size of 4096 bytes"));
	e = stasis_error_free(e);
	rm_rf(dir);
	assert_int_equal(mkdir(dir, 0700), 0);

	/* a block written over one before it: which bytes are the file's? */
	const struct region back[] = { { PAGE, TAR_BLOCK }, { 0, TAR_BLOCK } };
	cleanup_free char *backwards = sparse_archive(dir, "back.tar", 2 * PAGE, back, 2);
	assert_int_equal(verify_and_import(backwards, dir, &e), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(e), "before the end of the one ahead of it"));
	e = stasis_error_free(e);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(archive_bigger_than_the_disk_is_refused_before_writing),
		cmocka_unit_test(shifted_page_image_fails_verification),
		cmocka_unit_test(truly_sparse_member_verifies),
		cmocka_unit_test(sparse_map_past_the_size_or_backwards_is_refused),
	};
	return cmocka_run_group_tests_name("archive-hostile", tests, NULL, NULL);
}
