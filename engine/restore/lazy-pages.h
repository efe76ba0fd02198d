/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A lazy restore's pages, straight from the archive (lazy-pages.c). */
#ifndef STASIS_ENGINE_RESTORE_LAZY_PAGES_H
#define STASIS_ENGINE_RESTORE_LAZY_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cleanup.h"

struct arc_deferred;
struct lazy_pages;
struct stasis_error;

/*
 * The pagemaps in images_dir, each naming one of the page images the import left in the archive
 * (deferred, which must outlive the result).  -EOPNOTSUPP when a page image cannot be read at
 * random (not checked by a manifest, or a zstd archive without a frame a chunk) or belongs to no
 * pagemap: the restore then unpacks them instead.  With remote ("HOST:PORT", and its token),
 * archive_path is a sparse replica of the archive that server serves: chunks are fetched into it
 * as they are first read (the connection is made here, with TLS when tls is not NULL).
 */
struct arc_tls;
int lazy_pages_open(const char *images_dir, const char *archive_path, const struct arc_deferred *deferred,
		    size_t n_deferred, const char *remote, const char *token, const struct arc_tls *tls,
		    struct lazy_pages **ret, struct stasis_error **err);
/* Every lazy page of the tasks has been handed to the daemon (each is asked for once). */
bool lazy_pages_all_served(const struct lazy_pages *lp);
/* Every page is in: a remote archive's server hears it is no longer needed. */
void lazy_pages_done(struct lazy_pages *lp);
struct lazy_pages *lazy_pages_free(struct lazy_pages *lp);
DEFINE_CLEANUP(struct lazy_pages *, lazy_pages_free)
/* Creates each page image in images_dir, sparse, with the runs CRIU's restore reads itself. */
int lazy_pages_write_eager(struct lazy_pages *lp, const char *images_dir, struct stasis_error **err);
/*
 * What criu lazy-pages asks for: up to nr_pages of task pid's memory at vaddr, each chunk checked.
 * *ret_data (valid until the next call) holds *ret_n >= 1 pages.  -ENOENT for a page the images
 * do not hold; the archive's errors (-EBADMSG for a chunk that does not match its digest).
 */
int lazy_pages_get(struct lazy_pages *lp, uint64_t pid, uint64_t vaddr, uint64_t nr_pages,
		   const void **ret_data, uint64_t *ret_n, struct stasis_error **err);

#endif
