/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/archive/chunk-pipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/digest.h"

/*
 * A worker a core, up to this: each chunk in flight holds DIGEST_CHUNK in and as much out (a
 * frame of incompressible pages is a little larger than its chunk), and stasis' peak memory is to
 * stay under 64 MiB (issue 16).
 */
#define CHUNK_WORKERS_MAX 3
/* the chunk being filled and the one being written, besides one a worker */
#define CHUNK_SLOTS_EXTRA 2
/* room for the tar padding after the member's last chunk, compressed with it */
#define CHUNK_IN_CAP (DIGEST_CHUNK + ARC_TAR_BLOCK)

struct chunk_slot {
	unsigned char *in;
	size_t len; /* bytes of data in it */
	bool frame; /* compress it into out */
	bool last;  /* the member's last: padded to a tar block before it is compressed */
	unsigned char *out;
	size_t out_len;
	unsigned char sha[DIGEST_BYTES];
	bool done; /* hashed (and compressed): the writer may take it */
	int err;
};

/* Counters only grow: slot n % n_slots holds chunk n, and is free again once written is past n. */
struct chunk_pipe {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct chunk_slot *slots;
	size_t n_slots;
	unsigned long long filled, taken, written;
	size_t fill_len; /* bytes in chunk `filled`, not handed on yet */
	/* the member being written */
	chunk_pipe_write_fn write;
	void *wdata;
	struct digest *md;
	bool frames;
	int werr;
	bool quit;
	pthread_t *workers;
	size_t n_workers;
	pthread_t writer;
	bool writer_started;
};

static void *worker_main(void *arg)
{
	struct chunk_pipe *p = arg;
	struct zframer *zf = NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->quit && p->taken == p->filled)
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->taken == p->filled)
			break;
		struct chunk_slot *s = &p->slots[p->taken++ % p->n_slots];
		pthread_mutex_unlock(&p->lock);
		int r = 0;
		digest_sha256(s->in, s->len, s->sha);
		if (s->frame) {
			size_t len = s->len;
			if (s->last && len % ARC_TAR_BLOCK) {
				size_t pad = ARC_TAR_BLOCK - len % ARC_TAR_BLOCK;
				memset(s->in + len, 0, pad);
				len += pad;
			}
			size_t cap = zframe_bound(CHUNK_IN_CAP);
			if (!s->out)
				s->out = xmalloc(cap);
			if (!zf)
				zf = zframer_new();
			r = zframer_encode(zf, s->in, len, s->out, cap, &s->out_len);
		}
		pthread_mutex_lock(&p->lock);
		s->err = r;
		s->done = true;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	zframer_free(zf);
	return NULL;
}

/* hands each chunk on in order: its digest into the member's, its bytes or frame to write() */
static void *writer_main(void *arg)
{
	struct chunk_pipe *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct chunk_slot *s = &p->slots[p->written % p->n_slots];
		while (!p->quit && (p->written == p->filled || !s->done))
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->written == p->filled || !s->done)
			break;
		bool skip = p->werr != 0;
		pthread_mutex_unlock(&p->lock);
		int r = s->err;
		if (!skip && r == 0) {
			digest_add_chunk(p->md, s->sha);
			r = s->frame ? p->write(p->wdata, s->out, s->out_len, s->len, true)
				     : p->write(p->wdata, s->in, s->len, s->len, false);
		}
		pthread_mutex_lock(&p->lock);
		if (r < 0 && !p->werr)
			p->werr = r;
		s->done = false;
		p->written++;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void stop_threads(struct chunk_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_workers; i++)
		pthread_join(p->workers[i], NULL);
	if (p->writer_started)
		pthread_join(p->writer, NULL);
}

static void destroy(struct chunk_pipe *p)
{
	for (size_t i = 0; i < p->n_slots; i++) {
		free(p->slots[i].in);
		free(p->slots[i].out);
	}
	free(p->slots);
	free(p->workers);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

size_t arc_workers(size_t max)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : (size_t)cpus > max ? max : (size_t)cpus;
}

