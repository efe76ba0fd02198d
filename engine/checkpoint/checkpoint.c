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
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "engine/checkpoint/checkpoint-internal.h"
#include "engine/engine-internal.h"
#include "engine/criu/criu-internal.h"
#include "engine/images/reader.h"
#include "engine/names.h"
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
	arc_writer_abort(c->writer);
}

void ckpt_warn(struct ckpt *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	warn_to(c->o.warn, c->o.warn_data, fmt, ap);
	va_end(ap);
}

/* how long a container ended after its dump may take to exit before its cgroups are removed */
#define CKPT_EXIT_WAIT_MS 5000

static void say_leftover(const char *msg, void *data)
{
	ckpt_warn(data, "%s", msg);
}

/*
 * Whether stasis holds the container (frozen by us) while the archive is written, so that a failure
 * or a kill leaves it running instead of gone.  It takes a freezer of the container's own, a
 * container stasis knows (not a bare pid, whose cgroup may hold others), and a run that ends it:
 * a pre-dump leaves it running anyway, and established TCP connections must die under CRIU's
 * network lock, or their peers see a reset before the restore.
 */
static const char *why_not_held(const struct ckpt *c)
{
	if (c->o.pre_dump)
		return NULL;
	if (!c->freezer)
		return "it has no freezer cgroup of its own";
	if (c->o.pid)
		return "it was given by pid, and its cgroup may hold other processes";
	if (c->o.tcp_established && !c->o.leave_running)
		return "with opts.tcp_established CRIU ends it under its network lock, so that peers see no "
		       "reset";
	return NULL;
}

/* An OCI id, as runc checks it: it names files of ours and goes on runtimes' command lines. */
static bool id_is_valid(const char *id)
{
	if (!id[0] || id[0] == '-' || id[0] == '.')
		return false;
	for (const char *p = id; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
		    !strchr("_+-.", *p))
			return false;
	return true;
}

/* Ends the held container once its archive (or images) is durable: killed, or left to run on. */
static int finish_held(struct ckpt *c, struct stasis_error **err)
{
	if (c->o.leave_running)
		return c->paused ? 0 : ckpt_thaw(c->freezer, err);
	return ckpt_kill_frozen(c->freezer, err);
}

DEFINE_CLEANUP(struct stasis_report *, stasis_report_free)

/* sizes and CRIU's own figures, for opts.stats (before the work dir with stats-dump goes) */
static void ckpt_fill_stats(const struct ckpt *c, struct stasis_checkpoint_stats *st)
{
	struct stat sb;
	if (c->o.export_path && stat(c->o.export_path, &sb) == 0)
		st->archive_bytes = (uint64_t)sb.st_size;
	struct img_stats s;
	cleanup_free char *path = xasprintf("%s/%s", c->work_dir, CRIU_IMG_STATS_DUMP);
	if (image_read_stats_file(path, &s, NULL) < 0 || !s.has_dump)
		return;
	st->has_criu_stats = true;
	st->freezing_time = s.freezing_time;
	st->frozen_time = s.frozen_time;
	st->memdump_time = s.memdump_time;
	st->memwrite_time = s.memwrite_time;
	st->pages_scanned = s.pages_scanned;
	st->pages_written = s.pages_written;
}

