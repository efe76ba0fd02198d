/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `criu restore --stream`, its images served by the caller (streamer.c). */
#ifndef STASIS_ENGINE_CRIU_STREAMER_H
#define STASIS_ENGINE_CRIU_STREAMER_H

#include <stdbool.h>
#include <sys/types.h>

struct rpc_opts;
struct stasis_ctx;
struct stasis_error;

/* Where the images come from. */
struct cr_stream_source {
	/* whether there is an image of this name (a bare name: "pages-1.img"); CRIU probes many */
	bool (*exists)(const char *name, void *data);
	/*
	 * Writes the whole image into fd, a pipe CRIU reads (blocking writes; -EPIPE when CRIU
	 * stopped reading), on a thread of its own, several at once.  A failure (-errno, err set)
	 * ends the restore: CRIU sees the image end early and undoes what it made.
	 */
	int (*feed)(const char *name, int fd, void *data, struct stasis_error **err);
	/*
	 * CRIU had to be killed half way: ends the tasks it made (may be NULL).  They may hold the
	 * pipes the feeders write into, and the feeders are waited for before returning.
	 */
	void (*abandon)(void *data);
	void *data;
};

/*
 * Restores with CRIU's command line (rpc_restore_argv: what o asks, images_dir_fd -1) and its image
 * streamer, listening in images_dir (a short path: a socket's name is 108 bytes at most); CRIU's log
 * and restore.pid go to work_dir.  On success *ret_pid is the restored tree's root.  A feeder's
 * failure is the error; else CRIU's, with its log's lines.
 */
int cr_restore_streamed(struct stasis_ctx *ctx, const struct rpc_opts *o, const char *images_dir,
			const char *work_dir, const struct cr_stream_source *src, pid_t *ret_pid,
			struct stasis_error **err);

#endif
