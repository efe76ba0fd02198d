/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CRIU step of a restore done by `runc restore`, so that runc owns the container afterwards
 * and runc's state is the truth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"
#include "engine/restore/policy.h"
#include "engine/restore/lazy.h"
#include "engine/restore/restore-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "lsm/lsm.h"
#include "mounts/mounts.h"

static void push(const char ***argv, size_t *n, const char *a)
{
	*argv = xreallocarray(*argv, *n + 2, sizeof(**argv));
	(*argv)[(*n)++] = a;
	(*argv)[*n] = NULL;
}

static int read_pid(char *text, pid_t *ret)
{
	text[strcspn(text, " \n")] = '\0';
	return parse_pid(text, ret);
}

/*
 * runc maps the keys runc writes: each bind mount's destination, /dev/null for masked paths, the
 * host's cgroup hierarchies.  Images of another runtime (crun keys masked paths by their path) or
 * of another host's hierarchies would fail deep in CRIU's log: refused here, naming the key.
 */
static int check_runc_keys(const struct restore_ctx *r, struct stasis_error **err)
{
	cleanup_with(mnt_table_clear) struct mnt_table t = { 0 };
	int ret = mnt_table_load(0, &t, err);
	for (size_t i = 0; ret == 0 && i < r->facts.n_mounts; i++) {
		const char *key = r->facts.mounts[i].ext_key;
		/* a key that is a mountpoint of this host: one of its cgroup hierarchies, which runc maps */
		bool mapped = !key || !key[0] || strcmp(key, "/dev/null") == 0 || mnt_table_find(&t, key);
		for (size_t k = 0; !mapped && k < r->config->n_mounts; k++) {
			cleanup_free char *d = path_clean(r->config->mounts[k].destination);
			mapped = oci_mount_is_bind(&r->config->mounts[k]) && strcmp(d, key) == 0;
		}
		if (!mapped)
			ret = error_setx(
				err, EINVAL,
				"the images name the external mount `%s` (mounted at `%s`), which runc "
				"cannot map (it is not a key runc writes: another runtime made these "
				"images, or another host's cgroups); restore with opts.runtime crun or "
				"none, which map it",
				key, r->facts.mounts[i].mountpoint ? r->facts.mounts[i].mountpoint : "?");
	}
	return ret;
}

