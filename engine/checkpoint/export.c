/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The checkpoint archive: images, the container's metadata as podman writes it, the rootfs diff, the manifest. */
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
#include "engine/archive/archive.h"
#include "engine/names.h"

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
	int r;
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

const char *ckpt_why_staged(const struct ckpt *c, bool *asked)
{
	*asked = true;
	if (c->o.staged)
		return "opts.staged";
	if (c->o.image_path)
		return "opts.image_path keeps CRIU's images as files";
	*asked = false;
	if (c->o.parent_path)
		return "a dump on parent images";
	if (c->o.compress && strcmp(c->o.compress, "gzip") == 0)
		return "a gzip archive cannot take a member before its size is known (zstd and none can)";
	if (!c->held && !c->o.leave_running)
		return "CRIU ends the container when its dump is done, so its images stay on disk until "
		       "the archive is durable";
	return NULL;
}

int ckpt_export_open(struct ckpt *c, struct stasis_error **err)
{
	/* the guard knows the name before the file exists: a kill in between leaves nothing unknown */
	cleanup_free char *tmp = arc_writer_tmp_name(c->o.export_path);
	int r = ckpt_guard_note(&c->guard, false, tmp, err);
	if (r == 0)
		r = arc_writer_open(c->o.export_path, c->o.compress, tmp, &c->writer, err);
	if (r == 0)
		r = arc_writer_add_dir(c->writer, ARCHIVE_CHECKPOINT_DIR "/", err);
	if (r < 0)
		c->writer = arc_writer_abort(c->writer);
	return r;
}

static int write_members(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err)
{
	cleanup_with(mnt_diff_clear) struct mnt_diff diff = { 0 };
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
		ckpt_warn(c,
			  "rootfs `%s` is not an overlay and no opts.rootfs_base was given: its changes are "
			  "not in the archive",
			  c->state->rootfs);
	}

	/* beside the images: the rootfs diff may be large, and the work dir may be in memory (/run) */
	cleanup_free char *diff_tar = xasprintf("%s/.stasis-rootfs-diff.tar", c->images_dir);
	if (have_diff && (r = ckpt_guard_note(&c->guard, false, diff_tar, err)) < 0)
		return r;
	if (have_diff) {
		const char *tree = c->plan.upperdir ? c->plan.upperdir : c->state->rootfs;
		r = arc_write_tree(diff_tar, tree, diff.changed, diff.n_changed, err);
		if (r < 0) {
			unlink(diff_tar);
			return r;
		}
	}

	struct arc_writer *w = c->writer;
	struct progress_sink sink = { c->o.progress, c->o.progress_data, STASIS_PHASE_WRITE };
	if (sink.fn) {
		/* the images not streamed yet are nearly all of it: the rootfs diff and the small files come on top */
		uint64_t total = c->images_bytes - c->streamed_bytes;
		arc_writer_progress(w, &(struct arc_progress){ progress_tell_arc, &sink }, total);
		progress_tell(&sink, 0, total);
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
	if (have_diff)
		unlink(diff_tar);
	if (r < 0)
		return r;
	cleanup_free char *v = xasprintf("%d.%d.%d", ctx->info.major, ctx->info.minor, ctx->info.sublevel);
	c->writer = NULL;
	return arc_writer_commit(w, v, err);
}

int ckpt_export(struct stasis_ctx *ctx, struct ckpt *c, struct stasis_error **err)
{
	int r = c->writer ? 0 : ckpt_export_open(c, err);
	if (r == 0)
		r = write_members(ctx, c, err);
	c->writer = arc_writer_abort(c->writer);
	return r;
}
