/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/archive/digest.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct digest *digest_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	return (struct digest *)md;
}

void digest_update(struct digest *d, const void *buf, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)d, buf, len);
}

void digest_update_zeros(struct digest *d, uint64_t n)
{
	static const unsigned char zeros[1u << 16];
	while (n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		digest_update(d, zeros, k);
		n -= k;
	}
}

void digest_finish(struct digest *d, char hex[65])
{
	static const char hx[] = "0123456789abcdef";
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex((EVP_MD_CTX *)d, bin, &len);
	for (unsigned int i = 0; i < len && i < 32; i++) {
		hex[2 * i] = hx[bin[i] >> 4];
		hex[2 * i + 1] = hx[bin[i] & 15];
	}
	hex[64] = '\0';
	EVP_MD_CTX_free((EVP_MD_CTX *)d);
}
