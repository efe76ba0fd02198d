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
#include "engine/archive/chunk-pipe.h"
#include "engine/archive/digest.h"

/*
 * chunks kept decoded: the one being served, the ones loaded ahead, and room for a fault elsewhere
 * (a lazy restore's guard holds them, in the container's memory cgroup: 4 MiB each)
 */
#define CHUNK_CACHE 6
/* read-ahead workers: each loads one of the next chunks (read, decompressed, checked) */
#define CHUNK_WORKERS 2
/*
 * chunks loaded (read, decompressed, checked) before they are needed, by the read-ahead workers:
 * twice their number, so that a worker the scheduler held back does not stall the daemon's pull
 * (1 GiB all in: 1.45 s on average here, against 1.64 s with 2 ahead)
 */
#define CHUNK_LOAD_AHEAD (2 * CHUNK_WORKERS)
/* chunks the disk is asked to read before they are needed */
#define CHUNK_READ_AHEAD 4
/* the last frame also holds the tar padding after the member's data */
#define TAR_PADDING_MAX 511

enum slot_state {
	SLOT_EMPTY,
	SLOT_QUEUED,  /* to be read ahead: a worker, or the caller if it needs it first, loads it */
	SLOT_LOADING, /* being filled */
	SLOT_READY,   /* index's bytes, checked */
};

struct cached_chunk {
	size_t index;
	unsigned char *data;
	size_t len;
	uint64_t used; /* when last read: the least recent goes first */
	enum slot_state state;
};

/* what is read from the file (a frame, or a chunk as it is): one a thread, aligned for O_DIRECT */
struct frame_buf {
	unsigned char *data;
	size_t cap;
};

/* room for len bytes, aligned for O_DIRECT (what it held is gone) */
static void frame_reserve(struct frame_buf *f, size_t len)
{
	if (len <= f->cap)
		return;
	free(f->data);
	if (posix_memalign((void **)&f->data, ARC_DIRECT_ALIGN, len))
		abort();
	f->cap = len;
}

struct arc_chunks {
	char *path;
	const struct arc_deferred *d;
	int fd;
	/*
	 * The archive opened with O_DIRECT (-1: read through the page cache): when streamed whole, and
	 * once the read-ahead workers run (they keep the next chunks coming; filling the page cache
	 * cost more than the reads here).  Before that, a lone fault's chunk comes through the page
	 * cache, with the disk's read-ahead (POSIX_FADV_WILLNEED) for the ones after it.
	 */
	int direct_fd;
	struct frame_buf frame;
	struct cached_chunk cache[CHUNK_CACHE];
	uint64_t clock;
	/*
	 * Read-ahead (arc_chunks_read_ahead): workers load the next chunks after the one last read
	 * while that one is used.  The lock guards the slots' states; a slot's bytes belong to whoever
	 * set it LOADING, or to the caller once READY.
	 */
	size_t n_workers;
	pthread_t workers[CHUNK_WORKERS];
	struct frame_buf worker_frames[CHUNK_WORKERS];
	size_t worker_seq;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool stop;
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
	c->direct_fd = -1;
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
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < c->n_workers; i++) {
		pthread_join(c->workers[i], NULL);
		free(c->worker_frames[i].data);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->changed);
	free(c->fetched);
	if (c->remote)
		close(c->replica);
	if (c->direct_fd >= 0)
		close(c->direct_fd);
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

/*
 * Bytes [at, at + len) of the archive into frame (*ret pointing at them): with O_DIRECT the blocks
 * around them, else just them through the page cache (a replica being fetched is read that way:
 * its bytes were just written there).  -EIO when the file is shorter.
 */
