/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A streamed dump: CRIU sends the pages to a page server of ours (criu_opts.ps.fd) instead of
 * writing pages-N.img, and a thread of ours writes them straight into the archive as they come,
 * while the calling thread answers CRIU's RPC (its notifications must never wait on the pages).
 * The pagemaps a local dump would have written are made from the runs CRIU announced and added
 * after the dump.  docs/design/streaming.md says why the page server and not CRIU's streamer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "engine/checkpoint/checkpoint-internal.h"
#include "engine/criu/pageserver.h"
#include "engine/engine-internal.h"
#include "engine/images/reader.h"
#include "engine/names.h"

/* what CRIU's end of the page server socket may hold unread (the kernel doubles it) */
#define PS_SOCKET_SNDBUF (4 << 20)

/*
 * CRIU's own page server numbers its pages images from here (criu/image.c up_page_ids_base), so
 * that they never clash with a pages image the dumping side writes locally: so do we.
 */
#define PS_PAGES_ID_BASE 0x10001u

/* one pagemap CRIU opened: the image a local dump would have written, and its runs */
struct stream_map {
	char *image; /* "pagemap-1.img", "pagemap-shmem-42.img" */
	unsigned pages_id;
	struct img_page_run *runs;
	size_t n;
};

struct ckpt_stream {
	struct arc_writer *w;
	int fd; /* our end of the page server socket */
	pthread_t thread;
	struct stream_map *maps;
	size_t n_maps;
	unsigned next_pages_id;
	bool member_open;
	/* the archive failed under the page server: the cause of CRIU's failure, not a consequence */
	bool archive_failed;
	int r;
	struct stasis_error *err;
	uint64_t bytes; /* pages received */
	struct progress_sink progress;
};

static int end_member(struct ckpt_stream *s, struct stasis_error **err)
{
	if (!s->member_open)
		return 0;
	s->member_open = false;
	int r = arc_writer_end(s->w, err);
	s->archive_failed = r < 0;
	return r;
}

static int on_open(unsigned type, uint64_t id, void *data, struct stasis_error **err)
{
	struct ckpt_stream *s = data;
	int r = end_member(s, err);
	if (r < 0)
		return r;
	const char *prefix = type == PS_TYPE_PAGEMAP ? CRIU_IMG_PAGEMAP
			     : type == PS_TYPE_SHMEM ? CRIU_IMG_PAGEMAP "shmem-"
						     : NULL;
	if (!prefix)
		return error_setx(err, EBADMSG, "CRIU's page server: pagemap of unknown type %u", type);
	s->maps = xgrow(s->maps, s->n_maps, sizeof(*s->maps));
	struct stream_map *m = &s->maps[s->n_maps++];
	*m = (struct stream_map){
		.image = xasprintf("%s%llu" CRIU_IMG_EXT, prefix, (unsigned long long)id),
		.pages_id = s->next_pages_id++,
	};
	cleanup_free char *member =
		xasprintf(ARCHIVE_CHECKPOINT_DIR "/" CRIU_IMG_ID_FMT(CRIU_IMG_PAGES), m->pages_id);
	r = arc_writer_begin(s->w, member, err);
	s->archive_failed = r < 0;
	s->member_open = r == 0;
	return r;
}

static int on_run(uint64_t vaddr, uint64_t nr_pages, unsigned flags, void *data, struct stasis_error **err)
{
	(void)err;
	struct ckpt_stream *s = data;
	struct stream_map *m = &s->maps[s->n_maps - 1];
	/*
	 * CRIU sends a run a page pipe buffer (1 MiB here, where pipes cannot grow), and a lazy
	 * restore's daemon asks for at most one pagemap entry at a time: runs that continue each other
	 * with the same flags are one entry, whose pages follow each other in the image all the same
	 * (CRIU's restore and its daemon both take an entry across VMAs).
	 */
	struct img_page_run *last = m->n ? &m->runs[m->n - 1] : NULL;
	if (last && last->flags == flags && last->vaddr + last->nr_pages * PS_PAGE_SIZE == vaddr &&
	    last->nr_pages + nr_pages <= UINT32_MAX) {
		last->nr_pages += nr_pages;
		return 0;
	}
	m->runs = xgrow(m->runs, m->n, sizeof(*m->runs));
	m->runs[m->n++] = (struct img_page_run){ vaddr, nr_pages, flags };
	return 0;
}

