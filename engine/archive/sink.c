/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A tar stream whose members may start before their size is known (a page image CRIU is still
 * writing), on a seekable file, uncompressed or as zstd frames.  Such a member's header goes out
 * first as a placeholder of a fixed encoded size: its own raw-block zstd frame (or the bare header
 * uncompressed), rewritten in place with the real size once the member ends.  A .tar.zst made of
 * several frames is one valid zstd stream, so every tar and zstd reader takes the result.
 * docs/design/streaming.md section 3 has the byte layout.
 */
#include "engine/archive/archive.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/digest.h"

/* a tar block, and the fields of a ustar header (POSIX.1-1988, as GNU tar and libarchive read it) */
#define TAR_BLOCK ARC_TAR_BLOCK
#define USTAR_NAME_MAX 100
#define USTAR_PREFIX_MAX 155
/* 11 octal digits: a size from 8 GiB on is written in base 256 (GNU), which libarchive reads */
#define USTAR_OCTAL_SIZE_MAX 077777777777ull

/*
 * A zstd frame holding one raw (stored) block of TAR_BLOCK bytes: magic, frame header descriptor
 * 0x60 (single segment, a 2-byte content size stored minus 256, no checksum), the size, then the
 * block header (last block, raw, TAR_BLOCK bytes).  522 bytes whatever the header says.
 */
static const unsigned char ZSTD_RAW_FRAME_PREFIX[] = {
	0x28,
	0xb5,
	0x2f,
	0xfd, /* ZSTD_MAGICNUMBER */
	0x60, /* descriptor */
	(TAR_BLOCK - 256) & 0xff,
	(TAR_BLOCK - 256) >> 8, /* content size */
	(TAR_BLOCK << 3 | 1) & 0xff,
	(TAR_BLOCK << 3 | 1) >> 8 & 0xff,
	0x00, /* block header */
};

/*
 * A restore reads the small members from the tail the index names and leaves the pages' frames
 * unread (import.c); its format is ZSTD_SKIPPABLE_INDEX's (archive-internal.h).
 */

struct streamed_member {
	char *name;
	uint64_t size;
	/* zstd: where each DIGEST_CHUNK of its data starts a frame of its own, then where the last ends */
	off_t *frames;
	size_t n_frames;
};

struct arc_sink {
	int fd;
	struct zsink *z;
	time_t mtime;
	struct streamed_member *streamed;
	size_t n_streamed;
	off_t tail_at; /* the first frame after the last streamed member */
	/* files written since the last streamed member: one before another is not in the tail */
	size_t plain_files;
	bool no_index;
	/* the member whose size is not known yet */
	bool open;
	char *name;
	off_t header_at;   /* where its placeholder is in the file (-1: its header is final) */
	uint64_t declared; /* the size its header gave, or ARC_SIZE_UNKNOWN */
	uint64_t size;
	/*
	 * A streamed member of a zstd archive starts a new frame at each DIGEST_CHUNK of its data: a
	 * lazy restore decompresses the one chunk a page fault needs, and checks it (index.c).
	 */
	off_t *frames;
	size_t n_frames;
	/* its chunks came as frames made by the caller (arc_sink_append_frame), padding included */
	bool framed;
};

static void frame_starts(struct arc_sink *s)
{
	s->frames = xgrow(s->frames, s->n_frames, sizeof(*s->frames));
	s->frames[s->n_frames++] = zsink_offset(s->z);
}

/* width - 1 octal digits and a NUL, as ustar wants (v fits: the callers see to it) */
static void octal(char *field, size_t width, uint64_t v)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
}

int arc_ustar_header(unsigned char h[TAR_BLOCK], const char *name, uint64_t size, time_t mtime, bool dir)
{
	memset(h, 0, TAR_BLOCK);
	size_t len = strlen(name);
	if (len == 0)
		return -EINVAL;
	if (len <= USTAR_NAME_MAX) {
		memcpy(h, name, len);
	} else {
		/* prefix/name, split at a slash, as ustar allows */
		const char *cut = NULL;
		for (const char *p = name; (p = strchr(p, '/')); p++)
			if ((size_t)(p - name) <= USTAR_PREFIX_MAX && strlen(p + 1) <= USTAR_NAME_MAX && p[1])
				cut = p;
		if (!cut)
			return -ENAMETOOLONG;
		memcpy(h + 345, name, (size_t)(cut - name));
		memcpy(h, cut + 1, strlen(cut + 1));
	}
	octal((char *)h + 100, 8, dir ? 0700 : 0600);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	if (size <= USTAR_OCTAL_SIZE_MAX) {
		octal((char *)h + 124, 12, size);
	} else {
		/* base 256: the high bit of the first byte marks it, the rest big-endian */
		h[124] = 0x80;
		for (int i = 11; i >= 1; i--, size >>= 8)
			h[124 + i] = size & 0xff;
	}
	octal((char *)h + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0));
	h[156] = dir ? '5' : '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	/* the checksum is the sum of the bytes with its own field as spaces */
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	octal((char *)h + 148, 7, sum);
	h[155] = ' ';
	return 0;
}

