/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state of one restore: the claim on the container's name (stasis' ownership record and the
 * state directory's marker), what it has made so far (state dir, overlay, netns, runtime record,
 * process), its warnings, and the rollback that undoes exactly what this call made, newest first.
 * What an earlier restore of the same name left behind (killed, or its container removed behind
 * stasis' back) is cleaned here too, and said; anything stasis did not make is refused, never
 * touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
	free(r->replica);
	free(r->images_dir);
	images_root_facts_clear(&r->facts);
	free(r->work_dir);
	free(r->bundle);
	free(r->config_json);
	oci_config_free(r->config);
	free(r->rootfs);
	free(r->rootfs_mount);
	free(r->runtime);
	free(r->crun_dir);
	free(r->netns_path);
	free(r->kept_log);
	free(r->owner_path);
	runtime_owner_free(r->owner);
	oci_config_dump_free(r->cdump);
	oci_bind_mounts_free(r->bind_info, r->n_bind_info);
	strv_freep(&r->deleted);
	strv_freep(&r->diff_paths);
	arc_import_clear(&r->import);
}

/* STASIS_STATE_ROOT/<id>: the runtime-none record, then the ownership record, then the directory. */
static int remove_records(const char *id, struct stasis_error **err)
{
	cleanup_free char *state = stasis_state_record(id);
	cleanup_free char *owner = runtime_owner_path(id);
	cleanup_free char *dir = xasprintf(STASIS_STATE_ROOT "/%s", id);
	if (unlink(state) < 0 && errno != ENOENT)
		return error_set(err, errno, "remove `%s`", state);
	if (unlink(owner) < 0 && errno != ENOENT)
		return error_set(err, errno, "remove `%s`", owner);
	return runtime_state_dir_clear(dir, id, err);
}

/*
 * A record whose restore is dead and whose container is gone (a restore killed half-way, or a
 * container its runtime deleted without stasis): its state dir (only when marked for this id) and
 * the record go, and the caller hears about it.
 */
static int clear_leftover(struct restore_ctx *r, const struct runtime_owner *old, struct stasis_error **err)
{
	int ret = runtime_state_dir_clear(old->state_dir, r->o.id, err);
	if (ret == 0)
		ret = remove_records(r->o.id, err);
	if (ret < 0)
		return error_wrap(err, ret, "clean up what an earlier restore of `%s` left", r->o.id);
	if (old->restored)
		restore_warn(
			r,
			"the container `%s` stasis restored earlier is gone: its state directory `%s` was "
			"unmounted and removed",
			r->o.id, old->state_dir);
	else
		restore_warn(r, "a restore of `%s` that was killed (pid %d) left `%s`: unmounted and removed",
			     r->o.id, (int)old->restorer, old->state_dir);
	return 0;
}

/* Refuses a name a runtime or a live stasis container has; clears what a dead restore left. */
static int check_name(struct restore_ctx *r, struct stasis_error **err)
{
	const char *id = r->o.id;
	cleanup_free char *owner_path = runtime_owner_path(id);
	cleanup_with(runtime_owner_free) struct runtime_owner *old = NULL;
	int ret = runtime_owner_load(owner_path, &old, err);
	if (ret < 0 && ret != -ENOENT)
		return error_wrap(err, ret, "a container `%s` restored by stasis", id);
	static const char *const runtimes[] = { "runc", "crun" };
	for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++) {
		/* opts.runtime_root is the root of the runtime this restore uses, or of both until it chose */
		const char *rt = r->o.runtime && strcmp(r->o.runtime, "auto") ? r->o.runtime : runtimes[i];
		const char *root = strcmp(rt, runtimes[i]) == 0 ? r->o.runtime_root : NULL;
		cleanup_free char *dir = NULL;
		if (!runtime_knows(runtimes[i], root, id, &dir))
			continue;
		if (old)
			return error_setx(
				err, EEXIST,
				"a container `%s` that stasis restored exists (%s has it, `%s`): delete it "
				"first (with opts.force while it runs) or pick another opts.id",
				id, runtimes[i], dir);
		return error_setx(
			err, EEXIST,
			"%s has a container `%s` (`%s`) that stasis did not make: it is left alone; pick "
			"another opts.id",
			runtimes[i], id, dir);
	}
	if (old) {
		if (runtime_owner_restorer_alive(old))
			return error_setx(err, EBUSY, "a restore of `%s` is under way (pid %d)", id,
					  (int)old->restorer);
		cleanup_free char *alive = runtime_owner_container_alive(old);
		if (alive)
			return error_setx(err, EEXIST,
					  "a container `%s` restored by stasis exists (%s): delete it first "
					  "(with opts.force while it runs) or pick another opts.id",
					  id, alive);
		return clear_leftover(r, old, err);
	}
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	if (runtime_cgroup_pids(id, &pids, &n) > 0)
		return error_setx(
			err, EEXIST,
			"processes run in cgroup /stasis/%s (pid %d), which is not stasis' (no `%s`): pick "
			"another opts.id",
			id, (int)pids[0], owner_path);
	return 0;
}

