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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"
#include "engine/names.h"
#include "engine/criu/rpc.h"
#include "engine/restore/restore-internal.h"
#include "engine/runtime/runtime-internal.h"

/* how long the daemon may take to listen: it reads only inventory, pstree and ids first */
#define LAZY_LISTEN_MS 10000
/* the daemon reads the userfaultfds off its socket in its own time, after the restore sent them */
#define LAZY_UFFD_WAIT_MS 2000
#define LAZY_POLL_MS 10
/* what the kernel's anon inode of a userfaultfd reads as in /proc/PID/fd */
#define UFFD_LINK "anon_inode:[userfaultfd]"

enum lazy_msg_kind {
	LAZY_READY = 'R',    /* guard → restore: the daemon listens; value: the guard's pid */
	LAZY_ERROR = 'E',    /* guard → restore: text says what failed */
	LAZY_HOLD = 'H',     /* restore → guard: take the userfaultfds; value: how many tasks */
	LAZY_HELD = 'h',     /* guard → restore: value: how many it holds */
	LAZY_RUNNING = 'G',  /* restore → guard: value: the container's pid */
	LAZY_WATCHING = 'g', /* guard → restore: the status file says "fetching" */
};

struct lazy_msg {
	char kind;
	int32_t value;
	char text[480];
};

struct lazy_guard {
	int sk;
	pid_t pid;
};

/* what the guard and the watchdog know of the container (copied into them by fork) */
struct guard {
	char *status_path;
	char *id;
	bool native_cgroup;
	char *work_dir;
	pid_t daemon;
	int daemon_pidfd;
	int *uffds;
	size_t n_uffds;
	pid_t init;
	int init_pidfd;
};

static int msg_send(int sk, char kind, int32_t value, const char *text)
{
	struct lazy_msg m = { .kind = kind, .value = value };
	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	return send(sk, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

/* one message, within timeout_ms (-1: forever): 0; -ECONNRESET at EOF; -ETIMEDOUT */
static int msg_recv(int sk, int timeout_ms, struct lazy_msg *m)
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

static void status_write(const struct guard *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void status_write(const struct guard *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *line = NULL;
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (!line)
		return;
	cleanup_free char *text = xasprintf("%s\n", line);
	/* the container deleted meanwhile: its state dir is gone, and so is anyone to tell */
	(void)write_file_atomic(g->status_path, text, strlen(text), 0644, 0, NULL);
}

/* SIGKILL to the container: its tree through its own cgroup when the restore made it, else its init */
static void kill_container(const struct guard *g)
{
	if (g->init_pidfd >= 0)
		(void)pidfd_send_signal(g->init_pidfd, SIGKILL, NULL, 0);
	if (g->native_cgroup)
		(void)runtime_cgroup_kill(g->id, 5000);
}

/* what the daemon's log says went wrong, on one line */
static char *daemon_errors(const struct guard *g)
{
	cleanup_free char *log = xasprintf("%s/" STATE_DIR_LAZY_PAGES_LOG, g->work_dir);
	cleanup_strv char **lines = cr_log_errors(log, 3);
	char *text = xasprintf("see %s", log);
	for (size_t i = 0; lines && lines[i]; i++) {
		char *more = xasprintf("%s%s%s", i ? text : "", i ? "; " : "", lines[i]);
		free(text);
		text = more;
	}
	return text;
}

/*
 * Duplicates of the daemon's userfaultfds, until there are `expected` (one a live task): the
 * restore has sent them all, but the daemon takes them off its socket in its own time.
 */
static int hold_uffds(struct guard *g, size_t expected)
{
	uint64_t deadline = monotonic_us() + LAZY_UFFD_WAIT_MS * 1000ull;
	cleanup_free int *seen = NULL;
	size_t n_seen = 0;
	cleanup_free char *dir_path = xasprintf("/proc/%d/fd", (int)g->daemon);
	for (;;) {
		cleanup_closedir DIR *dir = opendir(dir_path);
		if (!dir)
			return -errno;
		struct dirent *e;
		while ((e = readdir(dir))) {
			char *end;
			long fd = strtol(e->d_name, &end, 10);
			if (*end || fd < 0)
				continue;
			bool known = false;
			for (size_t i = 0; i < n_seen && !known; i++)
				known = seen[i] == (int)fd;
			char link[64];
			ssize_t len = readlinkat(dirfd(dir), e->d_name, link, sizeof(link) - 1);
			if (known || len < 0)
				continue;
			link[len] = '\0';
			if (strcmp(link, UFFD_LINK) != 0)
				continue;
			int dup = pidfd_getfd(g->daemon_pidfd, (int)fd, 0);
			if (dup < 0)
				return -errno;
			seen = xgrow(seen, n_seen, sizeof(*seen));
			seen[n_seen++] = (int)fd;
			g->uffds = xgrow(g->uffds, g->n_uffds, sizeof(*g->uffds));
			g->uffds[g->n_uffds++] = dup;
		}
		if (g->n_uffds >= expected)
			return 0;
		if (monotonic_us() > deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ 0, LAZY_POLL_MS * 1000000L }, NULL);
	}
}

/* the daemon's end: 0 when it brought every page in */
static int reap_daemon(struct guard *g, int *ret_status)
{
	int status = 0;
	while (waitpid(g->daemon, &status, 0) < 0 && errno == EINTR)
		;
	*ret_status = status;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void stop_daemon(struct guard *g)
{
	int status;
	kill(g->daemon, SIGKILL);
	(void)reap_daemon(g, &status);
}

/* The watchdog: if the guard goes before saying it is done, the container goes too. */
static _Noreturn void watchdog_main(struct guard *g, pid_t guard_pid, int guard_pidfd, int done_fd)
{
	setsid();
	struct pollfd p[2] = { { .fd = guard_pidfd, .events = POLLIN }, { .fd = done_fd, .events = POLLIN } };
	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
	char done = 0;
	/* the guard writes its word before it exits: read what is there, whichever woke us */
	if (read(done_fd, &done, 1) == 1 && done == 'd')
		_exit(0);
	kill_container(g);
	kill(g->daemon, SIGKILL);
	status_write(g,
		     "failed: the lazy-pages guard (pid %d) ended before every page was in; the container "
		     "was killed",
		     (int)guard_pid);
	_exit(1);
}

/* The guard, once the container runs: until every page is in, or the container or the daemon ends. */
static _Noreturn void guard_watch(struct guard *g, int sk)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		kill_container(g);
		stop_daemon(g);
		status_write(g,
			     "failed: the guard could not start its watchdog (%s); the container was killed",
			     strerror(errno));
		_exit(1);
	}
	pid_t self = getpid();
	int self_pidfd = pidfd_open(self, 0);
	pid_t w = self_pidfd < 0 ? -1 : fork();
	if (w == 0) {
		close(pipefd[1]);
		watchdog_main(g, self, self_pidfd, pipefd[0]);
	}
	if (w < 0) {
		kill_container(g);
		stop_daemon(g);
		status_write(g,
			     "failed: the guard could not start its watchdog (%s); the container was killed",
			     strerror(errno));
		_exit(1);
	}
	close(pipefd[0]);
	status_write(g, "fetching: guard %d, watchdog %d, criu lazy-pages %d", (int)self, (int)w,
		     (int)g->daemon);
	/* the restore returns once the status says so: whoever reads it next sees this or later */
	msg_send(sk, LAZY_WATCHING, 0, NULL);
	close(sk);
	struct pollfd p[2] = { { .fd = g->daemon_pidfd, .events = POLLIN },
			       { .fd = g->init_pidfd, .events = POLLIN } };
	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
	int code = 0, status;
	if (p[0].revents) {
		if (reap_daemon(g, &status) == 0) {
			status_write(g, "complete");
		} else {
			kill_container(g);
			cleanup_free char *why = daemon_errors(g);
			status_write(
				g,
				"failed: criu lazy-pages %s %d before every page was in; the container was "
				"killed (%s)",
				WIFSIGNALED(status) ? "was killed by signal" : "exited with",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), why);
			code = 1;
		}
	} else {
		stop_daemon(g);
		status_write(g, "stopped: the container exited before every page was in");
	}
	(void)!write(pipefd[1], "d", 1);
	cleanup_free char *sock = xasprintf("%s/" CRIU_LAZY_PAGES_SOCKET, g->work_dir);
	(void)unlink(sock);
	_exit(code);
}

