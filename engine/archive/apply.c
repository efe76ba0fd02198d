/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rootfs-diff.tar onto a fresh rootfs.  libarchive reads the tar; every entry is written by us
 * relative to a directory fd reached from the rootfs with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so no entry can write through a symlink or outside the rootfs, whatever
 * the archive holds.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"

struct applier {
	struct arc_walk w;
	const char *tar;
	int rootfd;
	struct arc_disk_budget disk; /* the rootfs' filesystem */
	unsigned long long total;
	char **paths;
	size_t n_paths;
};

static int open_beneath(int rootfd, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

static int refuse(struct applier *ap, struct stasis_error **err, const char *name, const char *why)
{
	return error_setx(err, EPERM, "`%s`: entry `%s`: %s: refused", ap->tar, name, why);
}

/* The directory holding name, created (0755) where the tar skipped it; *base points into name. */
static int parent_fd(struct applier *ap, char *name, const char **base, struct stasis_error **err)
{
	char *slash = strrchr(name, '/');
	if (!slash) {
		*base = name;
		int fd = dup(ap->rootfd);
		return fd < 0 ? error_set(err, errno, "dup") : fd;
	}
	*slash = '\0';
	*base = slash + 1;
	int fd = open_beneath(ap->rootfd, name);
	if (fd < 0 && errno == ENOENT) {
		for (char *p = name;; p++) {
			if (*p != '/' && *p)
				continue;
			char c = *p;
			*p = '\0';
			int r = mkdirat(ap->rootfd, name, 0755);
			int e = errno;
			*p = c;
			if (r < 0 && e != EEXIST)
				break;
			if (!c)
				break;
		}
		fd = open_beneath(ap->rootfd, name);
	}
	int e = errno;
	*slash = '/';
	if (fd < 0)
		return error_setx(err, e == ELOOP || e == EXDEV ? EPERM : e,
				  "`%s`: entry `%s`: its directory leads through a symlink or out of the "
				  "rootfs (%s): refused",
				  ap->tar, name, strerror(e));
	return fd;
}

/* Whatever is in the way of a new entry goes, directories only when the entry is not one. */
static int clear_way(int pfd, const char *base, bool want_dir)
{
	struct stat st;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (want_dir && S_ISDIR(st.st_mode))
		return 0;
	return rm_rf_at(pfd, base);
}

static void set_xattrs(struct archive_entry *e, int fd)
{
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		if (strncmp(name, "trusted.overlay.", 16) != 0)
			fsetxattr(fd, name, value, size, 0);
}

static int apply_entry(struct applier *ap, const struct arc_member *m, struct stasis_error **err)
{
	struct archive_entry *e = m->entry;
	const char *raw = m->name;
	cleanup_free char *name = xstrdup(m->name);
	mode_t type = archive_entry_filetype(e);
	const char *hardlink = m->type == ARC_MEMBER_HARDLINK ? m->link_target : NULL;

	const char *base;
	cleanup_close int pfd = parent_fd(ap, name, &base, err);
	if (pfd < 0)
		return pfd;
	int r = clear_way(pfd, base, type == AE_IFDIR);
	if (r < 0)
		return error_set(err, r, "`%s`: replace `%s`", ap->tar, raw);
	uid_t uid = (uid_t)archive_entry_uid(e);
	gid_t gid = (gid_t)archive_entry_gid(e);
	mode_t perm = archive_entry_perm(e) & 07777;

	if (hardlink) {
		cleanup_free char *target = xstrdup(hardlink);
		const char *tbase;
		cleanup_close int tfd = parent_fd(ap, target, &tbase, err);
		if (tfd < 0)
			return tfd;
		struct stat st;
		if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return refuse(ap, err, raw, "hardlink to something that is not a file of the diff");
		if (linkat(tfd, tbase, pfd, base, 0) < 0)
			return error_set(err, errno, "`%s`: link `%s`", ap->tar, raw);
		return 0;
	}
	if (type == AE_IFLNK) {
		if (symlinkat(m->link_target, pfd, base) < 0)
			return error_set(err, errno, "`%s`: symlink `%s`", ap->tar, raw);
		fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	cleanup_close int fd = -1;
	if (type == AE_IFDIR) {
		if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
			return error_set(err, errno, "`%s`: mkdir `%s`", ap->tar, raw);
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		cleanup_free char *what = xasprintf("`%s`: entry `%s`", ap->tar, raw);
		if ((r = arc_disk_budget_charge(&ap->disk, m->size, what, err)) < 0)
			return r;
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 && (r = arc_walk_copy(&ap->w, fd, NULL, NULL, &ap->total, what, err)) < 0)
			return r;
		if (fd >= 0 && ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
			return error_set(err, errno, "`%s`: `%s`", ap->tar, raw);
	}
	if (fd < 0)
		return error_set(err, errno, "`%s`: create `%s`", ap->tar, raw);
	/* owner before mode: chown clears set-id bits */
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0)
		return error_set(err, errno, "`%s`: owner and mode of `%s`", ap->tar, raw);
	set_xattrs(e, fd);
	if (type == AE_IFREG) {
		struct timespec ts[2] = {
			{ archive_entry_atime(e), archive_entry_atime_nsec(e) },
			{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
		};
		futimens(fd, ts);
	}
	return 0;
}

int arc_apply_tree(const char *tar_path, const char *rootfs, char ***ret_paths, size_t *ret_n,
		   struct stasis_error **err)
{
	struct applier ap = { .tar = tar_path };
	cleanup_close int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return error_set(err, errno, "open rootfs `%s`", rootfs);
	ap.rootfd = rootfd;
	int r = arc_disk_budget_init(&ap.disk, rootfd, rootfs, err);
	if (r < 0)
		return r;
	cleanup_free char *what = xasprintf("`%s`", tar_path);
	r = arc_walk_open(&ap.w, tar_path, what, ARC_RULES_TREE, 0, err);
	struct arc_member m;
	while (r == 0 && (r = arc_walk_next(&ap.w, &m, err)) > 0) {
		r = apply_entry(&ap, &m, err);
		if (r == 0 && ret_paths)
			strv_push(&ap.paths, &ap.n_paths, xstrdup(m.name));
	}
	arc_walk_close(&ap.w);
	arc_disk_budget_clear(&ap.disk);
	if (r == 0 && ret_paths) {
		*ret_paths = TAKE_PTR(ap.paths);
		*ret_n = ap.n_paths;
	}
	strv_freep(&ap.paths);
	return r;
}

int arc_remove_deleted(const char *rootfs, char *const *paths, size_t n, struct stasis_error **err)
{
	cleanup_close int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return error_set(err, errno, "open rootfs `%s`", rootfs);
	struct applier ap = { .tar = "deleted.files", .rootfd = rootfd };
	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i];
		while (*p == '/')
			p++;
		cleanup_free char *name = xstrdup(p);
		if (!arc_name_is_safe(name))
			return refuse(&ap, err, paths[i], "with \"..\"");
		const char *base;
		struct stasis_error *e = NULL;
		int pfd = parent_fd(&ap, name, &base, &e);
		if (pfd < 0) {
			/* the path is already gone with its directory: nothing to delete */
			if (stasis_error_errno(e) != ENOENT)
				return error_adopt(err, &e, pfd);
			stasis_error_free(e);
			continue;
		}
		int r = rm_rf_at(pfd, base);
		close(pfd);
		if (r < 0)
			return error_set(err, r, "deleted.files: remove `%s`", paths[i]);
	}
	return 0;
}
