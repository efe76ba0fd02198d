/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CRIU's DUMP of the container's process tree, and the directories it writes into. */
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

static int write_descriptors(struct ckpt *c, struct stasis_error **err)
{
	/* runc's descriptors.json: what fds 0-2 pointed to, so restore can reconnect pipes */
	struct oci_json *j = oci_json_new(false);
	oci_json_array_open(j);
	for (int fd = 0; fd < 3; fd++) {
		cleanup_free char *link = xasprintf("/proc/%d/fd/%d", (int)c->state->pid, fd);
		char target[4096];
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		oci_json_string(j, target);
	}
	oci_json_array_close(j);
	size_t len;
	cleanup_free char *text = oci_json_finish(j, &len);
	cleanup_free char *path = xasprintf("%s/descriptors.json", c->images_dir);
	return write_file_atomic(path, text, len, 0600, 0, err);
}

static enum rpc_cg_mode cg_mode(const char *s, bool *ok)
{
	*ok = true;
	if (!s || strcmp(s, "soft") == 0)
		return RPC_CG_SOFT;
	if (strcmp(s, "full") == 0)
		return RPC_CG_FULL;
	if (strcmp(s, "strict") == 0)
		return RPC_CG_STRICT;
	if (strcmp(s, "ignore") == 0)
		return RPC_CG_IGNORE;
	*ok = false;
	return RPC_CG_UNSET;
}

int ckpt_dump(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err)
{
	bool ok;
	enum rpc_cg_mode mode = cg_mode(c->o.manage_cgroups_mode, &ok);
	if (!ok)
		return error_setx(err, EINVAL,
				  "opts.manage_cgroups_mode `%s`: expected soft, full, strict or ignore",
				  c->o.manage_cgroups_mode);
	cleanup_close int images_fd = -1, work_fd = -1;
	int r = cr_open_dir(c->images_dir, true, &images_fd, err);
	if (r < 0)
		return r;
	r = cr_open_dir(c->work_dir, true, &work_fd, err);
	if (r < 0)
		return r;
	r = write_descriptors(c, err);
	if (r < 0)
		return r;

	size_t n = c->plan.n_ext_mnt;
	cleanup_free struct rpc_kv *ext = xreallocarray(NULL, n, sizeof(*ext));
	for (size_t i = 0; i < n; i++)
		ext[i] = (struct rpc_kv){ c->plan.ext_mnt[i].key, c->plan.ext_mnt[i].val };

	struct rpc_opts o;
	rpc_opts_init(&o);
	o.images_dir_fd = images_fd;
	o.work_dir_fd = work_fd;
	o.log_file = "dump.log";
	o.log_level = STASIS_LOG_LEVEL;
	o.pid = c->state->pid;
	o.root = c->state->rootfs;
	o.freeze_cgroup = c->freezer;
	o.manage_cgroups = true;
	o.manage_cgroups_mode = mode;
	o.cgroup_yard = cr_cgroup_yard(ctx);
	/* a held container is ours to end once the archive is durable, never CRIU's */
	o.leave_running = c->o.leave_running || c->held;
	o.tcp_established = c->o.tcp_established;
	o.network_lock = c->network_lock;
	o.tcp_skip_in_flight = c->o.tcp_skip_in_flight;
	o.ext_unix_sk = c->o.ext_unix_sk;
	o.shell_job = c->o.shell_job;
	o.file_locks = c->o.file_locks;
	o.link_remap = c->o.link_remap;
	o.orphan_pts_master = c->config->terminal;
	o.notify_scripts = true;
	o.parent_img = c->o.parent_path;
	o.track_mem = c->o.pre_dump;
	o.ext_mnt = ext;
	o.n_ext_mnt = n;
	o.external = (const char *const *)c->plan.external;
	o.n_external = c->plan.n_external;

	cleanup_close int ps_criu = -1;
	struct ckpt_stream *stream = NULL;
	if (c->writer) {
		if ((r = ckpt_stream_start(c, &stream, &ps_criu, err)) < 0)
			return r;
		o.ps_fd = ps_criu;
	}

	cleanup_with(rpc_result_clear) struct rpc_result res = { 0 };
	enum rpc_req type = c->o.pre_dump ? RPC_PRE_DUMP : RPC_DUMP;
	r = cr_run(ctx, type, &o, NULL, &res, err);
	if (stream) {
		cleanup_with(stasis_error_free) struct stasis_error *stream_err = NULL;
		bool archive_failed;
		int sr = ckpt_stream_finish(c, stream, &ps_criu, &archive_failed, &stream_err);
		/* the archive's failure (ENOSPC) explains CRIU's, even a broken RPC; a cut session does not */
		if (sr < 0 && (archive_failed || (r == 0 && res.success))) {
			if (err && *err)
				*err = stasis_error_free(*err);
			return error_wrap(err, error_adopt(err, &stream_err, sr),
					  "CRIU's pages into the archive");
		}
	}
	if (r == 0 && !res.success) {
		cleanup_free char *log = xasprintf("%s/dump.log", c->work_dir);
		r = cr_fail(err, "CRIU dump", &res, log);
	}
	return r;
}

int ckpt_prepare_dirs(struct ckpt *c, struct stasis_error **err)
{
	if (c->o.image_path) {
		int r = mkdir_p(c->o.image_path, 0700, err);
		if (r < 0)
			return r;
		c->images_dir = xstrdup(c->o.image_path);
	} else {
		/* beside the archive: same file system, no copy across devices */
		cleanup_free char *copy = xstrdup(c->o.export_path);
		char suffix[9];
		random_suffix(suffix, sizeof(suffix));
		c->images_dir = xasprintf("%s/.stasis-images-%s", dirname(copy), suffix);
		/* the guard's record names it before it exists: a kill in between leaves nothing unknown */
		int r = ckpt_guard_note(&c->guard, false, c->images_dir, err);
		if (r < 0)
			return r;
		if (mkdir(c->images_dir, 0700) < 0)
			return error_set(err, errno, "create a work directory beside `%s`", c->o.export_path);
		c->images_tmp = true;
	}
	if (c->o.work_path) {
		int r = mkdir_p(c->o.work_path, 0700, err);
		if (r < 0)
			return r;
		c->work_dir = xstrdup(c->o.work_path);
	} else if (c->images_tmp) {
		/*
		 * the temporary images go when the run ends; dump.log must outlive a failure to say
		 * why: it is written beside the run's lock, one per container, replaced by the next run
		 */
		c->work_dir = ckpt_guard_path(&c->guard, ".work");
		rm_rf(c->work_dir);
		if (mkdir(c->work_dir, 0700) < 0)
			return error_set(err, errno, "create `%s`", c->work_dir);
	} else {
		c->work_dir = xstrdup(c->images_dir);
	}
	return 0;
}
