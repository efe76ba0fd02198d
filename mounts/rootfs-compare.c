/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rootfs diff of a plain-directory rootfs: there is no upper dir to read, so the rootfs is
 * compared with the unchanged image it was made from (--rootfs-base).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"

static int list_dir(int dirfd, char ***ret, size_t *ret_n)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strv_push(ret, ret_n, xstrdup(de->d_name));
	int r = errno ? -errno : 0;
	closedir(d);
	strv_sort(*ret, *ret_n);
	return r;
}

static bool same_content(int a_dir, int b_dir, const char *name, off_t size)
{
	/*
	 * O_NONBLOCK: the container may have swapped the file for a FIFO since it was stat'ed, and
	 * opening a FIFO for reading would wait for a writer forever; a regular file ignores the flag
	 */
	cleanup_close int a = openat(a_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	cleanup_close int b = openat(b_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat sa, sb;
	if (a < 0 || b < 0 || fstat(a, &sa) < 0 || fstat(b, &sb) < 0 || !S_ISREG(sa.st_mode) ||
	    !S_ISREG(sb.st_mode))
		return false;
	char ba[65536], bb[65536];
	for (off_t done = 0; done < size;) {
		ssize_t na = read(a, ba, sizeof(ba));
		if (na <= 0)
			return false;
		ssize_t nb = read(b, bb, (size_t)na);
		if (nb != na || memcmp(ba, bb, (size_t)na) != 0)
			return false;
		done += na;
	}
	return true;
}

static bool same_link(int a_dir, int b_dir, const char *name)
{
	char la[4096], lb[4096];
	ssize_t na = readlinkat(a_dir, name, la, sizeof(la));
	ssize_t nb = readlinkat(b_dir, name, lb, sizeof(lb));
	return na >= 0 && na == nb && memcmp(la, lb, (size_t)na) == 0;
}

static bool differs(int dir, int base, const char *name, const struct stat *a, const struct stat *b)
{
	if ((a->st_mode & S_IFMT) != (b->st_mode & S_IFMT) || a->st_mode != b->st_mode ||
	    a->st_uid != b->st_uid || a->st_gid != b->st_gid)
		return true;
	if (S_ISREG(a->st_mode))
		return a->st_size != b->st_size || !same_content(dir, base, name, a->st_size);
	if (S_ISLNK(a->st_mode))
		return !same_link(dir, base, name);
	if (S_ISCHR(a->st_mode) || S_ISBLK(a->st_mode))
		return a->st_rdev != b->st_rdev;
	return false;
}

static int walk(int dir, int base, const char *rel, char *const *excludes, struct mnt_diff *d, unsigned depth,
		struct stasis_error **err)
{
	if (depth > 256)
		return error_setx(err, ELOOP, "rootfs diff: `/%s` is nested too deep", rel);
	cleanup_strv char **names = NULL, **base_names = NULL;
	size_t n = 0, n_base = 0;
	int r = list_dir(dir, &names, &n);
	if (r == 0 && base >= 0)
		r = list_dir(base, &base_names, &n_base);
	if (r < 0)
		return error_set(err, r, "rootfs diff: read `/%s`", rel);

	for (size_t i = 0; i < n; i++) {
		cleanup_free char *path = rel[0] ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		cleanup_free char *abs = xasprintf("/%s", path);
		if (mnt_path_excluded(excludes, abs))
			continue;
		if (d->n_changed + d->n_deleted > MNT_DIFF_MAX_ENTRIES)
			return error_setx(err, EFBIG, "rootfs diff: more than %d entries",
					  MNT_DIFF_MAX_ENTRIES);
		struct stat st, bst;
		if (fstatat(dir, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return error_set(err, errno, "rootfs diff: stat `%s`", abs);
		bool in_base = base >= 0 && fstatat(base, names[i], &bst, AT_SYMLINK_NOFOLLOW) == 0;
		if (!in_base || differs(dir, base, names[i], &st, &bst))
			strv_push(&d->changed, &d->n_changed, xstrdup(path));
		if (!S_ISDIR(st.st_mode))
			continue;
		cleanup_close int sub =
			openat(dir, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return error_set(err, errno, "rootfs diff: open `%s`", abs);
		cleanup_close int bsub =
			in_base && S_ISDIR(bst.st_mode)
				? openat(base, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				: -1;
		r = walk(sub, bsub, path, excludes, d, depth + 1, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n_base; i++) {
		cleanup_free char *abs =
			rel[0] ? xasprintf("/%s/%s", rel, base_names[i]) : xasprintf("/%s", base_names[i]);
		struct stat st;
		if (mnt_path_excluded(excludes, abs) ||
		    fstatat(dir, base_names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		strv_push(&d->deleted, &d->n_deleted, TAKE_PTR(abs));
	}
	return 0;
}

int mnt_diff_dirs(const char *rootfs, const char *base, char *const *excludes, struct mnt_diff *ret,
		  struct stasis_error **err)
{
	cleanup_close int dir = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return error_set(err, errno, "rootfs diff: open rootfs `%s`", rootfs);
	cleanup_close int b = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b < 0)
		return error_set(err, errno, "rootfs diff: open --rootfs-base `%s`", base);
	struct mnt_diff d = { 0 };
	int r = walk(dir, b, "", excludes, &d, 0, err);
	if (r < 0) {
		mnt_diff_clear(&d);
		return r;
	}
	strv_sort(d.deleted, d.n_deleted);
	*ret = d;
	return 0;
}
