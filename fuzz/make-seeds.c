/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes the seed corpora of fuzz/seeds/ from unit/data: checkpoint archives written by our own
 * writer (plain, zstd, and one with a sparse page image, as GNU tar --sparse would repack it), the
 * JSON files a restore reads, and a real mountinfo.  Seeds are real inputs: the fuzzers start from
 * what stasis meets and mutate from there.  Run from the top of the tree:
 *
 *	make build/make-fuzz-seeds && build/make-fuzz-seeds fuzz/seeds
 *
 * Every archive stays under the fuzzers' 64 KiB input limit (scripts/fuzz.sh, -max_len).
 */
#include <archive.h>
#include <archive_entry.h>
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
#include "engine/archive/archive.h"
#include "engine/images/reader.h"

#define DATA "unit/data"
#define FUZZ_MAX_LEN (64u * 1024u)
/* the largest member sparse_copy() reads back: every member of the seeds is smaller */
#define MEMBER_MAX (1u << 20)

static void die(const char *what, struct stasis_error *err)
{
	fprintf(stderr, "make-seeds: %s: %s\n", what, err ? stasis_error_message(err) : strerror(errno));
	exit(1);
}

static void put(const char *path, const void *data, size_t len)
{
	struct stasis_error *err = NULL;
	if (write_file_atomic(path, data, len, 0644, 0, &err) < 0)
		die(path, err);
}

static char *slurp(const char *path, size_t *ret_len)
{
	char *buf = NULL;
	struct stasis_error *err = NULL;
	if (read_file_capped(path, 1u << 20, &buf, ret_len, &err) < 0)
		die(path, err);
	return buf;
}

static void copy(const char *src, const char *dst)
{
	size_t len = 0;
	cleanup_free char *buf = slurp(src, &len);
	put(dst, buf, len);
}

/* the page image pid 6's pagemap describes, with its argv where mm-6.img says it is */
static char *pages_of_pid6(const char *dir, size_t *ret_len)
{
	size_t len = 0;
	cleanup_free char *pm_text = slurp(DATA "/images/pagemap-6.img", &len);
	struct image_blob b = { "pagemap-6.img", (const unsigned char *)pm_text, len };
	struct img_pagemap pm;
	struct stasis_error *err = NULL;
	if (image_read_pagemap(&b, &pm, &err) < 0)
		die("pagemap-6.img", err);
	size_t size = (size_t)pagemap_pages_bytes(&pm);
	char *pages = xzalloc(size ? size : 1);
	cleanup_free char *mm_text = slurp(DATA "/images/mm-6.img", &len);
	b = (struct image_blob){ "mm-6.img", (const unsigned char *)mm_text, len };
	struct img_mm mm;
	uint64_t off;
	if (image_read_mm(&b, &mm, &err) < 0)
		die("mm-6.img", err);
	static const char argv[] = "sleep\0infinity\0";
	if (pagemap_locate(&pm, mm.arg_start, &off) == 1 && off + sizeof(argv) <= size)
		memcpy(pages + off, argv, sizeof(argv));
	img_mm_clear(&mm);
	img_pagemap_clear(&pm);
	char *path = xasprintf("%s/pages-6.img", dir);
	put(path, pages, size);
	free(pages);
	*ret_len = size;
	return path;
}

/* a rootfs diff of three entries: a file, a directory, a symlink */
static char *rootfs_diff(const char *dir)
{
	cleanup_free char *tree = xasprintf("%s/tree", dir);
	cleanup_free char *etc = xasprintf("%s/etc", tree);
	cleanup_free char *hosts = xasprintf("%s/etc/hosts", tree);
	cleanup_free char *link = xasprintf("%s/etc/localtime", tree);
	if (mkdir(tree, 0755) < 0 || mkdir(etc, 0755) < 0 || symlink("/usr/share/zoneinfo/UTC", link) < 0)
		die(tree, NULL);
	put(hosts, "127.0.0.1 localhost\n", 20);
	char *tar = xasprintf("%s/rootfs-diff.tar", dir);
	char *paths[] = { "etc", "etc/hosts", "etc/localtime" };
	struct stasis_error *err = NULL;
	if (arc_write_tree(tar, tree, paths, 3, &err) < 0)
		die(tar, err);
	return tar;
}