int arc_sink_open(int fd, bool zstd, time_t mtime, struct arc_sink **ret, struct stasis_error **err)
{
	if (lseek(fd, 0, SEEK_CUR) < 0)
		return error_set(err, errno, "a streamed archive needs a file it can seek back in");
	struct arc_sink *s = xzalloc(sizeof(*s));
	s->fd = fd;
	s->z = zsink_new(fd, zstd);
	s->mtime = mtime;
	*ret = s;
	return 0;
}

static int sink_fail(int r, const char *what, struct stasis_error **err)
{
	if (r == -EIO)
		return error_setx(err, EIO, "archive: zstd failed writing %s", what);
	return error_set(err, -r, "archive: write %s", what);
}

/* zeros up to the end of the member's last tar block */
static int pad(struct arc_sink *s, uint64_t size)
{
	static const unsigned char zeros[TAR_BLOCK];
	size_t rest = size % TAR_BLOCK;
	return rest ? zsink_put(s->z, zeros, TAR_BLOCK - rest) : 0;
}

int arc_sink_add(struct arc_sink *s, const char *name, const void *data, size_t len,
		 struct stasis_error **err)
{
	int r = arc_sink_begin(s, name, len, err);
	if (r == 0)
		r = arc_sink_append(s, data, len, err);
	return r < 0 ? r : arc_sink_end(s, err);
}

int arc_sink_add_dir(struct arc_sink *s, const char *name, struct stasis_error **err)
{
	unsigned char h[TAR_BLOCK];
	int r = arc_ustar_header(h, name, 0, s->mtime, true);
	if (r < 0)
		return error_setx(err, -r, "archive: member name `%s`", name);
	return (r = zsink_put(s->z, h, sizeof(h))) < 0 ? sink_fail(r, name, err) : 0;
}

int arc_sink_begin(struct arc_sink *s, const char *name, uint64_t size, struct stasis_error **err)
{
	if (s->open)
		return error_setx(err, EBUSY, "archive: `%s` before `%s` has ended", name, s->name);
	bool known = size != ARC_SIZE_UNKNOWN;
	unsigned char h[TAR_BLOCK];
	int r = arc_ustar_header(h, name, known ? size : 0, s->mtime, false);
	if (r < 0)
		return error_setx(err, -r, "archive: member name `%s`", name);
	if (known) {
		if ((r = zsink_put(s->z, h, sizeof(h))) < 0)
			return sink_fail(r, name, err);
		s->header_at = -1;
		s->plain_files++;
	} else {
		/* a file between streamed members would be in no frame the index points at */
		if (s->plain_files)
			s->no_index = true;
		/* the placeholder is a frame of its own: the compressed data around it end and start anew */
		if ((r = zsink_end_frame(s->z)) < 0)
			return sink_fail(r, name, err);
		s->header_at = zsink_offset(s->z);
		if (zsink_compresses(s->z))
			r = zsink_put_raw(s->z, ZSTD_RAW_FRAME_PREFIX, sizeof(ZSTD_RAW_FRAME_PREFIX));
		if (r < 0 || (r = zsink_put_raw(s->z, h, sizeof(h))) < 0)
			return sink_fail(r, name, err);
		if (zsink_compresses(s->z))
			frame_starts(s);
	}
	s->open = true;
	s->name = xstrdup(name);
	s->declared = size;
	s->size = 0;
	s->framed = false;
	return 0;
}

bool arc_sink_takes_frames(const struct arc_sink *s)
{
	return s->open && s->n_frames > 0;
}

int arc_sink_append_frame(struct arc_sink *s, const void *frame, size_t len, uint64_t raw_len,
			  struct stasis_error **err)
{
	/* a frame a chunk, whole chunks but the last: the index's frames are then the chunks' */
	if (!arc_sink_takes_frames(s) || s->size % DIGEST_CHUNK || raw_len > DIGEST_CHUNK ||
	    (s->size && !s->framed))
		return error_setx(err, EINVAL, "archive: `%s`: a frame that is not its next chunk's",
				  s->open ? s->name : "(no member)");
	if (s->size)
		frame_starts(s);
	int r = zsink_put_raw(s->z, frame, len);
	if (r < 0)
		return sink_fail(r, s->name, err);
	s->framed = true;
	s->size += raw_len;
	return 0;
}

int arc_sink_append(struct arc_sink *s, const void *data, size_t len, struct stasis_error **err)
{
	if (s->framed)
		return error_setx(err, EINVAL, "archive: `%s`: bytes after its frames", s->name);
	if (s->declared != ARC_SIZE_UNKNOWN && len > s->declared - s->size)
		return error_setx(err, EIO, "archive: `%s` grew past the %llu bytes its header gave", s->name,
				  (unsigned long long)s->declared);
	const unsigned char *p = data;
	while (len > 0) {
		uint64_t in_chunk = s->size % DIGEST_CHUNK;
		int r = 0;
		if (s->n_frames && in_chunk == 0 && s->size > 0) {
			r = zsink_end_frame(s->z);
			if (r == 0)
				frame_starts(s);
		}
		size_t take = s->n_frames && len > DIGEST_CHUNK - in_chunk ? (size_t)(DIGEST_CHUNK - in_chunk)
									   : len;
		if (r < 0 || (r = zsink_put(s->z, p, take)) < 0)
			return sink_fail(r, s->name, err);
		s->size += take;
		p += take;
		len -= take;
	}
	return 0;
}

