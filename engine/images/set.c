/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/images/set.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "engine/names.h"

#define MAX_DIR_FILES ARC_MAX_MEMBERS

struct scan_ctx {
	struct image_set *set;
	unsigned flags;
};

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

bool image_set_wants(const char *name, uint64_t size)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (size > IMAGE_SET_SMALL_MAX || has_prefix(base, CRIU_IMG_PAGES))
		return false;
	size_t len = strlen(base);
	/* rootfs-diff.tar, devshm-checkpoint.tar, tmpfs-dev-*.tar.gz.img: content, not metadata */
	return !strstr(base, ".tar") && !(len > 4 && strcmp(base + len - 4, ".log") == 0);
}

static struct image_member *add_member(struct image_set *s, const char *name, uint64_t size)
{
	/* the archive walker refuses a member twice; a directory cannot hold a name twice */
	if (strmap_put(s->index, name, s->n) < 0)
		return NULL;
	s->m = xgrow(s->m, s->n, sizeof(*s->m));
	s->m[s->n] = (struct image_member){ .name = xstrdup(name), .size = size };
	return &s->m[s->n++];
}

/* the scan's callback: small members are held, rootfs-diff.tar is listed while it passes */
static int on_archive_member(void *data, struct arc_scan_member *am, struct stasis_error **err)
{
	struct scan_ctx *c = data;
	struct image_set *s = c->set;
	if (am->is_dir)
		return 0;
	struct image_member *m = add_member(s, am->name, am->size);
	if (!m)
		return error_setx(err, EEXIST, "archive `%s`: member `%s` appears twice", s->path, am->name);
	if ((c->flags & IMAGE_SET_ROOTFS_DIFF) && strcmp(am->name, ARCHIVE_ROOTFS_DIFF) == 0) {
		int r = arc_scan_list_tar(am, &s->diff_paths, &s->n_diff, err);
		if (r < 0)
			return r;
		s->has_rootfs_diff = true;
		return 0;
	}
	if (!image_set_wants(am->name, m->size) || s->loaded_total + m->size > IMAGE_SET_LOADED_MAX)
		return 0;
	int r = arc_scan_read(am, (size_t)m->size, &m->data, &m->len, err);
	if (r < 0)
		return r;
	m->loaded = true;
	s->loaded_total += m->len;
	return 0;
}

static int scan_dir_level(struct image_set *s, const char *sub, struct stasis_error **err)
{
	cleanup_free char *dir = xasprintf("%s%s%s", s->path, *sub ? "/" : "", sub);
	cleanup_closedir DIR *d = opendir(dir);
	if (!d)
		return error_set(err, errno, "open `%s`", dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (s->n >= MAX_DIR_FILES)
			return error_setx(err, EFBIG, "`%s`: more than %d files", dir, MAX_DIR_FILES);
		cleanup_free char *name = xasprintf("%s%s%s", sub, *sub ? "/" : "", de->d_name);
		add_member(s, name, (uint64_t)st.st_size);
	}
	return 0;
}

static int open_dir(struct image_set *s, unsigned flags, struct stasis_error **err)
{
	cleanup_free char *nested =
		xasprintf("%s/%s/%s", s->path, ARCHIVE_CHECKPOINT_DIR, CRIU_IMG_INVENTORY);
	cleanup_free char *plain = xasprintf("%s/%s", s->path, CRIU_IMG_INVENTORY);
	int r = scan_dir_level(s, "", err);
	if (r < 0)
		return r;
	if (access(nested, F_OK) == 0) {
		s->images = ARCHIVE_CHECKPOINT_DIR "/";
		r = scan_dir_level(s, ARCHIVE_CHECKPOINT_DIR, err);
		if (r < 0)
			return r;
	} else if (access(plain, F_OK) == 0) {
		s->images = "";
	} else {
		return error_setx(err, ENOENT,
				  "`%s`: neither a CRIU image directory (no inventory.img) nor an "
				  "extracted checkpoint (no checkpoint/inventory.img)",
				  s->path);
	}
	if ((flags & IMAGE_SET_ROOTFS_DIFF) && image_set_find(s, ARCHIVE_ROOTFS_DIFF)) {
		cleanup_free char *tar = xasprintf("%s/%s", s->path, ARCHIVE_ROOTFS_DIFF);
		r = arc_list_tar(tar, &s->diff_paths, &s->n_diff, err);
		if (r < 0)
			return r;
		s->has_rootfs_diff = true;
	}
	return 0;
}

