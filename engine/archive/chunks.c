/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Random access to a page image left in the archive (a deferred member), one DIGEST_CHUNK at a
 * time, each checked against the manifest before anyone gets a byte of it: what a lazy restore's
 * page server reads when a page fault asks for a page.  A zstd archive written by stasis' streamed
 * checkpoint has a frame for each chunk (its index lists them); an uncompressed one holds the
 * chunks as they are.  Any other archive can only be read in order (scan.c).
 */
#include <errno.h>
#include <pthread.h>
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
/* chunks the disk is asked to read before they are needed */
#define CHUNK_READ_AHEAD 4
/* the last frame also holds the tar padding after the member's data */
#define TAR_PADDING_MAX 511

enum slot_state {
	SLOT_EMPTY,
	SLOT_LOADING, /* the read-ahead worker fills it */
	SLOT_READY,   /* index's bytes, checked */
};

struct cached_chunk {
	size_t index;
	unsigned char *data;
	size_t len;
	uint64_t used; /* when last read: the least recent goes first */
	enum slot_state state;
};

/* a compressed frame read from the file: one for the caller's thread, one for the worker */
struct frame_buf {
	unsigned char *data;
	size_t cap;
};

struct arc_chunks {
	char *path;
	const struct arc_deferred *d;
	int fd;
	struct frame_buf frame;
	struct cached_chunk cache[CHUNK_CACHE];
	uint64_t clock;
	/*
	 * Read-ahead (arc_chunks_read_ahead): a worker loads the chunk after the one last read while
	 * that one is used.  The lock guards the slots' states and job; a slot's bytes belong to
	 * whoever set it LOADING, or to the caller once READY.
	 */
	bool threaded;
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct cached_chunk *job;
	bool stop;
	struct frame_buf worker_frame;
	/* a replica of an archive on another host: each chunk's bytes fetched into it when first read */
	struct arc_remote *remote;
	int replica;
	bool *fetched;
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
		return error_setx(
			err, EBADMSG,
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
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	for (size_t i = 0; i < CHUNK_CACHE; i++)
		c->cache[i].data = xmalloc(DIGEST_CHUNK + TAR_PADDING_MAX);
	*ret = c;
	return 0;
}

struct arc_chunks *arc_chunks_free(struct arc_chunks *c)
{
	if (!c)
		return NULL;
	if (c->threaded) {
		pthread_mutex_lock(&c->lock);
		c->stop = true;
		pthread_cond_broadcast(&c->changed);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->worker, NULL);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->changed);
	free(c->worker_frame.data);
	free(c->fetched);
	if (c->remote)
		close(c->replica);
	close(c->fd);
	for (size_t i = 0; i < CHUNK_CACHE; i++)
		free(c->cache[i].data);
	free(c->frame.data);
	free(c->path);
	free(c);
	return NULL;
}

/* where chunk k's bytes start in the file (k == its chunks: where the last ends) */
static off_t chunk_file_at(const struct arc_deferred *d, size_t k)
{
	if (d->n_frames)
		return d->frames[k];
	uint64_t in_member = (uint64_t)k * DIGEST_CHUNK;
	return d->data_at + (off_t)(in_member < d->size ? in_member : d->size);
}

/* chunk n's bytes into slot, from its frame or straight from the tar */
static int load(struct arc_chunks *c, size_t n, struct cached_chunk *slot, struct frame_buf *frame,
		struct stasis_error **err)
{
	const struct arc_deferred *d = c->d;
	size_t want = (size_t)(d->size - (uint64_t)n * DIGEST_CHUNK < DIGEST_CHUNK
				       ? d->size - (uint64_t)n * DIGEST_CHUNK
				       : DIGEST_CHUNK);
	slot->len = 0;
	off_t at = chunk_file_at(d, n), end = chunk_file_at(d, n + 1);
	if (c->remote && !c->fetched[n]) {
		int r = arc_remote_fetch(c->remote, c->replica, (uint64_t)at, (uint64_t)(end - at), err);
		if (r < 0)
			return error_wrap(err, r, "archive `%s`: member `%s`: chunk %zu", c->path, d->name,
					  n);
		c->fetched[n] = true;
	}
	/* the background pull reads on in order: the disk reads the next chunks while this one is used */
	size_t ahead = n + 1 + CHUNK_READ_AHEAD < ARC_CHUNKS(d->size) ? n + 1 + CHUNK_READ_AHEAD
								      : ARC_CHUNKS(d->size);
	if (n + 1 < ahead)
		(void)posix_fadvise(c->fd, end, chunk_file_at(d, ahead) - end, POSIX_FADV_WILLNEED);
	if (d->n_frames) {
		size_t len = (size_t)(end - at);
		if (len > frame->cap) {
			free(frame->data);
			frame->data = xmalloc(len);
			frame->cap = len;
		}
		if (pread(c->fd, frame->data, len, at) != (ssize_t)len)
			return error_setx(err, EIO,
					  "archive `%s`: member `%s`: read its frame %zu (the archive is "
					  "shorter than its index says)",
					  c->path, d->name, n);
		size_t got;
		if (zstd_decode_frame(frame->data, len, slot->data, DIGEST_CHUNK + TAR_PADDING_MAX, &got) <
			    0 ||
		    got < want)
			return error_setx(err, EBADMSG,
					  "archive `%s`: member `%s`: its frame %zu is not a zstd "
					  "frame of its chunk",
					  c->path, d->name, n);
	} else {
		ssize_t got = pread(c->fd, slot->data, want, at);
		if (got != (ssize_t)want)
			return error_setx(err, EIO,
					  "archive `%s`: member `%s`: read bytes %llu to %llu (the "
					  "archive is shorter than its header says)",
					  c->path, d->name, (unsigned long long)n * DIGEST_CHUNK,
					  (unsigned long long)n * DIGEST_CHUNK + want);
	}
	int r = arc_chunk_check(c->path, d, n, slot->data, want, err);
	if (r < 0)
		return r;
	slot->index = n;
	slot->len = want;
	return 0;
}

