/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state of one restore: what it has made so far (state dir, overlay, netns, runtime record,
 * process), its warnings, and the rollback that undoes exactly what this call made, newest first.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/restore/restore-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "oci/oci.h"

void restore_warn(struct restore_ctx *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	warn_to(r->o.warn, r->o.warn_data, fmt, ap);
	va_end(ap);
}

void restore_ctx_clear(struct restore_ctx *r)
{
	free(r->state_dir);
	free(r->archive_dir);
	free(r->images_dir);
	free(r->work_dir);
	free(r->bundle);
	free(r->config_json);
	oci_config_free(r->config);
	free(r->rootfs);
	free(r->runtime);
	free(r->netns_path);
	free(r->kept_log);
	oci_config_dump_free(r->cdump);
	oci_bind_mounts_free(r->bind_info, r->n_bind_info);
	strv_freep(&r->deleted);
	strv_freep(&r->diff_paths);
	arc_import_clear(&r->import);
}

/* Undo, newest first: no process, no mount, no half-built bundle of ours. */
void restore_ctx_rollback(struct restore_ctx *r)
{
	if (r->runtime_created) {
		cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
		runtime_run(r->runtime, r->o.runtime_root, "delete", r->o.id, "--force", NULL, &e);
	}
	if (r->native_pid > 0)
		kill(r->native_pid, SIGKILL);
	if (r->netns_created)
		umount2(r->netns_path, MNT_DETACH);
	if (r->rootfs_mounted)
		umount2(r->rootfs, MNT_DETACH);
	if (r->state_created && r->work_dir) {
		/* the log of a failed restore is worth more than a clean slate: keep it beside */
		cleanup_free char *log = xasprintf("%s/restore.log", r->work_dir);
		cleanup_free char *kept = xasprintf("%s.restore.log", r->state_dir);
		if (rename(log, kept) == 0)
			r->kept_log = TAKE_PTR(kept);
	}
	if (r->state_created)
		rm_rf(r->state_dir);
}
