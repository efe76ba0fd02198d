/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/restore/: bringing a container back.  restore.c runs the steps (unpack and verify the
 * archive, rootfs, bundle, mountpoints); context.c owns their state, warnings and rollback, and
 * the claim on the container's name (what an earlier restore of it left is cleaned there);
 * prepare.c makes bind sources and mountpoints; netns.c and hooks.c the network namespace and
 * OCI hooks; labels.c the LSM labels; policy.c what the images tell the restore policy and the
 * namespaces CRIU runs in; the CRIU step is runc.c (runc restore) or native.c (our RPC client).
 */
#ifndef STASIS_ENGINE_RESTORE_INTERNAL_H
#define STASIS_ENGINE_RESTORE_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine/archive/archive.h"
#include "engine/archive/tls.h"
#include "engine/restore/policy.h"
#include "include/stasis.h"
#include "oci/oci.h"

struct lazy_guard;
struct runtime_owner;

struct restore_ctx {
	struct stasis_restore_opts o;
	const struct stasis_ctx *ctx;
	char *owner_path;	     /* stasis' ownership record of the name: the claim */
	struct runtime_owner *owner; /* what it says */
	bool owner_saved;	     /* this call wrote it */
	char *state_dir;	     /* absolute */
	bool state_created;	     /* this call made the directory (else the caller's, adopted) */
	bool state_marked;	     /* this call put the marker in it */
	char *archive_dir;
	char *replica; /* opts.page_server: the archive's sparse copy (o.import_path points here) */
	struct arc_tls page_server_tls; /* how to reach opts.page_server (restore_page_server_tls) */
	/* import.deferred: the page images left in the archive, for CRIU to read from it (streamed) */
	struct arc_import import;
	char *images_dir;
	/* what CRIU will check of this host: the root's mode, the external mounts' keys */
	struct images_root_facts facts;
	char *work_dir;
	char *bundle;
	char *config_json;
	size_t config_len;
	struct oci_config *config;
	char *rootfs;	    /* the container's rootfs, as the bundle says */
	char *rootfs_mount; /* the overlay this call mounted (whatever the bundle ended up saying) */
	char *runtime;
	char *netns_path;
	bool netns_created;
	/* the bundle came from spec.dump: CRIU runs in new namespaces (restore_criu_namespaces) */
	bool criu_in_new_namespaces;
	struct oci_config_dump *cdump;
	struct oci_bind_mount *bind_info;
	size_t n_bind_info;
	char **diff_paths; /* what rootfs-diff.tar wrote, to relabel */
	size_t n_diff_paths;
	char **deleted;
	size_t n_deleted;
	bool runtime_created; /* this call made the runtime's record (runc restore, crun's status) */
	char *crun_dir;	      /* crun's record directory, when this call wrote it */
	bool native_cgroup;   /* CRIU was asked to restore into the cgroups /stasis/<id> */
	pid_t native_pid;
	struct lazy_guard *lazy; /* a lazy restore's guard (native.c owns it) */
	pid_t pid;
	char *kept_log; /* a failed restore's log, moved out of the removed state dir */
};

/* Hands a warning to the caller's callback. */
void restore_warn(struct restore_ctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Claims r->o.id: refuses a name that runc or crun has (stasis never touches a container it did
 * not make), or that a live restore or container of stasis' has; cleans, with a warning, what a
 * dead restore of this name left (state dir marked for it, record); then writes the ownership
 * record (create-only: the claim) and creates or adopts the state dir with its marker.
 */
int restore_ctx_claim(struct restore_ctx *r, struct stasis_error **err);
/* Rewrites the ownership record: the runtime chosen, and whether the restore has succeeded. */
int restore_ctx_save_owner(struct restore_ctx *r, bool restored, struct stasis_error **err);
/*
 * Undoes what this restore made, newest first: runtime record, process, mounts, its state dir
 * (removed, or the caller's emptied), the ownership record; CRIU's restore.log is kept (kept_log).
 */
void restore_ctx_rollback(struct restore_ctx *r);
/*
 * opts.runtime_owns, after success: the container is the runtime's alone, so stasis' state dir
 * and ownership record of it go (a failed restore's log of the name went already).
 */
void restore_ctx_hand_over(struct restore_ctx *r);
void restore_ctx_clear(struct restore_ctx *r);

struct lsm_decision;
/* The labels the container gets; relabels what the rootfs diff wrote when a mount context is set. */
int restore_decide_labels(struct restore_ctx *r, struct lsm_decision *d, struct stasis_error **err);

/* runc restore does the CRIU step, so runc owns the container. */
int restore_via_runc(struct stasis_ctx *ctx, struct restore_ctx *r, struct stasis_error **err);
/* How to reach opts.page_server: NULL plain TCP, else TLS as the options say (kept in r). */
const struct arc_tls *restore_page_server_tls(struct restore_ctx *r);
/* Our own CRIU RESTORE; then crun's status file (crun) or stasis' state record (none). */
int restore_native(struct stasis_ctx *ctx, struct restore_ctx *r, struct stasis_error **err);
/*
 * The page images an import left in the archive, unpacked after all (each chunk checked) for a
 * CRIU step that reads a directory; says why in one line.
 */
int restore_unpack_deferred(struct restore_ctx *r, const char *why, struct stasis_error **err);

#endif