static int on_pages(const void *buf, size_t len, void *data, struct stasis_error **err)
{
	struct ckpt_stream *s = data;
	int r = arc_writer_append(s->w, buf, len, err);
	if (r < 0) {
		s->archive_failed = true;
		return r;
	}
	s->bytes += len;
	return 0;
}

static int on_buffer(void **ret_buf, size_t *ret_room, void *data)
{
	struct ckpt_stream *s = data;
	return arc_writer_room(s->w, ret_buf, ret_room);
}

static int on_close(void *data, struct stasis_error **err)
{
	return end_member(data, err);
}

static void *serve(void *data)
{
	struct ckpt_stream *s = data;
	const struct ps_handlers h = { on_open, on_run, on_pages, on_close, s, on_buffer };
	s->r = ps_serve(s->fd, &h, &s->err);
	/* a cut session: CRIU's next send fails (it ignores SIGPIPE) and its dump fails, undone */
	if (s->r < 0)
		shutdown(s->fd, SHUT_RDWR);
	return NULL;
}

int ckpt_stream_start(struct ckpt *c, struct ckpt_stream **ret, int *ret_criu_fd, struct stasis_error **err)
{
	int sk[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk) < 0)
		return error_set(err, errno, "page server socket");
	/*
	 * CRIU's end may hold a few of its 1 MiB page pipes in flight rather than the default 208 KiB:
	 * it splices on while we read, instead of the two taking turns (1 GiB frozen 1.3-1.5 s instead of
	 * 1.55-1.65 s here).  Beyond net.core.wmem_max only with CAP_NET_ADMIN; else what that allows.
	 */
	const int sndbuf = PS_SOCKET_SNDBUF;
	if (setsockopt(sk[1], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(sk[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	struct ckpt_stream *s = xzalloc(sizeof(*s));
	s->w = c->writer;
	s->fd = sk[0];
	s->next_pages_id = PS_PAGES_ID_BASE;
	s->progress = (struct progress_sink){ c->o.progress, c->o.progress_data, STASIS_PHASE_DUMP };
	if (s->progress.fn) {
		arc_writer_progress(s->w, &(struct arc_progress){ progress_tell_arc, &s->progress }, 0);
		progress_tell(&s->progress, 0, 0);
	}
	int e = pthread_create(&s->thread, NULL, serve, s);
	if (e) {
		close(sk[0]);
		close(sk[1]);
		free(s);
		return error_set(err, e, "page server thread");
	}
	*ret = s;
	*ret_criu_fd = sk[1];
	return 0;
}

static void stream_free(struct ckpt_stream *s)
{
	/* the writer's progress pointed at ours: what it writes next is counted by the next phase */
	if (s->progress.fn)
		arc_writer_progress(s->w, &(struct arc_progress){ NULL, NULL }, 0);
	for (size_t i = 0; i < s->n_maps; i++) {
		free(s->maps[i].image);
		free(s->maps[i].runs);
	}
	free(s->maps);
	stasis_error_free(s->err);
	close(s->fd);
	free(s);
}

int ckpt_stream_finish(struct ckpt *c, struct ckpt_stream *s, int *criu_fd, bool *ret_archive_failed,
		       struct stasis_error **err)
{
	/* CRIU has answered: with our copy of its end gone, a session it left open reads EOF */
	if (*criu_fd >= 0) {
		close(*criu_fd);
		*criu_fd = -1;
	}
	pthread_join(s->thread, NULL);
	*ret_archive_failed = s->archive_failed;
	int r = s->r;
	if (r < 0) {
		error_adopt(err, &s->err, r);
		stream_free(s);
		return r;
	}
	c->streamed_bytes = s->bytes;
	for (size_t i = 0; i < s->n_maps && r == 0; i++) {
		const struct stream_map *m = &s->maps[i];
		cleanup_free unsigned char *image = NULL;
		size_t len;
		image_pagemap_encode(m->pages_id, m->runs, m->n, &image, &len);
		cleanup_free char *member = xasprintf(ARCHIVE_CHECKPOINT_DIR "/%s", m->image);
		r = arc_writer_add_buffer(c->writer, member, image, len, err);
		c->streamed_bytes += len;
	}
	stream_free(s);
	return r;
}