static int read_span(struct arc_chunks *c, struct frame_buf *frame, off_t at, size_t len,
		     const unsigned char **ret)
{
	if (c->direct_fd >= 0 && !c->remote) {
		off_t from = at & ~(off_t)(ARC_DIRECT_ALIGN - 1);
		size_t span =
			((size_t)(at - from) + len + ARC_DIRECT_ALIGN - 1) & ~(size_t)(ARC_DIRECT_ALIGN - 1);
		frame_reserve(frame, span);
		ssize_t got = pread(c->direct_fd, frame->data, span, from);
		if (got >= 0 || errno != EINVAL) {
			if (got < (ssize_t)(at - from) + (ssize_t)len)
				return -EIO;
			*ret = frame->data + (at - from);
			return 0;
		}
		/* a file system that opens O_DIRECT but refuses the read: the page cache, then */
	}
	frame_reserve(frame, len);
	if (pread(c->fd, frame->data, len, at) != (ssize_t)len)
		return -EIO;
	*ret = frame->data;
	return 0;
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
	if (n + 1 < ahead && c->direct_fd < 0)
		(void)posix_fadvise(c->fd, end, chunk_file_at(d, ahead) - end, POSIX_FADV_WILLNEED);
	const unsigned char *src;
	size_t len = (size_t)(end - at);
	if (read_span(c, frame, at, len, &src) < 0)
		return d->n_frames ? error_setx(err, EIO,
						"archive `%s`: member `%s`: read its frame %zu (the archive "
						"is shorter than its index says)",
						c->path, d->name, n)
				   : error_setx(err, EIO,
						"archive `%s`: member `%s`: read bytes %llu to %llu (the "
						"archive is shorter than its header says)",
						c->path, d->name, (unsigned long long)n * DIGEST_CHUNK,
						(unsigned long long)n * DIGEST_CHUNK + want);
	if (d->n_frames) {
		size_t got;
		if (zstd_decode_frame(src, len, slot->data, DIGEST_CHUNK + TAR_PADDING_MAX, &got) < 0 ||
		    got < want)
			return error_setx(err, EBADMSG,
					  "archive `%s`: member `%s`: its frame %zu is not a zstd "
					  "frame of its chunk",
					  c->path, d->name, n);
	} else if (len != want) {
		return error_setx(err, EBADMSG, "archive `%s`: member `%s`: chunk %zu is not where it was",
				  c->path, d->name, n);
	} else {
		memcpy(slot->data, src, want);
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

/* the queued slot of the lowest chunk, NULL: none (under the lock) */
static struct cached_chunk *first_queued(struct arc_chunks *c)
{
	struct cached_chunk *first = NULL;
	for (size_t i = 0; i < CHUNK_CACHE; i++)
		if (c->cache[i].state == SLOT_QUEUED && (!first || c->cache[i].index < first->index))
			first = &c->cache[i];
	return first;
}

static void *worker_main(void *data)
{
	struct arc_chunks *c = data;
	pthread_mutex_lock(&c->lock);
	struct frame_buf *frame = &c->worker_frames[c->worker_seq++];
	while (!c->stop) {
		struct cached_chunk *slot = first_queued(c);
		if (!slot) {
			pthread_cond_wait(&c->changed, &c->lock);
			continue;
		}
		slot->state = SLOT_LOADING;
		pthread_mutex_unlock(&c->lock);
		struct stasis_error *e = NULL;
		/* a failure is not kept: the caller meets it again, with its own message, when it needs it */
		int r = load(c, slot->index, slot, frame, &e);
		stasis_error_free(e);
		pthread_mutex_lock(&c->lock);
		slot->state = r == 0 ? SLOT_READY : SLOT_EMPTY;
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

/* the archive opened with O_DIRECT too, where its file system takes that (else it stays -1) */
static void open_direct(struct arc_chunks *c)
{
	if (c->direct_fd >= 0 || !arc_direct_io)
		return;
	c->direct_fd = fd_reopen(c->fd, O_RDONLY | O_DIRECT);
}

void arc_chunks_read_ahead(struct arc_chunks *c)
{
	if (c->n_workers)
		return;
	open_direct(c);
	for (size_t i = 0; i < CHUNK_WORKERS; i++)
		if (pthread_create(&c->workers[c->n_workers], NULL, worker_main, c) == 0)
			c->n_workers++;
}

/* the least recently read slot that nobody fills or is to fill, other than keep; NULL: none (under the lock) */
static struct cached_chunk *victim(struct arc_chunks *c, const struct cached_chunk *keep)
{
	struct cached_chunk *oldest = NULL;
	for (size_t i = 0; i < CHUNK_CACHE; i++) {
		struct cached_chunk *s = &c->cache[i];
		if (s != keep && s->state != SLOT_LOADING && s->state != SLOT_QUEUED &&
		    (!oldest || s->used < oldest->used))
			oldest = s;
	}
	return oldest;
}

/* the slot of chunk n in any state but EMPTY, NULL: none (under the lock) */
static struct cached_chunk *find(struct arc_chunks *c, size_t n)
{
	for (size_t i = 0; i < CHUNK_CACHE; i++)
		if (c->cache[i].state != SLOT_EMPTY && c->cache[i].index == n)
			return &c->cache[i];
	return NULL;
}

/* slot filled with chunk n here, on the caller's thread (it is LOADING: nobody else takes it) */
static int load_here(struct arc_chunks *c, size_t n, struct cached_chunk *slot, struct stasis_error **err)
{
	slot->state = SLOT_LOADING;
	slot->index = n;
	pthread_mutex_unlock(&c->lock);
	int r = load(c, n, slot, &c->frame, err);
	pthread_mutex_lock(&c->lock);
	slot->state = r == 0 ? SLOT_READY : SLOT_EMPTY;
	pthread_cond_broadcast(&c->changed);
	return r;
}

/* the chunk holding byte off, loaded (checked) when it is not cached; the next ones read ahead */
static int chunk_at(struct arc_chunks *c, uint64_t off, struct cached_chunk **ret, struct stasis_error **err)
{
	size_t n = (size_t)(off / DIGEST_CHUNK);
	pthread_mutex_lock(&c->lock);
	struct cached_chunk *slot;
	int r = 0;
	for (;;) {
		slot = find(c, n);
		/* a worker has it in hand: wait for it */
		if (slot && slot->state == SLOT_LOADING) {
			pthread_cond_wait(&c->changed, &c->lock);
			continue;
		}
		/* queued but not begun: sooner here than after the worker's current chunk */
		if (slot && slot->state == SLOT_QUEUED)
			r = load_here(c, n, slot, err);
		if (!slot) {
			if (!(slot = victim(c, NULL))) {
				pthread_cond_wait(&c->changed, &c->lock);
				continue;
			}
			r = load_here(c, n, slot, err);
		}
		break;
	}
	if (r < 0) {
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	slot->used = ++c->clock;
	/* the workers load the next CHUNK_LOAD_AHEAD chunks that are not there yet */
	for (size_t ahead = n + 1;
	     c->n_workers && ahead <= n + CHUNK_LOAD_AHEAD && ahead < ARC_CHUNKS(c->d->size); ahead++) {
		struct cached_chunk *have = find(c, ahead);
		if (have) {
			/* wanted soon: not the next victim */
			have->used = c->clock;
			continue;
		}
		struct cached_chunk *next = victim(c, slot);
		if (!next)
			break;
		next->state = SLOT_QUEUED;
		next->index = ahead;
		next->used = c->clock;
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

/*
 * A member streamed whole (an eager restore feeding CRIU): a worker a core reads, decompresses and
 * checks the next chunks while the caller writes the ones before, in order.  Up to this many.
 */
#define STREAM_WORKERS_MAX 3
/* the chunk being written, besides one a worker */
#define STREAM_SLOTS_EXTRA 1

struct chunk_stream {
	struct arc_chunks *c;
	struct cached_chunk *slots;
	struct frame_buf *frames; /* one a worker */
	int *rc;		  /* a slot's load: 0, or its -errno and its error */
	struct stasis_error **errs;
	bool *ready;
	size_t n_slots, total;
	size_t next;	/* the next chunk a worker takes */
	size_t written; /* chunks written: slot k % n_slots is free once written is past k */
	bool stop;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t n_workers;
	size_t worker_seq;
};

static void *stream_worker(void *data)
{
	struct chunk_stream *st = data;
	pthread_mutex_lock(&st->lock);
	struct frame_buf *frame = &st->frames[st->worker_seq++];
	for (;;) {
		while (!st->stop && st->next < st->total && st->next - st->written >= st->n_slots)
			pthread_cond_wait(&st->changed, &st->lock);
		if (st->stop || st->next == st->total)
			break;
		size_t k = st->next++, i = k % st->n_slots;
		pthread_mutex_unlock(&st->lock);
		struct stasis_error *e = NULL;
		int r = load(st->c, k, &st->slots[i], frame, &e);
		pthread_mutex_lock(&st->lock);
		st->rc[i] = r;
		st->errs[i] = e;
		st->ready[i] = true;
		pthread_cond_broadcast(&st->changed);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int arc_chunks_stream(struct arc_chunks *c, int fd, void (*written)(uint64_t bytes, void *data), void *data,
		      struct stasis_error **err)
{
	/* a replica fetches each chunk as it is read: one reader at a time, through the cache */
	if (c->remote) {
		cleanup_free unsigned char *buf = xmalloc(DIGEST_CHUNK);
		for (uint64_t off = 0; off < c->d->size; off += DIGEST_CHUNK) {
			size_t n =
				c->d->size - off < DIGEST_CHUNK ? (size_t)(c->d->size - off) : DIGEST_CHUNK;
			int r = arc_chunks_read(c, off, buf, n, err);
			if (r == 0 && (r = write_all(fd, buf, n)) < 0)
				return error_set(err, -r, "write `%s`", c->d->name);
			if (r < 0)
				return r;
			if (written)
				written(n, data);
		}
		return 0;
	}
	open_direct(c);
	size_t want = arc_workers(STREAM_WORKERS_MAX);
	struct chunk_stream st = {
		.c = c,
		.n_slots = want + STREAM_SLOTS_EXTRA,
		.total = c->d->size ? ARC_CHUNKS(c->d->size) : 0,
	};
	st.slots = xzalloc(st.n_slots * sizeof(*st.slots));
	st.frames = xzalloc(want * sizeof(*st.frames));
	st.rc = xzalloc(st.n_slots * sizeof(*st.rc));
	st.errs = xzalloc(st.n_slots * sizeof(*st.errs));
	st.ready = xzalloc(st.n_slots * sizeof(*st.ready));
	for (size_t i = 0; i < st.n_slots; i++)
		st.slots[i].data = xmalloc(DIGEST_CHUNK + TAR_PADDING_MAX);
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.changed, NULL);
	pthread_t workers[STREAM_WORKERS_MAX];
	for (size_t i = 0; i < want; i++)
		if (pthread_create(&workers[st.n_workers], NULL, stream_worker, &st) == 0)
			st.n_workers++;
	int r = 0;
	for (size_t k = 0; k < st.total && r == 0; k++) {
		size_t i = k % st.n_slots;
		/* without threads (a pids limit): loaded here, one at a time */
		if (!st.n_workers) {
			st.rc[i] = load(c, k, &st.slots[i], &c->frame, &st.errs[i]);
			st.ready[i] = true;
		}
		pthread_mutex_lock(&st.lock);
		while (!st.ready[i])
			pthread_cond_wait(&st.changed, &st.lock);
		pthread_mutex_unlock(&st.lock);
		if ((r = st.rc[i]) < 0) {
			error_adopt(err, &st.errs[i], r);
			break;
		}
		if ((r = write_all(fd, st.slots[i].data, st.slots[i].len)) < 0) {
			r = error_set(err, -r, "write `%s`", c->d->name);
			break;
		}
		if (written)
			written(st.slots[i].len, data);
		pthread_mutex_lock(&st.lock);
		st.ready[i] = false;
		st.written++;
		pthread_cond_broadcast(&st.changed);
		pthread_mutex_unlock(&st.lock);
	}
	pthread_mutex_lock(&st.lock);
	st.stop = true;
	pthread_cond_broadcast(&st.changed);
	pthread_mutex_unlock(&st.lock);
	for (size_t i = 0; i < st.n_workers; i++)
		pthread_join(workers[i], NULL);
	for (size_t i = 0; i < st.n_slots; i++) {
		free(st.slots[i].data);
		stasis_error_free(st.errs[i]);
	}
	for (size_t i = 0; i < want; i++)
		free(st.frames[i].data);
	free(st.slots);
	free(st.frames);
	free(st.rc);
	free(st.errs);
	free(st.ready);
	pthread_cond_destroy(&st.changed);
	pthread_mutex_destroy(&st.lock);
	return r;
}
