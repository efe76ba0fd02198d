/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespaces a child runs in, and loopback in a new network namespace. */
#ifndef STASIS_COMMON_NAMESPACES_H
#define STASIS_COMMON_NAMESPACES_H

/*
 * Where a child runs the program it execs: the network namespace join_net_fd (-1: stay), then new
 * namespaces of the kinds in unshare_flags (CLONE_NEWNET, with loopback up; CLONE_NEWIPC,
 * CLONE_NEWUTS).  A restore runs CRIU (or runc, which runs CRIU) this way: what the images leave
 * in CRIU's own namespaces (a container that shared the host's) comes back in these.
 */
struct child_namespaces {
	int join_net_fd;
	int unshare_flags;
	/*
	 * When set: a mount namespace of the child's own (private, so nothing reaches the caller's)
	 * with the directory bind_src bound over bind_dst.
	 */
	const char *bind_src;
	const char *bind_dst;
};

/* Called between fork and exec, so async-signal-safe: 0 or -errno. */
int child_namespaces_enter(const struct child_namespaces *ns);

/* Sets lo up in the caller's network namespace (async-signal-safe): 0 or -errno. */
int loopback_up(void);

#endif
