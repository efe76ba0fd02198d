/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/archive/archive-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/fs.h"
#include "common/xalloc.h"

/* Small jobs keep peak memory low; 2 MiB still lets every core compress. */
#define ZSTD_JOB_SIZE (2u << 20)
/* level 3 costs a fifth more time than 1 on pages and saves 0.2% (docs/design/streaming.md 2.2) */
#define ZSTD_LEVEL 1

/*
 * The archive is written once and never read back by us: its pages are sent to disk as it grows
 * and given back once written, a window behind, so that the page cache does not hold the archive
 * while the frozen container and its images hold their memory too (the final fsync has less left)
 */
#define ZSTD_WRITEBACK_WINDOW (64 << 20)

/*
 * Where the file takes O_DIRECT, the archive goes to disk without the page cache (ARC_DIRECT_ALIGN
 * says why): a checkpoint's CPU is what its time is made of.  Direct writes must start and end on
 * the device's blocks: the bytes are gathered in an aligned buffer, written a batch at a time, and
 * the last unaligned tail goes through the page cache at the end (zsink_flush).
 */
#define DIRECT_ALIGN ARC_DIRECT_ALIGN
#define DIRECT_BATCH (4u << 20)

bool arc_direct_io = true;

struct zsink {
	int fd;
	ZSTD_CCtx *cctx; /* NULL: bytes go out as they come (an uncompressed archive) */
	void *out;
	size_t out_cap;
	off_t written;	      /* bytes given to the file: where the next one lands */
	off_t flushing;	      /* start of the window whose writeback has been started */
	off_t flushed;	      /* everything before this is on disk and out of the page cache */
	bool in_frame;	      /* bytes went into a frame not ended yet */
	int direct_fd;	      /* the file opened with O_DIRECT; -1: through the page cache */
	unsigned char *stage; /* DIRECT_BATCH + DIRECT_ALIGN, aligned: bytes not on disk yet */
	size_t staged;
	off_t stage_at; /* where stage[0] goes (a multiple of DIRECT_ALIGN until the tail) */
};

static void write_behind(struct zsink *z)
{
	if (z->written - z->flushing < ZSTD_WRITEBACK_WINDOW)
		return;
	/* start writing this window; wait for the previous one and drop it */
	(void)sync_file_range(z->fd, z->flushing, z->written - z->flushing, SYNC_FILE_RANGE_WRITE);
	if (z->flushing > z->flushed) {
		(void)sync_file_range(z->fd, z->flushed, z->flushing - z->flushed,
				      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					      SYNC_FILE_RANGE_WAIT_AFTER);
		(void)posix_fadvise(z->fd, z->flushed, z->flushing - z->flushed, POSIX_FADV_DONTNEED);
		z->flushed = z->flushing;
	}
	z->flushing = z->written;
}

/* the staged bytes: the aligned part with O_DIRECT, or (tail) all of them through the page cache */
static int write_stage(struct zsink *z, bool tail)
{
	size_t n = tail ? z->staged : z->staged & ~(size_t)(DIRECT_ALIGN - 1);
	if (!n)
		return 0;
	int r;
	if (tail) {
		r = pwrite_all(z->fd, z->stage, n, z->stage_at);
	} else if ((r = pwrite_all(z->direct_fd, z->stage, n, z->stage_at)) == -EINVAL) {
		/* a file system that opens O_DIRECT but refuses this write: the page cache from here on */
		close(z->direct_fd);
		z->direct_fd = -1;
		n = z->staged;
		r = pwrite_all(z->fd, z->stage, n, z->stage_at);
	}
	if (r < 0)
		return r;
	memmove(z->stage, z->stage + n, z->staged - n);
	z->staged -= n;
	z->stage_at += (off_t)n;
	return 0;
}

static int write_out(struct zsink *z, const void *p, size_t len)
{
	if (z->direct_fd < 0) {
		int r = pwrite_all(z->fd, p, len, z->written);
		if (r < 0)
			return r;
		z->written += (off_t)len;
		write_behind(z);
		return 0;
	}
	const unsigned char *src = p;
	while (len) {
		size_t n = DIRECT_BATCH + DIRECT_ALIGN - z->staged;
		if (n > len)
			n = len;
		memcpy(z->stage + z->staged, src, n);
		z->staged += n;
		z->written += (off_t)n;
		src += n;
		len -= n;
		if (z->staged >= DIRECT_BATCH) {
			int r = write_stage(z, false);
			if (r < 0)
				return r;
			/* it fell back to the page cache: the rest goes there */
			if (z->direct_fd < 0)
				return len ? write_out(z, src, len) : 0;
		}
	}
	return 0;
}

int zsink_flush(struct zsink *z)
{
	return z->direct_fd >= 0 ? write_stage(z, true) : 0;
}

