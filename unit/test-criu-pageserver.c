/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The receiving end of CRIU's page server protocol (engine/criu/pageserver.c) against a fake CRIU
 * speaking it as CRIU 4.2.1 did here (OPEN2, ADD_F runs with and without data, CLOSE), and the
 * pagemap stasis writes from what it heard, read back by the image reader.
 */
#include "unit/unit.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "engine/criu/pageserver.h"
#include "engine/images/reader.h"
#include "include/stasis.h"

struct iov {
	uint32_t cmd, pad;
	uint64_t nr_pages, vaddr, dst_id;
};

static void send_iov(int fd, uint32_t cmd, uint64_t nr, uint64_t vaddr, uint64_t dst)
{
	struct iov v = { cmd, 0x5555, nr, vaddr, dst };
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(2);
}

/* the fake CRIU: one task, 3 present pages, 1 page in the parent, 2 more present; then CLOSE */
static void fake_criu(int fd)
{
	send_iov(fd, PS_IOV_OPEN2, 0, 0, (1234ull << 8) | PS_TYPE_PAGEMAP);
	unsigned char reply;
	if (read(fd, &reply, 1) != 1 || reply != 0)
		_exit(3);
	unsigned char page[PS_PAGE_SIZE];
	for (unsigned p = 0; p < 5; p++) {
		if (p == 0)
			send_iov(fd, PS_IOV_ADD_F | (IMG_PE_PRESENT | IMG_PE_LAZY) << 16, 3, 0x10000, 0);
		if (p == 3) {
			send_iov(fd, PS_IOV_ADD_F | IMG_PE_PARENT << 16, 1, 0x13000, 0);
			send_iov(fd, PS_IOV_ADD_F | IMG_PE_PRESENT << 16, 2, 0x20000, 0);
		}
		memset(page, 'a' + (int)p, sizeof(page));
		if (write(fd, page, sizeof(page)) != sizeof(page))
			_exit(4);
	}
	send_iov(fd, PS_IOV_CLOSE, 0, 0, 0);
	int32_t status = -1;
	if (read(fd, &status, sizeof(status)) != sizeof(status) || status != 0)
		_exit(5);
	_exit(0);
}

struct heard {
	unsigned type, opens, closes;
	uint64_t id;
	struct img_page_run runs[8];
	size_t n_runs;
	unsigned char data[8 * PS_PAGE_SIZE];
	size_t len;
};

static int on_open(unsigned type, uint64_t id, void *data, struct stasis_error **err)
{
	(void)err;
	struct heard *h = data;
	h->type = type;
	h->id = id;
	h->opens++;
	return 0;
}

static int on_run(uint64_t vaddr, uint64_t nr, unsigned flags, void *data, struct stasis_error **err)
{
	(void)err;
	struct heard *h = data;
	assert_true(h->n_runs < 8);
	h->runs[h->n_runs++] = (struct img_page_run){ vaddr, nr, flags };
	return 0;
}

static int on_pages(const void *buf, size_t len, void *data, struct stasis_error **err)
{
	(void)err;
	struct heard *h = data;
	assert_true(h->len + len <= sizeof(h->data));
	/* read where on_buffer said: there already */
	if (buf != h->data + h->len)
		memcpy(h->data + h->len, buf, len);
	h->len += len;
	return 0;
}

/* room for the next bytes where they go, less than a page: a run comes in several reads */
#define BUFFER_ROOM 3000

static int on_buffer(void **ret_buf, size_t *ret_room, void *data)
{
	struct heard *h = data;
	*ret_buf = h->data + h->len;
	*ret_room = BUFFER_ROOM;
	return 0;
}

static int on_close(void *data, struct stasis_error **err)
{
	(void)err;
	((struct heard *)data)->closes++;
	return 0;
}

/* the fake CRIU in a child, at the other end of *ret_fd */
static pid_t start_fake(void (*fake)(int fd), int *ret_fd)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		fake(sv[1]);
	}
	close(sv[1]);
	*ret_fd = sv[0];
	return pid;
}

