/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_ENGINE_ARCHIVE_READ_H
#define STASIS_ENGINE_ARCHIVE_READ_H

#include <stdbool.h>
#include <stddef.h>

struct archive;
struct copy_pipe;
struct digest;
struct stasis_error;

/* Every extracted byte of one archive stays under this; bigger is not a checkpoint but an attack. */
#define ARCHIVE_READ_MAX_TOTAL (1ull << 40)
#define ARCHIVE_READ_MAX_MEMBERS 100000

struct archive_import {
	bool has_manifest; /* stasis.manifest was present and every digest matched */
	char *criu_version;
};

/* Relative, with no ".." component: the only names archive entries may have. */
bool archive_name_is_safe(const char *name);

/*
 * Copies the current entry's data blocks into fd at their offsets (sparse entries too), counting
 * them into *total and refusing past ARCHIVE_READ_MAX_TOTAL; md (may be NULL) sees every byte.
 * With a pipe (may be NULL) hashing and writing run on its threads.  what ("archive `x`: member
 * `y`") starts every error message.
 */
int archive_copy_entry(struct archive *a, int fd, struct digest *md, struct copy_pipe *pipe,
		       unsigned long long *total, const char *what, struct stasis_error **err);

/*
 * The current entry's data in memory, NUL-terminated: 0, -EFBIG when it holds more than max bytes,
 * -EIO on a read error (archive_error_string(a) says which).
 */
int archive_entry_read_all(struct archive *a, size_t max, unsigned char **ret, size_t *ret_len);

/*
 * Extracts a checkpoint archive (any compression, detected from content) into the empty directory
 * dir.  Every member is checked first: a plain relative name (no "/" prefix, no "..", top level or
 * directly under checkpoint/), a regular file or the checkpoint/ directory, size caps.  With a
 * stasis.manifest every member's sha256 must match and none may be missing or extra; without
 * (podman, CRI-O) the archive must have their structure.  On error dir is emptied again and the
 * message names the member.
 */
int archive_import(const char *archive_path, const char *dir, struct archive_import *ret,
		   struct stasis_error **err);
void archive_import_clear(struct archive_import *a);

/* The same checks as archive_import, hashing each member as it streams by: nothing is written. */
int archive_verify(const char *archive_path, struct archive_import *ret, size_t *ret_members,
		   unsigned long long *ret_bytes, struct stasis_error **err);

/*
 * Applies rootfs-diff.tar to rootfs: directories, regular files, symlinks and hardlinks with their
 * mode, owner, times and xattrs.  Each entry is created relative to a directory fd reached from
 * rootfs without following any symlink and without leaving it; absolute names, "..", devices and
 * links pointing outside are refused with the entry named.  ret_paths (may be NULL): what was written.
 */
int archive_apply_rootfs_diff(const char *tar_path, const char *rootfs, char ***ret_paths, size_t *ret_n,
			      struct stasis_error **err);

/*
 * Removes the paths of deleted.files (container paths) from rootfs, reached the same way: never
 * through a symlink, never outside.  Paths already absent are fine.
 */
int rootfs_remove_deleted(const char *rootfs, char *const *paths, size_t n, struct stasis_error **err);

#endif
