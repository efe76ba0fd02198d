/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRIU RPC client: `criu swrk <fd>` on a SOCK_SEQPACKET socketpair, one protobuf message per packet,
 * no length prefix (that framing belongs to image files only).
 */
#include "engine/criu/rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/process.h"
#include "common/namespaces.h"
#include "common/xalloc.h"
#include "img-streamer.pb-c.h"
#include "rpc.pb-c.h"

/* A reply bigger than this is not something CRIU sends. */
#define RPC_MAX_PACKET (1u << 20)
/* How long a closed criu swrk gets to exit before it is killed. */
#define RPC_REAP_MS 5000

void rpc_opts_init(struct rpc_opts *o)
{
	*o = (struct rpc_opts){
		.images_dir_fd = -1,
		.work_dir_fd = -1,
		.manage_cgroups_mode = RPC_CG_UNSET,
		.ps_fd = -1,
	};
}

void rpc_result_clear(struct rpc_result *r)
{
	free(r->cr_errmsg);
	*r = (struct rpc_result){ 0 };
}

const char *rpc_req_name(enum rpc_req type)
{
	switch (type) {
	case RPC_DUMP:
		return "DUMP";
	case RPC_RESTORE:
		return "RESTORE";
	case RPC_CHECK:
		return "CHECK";
	case RPC_PRE_DUMP:
		return "PRE_DUMP";
	case RPC_FEATURE_CHECK:
		return "FEATURE_CHECK";
	case RPC_VERSION:
		return "VERSION";
	}
	return "?";
}

