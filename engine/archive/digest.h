/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sha256 of archive members (OpenSSL's libcrypto), as the manifest records them.  From manifest
 * format 2 a member longer than one chunk is hashed chunk by chunk: its digest is the sha256 of
 * its chunks' binary sha256 digests, one after the other (a one-level hash list), and the chunks'
 * digests are listed too, so that a reader can check each chunk before passing it on
 * (docs/archive-format.md).  A member of at most one chunk has its plain sha256, as in format 1.
 */
#ifndef STASIS_ENGINE_DIGEST_H
#define STASIS_ENGINE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* manifest format 2's chunk: 4 MiB, a size CRIU's page reads and a core's hashing both suit */
#define DIGEST_CHUNK (4ull << 20)
/* no chunks: the plain sha256 of everything (what format 1 records) */
#define DIGEST_WHOLE UINT64_MAX
#define DIGEST_HEX 65	/* 64 hex digits and a NUL */
#define DIGEST_BYTES 32 /* a sha256, binary */

struct digest;

struct digest *digest_new(uint64_t chunk);
void digest_update(struct digest *d, const void *buf, size_t len);
/* The sha256 of buf, binary: a chunk's, hashed on any thread. */
void digest_sha256(const void *buf, size_t len, unsigned char out[DIGEST_BYTES]);
/*
 * The next whole chunk's sha256 (digest_sha256 of its bytes; the last may be shorter), instead of
 * digest_update with its bytes: the digest comes out the same.  Only chunks, in order, from the
 * member's start.
 */
void digest_add_chunk(struct digest *d, const unsigned char sha[DIGEST_BYTES]);
/* n zero bytes: a sparse member's hole, hashed as the file it makes holds it */
void digest_update_zeros(struct digest *d, uint64_t n);
/* Writes the lowercase hex digest and frees d. */
void digest_finish(struct digest *d, char hex[DIGEST_HEX]);
/*
 * The same, and the chunks' digests when there are two or more (else *ret_chunks NULL, 0):
 * malloc'ed, the number returned.
 */
size_t digest_finish_chunks(struct digest *d, char hex[DIGEST_HEX], char (**ret_chunks)[DIGEST_HEX]);
/*
 * The digest a list of n >= 2 chunk digests (hex) stands for; -EINVAL when one is not 64
 * lowercase hex digits.
 */
int digest_of_chunks(char *const *chunks_hex, size_t n, char hex[DIGEST_HEX]);

#endif
