/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI hooks run by a native restore, where runc would have run them (CRIU's setup-namespaces). */
#ifndef STASIS_ENGINE_HOOKS_H
#define STASIS_ENGINE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "oci/oci.h"

struct stasis_error;

/* The OCI state a hook reads on stdin: status "creating", the restored pid, bundle, annotations. */
char *hook_state_json(const char *id, pid_t pid, const char *bundle, const struct oci_config *c);

/*
 * Runs hooks one after the other with state on stdin and the hook's own env, each killed after
 * its timeout; the first failure stops and names the hook (kind, index, path), its exit and the
 * last line it wrote to stderr.
 */
int hooks_run(const struct oci_hook *hooks, size_t n, const char *kind, const char *state,
	      struct stasis_error **err);

/*
 * Whether the .hooks of spec (parsed as config) are exactly the one stasis puts in bundles it builds
 * for runc: a single createRuntime hook `PATH hook loopback-up`.  A container stasis restored under
 * runc and checkpointed again carries it in spec.dump; anything else there is someone else's hook.
 */
bool restore_hooks_only_ours(const char *spec, size_t len, const struct oci_config *config);

#endif