static int pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* keep_fds, sorted, once checked: each must be 4 or above (0-2 are CRIU's stdio, 3 its socket) */
static int sorted_keep(const int *keep_fds, size_t n_keep, int **ret, struct stasis_error **err)
{
	int *keep = xreallocarray(NULL, n_keep + 1, sizeof(int));
	for (size_t i = 0; i < n_keep; i++) {
		if (keep_fds[i] < 4) {
			free(keep);
			return error_setx(err, EBADF, "fd %d for CRIU's inherit_fd: must be 4 or above",
					  keep_fds[i]);
		}
		keep[i] = keep_fds[i];
	}
	qsort(keep, n_keep, sizeof(int), cmp_int);
	*ret = keep;
	return 0;
}

/*
 * The child's side of starting CRIU: its namespaces, signals, stdio on /dev/null, fd 3 (sk, or
 * nothing when sk < 0) and keep open, everything else closed; then argv.  Never returns.
 */
static void exec_criu(const char *criu_path, char *const *argv, int sk, const int *keep, size_t n_keep,
		      const struct child_namespaces *ns)
{
	/* first: ns->join_net_fd may be any number, 3 included */
	if (ns && child_namespaces_enter(ns) < 0)
		_exit(127);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* criu swrk takes the socket's number: keep exactly that fd, inheritable, as fd 3. */
	if (sk >= 0 && sk != 3) {
		if (dup2(sk, 3) < 0)
			_exit(127);
	} else if (sk == 3 && fcntl(3, F_SETFD, 0) < 0) {
		_exit(127);
	}
	/*
	 * A terminal's ^C reaches the whole foreground process group: CRIU must not die in the
	 * middle of a restore.  stasis cancels by refusing CRIU's next notification instead.
	 */
	signal(SIGINT, SIG_IGN);
	/* every request we send names a log file; what CRIU prints before that is noise */
	stdio_to_devnull();
	if (sk < 0)
		syscall(SYS_close_range, 3u, 3u, 0u);
	close_fds_except(4, keep, n_keep);
	execv(criu_path, argv);
	_exit(127);
}

int rpc_conn_spawn(const char *criu_path, unsigned int timeout_ms, const int *keep_fds, size_t n_keep,
		   const struct child_namespaces *ns, struct rpc_conn *ret, struct stasis_error **err)
{
	cleanup_free int *keep = NULL;
	int r = sorted_keep(keep_fds, n_keep, &keep, err);
	if (r < 0)
		return r;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_set(err, errno, "socketpair");
	cleanup_close int ours = sv[0];
	cleanup_close int theirs = sv[1];

	char *const argv[] = { (char *)criu_path, (char *)"swrk", (char *)"3", NULL };
	pid_t pid = fork();
	if (pid < 0)
		return error_set(err, errno, "fork for `%s swrk`", criu_path);
	if (pid == 0)
		exec_criu(criu_path, argv, theirs, keep, n_keep, ns);

	*ret = (struct rpc_conn){
		.sk = TAKE_FD(ours),
		.pid = pid,
		.pidfd = pidfd_open_compat(pid),
		.timeout_ms = timeout_ms,
	};
	if (ret->pidfd >= 0)
		fcntl(ret->pidfd, F_SETFD, FD_CLOEXEC);
	return 0;
}

int rpc_cli_spawn(const char *criu_path, char *const *argv, const int *keep_fds, size_t n_keep,
		  const struct child_namespaces *ns, pid_t *ret_pid, int *ret_pidfd,
		  struct stasis_error **err)
{
	cleanup_free int *keep = NULL;
	int r = sorted_keep(keep_fds, n_keep, &keep, err);
	if (r < 0)
		return r;
	pid_t pid = fork();
	if (pid < 0)
		return error_set(err, errno, "fork for `%s %s`", criu_path, argv[1]);
	if (pid == 0)
		exec_criu(criu_path, argv, -1, keep, n_keep, ns);
	*ret_pid = pid;
	*ret_pidfd = pidfd_open_compat(pid);
	if (*ret_pidfd >= 0)
		fcntl(*ret_pidfd, F_SETFD, FD_CLOEXEC);
	return 0;
}

static const char *cg_mode_name(enum rpc_cg_mode m)
{
	switch (m) {
	case RPC_CG_IGNORE:
		return "ignore";
	case RPC_CG_NONE:
		return "none";
	case RPC_CG_PROPS:
		return "props";
	case RPC_CG_SOFT:
		return "soft";
	case RPC_CG_FULL:
		return "full";
	case RPC_CG_STRICT:
		return "strict";
	default:
		return NULL;
	}
}

int rpc_restore_argv(const struct rpc_opts *o, const char *criu_path, const char *images_dir,
		     const char *work_dir, const char *pidfile, char ***ret, struct stasis_error **err)
{
	/* what the command line has no way to say, or what CRIU's streamer cannot take */
	const char *cannot = o->notify_scripts	    ? "notify_scripts"
			     : o->n_join_ns	    ? "join_ns"
			     : o->n_external	    ? "external"
			     : o->n_skip_mnt	    ? "skip_mnt"
			     : o->n_enable_fs	    ? "enable_fs"
			     : o->orphan_pts_master ? "orphan_pts_master"
			     : o->empty_ns	    ? "empty_ns"
			     : o->parent_img	    ? "parent_img"
			     : o->ps_fd >= 0	    ? "ps_fd"
			     /* a stream holds the lazy pages too, for images from a normal dump */
			     : o->lazy_pages	     ? "lazy_pages"
			     : o->images_dir_fd >= 0 ? "images_dir_fd"
						     : NULL;
	for (size_t i = 0; !cannot && i < o->n_ext_mnt; i++)
		if (strchr(o->ext_mnt[i].key, ':'))
			cannot = "an ext_mnt key with a colon";
	if (cannot)
		return error_setx(err, EOPNOTSUPP, "CRIU's command line cannot take %s", cannot);
	char **v = NULL;
	size_t n = 0;
	strv_push(&v, &n, xstrdup(criu_path));
	strv_push(&v, &n, xstrdup("restore"));
	strv_push(&v, &n, xstrdup("--stream"));
	strv_push(&v, &n, xasprintf("--images-dir=%s", images_dir));
	strv_push(&v, &n, xasprintf("--work-dir=%s", work_dir));
	if (o->log_file)
		strv_push(&v, &n, xasprintf("--log-file=%s", o->log_file));
	if (o->log_level > 0)
		strv_push(&v, &n, xasprintf("-v%d", o->log_level));
	if (o->root)
		strv_push(&v, &n, xasprintf("--root=%s", o->root));
	/* what the RPC's rst_sibling does: the tree is the caller's child, CRIU leaves at once */
	strv_push(&v, &n, xstrdup("--restore-detached"));
	if (o->rst_sibling)
		strv_push(&v, &n, xstrdup("--restore-sibling"));
	strv_push(&v, &n, xasprintf("--pidfile=%s", pidfile));
	const struct {
		bool set;
		const char *flag;
	} flags[] = {
		{ o->tcp_established, "--tcp-established" }, { o->tcp_close, "--tcp-close" },
		{ o->ext_unix_sk, "--ext-unix-sk" },	     { o->shell_job, "--shell-job" },
		{ o->file_locks, "--file-locks" },	     { o->link_remap, "--link-remap" },
		{ o->evasive_devices, "--evasive-devices" }, { o->leave_running, "--leave-running" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (flags[i].set)
			strv_push(&v, &n, xstrdup(flags[i].flag));
	/* auto_dedup is left out: CRIU 4.2 crashes with it in a stream restore (criu-stream.md A.6) */
	if (o->manage_cgroups && cg_mode_name(o->manage_cgroups_mode))
		strv_push(&v, &n, xasprintf("--manage-cgroups=%s", cg_mode_name(o->manage_cgroups_mode)));
	else if (o->manage_cgroups)
		strv_push(&v, &n, xstrdup("--manage-cgroups"));
	for (size_t i = 0; i < o->n_cg_root; i++)
		strv_push(&v, &n,
			  o->cg_root[i].key
				  ? xasprintf("--cgroup-root=%s:%s", o->cg_root[i].key, o->cg_root[i].val)
				  : xasprintf("--cgroup-root=%s", o->cg_root[i].val));
	for (size_t i = 0; i < o->n_ext_mnt; i++)
		strv_push(&v, &n, xasprintf("--ext-mount-map=%s:%s", o->ext_mnt[i].key, o->ext_mnt[i].val));
	for (size_t i = 0; i < o->n_inherit_fd; i++)
		strv_push(&v, &n,
			  xasprintf("--inherit-fd=fd[%d]:%s", o->inherit_fd[i].fd, o->inherit_fd[i].key));
	if (o->lsm_profile)
		strv_push(&v, &n, xasprintf("--lsm-profile=%s", o->lsm_profile));
	if (o->lsm_mount_context)
		strv_push(&v, &n, xasprintf("--lsm-mount-context=%s", o->lsm_mount_context));
	if (o->cgroup_yard)
		strv_push(&v, &n, xasprintf("--cgroup-yard=%s", o->cgroup_yard));
	*ret = v;
	return 0;
}

void rpc_lazy_daemon_argv(const char *criu_path, const char *images_dir, const char *work_dir,
			  const char *log_file, int log_level, int page_server_fd, char ***ret)
{
	char **v = NULL;
	size_t n = 0;
	strv_push(&v, &n, xstrdup(criu_path));
	strv_push(&v, &n, xstrdup("lazy-pages"));
	strv_push(&v, &n, xasprintf("--images-dir=%s", images_dir));
	strv_push(&v, &n, xasprintf("--work-dir=%s", work_dir));
	strv_push(&v, &n, xasprintf("--log-file=%s", log_file));
	if (log_level > 0)
		strv_push(&v, &n, xasprintf("-v%d", log_level));
	if (page_server_fd >= 0) {
		strv_push(&v, &n, xstrdup("--page-server"));
		strv_push(&v, &n, xasprintf("--ps-socket=%d", page_server_fd));
	}
	*ret = v;
}

int rpc_streamer_request_decode(const void *buf, size_t len, char **ret_name)
{
	StasisWire__ImgStreamerRequestEntry *req =
		stasis_wire__img_streamer_request_entry__unpack(NULL, len, buf);
	if (!req || !req->filename)
		return -EBADMSG;
	*ret_name = xstrdup(req->filename);
	stasis_wire__img_streamer_request_entry__free_unpacked(req, NULL);
	return 0;
}

size_t rpc_streamer_reply_encode(bool exists, unsigned char buf[RPC_STREAMER_REPLY_MAX])
{
	StasisWire__ImgStreamerReplyEntry rep = STASIS_WIRE__IMG_STREAMER_REPLY_ENTRY__INIT;
	rep.exists = exists;
	uint32_t len = (uint32_t)stasis_wire__img_streamer_reply_entry__get_packed_size(&rep);
	/* the length in host order, then the message (criu-stream.md A.2) */
	memcpy(buf, &len, sizeof(len));
	stasis_wire__img_streamer_reply_entry__pack(&rep, buf + sizeof(len));
	return sizeof(len) + len;
}

void rpc_conn_from_fd(int sk, unsigned int timeout_ms, struct rpc_conn *ret)
{
	*ret = (struct rpc_conn){ .sk = sk, .pid = 0, .pidfd = -1, .timeout_ms = timeout_ms };
}

void rpc_conn_close(struct rpc_conn *c)
{
	closep(&c->sk);
	c->sk = -1;
	if (c->pid > 0) {
		/* EOF on its socket makes criu swrk exit; give it a moment, then insist. */
		int exited = 0;
		if (c->pidfd >= 0) {
			struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
			exited = poll(&p, 1, RPC_REAP_MS) > 0;
		}
		if (!exited)
			kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
	}
	closep(&c->pidfd);
	c->pidfd = -1;
}

static int64_t now_ms(void)
{
	return (int64_t)(monotonic_us() / 1000u);
}

static int send_req(struct rpc_conn *c, const StasisWire__CriuReq *req, struct stasis_error **err)
{
	size_t len = stasis_wire__criu_req__get_packed_size(req);
	cleanup_free uint8_t *buf = xmalloc(len);
	stasis_wire__criu_req__pack(req, buf);
	ssize_t n;
	do
		n = send(c->sk, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EPIPE || errno == ECONNRESET)
			return error_setx(err, ECONNRESET,
					  "CRIU closed the RPC connection before the request");
		return error_set(err, errno, "send request to CRIU");
	}
	if ((size_t)n != len)
		return error_setx(err, EPROTO, "short send to CRIU (%zd of %zu bytes)", n, len);
	return 0;
}

/* Waits for one packet until deadline; returns its unpacked reply and any passed fd. */
static int recv_resp(struct rpc_conn *c, int64_t deadline, StasisWire__CriuResp **ret, int *ret_fd,
		     struct stasis_error **err)
{
	*ret_fd = -1;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return error_setx(err, ETIMEDOUT, "CRIU did not answer within %u ms", c->timeout_ms);
		struct pollfd p = { .fd = c->sk, .events = POLLIN };
		int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "poll CRIU socket");
		}
		if (r > 0)
			break;
	}

	ssize_t size = recv(c->sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	/* a peer killed with our request unread resets the connection instead of closing it */
	if (size == 0 || (size < 0 && errno == ECONNRESET))
		return error_setx(err, ECONNRESET, "CRIU exited without answering (killed or crashed)");
	if (size < 0)
		return error_set(err, errno, "receive from CRIU");
	if ((size_t)size > RPC_MAX_PACKET)
		return error_setx(err, EPROTO, "CRIU sent a %zd byte packet", size);

	cleanup_free uint8_t *buf = xmalloc((size_t)size);
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = (size_t)size };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.b,
		.msg_controllen = sizeof(cbuf.b),
	};
	ssize_t n;
	do
		n = recvmsg(c->sk, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_set(err, errno, "receive from CRIU");

	int fd = -1;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(h);
		for (size_t i = 0; i < nfds; i++) {
			if (fd < 0)
				fd = fds[i];
			else
				close(fds[i]);
		}
	}
	cleanup_close int passed = fd;

	StasisWire__CriuResp *resp = stasis_wire__criu_resp__unpack(NULL, (size_t)n, buf);
	if (!resp)
		return error_setx(err, EPROTO, "CRIU sent a reply that is not a criu_resp (%zd bytes)", n);
	*ret = resp;
	*ret_fd = TAKE_FD(passed);
	return 0;
}

