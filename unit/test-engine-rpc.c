/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The RPC client against fake CRIU peers on a socketpair: well-behaved, dying, garbage, silent. */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/criu/rpc.h"
#include "rpc.pb-c.h"

typedef void (*peer_fn)(int sk);

static pid_t peer_pid;

/* Starts a fake CRIU in a child process and returns our end of the socket. */
static int start_peer(peer_fn fn)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	peer_pid = fork();
	assert_true(peer_pid >= 0);
	if (peer_pid == 0) {
		close(sv[0]);
		fn(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	return sv[0];
}

static void stop_peer(void)
{
	kill(peer_pid, SIGKILL);
	waitpid(peer_pid, NULL, 0);
}

static StasisWire__CriuReq *peer_read(int sk)
{
	uint8_t buf[4096];
	ssize_t n = recv(sk, buf, sizeof(buf), 0);
	if (n <= 0)
		_exit(3);
	StasisWire__CriuReq *req = stasis_wire__criu_req__unpack(NULL, (size_t)n, buf);
	if (!req)
		_exit(4);
	return req;
}

static void peer_send(int sk, const StasisWire__CriuResp *resp, int fd)
{
	uint8_t buf[4096];
	size_t len = stasis_wire__criu_resp__pack(resp, buf);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		msg.msg_control = c.b;
		msg.msg_controllen = sizeof(c.b);
		struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(int));
	}
	if (sendmsg(sk, &msg, 0) < 0)
		_exit(5);
}

static void peer_version(int sk)
{
	StasisWire__CriuReq *req = peer_read(sk);
	if (req->type != STASIS_WIRE__CRIU_REQ_TYPE__VERSION)
		_exit(6);
	StasisWire__CriuVersion v = STASIS_WIRE__CRIU_VERSION__INIT;
	v.major_number = 4;
	v.minor_number = 2;
	v.has_sublevel = true;
	v.sublevel = 1;
	StasisWire__CriuResp resp = STASIS_WIRE__CRIU_RESP__INIT;
	resp.type = STASIS_WIRE__CRIU_REQ_TYPE__VERSION;
	resp.success = true;
	resp.version = &v;
	peer_send(sk, &resp, -1);
}

static void version_reply(void **state)
{
	(void)state;
	struct rpc_conn c;
	rpc_conn_from_fd(start_peer(peer_version), 2000, &c);
	struct rpc_result res = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(rpc_call(&c, RPC_VERSION, NULL, NULL, &res, &err), 0);
	assert_true(res.success);
	assert_true(res.have_version);
	assert_int_equal(res.major, 4);
	assert_int_equal(res.minor, 2);
	assert_int_equal(res.sublevel, 1);
	rpc_result_clear(&res);
	rpc_conn_close(&c);
	stop_peer();
}

/* A dump that sends orphan-pts-master with an fd, then post-dump, checks each answer, then succeeds. */
static void peer_dump_with_notify(int sk)
{
	StasisWire__CriuReq *req = peer_read(sk);
	if (req->type != STASIS_WIRE__CRIU_REQ_TYPE__DUMP || !req->opts || req->opts->images_dir_fd != 7 ||
	    !req->opts->has_pid || req->opts->pid != 1234 || req->opts->n_external != 1 ||
	    strcmp(req->opts->external[0], "mnt[/data]:/data") || req->opts->n_ext_mnt != 1 ||
	    strcmp(req->opts->ext_mnt[0]->key, "/data"))
		_exit(7);
	/* the page server socket goes as criu_opts.ps.fd (field 11, 4) */
	if (!req->opts->ps || !req->opts->ps->has_fd || req->opts->ps->fd != 9)
		_exit(10);
	/* the network lock as CRIU's RPC numbers it (nftables = 2), sent only when asked */
	if (!req->opts->has_network_lock ||
	    req->opts->network_lock != STASIS_WIRE__CRIU_NETWORK_LOCK_METHOD__NFTABLES)
		_exit(11);
	const char *scripts[] = { "orphan-pts-master", "post-dump" };
	for (int i = 0; i < 2; i++) {
		StasisWire__CriuNotify n = STASIS_WIRE__CRIU_NOTIFY__INIT;
		n.script = (char *)scripts[i];
		n.has_pid = true;
		n.pid = 42;
		StasisWire__CriuResp resp = STASIS_WIRE__CRIU_RESP__INIT;
		resp.type = STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY;
		resp.success = true;
		resp.notify = &n;
		int p[2] = { -1, -1 };
		if (i == 0 && pipe(p) < 0)
			_exit(8);
		peer_send(sk, &resp, p[0]);
		StasisWire__CriuReq *ans = peer_read(sk);
		if (ans->type != STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY || !ans->has_notify_success ||
		    !ans->notify_success)
			_exit(9);
	}
	StasisWire__CriuResp resp = STASIS_WIRE__CRIU_RESP__INIT;
	resp.type = STASIS_WIRE__CRIU_REQ_TYPE__DUMP;
	resp.success = false;
	resp.has_cr_errno = true;
	resp.cr_errno = EBUSY;
	resp.cr_errmsg = (char *)"Error (x.c:1): something\n";
	peer_send(sk, &resp, -1);
}

