/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network namespaces of restored containers: new ones, and loopback in them. */
#ifndef STASIS_ENGINE_NETNS_H
#define STASIS_ENGINE_NETNS_H

#include <sys/types.h>

struct stasis_error;

/* A new network namespace with loopback up, kept by a bind mount on path. */
int restore_new_netns(const char *path, struct stasis_error **err);
/* Sets loopback up in the network namespace of pid (from a child: the caller's stays as it is). */
int netns_loopback_up_pid(pid_t pid, struct stasis_error **err);

/* A unix socket and its peer's inode (0: none), as sock_diag reports them. */
struct unix_peer {
	unsigned long ino, peer;
	unsigned int type; /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
};

/* The unix sockets of the network namespace pid is in, with their peers (libnl, sock_diag). */
int netns_unix_peers(pid_t pid, struct unix_peer **ret, size_t *ret_n, struct stasis_error **err);

#endif