/* The daemon listening: lazy-pages.socket in the work dir, where the restore connects. */
static int wait_listening(struct guard *g, char *why, size_t why_len)
{
	cleanup_free char *sock = xasprintf("%s/" CRIU_LAZY_PAGES_SOCKET, g->work_dir);
	uint64_t deadline = monotonic_us() + LAZY_LISTEN_MS * 1000ull;
	for (;;) {
		struct stat st;
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		struct pollfd p = { .fd = g->daemon_pidfd, .events = POLLIN };
		if (poll(&p, 1, LAZY_POLL_MS) > 0) {
			int status;
			(void)reap_daemon(g, &status);
			cleanup_free char *errs = daemon_errors(g);
			snprintf(why, why_len, "criu lazy-pages ended before it listened (%s)", errs);
			return -ECHILD;
		}
		if (monotonic_us() > deadline) {
			stop_daemon(g);
			snprintf(why, why_len, "criu lazy-pages did not listen within %d ms", LAZY_LISTEN_MS);
			return -ETIMEDOUT;
		}
	}
}

static _Noreturn void guard_main(struct guard *g, int sk, const char *criu_path, const char *images_dir)
{
	setsid();
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* nothing of the caller's stays open here: a caller reading our stdout would wait for us */
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	if (dup2(sk, 3) < 0)
		_exit(1);
	sk = 3;
	syscall(SYS_close_range, 4u, ~0u, 0u);
	char why[400];
	cleanup_strv char **argv = NULL;
	cleanup_free char *sock = xasprintf("%s/" CRIU_LAZY_PAGES_SOCKET, g->work_dir);
	(void)unlink(sock);
	rpc_lazy_daemon_argv(criu_path, images_dir, g->work_dir, STATE_DIR_LAZY_PAGES_LOG, STASIS_LOG_LEVEL,
			     &argv);
	cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
	if (rpc_cli_spawn(criu_path, argv, NULL, 0, NULL, &g->daemon, &g->daemon_pidfd, &e) < 0 ||
	    g->daemon_pidfd < 0) {
		msg_send(sk, LAZY_ERROR, 0, e ? stasis_error_message(e) : "no pidfd for criu lazy-pages");
		_exit(1);
	}
	if (wait_listening(g, why, sizeof(why)) < 0) {
		msg_send(sk, LAZY_ERROR, 0, why);
		_exit(1);
	}
	msg_send(sk, LAZY_READY, (int32_t)getpid(), NULL);
	struct lazy_msg m;
	while (msg_recv(sk, -1, &m) == 0) {
		if (m.kind == LAZY_HOLD) {
			int r = hold_uffds(g, (size_t)m.value);
			if (r < 0)
				snprintf(why, sizeof(why),
					 "the guard holds %zu of the %d tasks' userfaultfds of criu "
					 "lazy-pages: %s",
					 g->n_uffds, (int)m.value, strerror(-r));
			msg_send(sk, r < 0 ? LAZY_ERROR : LAZY_HELD, (int32_t)g->n_uffds, r < 0 ? why : NULL);
		} else if (m.kind == LAZY_RUNNING) {
			g->init = (pid_t)m.value;
			g->init_pidfd = pidfd_open(g->init, 0);
			guard_watch(g, sk);
		}
	}
	/* the restore failed or went: CRIU has undone what it made, and the daemon has no one to serve */
	stop_daemon(g);
	(void)unlink(sock);
	_exit(1);
}

