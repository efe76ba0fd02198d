/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/runtime/: the OCI runtimes a container belongs to.  runtime.c runs runc and crun (state,
 * delete, restore) and reads what they print; owner.c is how stasis knows what it made (the
 * ownership record a restore writes, the marker in its state directories) and clears it;
 * cgroups.c removes the cgroups a native restore made; delete.c is `stasis delete`, which removes a container stasis restored and what stasis made
 * for it, and nothing else.
 */
#ifndef STASIS_ENGINE_RUNTIME_INTERNAL_H
#define STASIS_ENGINE_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "oci/oci.h"

struct stasis_error;

/* where cgroup hierarchies are mounted, and the parent of the cgroups of containers stasis runs */
#define STASIS_CGROUP_ROOT "/sys/fs/cgroup"
#define STASIS_CGROUP_PARENT "/stasis"

/*
 * Removes the cgroups a native restore made for container id (STASIS_CGROUP_PARENT/id in every
 * hierarchy): once its tasks have exited they are empty, and nothing else removes them.
 */
void runtime_remove_cgroups(const char *id);

/* What a child wrote into a memfd, at most 1 MiB, NUL-terminated (malloc'ed). */
char *memfd_read_capped(int fd);
/* The last non-empty line of text (trims text's tail): where runc, crun and hooks put their error. */
char *text_last_line(char *text);

struct stasis_ctx;
/*
 * The binary runtime ("runc", "crun") runs as: the context's runc_path/crun_path, else its name.
 * ctx may be NULL (stasis_delete has none) here and in the calls below: the runtimes in PATH.
 */
const char *runtime_binary(const struct stasis_ctx *ctx, const char *runtime);
/*
 * Runs argv, whose argv[0] is a runtime's name (its binary: runtime_binary; a name is looked up
 * in PATH), with the context's runtime_args after argv[0], in a process group of its own, so that
 * a terminal's ^C reaches stasis (which then rolls back) and not a runtime in the middle of its
 * work.  A failure's message ends with the runtime's last stderr line.
 */
int runtime_runv(const struct stasis_ctx *ctx, const char *const *argv, char **ret_out,
		 struct stasis_error **err);
struct child_namespaces;
/*
 * The runtime gets the caller's fds 0-2 (a restore's pipes that must reach the container, as
 * conmon and containerd's shim hand them over); its stderr is then the caller's, not quoted.
 */
#define RUNTIME_CALLER_STDIO 1u
/*
 * runtime_runv in the namespaces ns (NULL: ours), with RUNTIME_* flags, and env's NAME=VALUE
 * strings set in its environment (NULL: ours as it is)
 */
int runtime_runv_in(const struct stasis_ctx *ctx, const char *const *argv, const struct child_namespaces *ns,
		    unsigned flags, const char *const *env, char **ret_out, struct stasis_error **err);
/* Runs `<runtime> [--root R] <verb> [extra] <id>`; stdout (capped) goes to *ret_out when given. */
int runtime_run(const struct stasis_ctx *ctx, const char *runtime, const char *root, const char *verb,
		const char *id, const char *extra, char **ret_out, struct stasis_error **err);
/* Whether runtime has checkpoint/restore at all: `<runtime> checkpoint --help` succeeds (podman's probe). */
bool runtime_can_checkpoint(const struct stasis_ctx *ctx, const char *runtime);
/*
 * The state record of a container stasis restored with no runtime (STASIS_STATE_ROOT/<id>/state.json),
 * looked for when runtime is NULL, "auto" or "none": 0, -ENOENT (none, or another runtime asked
 * for; err untouched), -ESRCH (its process is gone), or an error reading it.
 */
int runtime_own_state(const char *runtime, const char *id, struct oci_state **ret, struct stasis_error **err);
/* The container's state from runtime (or, with NULL/"auto", from runc then crun). */
int runtime_state(const struct stasis_ctx *ctx, const char *runtime, const char *root, const char *id,
		  struct oci_state **ret, char **ret_runtime, struct stasis_error **err);

/* ---- ownership (owner.c) ---- */

