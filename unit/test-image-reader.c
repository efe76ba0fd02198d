/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CRIU image reader on real images (unit/data/images: a runc container dumped by CRIU 4.2.1
 * here: the workload as pid 1, `sleep` as pid 6), every truncation and bit flip of them, and the
 * memory reader on a page image written around those real pagemaps.
 */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/images/reader.h"

#define IMAGES UNIT_DATA "/images"

struct file {
	char *data;
	size_t len;
	struct image_blob b;
};

static struct file load(const char *name)
{
	struct file f = { 0 };
	char *path = xasprintf("%s/%s", IMAGES, name);
	assert_int_equal(read_file_capped(path, 1 << 20, &f.data, &f.len, NULL), 0);
	free(path);
	f.b = (struct image_blob){ .name = name, .data = (const unsigned char *)f.data, .len = f.len };
	return f;
}

static void real_images_decode(void **state)
{
	(void)state;
	struct file f = load("pstree.img");
	struct img_task *t;
	size_t n;
	assert_int_equal(image_read_pstree(&f.b, &t, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(t[0].pid, 1);
	assert_int_equal(t[0].ppid, 0);
	assert_int_equal(t[1].pid, 6);
	assert_int_equal(t[1].ppid, 1);
	img_tasks_free(t, n);
	free(f.data);

	f = load("core-1.img");
	struct img_core c;
	assert_int_equal(image_read_core(&f.b, &c, NULL), 0);
	assert_string_equal(c.comm, "workload");
	assert_int_equal(c.state, CR_TASK_ALIVE);
	assert_true(c.has_creds);
	assert_int_equal(c.uid, 0);
	img_core_clear(&c);
	free(f.data);

	f = load("files.img");
	struct img_file *files;
	assert_int_equal(image_read_files(&f.b, &files, &n, NULL), 0);
	bool counter = false, devnull = false;
	for (size_t i = 0; i < n; i++) {
		counter |= files[i].type == IMG_FD_REG && strcmp(files[i].path, "/data/counter") == 0;
		devnull |= files[i].type == IMG_FD_REG && strcmp(files[i].path, "/dev/null") == 0;
	}
	assert_true(counter && devnull);
	img_files_free(files, n);
	free(f.data);

	f = load("fdinfo-2.img");
	struct img_fd *fds;
	assert_int_equal(image_read_fdinfo(&f.b, &fds, &n, NULL), 0);
	assert_int_equal(n, 5);
	assert_int_equal(fds[4].fd, 4);
	free(fds);
	free(f.data);

	f = load("mountpoints-13.img");
	struct img_mount *m;
	assert_int_equal(image_read_mounts(&f.b, &m, &n, NULL), 0);
	bool data = false, root = false;
	for (size_t i = 0; i < n; i++) {
		data |= strcmp(m[i].mountpoint, "/data") == 0 && m[i].ext_mount &&
			strcmp(m[i].ext_key, "/data") == 0;
		root |= strcmp(m[i].mountpoint, "/") == 0 &&
			strcmp(image_fstype_name(m[i].fstype), "overlay") == 0;
	}
	assert_true(data && root);
	img_mounts_free(m, n);
	free(f.data);

	f = load("stats-dump");
	struct img_stats st;
	assert_int_equal(image_read_stats(&f.b, &st, NULL), 0);
	assert_true(st.has_dump);
	assert_int_equal(st.pages_scanned, 8240);
	assert_int_equal(st.pages_written, 8224);
	free(f.data);

	f = load("inventory.img");
	struct img_inventory inv;
	assert_int_equal(image_read_inventory(&f.b, &inv, NULL), 0);
	assert_int_equal(inv.img_version, 2);
	img_inventory_clear(&inv);
	free(f.data);
}

/* CRIU 4.2 writes 0 into the old nr_pages field and the count into field 5 */
static void pagemap_counts_come_from_the_new_field(void **state)
{
	(void)state;
	struct file f = load("pagemap-1.img");
	struct img_pagemap pm;
	assert_int_equal(image_read_pagemap(&f.b, &pm, NULL), 0);
	assert_int_equal(pm.pages_id, 1);
	assert_true(pm.n > 10);
	/* pages-1.img of this dump was 33619968 bytes */
	assert_int_equal(pagemap_pages_bytes(&pm), 33619968);
	uint64_t off = 1;
	assert_int_equal(pagemap_locate(&pm, pm.runs[0].vaddr, &off), 1);
	assert_int_equal(off, 0);
	assert_int_equal(pagemap_locate(&pm, pm.runs[1].vaddr + 5, &off), 1);
	assert_int_equal(off, pm.runs[0].nr_pages * IMAGE_PAGE_SIZE + 5);
	assert_int_equal(pagemap_locate(&pm, 0x10, &off), 0);
	img_pagemap_clear(&pm);
	free(f.data);
}

/* a cut anywhere but an entry boundary is an error naming the image and an offset; nothing crashes */
static void truncations_and_bit_flips_are_errors(void **state)
{
	(void)state;
	static const char *const names[] = { "pstree.img",    "core-1.img",	    "files.img",
					     "pagemap-1.img", "mountpoints-13.img", "mm-1.img",
					     "fdinfo-2.img" };
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		struct file f = load(names[k]);
		size_t errors = 0;
		for (size_t len = 0; len < f.len; len++) {
			struct image_blob b = { .name = names[k], .data = f.b.data, .len = len };
			struct stasis_error *err = NULL;
			if (image_parse_named(names[k], &b, &err) < 0) {
				errors++;
				const char *msg = stasis_error_message(err);
				assert_non_null(strstr(msg, names[k]));
				assert_true(strstr(msg, "offset") || strstr(msg, "no ") ||
					    strstr(msg, "too short"));
			}
			stasis_error_free(err);
		}
		assert_true(errors > f.len / 2);
		unsigned char *copy = xmalloc(f.len);
		for (size_t pos = 0; pos < f.len; pos++)
			for (int bit = 0; bit < 8; bit += 3) {
				memcpy(copy, f.data, f.len);
				copy[pos] ^= (unsigned char)(1u << bit);
				struct image_blob b = { .name = names[k], .data = copy, .len = f.len };
				struct stasis_error *err = NULL;
				image_parse_named(names[k], &b, &err);
				stasis_error_free(err);
			}
		free(copy);
		free(f.data);
	}
}

static void hostile_sizes_are_refused(void **state)
{
	(void)state;
	/* IMG_COMMON, PSTREE, then an entry claiming 4 GiB */
	const unsigned char huge[] = { 0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27,
				       0x50, 0xff, 0xff, 0xff, 0xff, 0x08 };
	struct image_blob b = { .name = "pstree.img", .data = huge, .len = sizeof(huge) };
	struct stasis_error *err = NULL;
	struct img_task *t;
	size_t n;
	assert_int_equal(image_read_pstree(&b, &t, &n, &err), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(err), "offset 8: entry of 4294967295 bytes"));
	err = stasis_error_free(err);
	/* the magic of another image */
	struct file f = load("core-1.img");
	b = (struct image_blob){ .name = "pstree.img", .data = f.b.data, .len = f.len };
	assert_int_equal(image_read_pstree(&b, &t, &n, &err), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(err), "magic 0x55053847, expected 0x50273030"));
	stasis_error_free(err);
	free(f.data);
}

