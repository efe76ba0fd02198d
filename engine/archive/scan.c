/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a checkpoint archive without extracting it: one pass hands every member to the caller,
 * who keeps the small ones in memory and lists rootfs-diff.tar from inside the stream; page images
 * are streamed again on demand.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "common/fs.h"
#include "common/process.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/digest.h"

static void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* every entry of a file-tree tar as a container path: "etc/x/" -> "/etc/x" */
static int list_tree(struct arc_walk *w, char ***ret, size_t *ret_n, struct stasis_error **err)
{
	char **v = NULL;
	size_t n = 0;
	struct arc_member m;
	int r;
	while ((r = arc_walk_next(w, &m, err)) > 0)
		strv_push(&v, &n, xasprintf("/%s", m.name));
	if (r < 0) {
		strv_free_n(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int arc_list_tar(const char *path, char ***ret, size_t *ret_n, struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk w = { .fd = -1 };
	cleanup_free char *what = xasprintf("`%s`", path);
	int r = arc_walk_open(&w, path, what, ARC_RULES_TREE, ARC_WALK_SPECIAL_OK, err);
	return r < 0 ? r : list_tree(&w, ret, ret_n, err);
}

int arc_scan_list_tar(struct arc_scan_member *m, char ***ret, size_t *ret_n, struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk nested = { .fd = -1 };
	cleanup_free char *what = xasprintf("%s: %s", m->walk->what, m->name);
	int r = arc_walk_open_nested(&nested, m->walk, what, ARC_RULES_TREE, ARC_WALK_SPECIAL_OK, err);
	return r < 0 ? r : list_tree(&nested, ret, ret_n, err);
}

int arc_scan_read(struct arc_scan_member *m, size_t max, unsigned char **ret, size_t *ret_len,
		  struct stasis_error **err)
{
	int r = arc_walk_read(m->walk, max, ret, ret_len, err);
	if (r == -EFBIG)
		return error_setx(err, EBADMSG, "%s: member `%s` is longer than its header says",
				  m->walk->what, m->name);
	return r;
}

int arc_scan(const char *path, arc_scan_fn fn, void *data, struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk w = { .fd = -1 };
	int r = arc_walk_open(&w, path, NULL, ARC_RULES_CHECKPOINT, 0, err);
	if (r < 0)
		return r;
	struct arc_member m;
	while ((r = arc_walk_next(&w, &m, err)) > 0) {
		struct arc_scan_member sm = {
			.name = m.name,
			.size = m.size,
			.is_dir = m.type == ARC_MEMBER_DIR,
			.walk = &w,
		};
		if ((r = fn(data, &sm, err)) < 0)
			break;
	}
	return r < 0 ? r : 0;
}

int arc_stream_members(const char *path, char *const *members, size_t n, arc_chunk_fn fn, void *data,
		       struct stasis_error **err)
{
	cleanup_with(arc_walk_close) struct arc_walk w = { .fd = -1 };
	int r = arc_walk_open(&w, path, NULL, ARC_RULES_CHECKPOINT, 0, err);
	if (r < 0)
		return r;
	struct arc_member m;
	size_t done = 0;
	while (done < n && (r = arc_walk_next(&w, &m, err)) > 0) {
		size_t which = n;
		for (size_t i = 0; i < n && which == n; i++)
			if (strcmp(m.name, members[i]) == 0)
				which = i;
		if (which == n)
			continue;
		done++;
		cleanup_free char *what = xasprintf("%s: member `%s`", w.what, m.name);
		uint64_t end = 0;
		for (;;) {
			const void *buf;
			size_t size;
			la_int64_t off;
			int rc = archive_read_data_block(w.a, &buf, &size, &off);
			if (rc == ARCHIVE_EOF) {
				r = 0;
				break;
			}
			if (rc != ARCHIVE_OK) {
				r = arc_walk_fail(&w, m.name, err);
				break;
			}
			if ((r = arc_walk_check_block(&w, off, size, end, what, err)) < 0)
				break;
			end = (uint64_t)off + size;
			r = fn(data, which, (uint64_t)off, buf, size, err);
			if (r != 0)
				break;
		}
		if (r < 0)
			break;
		r = 0;
	}
	return r < 0 ? r : 0;
}

/*
 * A deferred member on its way to a reader: whole chunks, each checked before it is written.  Three
 * stages run at once, a chunk apart: the calling thread decompresses into one buffer, a thread of
 * ours hashes the one before, another writes the one before that (the reader, CRIU restoring
 * memory, sets that pace); one after the other on one thread they took twice as long.
 */
#define FEED_BUFFERS 3

struct verified_feed {
	const struct arc_deferred *d;
	const char *path;
	int fd;
	void (*on_written)(uint64_t bytes, void *data);
	void *on_written_data;
	uint64_t passed; /* the member's bytes passed to the buffers so far */
	bool found;
	unsigned char *buf[FEED_BUFFERS];
	size_t len[FEED_BUFFERS];
	size_t fill; /* of buf[filled % FEED_BUFFERS] */
	/* the handoff: counters only grow; chunk n is in buf[n % FEED_BUFFERS] */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned long long filled, checked, written;
	bool end, threaded;
	pthread_t checker, writer;
	int werr; /* a stage's failure (its message in werr_msg): every stage stops */
	struct stasis_error *werr_msg;
};

static int write_chunk(const struct verified_feed *f, const unsigned char *buf, size_t len,
		       struct stasis_error **err)
{
	int r = write_all(f->fd, buf, len);
	if (r < 0 && r != -EPIPE)
		return error_set(err, -r, "archive `%s`: member `%s`: pass it on", f->path, f->d->name);
	if (r == 0 && f->on_written)
		f->on_written(len, f->on_written_data);
	return r;
}

/* one stage's thread: checking (after filled) or writing (after checked), chunk after chunk */
static void run_stage(struct verified_feed *f, bool check)
{
	unsigned long long *mine = check ? &f->checked : &f->written;
	const unsigned long long *before = check ? &f->filled : &f->checked;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		/* done once the end is told and every chunk filled has passed this stage */
		while (!f->werr && *mine == *before && !(f->end && *mine == f->filled))
			pthread_cond_wait(&f->changed, &f->lock);
		if (f->werr || *mine == *before)
			break;
		unsigned long long n = *mine;
		pthread_mutex_unlock(&f->lock);
		struct stasis_error *e = NULL;
		const unsigned char *buf = f->buf[n % FEED_BUFFERS];
		size_t len = f->len[n % FEED_BUFFERS];
		int r = check ? arc_chunk_check(f->path, f->d, (size_t)n, buf, len, &e)
			      : write_chunk(f, buf, len, &e);
		pthread_mutex_lock(&f->lock);
		if (r < 0 && !f->werr) {
			f->werr = r;
			f->werr_msg = e;
			e = NULL;
		}
		stasis_error_free(e);
		(*mine)++;
		pthread_cond_broadcast(&f->changed);
	}
	pthread_mutex_unlock(&f->lock);
}

static void *checker_main(void *arg)
{
	run_stage(arg, true);
	return NULL;
}

static void *writer_main(void *arg)
{
	/* a reader that went away is EPIPE here */
	thread_block_sigpipe();
	run_stage(arg, false);
	return NULL;
}

/* the buffer being filled is complete (or the member ended): to the checker, and the next one */
static int hand_over(struct verified_feed *f, struct stasis_error **err)
{
	if (!f->fill)
		return 0;
	unsigned long long n = f->filled;
	f->len[n % FEED_BUFFERS] = f->fill;
	f->fill = 0;
	if (!f->threaded) {
		f->filled++;
		const unsigned char *buf = f->buf[n % FEED_BUFFERS];
		int r = arc_chunk_check(f->path, f->d, (size_t)n, buf, f->len[n % FEED_BUFFERS], err);
		return r < 0 ? r : write_chunk(f, buf, f->len[n % FEED_BUFFERS], err);
	}
	pthread_mutex_lock(&f->lock);
	f->filled++;
	pthread_cond_broadcast(&f->changed);
	/* the next buffer is ours once its last chunk has been written */
	while (!f->werr && f->filled - f->written >= FEED_BUFFERS)
		pthread_cond_wait(&f->changed, &f->lock);
	int r = f->werr;
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* len bytes of buf (NULL: zeros, a hole) into the chunk buffers, each full one handed over */
static int feed(struct verified_feed *f, const unsigned char *buf, uint64_t len, struct stasis_error **err)
{
	while (len) {
		unsigned char *to = f->buf[f->filled % FEED_BUFFERS] + f->fill;
		size_t n = DIGEST_CHUNK - f->fill < len ? DIGEST_CHUNK - f->fill : (size_t)len;
		if (buf) {
			memcpy(to, buf, n);
			buf += n;
		} else {
			memset(to, 0, n);
		}
		f->fill += n;
		f->passed += n;
		len -= n;
		if (f->fill == DIGEST_CHUNK) {
			int r = hand_over(f, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int feed_block(void *data, size_t which, uint64_t off, const unsigned char *buf, size_t len,
		      struct stasis_error **err)
{
	(void)which;
	struct verified_feed *f = data;
	f->found = true;
	if (off + len > f->d->size)
		return error_setx(err, EBADMSG, "archive `%s`: member `%s` is longer than it was", f->path,
				  f->d->name);
	int r = off > f->passed ? feed(f, NULL, off - f->passed, err) : 0;
	return r < 0 ? r : feed(f, buf, len, err);
}

/* the stages are told the end, waited for; their failure comes first (it befell earlier bytes) */
static int stop_stages(struct verified_feed *f, int r, struct stasis_error **err)
{
	if (f->threaded) {
		pthread_mutex_lock(&f->lock);
		f->end = true;
		pthread_cond_broadcast(&f->changed);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->checker, NULL);
		pthread_join(f->writer, NULL);
	}
	if (f->werr) {
		if (err && *err)
			*err = stasis_error_free(*err);
		return error_adopt(err, &f->werr_msg, f->werr);
	}
	return r;
}

int arc_stream_verified(const char *archive_path, const struct arc_deferred *d, int fd,
			void (*written)(uint64_t bytes, void *data), void *data, struct stasis_error **err)
{
	/* frames the index lists, or chunks where they are: read on several cores, no page cache */
	if (arc_deferred_random_access(d)) {
		cleanup_with(arc_chunks_free) struct arc_chunks *c = NULL;
		int r = arc_chunks_open(archive_path, d, &c, err);
		return r < 0 ? r : arc_chunks_stream(c, fd, written, data, err);
	}
	struct verified_feed f = {
		.d = d, .path = archive_path, .fd = fd, .on_written = written, .on_written_data = data
	};
	for (size_t i = 0; i < FEED_BUFFERS; i++)
		f.buf[i] = xmalloc(DIGEST_CHUNK);
	pthread_mutex_init(&f.lock, NULL);
	pthread_cond_init(&f.changed, NULL);
	/* without threads (a pids limit) the chunks are checked and written here, only slower */
	f.threaded = pthread_create(&f.checker, NULL, checker_main, &f) == 0;
	if (f.threaded && pthread_create(&f.writer, NULL, writer_main, &f) != 0) {
		pthread_mutex_lock(&f.lock);
		f.end = true;
		pthread_cond_broadcast(&f.changed);
		pthread_mutex_unlock(&f.lock);
		pthread_join(f.checker, NULL);
		f.threaded = false;
		f.end = false;
	}
	char *names[] = { d->name };
	int r = arc_stream_members(archive_path, names, 1, feed_block, &f, err);
	if (r == 0 && !f.found && d->size)
		r = error_setx(err, EBADMSG, "archive `%s`: member `%s` is not there any more", archive_path,
			       d->name);
	/* a sparse member's tail hole comes as no block at all */
	if (r == 0 && f.passed < d->size)
		r = feed(&f, NULL, d->size - f.passed, err);
	if (r == 0)
		r = hand_over(&f, err);
	r = stop_stages(&f, r, err);
	if (r == 0 && d->verified && f.filled != d->n_chunks)
		r = error_setx(err, EBADMSG, "archive `%s`: member `%s` has %llu chunks, the manifest %zu",
			       archive_path, d->name, f.filled, d->n_chunks);
	for (size_t i = 0; i < FEED_BUFFERS; i++)
		free(f.buf[i]);
	pthread_cond_destroy(&f.changed);
	pthread_mutex_destroy(&f.lock);
	return r;
}
