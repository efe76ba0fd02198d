/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/archive/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define SHA256_BYTES DIGEST_BYTES

struct digest {
	uint64_t chunk;
	EVP_MD_CTX *part; /* the current chunk (DIGEST_WHOLE: everything) */
	uint64_t in_part; /* bytes hashed into it */
	unsigned char (*chunks)[SHA256_BYTES];
	size_t n_chunks;
	bool added; /* the chunks came whole (digest_add_chunk): no bytes in part */
};

static EVP_MD_CTX *sha256_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	return md;
}

static void to_hex(const unsigned char bin[SHA256_BYTES], char hex[DIGEST_HEX])
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < SHA256_BYTES; i++) {
		hex[2 * i] = hx[bin[i] >> 4];
		hex[2 * i + 1] = hx[bin[i] & 15];
	}
	hex[64] = '\0';
}

struct digest *digest_new(uint64_t chunk)
{
	struct digest *d = xzalloc(sizeof(*d));
	d->chunk = chunk ? chunk : DIGEST_WHOLE;
	d->part = sha256_new();
	return d;
}

/* the current chunk is complete: its digest joins the list, a new chunk begins */
static void end_part(struct digest *d)
{
	d->chunks = xgrow(d->chunks, d->n_chunks, sizeof(*d->chunks));
	unsigned int len = 0;
	EVP_DigestFinal_ex(d->part, d->chunks[d->n_chunks], &len);
	d->n_chunks++;
	EVP_DigestInit_ex(d->part, EVP_sha256(), NULL);
	d->in_part = 0;
}

void digest_update(struct digest *d, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len) {
		/* a chunk ends only when a byte comes after it: a member of exactly one chunk is plain */
		if (d->in_part == d->chunk)
			end_part(d);
		uint64_t room = d->chunk - d->in_part;
		size_t n = room < len ? (size_t)room : len;
		EVP_DigestUpdate(d->part, p, n);
		d->in_part += n;
		p += n;
		len -= n;
	}
}

void digest_sha256(const void *buf, size_t len, unsigned char out[DIGEST_BYTES])
{
	unsigned int n = 0;
	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1)
		abort();
}

void digest_add_chunk(struct digest *d, const unsigned char sha[DIGEST_BYTES])
{
	d->chunks = xgrow(d->chunks, d->n_chunks, sizeof(*d->chunks));
	memcpy(d->chunks[d->n_chunks++], sha, SHA256_BYTES);
	d->added = true;
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

size_t digest_finish_chunks(struct digest *d, char hex[DIGEST_HEX], char (**ret_chunks)[DIGEST_HEX])
{
	unsigned char bin[SHA256_BYTES];
	size_t listed = 0;
	if (ret_chunks)
		*ret_chunks = NULL;
	/* whole chunks given: the last is not in part, and a member of one is its plain sha256 */
	if (d->added && d->n_chunks == 1) {
		memcpy(bin, d->chunks[0], SHA256_BYTES);
	} else if (d->n_chunks == 0) {
		unsigned int len = 0;
		EVP_DigestFinal_ex(d->part, bin, &len);
	} else {
		if (!d->added)
			end_part(d);
		EVP_MD_CTX *list = sha256_new();
		EVP_DigestUpdate(list, d->chunks, d->n_chunks * SHA256_BYTES);
		unsigned int len = 0;
		EVP_DigestFinal_ex(list, bin, &len);
		EVP_MD_CTX_free(list);
		if (ret_chunks) {
			*ret_chunks = xreallocarray(NULL, d->n_chunks, sizeof(**ret_chunks));
			for (size_t i = 0; i < d->n_chunks; i++)
				to_hex(d->chunks[i], (*ret_chunks)[i]);
			listed = d->n_chunks;
		}
	}
	to_hex(bin, hex);
	EVP_MD_CTX_free(d->part);
	free(d->chunks);
	free(d);
	return listed;
}

void digest_finish(struct digest *d, char hex[DIGEST_HEX])
{
	digest_finish_chunks(d, hex, NULL);
}

static int from_hex(const char *hex, unsigned char bin[SHA256_BYTES])
{
	if (strspn(hex, "0123456789abcdef") != 64 || hex[64] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < SHA256_BYTES; i++) {
		char pair[3] = { hex[2 * i], hex[2 * i + 1], '\0' };
		bin[i] = (unsigned char)strtoul(pair, NULL, 16);
	}
	return 0;
}

int digest_of_chunks(char *const *chunks_hex, size_t n, char hex[DIGEST_HEX])
{
	EVP_MD_CTX *list = sha256_new();
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char bin[SHA256_BYTES];
		if ((r = from_hex(chunks_hex[i], bin)) == 0)
			EVP_DigestUpdate(list, bin, sizeof(bin));
	}
	unsigned char bin[SHA256_BYTES];
	unsigned int len = 0;
	EVP_DigestFinal_ex(list, bin, &len);
	EVP_MD_CTX_free(list);
	if (r == 0)
		to_hex(bin, hex);
	return r;
}
