/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a container changed in its overlay rootfs, read from the upper dir: regular entries are
 * changes, whiteouts (character devices 0:0) and opaque directories are deletions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"

bool mnt_path_excluded(char *const *excludes, const char *abs)
{
	for (; excludes && *excludes; excludes++) {
		size_t l = strlen(*excludes);
		if (strncmp(abs, *excludes, l) == 0 && (abs[l] == '\0' || abs[l] == '/'))
			return true;
	}
	return false;
}

void mnt_diff_clear(struct mnt_diff *d)
{
	strv_freep(&d->changed);
	strv_freep(&d->deleted);
	*d = (struct mnt_diff){ 0 };
}

static int walk(int dirfd, const char *rel, char *const *excludes, struct mnt_diff *d, unsigned depth,
		struct stasis_error **err)
{
	if (depth > 256)
		return error_setx(err, ELOOP, "rootfs diff: `%s` is nested too deep", rel);
	int fd = dup(dirfd);
	if (fd < 0)
		return error_set(err, errno, "rootfs diff: dup");
	cleanup_closedir DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return error_set(err, errno, "rootfs diff: open `%s`", rel[0] ? rel : "/");
	}
	/* readdir order is not stable across hosts: collect and sort */
	cleanup_strv char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		strv_push(&names, &n, xstrdup(de->d_name));
	}
	if (errno)
		return error_set(err, errno, "rootfs diff: read `%s`", rel[0] ? rel : "/");
	strv_sort(names, n);

	for (size_t i = 0; i < n; i++) {
		cleanup_free char *path = rel[0] ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		cleanup_free char *abs = xasprintf("/%s", path);
		if (mnt_path_excluded(excludes, abs))
			continue;
		struct stat st;
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return error_set(err, errno, "rootfs diff: stat `%s`", abs);
		if (d->n_changed + d->n_deleted > MNT_DIFF_MAX_ENTRIES)
			return error_setx(err, EFBIG, "rootfs diff: more than %d entries",
					  MNT_DIFF_MAX_ENTRIES);
		if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
			strv_push(&d->deleted, &d->n_deleted, TAKE_PTR(abs));
			continue;
		}
		strv_push(&d->changed, &d->n_changed, xstrdup(path));
		if (!S_ISDIR(st.st_mode))
			continue;
		cleanup_close int sub =
			openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return error_set(err, errno, "rootfs diff: open `%s`", abs);
		char opaque[2] = { 0 };
		cleanup_free char *proc = xasprintf("/proc/self/fd/%d", sub);
		if (getxattr(proc, "trusted.overlay.opaque", opaque, 1) == 1 && opaque[0] == 'y')
			strv_push(&d->deleted, &d->n_deleted, xstrdup(abs));
		int r = walk(sub, path, excludes, d, depth + 1, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int mnt_diff_overlay(const char *upperdir, char *const *excludes, struct mnt_diff *ret,
		     struct stasis_error **err)
{
	cleanup_close int fd = open(upperdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "rootfs diff: open upper dir `%s`", upperdir);
	struct mnt_diff d = { 0 };
	int r = walk(fd, "", excludes, &d, 0, err);
	if (r < 0) {
		mnt_diff_clear(&d);
		return r;
	}
	*ret = d;
	return 0;
}
