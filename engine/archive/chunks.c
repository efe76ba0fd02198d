/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Random access to a page image left in the archive (a deferred member), one DIGEST_CHUNK at a
 * time, each checked against the manifest before anyone gets a byte of it: what a lazy restore's
 * page server reads when a page fault asks for a page.  A zstd archive written by stasis' streamed
 * checkpoint has a frame for each chunk (its index lists them); an uncompressed one holds the
 * chunks as they are.  Any other archive can only be read in order (scan.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/archive.h"
#include "engine/archive/digest.h"

/* chunks kept decoded: a fault and the background pull each read on where they were */
#define CHUNK_CACHE 4
/* the last frame also holds the tar padding after the member's data */
#define TAR_PADDING_MAX 511

struct cached_chunk {
	size_t index;
	unsigned char *data;
	size_t len;
	uint64_t used; /* when last read: the least recent goes first */
};

struct arc_chunks {
	char *path;
	const struct arc_deferred *d;
	int fd;
	unsigned char *frame; /* a compressed frame read from the file */
	size_t frame_cap;
	struct cached_chunk cache[CHUNK_CACHE];
	uint64_t clock;
};

int arc_chunk_check(const char *path, const struct arc_deferred *d, size_t n, const unsigned char *buf,
		    size_t len, struct stasis_error **err)
{
	if (!d->verified)
		return 0;
	uint64_t from = (uint64_t)n * DIGEST_CHUNK;
	char hex[DIGEST_HEX];
	struct digest *md = digest_new(DIGEST_WHOLE);
	digest_update(md, buf, len);
	digest_finish(md, hex);
	if (n >= d->n_chunks || strcmp(hex, d->chunks[n]) != 0)
		return error_setx(err, EBADMSG,
				  "archive `%s`: member `%s`: bytes %llu to %llu do not match their digest in "
				  "the manifest: the archive was altered or damaged; none of them was used",
				  path, d->name, (unsigned long long)from, (unsigned long long)(from + len));
	return 0;
}

bool arc_deferred_random_access(const struct arc_deferred *d)
{
	/* unchecked bytes at a guessed place would be memory nobody can vouch for */
	if (!d->verified || d->n_chunks != (d->size ? ARC_CHUNKS(d->size) : 0))
		return false;
	return d->n_frames == ARC_CHUNKS(d->size) + 1 || d->data_at >= 0;
}

int arc_chunks_open(const char *archive_path, const struct arc_deferred *d, struct arc_chunks **ret,
		    struct stasis_error **err)
{
	if (!arc_deferred_random_access(d))
		return error_setx(err, EOPNOTSUPP, "archive `%s`: member `%s` can only be read in order",
				  archive_path, d->name);
	cleanup_free char *what = xasprintf("archive `%s`", archive_path);
	int fd = open_regular(archive_path, 0, what, err);
	if (fd < 0)
		return fd;
	struct arc_chunks *c = xzalloc(sizeof(*c));
	c->path = xstrdup(archive_path);
	c->d = d;
	c->fd = fd;
	for (size_t i = 0; i < CHUNK_CACHE; i++)
		c->cache[i].data = xmalloc(DIGEST_CHUNK + TAR_PADDING_MAX);
	*ret = c;
	return 0;
}

struct arc_chunks *arc_chunks_free(struct arc_chunks *c)
{
	if (!c)
		return NULL;
	close(c->fd);
	for (size_t i = 0; i < CHUNK_CACHE; i++)
		free(c->cache[i].data);
	free(c->frame);
	free(c->path);
	free(c);
	return NULL;
}

/* chunk n's bytes into slot, from its frame or straight from the tar */
static int load(struct arc_chunks *c, size_t n, struct cached_chunk *slot, struct stasis_error **err)
{
	const struct arc_deferred *d = c->d;
	size_t want = (size_t)(d->size - (uint64_t)n * DIGEST_CHUNK < DIGEST_CHUNK ? d->size - (uint64_t)n * DIGEST_CHUNK
										  : DIGEST_CHUNK);
	slot->len = 0;
	if (d->n_frames) {
		size_t len = (size_t)(d->frames[n + 1] - d->frames[n]);
		if (len > c->frame_cap) {
			free(c->frame);
			c->frame = xmalloc(len);
			c->frame_cap = len;
		}
		if (pread(c->fd, c->frame, len, d->frames[n]) != (ssize_t)len)
			return error_setx(err, EIO, "archive `%s`: member `%s`: read its frame %zu (the archive is "
					  "shorter than its index says)", c->path, d->name, n);
		size_t got;
		if (zstd_decode_frame(c->frame, len, slot->data, DIGEST_CHUNK + TAR_PADDING_MAX, &got) < 0 ||
		    got < want)
			return error_setx(err, EBADMSG, "archive `%s`: member `%s`: its frame %zu is not a zstd "
					  "frame of its chunk", c->path, d->name, n);
	} else {
		ssize_t got = pread(c->fd, slot->data, want, d->data_at + (off_t)((uint64_t)n * DIGEST_CHUNK));
		if (got != (ssize_t)want)
			return error_setx(err, EIO, "archive `%s`: member `%s`: read bytes %llu to %llu (the "
					  "archive is shorter than its header says)", c->path, d->name,
					  (unsigned long long)n * DIGEST_CHUNK, (unsigned long long)n * DIGEST_CHUNK + want);
	}
	int r = arc_chunk_check(c->path, d, n, slot->data, want, err);
	if (r < 0)
		return r;
	slot->index = n;
	slot->len = want;
	return 0;
}

int arc_chunks_read(struct arc_chunks *c, uint64_t off, void *dst, size_t len, struct stasis_error **err)
{
	if (off > c->d->size || len > c->d->size - off)
		return error_setx(err, ERANGE, "archive `%s`: member `%s` has no bytes %llu to %llu", c->path,
				  c->d->name, (unsigned long long)off, (unsigned long long)(off + len));
	unsigned char *out = dst;
	while (len > 0) {
		size_t n = (size_t)(off / DIGEST_CHUNK);
		struct cached_chunk *slot = NULL, *oldest = &c->cache[0];
		for (size_t i = 0; i < CHUNK_CACHE && !slot; i++) {
			if (c->cache[i].len && c->cache[i].index == n)
				slot = &c->cache[i];
			else if (c->cache[i].used < oldest->used)
				oldest = &c->cache[i];
		}
		if (!slot) {
			slot = oldest;
			int r = load(c, n, slot, err);
			if (r < 0)
				return r;
		}
		slot->used = ++c->clock;
		size_t at = (size_t)(off - (uint64_t)n * DIGEST_CHUNK);
		size_t take = slot->len - at < len ? slot->len - at : len;
		memcpy(out, slot->data + at, take);
		out += take;
		off += take;
		len -= take;
	}
	return 0;
}