/* ---- pstree.img: a tree, or refused ---- */

/* a protobuf varint */
static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/* the real pstree.img (pid 1, and 6 its child) with pstree_entry {pid, ppid, pgid 1, sid 1} added */
struct crafted {
	unsigned char *data;
	size_t len;
};

static void add_task(struct crafted *c, unsigned pid, unsigned ppid)
{
	unsigned char msg[32];
	size_t n = 0;
	msg[n++] = 0x08; /* field 1 (pid), varint */
	n += put_varint(msg + n, pid);
	msg[n++] = 0x10; /* field 2 (ppid) */
	n += put_varint(msg + n, ppid);
	msg[n++] = 0x18; /* pgid */
	msg[n++] = 1;
	msg[n++] = 0x20; /* sid */
	msg[n++] = 1;
	c->data = xrealloc(c->data, c->len + 4 + n);
	uint32_t size = (uint32_t)n;
	memcpy(c->data + c->len, &size, 4);
	memcpy(c->data + c->len + 4, msg, n);
	c->len += 4 + n;
}

static struct crafted real_pstree(void)
{
	struct file f = load("pstree.img");
	struct crafted c = { .data = (unsigned char *)f.data, .len = f.len };
	return c;
}

static int read_crafted(const struct crafted *c, struct stasis_error **err)
{
	struct image_blob b = { .name = "pstree.img", .data = c->data, .len = c->len };
	struct img_task *t = NULL;
	size_t n = 0;
	int r = image_read_pstree(&b, &t, &n, err);
	if (r == 0)
		img_tasks_free(t, n);
	return r;
}

#define expect_pstree(c, want, words)                                                                      \
	do {                                                                                               \
		struct stasis_error *e_ = NULL;                                                            \
		int r_ = read_crafted(c, &e_);                                                             \
		if (r_ != -(want) || (want && !strstr(stasis_error_message(e_), words)))                   \
			fail_msg("%d (%s), expected %d and \"%s\"", r_, stasis_error_message(e_), -(want), \
				 words);                                                                   \
		stasis_error_free(e_);                                                                     \
	} while (0)

