/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a lazy restore's pages are: each pagemap image's runs, with their place in the page image
 * they fill, read from the archive one checked chunk at a time (engine/archive/chunks.c).  The
 * guard's page server answers criu lazy-pages from here, and before the restore the few pages
 * CRIU restores itself (the runs not marked lazy: each thread's stack page, shared memory) are
 * written into sparse page images at their places, which is all a restore reads of them
 * (criu-stream.md B.4).
 */
#include "engine/restore/lazy-pages.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "engine/images/reader.h"
#include "engine/names.h"

/* pagemaps bigger than this are not a container's (a run is a few bytes; 1 TiB in 4 KiB runs is 16 GiB) */
#define PAGEMAP_MAX (256u << 20)
/* the most a reply carries: the daemon takes fewer pages than asked and asks again */
#define LAZY_REPLY_MAX (4u << 20)

struct lazy_run {
	uint64_t vaddr, nr_pages;
	uint64_t off; /* in the page image */
	unsigned flags;
};

struct lazy_map {
	unsigned pid;	       /* 0: shared memory's pagemap (no task asks for it) */
	size_t member;	       /* index into deferred */
	struct lazy_run *runs; /* the present ones, rising */
	size_t n;
};

struct lazy_pages {
	char *archive_path;
	const struct arc_deferred *deferred;
	size_t n_deferred;
	struct arc_chunks **chunks; /* opened when first read */
	struct lazy_map *maps;
	size_t n_maps;
	unsigned char *buf;
	struct arc_remote *remote;   /* the archive is a replica of one on another host */
	uint64_t lazy_pages, served; /* the tasks' lazy pages, and those handed to the daemon */
};

struct lazy_pages *lazy_pages_free(struct lazy_pages *lp)
{
	if (!lp)
		return NULL;
	for (size_t i = 0; i < lp->n_deferred; i++)
		arc_chunks_free(lp->chunks[i]);
	free(lp->chunks);
	arc_remote_free(lp->remote);
	for (size_t i = 0; i < lp->n_maps; i++)
		free(lp->maps[i].runs);
	free(lp->maps);
	free(lp->archive_path);
	free(lp->buf);
	free(lp);
	return NULL;
}

/* the deferred member holding pages-<id>.img, or -1 */
static ssize_t member_of(const struct lazy_pages *lp, unsigned pages_id)
{
	cleanup_free char *name =
		xasprintf(ARCHIVE_CHECKPOINT_DIR "/" CRIU_IMG_ID_FMT(CRIU_IMG_PAGES), pages_id);
	for (size_t i = 0; i < lp->n_deferred; i++)
		if (strcmp(lp->deferred[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static int add_map(struct lazy_pages *lp, const char *dir, const char *file, unsigned pid,
		   struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_free char *data = NULL;
	size_t len = 0;
	int r = read_file_capped(path, PAGEMAP_MAX, &data, &len, err);
	if (r < 0)
		return r;
	cleanup_with(img_pagemap_clear) struct img_pagemap pm = { 0 };
	const struct image_blob blob = { file, (const unsigned char *)data, len };
	if ((r = image_read_pagemap(&blob, &pm, err)) < 0)
		return r;
	ssize_t member = member_of(lp, pm.pages_id);
	if (member < 0)
		return error_setx(err, ENOENT, "`%s` names pages-%u.img, which the archive does not stream",
				  path, pm.pages_id);
	struct lazy_map m = { .pid = pid, .member = (size_t)member };
	uint64_t off = 0, size = lp->deferred[member].size;
	for (size_t i = 0; i < pm.n; i++) {
		const struct img_page_run *run = &pm.runs[i];
		if (!(run->flags & IMG_PE_PRESENT))
			continue;
		uint64_t bytes = run->nr_pages * IMAGE_PAGE_SIZE;
		if (run->nr_pages == 0 || run->nr_pages > size / IMAGE_PAGE_SIZE || bytes > size - off ||
		    (m.n &&
		     run->vaddr < m.runs[m.n - 1].vaddr + m.runs[m.n - 1].nr_pages * IMAGE_PAGE_SIZE)) {
			free(m.runs);
			return error_setx(err, EBADMSG, "`%s`: a run past its pages or out of order", path);
		}
		m.runs = xgrow(m.runs, m.n, sizeof(*m.runs));
		m.runs[m.n++] = (struct lazy_run){ run->vaddr, run->nr_pages, off, run->flags };
		if (pid && (run->flags & IMG_PE_LAZY))
			lp->lazy_pages += run->nr_pages;
		off += bytes;
	}
	lp->maps = xgrow(lp->maps, lp->n_maps, sizeof(*lp->maps));
	lp->maps[lp->n_maps++] = m;
	return 0;
}

int lazy_pages_open(const char *images_dir, const char *archive_path, const struct arc_deferred *deferred,
		    size_t n_deferred, const char *remote, const char *token, const struct arc_tls *tls,
		    struct lazy_pages **ret, struct stasis_error **err)
{
	cleanup_with(lazy_pages_free) struct lazy_pages *lp = xzalloc(sizeof(*lp));
	lp->archive_path = xstrdup(archive_path);
	lp->deferred = deferred;
	lp->n_deferred = n_deferred;
	lp->chunks = xzalloc((n_deferred ? n_deferred : 1) * sizeof(*lp->chunks));
	lp->buf = xmalloc(LAZY_REPLY_MAX);
	int rc = remote ? arc_remote_connect(remote, token, tls, &lp->remote, err) : 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n_deferred; i++)
		if (!arc_deferred_random_access(&deferred[i]))
			return error_setx(
				err, EOPNOTSUPP,
				"member `%s` can only be read in order (no frame a chunk, or no manifest)",
				deferred[i].name);
	cleanup_closedir DIR *d = opendir(images_dir);
	if (!d)
		return error_set(err, errno, "open `%s`", images_dir);
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		unsigned pid;
		unsigned long shmid;
		char tail[8];
		if (sscanf(e->d_name, CRIU_IMG_PAGEMAP "shmem-%lu%7s", &shmid, tail) == 2 &&
		    strcmp(tail, CRIU_IMG_EXT) == 0)
			r = add_map(lp, images_dir, e->d_name, 0, err);
		else if (sscanf(e->d_name, CRIU_IMG_PAGEMAP "%u%7s", &pid, tail) == 2 &&
			 strcmp(tail, CRIU_IMG_EXT) == 0)
			r = add_map(lp, images_dir, e->d_name, pid, err);
	}
	if (r < 0)
		return r;
	/* a page image no pagemap names would be restored as zeros: every one must be accounted for */
	for (size_t i = 0; i < n_deferred; i++) {
		bool named = false;
		for (size_t k = 0; k < lp->n_maps && !named; k++)
			named = lp->maps[k].member == i;
		if (!named && deferred[i].size)
			return error_setx(err, EOPNOTSUPP, "member `%s` belongs to no pagemap",
					  deferred[i].name);
	}
	*ret = TAKE_PTR(lp);
	return 0;
}

static int member_chunks(struct lazy_pages *lp, size_t member, struct stasis_error **err)
{
	if (lp->chunks[member])
		return 0;
	int r = arc_chunks_open(lp->archive_path, &lp->deferred[member], &lp->chunks[member], err);
	if (r == 0 && lp->remote)
		r = arc_chunks_set_remote(lp->chunks[member], lp->remote, err);
	return r;
}

bool lazy_pages_all_served(const struct lazy_pages *lp)
{
	return lp->served >= lp->lazy_pages;
}

void lazy_pages_done(struct lazy_pages *lp)
{
	if (lp->remote)
		arc_remote_bye(lp->remote);
}

static int read_member(struct lazy_pages *lp, size_t member, uint64_t off, void *dst, size_t len,
		       struct stasis_error **err)
{
	int r = member_chunks(lp, member, err);
	return r < 0 ? r : arc_chunks_read(lp->chunks[member], off, dst, len, err);
}

int lazy_pages_write_eager(struct lazy_pages *lp, const char *images_dir, struct stasis_error **err)
{
	for (size_t i = 0; i < lp->n_deferred; i++) {
		const struct arc_deferred *d = &lp->deferred[i];
		cleanup_free char *path =
			xasprintf("%s/%s", images_dir, d->name + strlen(ARCHIVE_CHECKPOINT_DIR "/"));
		cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return error_set(err, errno, "create `%s`", path);
		/* sparse: only what the restore reads is written, at its place */
		if (ftruncate(fd, (off_t)d->size) < 0)
			return error_set(err, errno, "size `%s`", path);
		for (size_t k = 0; k < lp->n_maps; k++) {
			const struct lazy_map *m = &lp->maps[k];
			for (size_t j = 0; m->member == i && j < m->n; j++) {
				const struct lazy_run *run = &m->runs[j];
				if (run->flags & IMG_PE_LAZY)
					continue;
				for (uint64_t done = 0, bytes = run->nr_pages * IMAGE_PAGE_SIZE;
				     done < bytes;) {
					size_t n = bytes - done < LAZY_REPLY_MAX ? (size_t)(bytes - done)
										 : LAZY_REPLY_MAX;
					int r = read_member(lp, i, run->off + done, lp->buf, n, err);
					if (r < 0)
						return r;
					if ((r = pwrite_all(fd, lp->buf, n, (off_t)(run->off + done))) < 0)
						return error_set(err, -r, "write `%s`", path);
					done += n;
				}
			}
		}
	}
	return 0;
}

int lazy_pages_get(struct lazy_pages *lp, uint64_t pid, uint64_t vaddr, uint64_t nr_pages,
		   const void **ret_data, uint64_t *ret_n, struct stasis_error **err)
{
	for (size_t k = 0; k < lp->n_maps; k++) {
		const struct lazy_map *m = &lp->maps[k];
		if (m->pid == 0 || m->pid != pid)
			continue;
		/* the last run starting at or below vaddr */
		size_t lo = 0, hi = m->n;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (m->runs[mid].vaddr <= vaddr)
				lo = mid;
			else
				hi = mid;
		}
		const struct lazy_run *run = m->n ? &m->runs[lo] : NULL;
		if (!run || vaddr < run->vaddr || (vaddr - run->vaddr) / IMAGE_PAGE_SIZE >= run->nr_pages ||
		    vaddr % IMAGE_PAGE_SIZE)
			break;
		uint64_t first = (vaddr - run->vaddr) / IMAGE_PAGE_SIZE;
		uint64_t n = run->nr_pages - first;
		if (n > nr_pages)
			n = nr_pages;
		if (n > LAZY_REPLY_MAX / IMAGE_PAGE_SIZE)
			n = LAZY_REPLY_MAX / IMAGE_PAGE_SIZE;
		uint64_t off = run->off + first * IMAGE_PAGE_SIZE;
		size_t len = (size_t)(n * IMAGE_PAGE_SIZE);
		/* most requests lie in one chunk: handed out from where it was checked, uncopied */
		int r = member_chunks(lp, m->member, err);
		/* the daemon's background pull goes on in order: the next chunk is made ready meanwhile */
		if (r == 0)
			arc_chunks_read_ahead(lp->chunks[m->member]);
		if (r == 0 && (r = arc_chunks_peek(lp->chunks[m->member], off, len, ret_data, err)) == 0) {
			r = arc_chunks_read(lp->chunks[m->member], off, lp->buf, len, err);
			*ret_data = lp->buf;
		}
		if (r < 0)
			return r;
		*ret_n = n;
		lp->served += n;
		return 0;
	}
	return error_setx(
		err, ENOENT,
		"criu lazy-pages asked for the page at %#llx of task %llu, which the images do not hold",
		(unsigned long long)vaddr, (unsigned long long)pid);
}
