/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hashing and writing an archive member on two threads while the caller decompresses the next
 * blocks (a restore) or reads the next pages (a streamed checkpoint): they would otherwise run one
 * after the other on one core (docs/benchmarks.md).
 */
#ifndef STASIS_ENGINE_COPY_PIPE_H
#define STASIS_ENGINE_COPY_PIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct copy_pipe;
struct digest;

/* Starts the two workers: 0, or -EAGAIN (or another -errno) when a thread cannot be made. */
int copy_pipe_new(struct copy_pipe **ret);
/* Stops the workers and frees p; accepts NULL; returns NULL. */
struct copy_pipe *copy_pipe_free(struct copy_pipe *p);

/* The next blocks go to fd (at their offsets) and, when md is not NULL, into md. */
void copy_pipe_begin(struct copy_pipe *p, int fd, struct digest *md);
/* The same, written by write(data, ...) on the writing thread: 0 or -errno. */
typedef int (*copy_pipe_write_fn)(void *data, const void *buf, size_t len, off_t off);
void copy_pipe_begin_fn(struct copy_pipe *p, copy_pipe_write_fn write, void *data, struct digest *md);
/*
 * Queues a copy of buf for both workers; blocks while the ring is full.  Returns 0, or -errno of a
 * write that failed since copy_pipe_begin (the block is then dropped).
 */
int copy_pipe_push(struct copy_pipe *p, const void *buf, size_t len, off_t off);
/* Queues a hole of len bytes: hashed as zeros, in order with the blocks around it, never written. */
int copy_pipe_push_hole(struct copy_pipe *p, uint64_t len);
/* Waits until every queued block is hashed and written; returns 0 or the first write's -errno. */
int copy_pipe_end(struct copy_pipe *p);

#endif
