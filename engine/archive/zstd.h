/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_ENGINE_ARCHIVE_ZSTD_H
#define STASIS_ENGINE_ARCHIVE_ZSTD_H

struct archive;

/*
 * Opens a libarchive writer onto fd through our own multi-threaded zstd stream: libarchive's zstd
 * filter cannot bound zstd's job size, and its default jobs cost stasis twice its memory budget.
 * Returns ARCHIVE_OK or ARCHIVE_FATAL (with the archive's error set).
 */
int archive_write_open_zstd_fd(struct archive *a, int fd);

#endif
