/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/checkpoint/: stasis_checkpoint, one file a step: find.c finds the container and its
 * config, plan.c turns its mounts into CRIU's external resources, dump.c lets CRIU dump it through
 * our RPC client, export.c streams images, metadata and the rootfs diff into one archive;
 * checkpoint.c runs the steps and owns their state.
 */
#ifndef STASIS_ENGINE_CHECKPOINT_INTERNAL_H
#define STASIS_ENGINE_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "include/stasis.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

struct ckpt {
	struct stasis_checkpoint_opts o;
	struct oci_state *state;
	char *runtime;
	struct oci_config *config;
	char *config_json;
	size_t config_len;
	struct mnt_table mountinfo;
	struct mnt_plan plan;
	char *images_dir;
	bool images_tmp;
	char *work_dir;
	char *freezer;
};

void ckpt_warn(struct ckpt *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The container's state (runtime, record or --pid) and its config.json. */
int ckpt_find_container(struct ckpt *c, struct stasis_error **err);
int ckpt_load_config(struct ckpt *c, struct stasis_error **err);
/* The dump plan: external mounts and resources, from the container's mountinfo and config. */
int ckpt_plan(struct ckpt *c, struct stasis_error **err);
/* The images and work directories (a temporary one when exporting). */
int ckpt_prepare_dirs(struct ckpt *c, struct stasis_error **err);
/* CRIU's DUMP (or PRE_DUMP) of the container's tree into the images directory. */
int ckpt_dump(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err);
/* The archive: images, config.dump, spec.dump, bind.mounts, rootfs diff, manifest. */
int ckpt_export(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err);

#endif
