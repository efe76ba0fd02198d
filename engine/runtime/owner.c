/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What stasis owns, and how it knows: a restore claims the name with the ownership record
 * /run/stasis/ID/owner.json before it makes anything, and marks every state directory it creates
 * or adopts with `.stasis-state-dir` naming the container.  `stasis delete` and a retried restore
 * touch only what these name: a runc container of the same name, or a directory that happens to
 * hold a `bundle`, is not stasis' to remove.
 */
#include "engine/runtime/runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/parse.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/names.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

/* the record and the marker are a few hundred bytes; anything bigger is not ours */
#define OWNER_MAX_SIZE (64u * 1024u)

int runtime_id_check(const char *id, const char *what, struct stasis_error **err)
{
	/* runc's rule (libcontainer validateID): ^[\w+-\.]+$ and the id is a clean path element */
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.";
	bool ok = id && id[0] && id[0] != '-' && strcmp(id, ".") != 0 && strcmp(id, "..") != 0 &&
		  strspn(id, allowed) == strlen(id) && strlen(id) <= RUNTIME_ID_MAX;
	if (ok)
		return 0;
	return error_setx(err, EINVAL,
			  "%s `%s`: a container id is 1 to %d letters, digits and `_+-.`, does not start "
			  "with `-` and is not `.` or `..` (the OCI runtimes' rule)",
			  what, id ? id : "", RUNTIME_ID_MAX);
}

bool runtime_knows(const char *runtime, const char *root, const char *id, char **ret_dir)
{
	/* runc and crun keep one directory per container under their root, made when it is created */
	const char *base = root ? root : strcmp(runtime, "crun") == 0 ? "/run/crun" : "/run/runc";
	cleanup_free char *dir = xasprintf("%s/%s", base, id);
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (ret_dir)
		*ret_dir = TAKE_PTR(dir);
	return true;
}

unsigned long long runtime_proc_start_time(pid_t pid)
{
	cleanup_free char *p = xasprintf("/proc/%d/stat", (int)pid);
	cleanup_free char *text = NULL;
	if (read_file_capped(p, 1 << 16, &text, NULL, NULL) < 0)
		return 0;
	const char *s = strrchr(text, ')');
	/* field 22; the comm in parentheses may hold spaces */
	for (int field = 2; s && *s && field < 22; s++)
		if (*s == ' ')
			field++;
	return s ? strtoull(s, NULL, 10) : 0;
}

char *runtime_owner_path(const char *id)
{
	return xasprintf(STASIS_STATE_ROOT "/%s/" RUNTIME_OWNER_RECORD, id);
}

struct runtime_owner *runtime_owner_free(struct runtime_owner *o)
{
	if (o) {
		free(o->id);
		free(o->runtime);
		free(o->runtime_root);
		free(o->state_dir);
		free(o);
	}
	return NULL;
}

int runtime_owner_save(const char *path, const struct runtime_owner *o, bool create,
		       struct stasis_error **err)
{
	cleanup_free char *pid = xasprintf("%d", (int)o->restorer);
	cleanup_free char *start = xasprintf("%llu", o->restorer_start);
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kstr(j, "id", o->id);
	oci_json_kstr(j, "status", o->restored ? "restored" : "restoring");
	/* strings, so that one reader (oci_json_member_string) reads every member */
	oci_json_kstr(j, "restorerPid", pid);
	oci_json_kstr(j, "restorerStartTime", start);
	if (o->runtime)
		oci_json_kstr(j, "runtime", o->runtime);
	if (o->runtime_root)
		oci_json_kstr(j, "runtimeRoot", o->runtime_root);
	oci_json_kstr(j, "stateDir", o->state_dir);
	oci_json_map_close(j);
	size_t len = 0;
	cleanup_free char *text = oci_json_finish(j, &len);
	if (create) {
		cleanup_free char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
		int r = mkdir_p(dir, 0700, err);
		if (r < 0)
			return r;
	}
	/* -EEXIST without a message: the caller knows what an existing record means */
	struct stasis_error *e = NULL;
	int r = write_file_atomic(path, text, len, 0600, create ? WRITE_FILE_NOREPLACE : 0, &e);
	if (r == -EEXIST)
		stasis_error_free(TAKE_PTR(e));
	return error_adopt(err, &e, r);
}