/* pages (may be NULL): checkpoint/pages-6.img */
static void write_checkpoint(const char *path, const char *compress, const char *pages, const char *diff)
{
	struct stasis_error *err = NULL;
	struct arc_writer *w = NULL;
	if (arc_writer_open(path, compress, NULL, &w, &err) < 0 ||
	    arc_writer_add_dir(w, "checkpoint", &err) < 0)
		die(path, err);
	static const char *const images[] = {
		"inventory.img", "pstree.img",	       "core-1.img",   "core-6.img",   "ids-1.img",
		"ids-6.img",	 "fs-1.img",	       "fs-6.img",     "mm-1.img",     "mm-6.img",
		"pagemap-1.img", "pagemap-6.img",      "fdinfo-2.img", "fdinfo-3.img", "files.img",
		"stats-dump",	 "mountpoints-13.img",
	};
	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		cleanup_free char *src = xasprintf(DATA "/images/%s", images[i]);
		cleanup_free char *name = xasprintf("checkpoint/%s", images[i]);
		if (arc_writer_add_file(w, name, src, &err) < 0)
			die(src, err);
	}
	static const char config_dump[] = "{\"id\":\"hx-seed\",\"name\":\"hx-seed\",\"runtime\":\"runc\","
					  "\"rootfsImageName\":\"docker.io/library/busybox:latest\","
					  "\"createdTime\":\"2025-11-29T20:39:00Z\",\"checkpointedTime\":"
					  "\"2025-11-29T20:40:00Z\"}";
	static const char deleted[] = "[\"/tmp/gone\",\"/etc/motd\"]";
	static const char binds[] = "[{\"source\":\"/srv/data\",\"destination\":\"/data\",\"file_type\":"
				    "\"directory\",\"permissions\":493}]";
	if (arc_writer_add_file(w, "spec.dump", DATA "/runc-config.json", &err) < 0 ||
	    arc_writer_add_buffer(w, "config.dump", config_dump, strlen(config_dump), &err) < 0 ||
	    arc_writer_add_buffer(w, "deleted.files", deleted, strlen(deleted), &err) < 0 ||
	    arc_writer_add_buffer(w, "bind.mounts", binds, strlen(binds), &err) < 0 ||
	    arc_writer_add_file(w, "stats-dump", DATA "/images/stats-dump", &err) < 0 ||
	    arc_writer_add_file(w, "rootfs-diff.tar", diff, &err) < 0 ||
	    (pages && arc_writer_add_file(w, "checkpoint/pages-6.img", pages, &err) < 0) ||
	    arc_writer_commit(w, "4.2.1", &err) < 0)
		die(path, err);
}

/* the archive at src again as a pax tar, its page image sparse: one hole of zeros, as GNU tar makes */
static void sparse_copy(const char *src, const char *dst, const char *member)
{
	struct archive *in = archive_read_new();
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	struct archive *out = archive_write_new();
	archive_write_set_format_pax(out);
	if (archive_read_open_filename(in, src, 1 << 16) != ARCHIVE_OK ||
	    archive_write_open_filename(out, dst) != ARCHIVE_OK)
		die(dst, NULL);
	struct archive_entry *e;
	cleanup_free char *buf = xmalloc(MEMBER_MAX);
	while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
		struct archive_entry *copy_e = archive_entry_clone(e);
		la_ssize_t len = archive_read_data(in, buf, MEMBER_MAX);
		if (len < 0)
			die(src, NULL);
		if (strcmp(archive_entry_pathname(e), member) == 0) {
			/* the data regions: everything but the zero pages */
			la_ssize_t at = 0;
			while (at < len) {
				la_ssize_t start = at;
				while (at < len && buf[at])
					at++;
				if (at > start)
					archive_entry_sparse_add_entry(copy_e, start, at - start);
				while (at < len && !buf[at])
					at++;
			}
		}
		if (archive_write_header(out, copy_e) != ARCHIVE_OK ||
		    archive_write_data(out, buf, (size_t)len) != len)
			die(dst, NULL);
		archive_entry_free(copy_e);
	}
	archive_write_close(out);
	archive_write_free(out);
	archive_read_free(in);
}

