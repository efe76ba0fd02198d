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
#include "engine/names.h"
#include "engine/archive/archive.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime.h"
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

static void warn(struct ckpt *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct ckpt *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	warn_to(c->o.warn, c->o.warn_data, fmt, ap);
	va_end(ap);
}

static int find_container(struct ckpt *c, struct stasis_error **err)
{
	if (c->o.pid > 0 && c->o.bundle) {
		c->state = xzalloc(sizeof(*c->state));
		c->state->id = xstrdup(c->o.id ? c->o.id : "container");
		c->state->pid = c->o.pid;
		c->state->status = xstrdup("running");
		c->state->bundle = xstrdup(c->o.bundle);
		return 0;
	}
	if (!c->o.id)
		return error_setx(err, EINVAL, "no container given (opts.id, or opts.pid with opts.bundle)");
	int r;
	cleanup_free char *own = stasis_state_record(c->o.id);
	bool any = !c->o.runtime || strcmp(c->o.runtime, "auto") == 0;
	if ((any || strcmp(c->o.runtime, "none") == 0) && access(own, F_OK) == 0) {
		/* restored by stasis with no runtime: its state record is ours */
		cleanup_free char *text = NULL;
		size_t len = 0;
		if ((r = read_file_capped(own, OCI_MAX_JSON, &text, &len, err)) < 0 ||
		    (r = oci_state_parse(text, len, own, &c->state, err)) < 0)
			return r;
		if (kill(c->state->pid, 0) < 0)
			return error_setx(err, ESRCH,
					  "container `%s` (pid %d, restored by stasis) is not running",
					  c->o.id, (int)c->state->pid);
		return 0;
	}
	r = runtime_state(c->o.runtime, c->o.runtime_root, c->o.id, &c->state, &c->runtime, err);
	if (r < 0)
		return r;
	if (strcmp(c->state->status, "running") != 0 || c->state->pid <= 0)
		return error_setx(err, EINVAL, "container `%s` is %s, not running", c->o.id,
				  c->state->status);
	return 0;
}

static int load_config(struct ckpt *c, struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/config.json", c->state->bundle);
	int r = read_file_capped(path, OCI_MAX_JSON, &c->config_json, &c->config_len, err);
	if (r < 0)
		return r;
	r = oci_config_parse(c->config_json, c->config_len, "config.json", &c->config, err);
	if (r < 0)
		return r;
	if (!c->state->rootfs && c->config->root_path) {
		c->state->rootfs = c->config->root_path[0] == '/'
					   ? xstrdup(c->config->root_path)
					   : xasprintf("%s/%s", c->state->bundle, c->config->root_path);
	}
	if (!c->state->rootfs)
		return error_setx(err, EINVAL, "config.json: .root.path: missing");
	return 0;
}