int restore_via_runc(struct stasis_ctx *ctx, struct restore_ctx *r, struct stasis_error **err)
{
	int key_check = check_runc_keys(r, err);
	if (key_check < 0)
		return key_check;
	cleanup_with(lsm_decision_clear) struct lsm_decision lsm = { 0 };
	int ret = restore_decide_labels(r, &lsm, err);
	if (ret < 0)
		return ret;
	/*
	 * Lazily: the guard and its daemon listen in the work dir before runc starts CRIU, and CRIU's
	 * own action script asks the guard for the hold at post-restore (runc answers CRIU's
	 * notifications itself)
	 */
	cleanup_with(lazy_guard_free) struct lazy_guard *lazy = NULL;
	struct lazy_source lazy_src = { 0 };
	if (r->o.lazy_pages &&
	    ((ret = lazy_prepare(r, &lazy_src, err)) < 0 ||
	     (ret = lazy_guard_start(ctx, r, lazy_src.archive_path ? &lazy_src : NULL, &lazy, err)) < 0 ||
	     (ret = lazy_guard_ready(lazy, err)) < 0))
		return ret;
	cleanup_free char *criu_env =
		lazy ? xasprintf("CRIU_CONFIG_FILE=%s", lazy_guard_criu_config(lazy)) : NULL;
	const char *env[] = { criu_env, NULL };
	cleanup_free const char **argv = NULL;
	size_t n = 0;
	push(&argv, &n, "runc"); /* runtime_runv_in runs the context's runc binary */
	if (r->o.runtime_root) {
		push(&argv, &n, "--root");
		push(&argv, &n, r->o.runtime_root);
	}
	push(&argv, &n, "--criu");
	push(&argv, &n, ctx->criu_path);
	push(&argv, &n, "restore");
	push(&argv, &n, "--detach");
	/*
	 * Images we unpacked are a scratch copy: CRIU punches out the pages it has restored, so memory
	 * (or disk) holds them once, not twice.  A caller's --image-path is never touched.
	 */
	if (r->o.import_path && !lazy)
		push(&argv, &n, "--auto-dedup");
	/* the daemon reads the page files after the restore: nothing may punch them out */
	if (lazy)
		push(&argv, &n, "--lazy-pages");
	push(&argv, &n, "--image-path");
	push(&argv, &n, r->images_dir);
	push(&argv, &n, "--work-path");
	push(&argv, &n, r->work_dir);
	push(&argv, &n, "--bundle");
	push(&argv, &n, r->bundle);
	cleanup_free char *pid_file =
		r->o.pid_file ? xstrdup(r->o.pid_file) : xasprintf("%s/" STATE_DIR_PID_FILE, r->state_dir);
	push(&argv, &n, "--pid-file");
	push(&argv, &n, pid_file);
	const struct {
		bool on;
		const char *flag;
	} flags[] = {
		{ r->o.tcp_established, "--tcp-established" },
		{ r->o.ext_unix_sk, "--ext-unix-sk" },
		{ r->o.shell_job, "--shell-job" },
		{ r->o.file_locks, "--file-locks" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (flags[i].on)
			push(&argv, &n, flags[i].flag);
	if (r->o.tcp_close)
		restore_warn(
			r,
			"opts.tcp_close: runc 1.1 has no such flag; connections are restored as the images "
			"hold them");
	if (r->o.manage_cgroups_mode) {
		push(&argv, &n, "--manage-cgroups-mode");
		push(&argv, &n, r->o.manage_cgroups_mode);
	}
	if (r->o.console_socket) {
		push(&argv, &n, "--console-socket");
		push(&argv, &n, r->o.console_socket);
	}
	if (lsm.lsm_profile) {
		push(&argv, &n, "--lsm-profile");
		push(&argv, &n, lsm.lsm_profile);
	}
	if (lsm.mount_context) {
		push(&argv, &n, "--lsm-mount-context");
		push(&argv, &n, lsm.mount_context);
	}
	push(&argv, &n, r->o.id);
	/* the claim checked this; a container runc got since then is someone else's, never ours to delete */
	cleanup_free char *runc_dir = NULL;
	if (runtime_knows("runc", r->o.runtime_root, r->o.id, &runc_dir))
		return error_setx(err, EEXIST, "runc has a container `%s` (`%s`) that stasis did not make",
				  r->o.id, runc_dir);
	if (ctx->log && ctx->log_level >= STASIS_LOG_DEBUG) {
		cleanup_free char *line = xstrdup(argv[0]);
		for (size_t i = 1; i < n; i++) {
			char *longer = xasprintf("%s %s", line, argv[i]);
			free(line);
			line = longer;
		}
		ctx_log(ctx, STASIS_LOG_DEBUG, "run: %s", line);
	}
	/* a bundle built from spec.dump: runc (and the CRIU it runs) in the container's namespaces */
	cleanup_close int netns_fd = -1;
	struct child_namespaces ns;
	if (r->criu_in_new_namespaces && (ret = restore_criu_namespaces(r, &ns, &netns_fd, err)) < 0)
		return ret;
	struct stasis_error *rerr = NULL;
	ret = runtime_runv_in(ctx, argv, r->criu_in_new_namespaces ? &ns : NULL,
			      r->o.inherit_stdio ? RUNTIME_CALLER_STDIO : 0, lazy ? env : NULL, NULL, &rerr);
	/*
	 * runc deletes what a failed restore made itself; a record it still has was made by this call
	 * (there was none before), unless runc says the id was taken under our feet.
	 */
	r->runtime_created = ret == 0 || (runtime_knows("runc", r->o.runtime_root, r->o.id, NULL) &&
					  !strstr(stasis_error_message(rerr), "already exists"));
	if (ret < 0) {
		/* CRIU's log says why better than runc does; runc's words stay as the fallback */
		cleanup_free char *log = xasprintf("%s/restore.log", r->work_dir);
		struct rpc_result res = { .cr_errmsg = (char *)stasis_error_message(rerr) };
		ret = access(log, R_OK) == 0 ? cr_fail(err, "runc restore", &res, log) : ret;
		return error_adopt(err, &rerr, ret);
	}
	cleanup_free char *text = NULL;
	if ((ret = read_file_capped(pid_file, 64, &text, NULL, err)) < 0 ||
	    (ret = read_pid(text, &r->pid)) < 0)
		return error_wrap(err, ret, "runc restored the container but its pid file `%s`", pid_file);
	if (lazy) {
		cleanup_free char *warning = NULL;
		if ((ret = lazy_guard_running(lazy, r->pid, &warning, err)) < 0)
			return ret;
		if (warning)
			restore_warn(r, "%s", warning);
	}
	return 0;
}
