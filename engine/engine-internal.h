/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_ENGINE_INTERNAL_H
#define STASIS_ENGINE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>

#include "engine/rpc-client.h"
#include "include/stasis.h"

#define STASIS_DEFAULT_TIMEOUT_MS (10u * 60u * 1000u)
#define STASIS_LOG_LEVEL 4
/* stasis' own per-container state (restored containers: bundle, rootfs, state.json) */
#define STASIS_STATE_ROOT "/run/stasis"
/* The record of a container stasis restored without a runtime (malloc'ed path). */
#define stasis_state_record(id) xasprintf(STASIS_STATE_ROOT "/%s/state.json", (id))

struct stasis_ctx {
	char *criu_path;
	unsigned int timeout_ms;
	bool have_info;
	struct stasis_criu_info info;
};

/*
 * Turns a CRIU reply with success=false into an error: "<what>: <cause>", with cr_errno,
 * cr_errmsg, the log path and its "Error (" lines.  Returns a negative errno.
 */
int criu_fail(struct stasis_error **err, const char *what, const struct rpc_result *res,
	      const char *log_path);

/* The "Error (" lines of a CRIU log (at most max), NULL-terminated; NULL when none or unreadable. */
char **criu_log_errors(const char *log_path, size_t max);

/*
 * Copies a caller's option struct as far as its `size` says (the struct it was compiled against);
 * fields it does not know about stay zero, which means their defaults.
 */
void opts_copy(void *dst, size_t dst_size, const void *src, size_t src_size);

/* Formats a warning and hands it to the caller's callback (when there is one). */
void warn_to(void (*fn)(const char *msg, void *data), void *data, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Fails with -EOPNOTSUPP when CRIU cannot track memory on this kernel (pre-dump is impossible). */
int criu_require_mem_track(struct stasis_ctx *ctx, struct stasis_error **err);

/* Opens a directory for CRIU (images or work dir), creating it when create is set. */
int criu_open_dir(const char *path, bool create, int *ret_fd, struct stasis_error **err);

/*
 * Waits up to timeout_ms for pid to exit (a pidfd polls readable then, reaped or not): 0, also
 * when there is no such process; -ETIMEDOUT; or -errno when it cannot be watched.
 */
int pid_wait_exit(pid_t pid, int timeout_ms);

#endif
