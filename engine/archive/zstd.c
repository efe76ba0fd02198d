/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/archive/archive-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
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

struct zsink {
	int fd;
	ZSTD_CCtx *cctx; /* NULL: bytes go out as they come (an uncompressed archive) */
	void *out;
	size_t out_cap;
	off_t written;	/* bytes written to fd */
	off_t flushing; /* start of the window whose writeback has been started */
	off_t flushed;	/* everything before this is on disk and out of the page cache */
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

static int write_out(struct zsink *z, const void *p, size_t len)
{
	int r = write_all(z->fd, p, len);
	if (r < 0)
		return r;
	z->written += (off_t)len;
	write_behind(z);
	return 0;
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
	return pump(z, &in, ZSTD_e_continue);
}

int zsink_end_frame(struct zsink *z)
{
	if (!z->cctx)
		return 0;
	ZSTD_inBuffer in = { NULL, 0, 0 };
	return pump(z, &in, ZSTD_e_end);
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
