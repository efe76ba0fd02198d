/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A lazy restore (opts.lazy_pages).  CRIU restores everything but the tasks' private memory and
 * hands each task's userfaultfd to `criu lazy-pages`, which copies a page in when a task touches
 * it, pushes the rest in the background, and exits 0 once every page is in (criu-stream.md B).
 *
 * The tasks run before their memory is back, so what serves it must not go silently: when the
 * last reference to a task's userfaultfd closes, the pages still missing read as zeros and the
 * container runs on corrupted memory (measured here, criu-stream.md B.2).  So a guard process
 * holds a duplicate of every task's userfaultfd, taken from the daemon with pidfd_getfd(2).  If
 * the daemon dies, a task touching a missing page blocks instead, and the guard kills the
 * container and writes why.  A watchdog holding the same duplicates does that if the guard goes.
 *
 * The processes: the restoring process forks (twice, so that nobody has to reap it) the guard, in
 * a session of its own; the guard starts the daemon as its child, and forks the watchdog once the
 * container runs.  The restore and the guard talk over a seqpacket socketpair: the guard says
 * READY once the daemon listens; the restore asks it to HOLD the userfaultfds at CRIU's
 * post-restore notification (every task has sent its own, none runs yet), then says RUNNING with
 * the container's pid, or closes the socket when the restore failed (the guard then stops the
 * daemon and leaves).
 */
#include "engine/restore/lazy.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/restore/lazy-guard.h"
#include "engine/restore/lazy-pages.h"
#include "engine/restore/restore-internal.h"
#include "engine/runtime/runtime-internal.h"

struct lazy_guard {
	int sk;
	pid_t pid;
	char *criu_config; /* through runc: CRIU_CONFIG_FILE, naming the action script */
};

