/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sha256 of archive members (OpenSSL's libcrypto), as the manifest records them. */
#ifndef STASIS_ENGINE_DIGEST_H
#define STASIS_ENGINE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

struct digest;

struct digest *digest_new(void);
void digest_update(struct digest *d, const void *buf, size_t len);
/* n zero bytes: a sparse member's hole, hashed as the file it makes holds it */
void digest_update_zeros(struct digest *d, uint64_t n);
/* Writes the lowercase hex digest (65 bytes with NUL) and frees d. */
void digest_finish(struct digest *d, char hex[65]);

#endif
