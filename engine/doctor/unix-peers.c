/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unix sockets of a container's network namespace and their peers, as the kernel's sock_diag
 * reports them (libnl): the doctor tells a peer outside the container from one inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <sched.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/doctor/doctor-internal.h"

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
		v = xgrow(v, n, sizeof(*v));
		v[n++] = (struct unix_peer){ pair[0], pair[1], pair[2] };
	}
	close(p[0]);
	int step = child_wait_exit_code(child);
	if (step != 0) {
		free(v);
		return error_setx(err, EIO, "list the unix sockets of pid %d's network namespace (%s failed)",
				  (int)pid, step == 1 ? "setns" : "sock_diag");
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