static bool cancelled(const struct rpc_conn *c)
{
	return c->cancelled && *c->cancelled;
}

static int answer_notify(struct rpc_conn *c, const StasisWire__CriuResp *resp, int fd,
			 const struct rpc_notify_table *notify, struct stasis_error **err)
{
	cleanup_close int passed = fd;
	const char *script = (resp->notify && resp->notify->script) ? resp->notify->script : "";
	pid_t pid = (resp->notify && resp->notify->has_pid) ? resp->notify->pid : 0;
	int r = 0;
	struct stasis_error *herr = NULL;

	if (cancelled(c)) {
		/* notify_success=false: CRIU undoes what it did and replies (rpc_call waits for that) */
		StasisWire__CriuReq req = STASIS_WIRE__CRIU_REQ__INIT;
		req.type = STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY;
		req.has_notify_success = true;
		req.notify_success = false;
		return send_req(c, &req, err);
	}
	for (size_t i = 0; notify && i < notify->n_handlers; i++) {
		if (strcmp(notify->handlers[i].script, script) == 0) {
			r = notify->handlers[i].fn(script, pid, &passed, notify->data, &herr);
			break;
		}
	}

	StasisWire__CriuReq req = STASIS_WIRE__CRIU_REQ__INIT;
	req.type = STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY;
	req.has_notify_success = true;
	req.notify_success = r >= 0;
	int s = send_req(c, &req, err);
	if (r < 0) {
		/* the handler's error is the one that explains the failure */
		error_adopt(err, &herr, r);
		return error_wrap(err, r, "CRIU notification `%s`", script);
	}
	return s;
}