/* The longest container id: "<id>.restore.log" still fits in a file name (NAME_MAX). */
#define RUNTIME_ID_MAX 240
/* stasis' ownership record of a restored container: STASIS_STATE_ROOT/<id>/owner.json */
#define RUNTIME_OWNER_RECORD "owner.json"
/* The marker in every state directory stasis created or adopted: "<id>\ncreated|adopted\n" */
#define RUNTIME_STATE_MARKER ".stasis-state-dir"
/* What a restore makes in its state directory, by name: all a state dir the caller gave gets back. */
#define STATE_DIR_ARCHIVE "archive"
#define STATE_DIR_UPPER "upper"
#define STATE_DIR_OVERLAY_WORK "overlay-work"
#define STATE_DIR_ROOTFS "rootfs"
#define STATE_DIR_FILES "files"
#define STATE_DIR_NETNS "netns"
#define STATE_DIR_BUNDLE "bundle"
#define STATE_DIR_PID_FILE "pid"
#define STATE_DIR_CRIU_ROOT "criu-root"
#define STATE_DIR_REPLICA "archive-replica"	  /* the sparse copy of an archive another host serves */
#define STATE_DIR_LAZY_PAGES "lazy-pages"	  /* a lazy restore's guard says there how it stands */
#define STATE_DIR_LAZY_PAGES_LOG "lazy-pages.log" /* the log of its `criu lazy-pages` */
/* a lazy restore through runc: CRIU's config and action script, and the FIFOs to the guard */
#define STATE_DIR_LAZY_CRIU_CONF "criu-lazy.conf"
#define STATE_DIR_LAZY_HOLD_SCRIPT "lazy-hold.sh"
#define STATE_DIR_LAZY_HOLD_REQ "lazy-hold.req"
#define STATE_DIR_LAZY_HOLD_ANS "lazy-hold.ans"
#define STATE_DIR_EMPTY "empty" /* what masked directories and absent cgroup hierarchies show */

/*
 * 0 when id is a container id as runc and crun take it (runc: ^[\w+-\.]+$, a clean path element),
 * which also keeps it from reading as a flag; else -EINVAL naming the rule and what ("opts.id").
 */
int runtime_id_check(const char *id, const char *what, struct stasis_error **err);
/*
 * Whether runtime ("runc", "crun") has a record of container id under root (NULL: its default):
 * its directory there, which it makes when it creates the container.  *ret_dir: that directory.
 */
bool runtime_knows(const char *runtime, const char *root, const char *id, char **ret_dir);
/* The start time of pid (/proc/PID/stat field 22), 0 when it is gone: a pid plus this names one process. */
unsigned long long runtime_proc_start_time(pid_t pid);
/* The processes in the cgroups /stasis/<id> (every hierarchy); returns how many (malloc'ed *ret). */
int runtime_cgroup_pids(const char *id, pid_t **ret, size_t *ret_n);
/*
 * SIGKILLs every process in the cgroups /stasis/<id>, waits up to timeout_ms for each, and removes
 * the cgroups: 0, or minus the pid of one that did not die.
 */
int runtime_cgroup_kill(const char *id, int timeout_ms);
/*
 * Calls fn with each cgroup process pid is in, one a hierarchy: its controllers ("cpu,cpuacct",
 * "name=systemd"; "" for the unified hierarchy) and its directory where this mount namespace has
 * that hierarchy.  A hierarchy's root is left out (no container's own).  0, or -errno of reading.
 */
typedef void (*runtime_cgroup_dir_fn)(const char *controllers, const char *dir, void *data);
int runtime_cgroup_dirs(pid_t pid, runtime_cgroup_dir_fn fn, void *data);
struct mnt_table;
/* The same from /proc/PID/cgroup's text (changed in place) and a mount table (mounts/mounts.h). */
void runtime_cgroup_dirs_in(char *proc_cgroup, const struct mnt_table *t, runtime_cgroup_dir_fn fn,
			    void *data);
