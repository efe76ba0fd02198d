/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Container checkpoint: find the container, plan its mounts, let CRIU dump it through our RPC
 * client, then stream images, metadata and the rootfs diff into one archive.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/checkpoint/checkpoint-internal.h"
#include "engine/engine-internal.h"
#include "engine/criu/criu-internal.h"
#include "engine/runtime/runtime-internal.h"

static void ckpt_clear(struct ckpt *c)
{
	oci_state_free(c->state);
	free(c->runtime);
	oci_config_free(c->config);
	free(c->config_json);
	mnt_table_clear(&c->mountinfo);
	mnt_plan_clear(&c->plan);
	if (c->images_tmp && c->images_dir)
		rm_rf(c->images_dir);
	free(c->images_dir);
	free(c->work_dir);
	free(c->freezer);
}

void ckpt_warn(struct ckpt *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	warn_to(c->o.warn, c->o.warn_data, fmt, ap);
	va_end(ap);
}

int stasis_checkpoint(struct stasis_ctx *ctx, const struct stasis_checkpoint_opts *opts,
		      struct stasis_error **err)
{
	struct ckpt c = { 0 };
	if (!opts)
		return error_setx(err, EINVAL, "checkpoint: no options given");
	int rc = opts_copy(&c.o, sizeof(c.o), opts, "checkpoint", err);
	if (rc < 0)
		return rc;
	const char *what = c.o.id ? c.o.id : "container";
	int r;

	if (!c.o.image_path && !c.o.export_path) {
		r = error_setx(err, EINVAL,
			       "neither opts.image_path nor opts.export_path given: nowhere to write the "
			       "checkpoint");
		goto out;
	}
	if (c.o.export_path && access(c.o.export_path, F_OK) == 0) {
		r = error_setx(err, EEXIST, "`%s` exists: stasis does not overwrite an archive",
			       c.o.export_path);
		goto out;
	}
	r = stasis_criu_require(ctx, err);
	if (r < 0)
		goto out;
	if (c.o.pre_dump) {
		if ((r = cr_require_mem_track(ctx, err)) < 0)
			goto out;
		if (c.o.export_path) {
			r = error_setx(err, EINVAL,
				       "opts.pre_dump writes images only: drop opts.export_path");
			goto out;
		}
	}
	if ((r = ckpt_find_container(&c, err)) < 0 || (r = ckpt_load_config(&c, err)) < 0 ||
	    (r = ckpt_plan(&c, err)) < 0 || (r = ckpt_prepare_dirs(&c, err)) < 0)
		goto out;
	ctx_log(ctx, STASIS_LOG_INFO, "checkpoint `%s`: pid %d (%s), images in `%s`", c.state->id,
		(int)c.state->pid, c.runtime ? c.runtime : "no runtime", c.images_dir);
	r = ckpt_dump(ctx, &c, err);
	if (r < 0)
		goto out;
	if (c.o.export_path) {
		r = ckpt_export(ctx, &c, err);
		if (r == 0)
			ctx_log(ctx, STASIS_LOG_INFO, "checkpoint `%s`: archive `%s` written", c.state->id,
				c.o.export_path);
		if (r < 0) {
			/* the container is dumped: its images are all that is left of it, never delete them */
			c.images_tmp = false;
			error_wrap(err, r, "CRIU images kept in `%s`", c.images_dir);
			goto out;
		}
	}
	if (!c.runtime && !c.o.pid && !c.o.leave_running && !c.o.pre_dump) {
		/* a stasis-restored container without runtime: it is gone, so is its record */
		cleanup_free char *own = stasis_state_record(c.state->id);
		unlink(own);
		*strrchr(own, '/') = '\0';
		rmdir(own);
	}
	if (c.runtime && !c.o.leave_running && !c.o.pre_dump) {
		/* as `runc checkpoint` does: the dumped container is gone, so is its runtime state */
		cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
		if (runtime_run(c.runtime, c.o.runtime_root, "delete", c.state->id, "--force", NULL, &e) < 0)
			ckpt_warn(&c, "checkpointed, but `%s delete` failed: %s", c.runtime,
				  stasis_error_message(e));
	}
out:
	if (r < 0)
		error_wrap(err, r, "checkpoint `%s`", what);
	ckpt_clear(&c);
	return r;
}
