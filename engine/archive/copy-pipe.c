/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/archive/copy-pipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/digest.h"

/* 8 x up to 1 MiB in flight: enough to keep both workers busy, little memory */
#define PIPE_SLOTS 8
#define PIPE_BLOCK_MAX (1u << 20)

struct slot {
	char *data;
	size_t cap;
	size_t len;
	off_t off;
	uint64_t zeros; /* a hole: this many zero bytes to hash, nothing to write (data unused) */
	copy_pipe_write_fn write;
	void *wdata;
	struct digest *md;
};

/* Counters only grow: slot n % PIPE_SLOTS is free once both workers are past n. */
struct copy_pipe {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct slot slots[PIPE_SLOTS];
	unsigned long long produced, hashed, written;
	copy_pipe_write_fn write;
	void *wdata;
	struct digest *md;
	int werr;
	bool quit;
	pthread_t hasher, writer;
};

/* One worker: `hash` or write every produced slot, in order. */
static void run_worker(struct copy_pipe *p, bool hash)
{
	unsigned long long *mine = hash ? &p->hashed : &p->written;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->quit && *mine == p->produced)
			pthread_cond_wait(&p->changed, &p->lock);
		if (*mine == p->produced)
			break;
		struct slot *s = &p->slots[*mine % PIPE_SLOTS];
		bool skip = !hash && p->werr;
		pthread_mutex_unlock(&p->lock);
		int r = 0;
		if (hash && s->md && s->zeros)
			digest_update_zeros(s->md, s->zeros);
		else if (hash && s->md)
			digest_update(s->md, s->data, s->len);
		else if (!hash && !skip && !s->zeros && s->write)
			r = s->write(s->wdata, s->data, s->len, s->off);
		pthread_mutex_lock(&p->lock);
		if (r < 0 && !p->werr)
			p->werr = r;
		(*mine)++;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
}

static void *hasher_main(void *arg)
{
	run_worker(arg, true);
	return NULL;
}

static void *writer_main(void *arg)
{
	run_worker(arg, false);
	return NULL;
}

/* wakes the workers that run and waits for them to end */
static void stop_workers(struct copy_pipe *p, bool hasher, bool writer)
{
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	if (hasher)
		pthread_join(p->hasher, NULL);
	if (writer)
		pthread_join(p->writer, NULL);
}

static void destroy(struct copy_pipe *p)
{
	for (size_t i = 0; i < PIPE_SLOTS; i++)
		free(p->slots[i].data);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int copy_pipe_new(struct copy_pipe **ret)
{
	struct copy_pipe *p = xzalloc(sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	/* threads are a resource the system may refuse (RLIMIT_NPROC, a pids cgroup): EAGAIN */
	int e = pthread_create(&p->hasher, NULL, hasher_main, p);
	if (e != 0) {
		destroy(p);
		return -e;
	}
	e = pthread_create(&p->writer, NULL, writer_main, p);
	if (e != 0) {
		stop_workers(p, true, false);
		destroy(p);
		return -e;
	}
	*ret = p;
	return 0;
}

struct copy_pipe *copy_pipe_free(struct copy_pipe *p)
{
	if (!p)
		return NULL;
	stop_workers(p, true, true);
	destroy(p);
	return NULL;
}

void copy_pipe_begin_fn(struct copy_pipe *p, copy_pipe_write_fn write, void *data, struct digest *md)
{
	pthread_mutex_lock(&p->lock);
	p->write = write;
	p->wdata = data;
	p->md = md;
	p->werr = 0;
	pthread_mutex_unlock(&p->lock);
}

static int write_at(void *fd, const void *buf, size_t len, off_t off)
{
	return pwrite_all((int)(intptr_t)fd, buf, len, off);
}

void copy_pipe_begin(struct copy_pipe *p, int fd, struct digest *md)
{
	copy_pipe_begin_fn(p, write_at, (void *)(intptr_t)fd, md);
}

/* the next slot, once both workers are done with it; NULL and *werr when a write failed */
static struct slot *claim_slot(struct copy_pipe *p, int *werr)
{
	pthread_mutex_lock(&p->lock);
	while (p->produced - (p->hashed < p->written ? p->hashed : p->written) >= PIPE_SLOTS)
		pthread_cond_wait(&p->changed, &p->lock);
	*werr = p->werr;
	struct slot *s = &p->slots[p->produced % PIPE_SLOTS];
	pthread_mutex_unlock(&p->lock);
	if (*werr)
		return NULL;
	/* the slot is ours until produced moves past it */
	s->write = p->write;
	s->wdata = p->wdata;
	s->md = p->md;
	s->zeros = 0;
	return s;
}

static void publish_slot(struct copy_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	p->produced++;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

int copy_pipe_push(struct copy_pipe *p, const void *buf, size_t len, off_t off)
{
	const char *src = buf;
	while (len) {
		size_t n = len < PIPE_BLOCK_MAX ? len : PIPE_BLOCK_MAX;
		int werr;
		struct slot *s = claim_slot(p, &werr);
		if (!s)
			return werr;
		if (s->cap < n) {
			free(s->data);
			s->data = xmalloc(n);
			s->cap = n;
		}
		memcpy(s->data, src, n);
		s->len = n;
		s->off = off;
		publish_slot(p);
		src += n;
		off += (off_t)n;
		len -= n;
	}
	return 0;
}

int copy_pipe_push_hole(struct copy_pipe *p, uint64_t len)
{
	if (!len)
		return 0;
	int werr;
	struct slot *s = claim_slot(p, &werr);
	if (!s)
		return werr;
	s->len = 0;
	s->zeros = len;
	publish_slot(p);
	return 0;
}

int copy_pipe_end(struct copy_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->hashed != p->produced || p->written != p->produced)
		pthread_cond_wait(&p->changed, &p->lock);
	int werr = p->werr;
	p->write = NULL;
	p->md = NULL;
	pthread_mutex_unlock(&p->lock);
	return werr;
}