static unsigned long ns_inode(pid_t pid, const char *ns)
{
	cleanup_free char *p = xasprintf("/proc/%d/ns/%s", (int)pid, ns);
	struct stat st;
	return stat(p, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* The container's freezer cgroup on the host (cgroup v1), for CRIU's freeze_cgroup. */
static char *find_freezer(pid_t pid)
{
	cleanup_free char *cg_path = xasprintf("/proc/%d/cgroup", (int)pid);
	cleanup_free char *cg = NULL;
	if (read_file_capped(cg_path, 1 << 20, &cg, NULL, NULL) < 0)
		return NULL;
	const char *line = strstr(cg, ":freezer:");
	if (!line)
		return NULL;
	const char *rel = line + strlen(":freezer:");
	cleanup_free char *relpath = xstrndup(rel, strcspn(rel, "\n"));
	cleanup_with(mnt_table_clear) struct mnt_table t = { 0 };
	if (mnt_table_load(0, &t, NULL) < 0)
		return NULL;
	char *out = NULL;
	for (size_t i = 0; i < t.n && !out; i++) {
		if (strcmp(t.e[i].fstype, "cgroup") || !strstr(t.e[i].super_opts, "freezer"))
			continue;
		const char *root = t.e[i].root;
		const char *sub = relpath;
		if (strcmp(root, "/") != 0 && strncmp(relpath, root, strlen(root)) == 0)
			sub = relpath + strlen(root);
		out = xasprintf("%s%s", t.e[i].mountpoint, sub);
	}
	return out;
}

static char *resolve_dest(const char *dest, void *data)
{
	return mnt_resolve_in_root(data, dest);
}

static int plan(struct ckpt *c, struct stasis_error **err)
{
	pid_t pid = c->state->pid;
	int r = mnt_table_load(pid, &c->mountinfo, err);
	if (r < 0)
		return r;
	struct mnt_plan_input in = {
		.config = c->config,
		.mountinfo = &c->mountinfo,
		.netns_ino = ns_inode(pid, "net"),
		.pidns_ino = ns_inode(pid, "pid"),
		.resolve = resolve_dest,
		.resolve_data = c->state->rootfs,
	};
	r = mnt_plan_dump(&in, &c->plan, err);
	if (r < 0)
		return r;
	if (c->plan.n_unexplained) {
		cleanup_free char *list = xstrdup("");
		for (size_t i = 0; i < c->plan.n_unexplained; i++) {
			char *l = xasprintf("%s%s`%s`", list, i ? ", " : "", c->plan.unexplained[i]);
			free(list);
			list = l;
		}
		return error_setx(
			err, EINVAL,
			"mounted in the container but not in config.json: %s; CRIU cannot dump such "
			"mounts (\"doesn't have a proper root mount\"): unmount them or declare them "
			"as bind mounts",
			list);
	}
	c->freezer = find_freezer(pid);
	/* check what the archive needs before anything is frozen: after the dump it is too late */
	if (c->o.export_path && !c->o.ignore_rootfs && c->plan.upperdir) {
		struct stat st;
		if (c->plan.upperdir[0] != '/' || stat(c->plan.upperdir, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_setx(
				err, ENOENT,
				"the rootfs overlay's upper dir `%s` (from mountinfo) is not an absolute "
				"path to a directory: cannot compute the rootfs diff (set "
				"opts.ignore_rootfs)",
				c->plan.upperdir);
	}
	if (c->o.export_path && !c->o.ignore_rootfs && !c->plan.upperdir && c->o.rootfs_base) {
		struct stat st;
		if (stat(c->o.rootfs_base, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_setx(err, ENOENT, "opts.rootfs_base `%s` is not a directory",
					  c->o.rootfs_base);
	}
	return 0;
}

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

static int dump(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err)
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
	o.leave_running = c->o.leave_running;
	o.tcp_established = c->o.tcp_established;
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

	struct rpc_result res = { 0 };
	enum rpc_req type = c->o.pre_dump ? RPC_PRE_DUMP : RPC_DUMP;
	r = cr_run(ctx, type, &o, NULL, &res, err);
	if (r == 0 && !res.success) {
		cleanup_free char *log = xasprintf("%s/dump.log", c->work_dir);
		r = cr_fail(err, "CRIU dump", &res, log);
	}
	rpc_result_clear(&res);
	return r;
}

static void rfc3339_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *config_dump_json(struct ckpt *c)
{
	char now[64];
	rfc3339_now(now, sizeof(now));
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kstr(j, "id", c->state->id);
	oci_json_kstr(j, "name", c->state->id);
	const char *image = oci_config_annotation(c->config, "org.opencontainers.image.ref.name");
	oci_json_kstr(j, "rootfsImage", image);
	oci_json_kstr(j, "rootfsImageName", image);
	oci_json_kstr(j, "runtime", c->runtime ? c->runtime : "stasis");
	oci_json_kstr(j, "createdTime", c->state->created ? c->state->created : now);
	oci_json_kstr(j, "checkpointedTime", now);
	oci_json_map_close(j);
	return oci_json_finish(j, NULL);
}

static char *bind_mounts_json(struct ckpt *c)
{
	struct oci_json *j = oci_json_new(true);
	oci_json_array_open(j);
	for (size_t i = 0; i < c->plan.n_binds; i++) {
		struct stat st;
		bool dir = stat(c->plan.binds[i].source, &st) == 0 && S_ISDIR(st.st_mode);
		oci_json_map_open(j);
		oci_json_kstr(j, "source", c->plan.binds[i].source);
		oci_json_kstr(j, "destination", c->plan.binds[i].destination);
		oci_json_kstr(j, "file_type", dir ? "directory" : "file");
		oci_json_kint(j, "permissions", (long long)(st.st_mode & 07777));
		oci_json_map_close(j);
	}
	oci_json_array_close(j);
	return oci_json_finish(j, NULL);
}

static char *strv_json(char *const *v, size_t n)
{
	struct oci_json *j = oci_json_new(false);
	oci_json_array_open(j);
	for (size_t i = 0; i < n; i++)
		oci_json_string(j, v[i]);
	oci_json_array_close(j);
	return oci_json_finish(j, NULL);
}

static int add_images(struct arc_writer *w, struct ckpt *c, struct stasis_error **err)
{
	int r = arc_writer_add_dir(w, ARCHIVE_CHECKPOINT_DIR "/", err);
	if (r < 0)
		return r;
	cleanup_closedir DIR *d = opendir(c->images_dir);
	if (!d)
		return error_set(err, errno, "open `%s`", c->images_dir);
	cleanup_strv char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "dump.log") == 0 ||
		    strcmp(de->d_name, ARCHIVE_STATS_DUMP) == 0)
			continue;
		strv_push(&names, &n, xstrdup(de->d_name));
	}
	strv_sort(names, n);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *src = xasprintf("%s/%s", c->images_dir, names[i]);
		cleanup_free char *dst = xasprintf(ARCHIVE_CHECKPOINT_DIR "/%s", names[i]);
		r = arc_writer_add_file(w, dst, src, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_optional_file(struct arc_writer *w, const char *name, const char *dir1, const char *dir2,
			     struct stasis_error **err)
{
	const char *dirs[] = { dir1, dir2 };
	for (size_t i = 0; i < 2; i++) {
		cleanup_free char *p = xasprintf("%s/%s", dirs[i], name);
		if (access(p, R_OK) == 0)
			return arc_writer_add_file(w, name, p, err);
	}
	return 0;
}

static int export_archive(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err)
{
	struct mnt_diff diff = { 0 };
	bool have_diff = false;
	int r;
	if (c->o.ignore_rootfs) {
		/* on purpose: nothing to do */
	} else if (c->plan.upperdir) {
		r = mnt_diff_overlay(c->plan.upperdir, c->plan.diff_excludes, &diff, err);
		if (r < 0)
			return r;
		have_diff = true;
	} else if (c->o.rootfs_base) {
		r = mnt_diff_dirs(c->state->rootfs, c->o.rootfs_base, c->plan.diff_excludes, &diff, err);
		if (r < 0)
			return r;
		have_diff = true;
	} else {
		warn(c,
		     "rootfs `%s` is not an overlay and no opts.rootfs_base was given: its changes are not "
		     "in "
		     "the archive",
		     c->state->rootfs);
	}

	cleanup_free char *diff_tar = xasprintf("%s/.stasis-rootfs-diff.tar", c->work_dir);
	if (have_diff) {
		const char *tree = c->plan.upperdir ? c->plan.upperdir : c->state->rootfs;
		r = arc_write_tree(diff_tar, tree, diff.changed, diff.n_changed, err);
		if (r < 0) {
			mnt_diff_clear(&diff);
			return r;
		}
	}

	struct arc_writer *w = NULL;
	r = arc_writer_open(c->o.export_path, c->o.compress, &w, err);
	if (r < 0) {
		mnt_diff_clear(&diff);
		unlink(diff_tar);
		return r;
	}
	cleanup_free char *config_dump = config_dump_json(c);
	cleanup_free char *binds = bind_mounts_json(c);
	cleanup_free char *deleted = have_diff ? strv_json(diff.deleted, diff.n_deleted) : NULL;
	static const char network_status[] = "{}";

	r = add_images(w, c, err);
	if (r == 0)
		r = arc_writer_add_buffer(w, ARCHIVE_CONFIG_DUMP, config_dump, strlen(config_dump), err);
	if (r == 0)
		r = arc_writer_add_buffer(w, ARCHIVE_SPEC_DUMP, c->config_json, c->config_len, err);
	if (r == 0)
		r = arc_writer_add_buffer(w, ARCHIVE_NETWORK_STATUS, network_status, strlen(network_status),
					  err);
	if (r == 0)
		r = add_optional_file(w, ARCHIVE_STATS_DUMP, c->images_dir, c->work_dir, err);
	if (r == 0)
		r = add_optional_file(w, ARCHIVE_DUMP_LOG, c->work_dir, c->images_dir, err);
	if (r == 0 && have_diff)
		r = arc_writer_add_file(w, ARCHIVE_ROOTFS_DIFF, diff_tar, err);
	if (r == 0 && have_diff)
		r = arc_writer_add_buffer(w, ARCHIVE_DELETED_FILES, deleted, strlen(deleted), err);
	if (r == 0 && c->plan.n_binds)
		r = arc_writer_add_buffer(w, ARCHIVE_BIND_MOUNTS, binds, strlen(binds), err);
	if (r == 0) {
		cleanup_free char *v =
			xasprintf("%d.%d.%d", ctx->info.major, ctx->info.minor, ctx->info.sublevel);
		r = arc_writer_commit(w, v, err);
	} else {
		arc_writer_abort(w);
	}
	unlink(diff_tar);
	mnt_diff_clear(&diff);
	return r;
}

static int prepare_dirs(struct ckpt *c, struct stasis_error **err)
{
	if (c->o.image_path) {
		int r = mkdir_p(c->o.image_path, 0700, err);
		if (r < 0)
			return r;
		c->images_dir = xstrdup(c->o.image_path);
	} else {
		/* beside the archive: same file system, no copy across devices */
		cleanup_free char *copy = xstrdup(c->o.export_path);
		c->images_dir = xasprintf("%s/.stasis-images-XXXXXX", dirname(copy));
		if (!mkdtemp(c->images_dir))
			return error_set(err, errno, "create a work directory beside `%s`", c->o.export_path);
		c->images_tmp = true;
	}
	if (c->o.work_path) {
		int r = mkdir_p(c->o.work_path, 0700, err);
		if (r < 0)
			return r;
		c->work_dir = xstrdup(c->o.work_path);
	} else {
		c->work_dir = xstrdup(c->images_dir);
	}
	return 0;
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
	if ((r = find_container(&c, err)) < 0 || (r = load_config(&c, err)) < 0 || (r = plan(&c, err)) < 0 ||
	    (r = prepare_dirs(&c, err)) < 0)
		goto out;
	ctx_log(ctx, STASIS_LOG_INFO, "checkpoint `%s`: pid %d (%s), images in `%s`", c.state->id,
		(int)c.state->pid, c.runtime ? c.runtime : "no runtime", c.images_dir);
	r = dump(ctx, &c, err);
	if (r < 0)
		goto out;
	if (c.o.export_path) {
		r = export_archive(ctx, &c, err);
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
		struct stasis_error *e = NULL;
		if (runtime_run(c.runtime, c.o.runtime_root, "delete", c.state->id, "--force", NULL, &e) < 0)
			warn(&c, "checkpointed, but `%s delete` failed: %s", c.runtime,
			     stasis_error_message(e));
		stasis_error_free(e);
	}
out:
	if (r < 0)
		error_wrap(err, r, "checkpoint `%s`", what);
	ckpt_clear(&c);
	return r;
}