int arc_sink_end(struct arc_sink *s, struct stasis_error **err)
{
	if (s->declared != ARC_SIZE_UNKNOWN && s->size != s->declared)
		return error_setx(err, EIO,
				  "archive: `%s` ended after %llu of the %llu bytes its header gave", s->name,
				  (unsigned long long)s->size, (unsigned long long)s->declared);
	int r = s->framed ? 0 : pad(s, s->size);
	if (r < 0)
		return sink_fail(r, s->name, err);
	if (s->header_at >= 0) {
		/* the header in its placeholder, now that the size is known: same length, same place */
		unsigned char h[TAR_BLOCK];
		if ((r = arc_ustar_header(h, s->name, s->size, s->mtime, false)) < 0)
			return error_setx(err, -r, "archive: member name `%s`", s->name);
		/* an empty member is one empty chunk: a frame of nothing, as readers of its frames expect */
		r = s->n_frames && s->size == 0 ? zsink_empty_frame(s->z) : zsink_end_frame(s->z);
		if (r < 0)
			return sink_fail(r, s->name, err);
		off_t at = s->header_at + (zsink_compresses(s->z) ? (off_t)sizeof(ZSTD_RAW_FRAME_PREFIX) : 0);
		if ((r = zsink_pwrite(s->z, h, sizeof(h), at)) < 0)
			return sink_fail(r, s->name, err);
		if (s->n_frames)
			frame_starts(s);
		s->streamed = xgrow(s->streamed, s->n_streamed, sizeof(*s->streamed));
		s->streamed[s->n_streamed++] =
			(struct streamed_member){ xstrdup(s->name), s->size, s->frames, s->n_frames };
		s->frames = NULL;
		s->n_frames = 0;
		s->tail_at = zsink_offset(s->z);
		s->plain_files = 0;
	}
	s->open = false;
	free(s->name);
	s->name = NULL;
	return 0;
}

/* the index frame (see ZSTD_SKIPPABLE_INDEX), after the archive's last frame */
static int write_index(struct arc_sink *s)
{
	char *text = NULL;
	size_t text_len = 0;
	FILE *f = open_memstream(&text, &text_len);
	if (!f)
		return -errno;
	fprintf(f, "stasis-index 1\ntail %lld\n", (long long)s->tail_at);
	for (size_t i = 0; i < s->n_streamed; i++)
		fprintf(f, "member %llu %s\n", (unsigned long long)s->streamed[i].size, s->streamed[i].name);
	/* `frames I OFF...`: the I-th member line's chunk frames (index.c says what a reader makes of it) */
	for (size_t i = 0; i < s->n_streamed; i++) {
		if (!s->streamed[i].n_frames)
			continue;
		fprintf(f, "frames %zu", i);
		for (size_t k = 0; k < s->streamed[i].n_frames; k++)
			fprintf(f, " %lld", (long long)s->streamed[i].frames[k]);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	uint32_t len = (uint32_t)strlen(text);
	/* zstd frames are little-endian, and so is the length at the end */
	uint32_t head[2] = { htole32(ZSTD_SKIPPABLE_INDEX), htole32(len + 8) };
	uint32_t len_le = htole32(len);
	int r = zsink_put_raw(s->z, head, sizeof(head));
	if (r == 0)
		r = zsink_put_raw(s->z, text, len);
	if (r == 0)
		r = zsink_put_raw(s->z, &len_le, sizeof(len_le));
	if (r == 0)
		r = zsink_put_raw(s->z, ARC_INDEX_MAGIC, 4);
	free(text);
	return r;
}

int arc_sink_finish(struct arc_sink *s, struct stasis_error **err)
{
	static const unsigned char end[2 * TAR_BLOCK];
	if (s->open)
		return error_setx(err, EBUSY, "archive: finished while `%s` had not ended", s->name);
	int r = zsink_put(s->z, end, sizeof(end));
	if (r == 0)
		r = zsink_end_frame(s->z);
	/* an uncompressed archive needs none: a reader seeks over the pages */
	if (r == 0 && s->n_streamed && !s->no_index && zsink_compresses(s->z))
		r = write_index(s);
	if (r == 0)
		r = zsink_flush(s->z);
	return r < 0 ? sink_fail(r, "the end of the archive", err) : 0;
}

struct arc_sink *arc_sink_free(struct arc_sink *s)
{
	if (!s)
		return NULL;
	zsink_free(s->z);
	free(s->name);
	for (size_t i = 0; i < s->n_streamed; i++) {
		free(s->streamed[i].name);
		free(s->streamed[i].frames);
	}
	free(s->streamed);
	free(s->frames);
	free(s);
	return NULL;
}