int runtime_owner_load(const char *path, struct runtime_owner **ret, struct stasis_error **err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	int r = read_file_capped(path, OWNER_MAX_SIZE, &text, &len, err);
	if (r < 0)
		return r;
	cleanup_with(runtime_owner_free) struct runtime_owner *o = xzalloc(sizeof(*o));
	cleanup_free char *status = NULL, *pid = NULL, *start = NULL;
	uint64_t start_time = 0;
	if (oci_json_member_string(text, len, "id", &o->id) < 0 ||
	    oci_json_member_string(text, len, "status", &status) < 0 ||
	    oci_json_member_string(text, len, "restorerPid", &pid) < 0 ||
	    oci_json_member_string(text, len, "restorerStartTime", &start) < 0 ||
	    oci_json_member_string(text, len, "stateDir", &o->state_dir) < 0 ||
	    parse_pid(pid, &o->restorer) < 0 || parse_u64(start, &start_time) < 0 ||
	    (strcmp(status, "restored") && strcmp(status, "restoring")))
		return error_setx(err, EBADMSG, "`%s`: not a stasis ownership record", path);
	o->restorer_start = start_time;
	o->restored = strcmp(status, "restored") == 0;
	(void)oci_json_member_string(text, len, "runtime", &o->runtime);
	(void)oci_json_member_string(text, len, "runtimeRoot", &o->runtime_root);
	*ret = TAKE_PTR(o);
	return 0;
}

bool runtime_owner_restorer_alive(const struct runtime_owner *o)
{
	/* the pid alone could be a new process by now: its start time says whether it is the same one */
	return !o->restored && o->restorer > 0 && kill(o->restorer, 0) == 0 &&
	       runtime_proc_start_time(o->restorer) == o->restorer_start;
}

char *runtime_owner_container_alive(const struct runtime_owner *o)
{
	static const char *const runtimes[] = { "runc", "crun" };
	for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++) {
		/* until the restore chose its runtime, either may have the container */
		if (o->runtime && strcmp(o->runtime, runtimes[i]) != 0)
			continue;
		cleanup_free char *dir = NULL;
		if (runtime_knows(runtimes[i], o->runtime_root, o->id, &dir))
			return xasprintf("%s has it (`%s`)", runtimes[i], dir);
	}
	cleanup_free char *record = stasis_state_record(o->id);
	cleanup_free char *text = NULL;
	size_t len = 0;
	cleanup_with(oci_state_free) struct oci_state *st = NULL;
	if (read_file_capped(record, OCI_MAX_JSON, &text, &len, NULL) == 0 &&
	    oci_state_parse(text, len, record, &st, NULL) == 0 && st->pid > 0 && kill(st->pid, 0) == 0)
		return xasprintf("its process %d runs", (int)st->pid);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	if (runtime_cgroup_pids(o->id, &pids, &n) > 0)
		return xasprintf("process %d runs in its cgroup /stasis/%s", (int)pids[0], o->id);
	return NULL;
}

int runtime_state_dir_mark(const char *dir, const char *id, bool created, struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/" RUNTIME_STATE_MARKER, dir);
	cleanup_free char *text = xasprintf("%s\n%s\n", id, created ? "created" : "adopted");
	/* -EEXIST without a message, as for the record */
	struct stasis_error *e = NULL;
	int r = write_file_atomic(path, text, strlen(text), 0600, WRITE_FILE_NOREPLACE, &e);
	if (r == -EEXIST)
		stasis_error_free(TAKE_PTR(e));
	return error_adopt(err, &e, r);
}

int runtime_state_dir_owner(const char *dir, char **ret_id, bool *ret_created)
{
	cleanup_free char *path = xasprintf("%s/" RUNTIME_STATE_MARKER, dir);
	cleanup_free char *text = NULL;
	struct stat st;
	/* a marker is a file of ours, never a link someone put there */
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || read_file_capped(path, OWNER_MAX_SIZE, &text, NULL, NULL) < 0)
		return -EBADMSG;
	char *nl = strchr(text, '\n');
	if (!nl)
		return -EBADMSG;
	*nl = '\0';
	const char *how = nl + 1;
	bool created = strcmp(how, "created\n") == 0;
	if (!created && strcmp(how, "adopted\n") != 0)
		return -EBADMSG;
	if (runtime_id_check(text, "marker", NULL) < 0)
		return -EBADMSG;
	*ret_id = TAKE_PTR(text);
	*ret_created = created;
	return 0;
}