/* Whether a NEEDS_FLAG finding of the doctor is answered by a flag this checkpoint has. */
static bool flag_given(const struct stasis_checkpoint_opts *o, const char *finding)
{
	const struct {
		const char *id;
		bool given;
	} flags[] = {
		{ "tcp-established", o->tcp_established },
		{ "file-locks", o->file_locks },
		{ "shared-tty", o->shell_job },
		/* a restore matter (pid collisions next to the original): the dump itself works */
		{ "host-pidns", true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (strcmp(flags[i].id, finding) == 0)
			return flags[i].given;
	return false;
}

/* opts.preflight: what the doctor finds that CRIU would fail on stops the checkpoint, unfrozen */
static int preflight(struct stasis_ctx *ctx, const struct ckpt *c, struct stasis_error **err)
{
	const struct stasis_doctor_opts d = {
		.size = sizeof(d),
		.id = c->state->id,
		.runtime = c->runtime,
		.runtime_root = c->o.runtime_root,
	};
	cleanup_with(stasis_report_free) struct stasis_report *rep = NULL;
	int r = stasis_doctor_container(ctx, &d, &rep, err);
	if (r < 0)
		return error_wrap(err, r, "preflight");
	for (size_t i = 0; i < rep->n; i++) {
		const struct stasis_finding *f = &rep->findings[i];
		if (f->severity == STASIS_SEVERITY_INFO ||
		    (f->severity == STASIS_SEVERITY_NEEDS_FLAG && flag_given(&c->o, f->id)))
			continue;
		return error_setx(err, EPERM, "preflight (nothing was frozen): %s: %s (%s); fix: %s",
				  f->subject, f->cause, f->id, f->fix ? f->fix : "none known");
	}
	return 0;
}

int stasis_checkpoint(struct stasis_ctx *ctx, const struct stasis_checkpoint_opts *opts,
		      struct stasis_error **err)
{
	struct ckpt c = { .ctx = ctx, .guard = { .lock_fd = -1, .pipe_fd = -1 } };
	if (!opts)
		return error_setx(err, EINVAL, "checkpoint: no options given");
	int rc = opts_copy(&c.o, sizeof(c.o), opts, "checkpoint", err);
	if (rc < 0)
		return rc;
	const char *what = c.o.id ? c.o.id : "container";
	struct stasis_checkpoint_stats st = { .size = sizeof(st) };
	uint64_t t_start = monotonic_us(), t_frozen = 0, t;
	int r;
	bool dumped = false;
	cleanup_free char *key = c.o.id ? xstrdup(c.o.id) : xasprintf("pid-%d", (int)c.o.pid);

	if (!c.o.image_path && !c.o.export_path) {
		r = error_setx(err, EINVAL,
			       "neither opts.image_path nor opts.export_path given: nowhere to write the "
			       "checkpoint");
		goto out;
	}
	if (!id_is_valid(key)) {
		r = error_setx(
			err, EINVAL,
			"opts.id `%s`: an id is letters, digits and `_+-.`, not starting with `-` or `.`",
			key);
		goto out;
	}
	if (c.o.export_path && access(c.o.export_path, F_OK) == 0) {
		r = error_setx(err, EEXIST, "`%s` exists: stasis does not overwrite an archive",
			       c.o.export_path);
		goto out;
	}
	r = stasis_criu_require(ctx, err);
	if (r < 0 || (r = cr_network_lock(ctx, c.o.network_lock, &c.network_lock, err)) < 0)
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
	/* one run a container: a second one would find it frozen, or dump it twice */
	if ((r = ckpt_guard_lock(&c.guard, key, say_leftover, &c, err)) < 0)
		goto out;
	if ((r = ckpt_find_container(&c, err)) < 0 || (r = ckpt_load_config(&c, err)) < 0 ||
	    (r = ckpt_plan(&c, err)) < 0 || (r = ckpt_prepare_dirs(&c, err)) < 0)
		goto out;
	/* CRIU waits for a stopped task in a frozen cgroup until its timeout: say so at once */
	if (c.freezer && (r = ckpt_refuse_stopped(c.freezer, err)) < 0)
		goto out;
	if (c.o.preflight && c.runtime && (r = preflight(ctx, &c, err)) < 0)
		goto out;
	const char *not_held = why_not_held(&c);
	if (not_held && !c.o.leave_running)
		ckpt_warn(&c, "CRIU ends the container when its dump is done, before the %s is written: %s",
			  c.o.export_path ? "archive" : "images' sync", not_held);
	if (c.paused && !c.freezer) {
		r = error_setx(err, EINVAL,
			       "container `%s` is paused, and stasis finds no freezer cgroup of its own to "
			       "dump it in: resume it first",
			       c.state->id);
		goto out;
	}
	t_frozen = monotonic_us();
	if (c.paused && !not_held) {
		/* already frozen by its runtime: held as it is, and nothing for a guard to thaw */
		c.held = true;
	} else if (!not_held && !c.o.pre_dump) {
		if ((r = ckpt_guard_start(&c.guard, err)) < 0 ||
		    (r = ckpt_guard_note(&c.guard, true, c.freezer, err)) < 0 ||
		    (r = ckpt_freeze(c.freezer, err)) < 0)
			goto out;
		c.held = true;
	}
	ctx_log(ctx, STASIS_LOG_INFO, "checkpoint `%s`: pid %d (%s), images in `%s`%s", c.state->id,
		(int)c.state->pid, c.runtime ? c.runtime : "no runtime", c.images_dir,
		c.held ? ", held frozen until they are durable" : "");
	if (c.o.export_path) {
		bool asked;
		const char *staged = ckpt_why_staged(&c, &asked);
		if (!staged)
			r = ckpt_export_open(&c, err);
		else if (!asked)
			ckpt_warn(&c, "the archive is written after the dump, from a directory of images: %s",
				  staged);
		if (r < 0)
			goto out;
	}
	t = monotonic_us();
	if (!c.writer)
		progress_tell(&(struct progress_sink){ c.o.progress, c.o.progress_data, STASIS_PHASE_DUMP },
			      0, 0);
	r = ckpt_dump(ctx, &c, err);
	if (r < 0)
		goto out;
	st.dump_us = monotonic_us() - t;
	if (c.o.stats || c.o.progress)
		st.images_bytes = c.images_bytes = dir_files_bytes(c.images_dir) + c.streamed_bytes;
	dumped = true;
	t = monotonic_us();
	if (c.o.export_path) {
		r = ckpt_export(ctx, &c, err);
		if (r < 0)
			goto out;
		ctx_log(ctx, STASIS_LOG_INFO, "checkpoint `%s`: archive `%s` written", c.state->id,
			c.o.export_path);
	} else if (c.held && (r = fsync_dir_files(c.images_dir, err)) < 0) {
		goto out;
	}
	st.write_us = monotonic_us() - t;
	if (c.held && (r = finish_held(&c, err)) < 0)
		goto out;
	if (c.held)
		st.frozen_us = monotonic_us() - t_frozen;
	c.held = false;
	if (!c.runtime && !c.o.pid && !c.o.leave_running && !c.o.pre_dump) {
		/* a stasis-restored container without runtime: it is gone, so are its record and cgroups */
		cleanup_free char *own = stasis_state_record(c.state->id);
		unlink(own);
		*strrchr(own, '/') = '\0';
		rmdir(own);
		/* a cgroup goes once its last task has exited (not once it is reaped) */
		(void)pid_wait_exit(c.state->pid, CKPT_EXIT_WAIT_MS);
		runtime_remove_cgroups(c.state->id);
	}
	if (c.runtime && !c.o.leave_running && !c.o.pre_dump) {
		/* as `runc checkpoint` does: the dumped container is gone, so is its runtime state */
		cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
		if (runtime_run(ctx, c.runtime, c.o.runtime_root, "delete", c.state->id, "--force", NULL,
				&e) < 0)
			ckpt_warn(&c, "checkpointed, but `%s delete` failed: %s", c.runtime,
				  stasis_error_message(e));
	}
	if (c.o.stats) {
		st.total_us = monotonic_us() - t_start;
		ckpt_fill_stats(&c, &st);
		result_fill(c.o.stats, &st, sizeof(st));
	}
	if (c.o.export_path && !c.o.work_path) {
		/* dump.log is in the archive: the run's work dir goes */
		rm_rf(c.work_dir);
	}
out:
	if (r < 0 && c.held && c.paused) {
		error_wrap(err, r, "the container stays paused, as it was (nothing was lost)");
	} else if (r < 0 && c.held) {
		/* whatever failed, the container was only frozen: it runs on, nothing is lost */
		if (ckpt_thaw(c.freezer, NULL) == 0)
			error_wrap(err, r, "the container runs again (nothing was lost)");
	} else if (r < 0 && dumped && !c.o.leave_running && c.images_tmp) {
		/* CRIU ended the container: its images are all that is left of it, never delete them */
		c.images_tmp = false;
		error_wrap(err, r, "CRIU images kept in `%s`", c.images_dir);
	}
	if (r < 0)
		error_wrap(err, r, "checkpoint `%s`", what);
	ckpt_guard_release(&c.guard);
	ckpt_clear(&c);
	return r;
}