static bool dir_is_empty(const char *dir, const char *except)
{
	cleanup_closedir DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    (!except || strcmp(de->d_name, except)))
			return false;
	return d != NULL;
}

/*
 * The state dir before it is claimed: absent, empty, or a leftover marked for this very id (no
 * record claims it any more: check_name ran) that is cleaned.  Anyone else's is refused.
 */
static int check_state_dir(struct restore_ctx *r, const char *own_place, struct stasis_error **err)
{
	struct stat st;
	if (lstat(r->state_dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, errno, "state directory `%s`", r->state_dir);
	}
	if (!S_ISDIR(st.st_mode))
		return error_setx(err, ENOTDIR, "state directory `%s` is not a directory", r->state_dir);
	if (dir_is_empty(r->state_dir, NULL))
		return 0;
	cleanup_free char *marked = NULL;
	bool created = false;
	int ret = runtime_state_dir_owner(r->state_dir, &marked, &created);
	if (ret == 0 && strcmp(marked, r->o.id) != 0)
		return error_setx(
			err, EEXIST,
			"state directory `%s` belongs to container `%s`: give another opts.state_dir",
			r->state_dir, marked);
	if (ret < 0 && strcmp(r->state_dir, own_place) != 0)
		return error_setx(
			err, EEXIST,
			"state directory `%s` is not empty and stasis did not make it (no %s): it is left "
			"alone; give another opts.state_dir",
			r->state_dir, RUNTIME_STATE_MARKER);
	if ((ret = runtime_state_dir_clear(r->state_dir, r->o.id, err)) < 0)
		return error_wrap(err, ret, "clean up what an earlier restore of `%s` left", r->o.id);
	restore_warn(r, "an earlier restore of `%s` left `%s` (no record claims it): unmounted and %s",
		     r->o.id, r->state_dir,
		     created || strcmp(r->state_dir, own_place) == 0 ? "removed" : "emptied");
	return 0;
}

int restore_ctx_claim(struct restore_ctx *r, struct stasis_error **err)
{
	int ret = check_name(r, err);
	if (ret < 0)
		return ret;
	cleanup_free char *own_place = xasprintf(STASIS_STATE_ROOT "/%s", r->o.id);
	if (!r->o.state_dir) {
		r->state_dir = xstrdup(own_place);
	} else if (r->o.state_dir[0] == '/') {
		r->state_dir = xstrdup(r->o.state_dir);
	} else {
		/* the record holds an absolute path: delete may run from anywhere */
		cleanup_free char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return error_set(err, errno, "opts.state_dir `%s`: the current directory",
					 r->o.state_dir);
		r->state_dir = xasprintf("%s/%s", cwd, r->o.state_dir);
	}
	if ((ret = check_state_dir(r, own_place, err)) < 0)
		return ret;

	/* the claim: one record per name, never written over, so two restores of one name cannot both run */
	r->owner = xzalloc(sizeof(*r->owner));
	r->owner->id = xstrdup(r->o.id);
	r->owner->restorer = getpid();
	r->owner->restorer_start = runtime_proc_start_time(r->owner->restorer);
	r->owner->runtime_root = r->o.runtime_root ? xstrdup(r->o.runtime_root) : NULL;
	r->owner->state_dir = xstrdup(r->state_dir);
	r->owner_path = runtime_owner_path(r->o.id);
	ret = runtime_owner_save(r->owner_path, r->owner, true, err);
	if (ret == -EEXIST)
		return error_setx(err, EBUSY, "another restore of `%s` claimed the name just now", r->o.id);
	if (ret < 0)
		return ret;
	r->owner_saved = true;

	cleanup_free char *parent = xstrdup(r->state_dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if ((ret = mkdir_p(parent, 0700, err)) < 0)
			return ret;
	}
	bool own = strcmp(r->state_dir, own_place) == 0;
	if (mkdir(r->state_dir, 0700) == 0) {
		r->state_created = true;
	} else if (errno != EEXIST) {
		return error_set(err, errno, "create state directory `%s`", r->state_dir);
	} else if (!dir_is_empty(r->state_dir, own ? RUNTIME_OWNER_RECORD : NULL)) {
		return error_setx(err, EEXIST, "state directory `%s` is in use: give another opts.state_dir",
				  r->state_dir);
	} else {
		/* an existing empty directory is the caller's: used and emptied again, never removed */
		r->state_created = own;
	}
	ret = runtime_state_dir_mark(r->state_dir, r->o.id, r->state_created, err);
	if (ret == -EEXIST)
		return error_setx(err, EEXIST, "state directory `%s` was taken by another restore just now",
				  r->state_dir);
	if (ret < 0)
		return ret;
	r->state_marked = true;
	return 0;
}