/* `inspect --ps-tree` on a pstree naming a pid twice recursed until SIGSEGV */
static void pstree_duplicates_and_cycles_are_refused(void **state)
{
	(void)state;
	struct crafted c = real_pstree();
	add_task(&c, 1, 6); /* pid 1 again, as 6's child: a loop through the root */
	expect_pstree(&c, EBADMSG, "image `pstree.img`: pid 1 is there twice");
	free(c.data);

	c = real_pstree();
	add_task(&c, 7, 8); /* 7 and 8 are each other's parent, away from the root */
	add_task(&c, 8, 7);
	expect_pstree(&c, EBADMSG, "image `pstree.img`: pid 7 is its own ancestor");
	free(c.data);

	c = real_pstree();
	add_task(&c, 9, 9);
	expect_pstree(&c, EBADMSG, "image `pstree.img`: pid 9 is its own ancestor");
	free(c.data);

	/* an orphan (its parent is not in the image) is a root of its own, as CRIU allows */
	c = real_pstree();
	add_task(&c, 12, 11);
	expect_pstree(&c, 0, "");
	free(c.data);
}

/* a chain as deep as the cap reads; one task deeper is refused before any walk recurses down it */
static void pstree_depth_is_bounded(void **state)
{
	(void)state;
	struct crafted c = real_pstree();
	/* pid 6 is at depth 2: 1000 + k at depth k + 3 */
	for (unsigned k = 0; k + 3 <= IMAGE_PSTREE_MAX_DEPTH; k++)
		add_task(&c, 1000 + k, k ? 1000 + k - 1 : 6);
	expect_pstree(&c, 0, "");
	add_task(&c, 1000 + IMAGE_PSTREE_MAX_DEPTH - 2, 1000 + IMAGE_PSTREE_MAX_DEPTH - 3);
	expect_pstree(&c, EFBIG, "levels deep");
	free(c.data);
}

/* stasis inspect reads the pstree first: the crafted one fails naming it */
static void inspect_refuses_a_pstree_with_a_loop(void **state)
{
	(void)state;
	char *d = xstrdup("/tmp/hx-stasis-pstree-XXXXXX");
	assert_non_null(mkdtemp(d));
	static const char *const names[] = { "inventory.img", "core-1.img", "core-6.img" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct file f = load(names[i]);
		char *p = xasprintf("%s/%s", d, names[i]);
		assert_int_equal(write_file_atomic(p, f.data, f.len, 0600, 0, NULL), 0);
		free(p);
		free(f.data);
	}
	struct crafted c = real_pstree();
	add_task(&c, 1, 6);
	char *p = xasprintf("%s/pstree.img", d);
	assert_int_equal(write_file_atomic(p, c.data, c.len, 0600, 0, NULL), 0);
	struct stasis_inspect_opts io = { .size = sizeof(io), .what = STASIS_INSPECT_PS_TREE };
	struct stasis_inspect *in = NULL;
	struct stasis_error *err = NULL;
	assert_int_equal(stasis_inspect(d, &io, &in, &err), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(err), "pstree.img"));
	stasis_error_free(err);
	free(p);
	free(c.data);
	rm_rf(d);
	free(d);
}

/* ---- the memory reader, on the real pagemap of pid 1 with a page image written here ---- */

static char dir[] = "/tmp/stasis-unit-images-XXXXXX";

static void copy_in(const char *name)
{
	struct file f = load(name);
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite_all(fd, f.data, f.len, 0), 0);
	close(fd);
	free(p);
	free(f.data);
}

static int pages_fd;
static struct img_pagemap pm;

static void put(uint64_t vaddr, const char *s, size_t len)
{
	uint64_t off;
	assert_int_equal(pagemap_locate(&pm, vaddr, &off), 1);
	assert_int_equal(pwrite_all(pages_fd, s, len, (off_t)off), 0);
}

