/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sha256 of archive members (OpenSSL's libcrypto), as the manifest records them. */
#ifndef STASIS_ENGINE_DIGEST_H
#define STASIS_ENGINE_DIGEST_H

#include <stddef.h>

struct digest;

struct digest *digest_new(void);
void digest_update(struct digest *d, const void *buf, size_t len);
/* Writes the lowercase hex digest (65 bytes with NUL) and frees d. */
void digest_finish(struct digest *d, char hex[65]);

#endif
