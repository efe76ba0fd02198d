/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The receiving end of CRIU's page server protocol (criu/page-xfer.c; ../shared/criu-stream.md
 * B.2), as CRIU speaks it when a dump names a socket in criu_opts.ps.fd: pages come over it instead
 * of into pages-N.img, with the runs a pagemap would list.  Headers are 32 bytes in host order.
 */
#ifndef STASIS_ENGINE_CRIU_PAGESERVER_H
#define STASIS_ENGINE_CRIU_PAGESERVER_H

#include <stddef.h>
#include <stdint.h>

struct stasis_error;

/* page_server_iov.cmd's low 16 bits; ADD_F carries the pagemap flags in the high 16 */
#define PS_IOV_ADD 1u
#define PS_IOV_HOLE 2u
#define PS_IOV_OPEN2 4u
#define PS_IOV_PARENT 5u
#define PS_IOV_ADD_F 6u
#define PS_IOV_GET 7u /* a lazy-pages daemon asks for pages; dst_id is the task's pid as in the images */
#define PS_IOV_CLOSE 0x1023u
#define PS_IOV_FORCE_CLOSE 0x1024u
/* OPEN2's dst_id: (id << 8) | type */
#define PS_TYPE_PAGEMAP 1u /* a task's pages, id its pid */
#define PS_TYPE_SHMEM 2u   /* shared memory, id its shmid */
#define PS_PAGE_SIZE 4096u

struct ps_handlers {
	/* the pages of one pagemap begin (the previous one's have ended) */
	int (*open)(unsigned type, uint64_t id, void *data, struct stasis_error **err);
	/* a run of nr_pages at vaddr (IMG_PE_* flags); with IMG_PE_PRESENT its bytes follow in pages() */
	int (*run)(uint64_t vaddr, uint64_t nr_pages, unsigned flags, void *data, struct stasis_error **err);
	int (*pages)(const void *buf, size_t len, void *data, struct stasis_error **err);
	/* CRIU sent its last page: answered once this returns 0 */
	int (*close)(void *data, struct stasis_error **err);
	void *data;
	/*
	 * Optional: where to read the next bytes of a run (at most *ret_room of them), which pages()
	 * then gets in that same buffer; < 0: into the server's own buffer.
	 */
	int (*buffer)(void **ret_buf, size_t *ret_room, void *data);
};

/*
 * Serves one dump on fd until CRIU closes the session (0) or a handler fails (its error, and the
 * session is cut: CRIU fails its dump, and the container runs on).  EOF before CLOSE, an unknown
 * command or a run past the address space are -EBADMSG.
 */
int ps_serve(int fd, const struct ps_handlers *h, struct stasis_error **err);

/*
 * The serving end, for `criu lazy-pages --page-server` (criu-stream.md B.2): the daemon asks with
 * GET for nr_pages at vaddr of task pid; the reply is an ADD_F header naming the same pid and
 * vaddr with at most nr_pages (never more: extra bytes would be read as the next header), then
 * their bytes.  Replies go in the order of the requests.  CLOSE ends the session.
 */
struct ps_get {
	uint64_t pid;
	uint64_t vaddr;
	uint64_t nr_pages;
};
/* The daemon's next request: 1 and *ret for a GET, 0 for CLOSE (answered), or an error. */
int ps_lazy_next(int fd, struct ps_get *ret, struct stasis_error **err);
/*
 * The answer to get: n of its pages (1 <= n <= get->nr_pages), their bytes in data.  On a socket
 * with a send timeout (SO_SNDTIMEO), stalled (may be NULL) is asked each time the daemon took
 * nothing for that long: 0 waits on, a -errno gives up with it.
 */
int ps_lazy_reply(int fd, const struct ps_get *get, uint64_t n, const void *data, int (*stalled)(void *arg),
		  void *arg, struct stasis_error **err);

#endif