int zsink_pwrite(struct zsink *z, const void *buf, size_t len, off_t at)
{
	const unsigned char *p = buf;
	/* what is still staged is changed there; what went before, in the file */
	if (z->direct_fd >= 0 && at + (off_t)len > z->stage_at) {
		size_t skip = at < z->stage_at ? (size_t)(z->stage_at - at) : 0;
		off_t from = at + (off_t)skip;
		memcpy(z->stage + (from - z->stage_at), p + skip, len - skip);
		len = skip;
	}
	return len ? pwrite_all(z->fd, p, len, at) : 0;
}

static int pump(struct zsink *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
	for (;;) {
		ZSTD_outBuffer out = { z->out, z->out_cap, 0 };
		size_t left = ZSTD_compressStream2(z->cctx, &out, in, mode);
		if (ZSTD_isError(left))
			return -EIO;
		int r = write_out(z, z->out, out.pos);
		if (r < 0)
			return r;
		bool done = mode == ZSTD_e_end ? left == 0 : in->pos == in->size;
		if (done)
			return 0;
	}
}

struct zsink *zsink_new(int fd, bool compress)
{
	struct zsink *z = xzalloc(sizeof(*z));
	z->fd = fd;
	z->written = z->stage_at = lseek(fd, 0, SEEK_CUR);
	z->direct_fd = !arc_direct_io || z->written % DIRECT_ALIGN ? -1 : fd_reopen(fd, O_WRONLY | O_DIRECT);
	if (z->direct_fd >= 0 &&
	    posix_memalign((void **)&z->stage, DIRECT_ALIGN, DIRECT_BATCH + DIRECT_ALIGN)) {
		close(z->direct_fd);
		z->direct_fd = -1;
	}
	if (!compress)
		return z;
	z->cctx = ZSTD_createCCtx();
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = xmalloc(z->out_cap);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	/* fails harmlessly (single-threaded) when libzstd was built without threads */
	if (cpus > 1 && !ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, (int)cpus)))
		ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_jobSize, ZSTD_JOB_SIZE);
	return z;
}

int zsink_put(struct zsink *z, const void *buf, size_t len)
{
	if (!z->cctx)
		return write_out(z, buf, len);
	ZSTD_inBuffer in = { buf, len, 0 };
	z->in_frame |= len > 0;
	return pump(z, &in, ZSTD_e_continue);
}

int zsink_end_frame(struct zsink *z)
{
	/* no frame begun: ending one would write an empty frame where a caller's frame goes next */
	if (!z->cctx || !z->in_frame)
		return 0;
	z->in_frame = false;
	ZSTD_inBuffer in = { NULL, 0, 0 };
	return pump(z, &in, ZSTD_e_end);
}

int zsink_empty_frame(struct zsink *z)
{
	if (!z->cctx)
		return 0;
	z->in_frame = true;
	return zsink_end_frame(z);
}

int zsink_put_raw(struct zsink *z, const void *buf, size_t len)
{
	return write_out(z, buf, len);
}

off_t zsink_offset(const struct zsink *z)
{
	return z->written;
}

bool zsink_compresses(const struct zsink *z)
{
	return z->cctx != NULL;
}

struct zsink *zsink_free(struct zsink *z)
{
	if (!z)
		return NULL;
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	if (z->direct_fd >= 0)
		close(z->direct_fd);
	free(z->stage);
	free(z);
	return NULL;
}

int zstd_decode_frame(const void *src, size_t len, void *dst, size_t cap, size_t *ret_len)
{
	/* exactly one frame: a second one, or a skippable frame, is not a chunk's */
	if (ZSTD_findFrameCompressedSize(src, len) != len)
		return -EBADMSG;
	size_t n = ZSTD_decompress(dst, cap, src, len);
	if (ZSTD_isError(n))
		return -EBADMSG;
	*ret_len = n;
	return 0;
}

/* One context a thread: a whole frame at a time, single-threaded (the callers are the threads). */
struct zframer {
	ZSTD_CCtx *cctx;
};

struct zframer *zframer_new(void)
{
	struct zframer *f = xzalloc(sizeof(*f));
	f->cctx = ZSTD_createCCtx();
	if (!f->cctx)
		abort();
	/* the same frames zsink makes: its level, with a checksum */
	ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_checksumFlag, 1);
	return f;
}

size_t zframe_bound(size_t len)
{
	return ZSTD_compressBound(len);
}

int zframer_encode(struct zframer *f, const void *src, size_t len, void *dst, size_t cap, size_t *ret_len)
{
	size_t n = ZSTD_compress2(f->cctx, dst, cap, src, len);
	if (ZSTD_isError(n))
		return -EIO;
	*ret_len = n;
	return 0;
}

struct zframer *zframer_free(struct zframer *f)
{
	if (!f)
		return NULL;
	ZSTD_freeCCtx(f->cctx);
	free(f);
	return NULL;
}
