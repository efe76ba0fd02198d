/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_COMMON_FS_H
#define STASIS_COMMON_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stasis_error;

/*
 * Opens path read-only (O_CLOEXEC, plus flags such as O_NOFOLLOW) when it is a regular file: a FIFO
 * would block open() and every read forever, and a directory or a device is no file's content.
 * Returns the fd (blocking, as any file's), or -errno with err set: EISDIR for a directory, EINVAL
 * for any other file that is not a regular one (the message says what it is), open's own errno.
 * what starts the messages (NULL: "`path`").
 */
int open_regular(const char *path, int flags, const char *what, struct stasis_error **err);
/*
 * Reads a whole regular file of at most max bytes (NUL-terminated).  -EFBIG when larger; a FIFO,
 * a device or a directory is refused as open_regular() does.
 */
int read_file_capped(const char *path, size_t max, char **ret_buf, size_t *ret_len,
		     struct stasis_error **err);
/* mkdir -p with mode for the created directories. */
int mkdir_p(const char *path, unsigned int mode, struct stasis_error **err);
/* Finds name in $PATH; returns a malloc'ed path or NULL. */
char *find_in_path(const char *name);

/* Removes path and everything below it (no following of symlinks); ENOENT is success. */
int rm_rf(const char *path);
/* Removes parent/name (a directory with its contents, never following symlinks); -errno. */
int rm_rf_at(int parent, const char *name);
/* "a//b/" and "/a/b" -> "/a/b": a container path in the form mount keys use (malloc'ed). */
char *path_clean(const char *p);
enum {
	WRITE_FILE_NOREPLACE = 1 << 0, /* -EEXIST when path exists: never overwrite */
};
/*
 * Writes len bytes as the file path, atomically: a temporary file beside it gets the data and mode,
 * is fsynced and renamed onto path, so readers see the old file or the whole new one, never a part.
 * The temporary file never stays behind.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags,
		      struct stasis_error **err);
/* fsyncs every regular file in dir, then dir itself: what CRIU wrote there is on disk. */
/*
 * len - 1 random letters and digits and a NUL: a name no other run picks (mkstemp's suffix, for
 * names that must be known before the file is made).
 */
void random_suffix(char *buf, size_t len);
/* The bytes of the regular files directly in dir (0 when it cannot be read). */
uint64_t dir_files_bytes(const char *dir);
int fsync_dir_files(const char *dir, struct stasis_error **err);
/*
 * The file fd is open on, opened again through /proc/self/fd with flags (close-on-exec): another
 * file description, say with O_DIRECT.  The new fd, or -1 with errno set.
 */
int fd_reopen(int fd, int flags);
/* Writes all of len bytes at off, retrying short writes and EINTR; 0 or -errno. */
int pwrite_all(int fd, const void *data, size_t len, off_t off);
/* Writes all of len bytes at fd's position (pipes and sockets too), retrying short writes and EINTR. */
int write_all(int fd, const void *data, size_t len);
/* write_all for a socket whose peer may be gone: EPIPE, never a SIGPIPE for the whole process. */
int send_all(int sk, const void *data, size_t len);
/*
 * send_all on a socket with a send timeout (SO_SNDTIMEO): each time the peer took nothing for
 * that long, stalled(arg) says whether to wait on (0) or give up (its -errno).
 */
int send_all_watched(int sk, const void *data, size_t len, int (*stalled)(void *arg), void *arg);
/* Reads exactly len bytes (pipes and sockets too), retrying short reads and EINTR; 0, -errno, or
 * -ENODATA when the stream ends first. */
int read_exact(int fd, void *buf, size_t len);
/* One byte with one fd (SCM_RIGHTS) on a unix socket: 0 or -errno. */
int send_fd(int sk, int fd);
/*
 * Receives what send_fd (or CRIU's streamer) sends: one byte with exactly one fd, close-on-exec,
 * into *ret.  Any other number of fds is closed and -EPROTO; -ECONNRESET at EOF.
 */
int recv_fd(int sk, int *ret);
#endif
