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
/*
 * In images_dir, a scratch copy of an archive's images (never a caller's directory): removes the
 * network dumps that hold nothing, which CRIU would still feed to a tool it runs (`ip route
 * restore` of a route dump that is only its header, `iptables-legacy-restore` of an empty
 * iptables dump): a missing dump is skipped, which is the same, without the exec (some 2-5 ms
 * each here).  How many went.
 */
int netns_prune_empty_dumps(const char *images_dir);

#endif
