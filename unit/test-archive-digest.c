/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Manifest digests: format 2 hashes a member longer than one chunk as the sha256 of its chunks'
 * sha256s, listing them; a member of one chunk keeps its plain sha256.  The readers take format 2
 * (and refuse a chunk list that does not make the member's digest, or does not fit its size) and
 * still take format 1, whose longer members carry their plain sha256.
 */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "engine/archive/digest.h"
#include "include/stasis.h"

#define BIG_BYTES (DIGEST_CHUNK + 5u) /* two chunks, the second of 5 bytes */

static unsigned char *pattern(size_t len)
{
	unsigned char *p = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 2654435761u) >> 11);
	return p;
}

static void plain(const void *buf, size_t len, char hex[DIGEST_HEX])
{
	struct digest *d = digest_new(DIGEST_WHOLE);
	digest_update(d, buf, len);
	digest_finish(d, hex);
}

static void chunked_digests(void **state)
{
	(void)state;
	cleanup_free unsigned char *buf = pattern(BIG_BYTES);
	char want[DIGEST_HEX], got[DIGEST_HEX];
	/* up to one chunk, exactly: the plain sha256, and no list */
	size_t sizes[] = { 0, 1, DIGEST_CHUNK };
	for (size_t i = 0; i < 3; i++) {
		plain(buf, sizes[i], want);
		struct digest *d = digest_new(DIGEST_CHUNK);
		digest_update(d, buf, sizes[i]);
		char(*chunks)[DIGEST_HEX] = NULL;
		assert_int_equal(digest_finish_chunks(d, got, &chunks), 0);
		assert_null(chunks);
		assert_string_equal(got, want);
	}
	/* one byte more: two chunks, whatever the pieces it came in */
	char first[DIGEST_HEX], second[DIGEST_HEX];
	plain(buf, DIGEST_CHUNK, first);
	plain(buf + DIGEST_CHUNK, 5, second);
	char *list[] = { first, second };
	assert_int_equal(digest_of_chunks(list, 2, want), 0);
	size_t steps[] = { 1, 4096, 1000003, BIG_BYTES };
	for (size_t s = 0; s < 4; s++) {
		struct digest *d = digest_new(DIGEST_CHUNK);
		for (size_t off = 0; off < BIG_BYTES; off += steps[s])
			digest_update(d, buf + off, BIG_BYTES - off < steps[s] ? BIG_BYTES - off : steps[s]);
		char(*chunks)[DIGEST_HEX] = NULL;
		assert_int_equal(digest_finish_chunks(d, got, &chunks), 2);
		assert_string_equal(got, want);
		assert_string_equal(chunks[0], first);
		assert_string_equal(chunks[1], second);
		free(chunks);
	}
	/* whole chunks hashed elsewhere (the archive writer's workers) make the same digests */
	size_t whole[] = { 1, DIGEST_CHUNK, BIG_BYTES };
	for (size_t i = 0; i < 3; i++) {
		char by_bytes[DIGEST_HEX];
		struct digest *d = digest_new(DIGEST_CHUNK);
		digest_update(d, buf, whole[i]);
		char(*want_chunks)[DIGEST_HEX] = NULL;
		size_t n = digest_finish_chunks(d, by_bytes, &want_chunks);
		d = digest_new(DIGEST_CHUNK);
		for (size_t off = 0; off < whole[i]; off += DIGEST_CHUNK) {
			unsigned char sha[DIGEST_BYTES];
			digest_sha256(buf + off,
				      whole[i] - off < DIGEST_CHUNK ? whole[i] - off : DIGEST_CHUNK, sha);
			digest_add_chunk(d, sha);
		}
		char(*chunks)[DIGEST_HEX] = NULL;
		assert_int_equal(digest_finish_chunks(d, got, &chunks), n);
		assert_string_equal(got, by_bytes);
		for (size_t k = 0; k < n; k++)
			assert_string_equal(chunks[k], want_chunks[k]);
		free(chunks);
		free(want_chunks);
	}
	/* holes hash as the zeros they are */
	cleanup_free unsigned char *zeros = xzalloc(BIG_BYTES);
	struct digest *a = digest_new(DIGEST_CHUNK), *b = digest_new(DIGEST_CHUNK);
	digest_update(a, zeros, BIG_BYTES);
	digest_update_zeros(b, BIG_BYTES);
	digest_finish(a, want);
	digest_finish(b, got);
	assert_string_equal(got, want);
	char *bad[] = { first, (char *)"xyz" };
	assert_int_equal(digest_of_chunks(bad, 2, got), -EINVAL);
}

