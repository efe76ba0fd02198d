/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mount destinations resolved inside the rootfs the way the kernel resolves them for the container:
 * openat2(RESOLVE_IN_ROOT) keeps every symlink, absolute or "..", inside the root.  This is what
 * runc (securejoin) and crun do before they mount, so our external keys equal theirs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"

static int openat2_in_root(int rootfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (unsigned)(O_PATH | O_CLOEXEC | flags),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

static char *fd_path(int fd)
{
	char link[64], buf[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* rel has no leading '/'; the result is the container path of its longest existing prefix + rest */
static char *resolve(int rootfd, const char *root_real, const char *rel, unsigned depth)
{
	if (!rel[0] || depth > 4096)
		return xstrdup("/");
	cleanup_close int fd = openat2_in_root(rootfd, rel, 0);
	if (fd >= 0) {
		cleanup_free char *real = fd_path(fd);
		size_t l = strlen(root_real);
		if (!real || strncmp(real, root_real, l) != 0)
			return NULL;
		if (l == 1) /* root is "/" */
			l = 0;
		return real[l] ? xstrdup(real + l) : xstrdup("/");
	}
	if (errno != ENOENT)
		return NULL;
	const char *slash = strrchr(rel, '/');
	cleanup_free char *parent = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	const char *name = slash ? slash + 1 : rel;
	cleanup_free char *p = resolve(rootfd, root_real, parent, depth + 1);
	if (!p)
		return NULL;
	const char *sep = strcmp(p, "/") == 0 ? "" : p;
	/* a dangling symlink: the mount would land on its target, which is created then */
	cleanup_close int lfd = openat2_in_root(rootfd, rel, O_NOFOLLOW);
	char target[4096];
	ssize_t n = lfd >= 0 ? readlinkat(lfd, "", target, sizeof(target) - 1) : -1;
	if (n <= 0)
		return xasprintf("%s/%s", sep, name);
	target[n] = '\0';
	cleanup_free char *next =
		target[0] == '/' ? xstrdup(target + 1) : xasprintf("%s/%s", sep + (sep[0] == '/'), target);
	return resolve(rootfd, root_real, next, depth + 1);
}

char *mnt_resolve_in_root(const char *root, const char *path)
{
	cleanup_close int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return NULL;
	cleanup_free char *root_real = fd_path(rootfd);
	if (!root_real)
		return NULL;
	while (*path == '/')
		path++;
	return resolve(rootfd, root_real, path, 0);
}
