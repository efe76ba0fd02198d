/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a checkpoint archive without extracting it: one pass keeps the small members in memory
 * and lists rootfs-diff.tar from inside the stream; page images are streamed again on demand.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/names.h"
#include "engine/archive/archive.h"
#include "engine/images/set.h"

#define SCAN_BLOCK (1u << 20)
#define MAX_DIFF_ENTRIES 1000000

static struct archive *open_archive(const char *path, struct stasis_error **err)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, SCAN_BLOCK) != ARCHIVE_OK) {
		int e = archive_errno(a);
		error_setx(err, e > 0 ? e : EIO, "archive `%s`: %s", path,
			   archive_error_string(a) ? archive_error_string(a) : "cannot open");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int ar_error(struct archive *a, const char *path, const char *member, struct stasis_error **err)
{
	int e = archive_errno(a);
	const char *s = archive_error_string(a);
	if (member)
		return error_setx(err, e > 0 ? e : EIO, "archive `%s`: member `%s`: %s", path, member,
				  s ? s : "read error");
	return error_setx(err, e > 0 ? e : EIO, "archive `%s`: %s", path, s ? s : "read error");
}

/* the next regular file member: 1 with its cleaned name, 0 at the end */
static int next_file(struct archive *a, const char *path, struct archive_entry **ret, const char **ret_name,
		     struct stasis_error **err)
{
	for (;;) {
		struct archive_entry *e;
		int rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			return ar_error(a, path, NULL, err);
		const char *name = archive_entry_pathname(e);
		if (!name)
			return error_setx(err, EBADMSG, "archive `%s`: a member without a name", path);
		while (strncmp(name, "./", 2) == 0)
			name += 2;
		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
			continue;
		if (!archive_name_is_safe(name))
			return error_setx(err, EPERM,
					  "archive `%s`: member `%s`: an absolute path or one with \"..\"",
					  path, name);
		*ret = e;
		*ret_name = name;
		return 1;
	}
}

static int read_member(struct archive *a, const char *path, const char *name, size_t size,
		       unsigned char **ret, size_t *ret_len, struct stasis_error **err)
{
	int r = archive_entry_read_all(a, size, ret, ret_len);
	if (r == -EFBIG)
		return error_setx(err, EBADMSG, "archive `%s`: member `%s` is longer than its header says",
				  path, name);
	return r < 0 ? ar_error(a, path, name, err) : 0;
}

/* the nested tar is read straight out of the outer archive's stream */
struct nested {
	struct archive *outer;
	const void *block;
};

static la_ssize_t nested_read(struct archive *inner, void *data, const void **ret)
{
	struct nested *n = data;
	size_t size;
	la_int64_t off;
	int rc = archive_read_data_block(n->outer, ret, &size, &off);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc != ARCHIVE_OK) {
		archive_set_error(inner, archive_errno(n->outer), "%s", archive_error_string(n->outer));
		return -1;
	}
	return (la_ssize_t)size;
}

