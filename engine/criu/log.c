/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"
#include "engine/criu/explain.h"

char **cr_log_errors(const char *log_path, size_t max)
{
	if (!log_path)
		return NULL;
	cleanup_fclose FILE *f = fopen(log_path, "re");
	if (!f)
		return NULL;
	char **lines = NULL;
	size_t n = 0;
	cleanup_free char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (!strstr(line, "Error (") && !strstr(line, "Error:"))
			continue;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		/* printed on runs that succeed too: never a line that matters */
		if (explain_line_benign(line))
			continue;
		if (n == max) {
			/* keep the last ones: the first error is usually the cause, the last the summary */
			free(lines[max - 1]);
			lines[max - 1] = xstrdup(line);
			continue;
		}
		strv_push(&lines, &n, xstrdup(line));
	}
	return lines;
}

int cr_fail(struct stasis_error **err, const char *what, const struct rpc_result *res, const char *log_path)
{
	char **lines = cr_log_errors(log_path, 20);
	/* the explainer reads the error lines and CRIU's own message */
	cleanup_free char *joined = strv_join(lines, "\n");
	cleanup_free char *text =
		xasprintf("%s%s%s", res->cr_errmsg ? res->cr_errmsg : "", lines ? "\n" : "", joined);
	/*
	 * the headline is the line that names the cause: the explainer's primary finding when it
	 * knows one (CRIU may log a consequence first), else the decisive error line (the first
	 * that is neither benign nor a consequence of an earlier one)
	 */
	struct explain_finding *found = NULL;
	size_t n_found = 0;
	explain_text(text, &found, &n_found);
	const struct explain_finding *primary = explain_primary(found, n_found);
	const char *cause_line = primary && !primary->secondary ? primary->line : NULL;
	if (!cause_line && lines)
		cause_line = explain_decisive_line((const char *const *)lines, strv_length(lines));
	/* "(00.01) Error (criu/x.c:12): text" -> "text" */
	const char *cause =
		cause_line && strstr(cause_line, "): ") ? strstr(cause_line, "): ") + 3 : cause_line;
	/* cr_errmsg is CRIU's first error: the benign RLIMIT_NOFILE one on most hosts */
	if (!cause && res->cr_errmsg && !explain_line_benign(res->cr_errmsg))
		cause = res->cr_errmsg;
	int errnum = res->cr_errno > 0 ? res->cr_errno : EIO;
	cleanup_free char *where = log_path ? xasprintf(" (log `%s`)", log_path) : xstrdup("");
	int r = cause ? error_setx(err, errnum, "%s: CRIU: %s%s", what, cause, where)
		      : error_setx(err, errnum, "%s: CRIU failed%s", what, where);
	if (err && *err && !(*err)->hint)
		error_set_hint(err, explain_hint(text));
	explain_findings_free(found, n_found);
	if (err && *err && !(*err)->criu_log && !(*err)->criu_lines) {
		(*err)->criu_errno = res->cr_errno;
		(*err)->criu_errmsg = res->cr_errmsg ? xstrdup(res->cr_errmsg) : NULL;
		(*err)->criu_log = log_path ? xstrdup(log_path) : NULL;
		(*err)->criu_lines = lines;
		lines = NULL;
	}
	strv_freep(&lines);
	return r;
}

int cr_open_dir(const char *path, bool create, int *ret_fd, struct stasis_error **err)
{
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return error_set(err, errno, "create `%s`", path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open `%s`", path);
	*ret_fd = fd;
	return 0;
}

int cr_run(struct stasis_ctx *ctx, enum rpc_req type, const struct rpc_opts *opts,
	   const struct rpc_notify_table *notify, struct rpc_result *ret, struct stasis_error **err)
{
	ctx_log(ctx, STASIS_LOG_DEBUG, "CRIU %s: `%s swrk`, images in fd %d, log %s", rpc_req_name(type),
		ctx->criu_path, opts ? opts->images_dir_fd : -1,
		opts && opts->log_file ? opts->log_file : "-");
	int r = rpc_run(ctx->criu_path, ctx->timeout_ms, &ctx->cancelled, type, opts, notify, ret, err);
	if (r < 0)
		ctx_log(ctx, STASIS_LOG_INFO, "CRIU %s: no reply: %s", rpc_req_name(type), strerror(-r));
	else
		ctx_log(ctx, STASIS_LOG_INFO, "CRIU %s: %s", rpc_req_name(type),
			ret->success ? "done" : "failed");
	return r;
}
