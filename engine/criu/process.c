/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checkpoint and restore of a bare process tree, and CRIU's host CHECK. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"

int stasis_criu_check(struct stasis_ctx *ctx, const char *work_dir, struct stasis_error **err)
{
	cleanup_close int dfd = -1;
	int r = cr_open_dir(work_dir, true, &dfd, err);
	if (r < 0)
		return error_wrap(err, r, "check");
	/* CHECK needs opts: CRIU sets up its images dir and log from them before cr_check(). */
	struct rpc_opts o;
	rpc_opts_init(&o);
	o.images_dir_fd = dfd;
	o.log_file = "check.log";
	o.log_level = STASIS_LOG_LEVEL;
	cleanup_with(rpc_result_clear) struct rpc_result res = { 0 };
	r = cr_run(ctx, RPC_CHECK, &o, NULL, &res, err);
	if (r < 0)
		return error_wrap(err, r, "check");
	if (!res.success) {
		cleanup_free char *log = xasprintf("%s/check.log", work_dir);
		return cr_fail(err, "check", &res, log);
	}
	return 0;
}

struct process_call {
	int images_fd;
	int work_fd;
	char *log_path;
	struct rpc_opts o;
};

static void process_call_done(struct process_call *c)
{
	closep(&c->images_fd);
	closep(&c->work_fd);
	free(c->log_path);
}

static int process_call_init(const struct stasis_process_opts *in, const char *default_log,
			     bool create_images, struct process_call *c, struct stasis_error **err)
{
	*c = (struct process_call){ .images_fd = -1, .work_fd = -1 };
	if (!in->images_dir)
		return error_setx(err, EINVAL, "no images directory given");
	int r = cr_open_dir(in->images_dir, create_images, &c->images_fd, err);
	if (r < 0)
		return r;
	const char *work = in->work_dir ? in->work_dir : in->images_dir;
	if (in->work_dir) {
		r = cr_open_dir(in->work_dir, true, &c->work_fd, err);
		if (r < 0)
			return r;
	}
	const char *log = in->log_file ? in->log_file : default_log;
	if (strchr(log, '/'))
		return error_setx(err, EINVAL, "log file `%s` must be a bare name inside the work directory",
				  log);
	c->log_path = xasprintf("%s/%s", work, log);

	rpc_opts_init(&c->o);
	c->o.images_dir_fd = c->images_fd;
	c->o.work_dir_fd = c->work_fd;
	c->o.log_file = log;
	c->o.log_level = in->log_level > 0 ? in->log_level : STASIS_LOG_LEVEL;
	c->o.leave_running = in->leave_running;
	c->o.shell_job = in->shell_job;
	c->o.tcp_established = in->tcp_established;
	c->o.ext_unix_sk = in->ext_unix_sk;
	c->o.file_locks = in->file_locks;
	c->o.parent_img = in->parent_dir;
	return 0;
}

static int copy_opts(const struct stasis_process_opts *opts, struct stasis_process_opts *o,
		     struct stasis_error **err)
{
	if (!opts)
		return error_setx(err, EINVAL, "no options given");
	return opts_copy(o, sizeof(*o), opts, "process", err);
}

static int process_dump(struct stasis_ctx *ctx, const struct stasis_process_opts *opts, enum rpc_req type,
			struct stasis_error **err)
{
	struct stasis_process_opts in;
	int r = copy_opts(opts, &in, err);
	if (r < 0)
		return r;
	const char *what = type == RPC_PRE_DUMP ? "pre-dump" : "dump";
	if (in.pid <= 0)
		return error_setx(err, EINVAL, "%s: no pid given", what);
	r = stasis_criu_require(ctx, err);
	if (r < 0)
		return error_wrap(err, r, "%s", what);
	if (type == RPC_PRE_DUMP && (r = cr_require_mem_track(ctx, err)) < 0)
		return r;

	struct process_call c;
	r = process_call_init(&in, type == RPC_PRE_DUMP ? "pre-dump.log" : "dump.log", true, &c, err);
	if (r < 0) {
		process_call_done(&c);
		return error_wrap(err, r, "%s", what);
	}
	c.o.pid = in.pid;
	c.o.track_mem = type == RPC_PRE_DUMP;
	cleanup_with(rpc_result_clear) struct rpc_result res = { 0 };
	r = cr_run(ctx, type, &c.o, NULL, &res, err);
	if (r < 0)
		r = error_wrap(err, r, "%s pid %d", what, (int)in.pid);
	else if (!res.success) {
		cleanup_free char *w = xasprintf("%s pid %d", what, (int)in.pid);
		r = cr_fail(err, w, &res, c.log_path);
	}
	process_call_done(&c);
	return r;
}

int stasis_process_dump(struct stasis_ctx *ctx, const struct stasis_process_opts *opts,
			struct stasis_error **err)
{
	return process_dump(ctx, opts, RPC_DUMP, err);
}

int stasis_process_pre_dump(struct stasis_ctx *ctx, const struct stasis_process_opts *opts,
			    struct stasis_error **err)
{
	return process_dump(ctx, opts, RPC_PRE_DUMP, err);
}

int stasis_process_restore(struct stasis_ctx *ctx, const struct stasis_process_opts *opts, pid_t *ret_pid,
			   struct stasis_error **err)
{
	struct stasis_process_opts in;
	int r = copy_opts(opts, &in, err);
	if (r < 0)
		return r;
	r = stasis_criu_require(ctx, err);
	if (r < 0)
		return error_wrap(err, r, "restore");
	struct process_call c;
	r = process_call_init(&in, "restore.log", false, &c, err);
	if (r < 0) {
		process_call_done(&c);
		return error_wrap(err, r, "restore");
	}
	/* The restored tree becomes our child, not criu swrk's, as runc does it. */
	c.o.rst_sibling = true;
	cleanup_with(rpc_result_clear) struct rpc_result res = { 0 };
	r = cr_run(ctx, RPC_RESTORE, &c.o, NULL, &res, err);
	if (r < 0)
		r = error_wrap(err, r, "restore `%s`", in.images_dir);
	else if (!res.success) {
		cleanup_free char *w = xasprintf("restore `%s`", in.images_dir);
		r = cr_fail(err, w, &res, c.log_path);
	} else if (ret_pid) {
		*ret_pid = res.restored_pid;
	}
	process_call_done(&c);
	return r;
}
