/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/netns.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdint.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "include/stasis.h"
#include "oci/oci.h"

/* The kernel gives lo 127.0.0.1/8 and ::1 as it comes up: setting the flag is all it takes. */
static int loopback_up(void)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

/* Waits for a child that exits with the number of the step that failed (0: none). */
static int wait_child(pid_t pid)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

int restore_new_netns(const char *path, struct stasis_error **err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, errno, "create `%s`", path);
	pid_t pid = fork();
	if (pid < 0)
		return error_set(err, errno, "fork");
	if (pid == 0) {
		/* the child enters the new namespace; the bind mount keeps it after the child exits */
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (loopback_up() < 0)
			_exit(2);
		_exit(mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0 ? 3 : 0);
	}
	int step = wait_child(pid);
	if (step != 0) {
		unlink(path);
		static const char *const what[] = { "", "unshare", "set loopback up", "bind mount" };
		return error_setx(err, EPERM, "create a network namespace at `%s` (%s failed)", path,
				  step < 4 ? what[step] : "its child");
	}
	return 0;
}

int netns_loopback_up_pid(pid_t pid, struct stasis_error **err)
{
	cleanup_free char *ns = xasprintf("/proc/%d/ns/net", (int)pid);
	cleanup_close int fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open `%s`", ns);
	pid_t child = fork();
	if (child < 0)
		return error_set(err, errno, "fork");
	if (child == 0)
		_exit(setns(fd, CLONE_NEWNET) < 0 ? 1 : loopback_up() < 0 ? 2 : 0);
	int step = wait_child(child);
	if (step != 0)
		return error_setx(err, EPERM, "set loopback up in the network namespace of %d (%s failed)",
				  (int)pid, step == 1 ? "setns" : "SIOCSIFFLAGS");
	return 0;
}

int stasis_hook(const char *name, const char *state_json, size_t len, struct stasis_error **err)
{
	if (strcmp(name, STASIS_HOOK_LOOPBACK_UP) != 0)
		return error_setx(err, EINVAL, "hook `%s`: unknown (known: %s)", name,
				  STASIS_HOOK_LOOPBACK_UP);
	struct oci_state *st = NULL;
	int r = oci_state_parse(state_json, len, "the hook's state (stdin)", &st, err);
	if (r < 0)
		return r;
	r = st->pid > 0 ? netns_loopback_up_pid(st->pid, err)
			: error_setx(err, EINVAL, "hook `%s`: the state has no pid", name);
	oci_state_free(st);
	return r;
}

struct peer_dump {
	int out; /* the pipe to the parent */
	int err;
};

static int on_unix_diag(struct nl_msg *msg, void *data)
{
	struct peer_dump *d = data;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[UNIX_DIAG_MAX + 1];
	if (nlmsg_parse(h, sizeof(struct unix_diag_msg), tb, UNIX_DIAG_MAX, NULL) < 0)
		return NL_SKIP;
	const struct unix_diag_msg *m = nlmsg_data(h);
	uint32_t pair[3] = { m->udiag_ino, tb[UNIX_DIAG_PEER] ? nla_get_u32(tb[UNIX_DIAG_PEER]) : 0,
			     m->udiag_type };
	if (write(d->out, pair, sizeof(pair)) != (ssize_t)sizeof(pair))
		d->err = 1;
	return NL_OK;
}

/* In the child, inside the namespace: dump every unix socket with its peer into fd out. */
static int dump_unix_peers(int out)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_SOCK_DIAG) < 0)
		return 2;
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = (uint32_t)-1,
		.udiag_show = UDIAG_SHOW_PEER,
	};
	struct peer_dump d = { .out = out };
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_unix_diag, &d);
	int r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	if (r >= 0)
		r = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	return r < 0 ? 3 : d.err ? 4 : 0;
}

int netns_unix_peers(pid_t pid, struct unix_peer **ret, size_t *ret_n, struct stasis_error **err)
{
	cleanup_free char *ns = xasprintf("/proc/%d/ns/net", (int)pid);
	cleanup_close int fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open `%s`", ns);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_set(err, errno, "pipe");
	pid_t child = fork();
	if (child < 0) {
		close(p[0]);
		close(p[1]);
		return error_set(err, errno, "fork");
	}
	if (child == 0) {
		close(p[0]);
		_exit(setns(fd, CLONE_NEWNET) < 0 ? 1 : dump_unix_peers(p[1]));
	}
	close(p[1]);
	struct unix_peer *v = NULL;
	size_t n = 0;
	uint32_t pair[3];
	ssize_t l;
	/* read all before waiting: the child blocks on a full pipe */
	while ((l = read(p[0], pair, sizeof(pair))) == (ssize_t)sizeof(pair) || (l < 0 && errno == EINTR)) {
		if (l < 0)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = (struct unix_peer){ pair[0], pair[1], pair[2] };
	}
	close(p[0]);
	int step = wait_child(child);
	if (step != 0) {
		free(v);
		return error_setx(err, EIO, "list the unix sockets of pid %d's network namespace (%s failed)",
				  (int)pid, step == 1 ? "setns" : "sock_diag");
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