int chunk_pipe_new(struct chunk_pipe **ret)
{
	size_t want = arc_workers(CHUNK_WORKERS_MAX);
	struct chunk_pipe *p = xzalloc(sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	p->n_slots = want + CHUNK_SLOTS_EXTRA;
	p->slots = xzalloc(p->n_slots * sizeof(*p->slots));
	p->workers = xzalloc(want * sizeof(*p->workers));
	/* threads are a resource the system may refuse (RLIMIT_NPROC, a pids cgroup): EAGAIN */
	int e = pthread_create(&p->writer, NULL, writer_main, p);
	p->writer_started = e == 0;
	for (size_t i = 0; e == 0 && i < want; i++)
		if ((e = pthread_create(&p->workers[i], NULL, worker_main, p)) == 0)
			p->n_workers++;
	/* one worker is enough to be right, if slower */
	if (!p->writer_started || p->n_workers == 0) {
		stop_threads(p);
		destroy(p);
		return -(e ? e : EAGAIN);
	}
	*ret = p;
	return 0;
}

struct chunk_pipe *chunk_pipe_free(struct chunk_pipe *p)
{
	if (!p)
		return NULL;
	stop_threads(p);
	destroy(p);
	return NULL;
}

void chunk_pipe_begin(struct chunk_pipe *p, chunk_pipe_write_fn write, void *data, struct digest *md,
		      bool frames)
{
	pthread_mutex_lock(&p->lock);
	p->write = write;
	p->wdata = data;
	p->md = md;
	p->frames = frames;
	p->werr = 0;
	p->fill_len = 0;
	pthread_mutex_unlock(&p->lock);
}

/* the chunk being filled is handed to the workers (last: the member's last) */
static void publish(struct chunk_pipe *p, bool last)
{
	pthread_mutex_lock(&p->lock);
	struct chunk_slot *s = &p->slots[p->filled % p->n_slots];
	s->len = p->fill_len;
	s->frame = p->frames;
	s->last = last;
	s->done = false;
	s->err = 0;
	p->fill_len = 0;
	p->filled++;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

int chunk_pipe_room(struct chunk_pipe *p, void **ret_buf, size_t *ret_room)
{
	pthread_mutex_lock(&p->lock);
	/* the chunk `filled` reuses the slot of chunk filled - n_slots: wait until that one is written */
	while (p->filled - p->written >= p->n_slots && !p->werr)
		pthread_cond_wait(&p->changed, &p->lock);
	int werr = p->werr;
	struct chunk_slot *s = &p->slots[p->filled % p->n_slots];
	pthread_mutex_unlock(&p->lock);
	if (werr)
		return werr;
	if (!s->in)
		s->in = xmalloc(CHUNK_IN_CAP);
	*ret_buf = s->in + p->fill_len;
	*ret_room = DIGEST_CHUNK - p->fill_len;
	return 0;
}

int chunk_pipe_push(struct chunk_pipe *p, const void *buf, size_t len)
{
	const unsigned char *src = buf;
	while (len) {
		void *to;
		size_t room;
		int r = chunk_pipe_room(p, &to, &room);
		if (r < 0)
			return r;
		size_t n = len < room ? len : room;
		/* bytes a reader put where chunk_pipe_room said are where they go already */
		if (to != src)
			memcpy(to, src, n);
		p->fill_len += n;
		if (p->fill_len == DIGEST_CHUNK)
			publish(p, false);
		src += n;
		len -= n;
	}
	return 0;
}

int chunk_pipe_end(struct chunk_pipe *p)
{
	if (p->fill_len)
		publish(p, true);
	/* the member's write and digest stay until chunk_pipe_begin: no chunk is left to use them */
	pthread_mutex_lock(&p->lock);
	while (p->written != p->filled)
		pthread_cond_wait(&p->changed, &p->lock);
	int werr = p->werr;
	pthread_mutex_unlock(&p->lock);
	return werr;
}