int restore_ctx_save_owner(struct restore_ctx *r, bool restored, struct stasis_error **err)
{
	free(r->owner->runtime);
	r->owner->runtime = r->runtime ? xstrdup(r->runtime) : NULL;
	r->owner->restored = restored;
	return runtime_owner_save(r->owner_path, r->owner, false, err);
}

/* Copies what is left of src to dst (another filesystem than src's: rename said EXDEV). */
static int copy_file(const char *src, const char *dst)
{
	cleanup_close int in = open(src, O_RDONLY | O_CLOEXEC);
	cleanup_close int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (in < 0 || out < 0)
		return -errno;
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
	}
}

/*
 * The log of a failed restore is worth more than a clean slate.  One in our own work dir moves to
 * STASIS_FAILED_LOGS/<id>.restore.log (replacing the last failure's: one per name, so they do not
 * pile up); one in the caller's opts.work_path stays where it is.  Either way the error says where.
 */
static void keep_log(struct restore_ctx *r)
{
	if (!r->work_dir)
		return;
	cleanup_free char *log = xasprintf("%s/restore.log", r->work_dir);
	if (access(log, F_OK) < 0)
		return;
	if (r->o.work_path) {
		r->kept_log = TAKE_PTR(log);
		return;
	}
	cleanup_free char *kept = xasprintf(STASIS_FAILED_LOGS "/%s.restore.log", r->o.id);
	if (mkdir_p(STASIS_FAILED_LOGS, 0700, NULL) < 0)
		return;
	if (rename(log, kept) == 0 || (errno == EXDEV && copy_file(log, kept) == 0))
		r->kept_log = TAKE_PTR(kept);
}

/* What this call made of stasis' own: the state dir (emptied when the caller's) and the records. */
static void drop_state_dir_and_records(struct restore_ctx *r)
{
	if (r->state_marked)
		runtime_state_dir_clear(r->state_dir, r->o.id, NULL);
	else if (r->state_created)
		rmdir(r->state_dir);
	if (r->owner_saved)
		remove_records(r->o.id, NULL);
	r->state_marked = r->state_created = r->owner_saved = false;
}

/* Undo, newest first: no process, no mount, no half-built bundle, no record of ours. */
void restore_ctx_rollback(struct restore_ctx *r)
{
	cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
	if (r->runtime_created) {
		runtime_run(r->ctx, r->runtime, r->o.runtime_root, "delete", r->o.id, "--force", NULL, &e);
		/* crun's record we wrote ourselves: gone even when crun could not read a half-written one */
		if (r->crun_dir)
			rm_rf(r->crun_dir);
	}
	if (r->native_pid > 0) {
		kill(r->native_pid, SIGKILL);
		/* restored with rst_sibling, it is our child: reap it (ECHILD when it is not) */
		while (waitpid(r->native_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	/* a tree CRIU restored into the cgroup this restore made, whatever became of its reply */
	if (r->native_cgroup)
		runtime_cgroup_kill(r->o.id, 5000);
	if (r->netns_created)
		umount2(r->netns_path, MNT_DETACH);
	if (r->rootfs_mount)
		umount2(r->rootfs_mount, MNT_DETACH);
	keep_log(r);
	drop_state_dir_and_records(r);
}

void restore_ctx_hand_over(struct restore_ctx *r)
{
	/* nothing of stasis' is left in it once CRIU is done: the runtime's record is the container's */
	drop_state_dir_and_records(r);
}