static int list_tar(struct archive *in, const char *what, char ***ret, size_t *ret_n,
		    struct stasis_error **err)
{
	char **v = NULL;
	size_t n = 0;
	int r = 0;
	for (;;) {
		struct archive_entry *e;
		int rc = archive_read_next_header(in, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
			r = ar_error(in, what, NULL, err);
			break;
		}
		const char *name = archive_entry_pathname(e);
		if (!name)
			continue;
		while (strncmp(name, "./", 2) == 0)
			name += 2;
		if (!*name || strcmp(name, ".") == 0)
			continue;
		if (n >= MAX_DIFF_ENTRIES) {
			r = error_setx(err, EFBIG, "`%s`: more than %d entries", what, MAX_DIFF_ENTRIES);
			break;
		}
		size_t len = strlen(name);
		char *p = xasprintf("/%.*s", (int)(len && name[len - 1] == '/' ? len - 1 : len), name);
		strv_push(&v, &n, p);
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int list_nested(struct archive *outer, const char *path, char ***ret, size_t *ret_n,
		       struct stasis_error **err)
{
	struct nested n = { .outer = outer };
	struct archive *in = archive_read_new();
	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	cleanup_free char *what = xasprintf("%s: %s", path, ARCHIVE_ROOTFS_DIFF);
	int r;
	if (archive_read_open(in, &n, NULL, nested_read, NULL) != ARCHIVE_OK)
		r = ar_error(in, what, NULL, err);
	else
		r = list_tar(in, what, ret, ret_n, err);
	archive_read_free(in);
	return r;
}

int archive_list_tar(const char *path, char ***ret, size_t *ret_n, struct stasis_error **err)
{
	struct archive *a = open_archive(path, err);
	if (!a)
		return -EIO;
	int r = list_tar(a, path, ret, ret_n, err);
	archive_read_free(a);
	return r;
}

int archive_scan(struct image_set *s, unsigned flags, struct stasis_error **err)
{
	struct archive *a = open_archive(s->path, err);
	if (!a)
		return -EIO;
	int r;
	struct archive_entry *e;
	const char *name;
	while ((r = next_file(a, s->path, &e, &name, err)) > 0) {
		if (s->n >= ARCHIVE_READ_MAX_MEMBERS) {
			r = error_setx(err, EFBIG, "archive `%s`: more than %d members", s->path,
				       ARCHIVE_READ_MAX_MEMBERS);
			break;
		}
		if (image_set_find(s, name)) {
			r = error_setx(err, EEXIST, "archive `%s`: member `%s` appears twice", s->path, name);
			break;
		}
		la_int64_t size = archive_entry_size(e);
		if (size < 0)
			size = 0;
		s->m = xreallocarray(s->m, s->n + 1, sizeof(*s->m));
		struct image_member *m = &s->m[s->n++];
		*m = (struct image_member){ .name = xstrdup(name), .size = (uint64_t)size };
		if ((flags & IMAGE_SET_ROOTFS_DIFF) && strcmp(name, ARCHIVE_ROOTFS_DIFF) == 0) {
			r = list_nested(a, s->path, &s->diff_paths, &s->n_diff, err);
			if (r < 0)
				break;
			s->has_rootfs_diff = true;
			continue;
		}
		if (!image_set_wants(name, m->size) || s->loaded_total + m->size > IMAGE_SET_LOADED_MAX)
			continue;
		r = read_member(a, s->path, name, (size_t)m->size, &m->data, &m->len, err);
		if (r < 0)
			break;
		m->loaded = true;
		s->loaded_total += m->len;
	}
	archive_read_free(a);
	return r < 0 ? r : 0;
}

int archive_stream_members(const char *path, char *const *members, size_t n, image_chunk_fn fn, void *ctx,
			   struct stasis_error **err)
{
	struct archive *a = open_archive(path, err);
	if (!a)
		return -EIO;
	int r = 0;
	struct archive_entry *e;
	const char *name;
	size_t done = 0;
	while (done < n && (r = next_file(a, path, &e, &name, err)) > 0) {
		size_t which = n;
		for (size_t i = 0; i < n && which == n; i++)
			if (strcmp(name, members[i]) == 0)
				which = i;
		if (which == n)
			continue;
		done++;
		for (;;) {
			const void *buf;
			size_t size;
			la_int64_t off;
			int rc = archive_read_data_block(a, &buf, &size, &off);
			if (rc == ARCHIVE_EOF) {
				r = 0;
				break;
			}
			if (rc != ARCHIVE_OK) {
				r = ar_error(a, path, name, err);
				break;
			}
			r = fn(ctx, which, (uint64_t)off, buf, size, err);
			if (r != 0)
				break;
		}
		if (r < 0)
			break;
		r = 0;
	}
	archive_read_free(a);
	return r < 0 ? r : 0;
}