static void check_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		die(path, NULL);
	if ((size_t)st.st_size > FUZZ_MAX_LEN) {
		fprintf(stderr, "make-seeds: %s: %lld bytes, over the fuzzers' %u\n", path,
			(long long)st.st_size, FUZZ_MAX_LEN);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *seeds = argc > 1 ? argv[1] : "fuzz/seeds";
	char tmp[] = "/tmp/stasis-make-seeds-XXXXXX";
	if (!mkdtemp(tmp))
		die("mkdtemp", NULL);
	struct stasis_error *err = NULL;
	cleanup_free char *aw = xasprintf("%s/archive-walk", seeds);
	cleanup_free char *oj = xasprintf("%s/oci-json", seeds);
	cleanup_free char *mi = xasprintf("%s/mountinfo", seeds);
	if (mkdir_p(aw, 0755, &err) < 0 || mkdir_p(oj, 0755, &err) < 0 || mkdir_p(mi, 0755, &err) < 0)
		die(seeds, err);

	size_t pages_len = 0;
	cleanup_free char *pages = pages_of_pid6(tmp, &pages_len);
	cleanup_free char *diff = rootfs_diff(tmp);
	/* the plain tar without the page image (64 KiB of it), the others with */
	cleanup_free char *plain = xasprintf("%s/stasis.tar", aw);
	cleanup_free char *zst = xasprintf("%s/stasis.tar.zst", aw);
	cleanup_free char *with_pages = xasprintf("%s/with-pages.tar", tmp);
	cleanup_free char *sparse = xasprintf("%s/stasis-sparse.tar", aw);
	write_checkpoint(plain, "none", NULL, diff);
	write_checkpoint(zst, "zstd", pages, diff);
	write_checkpoint(with_pages, "none", pages, diff);
	sparse_copy(with_pages, sparse, "checkpoint/pages-6.img");
	cleanup_free char *diff_seed = xasprintf("%s/rootfs-diff.tar", aw);
	copy(diff, diff_seed);
	check_size(plain);
	check_size(zst);
	check_size(sparse);

	/* the JSON a restore reads: config.json, runc's state, and the archive's own members */
	cleanup_free char *cfg = xasprintf("%s/config.json", oj);
	copy(DATA "/runc-config.json", cfg);
	static const char state[] =
		"{\"ociVersion\":\"1.0.2\",\"id\":\"hx-seed\",\"pid\":4242,\"status\":"
		"\"running\",\"bundle\":\"/run/hx-seed/bundle\",\"rootfs\":"
		"\"/run/hx-seed/bundle/rootfs\",\"created\":\"2025-11-29T20:39:00.123456789Z\","
		"\"owner\":\"\"}";
	cleanup_free char *st = xasprintf("%s/state.json", oj);
	put(st, state, strlen(state));
	cleanup_free char *out = xasprintf("%s/extracted", tmp);
	if (mkdir(out, 0700) < 0)
		die(out, NULL);
	struct arc_import imp = { 0 };
	if (arc_import(sparse, out, NULL, &imp, &err) < 0 || !imp.has_manifest)
		die(sparse, err);
	arc_import_clear(&imp);
	static const char *const members[] = { "stasis.manifest", "config.dump", "bind.mounts",
					       "deleted.files" };
	for (size_t i = 0; i < ARRAY_SIZE(members); i++) {
		cleanup_free char *src = xasprintf("%s/%s", out, members[i]);
		cleanup_free char *dst = xasprintf("%s/%s", oj, members[i]);
		copy(src, dst);
	}

	cleanup_free char *mountinfo = xasprintf("%s/runc-mountinfo.txt", mi);
	copy(DATA "/runc-mountinfo.txt", mountinfo);
	rm_rf(tmp);
	return 0;
}
