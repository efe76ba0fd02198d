/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writing an archive member as its DIGEST_CHUNK pieces: each is hashed, and (for a member that takes
 * frames) compressed into a zstd frame of its own, on one of a few worker threads, while the caller
 * fills the next; a writer thread hands them on in order.  The work a chunk costs (sha256, zstd)
 * is spread over the cores, and the bytes are copied once: into the chunk (or read there).
 */
#ifndef STASIS_ENGINE_CHUNK_PIPE_H
#define STASIS_ENGINE_CHUNK_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chunk_pipe;
struct digest;

/*
 * Where a chunk goes, on the writing thread, in order: a zstd frame of len bytes holding raw_len
 * bytes of data (frame set), or the data itself (len == raw_len).  0 or -errno.
 */
typedef int (*chunk_pipe_write_fn)(void *data, const void *buf, size_t len, uint64_t raw_len, bool frame);

/* Worker threads for a pipeline: one a core online, at least 1, at most max. */
size_t arc_workers(size_t max);

/* Starts the threads: 0, or -errno (-EAGAIN: no thread could be made; then hash and write inline). */
int chunk_pipe_new(struct chunk_pipe **ret);
/* Stops the threads and frees p; accepts NULL; returns NULL. */
struct chunk_pipe *chunk_pipe_free(struct chunk_pipe *p);

/*
 * A member begins: its chunks' digests go into md (digest_add_chunk), and they go to write(data,
 * ...), as zstd frames when frames is set (the last one padded to ARC_TAR_BLOCK with zeros).
 */
void chunk_pipe_begin(struct chunk_pipe *p, chunk_pipe_write_fn write, void *data, struct digest *md,
		      bool frames);
/*
 * Where the member's next bytes go, so that a reader can put them there itself: *ret_buf and the
 * room there (> 0), waiting for a chunk to be free; or -errno of a write that failed.  Then
 * chunk_pipe_push with that buf copies nothing.
 */
int chunk_pipe_room(struct chunk_pipe *p, void **ret_buf, size_t *ret_room);
/* The member's next bytes: 0, or -errno of a write that failed since chunk_pipe_begin. */
int chunk_pipe_push(struct chunk_pipe *p, const void *buf, size_t len);
/* The member ends: waits until each chunk is hashed and written; 0 or the first -errno. */
int chunk_pipe_end(struct chunk_pipe *p);

#endif
