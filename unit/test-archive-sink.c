/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The streamed tar writer (engine/archive/sink.c): a member whose size is known only at its end
 * gets a placeholder header rewritten in place; the archive, zstd or plain, reads back through the
 * walker import uses, with every member's name, size and bytes as written.
 */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/tls.h"
#include "engine/archive/archive.h"
#include "engine/archive/digest.h"
#include "include/stasis.h"

#define PAGES_BYTES ((3u << 20) + 1234u) /* not a multiple of a tar block: the padding counts */
#define CHUNK 65536u

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

static void write_archive(const char *path, bool zstd)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	cleanup_with(arc_sink_free) struct arc_sink *s = NULL;
	assert_int_equal(arc_sink_open(fd, zstd, 1700000000, &s, NULL), 0);
	assert_int_equal(arc_sink_add(s, "config.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_sink_add_dir(s, "checkpoint", NULL), 0);
	assert_int_equal(arc_sink_begin(s, "checkpoint/pages-1.img", ARC_SIZE_UNKNOWN, NULL), 0);
	/* a second open member before the first ended is refused */
	struct stasis_error *e = NULL;
	assert_int_equal(arc_sink_begin(s, "checkpoint/pages-2.img", ARC_SIZE_UNKNOWN, &e), -EBUSY);
	stasis_error_free(e);
	unsigned char *buf = xmalloc(CHUNK);
	for (size_t off = 0; off < PAGES_BYTES; off += CHUNK) {
		size_t n = PAGES_BYTES - off < CHUNK ? PAGES_BYTES - off : CHUNK;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		assert_int_equal(arc_sink_append(s, buf, n, NULL), 0);
	}
	free(buf);
	assert_int_equal(arc_sink_end(s, NULL), 0);
	assert_int_equal(arc_sink_begin(s, "checkpoint/empty.img", ARC_SIZE_UNKNOWN, NULL), 0);
	assert_int_equal(arc_sink_end(s, NULL), 0);
	assert_int_equal(arc_sink_add(s, "checkpoint/pagemap-1.img", "pm", 2, NULL), 0);
	assert_int_equal(arc_sink_finish(s, NULL), 0);
}

static void read_back(const char *path)
{
	cleanup_with(arc_walk_close) struct arc_walk w = { 0 };
	assert_int_equal(arc_walk_open(&w, path, NULL, ARC_RULES_CHECKPOINT, 0, NULL), 0);
	static const struct {
		const char *name;
		uint64_t size;
	} want[] = {
		{ "config.dump", 2 },
		{ "checkpoint/pages-1.img", PAGES_BYTES },
		{ "checkpoint/empty.img", 0 },
		{ "checkpoint/pagemap-1.img", 2 },
	};
	size_t seen = 0;
	struct arc_member m;
	int r;
	while ((r = arc_walk_next(&w, &m, NULL)) > 0) {
		if (m.type == ARC_MEMBER_DIR)
			continue;
		assert_true(seen < sizeof(want) / sizeof(want[0]));
		assert_string_equal(m.name, want[seen].name);
		assert_int_equal(m.size, want[seen].size);
		unsigned char *data = NULL;
		size_t len = 0;
		assert_int_equal(arc_walk_read(&w, 8u << 20, &data, &len, NULL), 0);
		assert_int_equal(len, want[seen].size);
		if (seen == 1)
			for (size_t i = 0; i < len; i++)
				if (data[i] != pattern(i))
					fail_msg("pages byte %zu differs", i);
		if (seen == 0)
			assert_memory_equal(data, "{}", 2);
		free(data);
		seen++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(seen, sizeof(want) / sizeof(want[0]));
}

static void zstd_and_plain_read_back(void **state)
{
	(void)state;
	char *dir = unit_tmpdir("sink");
	for (int zstd = 0; zstd <= 1; zstd++) {
		char *path = xasprintf("%s/a.tar%s", dir, zstd ? ".zst" : "");
		write_archive(path, zstd);
		read_back(path);
		if (zstd) {
			/* the placeholder frame: 522 bytes, zstd's magic, one raw block of 512 */
			unsigned char head[16];
			cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
			off_t at = -1;
			/* the first frame holds config.dump and the directory; find the second magic */
			unsigned char *all = NULL;
			size_t len = 0;
			assert_int_equal(read_file_capped(path, 16u << 20, (char **)&all, &len, NULL), 0);
			for (size_t i = 4; i + 4 <= len && at < 0; i++)
				if (all[i] == 0x28 && all[i + 1] == 0xb5 && all[i + 2] == 0x2f &&
				    all[i + 3] == 0xfd)
					at = (off_t)i;
			free(all);
			assert_true(at > 0);
			assert_int_equal(pread(fd, head, sizeof(head), at), sizeof(head));
			static const unsigned char prefix[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x60,
								0x00, 0x01, 0x01, 0x10, 0x00 };
			assert_memory_equal(head, prefix, sizeof(prefix));
			/* the patched header names the pages member */
			assert_memory_equal(head + sizeof(prefix), "checkpoint", 6);
		}
		unlink(path);
		free(path);
	}
	rmdir(dir);
	free(dir);
}

static void header_fields(void **state)
{
	(void)state;
	unsigned char h[512];
	assert_int_equal(arc_ustar_header(h, "checkpoint/pages-1.img", 1234, 0, false), 0);
	assert_string_equal((char *)h + 124, "00000002322");
	assert_memory_equal(h + 257,
			    "ustar\0"
			    "00",
			    8);
	/* the checksum: the bytes summed with the field as spaces */
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	assert_int_equal(strtoul((char *)h + 148, NULL, 8), sum);
	/* 9 GiB: base 256 */
	uint64_t big = 9ull << 30;
	assert_int_equal(arc_ustar_header(h, "checkpoint/pages-1.img", big, 0, false), 0);
	assert_int_equal(h[124], 0x80);
	uint64_t v = 0;
	for (int i = 1; i < 12; i++)
		v = v << 8 | h[124 + i];
	assert_int_equal(v, big);
	/* a long name is split at a slash; one with no split is refused */
	char name[200];
	memset(name, 'a', sizeof(name));
	memcpy(name + 120, "/", 1);
	name[199] = '\0';
	assert_int_equal(arc_ustar_header(h, name, 1, 0, false), 0);
	assert_memory_equal(h + 345, name, 120);
	name[120] = 'a';
	assert_int_equal(arc_ustar_header(h, name, 1, 0, false), -ENAMETOOLONG);
	assert_int_equal(arc_ustar_header(h, "", 1, 0, false), -EINVAL);
}

static void a_pipe_is_refused(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct arc_sink *s = NULL;
	struct stasis_error *e = NULL;
	assert_int_equal(arc_sink_open(p[1], true, 0, &s, &e), -ESPIPE);
	stasis_error_free(e);
	close(p[0]);
	close(p[1]);
}

/* a member declared with a size takes exactly that many bytes */
static void declared_size_is_kept(void **state)
{
	(void)state;
	char path[] = "/tmp/stasis-unit-sink-XXXXXX";
	cleanup_close int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	cleanup_with(arc_sink_free) struct arc_sink *s = NULL;
	assert_int_equal(arc_sink_open(fd, false, 0, &s, NULL), 0);
	struct stasis_error *e = NULL;
	assert_int_equal(arc_sink_begin(s, "a", 4, NULL), 0);
	assert_int_equal(arc_sink_append(s, "abcde", 5, &e), -EIO);
	assert_non_null(strstr(stasis_error_message(e), "grew past the 4 bytes"));
	e = stasis_error_free(e);
	assert_int_equal(arc_sink_append(s, "abc", 3, NULL), 0);
	assert_int_equal(arc_sink_end(s, &e), -EIO);
	assert_non_null(strstr(stasis_error_message(e), "ended after 3 of the 4 bytes"));
	stasis_error_free(e);
}

static bool is_pages(const char *name)
{
	return strcmp(name, "checkpoint/pages-65537.img") == 0;
}

/*
 * A streamed zstd archive ends with an index: an import that defers the pages starts after their
 * frames and never reads them (damaged there, it still succeeds; streaming the pages then fails).
 */
static void index_skips_the_pages(const char *dir, const char *path)
{
	struct arc_import imp = { 0 };
	cleanup_free char *out = xasprintf("%s/deferred", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct arc_index idx = { 0 };
	assert_int_equal(arc_index_read(fd, "test", &idx, NULL), 0);
	assert_int_equal(idx.n, 1);
	assert_string_equal(idx.members[0].name, "checkpoint/pages-65537.img");
	assert_int_equal(idx.members[0].size, PAGES_BYTES);
	/* a byte in the middle of the pages' frame: far after the placeholder, far before the tail */
	off_t at = idx.tail / 2;
	arc_index_clear(&idx);
	unsigned char b;
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0xff;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	struct stasis_error *e = NULL;
	size_t n;
	unsigned long long bytes;
	assert_true(arc_verify(path, &imp, &n, &bytes, &e) < 0);
	e = stasis_error_free(e);
	assert_int_equal(arc_import_deferring(path, out, is_pages, NULL, &imp, NULL), 0);
	assert_int_equal(imp.n_deferred, 1);
	assert_int_equal(imp.deferred[0].size, PAGES_BYTES);
	cleanup_free char *pages = xasprintf("%s/pages", dir);
	cleanup_close int to = open(pages, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(arc_stream_verified(path, &imp.deferred[0], to, NULL, NULL, &e) < 0);
	stasis_error_free(e);
	arc_import_clear(&imp);
}

/* a writer of *ret_path, an archive in the new directory made from dir_template, its checkpoint/ begun */
static struct arc_writer *open_checkpoint(char *dir_template, const char *kind, char **ret_path)
{
	assert_non_null(mkdtemp(dir_template));
	*ret_path = xasprintf("%s/ck.tar", dir_template);
	struct arc_writer *w = NULL;
	assert_int_equal(arc_writer_open(*ret_path, kind, NULL, &w, NULL), 0);
	assert_int_equal(arc_writer_add_dir(w, "checkpoint/", NULL), 0);
	return w;
}

/* the pages member's bytes (pattern), then the small members and the manifest */
static void stream_rest(struct arc_writer *w, size_t bytes)
{
	cleanup_free unsigned char *buf = xmalloc(CHUNK);
	size_t off = 0;
	for (size_t k = 0; off < bytes; k++) {
		size_t n = bytes - off < CHUNK ? bytes - off : CHUNK;
		/* every other block put where the writer keeps it (what the page server does), at most its room */
		void *to = buf;
		size_t room = 0;
		if (k % 2 && arc_writer_room(w, &to, &room) == 0 && n > room)
			n = room;
		unsigned char *p = to;
		for (size_t i = 0; i < n; i++)
			p[i] = pattern(off + i);
		assert_int_equal(arc_writer_append(w, to, n, NULL), 0);
		off += n;
	}
	assert_int_equal(arc_writer_end(w, NULL), 0);
	assert_int_equal(arc_writer_add_buffer(w, "checkpoint/pagemap-1.img", "pm", 2, NULL), 0);
	assert_int_equal(arc_writer_add_buffer(w, "spec.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_writer_add_buffer(w, "config.dump", "{}", 2, NULL), 0);
	assert_int_equal(arc_writer_commit(w, "4.2.1", NULL), 0);
}

/*
 * The archive writer streams a member of unknown size into zstd and plain archives, and its
 * manifest digest is of the bytes streamed: the readers' verification passes and extraction gives
 * them back; gzip says it cannot.
 */
static void writer_streams_a_member_once(void)
{
	const char *kinds[] = { "zstd", "none", "gzip" };
	for (size_t k = 0; k < 3; k++) {
		char dir[] = "/tmp/stasis-unit-writer-XXXXXX";
		cleanup_free char *path = NULL;
		struct arc_writer *w = open_checkpoint(dir, kinds[k], &path);
		struct stasis_error *e = NULL;
		if (k == 2) {
			assert_false(arc_writer_streams(w));
			assert_int_equal(arc_writer_begin(w, "checkpoint/pages-65537.img", &e), -EOPNOTSUPP);
			stasis_error_free(e);
			arc_writer_abort(w);
			assert_int_equal(rmdir(dir), 0); /* the temporary file went */
			continue;
		}
		assert_true(arc_writer_streams(w));
		assert_int_equal(arc_writer_begin(w, "checkpoint/pages-65537.img", NULL), 0);
		assert_int_equal(arc_writer_add_buffer(w, "spec.dump", "{}", 2, &e), -EBUSY);
		e = stasis_error_free(e);
		stream_rest(w, PAGES_BYTES);
		cleanup_free unsigned char *buf = xmalloc(CHUNK);

		struct arc_import imp = { 0 };
		size_t members = 0;
		unsigned long long bytes = 0;
		assert_int_equal(arc_verify(path, &imp, &members, &bytes, NULL), 0);
		assert_true(imp.has_manifest);
		arc_import_clear(&imp);
		cleanup_free char *out = xasprintf("%s/out", dir);
		assert_int_equal(mkdir(out, 0700), 0);
		assert_int_equal(arc_import(path, out, NULL, &imp, NULL), 0);
		assert_true(imp.has_manifest);
		arc_import_clear(&imp);
		cleanup_free char *pages = xasprintf("%s/checkpoint/pages-65537.img", out);
		cleanup_close int fd = open(pages, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		size_t got = 0;
		ssize_t n;
		while ((n = read(fd, buf, CHUNK)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				assert_int_equal(buf[i], pattern(got + (size_t)i));
			got += (size_t)n;
		}
		assert_int_equal(got, PAGES_BYTES);
		if (k == 0)
			index_skips_the_pages(dir, path);
		cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

#define MANY_CHUNKS_BYTES ((10u << 20) + 1234u) /* three chunks, the last one short */

/* bytes [off, off + len) of the pattern, read at random through the chunk reader */
static void read_range(struct arc_chunks *c, uint64_t off, size_t len)
{
	cleanup_free unsigned char *buf = xmalloc(len);
	assert_int_equal(arc_chunks_read(c, off, buf, len, NULL), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], pattern(off + i));
}

/* fd's first len bytes are the pattern */
static void streamed_back(int fd, size_t len)
{
	cleanup_free unsigned char *buf = xmalloc(CHUNK);
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		assert_int_equal(pread(fd, buf, n, (off_t)off), (ssize_t)n);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf[i], pattern(off + i));
	}
}

/*
 * A lazy restore reads the streamed pages at random: a zstd archive frames each 4 MiB chunk and its
 * index lists the frames; an uncompressed one holds them at a place the walk finds.  Each chunk is
 * checked when read: a damaged one is refused, the others still read.
 */
static void pages_read_at_random_once(void)
{
	const char *kinds[] = { "zstd", "none" };
	for (size_t k = 0; k < 2; k++) {
		char dir[] = "/tmp/stasis-unit-chunks-XXXXXX";
		cleanup_free char *path = NULL;
		struct arc_writer *w = open_checkpoint(dir, kinds[k], &path);
		assert_int_equal(arc_writer_begin(w, "checkpoint/pages-65537.img", NULL), 0);
		stream_rest(w, MANY_CHUNKS_BYTES);
		struct arc_import imp = { 0 };
		cleanup_free char *out = xasprintf("%s/out", dir);
		assert_int_equal(mkdir(out, 0700), 0);
		assert_int_equal(arc_import_deferring(path, out, is_pages, NULL, &imp, NULL), 0);
		assert_int_equal(imp.n_deferred, 1);
		const struct arc_deferred *d = &imp.deferred[0];
		assert_true(arc_deferred_random_access(d));
		assert_int_equal(d->n_frames, k == 0 ? 4 : 0);
		struct arc_chunks *c = NULL;
		assert_int_equal(arc_chunks_open(path, d, &c, NULL), 0);
		/* out of order, across a chunk's end, the short last chunk, twice over the cache's size */
		read_range(c, 9u << 20, 4096);
		read_range(c, (4u << 20) - 100, 200);
		read_range(c, 0, 4096);
		read_range(c, MANY_CHUNKS_BYTES - 1234, 1234);
		arc_chunks_read_ahead(c);
		for (uint64_t off = 0; off < MANY_CHUNKS_BYTES; off += 1u << 20)
			read_range(c, off,
				   MANY_CHUNKS_BYTES - off < (1u << 20) ? MANY_CHUNKS_BYTES - off : 1u << 20);
		/* streamed whole, in order, as an eager restore feeds CRIU */
		cleanup_free char *whole = xasprintf("%s/whole", dir);
		cleanup_close int wfd = open(whole, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		assert_int_equal(arc_chunks_stream(c, wfd, NULL, NULL, NULL), 0);
		assert_int_equal(lseek(wfd, 0, SEEK_END), MANY_CHUNKS_BYTES);
		streamed_back(wfd, MANY_CHUNKS_BYTES);
		const void *p = NULL;
		assert_int_equal(arc_chunks_peek(c, 5u << 20, 8192, &p, NULL), 1);
		assert_int_equal(((const unsigned char *)p)[0], pattern(5u << 20));
		assert_int_equal(arc_chunks_peek(c, (8u << 20) - 4096, 8192, &p, NULL), 0);
		struct stasis_error *e = NULL;
		unsigned char b;
		assert_int_equal(arc_chunks_read(c, MANY_CHUNKS_BYTES, &b, 1, &e), -ERANGE);
		e = stasis_error_free(e);
		c = arc_chunks_free(c);
		/* a byte of the second chunk damaged: that chunk is refused, the first still reads */
		off_t at = k == 0 ? (d->frames[1] + d->frames[2]) / 2 : d->data_at + (5 << 20);
		cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC);
		assert_int_equal(pread(fd, &b, 1, at), 1);
		b ^= 0x55;
		assert_int_equal(pwrite(fd, &b, 1, at), 1);
		assert_int_equal(arc_chunks_open(path, d, &c, NULL), 0);
		read_range(c, 0, 4096);
		cleanup_free unsigned char *buf = xmalloc(4096);
		assert_int_equal(arc_chunks_read(c, 5u << 20, buf, 4096, &e), -EBADMSG);
		assert_non_null(strstr(stasis_error_message(e), "member `checkpoint/pages-65537.img`"));
		e = stasis_error_free(e);
		/* streamed whole: the first chunk goes out, not a byte of the damaged one */
		assert_int_equal(ftruncate(wfd, 0), 0);
		assert_int_equal(lseek(wfd, 0, SEEK_SET), 0);
		assert_int_equal(arc_chunks_stream(c, wfd, NULL, NULL, &e), -EBADMSG);
		assert_non_null(strstr(stasis_error_message(e), "member `checkpoint/pages-65537.img`"));
		e = stasis_error_free(e);
		assert_int_equal(lseek(wfd, 0, SEEK_END), DIGEST_CHUNK);
		arc_chunks_free(c);
		arc_import_clear(&imp);
		cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* a test both with O_DIRECT (where /tmp takes it) and through the page cache */
static void both_ways(void (*once)(void))
{
	once();
	arc_direct_io = false;
	once();
	arc_direct_io = true;
}

static void writer_streams_a_member(void **state)
{
	(void)state;
	both_ways(writer_streams_a_member_once);
}

static void pages_read_at_random(void **state)
{
	(void)state;
	both_ways(pages_read_at_random_once);
}

/* the archive server (a child) ended well once told bye; its scratch dir goes */
static void server_ended(pid_t server, const char *dir)
{
	int status;
	assert_int_equal(waitpid(server, &status, 0), server);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * The archive served to another host: a client with the right token gets the bytes it asks for
 * into its replica, at their places; a wrong token gets nothing; the server ends at bye.
 */
static void archive_served(void **state)
{
	(void)state;
	char dir[] = "/tmp/stasis-unit-remote-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *path = xasprintf("%s/a", dir), *replica = xasprintf("%s/r", dir);
	cleanup_free unsigned char *data = xmalloc(100000);
	for (size_t i = 0; i < 100000; i++)
		data[i] = pattern(i);
	assert_int_equal(write_file_atomic(path, data, 100000, 0600, 0, NULL), 0);
	const char *token = "0123456789abcdefghijklmnopqrstuv";
	/* a port of the kernel's choosing would need telling the client: a fixed one on loopback */
	const char *where = "127.0.0.1:47913";
	pid_t server = fork();
	assert_true(server >= 0);
	if (server == 0)
		_exit(arc_remote_serve(path, where, token, 20, NULL, NULL, NULL, NULL) == 0 ? 0 : 1);
	struct arc_remote *rm = NULL;
	for (int i = 0; i < 100 && arc_remote_connect(where, token, NULL, &rm, NULL) < 0; i++)
		usleep(20000);
	assert_non_null(rm);
	assert_int_equal(arc_remote_size(rm), 100000);
	struct stasis_error *e = NULL;
	struct arc_remote *wrong = NULL;
	assert_int_equal(arc_remote_connect(where, "0123456789abcdefghijklmnopqrstuX", NULL, &wrong, NULL),
			 0);
	cleanup_close int fd = open(replica, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(arc_remote_fetch(wrong, fd, 0, 10, &e) < 0);
	e = stasis_error_free(e);
	arc_remote_free(wrong);
	assert_int_equal(arc_remote_fetch(rm, fd, 99000, 1000, NULL), 0);
	assert_int_equal(arc_remote_fetch(rm, fd, 10, 20, NULL), 0);
	unsigned char got[1000];
	assert_int_equal(pread(fd, got, 1000, 99000), 1000);
	assert_memory_equal(got, data + 99000, 1000);
	assert_int_equal(pread(fd, got, 20, 10), 20);
	assert_memory_equal(got, data + 10, 20);
	/* past the end: an error, and the connection still serves */
	assert_true(arc_remote_fetch(rm, fd, 99990, 20, &e) < 0);
	e = stasis_error_free(e);
	assert_int_equal(arc_remote_fetch(rm, fd, 0, 1, NULL), 0);
	arc_remote_bye(rm);
	arc_remote_free(rm);
	server_ended(server, dir);
}

/* a TCP connection to 127.0.0.1:port, or -1 */
static int loopback_connect(int port)
{
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (sk >= 0 && connect(sk, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(sk);
		sk = -1;
	}
	return sk;
}

#define SERVED_TOKEN "0123456789abcdefghijklmnopqrstuv"

/*
 * A child serving path, len pattern bytes written there first, on 127.0.0.1:port (tls: NULL plain)
 * to SERVED_TOKEN, a client having 300 ms for its token; *ret_first: a first connection to it.
 */
static pid_t serve_pattern(const char *path, size_t len, int port, const struct arc_tls *tls, int *ret_first)
{
	cleanup_free unsigned char *data = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = pattern(i);
	assert_int_equal(write_file_atomic(path, data, len, 0600, 0, NULL), 0);
	arc_remote_auth_ms = 300;
	pid_t server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		cleanup_free char *where = xasprintf("127.0.0.1:%d", port);
		_exit(arc_remote_serve(path, where, SERVED_TOKEN, 20, tls, NULL, NULL, NULL) == 0 ? 0 : 1);
	}
	int first = -1;
	for (int i = 0; i < 100 && (first = loopback_connect(port)) < 0; i++)
		usleep(20000);
	assert_true(first >= 0);
	*ret_first = first;
	return server;
}

/* the server dropped the connection sk (end of file) within 3 s; it is closed */
static void dropped(int sk)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 3000), 1);
	char byte;
	assert_int_equal(recv(sk, &byte, 1, 0), 0);
	close(sk);
}

/*
 * A client that sends part of its token and stalls (a slow-loris) blocks nobody: the right client
 * is served meanwhile, and the stalled one is dropped once its time for the token is up.
 */
static void stalled_client_blocks_nobody(void **state)
{
	(void)state;
	char dir[] = "/tmp/stasis-unit-remote-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *path = xasprintf("%s/a", dir), *replica = xasprintf("%s/r", dir);
	const char *token = SERVED_TOKEN;
	int stalled;
	pid_t server = serve_pattern(path, 4096, 47914, NULL, &stalled);
	unsigned char hello[24];
	assert_int_equal(read_exact(stalled, hello, sizeof(hello)), 0);
	assert_int_equal(send(stalled, token, 5, MSG_NOSIGNAL), 5);
	/* a server that waited for the rest of that token would never answer: the test ends, failed */
	alarm(10);
	struct arc_remote *rm = NULL;
	assert_int_equal(arc_remote_connect("127.0.0.1:47914", token, NULL, &rm, NULL), 0);
	cleanup_close int fd = open(replica, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(arc_remote_fetch(rm, fd, 0, 100, NULL), 0);
	/* the stalled one: dropped (end of file) after its 300 ms, not at the 20 s idle timeout */
	dropped(stalled);
	alarm(0);
	arc_remote_bye(rm);
	arc_remote_free(rm);
	server_ended(server, dir);
}

/*
 * The archive served over TLS: a client that trusts the server's certificate reads it; one
 * without TLS, or trusting only the system's CAs, gets no byte.  A TLS client of a slow-loris
 * kind (a connection that never says hello) blocks nobody either.
 */
static void archive_served_over_tls(void **state)
{
	(void)state;
	char dir[] = "/tmp/stasis-unit-tls-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *path = xasprintf("%s/a", dir), *replica = xasprintf("%s/r", dir);
	cleanup_free char *cert = xasprintf("%s/cert.pem", dir), *key = xasprintf("%s/key.pem", dir);
	cleanup_free char *mk =
		xasprintf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
			  "-subj /CN=stasis-unit -addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' "
			  ">/dev/null 2>&1",
			  key, cert);
	assert_int_equal(system(mk), 0);
	const char *token = SERVED_TOKEN;
	const struct arc_tls tls = { .cert = cert, .key = key };
	int silent;
	pid_t server = serve_pattern(path, 8192, 47915, &tls, &silent);
	alarm(20);
	struct stasis_error *e = NULL;
	struct arc_remote *rm = NULL;
	/* plain TCP: the server waits for a TLS hello, the client for ours; dropped at its deadline */
	assert_int_equal(arc_remote_connect("127.0.0.1:47915", token, NULL, &rm, &e), -EPROTO);
	assert_non_null(strstr(stasis_error_message(e), "or one with TLS"));
	stasis_error_free(e);
	e = NULL;
	/* TLS, but the server's certificate is its own: not trusted without it */
	const struct arc_tls system_cas = { 0 };
	assert_true(arc_remote_connect("127.0.0.1:47915", token, &system_cas, &rm, &e) < 0);
	assert_non_null(strstr(stasis_error_message(e), "TLS handshake: its certificate"));
	stasis_error_free(e);
	e = NULL;
	/* trusting it, and checking the address: it names 127.0.0.1 */
	const struct arc_tls trusted = { .cacert = cert };
	assert_int_equal(arc_remote_connect("127.0.0.1:47915", token, &trusted, &rm, &e), 0);
	cleanup_close int fd = open(replica, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(arc_remote_fetch(rm, fd, 100, 5000, NULL), 0);
	unsigned char back[5000];
	assert_int_equal(pread(fd, back, sizeof(back), 100), (ssize_t)sizeof(back));
	for (size_t i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], pattern(100 + i));
	/* the silent connection was dropped meanwhile, at its deadline */
	dropped(silent);
	alarm(0);
	arc_remote_bye(rm);
	arc_remote_free(rm);
	server_ended(server, dir);
}

/* the index's text: what it must hold, what it may add later, what it may never name */
static void index_text(void **state)
{
	(void)state;
	struct arc_index x = { 0 };
	static const char good[] =
		"stasis-index 1\ntail 10\nchunks 3 4 5\nmember 5 checkpoint/pages-65537.img\n"
		"frames 0 2 9\n";
	assert_int_equal(arc_index_parse(good, strlen(good), 100, &x, NULL), 0);
	assert_int_equal(x.tail, 10);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.members[0].size, 5);
	assert_int_equal(x.members[0].n_frames, 2);
	assert_int_equal(x.members[0].frames[1], 9);
	arc_index_clear(&x);
	const struct {
		const char *text;
		int want;
	} bad[] = {
		{ "stasis-index 2\ntail 10\n", -EBADMSG },
		{ "stasis-index 1\ntail 100\n", -EBADMSG }, /* not before the index itself */
		{ "stasis-index 1\ntail 10\nmember 5 ../etc/passwd\n", -EPERM },
		{ "stasis-index 1\ntail 10\nmember x checkpoint/pages-1.img\n", -EBADMSG },
		{ "stasis-index 1\ntail 10\nmember 5\n", -EBADMSG },
		/* frames: for a member listed, one a chunk and the end, rising, inside the streamed part */
		{ "stasis-index 1\ntail 10\nframes 0 2 9\n", -EBADMSG },
		{ "stasis-index 1\ntail 10\nmember 5 checkpoint/pages-1.img\nframes 0 2\n", -EBADMSG },
		{ "stasis-index 1\ntail 10\nmember 5 checkpoint/pages-1.img\nframes 0 2 9 10\n", -EBADMSG },
		{ "stasis-index 1\ntail 10\nmember 5 checkpoint/pages-1.img\nframes 0 9 2\n", -EBADMSG },
		{ "stasis-index 1\ntail 10\nmember 5 checkpoint/pages-1.img\nframes 0 2 11\n", -EBADMSG },
		{ "stasis-index 1\ntail 10\nmember 5 checkpoint/pages-1.img\nframes 0 2 9\nframes 0 2 9\n",
		  -EBADMSG },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct stasis_error *e = NULL;
		assert_int_equal(arc_index_parse(bad[i].text, strlen(bad[i].text), 100, &x, &e), bad[i].want);
		stasis_error_free(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zstd_and_plain_read_back),
		cmocka_unit_test(header_fields),
		cmocka_unit_test(a_pipe_is_refused),
		cmocka_unit_test(declared_size_is_kept),
		cmocka_unit_test(writer_streams_a_member),
		cmocka_unit_test(index_text),
		cmocka_unit_test(pages_read_at_random),
		cmocka_unit_test(archive_served),
		cmocka_unit_test(stalled_client_blocks_nobody),
		cmocka_unit_test(archive_served_over_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