static void fill_opts(StasisWire__CriuOpts *o, const struct rpc_opts *in, StasisWire__ExtMountMap **ext,
		      StasisWire__ExtMountMap *ext_store, StasisWire__CgroupRoot **cg,
		      StasisWire__CgroupRoot *cg_store, StasisWire__InheritFd **ifd,
		      StasisWire__InheritFd *ifd_store, StasisWire__JoinNamespace **jn,
		      StasisWire__JoinNamespace *jn_store)
{
	o->images_dir_fd = in->images_dir_fd;
#define SET_BOOL(f)                \
	if (in->f) {               \
		o->has_##f = true; \
		o->f = true;       \
	}
	SET_BOOL(leave_running);
	SET_BOOL(ext_unix_sk);
	SET_BOOL(tcp_established);
	SET_BOOL(tcp_skip_in_flight);
	SET_BOOL(tcp_close);
	SET_BOOL(shell_job);
	SET_BOOL(file_locks);
	SET_BOOL(link_remap);
	SET_BOOL(manage_cgroups);
	SET_BOOL(rst_sibling);
	SET_BOOL(orphan_pts_master);
	SET_BOOL(track_mem);
	SET_BOOL(notify_scripts);
	SET_BOOL(evasive_devices);
	SET_BOOL(auto_dedup);
	SET_BOOL(lazy_pages);
#undef SET_BOOL
	if (in->work_dir_fd >= 0) {
		o->has_work_dir_fd = true;
		o->work_dir_fd = in->work_dir_fd;
	}
	if (in->log_level > 0) {
		o->has_log_level = true;
		o->log_level = in->log_level;
	}
	if (in->pid > 0) {
		o->has_pid = true;
		o->pid = in->pid;
	}
	if (in->network_lock != RPC_NETLOCK_DEFAULT) {
		o->has_network_lock = true;
		o->network_lock = (StasisWire__CriuNetworkLockMethod)in->network_lock;
	}
	if (in->empty_ns) {
		o->has_empty_ns = true;
		o->empty_ns = in->empty_ns;
	}
	if (in->manage_cgroups_mode != RPC_CG_UNSET) {
		o->has_manage_cgroups_mode = true;
		o->manage_cgroups_mode = (StasisWire__CriuCgMode)in->manage_cgroups_mode;
	}
	o->log_file = (char *)in->log_file;
	o->root = (char *)in->root;
	o->parent_img = (char *)in->parent_img;
	o->freeze_cgroup = (char *)in->freeze_cgroup;
	o->lsm_profile = (char *)in->lsm_profile;
	o->lsm_mount_context = (char *)in->lsm_mount_context;
	o->cgroup_yard = (char *)in->cgroup_yard;

	for (size_t i = 0; i < in->n_ext_mnt; i++) {
		stasis_wire__ext_mount_map__init(&ext_store[i]);
		ext_store[i].key = (char *)in->ext_mnt[i].key;
		ext_store[i].val = (char *)in->ext_mnt[i].val;
		ext[i] = &ext_store[i];
	}
	o->n_ext_mnt = in->n_ext_mnt;
	o->ext_mnt = ext;
	for (size_t i = 0; i < in->n_cg_root; i++) {
		stasis_wire__cgroup_root__init(&cg_store[i]);
		cg_store[i].ctrl = (char *)in->cg_root[i].key;
		cg_store[i].path = (char *)in->cg_root[i].val;
		cg[i] = &cg_store[i];
	}
	o->n_cg_root = in->n_cg_root;
	o->cg_root = cg;
	for (size_t i = 0; i < in->n_inherit_fd; i++) {
		stasis_wire__inherit_fd__init(&ifd_store[i]);
		ifd_store[i].key = (char *)in->inherit_fd[i].key;
		ifd_store[i].fd = in->inherit_fd[i].fd;
		ifd[i] = &ifd_store[i];
	}
	o->n_inherit_fd = in->n_inherit_fd;
	o->inherit_fd = ifd;
	for (size_t i = 0; i < in->n_join_ns; i++) {
		stasis_wire__join_namespace__init(&jn_store[i]);
		jn_store[i].ns = (char *)in->join_ns[i].ns;
		jn_store[i].ns_file = (char *)in->join_ns[i].ns_file;
		jn_store[i].extra_opt = (char *)in->join_ns[i].extra_opt;
		jn[i] = &jn_store[i];
	}
	o->n_join_ns = in->n_join_ns;
	o->join_ns = jn;
	o->n_external = in->n_external;
	o->external = (char **)in->external;
	o->n_skip_mnt = in->n_skip_mnt;
	o->skip_mnt = (char **)in->skip_mnt;
	o->n_enable_fs = in->n_enable_fs;
	o->enable_fs = (char **)in->enable_fs;
}