/* What mountinfo lists at or below dir, deepest first: NULL when nothing (or mountinfo unreadable). */
static char *deepest_mount_below(const char *dir, struct stasis_error **err)
{
	cleanup_with(mnt_table_clear) struct mnt_table t = { 0 };
	if (mnt_table_load(0, &t, err) < 0)
		return NULL;
	size_t dl = strlen(dir);
	const char *deepest = NULL;
	for (size_t i = 0; i < t.n; i++) {
		const char *mp = t.e[i].mountpoint;
		if (!mp || strncmp(mp, dir, dl) != 0 || (mp[dl] != '/' && mp[dl] != '\0'))
			continue;
		if (!deepest || strlen(mp) > strlen(deepest))
			deepest = mp;
	}
	return deepest ? xstrdup(deepest) : NULL;
}

int runtime_umount_below(const char *dir, struct stasis_error **err)
{
	/* one fresh mountinfo per unmount: a stacked mount below shows only once the top one is gone */
	for (unsigned n = 0;; n++) {
		struct stasis_error *e = NULL;
		cleanup_free char *mp = deepest_mount_below(dir, &e);
		if (e)
			return error_adopt(err, &e, -stasis_error_errno(e));
		if (!mp)
			return 0;
		if (n == 4096)
			return error_setx(err, EBUSY, "`%s` stays mounted", mp);
		if (umount2(mp, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			return error_set(err, errno, "unmount `%s`", mp);
	}
}

/* What a restore puts in its state directory (restore.c makes them, CRIU and runc add their work files) */
static const char *const state_dir_entries[] = {
	STATE_DIR_ARCHIVE,	  STATE_DIR_UPPER,	  STATE_DIR_OVERLAY_WORK, STATE_DIR_ROOTFS,
	STATE_DIR_FILES,	  STATE_DIR_NETNS,	  STATE_DIR_BUNDLE,	  STATE_DIR_PID_FILE,
	STATE_DIR_CRIU_ROOT,	  "restore.log",	  CRIU_IMG_STATS_RESTORE, STASIS_STATE_RECORD,
	RUNTIME_OWNER_RECORD,	  RUNTIME_STATE_MARKER,	  STATE_DIR_EMPTY,	  STATE_DIR_LAZY_PAGES,
	STATE_DIR_LAZY_PAGES_LOG, CRIU_LAZY_PAGES_SOCKET, STATE_DIR_REPLICA,
};

int runtime_state_dir_clear(const char *dir, const char *id, struct stasis_error **err)
{
	struct stat st;
	if (lstat(dir, &st) < 0 && errno == ENOENT)
		return 0;
	cleanup_free char *owner = NULL;
	bool created = false;
	int r = runtime_state_dir_owner(dir, &owner, &created);
	/* nothing but stasis makes /run/stasis/<id>: that one is ours by its place, marker or not */
	cleanup_free char *own_place = xasprintf(STASIS_STATE_ROOT "/%s", id);
	if (strcmp(dir, own_place) == 0 && (r < 0 || strcmp(owner, id) == 0)) {
		r = 0;
		created = true;
	} else if (r < 0 || strcmp(owner, id) != 0) {
		return error_setx(err, EPERM,
				  "`%s` is not a state directory stasis made for `%s` (%s): left alone", dir,
				  id,
				  r < 0 ? "no " RUNTIME_STATE_MARKER " names it"
					: "its " RUNTIME_STATE_MARKER " names another container");
	}
	if ((r = runtime_umount_below(dir, err)) < 0)
		return error_wrap(err, r, "state directory `%s`", dir);
	if (created) {
		r = rm_rf(dir);
		return r < 0 ? error_set(err, r, "remove `%s`", dir) : 0;
	}
	/* a directory the caller gave: emptied of what stasis put there (the marker last), never removed */
	for (size_t i = 0; i < ARRAY_SIZE(state_dir_entries); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, state_dir_entries[i]);
		if ((r = rm_rf(p)) < 0)
			return error_set(err, r, "remove `%s`", p);
	}
	return 0;
}
