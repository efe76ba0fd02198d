/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/: CRIU orchestration for OCI containers.  Its sub-folders, lowest first (an arrow goes
 * only downwards; scripts/lint-layers.sh checks that no two folders include each other):
 *   criu/        the RPC client, CRIU discovery and features, the log excerpt and explainer
 *   archive/     checkpoint archives: the member walker, import, verify, scan, rootfs diff, writer
 *   images/      CRIU's image files: the reader and the image set (archive, extracted or image dir)
 *   runtime/     runc/crun calls and state, stasis delete
 *   checkpoint/  stasis_checkpoint
 *   restore/     stasis_restore: its context and rollback, bundle, netns, hooks, runc and native
 *   doctor/      stasis doctor: host, engines configured to run stasis, container, log
 *   inspect/     stasis inspect and verify
 * This header and names.h are what every sub-folder shares: the context and the member names.
 */
#ifndef STASIS_ENGINE_INTERNAL_H
#define STASIS_ENGINE_INTERNAL_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>

#include "include/stasis.h"

#define STASIS_DEFAULT_TIMEOUT_MS (10u * 60u * 1000u)
#define STASIS_LOG_LEVEL 4
/* stasis' own per-container state (restored containers: bundle, rootfs, state.json) */
#define STASIS_STATE_ROOT "/run/stasis"
/* The record of a container stasis restored without a runtime (malloc'ed path). */
#define STASIS_STATE_RECORD "state.json"
#define stasis_state_record(id) xasprintf(STASIS_STATE_ROOT "/%s/" STASIS_STATE_RECORD, (id))
/*
 * Where the restore.log of a failed restore is kept, as <id>.restore.log: one per name, replaced by
 * the next failure and removed when that name restores or is deleted.  '@' is in no container id,
 * so no container's directory is this one.
 */
#define STASIS_FAILED_LOGS STASIS_STATE_ROOT "/@logs"
/* a lazy restore's state, one file a container, when the runtime owns it (no state dir of ours) */
#define STASIS_LAZY_STATUS STASIS_STATE_ROOT "/@lazy"

struct stasis_ctx {
	char *criu_path;
	unsigned int timeout_ms;
	void (*log)(enum stasis_log_level level, const char *msg, void *data);
	void *log_data;
	enum stasis_log_level log_level;
	char *runc_path, *crun_path; /* NULL: found in PATH by name */
	char **runtime_args;	     /* NULL-terminated, never NULL */
	bool have_version;	     /* info's version fields */
	bool have_info;		     /* and its features */
	int nftables_lock;	     /* whether CRIU locks with nftables here: 1, 0; -1 unknown yet */
	struct stasis_criu_info info;
	/* set by stasis_ctx_cancel(), from a signal handler too: once set, it stays set */
	volatile sig_atomic_t cancelled;
};

/*
 * Copies a caller's option struct (first field: size_t size) as far as its size says (the struct
 * it was compiled against); fields it does not know about stay zero, which means their defaults.
 * src NULL: all defaults.  -EINVAL when size is 0, -E2BIG when a newer caller set fields this
 * library does not know; what ("restore") starts the message.
 */
int opts_copy(void *dst, size_t dst_size, const void *src, const char *what, struct stasis_error **err);

/*
 * Fills a result struct the caller allocated (first field: size_t size, set by the caller to the
 * size it was compiled with) from src, as far as both know: 0, or -EINVAL when size is too small
 * to be a result struct at all.
 */
int result_fill(void *dst, const void *src, size_t src_size);

/* Formats a log message and hands it to the context's log callback, when it wants that level. */
void ctx_log(const struct stasis_ctx *ctx, enum stasis_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A caller's progress callback (opts.progress) and what it is told of (NULL fn: nothing). */
struct progress_sink {
	void (*fn)(const struct stasis_progress *p, void *data);
	void *data;
	enum stasis_phase phase;
};
/* Tells the sink that its phase is at done of total bytes. */
void progress_tell(const struct progress_sink *s, uint64_t done, uint64_t total);
/* The same, as an archive reader's or writer's struct arc_progress fn (data: the sink). */
void progress_tell_arc(uint64_t done, uint64_t total, void *sink);

/* Formats a warning and hands it to the caller's callback (when there is one). */
void warn_to(void (*fn)(const char *msg, void *data), void *data, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
