/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Removing a container stasis restored: its process (runtime none) or its runtime's record (runc,
 * crun), then what stasis made for it: mounts under the state dir, the state dir, the record.
 * Only what stasis' ownership record and state directory marker name is touched (owner.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/process.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

/* runtime none: our record has the pid */
static int stop_native(const char *id, const char *record, bool force, struct stasis_error **err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	cleanup_with(oci_state_free) struct oci_state *st = NULL;
	int r = read_file_capped(record, OCI_MAX_JSON, &text, &len, err);
	if (r == 0)
		r = oci_state_parse(text, len, record, &st, err);
	if (r < 0)
		return r;
	pid_t pid = st->pid;
	if (pid > 0 && kill(pid, 0) == 0) {
		if (!force)
			return error_setx(
				err, EBUSY,
				"container `%s` is running (pid %d): stop it first, or set opts.force", id,
				(int)pid);
		kill(pid, SIGKILL);
		if (pid_wait_exit(pid, 5000) < 0)
			return error_setx(err, ETIMEDOUT, "container `%s`: pid %d did not die after SIGKILL",
					  id, (int)pid);
	}
	return 0;
}

/* runtime none, or a restore killed before it chose: what runs in the container's cgroup */
static int stop_cgroup(const char *id, bool force, struct stasis_error **err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	if (runtime_cgroup_pids(id, &pids, &n) > 0 && !force)
		return error_setx(
			err, EBUSY,
			"container `%s` is running (pid %d in cgroup /stasis/%s): stop it first, or set "
			"opts.force",
			id, (int)pids[0], id);
	int r = runtime_cgroup_kill(id, 5000);
	if (r < 0)
		return error_setx(err, ETIMEDOUT, "container `%s`: pid %d did not die after SIGKILL", id, -r);
	return 0;
}

/* The container itself: its runtime deletes it, or (none) its process is stopped. */
static int stop_container(const struct stasis_ctx *ctx, const struct runtime_owner *own,
			  const char *runtime_root, bool force, struct stasis_error **err)
{
	const char *root = own->runtime_root ? own->runtime_root : runtime_root;
	static const char *const runtimes[] = { "runc", "crun" };
	for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++) {
		/* a restore killed before it chose a runtime may have left either */
		if (own->runtime && strcmp(own->runtime, runtimes[i]) != 0)
			continue;
		if (!runtime_knows(runtimes[i], root, own->id, NULL))
			continue;
		int r = runtime_run(ctx, runtimes[i], root, "delete", own->id, force ? "--force" : NULL, NULL,
				    err);
		if (r < 0)
			return r;
	}
	cleanup_free char *record = stasis_state_record(own->id);
	if (access(record, F_OK) == 0) {
		int r = stop_native(own->id, record, force, err);
		if (r < 0)
			return r;
	}
	return stop_cgroup(own->id, force, err);
}

/* STASIS_STATE_ROOT/<id> and the failed restore's log; the ownership record goes last. */
static int remove_record_dir(const char *id, struct stasis_error **err)
{
	cleanup_free char *log = xasprintf(STASIS_FAILED_LOGS "/%s.restore.log", id);
	cleanup_free char *state = stasis_state_record(id);
	cleanup_free char *owner = runtime_owner_path(id);
	(void)unlink(log);
	if (unlink(state) < 0 && errno != ENOENT)
		return error_set(err, errno, "remove `%s`", state);
	if (unlink(owner) < 0 && errno != ENOENT)
		return error_set(err, errno, "remove `%s`", owner);
	cleanup_free char *dir = xasprintf(STASIS_STATE_ROOT "/%s", id);
	return runtime_state_dir_clear(dir, id, err);
}

static bool same_dir(const char *a, const char *b)
{
	cleanup_free char *ra = realpath(a, NULL);
	cleanup_free char *rb = realpath(b, NULL);
	return strcmp(ra ? ra : a, rb ? rb : b) == 0;
}

int stasis_delete(struct stasis_ctx *ctx, const struct stasis_delete_opts *opts, struct stasis_error **err)
{
	struct stasis_delete_opts o = { 0 };
	if (!opts)
		return error_setx(err, EINVAL, "delete: no options given");
	int r = opts_copy(&o, sizeof(o), opts, "delete", err);
	if (r < 0)
		return r;
	if ((r = runtime_id_check(o.id, "opts.id", err)) < 0)
		return error_wrap(err, r, "delete");
	cleanup_free char *owner_path = runtime_owner_path(o.id);
	cleanup_with(runtime_owner_free) struct runtime_owner *own = NULL;
	r = runtime_owner_load(owner_path, &own, err);
	if (r == -ENOENT) {
		/* not restored by stasis: a runtime's container of that name is not ours to touch */
		static const char *const runtimes[] = { "runc", "crun" };
		for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++)
			if (runtime_knows(runtimes[i], o.runtime_root, o.id, NULL))
				return error_setx(
					err, EPERM,
					"delete `%s`: %s has a container `%s` that stasis did not restore "
					"(no `%s`): left alone",
					o.id, runtimes[i], o.id, owner_path);
		/* a state dir marked for this id is a leftover of ours (or the caller names the wrong one) */
		cleanup_free char *dir =
			o.state_dir ? xstrdup(o.state_dir) : xasprintf(STASIS_STATE_ROOT "/%s", o.id);
		struct stat sb;
		if (stat(dir, &sb) < 0)
			return error_setx(err, ENOENT, "delete `%s`: no such container restored by stasis",
					  o.id);
		if ((r = runtime_state_dir_clear(dir, o.id, err)) < 0 ||
		    (r = remove_record_dir(o.id, err)) < 0)
			return error_wrap(err, r, "delete `%s`", o.id);
		return 0;
	}
	if (r < 0)
		return error_wrap(err, r, "delete `%s`", o.id);
	if (o.state_dir && !same_dir(o.state_dir, own->state_dir))
		return error_setx(
			err, EINVAL,
			"delete `%s`: its state directory is `%s` (`%s` says so), not opts.state_dir `%s`",
			o.id, own->state_dir, owner_path, o.state_dir);
	if (runtime_owner_restorer_alive(own))
		return error_setx(err, EBUSY, "delete `%s`: a restore of it is under way (pid %d)", o.id,
				  (int)own->restorer);
	if ((r = stop_container(ctx, own, o.runtime_root, o.force, err)) < 0 ||
	    (r = runtime_state_dir_clear(own->state_dir, o.id, err)) < 0 ||
	    (r = remove_record_dir(o.id, err)) < 0)
		return error_wrap(err, r, "delete `%s`", o.id);
	return 0;
}