int image_set_open(const char *path, unsigned flags, struct image_set **ret, struct stasis_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return error_set(err, errno, "`%s`", path);
	struct image_set *s = xzalloc(sizeof(*s));
	s->path = xstrdup(path);
	s->index = strmap_new();
	int r;
	if (S_ISDIR(st.st_mode)) {
		r = open_dir(s, flags, err);
	} else {
		s->archive = true;
		s->images = ARCHIVE_CHECKPOINT_DIR "/";
		struct scan_ctx c = { .set = s, .flags = flags };
		r = arc_scan(path, on_archive_member, &c, err);
		if (r == 0 && !image_set_find(s, ARCHIVE_CHECKPOINT_DIR "/" CRIU_IMG_INVENTORY))
			r = error_setx(err, EBADMSG,
				       "archive `%s`: no member `checkpoint/inventory.img`: not a "
				       "checkpoint archive",
				       path);
	}
	if (r < 0) {
		image_set_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct image_set *image_set_free(struct image_set *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		free(s->m[i].name);
		free(s->m[i].data);
	}
	free(s->m);
	for (size_t i = 0; i < s->n_diff; i++)
		free(s->diff_paths[i]);
	free(s->diff_paths);
	free(s->path);
	strmap_free(s->index);
	free(s);
	return NULL;
}

struct image_member *image_set_find(struct image_set *s, const char *name)
{
	size_t at;
	return strmap_get(s->index, name, &at) ? &s->m[at] : NULL;
}

bool image_set_has_image(struct image_set *s, const char *image)
{
	cleanup_free char *name = xasprintf("%s%s", s->images, image);
	return image_set_find(s, name) != NULL;
}

static int load(struct image_set *s, const char *name, struct image_blob *ret, struct stasis_error **err)
{
	struct image_member *m = image_set_find(s, name);
	if (!m)
		return -ENOENT;
	if (!m->loaded) {
		if (s->archive || m->size > IMAGE_SET_SMALL_MAX)
			return error_setx(err, EFBIG, "`%s`: member `%s`: %llu bytes, too big to inspect",
					  s->path, name, (unsigned long long)m->size);
		if (s->loaded_total + m->size > IMAGE_SET_LOADED_MAX)
			return error_setx(err, EFBIG, "`%s`: more than %u MiB of metadata", s->path,
					  IMAGE_SET_LOADED_MAX >> 20);
		cleanup_free char *p = xasprintf("%s/%s", s->path, name);
		char *buf = NULL;
		size_t len = 0;
		int r = read_file_capped(p, IMAGE_SET_SMALL_MAX, &buf, &len, err);
		if (r < 0)
			return r;
		m->data = (unsigned char *)buf;
		m->len = len;
		m->loaded = true;
		s->loaded_total += len;
	}
	*ret = (struct image_blob){ .name = m->name,
				    .data = m->data ? m->data : (const unsigned char *)"",
				    .len = m->len };
	return 0;
}

int image_set_image(struct image_set *s, const char *image, struct image_blob *ret, struct stasis_error **err)
{
	cleanup_free char *name = xasprintf("%s%s", s->images, image);
	return load(s, name, ret, err);
}

int image_set_meta(struct image_set *s, const char *name, struct image_blob *ret, struct stasis_error **err)
{
	return load(s, name, ret, err);
}

#define STREAM_BLOCK (1u << 20)

static int stream_file(const char *p, size_t which, arc_chunk_fn fn, void *ctx, struct stasis_error **err)
{
	/* listed as a regular file, but anyone may have put a FIFO there since */
	cleanup_close int fd = open_regular(p, O_NOFOLLOW, NULL, err);
	if (fd < 0)
		return fd;
	cleanup_free unsigned char *buf = xmalloc(STREAM_BLOCK);
	uint64_t off = 0;
	for (;;) {
		ssize_t n = read(fd, buf, STREAM_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set(err, errno, "read `%s`", p);
		if (n == 0)
			return 0;
		int r = fn(ctx, which, off, buf, (size_t)n, err);
		if (r != 0)
			return r < 0 ? r : 0;
		off += (uint64_t)n;
	}
}

int image_set_stream(struct image_set *s, char *const *images, size_t n, arc_chunk_fn fn, void *ctx,
		     struct stasis_error **err)
{
	char **names = xreallocarray(NULL, n + 1, sizeof(char *));
	int r = 0;
	for (size_t i = 0; i < n; i++)
		names[i] = xasprintf("%s%s", s->images, images[i]);
	for (size_t i = 0; i < n && r == 0; i++)
		if (!image_set_find(s, names[i]))
			r = error_setx(err, ENOENT, "`%s`: no `%s`", s->path, names[i]);
	if (r == 0 && s->archive) {
		r = arc_stream_members(s->path, names, n, fn, ctx, err);
	} else {
		for (size_t i = 0; i < n && r == 0; i++) {
			cleanup_free char *p = xasprintf("%s/%s", s->path, names[i]);
			r = stream_file(p, i, fn, ctx, err);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}
