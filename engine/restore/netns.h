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

#endif