static void take_result(const StasisWire__CriuResp *resp, struct rpc_result *ret)
{
	*ret = (struct rpc_result){ .success = resp->success };
	if (resp->has_cr_errno)
		ret->cr_errno = resp->cr_errno;
	if (resp->cr_errmsg && resp->cr_errmsg[0]) {
		ret->cr_errmsg = xstrdup(resp->cr_errmsg);
		/* CRIU ends it with a newline */
		size_t l = strlen(ret->cr_errmsg);
		while (l && ret->cr_errmsg[l - 1] == '\n')
			ret->cr_errmsg[--l] = '\0';
	}
	if (resp->restore)
		ret->restored_pid = resp->restore->pid;
	if (resp->features) {
		ret->have_features = true;
		ret->mem_track = resp->features->has_mem_track && resp->features->mem_track;
		ret->lazy_pages = resp->features->has_lazy_pages && resp->features->lazy_pages;
		ret->pidfd_store = resp->features->has_pidfd_store && resp->features->pidfd_store;
	}
	if (resp->version) {
		ret->have_version = true;
		ret->major = resp->version->major_number;
		ret->minor = resp->version->minor_number;
		ret->sublevel = resp->version->has_sublevel ? resp->version->sublevel : 0;
	}
}

int rpc_call(struct rpc_conn *c, enum rpc_req type, const struct rpc_opts *opts,
	     const struct rpc_notify_table *notify, struct rpc_result *ret, struct stasis_error **err)
{
	size_t n_ext = opts ? opts->n_ext_mnt : 0, n_cg = opts ? opts->n_cg_root : 0;
	size_t n_ifd = opts ? opts->n_inherit_fd : 0, n_jn = opts ? opts->n_join_ns : 0;
	cleanup_free StasisWire__ExtMountMap **ext = xreallocarray(NULL, n_ext, sizeof(*ext));
	cleanup_free StasisWire__ExtMountMap *ext_store = xreallocarray(NULL, n_ext, sizeof(*ext_store));
	cleanup_free StasisWire__CgroupRoot **cg = xreallocarray(NULL, n_cg, sizeof(*cg));
	cleanup_free StasisWire__CgroupRoot *cg_store = xreallocarray(NULL, n_cg, sizeof(*cg_store));
	cleanup_free StasisWire__InheritFd **ifd = xreallocarray(NULL, n_ifd, sizeof(*ifd));
	cleanup_free StasisWire__InheritFd *ifd_store = xreallocarray(NULL, n_ifd, sizeof(*ifd_store));
	cleanup_free StasisWire__JoinNamespace **jn = xreallocarray(NULL, n_jn, sizeof(*jn));
	cleanup_free StasisWire__JoinNamespace *jn_store = xreallocarray(NULL, n_jn, sizeof(*jn_store));

	StasisWire__CriuOpts o = STASIS_WIRE__CRIU_OPTS__INIT;
	StasisWire__CriuPageServerInfo ps = STASIS_WIRE__CRIU_PAGE_SERVER_INFO__INIT;
	StasisWire__CriuFeatures features = STASIS_WIRE__CRIU_FEATURES__INIT;
	StasisWire__CriuReq req = STASIS_WIRE__CRIU_REQ__INIT;
	req.type = (StasisWire__CriuReqType)type;
	if (opts) {
		fill_opts(&o, opts, ext, ext_store, cg, cg_store, ifd, ifd_store, jn, jn_store);
		if (opts->ps_fd >= 0) {
			ps.has_fd = true;
			ps.fd = opts->ps_fd;
			o.ps = &ps;
		}
		req.opts = &o;
	}
	if (type == RPC_FEATURE_CHECK) {
		features.has_mem_track = features.mem_track = true;
		features.has_lazy_pages = features.lazy_pages = true;
		features.has_pidfd_store = features.pidfd_store = true;
		req.features = &features;
	}

	if (cancelled(c))
		return error_setx(err, ECANCELED, "CRIU %s: cancelled before it started", rpc_req_name(type));
	int r = send_req(c, &req, err);
	if (r < 0)
		return error_wrap(err, r, "CRIU %s", rpc_req_name(type));

	/*
	 * The timeout applies to each wait: a long dump keeps talking through notifications.  A cancel
	 * takes effect at CRIU's next notification, the first point where CRIU can still undo its work;
	 * returning before CRIU answers would leave a half-restored tree that nobody cleans up.
	 */
	for (;;) {
		StasisWire__CriuResp *resp = NULL;
		int fd = -1;
		r = recv_resp(c, now_ms() + c->timeout_ms, &resp, &fd, err);
		if (r < 0)
			return error_wrap(err, r, "CRIU %s", rpc_req_name(type));
		if (resp->type == STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY) {
			r = answer_notify(c, resp, fd, notify, err);
			stasis_wire__criu_resp__free_unpacked(resp, NULL);
			if (r < 0)
				return error_wrap(err, r, "CRIU %s", rpc_req_name(type));
			continue;
		}
		closep(&fd);
		if (resp->type != (StasisWire__CriuReqType)type) {
			int got = resp->type;
			stasis_wire__criu_resp__free_unpacked(resp, NULL);
			return error_setx(err, EPROTO, "CRIU %s: reply of type %d", rpc_req_name(type), got);
		}
		take_result(resp, ret);
		stasis_wire__criu_resp__free_unpacked(resp, NULL);
		if (cancelled(c))
			return error_setx(err, ECANCELED, "CRIU %s: cancelled (CRIU %s)", rpc_req_name(type),
					  ret->success ? "had finished: what it made is undone"
						       : "undid its work");
		return 0;
	}
}

