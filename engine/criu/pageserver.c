/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/criu/pageserver.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/images/reader.h"

/* struct page_server_iov: the padding after cmd is not zeroed by CRIU (0x5555 was seen) */
struct ps_iov {
	uint32_t cmd;
	uint32_t pad;
	uint64_t nr_pages;
	uint64_t vaddr;
	uint64_t dst_id;
};
_Static_assert(sizeof(struct ps_iov) == 32, "CRIU's page_server_iov is 32 bytes");

/* how much of a run is read at once */
#define PS_READ_CHUNK (1u << 20)
/* no x86-64 address space holds more pages than this (47 bits of user addresses) */
#define PS_MAX_RUN_PAGES (1ull << 35)

/* a read of the session: its end before the message does is EBADMSG */
static int read_full(int fd, void *buf, size_t len)
{
	int r = read_exact(fd, buf, len);
	return r == -ENODATA ? -EBADMSG : r;
}

static int run_data(int fd, const struct ps_handlers *h, uint64_t bytes, unsigned char *buf,
		    struct stasis_error **err)
{
	while (bytes) {
		size_t n = bytes < PS_READ_CHUNK ? (size_t)bytes : PS_READ_CHUNK;
		void *to = buf;
		size_t room;
		/* straight where they go: one copy less a byte */
		if (h->buffer && h->buffer(&to, &room, h->data) == 0) {
			if (n > room)
				n = room;
		} else {
			to = buf;
		}
		int r = read_full(fd, to, n);
		if (r < 0)
			return error_set(err, -r, "CRIU's page server: pages ended early");
		if ((r = h->pages(to, n, h->data, err)) < 0)
			return r;
		bytes -= n;
	}
	return 0;
}

int ps_serve(int fd, const struct ps_handlers *h, struct stasis_error **err)
{
	cleanup_free unsigned char *buf = xmalloc(PS_READ_CHUNK);
	bool opened = false;
	for (;;) {
		struct ps_iov iov;
		int r = read_full(fd, &iov, sizeof(iov));
		if (r < 0)
			return error_set(err, r == -EBADMSG ? EBADMSG : -r,
					 "CRIU's page server: the session ended before CRIU closed it");
		unsigned cmd = iov.cmd & 0xffff, flags = iov.cmd >> 16;
		switch (cmd) {
		case PS_IOV_OPEN2: {
			if ((r = h->open(iov.dst_id & 0xff, iov.dst_id >> 8, h->data, err)) < 0)
				return r;
			opened = true;
			/* the reply: no parent images (a pre-dump's parent is not ours to serve) */
			const unsigned char no_parent = 0;
			if ((r = send_all(fd, &no_parent, 1)) < 0)
				return error_set(err, -r, "CRIU's page server: reply to OPEN2");
			break;
		}
		case PS_IOV_PARENT: {
			const int32_t no_parent = 0;
			if ((r = send_all(fd, &no_parent, sizeof(no_parent))) < 0)
				return error_set(err, -r, "CRIU's page server: reply to PARENT");
			break;
		}
		case PS_IOV_ADD:
		case PS_IOV_HOLE:
		case PS_IOV_ADD_F: {
			/* the legacy commands are ADD_F with PRESENT (ADD) and PARENT (HOLE) */
			if (cmd == PS_IOV_ADD)
				flags = IMG_PE_PRESENT;
			else if (cmd == PS_IOV_HOLE)
				flags = IMG_PE_PARENT;
			if (!opened || iov.nr_pages == 0 || iov.nr_pages > PS_MAX_RUN_PAGES)
				return error_setx(
					err, EBADMSG, "CRIU's page server: a run of %llu pages at 0x%llx%s",
					(unsigned long long)iov.nr_pages, (unsigned long long)iov.vaddr,
					opened ? "" : " before any OPEN2");
			if ((r = h->run(iov.vaddr, iov.nr_pages, flags, h->data, err)) < 0)
				return r;
			if ((flags & IMG_PE_PRESENT) &&
			    (r = run_data(fd, h, iov.nr_pages * PS_PAGE_SIZE, buf, err)) < 0)
				return r;
			break;
		}
		case PS_IOV_CLOSE:
		case PS_IOV_FORCE_CLOSE: {
			int32_t status = 0;
			r = h->close(h->data, err);
			if (r < 0)
				return r;
			if ((r = send_all(fd, &status, sizeof(status))) < 0)
				return error_set(err, -r, "CRIU's page server: reply to CLOSE");
			return 0;
		}
		default:
			return error_setx(err, EBADMSG, "CRIU's page server: unknown command 0x%x", cmd);
		}
	}
}

int ps_lazy_next(int fd, struct ps_get *ret, struct stasis_error **err)
{
	struct ps_iov iov;
	int r = read_full(fd, &iov, sizeof(iov));
	if (r < 0)
		return error_set(err, r == -EBADMSG ? EBADMSG : -r,
				 "criu lazy-pages left the page server before it had every page");
	switch (iov.cmd & 0xffff) {
	case PS_IOV_GET:
		if (iov.nr_pages == 0 || iov.nr_pages > PS_MAX_RUN_PAGES)
			return error_setx(err, EBADMSG, "criu lazy-pages asked for %llu pages",
					  (unsigned long long)iov.nr_pages);
		*ret = (struct ps_get){ iov.dst_id, iov.vaddr, iov.nr_pages };
		return 1;
	case PS_IOV_CLOSE:
	case PS_IOV_FORCE_CLOSE: {
		/* the daemon waits for a status, then for us to close */
		const int32_t ok = 0;
		if ((r = send_all(fd, &ok, sizeof(ok))) < 0)
			return error_set(err, -r, "page server: reply to CLOSE");
		return 0;
	}
	default:
		return error_setx(err, EBADMSG, "criu lazy-pages sent command %#x", iov.cmd);
	}
}

int ps_lazy_reply(int fd, const struct ps_get *get, uint64_t n, const void *data, int (*stalled)(void *arg),
		  void *arg, struct stasis_error **err)
{
	struct ps_iov iov = {
		.cmd = PS_IOV_ADD_F | (IMG_PE_PRESENT << 16),
		.nr_pages = n,
		.vaddr = get->vaddr,
		.dst_id = get->pid,
	};
	int r = send_all_watched(fd, &iov, sizeof(iov), stalled, arg);
	if (r == 0)
		r = send_all_watched(fd, data, (size_t)n * PS_PAGE_SIZE, stalled, arg);
	return r < 0 ? error_set(err, -r, "page server: pages for criu lazy-pages") : 0;
}