/* the pages heard in the server's buffer, or read where the handler said (buffered) */
static void a_dump_is_heard_whole_once(bool buffered)
{
	int fd;
	pid_t pid = start_fake(fake_criu, &fd);
	struct heard *h = xzalloc(sizeof(*h));
	const struct ps_handlers handlers = { on_open,	on_run, on_pages,
					      on_close, h,	buffered ? on_buffer : NULL };
	assert_int_equal(ps_serve(fd, &handlers, NULL), 0);
	close(fd);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(h->opens, 1);
	assert_int_equal(h->closes, 1);
	assert_int_equal(h->type, PS_TYPE_PAGEMAP);
	assert_int_equal(h->id, 1234);
	assert_int_equal(h->n_runs, 3);
	assert_int_equal(h->runs[1].flags, IMG_PE_PARENT);
	assert_int_equal(h->len, 5 * PS_PAGE_SIZE);
	for (unsigned p = 0; p < 5; p++)
		assert_int_equal(h->data[p * PS_PAGE_SIZE], 'a' + (int)p);

	/* the pagemap stasis writes from it reads back as CRIU's own would */
	unsigned char *img = NULL;
	size_t len = 0;
	image_pagemap_encode(7, h->runs, h->n_runs, &img, &len);
	const struct image_blob b = { "pagemap-1234.img", img, len };
	struct img_pagemap pm = { 0 };
	assert_int_equal(image_read_pagemap(&b, &pm, NULL), 0);
	assert_int_equal(pm.pages_id, 7);
	assert_int_equal(pm.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(pm.runs[i].vaddr, h->runs[i].vaddr);
		assert_int_equal(pm.runs[i].nr_pages, h->runs[i].nr_pages);
		assert_int_equal(pm.runs[i].flags, h->runs[i].flags);
	}
	img_pagemap_clear(&pm);
	free(img);
	free(h);
}

static void a_dump_is_heard_whole(void **state)
{
	(void)state;
	a_dump_is_heard_whole_once(false);
	a_dump_is_heard_whole_once(true);
}

/* a session cut before CLOSE is an error: CRIU died, the archive must not be taken as whole */
static void fake_criu_dies(int fd)
{
	send_iov(fd, PS_IOV_OPEN2, 0, 0, (1ull << 8) | PS_TYPE_PAGEMAP);
	unsigned char reply;
	if (read(fd, &reply, 1) != 1)
		_exit(3);
	send_iov(fd, PS_IOV_ADD_F | IMG_PE_PRESENT << 16, 4, 0x10000, 0);
	unsigned char page[PS_PAGE_SIZE] = { 0 };
	(void)!write(fd, page, sizeof(page));
	_exit(0);
}

static void a_cut_session_is_an_error(void **state)
{
	(void)state;
	int fd;
	pid_t pid = start_fake(fake_criu_dies, &fd);
	struct heard *h = xzalloc(sizeof(*h));
	const struct ps_handlers handlers = { on_open, on_run, on_pages, on_close, h, NULL };
	struct stasis_error *e = NULL;
	assert_int_equal(ps_serve(fd, &handlers, &e), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(e), "pages ended early"));
	stasis_error_free(e);
	assert_int_equal(h->closes, 0);
	close(fd);
	waitpid(pid, NULL, 0);
	free(h);
}

static int read_all(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/*
 * The fake lazy-pages daemon: a GET for 3 pages of task 7 at 0x10000, which it checks came back as
 * ADD_F with PRESENT, the same pid and vaddr, 2 pages (fewer is allowed) of 0xab; then CLOSE, whose
 * status must be 0.  Its exit code says what went wrong.
 */
static void fake_daemon(int fd)
{
	send_iov(fd, PS_IOV_GET, 3, 0x10000, 7);
	struct iov v;
	if (read_all(fd, &v, sizeof(v)) < 0)
		_exit(3);
	if (v.cmd != (PS_IOV_ADD_F | (IMG_PE_PRESENT << 16)) || v.nr_pages != 2 || v.vaddr != 0x10000 ||
	    v.dst_id != 7)
		_exit(4);
	unsigned char page[2 * PS_PAGE_SIZE];
	if (read_all(fd, page, sizeof(page)) < 0 || page[0] != 0xab || page[sizeof(page) - 1] != 0xab)
		_exit(5);
	send_iov(fd, PS_IOV_CLOSE, 0, 0, 0);
	int32_t status = -1;
	if (read_all(fd, &status, sizeof(status)) < 0 || status != 0)
		_exit(6);
	_exit(0);
}

/* the daemon's side of a lazy restore: a GET answered with fewer pages, then CLOSE answered 0 */
static void lazy_requests_are_served(void **state)
{
	(void)state;
	int fd;
	pid_t pid = start_fake(fake_daemon, &fd);
	struct ps_get get;
	assert_int_equal(ps_lazy_next(fd, &get, NULL), 1);
	assert_int_equal(get.pid, 7);
	assert_int_equal(get.vaddr, 0x10000);
	assert_int_equal(get.nr_pages, 3);
	unsigned char *pages = xmalloc(2 * PS_PAGE_SIZE);
	memset(pages, 0xab, 2 * PS_PAGE_SIZE);
	assert_int_equal(ps_lazy_reply(fd, &get, 2, pages, NULL, NULL, NULL), 0);
	free(pages);
	assert_int_equal(ps_lazy_next(fd, &get, NULL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the daemon gone: an error, not a request */
	struct stasis_error *e = NULL;
	assert_true(ps_lazy_next(fd, &get, &e) < 0);
	assert_non_null(strstr(stasis_error_message(e), "criu lazy-pages left the page server"));
	stasis_error_free(e);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_dump_is_heard_whole),
		cmocka_unit_test(a_cut_session_is_an_error),
		cmocka_unit_test(lazy_requests_are_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