int lazy_guard_start(struct stasis_ctx *ctx, struct restore_ctx *r, struct lazy_guard **ret,
		     struct stasis_error **err)
{
	int sks[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sks) < 0)
		return error_set(err, errno, "socketpair for the lazy-pages guard");
	cleanup_close int ours = sks[0], theirs = sks[1];
	/* beside stasis' state record, whatever the state dir: where `stasis` looks for the container */
	cleanup_free char *record = stasis_state_record(r->o.id);
	cleanup_free char *record_dir = xstrndup(record, (size_t)(strrchr(record, '/') - record));
	int rc = mkdir_p(record_dir, 0700, err);
	if (rc < 0)
		return rc;
	struct guard g = {
		.status_path = xasprintf("%s/" STATE_DIR_LAZY_PAGES, record_dir),
		.id = xstrdup(r->o.id),
		.native_cgroup = r->native_cgroup,
		.work_dir = xstrdup(r->work_dir),
		.daemon = -1,
		.daemon_pidfd = -1,
		.init = -1,
		.init_pidfd = -1,
	};
	(void)unlink(g.status_path);
	/* forked twice: the guard outlives this call, and no caller of ours has to reap it */
	pid_t mid = fork();
	if (mid == 0) {
		if (fork() == 0)
			guard_main(&g, theirs, ctx->criu_path, r->images_dir);
		_exit(0);
	}
	int fork_errno = errno;
	free(g.status_path);
	free(g.id);
	free(g.work_dir);
	if (mid < 0)
		return error_set(err, fork_errno, "fork the lazy-pages guard");
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	closep(&theirs);
	struct lazy_msg m;
	rc = msg_recv(ours, LAZY_LISTEN_MS + 2000, &m);
	if (rc < 0)
		return error_set(err, -rc, "the lazy-pages guard did not start");
	if (m.kind != LAZY_READY)
		return error_setx(err, EPROTO, "lazy restore: %s", m.text);
	struct lazy_guard *lg = xzalloc(sizeof(*lg));
	lg->sk = TAKE_FD(ours);
	lg->pid = (pid_t)m.value;
	*ret = lg;
	return 0;
}

int lazy_guard_hold(struct lazy_guard *lg, size_t live_tasks, struct stasis_error **err)
{
	struct lazy_msg m;
	int rc = msg_send(lg->sk, LAZY_HOLD, (int32_t)live_tasks, NULL);
	if (rc == 0)
		rc = msg_recv(lg->sk, LAZY_UFFD_WAIT_MS + 2000, &m);
	if (rc < 0)
		return error_set(err, -rc, "lazy restore: the guard (pid %d) did not answer", (int)lg->pid);
	if (m.kind != LAZY_HELD)
		return error_setx(err, EPROTO, "lazy restore: %s", m.text);
	return 0;
}

int lazy_guard_running(struct lazy_guard *lg, pid_t pid, struct stasis_error **err)
{
	struct lazy_msg m;
	int rc = msg_send(lg->sk, LAZY_RUNNING, (int32_t)pid, NULL);
	if (rc == 0)
		rc = msg_recv(lg->sk, LAZY_UFFD_WAIT_MS, &m);
	if (rc == 0 && m.kind != LAZY_WATCHING)
		rc = -EPROTO;
	if (rc < 0)
		return error_set(err, -rc, "lazy restore: the guard (pid %d) does not watch the container",
				 (int)lg->pid);
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
	free(lg);
	return NULL;
}
