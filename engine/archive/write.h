/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_ENGINE_ARCHIVE_WRITE_H
#define STASIS_ENGINE_ARCHIVE_WRITE_H

#include <stddef.h>

struct stasis_error;
struct archive_writer;

/*
 * Streams a tar archive (compress: "zstd", "gzip" or "none") to a temporary file beside final_path;
 * archive_writer_commit() adds the manifest, fsyncs and renames it into place (mode 0600), so a
 * crash or ENOSPC never leaves a partial archive under the final name.
 */
int archive_writer_open(const char *final_path, const char *compress, struct archive_writer **ret,
			struct stasis_error **err);
int archive_writer_add_dir(struct archive_writer *w, const char *name, struct stasis_error **err);
int archive_writer_add_buffer(struct archive_writer *w, const char *name, const void *buf, size_t len,
			      struct stasis_error **err);
int archive_writer_add_file(struct archive_writer *w, const char *name, const char *path,
			    struct stasis_error **err);
/* manifest_head: JSON members written before "members" (format, versions); may be NULL. */
int archive_writer_commit(struct archive_writer *w, const char *criu_version, struct stasis_error **err);
/* Removes the temporary file; accepts NULL. */
void archive_writer_abort(struct archive_writer *w);

/* Writes an uncompressed tar of the given relative paths under base (metadata, xattrs, hardlinks kept). */
int archive_write_tree(const char *tar_path, const char *base, char *const *paths, size_t n,
		       struct stasis_error **err);

#endif
