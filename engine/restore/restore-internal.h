/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/restore/: bringing a container back.  restore.c runs the steps (unpack and verify the
 * archive, rootfs, bundle, mountpoints); context.c owns their state, warnings and rollback;
 * prepare.c makes bind sources and mountpoints; netns.c and hooks.c the network namespace and
 * OCI hooks; labels.c the LSM labels; the CRIU step is runc.c (runc restore) or native.c (our
 * RPC client).
 */
#ifndef STASIS_ENGINE_RESTORE_INTERNAL_H
#define STASIS_ENGINE_RESTORE_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine/archive/archive.h"
#include "include/stasis.h"
#include "oci/oci.h"

struct restore_ctx {
	struct stasis_restore_opts o;
	char *state_dir;
	bool state_created;
	char *archive_dir;
	struct arc_import import;
	char *images_dir;
	char *work_dir;
	char *bundle;
	char *config_json;
	size_t config_len;
	struct oci_config *config;
	char *rootfs;
	bool rootfs_mounted;
	char *runtime;
	char *netns_path;
	bool netns_created;
	struct oci_config_dump *cdump;
	struct oci_bind_mount *bind_info;
	size_t n_bind_info;
	char **diff_paths; /* what rootfs-diff.tar wrote, to relabel */
	size_t n_diff_paths;
	char **deleted;
	size_t n_deleted;
	bool runtime_created;
	pid_t native_pid;
	pid_t pid;
	char *kept_log; /* a failed restore's log, moved out of the removed state dir */
};

/* Hands a warning to the caller's callback. */
void restore_warn(struct restore_ctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Undoes what this restore made, newest first: runtime record, process, mounts, its state dir. */
void restore_ctx_rollback(struct restore_ctx *r);
void restore_ctx_clear(struct restore_ctx *r);

struct lsm_decision;
/* The labels the container gets; relabels what the rootfs diff wrote when a mount context is set. */
int restore_decide_labels(struct restore_ctx *r, struct lsm_decision *d, struct stasis_error **err);

/* runc restore does the CRIU step, so runc owns the container. */
int restore_via_runc(struct stasis_ctx *ctx, struct restore_ctx *r, struct stasis_error **err);
/* Our own CRIU RESTORE; then crun's status file (crun) or stasis' state record (none). */
int restore_native(struct stasis_ctx *ctx, struct restore_ctx *r, struct stasis_error **err);

#endif