int rpc_run(const char *criu_path, unsigned int timeout_ms, const volatile sig_atomic_t *cancelled,
	    enum rpc_req type, const struct rpc_opts *opts, const struct rpc_notify_table *notify,
	    struct rpc_result *ret, struct stasis_error **err)
{
	struct rpc_conn c;
	/* CRIU takes inherit_fd numbers in its own fd table: those fds go to it as they are */
	size_t n_keep = opts ? opts->n_inherit_fd : 0;
	int *keep = xreallocarray(NULL, n_keep + 2, sizeof(int));
	for (size_t i = 0; i < n_keep; i++)
		keep[i] = opts->inherit_fd[i].fd;
	/* the page server socket is CRIU's at the number the request names */
	if (opts && opts->ps_fd >= 0)
		keep[n_keep++] = opts->ps_fd;
	int r = rpc_conn_spawn(criu_path, timeout_ms, keep, n_keep, opts ? opts->criu_namespaces : NULL, &c,
			       err);
	free(keep);
	if (r < 0)
		return r;
	c.cancelled = cancelled;
	if (opts && opts->before_request)
		r = opts->before_request(opts->before_request_data, err);
	if (r == 0)
		r = rpc_call(&c, type, opts, notify, ret, err);
	rpc_conn_close(&c);
	return r;
}