/* an archive of the checkpoint layout whose manifest is the text given (NULL: none) */
static char *archive_with(const char *dir, const unsigned char *big, const char *manifest)
{
	char *path = xasprintf("%s/a-%d.tar", dir, rand());
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	cleanup_with(arc_sink_free) struct arc_sink *s = NULL;
	assert_int_equal(arc_sink_open(fd, false, 0, &s, NULL), 0);
	assert_int_equal(arc_sink_add_dir(s, "checkpoint/", NULL), 0);
	assert_int_equal(arc_sink_add(s, "checkpoint/pages-1.img", big, BIG_BYTES, NULL), 0);
	assert_int_equal(arc_sink_add(s, "checkpoint/inventory.img", "inv", 3, NULL), 0);
	assert_int_equal(arc_sink_add(s, "spec.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_sink_add(s, "config.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_sink_add(s, "stasis.manifest", manifest, strlen(manifest), NULL), 0);
	assert_int_equal(arc_sink_finish(s, NULL), 0);
	return path;
}

/* verify and import both give want (0 or -errno), and with an error, its message holds words */
static void expect(const char *dir, const char *path, int want, const char *words)
{
	struct arc_import imp = { 0 };
	struct stasis_error *e = NULL;
	size_t n;
	unsigned long long bytes;
	assert_int_equal(arc_verify(path, &imp, &n, &bytes, &e), want);
	if (want)
		assert_non_null(strstr(stasis_error_message(e), words));
	e = stasis_error_free(e);
	arc_import_clear(&imp);
	cleanup_free char *out = xasprintf("%s/out", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	assert_int_equal(arc_import(path, out, NULL, &imp, &e), want);
	if (want)
		assert_non_null(strstr(stasis_error_message(e), words));
	else
		assert_true(imp.has_manifest);
	stasis_error_free(e);
	arc_import_clear(&imp);
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", out);
	assert_int_equal(system(cmd), 0);
}

static char *manifest(int format, const char *big_digest, const char *chunks)
{
	char inv[DIGEST_HEX], obj[DIGEST_HEX];
	plain("inv", 3, inv);
	plain("{}", 2, obj);
	return xasprintf("{\"format\": %d, \"digest\": \"sha256\"%s, \"members\": {"
			 "\"checkpoint/pages-1.img\": \"%s\", \"checkpoint/inventory.img\": \"%s\", "
			 "\"spec.dump\": \"%s\", \"config.dump\": \"%s\"}%s}",
			 format, format >= 2 ? ", \"chunkSize\": 4194304" : "", big_digest, inv, obj, obj,
			 chunks ? chunks : "");
}

/* a test's directory, the long member and what each format records of it (setup and teardown) */
struct big_member {
	char *dir;
	unsigned char *bytes;
	char whole[DIGEST_HEX], first[DIGEST_HEX], second[DIGEST_HEX], root[DIGEST_HEX];
};

static int big_member_setup(void **state)
{
	struct big_member *b = xzalloc(sizeof(*b));
	b->dir = unit_tmpdir("digest");
	b->bytes = pattern(BIG_BYTES);
	plain(b->bytes, BIG_BYTES, b->whole);
	plain(b->bytes, DIGEST_CHUNK, b->first);
	plain(b->bytes + DIGEST_CHUNK, 5, b->second);
	char *list[] = { b->first, b->second };
	assert_int_equal(digest_of_chunks(list, 2, b->root), 0);
	*state = b;
	return 0;
}

static int big_member_teardown(void **state)
{
	struct big_member *b = *state;
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", b->dir);
	int r = system(cmd);
	free(b->dir);
	free(b->bytes);
	free(b);
	return r;
}

static void readers_take_both_formats(void **state)
{
	const struct big_member *b = *state;
	const char *dir = b->dir, *whole = b->whole, *first = b->first, *second = b->second, *root = b->root;
	const unsigned char *big = b->bytes;

	/* format 1: the plain sha256 of the long member */
	cleanup_free char *m1 = manifest(1, whole, NULL);
	cleanup_free char *a1 = archive_with(dir, big, m1);
	expect(dir, a1, 0, NULL);
	cleanup_free char *m1bad = manifest(1, root, NULL);
	cleanup_free char *a1bad = archive_with(dir, big, m1bad);
	expect(dir, a1bad, -EBADMSG, "does not match its sha256");

	/* format 2: the chunks' digest and its list */
	cleanup_free char *chunks =
		xasprintf(", \"chunks\": {\"checkpoint/pages-1.img\": [\"%s\", \"%s\"]}", first, second);
	cleanup_free char *swapped =
		xasprintf(", \"chunks\": {\"checkpoint/pages-1.img\": [\"%s\", \"%s\"]}", second, first);
	const struct {
		int format;
		const char *digest, *chunks;
		int want;
		const char *words;
	} cases[] = {
		{ 2, root, chunks, 0, NULL },
		/* a list in the wrong order does not make the digest */
		{ 2, root, swapped, -EBADMSG, "do not make its digest" },
		/* no list for a member of two chunks */
		{ 2, root, NULL, -EBADMSG, "has 0 chunk digests in the manifest, not 2" },
		/* the plain sha256 is not what format 2 records */
		{ 2, whole, chunks, -EBADMSG, "does not match its sha256" },
		/* a newer format is named */
		{ 3, root, chunks, -ENOTSUP, "manifest format 3: this stasis reads 1 to 2" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *m = manifest(cases[i].format, cases[i].digest, cases[i].chunks);
		cleanup_free char *a = archive_with(dir, big, m);
		expect(dir, a, cases[i].want, cases[i].words);
	}
}

static bool is_pages(const char *name)
{
	return strcmp(name, "checkpoint/pages-1.img") == 0;
}

/* the bytes arc_stream_verified writes into a file, and its result */
static int stream_to_file(const char *dir, const char *archive, const struct arc_deferred *d, size_t *ret_len,
			  struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/streamed", dir);
	cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	int r = arc_stream_verified(archive, d, fd, NULL, NULL, err);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	*ret_len = (size_t)st.st_size;
	return r;
}

/*
 * An import that leaves the pages in the archive, and their stream: whole chunks, each checked
 * before it is written; a bad chunk is named and never written; format 1 cannot defer.
 */
static void deferred_pages_stream_checked(void **state)
{
	const struct big_member *b = *state;
	const char *dir = b->dir, *whole = b->whole, *first = b->first, *second = b->second, *root = b->root;
	const unsigned char *big = b->bytes;
	cleanup_free char *chunks =
		xasprintf(", \"chunks\": {\"checkpoint/pages-1.img\": [\"%s\", \"%s\"]}", first, second);
	cleanup_free char *m2 = manifest(2, root, chunks);
	cleanup_free char *a2 = archive_with(dir, big, m2);
	cleanup_free char *out = xasprintf("%s/out", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	struct arc_import imp = { 0 };
	assert_int_equal(arc_import_deferring(a2, out, is_pages, NULL, &imp, NULL), 0);
	cleanup_free char *pages = xasprintf("%s/checkpoint/pages-1.img", out);
	cleanup_free char *inv = xasprintf("%s/checkpoint/inventory.img", out);
	assert_int_equal(access(pages, F_OK), -1);
	assert_int_equal(access(inv, F_OK), 0);
	assert_int_equal(imp.n_deferred, 1);
	assert_string_equal(imp.deferred[0].name, "checkpoint/pages-1.img");
	assert_int_equal(imp.deferred[0].size, BIG_BYTES);
	assert_true(imp.deferred[0].verified);
	assert_int_equal(imp.deferred[0].n_chunks, 2);
	size_t len = 0;
	assert_int_equal(stream_to_file(dir, a2, &imp.deferred[0], &len, NULL), 0);
	assert_int_equal(len, BIG_BYTES);

	/* the second chunk altered in the archive: refused; the first may have gone by, never the second */
	int fd = open(a2, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	/* uncompressed: the data starts after checkpoint/'s header and its own */
	assert_int_equal(pwrite(fd, "X", 1, 1024 + DIGEST_CHUNK + 2), 1);
	close(fd);
	struct stasis_error *e = NULL;
	assert_int_equal(stream_to_file(dir, a2, &imp.deferred[0], &len, &e), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(e), "bytes 4194304 to 4194309 do not match"));
	stasis_error_free(e);
	assert_true(len == 0 || len == DIGEST_CHUNK);
	arc_import_clear(&imp);

	/* format 1 cannot be checked a chunk at a time: refused, nothing left */
	cleanup_free char *m1 = manifest(1, whole, NULL);
	cleanup_free char *a1 = archive_with(dir, big, m1);
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", out);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mkdir(out, 0700), 0);
	e = NULL;
	assert_int_equal(arc_import_deferring(a1, out, is_pages, NULL, &imp, &e), -EOPNOTSUPP);
	assert_non_null(strstr(stasis_error_message(e), "manifest format 1"));
	stasis_error_free(e);
	assert_int_equal(access(inv, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chunked_digests),
		cmocka_unit_test_setup_teardown(readers_take_both_formats, big_member_setup,
						big_member_teardown),
		cmocka_unit_test_setup_teardown(deferred_pages_stream_checked, big_member_setup,
						big_member_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
