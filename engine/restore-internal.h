/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_ENGINE_RESTORE_INTERNAL_H
#define STASIS_ENGINE_RESTORE_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine/archive-read.h"
#include "include/stasis.h"
#include "oci/oci.h"

struct rst {
	struct stasis_restore_opts o;
	char *state_dir;
	bool state_created;
	char *archive_dir;
	struct archive_import import;
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

void rst_warn(struct rst *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* runc restore does the CRIU step, so runc owns the container. */
int restore_via_runc(struct stasis_ctx *ctx, struct rst *r, struct stasis_error **err);
/* Our own CRIU RESTORE; then crun's status file (crun) or stasis' state record (none). */
int restore_native(struct stasis_ctx *ctx, struct rst *r, struct stasis_error **err);

#endif