static int check_range(const struct arc_chunks *c, uint64_t off, size_t len, struct stasis_error **err)
{
	if (off > c->d->size || len > c->d->size - off)
		return error_setx(err, ERANGE, "archive `%s`: member `%s` has no bytes %llu to %llu", c->path,
				  c->d->name, (unsigned long long)off, (unsigned long long)(off + len));
	return 0;
}

static void *worker_main(void *data)
{
	struct arc_chunks *c = data;
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct cached_chunk *slot = c->job;
		if (!slot) {
			pthread_cond_wait(&c->changed, &c->lock);
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		struct stasis_error *e = NULL;
		/* a failure is not kept: the caller meets it again, with its own message, when it needs it */
		int r = load(c, slot->index, slot, &c->worker_frame, &e);
		stasis_error_free(e);
		pthread_mutex_lock(&c->lock);
		slot->state = r == 0 ? SLOT_READY : SLOT_EMPTY;
		c->job = NULL;
		pthread_cond_broadcast(&c->changed);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int arc_chunks_set_remote(struct arc_chunks *c, struct arc_remote *rm, struct stasis_error **err)
{
	c->replica = open(c->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (c->replica < 0)
		return error_set(err, errno, "the replica `%s`", c->path);
	c->remote = rm;
	c->fetched = xzalloc(ARC_CHUNKS(c->d->size) * sizeof(*c->fetched));
	return 0;
}

void arc_chunks_read_ahead(struct arc_chunks *c)
{
	if (!c->threaded)
		c->threaded = pthread_create(&c->worker, NULL, worker_main, c) == 0;
}

/* the least recently read slot that nobody is filling, other than keep (under the lock) */
static struct cached_chunk *victim(struct arc_chunks *c, const struct cached_chunk *keep)
{
	struct cached_chunk *oldest = NULL;
	for (size_t i = 0; i < CHUNK_CACHE; i++) {
		struct cached_chunk *s = &c->cache[i];
		if (s != keep && s->state != SLOT_LOADING && (!oldest || s->used < oldest->used))
			oldest = s;
	}
	return oldest;
}

/* the slot holding chunk n, waiting for the worker when it is filling it; NULL: none (under the lock) */
static struct cached_chunk *cached(struct arc_chunks *c, size_t n)
{
	for (;;) {
		struct cached_chunk *found = NULL;
		for (size_t i = 0; i < CHUNK_CACHE && !found; i++)
			if (c->cache[i].state != SLOT_EMPTY && c->cache[i].index == n)
				found = &c->cache[i];
		if (!found || found->state == SLOT_READY)
			return found;
		pthread_cond_wait(&c->changed, &c->lock);
	}
}

/* the chunk holding byte off, loaded (checked) when it is not cached; the next one read ahead */
static int chunk_at(struct arc_chunks *c, uint64_t off, struct cached_chunk **ret, struct stasis_error **err)
{
	size_t n = (size_t)(off / DIGEST_CHUNK);
	pthread_mutex_lock(&c->lock);
	struct cached_chunk *slot = cached(c, n);
	if (!slot) {
		slot = victim(c, NULL);
		slot->state = SLOT_EMPTY;
		pthread_mutex_unlock(&c->lock);
		int r = load(c, n, slot, &c->frame, err);
		pthread_mutex_lock(&c->lock);
		if (r < 0) {
			pthread_mutex_unlock(&c->lock);
			return r;
		}
		slot->state = SLOT_READY;
	}
	slot->used = ++c->clock;
	if (c->threaded && !c->job && n + 1 < ARC_CHUNKS(c->d->size) && !cached(c, n + 1)) {
		struct cached_chunk *next = victim(c, slot);
		next->state = SLOT_LOADING;
		next->index = n + 1;
		next->used = c->clock;
		c->job = next;
		pthread_cond_broadcast(&c->changed);
	}
	pthread_mutex_unlock(&c->lock);
	*ret = slot;
	return 0;
}

int arc_chunks_read(struct arc_chunks *c, uint64_t off, void *dst, size_t len, struct stasis_error **err)
{
	int r = check_range(c, off, len, err);
	unsigned char *out = dst;
	while (r == 0 && len > 0) {
		struct cached_chunk *slot;
		if ((r = chunk_at(c, off, &slot, err)) < 0)
			break;
		size_t at = (size_t)(off - (uint64_t)slot->index * DIGEST_CHUNK);
		size_t take = slot->len - at < len ? slot->len - at : len;
		memcpy(out, slot->data + at, take);
		out += take;
		off += take;
		len -= take;
	}
	return r;
}

int arc_chunks_peek(struct arc_chunks *c, uint64_t off, size_t len, const void **ret,
		    struct stasis_error **err)
{
	struct cached_chunk *slot;
	int r = check_range(c, off, len, err);
	if (r < 0 || (r = chunk_at(c, off, &slot, err)) < 0)
		return r;
	size_t at = (size_t)(off - (uint64_t)slot->index * DIGEST_CHUNK);
	if (slot->len - at < len)
		return 0;
	*ret = slot->data + at;
	return 1;
}
