/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Removing a container stasis restored: its process (runtime none) or its runtime's record (runc,
 * crun), then what stasis made for it: mounts under the state dir, the state dir, the record.
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
	runtime_remove_cgroups(id);
	return 0;
}

/* Unmounts everything at or below dir, deepest first. */
static int umount_below(const char *dir, struct stasis_error **err)
{
	cleanup_with(mnt_table_clear) struct mnt_table t = { 0 };
	int r = mnt_table_load(0, &t, err);
	if (r < 0)
		return r;
	size_t dl = strlen(dir);
	for (;;) {
		const char *deepest = NULL;
		for (size_t i = 0; i < t.n; i++) {
			const char *mp = t.e[i].mountpoint;
			if (!mp || strncmp(mp, dir, dl) != 0 || (mp[dl] != '/' && mp[dl] != '\0'))
				continue;
			if (!deepest || strlen(mp) > strlen(deepest))
				deepest = mp;
		}
		if (!deepest)
			break;
		if (umount2(deepest, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
			r = error_set(err, errno, "unmount `%s`", deepest);
			break;
		}
		/* forget it here; a stacked mount below shows again in a fresh read only */
		for (size_t i = 0; i < t.n; i++)
			if (t.e[i].mountpoint == deepest)
				t.e[i].mountpoint[0] = '\0';
	}
	return r;
}

/* A state dir stasis made has these; anything else is not ours to remove. */
static bool looks_like_state_dir(const char *dir)
{
	static const char *const marks[] = { "bundle", "archive", "restore.log", "state.json" };
	for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, marks[i]);
		if (access(p, F_OK) == 0)
			return true;
	}
	return false;
}

int stasis_delete(struct stasis_ctx *ctx, const struct stasis_delete_opts *opts, struct stasis_error **err)
{
	(void)ctx;
	struct stasis_delete_opts o = { 0 };
	if (!opts)
		return error_setx(err, EINVAL, "delete: no options given");
	int rc = opts_copy(&o, sizeof(o), opts, "delete", err);
	if (rc < 0)
		return rc;
	if (!o.id || !o.id[0] || strchr(o.id, '/') || strcmp(o.id, ".") == 0 || strcmp(o.id, "..") == 0)
		return error_setx(err, EINVAL, "delete: a container id without '/' is needed");
	cleanup_free char *record = stasis_state_record(o.id);
	cleanup_free char *record_dir = xasprintf(STASIS_STATE_ROOT "/%s", o.id);
	cleanup_free char *state_dir = o.state_dir ? xstrdup(o.state_dir) : xstrdup(record_dir);
	bool found = false;
	int r = 0;
	if (access(record, F_OK) == 0) {
		found = true;
		r = stop_native(o.id, record, o.force, err);
	} else {
		cleanup_with(oci_state_free) struct oci_state *st = NULL;
		cleanup_free char *rt = NULL;
		cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
		if (runtime_state(o.runtime, o.runtime_root, o.id, &st, &rt, &e) == 0) {
			found = true;
			r = runtime_run(rt, o.runtime_root, "delete", o.id, o.force ? "--force" : NULL, NULL,
					err);
		}
	}
	if (r < 0)
		return error_wrap(err, r, "delete `%s`", o.id);
	struct stat sb;
	bool have_dir = stat(state_dir, &sb) == 0 && S_ISDIR(sb.st_mode);
	if (have_dir && !looks_like_state_dir(state_dir))
		return error_setx(err, EPERM,
				  "delete `%s`: `%s` does not look like a state directory stasis made: left "
				  "alone",
				  o.id, state_dir);
	if (!found && !have_dir)
		return error_setx(err, ENOENT, "delete `%s`: no such container restored by stasis", o.id);
	if (have_dir && ((r = umount_below(state_dir, err)) < 0 || (r = rm_rf(state_dir)) < 0))
		return error_wrap(err, r < 0 ? r : -EIO, "delete `%s`: remove `%s`", o.id, state_dir);
	if (strcmp(state_dir, record_dir) != 0 && (r = rm_rf(record_dir)) < 0)
		return error_set(err, -r, "delete `%s`: remove `%s`", o.id, record_dir);
	return 0;
}