static void memory_is_searched_across_chunks_not_across_gaps(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	static const char *const names[] = { "inventory.img", "pstree.img",   "core-1.img",  "core-6.img",
					     "ids-1.img",     "fs-1.img",     "mm-1.img",    "pagemap-1.img",
					     "pagemap-6.img", "fdinfo-2.img", "files.img",   "ids-6.img",
					     "fs-6.img",      "mm-6.img",     "fdinfo-3.img" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		copy_in(names[i]);
	struct file f = load("pagemap-1.img");
	assert_int_equal(image_read_pagemap(&f.b, &pm, NULL), 0);
	free(f.data);
	char *pages = xasprintf("%s/pages-1.img", dir);
	pages_fd = open(pages, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(pages_fd >= 0);
	assert_int_equal(ftruncate(pages_fd, (off_t)pagemap_pages_bytes(&pm)), 0);
	/* a marker across the 1 MiB read boundary inside one run, and one split over two distant runs */
	uint64_t addr_across = 0;
	size_t gap_run = 0;
	for (size_t i = 0, off = 0; i < pm.n; off += pm.runs[i].nr_pages * IMAGE_PAGE_SIZE, i++) {
		uint64_t len = pm.runs[i].nr_pages * IMAGE_PAGE_SIZE;
		if (!addr_across && off < (1u << 20) - 8 && off + len > (1u << 20) + 8)
			addr_across = pm.runs[i].vaddr + ((1u << 20) - 8 - off);
		if (!gap_run && i + 1 < pm.n && pm.runs[i].vaddr + len != pm.runs[i + 1].vaddr)
			gap_run = i + 1;
	}
	assert_true(addr_across && gap_run);
	put(addr_across, "UNIT-MARKER-ACROSS", 18);
	const struct img_page_run *a = &pm.runs[gap_run - 1], *b = &pm.runs[gap_run];
	put(a->vaddr + a->nr_pages * IMAGE_PAGE_SIZE - 6, "UNIT-G", 6);
	put(b->vaddr, "AP-MARKER", 9);
	/* argv where mm-1.img says it is */
	struct file mmf = load("mm-1.img");
	struct img_mm mm;
	assert_int_equal(image_read_mm(&mmf.b, &mm, NULL), 0);
	size_t arglen = (size_t)(mm.arg_end - mm.arg_start);
	char *argv = xmalloc(arglen);
	memset(argv, 'z', arglen);
	memcpy(argv, "unit\0test\0", 10);
	argv[arglen - 1] = '\0';
	put(mm.arg_start, argv, arglen);
	img_mm_clear(&mm);
	free(mmf.data);
	close(pages_fd);

	struct stasis_memory_opts o = { .size = sizeof(o), .pid = 1, .search = "UNIT-MARKER-ACROSS" };
	struct stasis_memory_result *r = NULL;
	struct stasis_error *err = NULL;
	assert_int_equal(stasis_inspect_memory(dir, &o, &r, &err), 0);
	assert_int_equal(r->n_matches, 1);
	assert_int_equal(r->matches[0].addr, addr_across);
	assert_int_equal(r->dumped_bytes, pagemap_pages_bytes(&pm));
	r = stasis_memory_result_free(r);
	o.search = "UNIT-GAP-MARKER";
	assert_int_equal(stasis_inspect_memory(dir, &o, &r, &err), 0);
	assert_int_equal(r->n_matches, 0);
	r = stasis_memory_result_free(r);
	o.search = NULL;
	o.search_regex = "MARKER-A[A-Z]+";
	assert_int_equal(stasis_inspect_memory(dir, &o, &r, &err), 0);
	assert_int_equal(r->n_matches, 1);
	assert_int_equal(r->matches[0].addr, addr_across + 5);
	assert_int_equal(r->matches[0].len, 13);
	r = stasis_memory_result_free(r);
	o.pid = 99;
	assert_int_equal(stasis_inspect_memory(dir, &o, &r, &err), -ESRCH);
	err = stasis_error_free(err);

	struct stasis_inspect_opts io = { .size = sizeof(io),
					  .what = STASIS_INSPECT_CMDLINE | STASIS_INSPECT_FILES };
	struct stasis_inspect *in = NULL;
	assert_int_equal(stasis_inspect(dir, &io, &in, &err), 0);
	assert_string_equal(in->format, "criu-dir");
	assert_int_equal(in->n_processes, 2);
	const struct stasis_inspect_process *p = &in->processes[0];
	assert_string_equal(p->comm, "workload");
	assert_int_equal(p->argc, 3);
	assert_string_equal(p->argv[0], "unit");
	assert_string_equal(p->argv[1], "test");
	char *json = NULL;
	assert_int_equal(stasis_inspect_json(in, &json, &err), 0);
	assert_non_null(strstr(json, "\"/data/counter\""));
	free(json);
	stasis_inspect_free(in);

	/* a damaged image fails naming it */
	char *core = xasprintf("%s/core-1.img", dir);
	assert_int_equal(truncate(core, 40), 0);
	io.what = STASIS_INSPECT_PS_TREE;
	assert_true(stasis_inspect(dir, &io, &in, &err) < 0);
	assert_non_null(strstr(stasis_error_message(err), "core-1.img"));
	assert_non_null(strstr(stasis_error_message(err), "offset"));
	stasis_error_free(err);
	free(core);

	img_pagemap_clear(&pm);
	free(argv);
	free(pages);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(real_images_decode),
		cmocka_unit_test(pagemap_counts_come_from_the_new_field),
		cmocka_unit_test(truncations_and_bit_flips_are_errors),
		cmocka_unit_test(hostile_sizes_are_refused),
		cmocka_unit_test(pstree_duplicates_and_cycles_are_refused),
		cmocka_unit_test(pstree_depth_is_bounded),
		cmocka_unit_test(inspect_refuses_a_pstree_with_a_loop),
		cmocka_unit_test(memory_is_searched_across_chunks_not_across_gaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
