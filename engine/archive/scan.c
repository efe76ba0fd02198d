/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a checkpoint archive without extracting it: one pass hands every member to the caller,
 * who keeps the small ones in memory and lists rootfs-diff.tar from inside the stream; page images
 * are streamed again on demand.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"

static void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* every entry of a file-tree tar as a container path: "etc/x/" -> "/etc/x" */
static int list_tree(struct arc_walk *w, char ***ret, size_t *ret_n, struct stasis_error **err)
{
	char **v = NULL;
	size_t n = 0;
	struct arc_member m;
	int r;
	while ((r = arc_walk_next(w, &m, err)) > 0)
		strv_push(&v, &n, xasprintf("/%s", m.name));
	if (r < 0) {
		strv_free_n(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int arc_list_tar(const char *path, char ***ret, size_t *ret_n, struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk w = { .fd = -1 };
	cleanup_free char *what = xasprintf("`%s`", path);
	int r = arc_walk_open(&w, path, what, ARC_RULES_TREE, ARC_WALK_SPECIAL_OK, err);
	return r < 0 ? r : list_tree(&w, ret, ret_n, err);
}

int arc_scan_list_tar(struct arc_scan_member *m, char ***ret, size_t *ret_n, struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk nested = { .fd = -1 };
	cleanup_free char *what = xasprintf("%s: %s", m->walk->what, m->name);
	int r = arc_walk_open_nested(&nested, m->walk, what, ARC_RULES_TREE, ARC_WALK_SPECIAL_OK, err);
	return r < 0 ? r : list_tree(&nested, ret, ret_n, err);
}

int arc_scan_read(struct arc_scan_member *m, size_t max, unsigned char **ret, size_t *ret_len,
		  struct stasis_error **err)
{
	int r = arc_walk_read(m->walk, max, ret, ret_len, err);
	if (r == -EFBIG)
		return error_setx(err, EBADMSG, "%s: member `%s` is longer than its header says",
				  m->walk->what, m->name);
	return r;
}

int arc_scan(const char *path, arc_scan_fn fn, void *data, struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk w = { .fd = -1 };
	int r = arc_walk_open(&w, path, NULL, ARC_RULES_CHECKPOINT, 0, err);
	if (r < 0)
		return r;
	struct arc_member m;
	while ((r = arc_walk_next(&w, &m, err)) > 0) {
		struct arc_scan_member sm = {
			.name = m.name,
			.size = m.size,
			.is_dir = m.type == ARC_MEMBER_DIR,
			.walk = &w,
		};
		if ((r = fn(data, &sm, err)) < 0)
			break;
	}
	return r < 0 ? r : 0;
}

int arc_stream_members(const char *path, char *const *members, size_t n, arc_chunk_fn fn, void *data,
		       struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk w = { .fd = -1 };
	int r = arc_walk_open(&w, path, NULL, ARC_RULES_CHECKPOINT, 0, err);
	if (r < 0)
		return r;
	struct arc_member m;
	size_t done = 0;
	while (done < n && (r = arc_walk_next(&w, &m, err)) > 0) {
		size_t which = n;
		for (size_t i = 0; i < n && which == n; i++)
			if (strcmp(m.name, members[i]) == 0)
				which = i;
		if (which == n)
			continue;
		done++;
		cleanup_free char *what = xasprintf("%s: member `%s`", w.what, m.name);
		uint64_t end = 0;
		for (;;) {
			const void *buf;
			size_t size;
			la_int64_t off;
			int rc = archive_read_data_block(w.a, &buf, &size, &off);
			if (rc == ARCHIVE_EOF) {
				r = 0;
				break;
			}
			if (rc != ARCHIVE_OK) {
				r = arc_walk_fail(&w, m.name, err);
				break;
			}
			if ((r = arc_walk_check_block(&w, off, size, end, what, err)) < 0)
				break;
			end = (uint64_t)off + size;
			r = fn(data, which, (uint64_t)off, buf, size, err);
			if (r != 0)
				break;
		}
		if (r < 0)
			break;
		r = 0;
	}
	return r < 0 ? r : 0;
}
