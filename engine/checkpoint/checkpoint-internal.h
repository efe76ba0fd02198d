/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/checkpoint/: stasis_checkpoint, one file a step: find.c finds the container and its
 * config, plan.c turns its mounts into CRIU's external resources, freezer.c holds it still, dump.c
 * lets CRIU dump it through our RPC client, export.c streams images, metadata and the rootfs diff
 * into one archive; guard.c makes sure a run that dies half way loses nothing (the lock, the
 * record of what to undo, the guard process, stasis_gc); checkpoint.c runs the steps.
 */
#ifndef STASIS_ENGINE_CHECKPOINT_INTERNAL_H
#define STASIS_ENGINE_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/criu/rpc.h"
#include "include/stasis.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

/* one thing a run must undo if it dies: a freezer it froze, a temporary file or directory */
struct ckpt_guard_entry {
	const char *tag;
	char *path;
};

struct ckpt_guard {
	char *key; /* the container id: the lock's and the record's name */
	int lock_fd;
	pid_t pid; /* the guard process */
	int pipe_fd;
	struct ckpt_guard_entry *entries;
	size_t n_entries;
};

struct ckpt {
	struct stasis_checkpoint_opts o;
	const struct stasis_ctx *ctx;
	struct ckpt_guard guard;
	bool held; /* frozen by us: thawed or killed by us, never by CRIU */
	/*
	 * paused by its runtime before we came (containerd pauses a task to checkpoint it, and
	 * resumes it afterwards): held all the same, but never thawed by us, even on failure
	 */
	bool paused;
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
	/* the bytes of CRIU's images, once dumped: for opts.stats and the archive's progress */
	uint64_t images_bytes;
	/*
	 * The archive, when it is open before the dump: CRIU's pages stream into it (stream.c), and
	 * streamed_bytes of images went there rather than into images_dir.
	 */
	struct arc_writer *writer;
	uint64_t streamed_bytes;
	char *freezer;
	enum rpc_network_lock network_lock; /* from opts.network_lock, decided before anything is frozen */
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
/*
 * Why the archive cannot be written while CRIU dumps (NULL: it can): the options or the
 * compression ask for a directory of images first.  *asked: the caller's options asked for it, so
 * it goes without saying.
 */
const char *ckpt_why_staged(const struct ckpt *c, bool *asked);
/* Opens the archive (c->writer) before the dump, so that CRIU's pages stream into it. */
int ckpt_export_open(struct ckpt *c, struct stasis_error **err);
/* The archive: images, config.dump, spec.dump, bind.mounts, rootfs diff, manifest. */
int ckpt_export(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err);

/*
 * The page server of a streamed dump (stream.c): a thread writing the pages CRIU sends into
 * c->writer.  ckpt_stream_start gives the socket end for CRIU (rpc_opts.ps_fd);
 * ckpt_stream_finish, once CRIU has answered, closes it, waits for the thread, and adds the
 * pagemaps.  Its error says whether the archive failed (the cause of a failed dump: ENOSPC) rather
 * than the session (a consequence of CRIU's failure).
 */
struct ckpt_stream;
int ckpt_stream_start(struct ckpt *c, struct ckpt_stream **ret, int *ret_criu_fd, struct stasis_error **err);
int ckpt_stream_finish(struct ckpt *c, struct ckpt_stream *s, int *criu_fd, bool *ret_archive_failed,
		       struct stasis_error **err);

/*
 * Takes the container's checkpoint lock (-EBUSY naming the holder when another run has it) and,
 * holding it, undoes what a dead run of the same container left (said through say).
 */
int ckpt_guard_lock(struct ckpt_guard *g, const char *key, void (*say)(const char *msg, void *data),
		    void *data, struct stasis_error **err);
/* CKPT_OPS_DIR/<key><suffix>: files of this run beside its lock (malloc'ed). */
char *ckpt_guard_path(const struct ckpt_guard *g, const char *suffix);
/* Starts the guard process that undoes the record if this process dies before releasing. */
int ckpt_guard_start(struct ckpt_guard *g, struct stasis_error **err);
/* Adds a frozen freezer (freezer true) or a temporary path to what a dead run must undo. */
int ckpt_guard_note(struct ckpt_guard *g, bool freezer, const char *path, struct stasis_error **err);
/* The run is over (the caller undid or kept what it made): the guard ends, the lock is released. */
void ckpt_guard_release(struct ckpt_guard *g);

/* The freezer (a cgroup v1 freezer directory): freeze and wait for FROZEN, thaw, and whether frozen. */
int ckpt_freeze(const char *dir, struct stasis_error **err);
int ckpt_thaw(const char *dir, struct stasis_error **err);
bool ckpt_frozen(const char *dir);
/* -EBUSY naming the first stopped task of the cgroup: CRIU would hang on it, fail now instead. */
int ckpt_refuse_stopped(const char *dir, struct stasis_error **err);
/* SIGKILL to every task of a frozen cgroup, then thaw: they die without running again. */
int ckpt_kill_frozen(const char *dir, struct stasis_error **err);

#endif