int lazy_msg_send(int sk, char kind, int32_t value, const char *text)
{
	struct lazy_msg m = { .kind = kind, .value = value };
	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	return send(sk, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

int lazy_msg_recv(int sk, int timeout_ms, struct lazy_msg *m)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	int n = poll(&p, 1, timeout_ms);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	ssize_t got = recv(sk, m, sizeof(*m), 0);
	if (got < 0)
		return -errno;
	if (got != (ssize_t)sizeof(*m))
		return -ECONNRESET;
	m->text[sizeof(m->text) - 1] = '\0';
	return 0;
}

/*
 * A lazy restore's pages: served from the archive when each page image can be read at random (a
 * chunk a frame, checked by the manifest: the guard then writes the pages CRIU's restore reads
 * itself, sparse); else unpacked for criu lazy-pages to read, with a warning.
 */
int lazy_prepare(struct restore_ctx *r, struct lazy_source *ret, struct stasis_error **err)
{
	if (!r->import.n_deferred)
		return 0;
	cleanup_with(lazy_pages_free) struct lazy_pages *pages = NULL;
	cleanup_with(stasis_error_free) struct stasis_error *why = NULL;
	/* whether the guard can serve them (it connects to a page server itself, not this check) */
	int rc = lazy_pages_open(r->images_dir, r->o.import_path, r->import.deferred, r->import.n_deferred,
				 NULL, NULL, NULL, &pages, &why);
	if (rc == -EOPNOTSUPP && r->o.page_server)
		return error_setx(err, EOPNOTSUPP,
				  "the archive page server `%s` serves cannot be read at random: %s",
				  r->o.page_server, stasis_error_message(why));
	if (rc == -EOPNOTSUPP) {
		cleanup_free char *text =
			xasprintf("criu lazy-pages reads them from files: %s", stasis_error_message(why));
		return restore_unpack_deferred(r, text, err);
	}
	if (rc < 0)
		return error_adopt(err, &why, rc);
	*ret = (struct lazy_source){ .archive_path = r->o.import_path,
				     .deferred = r->import.deferred,
				     .n_deferred = r->import.n_deferred,
				     .remote = r->o.page_server,
				     .token = r->o.page_server_token,
				     .tls = restore_page_server_tls(r) };
	return 0;
}

/*
 * Through runc, which answers CRIU's notifications itself: CRIU's own action script (a config file
 * in CRIU_CONFIG_FILE names it) asks the guard for the hold at post-restore, through two FIFOs in
 * the work dir, and fails the restore unless the guard says it holds every userfaultfd.  Returns
 * the config's path (malloc'ed).
 */
static int runc_hold_hook(const char *work_dir, char **ret_config, struct stasis_error **err)
{
	if (strchr(work_dir, '\'') || strchr(work_dir, '\n'))
		return error_setx(err, EINVAL,
				  "a lazy restore through runc: the work dir `%s` has a quote or a newline, "
				  "which its CRIU action script cannot name",
				  work_dir);
	cleanup_free char *req = xasprintf("%s/" STATE_DIR_LAZY_HOLD_REQ, work_dir);
	cleanup_free char *ans = xasprintf("%s/" STATE_DIR_LAZY_HOLD_ANS, work_dir);
	cleanup_free char *script = xasprintf("%s/" STATE_DIR_LAZY_HOLD_SCRIPT, work_dir);
	cleanup_free char *config = xasprintf("%s/" STATE_DIR_LAZY_CRIU_CONF, work_dir);
	(void)unlink(req);
	(void)unlink(ans);
	if (mkfifo(req, 0600) < 0 || mkfifo(ans, 0600) < 0)
		return error_set(err, errno, "a lazy restore through runc: make the FIFOs in `%s`", work_dir);
	/* the guard's answer within 15 s, or the restore fails: a dead guard must not hang CRIU */
	cleanup_free char *text = xasprintf(
		"#!/bin/sh\n"
		"# stasis: a lazy restore through runc.  At CRIU's post-restore, before any task runs, the\n"
		"# lazy-pages guard takes every task's userfaultfd; unless it says it does, the restore "
		"fails.\n"
		"[ \"$CRTOOLS_SCRIPT_ACTION\" = post-restore ] || exit 0\n"
		"echo hold > '%s' || exit 1\n"
		"answer=$(timeout 15 head -n 1 '%s')\n"
		"[ \"$answer\" = held ] && exit 0\n"
		"echo \"stasis: ${answer:-the lazy-pages guard did not answer}\" >&2\n"
		"exit 1\n",
		req, ans);
	cleanup_free char *conf = xasprintf("action-script %s\n", script);
	int rc = write_file_atomic(script, text, strlen(text), 0700, 0, err);
	if (rc < 0 || (rc = write_file_atomic(config, conf, strlen(conf), 0600, 0, err)) < 0)
		return rc;
	*ret_config = TAKE_PTR(config);
	return 0;
}

int lazy_guard_start(struct stasis_ctx *ctx, struct restore_ctx *r, const struct lazy_source *src,
		     struct lazy_guard **ret, struct stasis_error **err)
{
	cleanup_free char *criu_config = NULL;
	bool via_runc = strcmp(r->runtime, "runc") == 0;
	if (via_runc) {
		int rc = runc_hold_hook(r->work_dir, &criu_config, err);
		if (rc < 0)
			return rc;
	}
	int sks[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sks) < 0)
		return error_set(err, errno, "socketpair for the lazy-pages guard");
	cleanup_close int ours = sks[0], theirs = sks[1];
	/*
	 * Beside stasis' state record, whatever the state dir: where `stasis` looks for the container.
	 * A container the runtime owns keeps nothing of stasis' there: its line has a place of its own.
	 */
	char *status_path = runtime_lazy_status_path(r->o.id, r->o.runtime_owns);
	cleanup_free char *status_dir =
		xstrndup(status_path, (size_t)(strrchr(status_path, '/') - status_path));
	int rc = mkdir_p(status_dir, 0700, err);
	if (rc < 0) {
		free(status_path);
		return rc;
	}
	struct guard g = {
		.status_path = status_path,
		.id = xstrdup(r->o.id),
		.native_cgroup = r->native_cgroup,
		.work_dir = xstrdup(r->work_dir),
		.daemon = -1,
		.daemon_pidfd = -1,
		.init = -1,
		.init_pidfd = -1,
		.watch_sk = -1,
		.hold_req = via_runc ? xasprintf("%s/" STATE_DIR_LAZY_HOLD_REQ, r->work_dir) : NULL,
		.hold_ans = via_runc ? xasprintf("%s/" STATE_DIR_LAZY_HOLD_ANS, r->work_dir) : NULL,
		.hold_tasks = r->facts.live_tasks,
	};
	(void)unlink(g.status_path);
	/* forked twice: the guard outlives this call, and no caller of ours has to reap it */
	pid_t mid = fork();
	if (mid == 0) {
		if (fork() == 0)
			lazy_guard_main(&g, theirs, ctx->criu_path, r->images_dir, src);
		_exit(0);
	}
	int fork_errno = errno;
	free(g.status_path);
	free(g.id);
	free(g.work_dir);
	free(g.hold_req);
	free(g.hold_ans);
	if (mid < 0)
		return error_set(err, fork_errno, "fork the lazy-pages guard");
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	closep(&theirs);
	struct lazy_guard *lg = xzalloc(sizeof(*lg));
	lg->sk = TAKE_FD(ours);
	lg->criu_config = TAKE_PTR(criu_config);
	*ret = lg;
	return 0;
}

