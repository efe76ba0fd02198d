/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"

/* what a file that is not a regular one is, in the words of a message */
static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "of an unknown type";
	}
}

int open_regular(const char *path, int flags, const char *what, struct stasis_error **err)
{
	cleanup_free char *label = what ? NULL : xasprintf("`%s`", path);
	if (!what)
		what = label;
	/*
	 * O_NONBLOCK: opening a FIFO for reading waits for a writer, forever; with it the open
	 * returns at once and the type check below refuses it.  O_NOCTTY: a terminal given as a
	 * file never becomes our controlling terminal.
	 */
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | flags);
	if (fd < 0)
		return error_set(err, errno, "open %s", what);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return error_set(err, errno, "stat %s", what);
	if (S_ISDIR(st.st_mode))
		return error_setx(err, EISDIR, "%s is a directory", what);
	if (!S_ISREG(st.st_mode))
		return error_setx(err, EINVAL, "%s is %s, not a regular file", what, file_kind(st.st_mode));
	/* the caller reads as from any file: blocking, as regular files always are */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return error_set(err, errno, "fcntl %s", what);
	return TAKE_FD(fd);
}

int read_file_capped(const char *path, size_t max, char **ret_buf, size_t *ret_len, struct stasis_error **err)
{
	cleanup_close int fd = open_regular(path, 0, NULL, err);
	if (fd < 0)
		return fd;
	size_t cap = 4096, len = 0;
	cleanup_free char *buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > max)
				return error_setx(err, EFBIG, "`%s` is larger than %zu bytes", path, max);
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "read `%s`", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		return error_setx(err, EFBIG, "`%s` is larger than %zu bytes", path, max);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}

int mkdir_p(const char *path, unsigned int mode, struct stasis_error **err)
{
	cleanup_free char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return error_set(err, errno, "mkdir `%s`", p);
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

char *find_in_path(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	cleanup_free char *copy = xstrdup(path);
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *cand = xasprintf("%s/%s", dir, name);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

int rm_rf_at(int parent, const char *name)
{
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			if (rm_rf_at(dirfd(d), de->d_name) < 0)
				r = -errno;
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return r;
}

int rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

char *path_clean(const char *p)
{
	char *out = xmalloc(strlen(p) + 2), *o = out;
	*o++ = '/';
	for (const char *s = p; *s; s++)
		if (*s != '/' || o[-1] != '/')
			*o++ = *s;
	if (o > out + 1 && o[-1] == '/')
		o--;
	*o = '\0';
	return out;
}

/* how a *_all writer puts its bytes out */
enum put_way {
	PUT_WRITE,  /* write(): at the fd's position */
	PUT_PWRITE, /* pwrite(): at an offset */
	PUT_SEND,   /* send(MSG_NOSIGNAL): a socket whose peer may be gone */
};

/*
 * all of len bytes, retrying short writes and EINTR: 0 or -errno; a send that timed out
 * (SO_SNDTIMEO) asks stalled, when there is one, whether to go on
 */
static int put_all(int fd, const void *data, size_t len, off_t off, enum put_way way,
		   int (*stalled)(void *arg), void *arg)
{
	for (size_t done = 0; done < len;) {
		const char *p = (const char *)data + done;
		ssize_t n = way == PUT_PWRITE ? pwrite(fd, p, len - done, off + (off_t)done)
			    : way == PUT_SEND ? send(fd, p, len - done, MSG_NOSIGNAL)
					      : write(fd, p, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && stalled) {
			int r = stalled(arg);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

int fd_reopen(int fd, int flags)
{
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	return open(self, flags | O_CLOEXEC);
}

int pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	return put_all(fd, data, len, off, PUT_PWRITE, NULL, NULL);
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags,
		      struct stasis_error **err)
{
	cleanup_free char *tmp = xasprintf("%s.tmp-XXXXXX", path);
	cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "create a temporary file for `%s`", path);
	int r = 0;
	if (fchmod(fd, mode) < 0 || pwrite_all(fd, data, len, 0) < 0 || fsync(fd) < 0)
		r = error_set(err, errno, "write `%s`", tmp);
	else if (flags & WRITE_FILE_NOREPLACE ? renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0
					      : rename(tmp, path) < 0)
		r = error_set(err, errno, "write `%s`", path);
	if (r < 0)
		unlink(tmp);
	return r;
}

int fsync_dir_files(const char *dir, struct stasis_error **err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return error_set(err, errno, "open `%s`", dir);
	int walk = dup(dfd);
	cleanup_closedir DIR *d = walk >= 0 ? fdopendir(walk) : NULL;
	if (!d) {
		if (walk >= 0)
			close(walk);
		return error_set(err, errno, "read `%s`", dir);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		cleanup_close int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fsync(fd) < 0)
			return error_set(err, errno, "fsync `%s/%s`", dir, de->d_name);
	}
	if (fsync(dfd) < 0)
		return error_set(err, errno, "fsync `%s`", dir);
	return 0;
}

uint64_t dir_files_bytes(const char *dir)
{
	cleanup_closedir DIR *d = opendir(dir);
	uint64_t total = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	return total;
}

void random_suffix(char *buf, size_t len)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char rnd[64];
	if (len == 0 || len > sizeof(rnd) || getrandom(rnd, len - 1, 0) != (ssize_t)(len - 1))
		abort();
	for (size_t i = 0; i + 1 < len; i++)
		buf[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
	buf[len - 1] = '\0';
}

int write_all(int fd, const void *data, size_t len)
{
	return put_all(fd, data, len, 0, PUT_WRITE, NULL, NULL);
}

int send_all(int sk, const void *data, size_t len)
{
	return put_all(sk, data, len, 0, PUT_SEND, NULL, NULL);
}

int send_all_watched(int sk, const void *data, size_t len, int (*stalled)(void *arg), void *arg)
{
	return put_all(sk, data, len, 0, PUT_SEND, stalled, arg);
}

int read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENODATA;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int send_fd(int sk, int fd)
{
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sk, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

int recv_fd(int sk, int *ret)
{
	char byte;
	struct iovec iov = { &byte, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)
	};
	ssize_t n;
	do
		n = recvmsg(sk, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -ECONNRESET;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	/* exactly one fd: any other number is closed, not kept */
	size_t n_fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	int fds[2] = { -1, -1 };
	memcpy(fds, CMSG_DATA(c), (n_fds < 2 ? n_fds : 2) * sizeof(int));
	if (n_fds != 1 || (msg.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < n_fds && i < 2; i++)
			close(fds[i]);
		return -EPROTO;
	}
	*ret = fds[0];
	return 0;
}