/*
 * The directories of process of's cgroups, but skip_controller's hierarchy (NULL: none skipped),
 * NULL-terminated (empty when it has none of its own): 0, or -errno when they cannot be read or
 * one cannot be entered (its cgroup.procs not writable).
 */
int runtime_cgroup_list(pid_t of, const char *skip_controller, char ***ret);
/* Moves process who (all its threads) into each of dirs: 0, or -errno of the first it could not enter. */
int runtime_cgroup_move(char *const *dirs, pid_t who);
/* Moves process who to the root of every cgroup hierarchy mounted here: its cgroups can go. */
void runtime_cgroup_leave(pid_t who);
/*
 * Where a lazy restore's guard writes its line: STATE_DIR_LAZY_PAGES beside the state record, or
 * STASIS_LAZY_STATUS/<id> for a container its runtime owns (stasis keeps no state dir of it).
 */
char *runtime_lazy_status_path(const char *id, bool runtime_owns);
/*
 * Whether a lazy restore is still bringing the memory of container id, running as pid, back: its
 * guard's line says `fetching: container <pid>, ...`.  *ret_path: that file.
 */
bool runtime_lazy_fetching(const char *id, pid_t pid, char **ret_path);
/*
 * Removes the lines in STASIS_LAZY_STATUS of containers that are gone (a runtime owned them, so
 * nothing of stasis' deletes them): a finished one's when neither runc nor crun (default roots)
 * knows the container any more, a fetching one's when its container and helpers are dead.
 * Each removal is reported; returns how many.
 */
int runtime_lazy_gc(void (*report)(const char *msg, void *data), void *data);

/*
 * The ownership record: a restore writes it (create: never over an existing one) before it makes
 * anything, which claims the name, and keeps it when it succeeds; delete removes it last.
 */
struct runtime_owner {
	char *id;
	bool restored;			   /* false: a restore is (or was, when killed) under way */
	pid_t restorer;			   /* the process that restores (or restored) it */
	unsigned long long restorer_start; /* and its start time */
	char *runtime;			   /* runc, crun, none; NULL until the restore chose */
	char *runtime_root;
	char *state_dir; /* absolute */
};
/* STASIS_STATE_ROOT/<id>/owner.json (malloc'ed) */
char *runtime_owner_path(const char *id);
/* 0; -ENOENT (no record, no message); -EBADMSG (not one of ours); the errno of reading it. */
int runtime_owner_load(const char *path, struct runtime_owner **ret, struct stasis_error **err);
/* Writes it atomically; with create, its directory too and -EEXIST (no message) when one exists. */
int runtime_owner_save(const char *path, const struct runtime_owner *o, bool create,
		       struct stasis_error **err);
struct runtime_owner *runtime_owner_free(struct runtime_owner *o);
DEFINE_CLEANUP(struct runtime_owner *, runtime_owner_free)
/* true while the restore that wrote the record still runs (same pid, same start time). */
bool runtime_owner_restorer_alive(const struct runtime_owner *o);
/*
 * What still holds the container: its runtime's record, its process (runtime none), a process in
 * its cgroup; NULL when nothing does (malloc'ed text, "runc has it (`/run/runc/x`)").
 */
char *runtime_owner_container_alive(const struct runtime_owner *o);

/* Creates dir's marker naming id; -EEXIST (no message) when dir has one. */
int runtime_state_dir_mark(const char *dir, const char *id, bool created, struct stasis_error **err);
/* The container dir's marker names, and whether stasis created dir: 0, -ENOENT, -EBADMSG. */
int runtime_state_dir_owner(const char *dir, char **ret_id, bool *ret_created);
/* Unmounts everything at or below dir, deepest first (MNT_DETACH). */
int runtime_umount_below(const char *dir, struct stasis_error **err);
/*
 * Unmounts everything below the state directory dir of container id and removes it (stasis
 * created it) or empties it of what stasis put there (the caller's).  0 when dir does not exist;
 * -EPERM when its marker does not name id (STASIS_STATE_ROOT/<id> is ours without one).
 */
int runtime_state_dir_clear(const char *dir, const char *id, struct stasis_error **err);

#endif