struct seen {
	int calls;
	int fd_valid;
	pid_t pid;
};

static int on_pts(const char *script, pid_t pid, int *fd, void *data, struct stasis_error **err)
{
	(void)script;
	(void)err;
	struct seen *s = data;
	s->calls++;
	s->pid = pid;
	s->fd_valid = *fd >= 0 && fcntl(*fd, F_GETFD) == FD_CLOEXEC;
	return 0;
}

static int on_post_dump(const char *script, pid_t pid, int *fd, void *data, struct stasis_error **err)
{
	(void)script;
	(void)pid;
	(void)err;
	struct seen *s = data;
	s->calls++;
	assert_int_equal(*fd, -1);
	return 0;
}

static void notify_and_fd(void **state)
{
	(void)state;
	struct rpc_conn c;
	rpc_conn_from_fd(start_peer(peer_dump_with_notify), 2000, &c);
	struct rpc_opts o;
	rpc_opts_init(&o);
	o.images_dir_fd = 7;
	o.pid = 1234;
	o.ps_fd = 9;
	o.network_lock = RPC_NETLOCK_NFTABLES;
	const char *ext[] = { "mnt[/data]:/data" };
	o.external = ext;
	o.n_external = 1;
	struct rpc_kv mnt[] = { { "/data", "/data" } };
	o.ext_mnt = mnt;
	o.n_ext_mnt = 1;
	struct seen s = { 0 };
	struct rpc_notify_handler h[] = { { "orphan-pts-master", on_pts }, { "post-dump", on_post_dump } };
	struct rpc_notify_table t = { h, 2, &s };
	struct rpc_result res = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(rpc_call(&c, RPC_DUMP, &o, &t, &res, &err), 0);
	assert_null(err);
	assert_int_equal(s.calls, 2);
	assert_true(s.fd_valid);
	assert_int_equal(s.pid, 42);
	assert_false(res.success);
	assert_int_equal(res.cr_errno, EBUSY);
	assert_string_equal(res.cr_errmsg, "Error (x.c:1): something");
	rpc_result_clear(&res);
	rpc_conn_close(&c);
	int status;
	assert_int_equal(waitpid(peer_pid, &status, 0), peer_pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void peer_notify_expect_refusal(int sk)
{
	peer_read(sk);
	StasisWire__CriuNotify n = STASIS_WIRE__CRIU_NOTIFY__INIT;
	n.script = (char *)"setup-namespaces";
	StasisWire__CriuResp resp = STASIS_WIRE__CRIU_RESP__INIT;
	resp.type = STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY;
	resp.success = true;
	resp.notify = &n;
	peer_send(sk, &resp, -1);
	StasisWire__CriuReq *ans = peer_read(sk);
	_exit(ans->notify_success ? 10 : 0);
}

static int refuse(const char *script, pid_t pid, int *fd, void *data, struct stasis_error **err)
{
	(void)script;
	(void)pid;
	(void)fd;
	(void)data;
	return error_setx(err, EPERM, "hook said no");
}

static void notify_handler_failure(void **state)
{
	(void)state;
	struct rpc_conn c;
	rpc_conn_from_fd(start_peer(peer_notify_expect_refusal), 2000, &c);
	struct rpc_notify_handler h[] = { { "setup-namespaces", refuse } };
	struct rpc_notify_table t = { h, 1, NULL };
	struct rpc_opts o;
	rpc_opts_init(&o);
	struct rpc_result res = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(rpc_call(&c, RPC_RESTORE, &o, &t, &res, &err), -EPERM);
	assert_string_equal(stasis_error_message(err),
			    "CRIU RESTORE: CRIU notification `setup-namespaces`: hook said no");
	stasis_error_free(err);
	rpc_conn_close(&c);
	int status;
	assert_int_equal(waitpid(peer_pid, &status, 0), peer_pid);
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A cancel that comes while CRIU restores: the flag lives in memory the fake CRIU shares, which
 * sets it as a signal handler would, then notifies.  The notification must be refused (so that
 * CRIU undoes its work) and the call end with -ECANCELED once CRIU has replied.
 */
static volatile sig_atomic_t *shared_cancel;

static void peer_dies(int sk);

static void peer_cancelled_mid_restore(int sk)
{
	peer_read(sk);
	*shared_cancel = 1;
	StasisWire__CriuNotify n = STASIS_WIRE__CRIU_NOTIFY__INIT;
	n.script = (char *)"post-setup-namespaces";
	StasisWire__CriuResp resp = STASIS_WIRE__CRIU_RESP__INIT;
	resp.type = STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY;
	resp.success = true;
	resp.notify = &n;
	peer_send(sk, &resp, -1);
	StasisWire__CriuReq *ans = peer_read(sk);
	if (ans->type != STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY || !ans->has_notify_success ||
	    ans->notify_success)
		_exit(11);
	/* CRIU aborts the restore on a refused notification and says so */
	StasisWire__CriuResp done = STASIS_WIRE__CRIU_RESP__INIT;
	done.type = STASIS_WIRE__CRIU_REQ_TYPE__RESTORE;
	done.success = false;
	peer_send(sk, &done, -1);
}

/* A cancel after CRIU's last notification: the reply (with the restored pid) still reaches the caller. */
static void peer_cancelled_after_restore(int sk)
{
	peer_read(sk);
	*shared_cancel = 1;
	StasisWire__CriuRestoreResp rr = STASIS_WIRE__CRIU_RESTORE_RESP__INIT;
	rr.pid = 4242;
	StasisWire__CriuResp done = STASIS_WIRE__CRIU_RESP__INIT;
	done.type = STASIS_WIRE__CRIU_REQ_TYPE__RESTORE;
	done.success = true;
	done.restore = &rr;
	peer_send(sk, &done, -1);
}

static int must_not_run(const char *script, pid_t pid, int *fd, void *data, struct stasis_error **err)
{
	(void)script;
	(void)pid;
	(void)fd;
	(void)err;
	++*(int *)data;
	return 0;
}

static void cancel_refuses_the_next_notification(void **state)
{
	(void)state;
	shared_cancel =
		mmap(NULL, sizeof(*shared_cancel), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared_cancel != MAP_FAILED);
	int handler_calls = 0;
	struct rpc_notify_handler h[] = { { "post-setup-namespaces", must_not_run } };
	struct rpc_notify_table t = { h, 1, &handler_calls };
	struct rpc_opts o;
	rpc_opts_init(&o);

	*shared_cancel = 0;
	struct rpc_conn c;
	rpc_conn_from_fd(start_peer(peer_cancelled_mid_restore), 2000, &c);
	c.cancelled = shared_cancel;
	struct rpc_result res = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(rpc_call(&c, RPC_RESTORE, &o, &t, &res, &err), -ECANCELED);
	assert_non_null(strstr(stasis_error_message(err), "cancelled (CRIU undid its work)"));
	assert_int_equal(handler_calls, 0);
	assert_false(res.success);
	err = stasis_error_free(err);
	rpc_result_clear(&res);
	rpc_conn_close(&c);
	int status;
	assert_int_equal(waitpid(peer_pid, &status, 0), peer_pid);
	assert_int_equal(WEXITSTATUS(status), 0);

	*shared_cancel = 0;
	rpc_conn_from_fd(start_peer(peer_cancelled_after_restore), 2000, &c);
	c.cancelled = shared_cancel;
	assert_int_equal(rpc_call(&c, RPC_RESTORE, &o, &t, &res, &err), -ECANCELED);
	assert_true(res.success);
	assert_int_equal(res.restored_pid, 4242);
	err = stasis_error_free(err);
	rpc_result_clear(&res);
	rpc_conn_close(&c);
	assert_int_equal(waitpid(peer_pid, &status, 0), peer_pid);

	/* already cancelled: the request is never sent */
	rpc_conn_from_fd(start_peer(peer_dies), 2000, &c);
	c.cancelled = shared_cancel;
	assert_int_equal(rpc_call(&c, RPC_RESTORE, &o, &t, &res, &err), -ECANCELED);
	assert_non_null(strstr(stasis_error_message(err), "cancelled before it started"));
	err = stasis_error_free(err);
	rpc_conn_close(&c);
	stop_peer();
	munmap((void *)shared_cancel, sizeof(*shared_cancel));
}

static void peer_dies(int sk)
{
	peer_read(sk);
	_exit(1);
}

static void peer_garbage(int sk)
{
	peer_read(sk);
	const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x01 };
	if (send(sk, junk, sizeof(junk), 0) < 0)
		_exit(1);
	pause();
}

static void peer_silent(int sk)
{
	peer_read(sk);
	pause();
}

static void peer_wrong_type(int sk)
{
	peer_read(sk);
	StasisWire__CriuResp resp = STASIS_WIRE__CRIU_RESP__INIT;
	resp.type = STASIS_WIRE__CRIU_REQ_TYPE__RESTORE;
	resp.success = true;
	peer_send(sk, &resp, -1);
	pause();
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expect_failure(peer_fn fn, int expect, const char *text)
{
	struct rpc_conn c;
	rpc_conn_from_fd(start_peer(fn), 300, &c);
	struct rpc_result res = { 0 };
	struct stasis_error *err = NULL;
	int64_t t0 = ms_now();
	assert_int_equal(rpc_call(&c, RPC_VERSION, NULL, NULL, &res, &err), expect);
	assert_true(ms_now() - t0 < 3000);
	assert_non_null(strstr(stasis_error_message(err), text));
	stasis_error_free(err);
	rpc_conn_close(&c);
	stop_peer();
}

static void dying_peer(void **state)
{
	(void)state;
	expect_failure(peer_dies, -ECONNRESET, "CRIU exited without answering");
}

static void garbage_peer(void **state)
{
	(void)state;
	expect_failure(peer_garbage, -EPROTO, "not a criu_resp");
}

static void silent_peer(void **state)
{
	(void)state;
	expect_failure(peer_silent, -ETIMEDOUT, "did not answer within 300 ms");
}

static void wrong_type_peer(void **state)
{
	(void)state;
	expect_failure(peer_wrong_type, -EPROTO, "reply of type 2");
}

/* A fake criu binary that never answers: timeout, then the child is killed and reaped. */
static void spawned_silent_criu_is_reaped(void **state)
{
	(void)state;
	char dir[] = "/tmp/stasis-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/criu", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\nexec sleep 30\n", f);
	fclose(f);
	chmod(path, 0755);

	struct rpc_result res = { 0 };
	struct stasis_error *err = NULL;
	int64_t t0 = ms_now();
	assert_int_equal(rpc_run(path, 300, NULL, RPC_VERSION, NULL, NULL, &res, &err), -ETIMEDOUT);
	assert_true(ms_now() - t0 < 8000);
	stasis_error_free(err);
	/* no child of ours is left, not even a zombie */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	err = NULL;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(rpc_run(path, 300, NULL, RPC_VERSION, NULL, NULL, &res, &err), -ECONNRESET);
	stasis_error_free(err);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	snprintf(path, sizeof(path), "%s/criu", dir);
	unlink(path);
	rmdir(dir);
}

/* before_request: runs once criu swrk is started, before the request; what it refuses ends swrk */
static int refuse_request(void *data, struct stasis_error **err)
{
	++*(int *)data;
	return error_setx(err, EPROTO, "lazy restore: the daemon did not listen");
}

static void before_request_failure_ends_criu(void **state)
{
	(void)state;
	char dir[] = "/tmp/stasis-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *path = xasprintf("%s/criu", dir), *mark = xasprintf("%s/read", dir);
	/* a criu that records whether anything came on its socket before it closed */
	cleanup_free char *script = xasprintf("#!/bin/sh\nexec cat <&3 >%s\n", mark);
	assert_int_equal(write_file_atomic(path, script, strlen(script), 0755, 0, NULL), 0);
	int calls = 0;
	struct rpc_opts o;
	rpc_opts_init(&o);
	o.before_request = refuse_request;
	o.before_request_data = &calls;
	struct rpc_result res = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(rpc_run(path, 5000, NULL, RPC_RESTORE, &o, NULL, &res, &err), -EPROTO);
	assert_int_equal(calls, 1);
	assert_non_null(strstr(stasis_error_message(err), "did not listen"));
	stasis_error_free(err);
	/* swrk was reaped, and read nothing: the request never went */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	struct stat st;
	assert_int_equal(stat(mark, &st), 0);
	assert_int_equal(st.st_size, 0);
	unlink(mark);
	unlink(path);
	rmdir(dir);
}

/* what a native restore asks of CRIU, on its command line for a streamed restore */
static void restore_argv(void **state)
{
	(void)state;
	struct rpc_opts o;
	rpc_opts_init(&o);
	o.log_file = "restore.log";
	o.log_level = 4;
	o.root = "/run/stasis/web/criu-root";
	o.rst_sibling = o.manage_cgroups = o.tcp_established = o.file_locks = o.auto_dedup = true;
	o.manage_cgroups_mode = RPC_CG_SOFT;
	const struct rpc_kv cg = { NULL, "/stasis/web" };
	o.cg_root = &cg;
	o.n_cg_root = 1;
	const struct rpc_kv ext[] = { { "/data", "/srv/data" }, { "/proc/kcore", "/dev/null" } };
	o.ext_mnt = ext;
	o.n_ext_mnt = 2;
	const struct rpc_inherit_fd ifd = { "pipe:[4242]", 7 };
	o.inherit_fd = &ifd;
	o.n_inherit_fd = 1;
	char **argv = NULL;
	assert_int_equal(
		rpc_restore_argv(&o, "/c/criu", "/run/stasis/@stream-x", "/w", "/w/restore.pid", &argv, NULL),
		0);
	const char *want[] = { "/c/criu",
			       "restore",
			       "--stream",
			       "--images-dir=/run/stasis/@stream-x",
			       "--work-dir=/w",
			       "--log-file=restore.log",
			       "-v4",
			       "--root=/run/stasis/web/criu-root",
			       "--restore-detached",
			       "--restore-sibling",
			       "--pidfile=/w/restore.pid",
			       "--tcp-established",
			       "--file-locks",
			       "--manage-cgroups=soft",
			       "--cgroup-root=/stasis/web",
			       "--ext-mount-map=/data:/srv/data",
			       "--ext-mount-map=/proc/kcore:/dev/null",
			       "--inherit-fd=fd[7]:pipe:[4242]",
			       NULL };
	size_t i = 0;
	for (; want[i]; i++)
		assert_string_equal(argv[i], want[i]);
	/* auto_dedup crashes CRIU 4.2's stream restore: never passed */
	assert_null(argv[i]);
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	/* what the command line cannot say is refused by name */
	struct stasis_error *e = NULL;
	o.notify_scripts = true;
	assert_int_equal(rpc_restore_argv(&o, "/c/criu", "/d", "/w", "/w/p", &argv, &e), -EOPNOTSUPP);
	assert_non_null(strstr(stasis_error_message(e), "notify_scripts"));
	e = stasis_error_free(e);
	o.notify_scripts = false;
	const struct rpc_kv colon = { "a:b", "/x" };
	o.ext_mnt = &colon;
	o.n_ext_mnt = 1;
	assert_int_equal(rpc_restore_argv(&o, "/c/criu", "/d", "/w", "/w/p", &argv, &e), -EOPNOTSUPP);
	e = stasis_error_free(e);
	/* a stream would hold the lazy pages too (the images of a normal dump): never both */
	o.n_ext_mnt = 0;
	o.lazy_pages = true;
	assert_int_equal(rpc_restore_argv(&o, "/c/criu", "/d", "/w", "/w/p", &argv, &e), -EOPNOTSUPP);
	assert_non_null(strstr(stasis_error_message(e), "lazy_pages"));
	stasis_error_free(e);
}

/* argv is want (n entries, the last NULL); freed */
static void assert_argv(char ***argv, const char *const *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (want[i])
			assert_string_equal((*argv)[i], want[i]);
		else
			assert_null((*argv)[i]);
	strv_freep(argv);
}

/* `criu lazy-pages`: from the page images, or from a page server; the restore finds it in the work dir */
static void lazy_daemon_argv(void **state)
{
	(void)state;
	char **argv = NULL;
	rpc_lazy_daemon_argv("/c/criu", "/d", "/w", "lazy-pages.log", 4, -1, &argv);
	const char *local[] = {
		"/c/criu", "lazy-pages", "--images-dir=/d", "--work-dir=/w", "--log-file=lazy-pages.log",
		"-v4",	   NULL
	};
	assert_argv(&argv, local, ARRAY_SIZE(local));
	rpc_lazy_daemon_argv("/c/criu", "/d", "/w", "l.log", 0, 7, &argv);
	const char *remote[] = { "/c/criu",	     "lazy-pages",    "--images-dir=/d", "--work-dir=/w",
				 "--log-file=l.log", "--page-server", "--ps-socket=7",	 NULL };
	assert_argv(&argv, remote, ARRAY_SIZE(remote));
}

/* the image streamer's messages, as criu-stream.md A.2 shows them on the wire */
static void streamer_messages(void **state)
{
	(void)state;
	unsigned char buf[RPC_STREAMER_REPLY_MAX];
	assert_int_equal(rpc_streamer_reply_encode(true, buf), 6);
	assert_memory_equal(buf, "\x02\x00\x00\x00\x08\x01", 6);
	assert_int_equal(rpc_streamer_reply_encode(false, buf), 6);
	assert_memory_equal(buf, "\x02\x00\x00\x00\x08\x00", 6);
	char *name = NULL;
	assert_int_equal(rpc_streamer_request_decode("\x0a\x0bseccomp.img", 13, &name), 0);
	assert_string_equal(name, "seccomp.img");
	free(name);
	assert_int_equal(rpc_streamer_request_decode("\x0a\x20seccomp.img", 13, &name), -EBADMSG);
	assert_int_equal(rpc_streamer_request_decode("", 0, &name), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_reply),
		cmocka_unit_test(notify_and_fd),
		cmocka_unit_test(notify_handler_failure),
		cmocka_unit_test(dying_peer),
		cmocka_unit_test(garbage_peer),
		cmocka_unit_test(silent_peer),
		cmocka_unit_test(wrong_type_peer),
		cmocka_unit_test(spawned_silent_criu_is_reaped),
		cmocka_unit_test(before_request_failure_ends_criu),
		cmocka_unit_test(cancel_refuses_the_next_notification),
		cmocka_unit_test(restore_argv),
		cmocka_unit_test(streamer_messages),
		cmocka_unit_test(lazy_daemon_argv),
	};
	return cmocka_run_group_tests_name("engine-rpc", tests, NULL, NULL);
}
