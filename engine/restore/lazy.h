/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A lazy restore's guard (lazy.c): starts `criu lazy-pages` before CRIU's restore, holds every
 * task's userfaultfd so that no task can run on zeros, and kills the container if what serves its
 * memory ends before every page is in.  <state_dir>/lazy-pages says how it stands.
 */
#ifndef STASIS_ENGINE_RESTORE_LAZY_H
#define STASIS_ENGINE_RESTORE_LAZY_H

#include <stddef.h>
#include <sys/types.h>

#include "common/cleanup.h"

struct arc_deferred;
struct lazy_guard;
struct restore_ctx;
struct stasis_ctx;
struct stasis_error;

/* the page images a guard serves from the archive (deferred outlives the guard's start) */
struct lazy_source {
	const char *archive_path;
	const struct arc_deferred *deferred;
	size_t n_deferred;
	const char *remote, *token; /* archive_path replicates the archive served there (or NULL) */
	const struct arc_tls *tls;  /* how to reach remote (NULL: plain TCP) */
};

/*
 * Forks the guard, which writes the pages CRIU restores itself (with src) and starts the daemon on
 * r's images and work dir; returns at once (lazy_guard_ready waits for it).
 * With src the guard serves the pages from the archive to the daemon (`criu lazy-pages
 * --page-server`, on a socketpair the daemon inherits); without, the daemon reads r's page images.
 */
int lazy_guard_start(struct stasis_ctx *ctx, struct restore_ctx *r, const struct lazy_source *src,
		     struct lazy_guard **ret, struct stasis_error **err);
/*
 * Through runc (r->runtime), the CRIU_CONFIG_FILE runc's CRIU must get: its action script asks
 * the guard for the hold at post-restore, as the restore itself does natively.  NULL otherwise.
 */
const char *lazy_guard_criu_config(const struct lazy_guard *g);
/*
 * A lazy restore's pages: served from the archive when each page image can be read at random
 * (*ret filled); else unpacked for criu lazy-pages to read, with a warning (*ret left empty).
 */
int lazy_prepare(struct restore_ctx *r, struct lazy_source *ret, struct stasis_error **err);
/*
 * Waits until the guard's daemon listens (and the pages CRIU restores itself are written): before
 * CRIU's request, since CRIU connects to the daemon before its first notification.
 */
int lazy_guard_ready(struct lazy_guard *g, struct stasis_error **err);
/* At CRIU's post-restore notification: the guard takes the live tasks' userfaultfds. */
int lazy_guard_hold(struct lazy_guard *g, size_t live_tasks, struct stasis_error **err);
/*
 * The container runs as pid: the guard and the daemon join its cgroups, and watch it from now on,
 * on their own.  *ret_warning: why they could not join (malloc'ed; NULL when they did).
 */
int lazy_guard_running(struct lazy_guard *g, pid_t pid, char **ret_warning, struct stasis_error **err);
/* Before lazy_guard_running: the restore failed, and the guard stops the daemon and leaves. */
struct lazy_guard *lazy_guard_free(struct lazy_guard *g);
DEFINE_CLEANUP(struct lazy_guard *, lazy_guard_free)

#endif