int lazy_guard_ready(struct lazy_guard *lg, struct stasis_error **err)
{
	if (lg->pid > 0)
		return 0;
	struct lazy_msg m;
	int rc = lazy_msg_recv(lg->sk, LAZY_LISTEN_MS + 2000, &m);
	if (rc < 0)
		return error_set(err, -rc, "the lazy-pages guard did not start");
	if (m.kind != LAZY_READY)
		return error_setx(err, EPROTO, "lazy restore: %s", m.text);
	lg->pid = (pid_t)m.value;
	return 0;
}

int lazy_guard_hold(struct lazy_guard *lg, size_t live_tasks, struct stasis_error **err)
{
	struct lazy_msg m;
	int rc = lazy_guard_ready(lg, err);
	if (rc < 0)
		return rc;
	rc = lazy_msg_send(lg->sk, LAZY_HOLD, (int32_t)live_tasks, NULL);
	if (rc == 0)
		rc = lazy_msg_recv(lg->sk, LAZY_UFFD_WAIT_MS + 2000, &m);
	if (rc < 0)
		return error_set(err, -rc, "lazy restore: the guard (pid %d) did not answer", (int)lg->pid);
	if (m.kind != LAZY_HELD)
		return error_setx(err, EPROTO, "lazy restore: %s", m.text);
	return 0;
}

int lazy_guard_running(struct lazy_guard *lg, pid_t pid, char **ret_warning, struct stasis_error **err)
{
	struct lazy_msg m;
	*ret_warning = NULL;
	int rc = lazy_msg_send(lg->sk, LAZY_RUNNING, (int32_t)pid, NULL);
	if (rc == 0)
		rc = lazy_msg_recv(lg->sk, LAZY_UFFD_WAIT_MS, &m);
	if (rc == 0 && m.kind != LAZY_WATCHING)
		rc = -EPROTO;
	if (rc < 0)
		return error_set(err, -rc, "lazy restore: the guard (pid %d) does not watch the container",
				 (int)lg->pid);
	if (m.text[0])
		*ret_warning = xstrdup(m.text);
	closep(&lg->sk);
	lg->sk = -1;
	return 0;
}

struct lazy_guard *lazy_guard_free(struct lazy_guard *lg)
{
	if (!lg)
		return NULL;
	/* before RUNNING, EOF tells the guard the restore failed */
	if (lg->sk >= 0)
		close(lg->sk);
	free(lg->criu_config);
	free(lg);
	return NULL;
}

const char *lazy_guard_criu_config(const struct lazy_guard *lg)
{
	return lg->criu_config;
}
