/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/criu/: everything that talks to CRIU: the RPC client (rpc.c, rpc.h), finding CRIU and
 * asking what it can do (context.c), raw process dump/restore (process.c), the errors and log
 * excerpts of a failed call (log.c), and the explainer's catalog of CRIU failures (explain.c).
 */
#ifndef STASIS_ENGINE_CRIU_INTERNAL_H
#define STASIS_ENGINE_CRIU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/criu/rpc.h"
#include "engine/engine-internal.h"

/*
 * Turns a CRIU reply with success=false into an error: "<what>: <cause>", with cr_errno,
 * cr_errmsg, the log path and its "Error (" lines.  Returns a negative errno.
 */
int cr_fail(struct stasis_error **err, const char *what, const struct rpc_result *res, const char *log_path);

/* The "Error (" lines of a CRIU log (at most max), NULL-terminated; NULL when none or unreadable. */
char **cr_log_errors(const char *log_path, size_t max);

/* Fails with -EOPNOTSUPP when CRIU cannot track memory on this kernel (pre-dump is impossible). */
int cr_require_mem_track(struct stasis_ctx *ctx, struct stasis_error **err);

/*
 * The network lock a dump asks CRIU for: method ("iptables", "nftables", "skip"; NULL or "auto":
 * nftables when this CRIU can lock with it on this host, else iptables).  -EINVAL for another name,
 * -EOPNOTSUPP for nftables that this CRIU cannot use here.
 */
int cr_network_lock(struct stasis_ctx *ctx, const char *method, enum rpc_network_lock *ret,
		    struct stasis_error **err);

/*
 * CRIU's kernel facts cache (kerndat.c): CRIU reads CRIU_KDAT_FILE and writes it only when
 * CRIU_KDAT_RUN_DIR is a tmpfs.  Elsewhere stasis keeps it in STASIS_KDAT_FILE, on a tmpfs it
 * mounts on STASIS_KDAT_DIR, and links CRIU_KDAT_FILE there (context.c says how).
 */
#define CRIU_KDAT_RUN_DIR "/run"
#define CRIU_KDAT_NAME "criu.kdat"
#define CRIU_KDAT_FILE CRIU_KDAT_RUN_DIR "/" CRIU_KDAT_NAME
#define STASIS_KDAT_DIR STASIS_STATE_ROOT "/@kdat"
#define STASIS_KDAT_FILE STASIS_KDAT_DIR "/" CRIU_KDAT_NAME

enum cr_kdat_state {
	CR_KDAT_CRIU_KEEPS,   /* /run is a tmpfs: CRIU keeps its own */
	CR_KDAT_STASIS_KEEPS, /* CRIU_KDAT_FILE links to stasis' copy, which is there */
	CR_KDAT_NONE,	      /* nothing yet (or stasis' link, dangling after a reboot) */
	CR_KDAT_FOREIGN,      /* a file, or a link elsewhere, on a /run that outlives a reboot */
};
enum cr_kdat_state cr_kdat_state(void);
/*
 * Whether STASIS_KDAT_DIR is a directory nobody but root can put anything into (it and the one it
 * is in), or is not there yet
 */
bool cr_kdat_dir_trusted(void);
/* the same for any directory of stasis' own under STASIS_STATE_ROOT */
bool cr_root_dir_trusted(const char *dir);
/*
 * dir (under STASIS_STATE_ROOT) is there, root's alone, with a small tmpfs on it, which a reboot
 * takes away: mounted now (source its name in the mount table) when create is set and it is not.
 */
bool cr_boot_tmpfs(const char *dir, const char *source, bool create);

/*
 * CRIU's cgroup yard, kept for the boot: every cgroup hierarchy of the host mounted once under
 * STASIS_CGYARD_DIR (a tmpfs of stasis'), named as CRIU names them, so that a dump or a restore
 * that manages cgroups opens them there instead of mounting each itself (a cgroup2 mount alone
 * took some 12 ms here).  Checked against /proc/self/cgroup at each use; NULL when it cannot be
 * made whole (CRIU then mounts its own, as without it).
 */
#define STASIS_CGYARD_DIR STASIS_STATE_ROOT "/@cgyard"
const char *cr_cgroup_yard(struct stasis_ctx *ctx);

/* rpc_run with the context's CRIU, timeout and cancel flag, logged (debug: the request; info: outcome). */
int cr_run(struct stasis_ctx *ctx, enum rpc_req type, const struct rpc_opts *opts,
	   const struct rpc_notify_table *notify, struct rpc_result *ret, struct stasis_error **err);

/* Opens a directory for CRIU (images or work dir), creating it when create is set. */
int cr_open_dir(const char *path, bool create, int *ret_fd, struct stasis_error **err);

#endif
