/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/runtime/: the OCI runtimes a container belongs to.  runtime.c runs runc and crun (state,
 * delete, restore) and reads what they print; delete.c is `stasis delete`, which removes a
 * container stasis restored and what stasis made for it.
 */
#ifndef STASIS_ENGINE_RUNTIME_INTERNAL_H
#define STASIS_ENGINE_RUNTIME_INTERNAL_H

#include "oci/oci.h"

struct stasis_error;

/* where cgroup hierarchies are mounted, and the parent of the cgroups of containers stasis runs */
#define STASIS_CGROUP_ROOT "/sys/fs/cgroup"
#define STASIS_CGROUP_PARENT "/stasis"

/*
 * Removes the cgroups a native restore made for container id (STASIS_CGROUP_PARENT/id in every
 * hierarchy): once its tasks have exited they are empty, and nothing else removes them.
 */
void runtime_remove_cgroups(const char *id);

/* What a child wrote into a memfd, at most 1 MiB, NUL-terminated (malloc'ed). */
char *memfd_read_capped(int fd);
/* The last non-empty line of text (trims text's tail): where runc, crun and hooks put their error. */
char *text_last_line(char *text);

/* Runs argv (argv[0] looked up in PATH); a failure's message ends with the runtime's last stderr line. */
int runtime_runv(const char *const *argv, char **ret_out, struct stasis_error **err);
/* Runs `<runtime> [--root R] <verb> [extra] <id>`; stdout (capped) goes to *ret_out when given. */
int runtime_run(const char *runtime, const char *root, const char *verb, const char *id, const char *extra,
		char **ret_out, struct stasis_error **err);
/* The container's state from runtime (or, with NULL/"auto", from runc then crun). */
int runtime_state(const char *runtime, const char *root, const char *id, struct oci_state **ret,
		  char **ret_runtime, struct stasis_error **err);

#endif
