/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A lazy restore's guard process (see lazy.c for the whole): it starts `criu lazy-pages`, serves it
 * the pages from the archive, holds every task's userfaultfd (those of tasks forked later too),
 * joins the container's cgroups, forks the watchdog, and kills the container and says why when
 * what serves its memory ends before every page is in.
 */
#include "engine/restore/lazy-guard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/namespaces.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"
#include "engine/names.h"
#include "engine/criu/pageserver.h"
#include "engine/criu/rpc.h"
#include "engine/restore/lazy-pages.h"
#include "engine/restore/restore-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "engine/restore/lazy.h"

#define LAZY_POLL_MS 10
/* how often the guard looks whether the daemon listens yet: the restore waits on it, each ms counts */
#define LAZY_LISTEN_POLL_MS 2
/*
 * How often the guard looks for the userfaultfd of a task forked while pages come in: the window
 * in which the daemon's death would leave that task's missing pages reading as zeros.
 */
#define LAZY_FORK_SCAN_MS 20
#define LAZY_DAEMON_NICE 10
/* a reply the daemon takes nothing of for this long: the guard looks whether it, or the container, is gone */
#define LAZY_SEND_STALL_MS 200
/* the daemon ended with pages never asked for: how long the init may take to be seen gone */
#define LAZY_INIT_EXIT_MS 500
/* how long a daemon that left the page server has to end, for its status to be the reason given */
#define LAZY_DAEMON_END_MS 1000
/* what the kernel's anon inode of a userfaultfd reads as in /proc/PID/fd */
#define UFFD_LINK "anon_inode:[userfaultfd]"

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

/*
 * SIGKILL to the container: its tree through its own cgroup when the restore made it, else its
 * init.  The caller and the daemon leave the container's cgroups first: a cgroup's kill would take
 * them too, before the container's tasks maybe, and their cgroups could not go while they run.
 */
static void kill_container(const struct guard *g)
{
	runtime_cgroup_leave(getpid());
	if (g->daemon > 0)
		runtime_cgroup_leave(g->daemon);
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
	return lines ? strv_join(lines, "; ") : xasprintf("see %s", log);
}

/* whether our fd and the daemon's daemon_fd are one open file (kcmp(2)): fd numbers are reused */
static bool same_file(const struct guard *g, int ours, int daemon_fd)
{
	return syscall(SYS_kcmp, getpid(), g->daemon, KCMP_FILE, ours, daemon_fd) == 0;
}

/*
 * A duplicate of each userfaultfd the daemon holds that the guard does not hold yet: all of them
 * at first, then those of tasks the container forks while pages come in (the kernel hands the
 * daemon the child's with UFFD_EVENT_FORK, and would close it with the daemon).  Each new one is
 * also passed to the watchdog (watch_sk >= 0).  Returns how many it took, or -errno.
 */
static int take_uffds(struct guard *g, int watch_sk)
{
	cleanup_free char *dir_path = xasprintf("/proc/%d/fd", (int)g->daemon);
	cleanup_closedir DIR *dir = opendir(dir_path);
	if (!dir)
		return -errno;
	int taken = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		char link[64];
		ssize_t len = *end || fd < 0 ? -1 : readlinkat(dirfd(dir), e->d_name, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, UFFD_LINK) != 0)
			continue;
		/* one kcmp a descriptor, every scan: the one held under its number, if any */
		bool known = false;
		for (size_t i = 0; i < g->n_uffds; i++) {
			if (g->uffd_numbers[i] != (int)fd)
				continue;
			known = same_file(g, g->uffds[i], (int)fd);
			if (!known)
				g->uffd_numbers[i] = -1;
			break;
		}
		if (known)
			continue;
		int dup = pidfd_getfd(g->daemon_pidfd, (int)fd, 0);
		if (dup < 0)
			return -errno;
		g->uffds = xgrow(g->uffds, g->n_uffds, sizeof(*g->uffds));
		g->uffd_numbers = xgrow(g->uffd_numbers, g->n_uffds, sizeof(*g->uffd_numbers));
		g->uffd_numbers[g->n_uffds] = (int)fd;
		g->uffds[g->n_uffds++] = dup;
		taken++;
		if (watch_sk >= 0)
			(void)send_fd(watch_sk, dup);
	}
	return taken;
}

/*
 * Duplicates of the daemon's userfaultfds, until there are `expected` (one a live task): the
 * restore has sent them all, but the daemon takes them off its socket in its own time.
 */
static int hold_uffds(struct guard *g, size_t expected)
{
	uint64_t deadline = monotonic_us() + LAZY_UFFD_WAIT_MS * 1000ull;
	for (;;) {
		int r = take_uffds(g, -1);
		if (r < 0)
			return r;
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

/*
 * The watchdog: if the guard goes before saying it is done, the container goes too.  Meanwhile it
 * keeps the userfaultfds the guard passes it (of tasks forked since), never closing them.
 */
static _Noreturn void watchdog_main(struct guard *g, pid_t guard_pid, int guard_pidfd, int done_fd,
				    int watch_sk)
{
	setsid();
	struct pollfd p[3] = { { .fd = guard_pidfd, .events = POLLIN },
			       { .fd = done_fd, .events = POLLIN },
			       { .fd = watch_sk, .events = POLLIN } };
	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int held;
		if (p[2].revents && recv_fd(watch_sk, &held) < 0)
			p[2].fd = -1;
		if (p[0].revents || p[1].revents)
			break;
	}
	char done = 0;
	/* the guard writes its word before it exits: read what is there, whichever woke us */
	if (read(done_fd, &done, 1) == 1 && done == 'd') {
		runtime_cgroup_leave(getpid());
		_exit(0);
	}
	kill_container(g);
	kill(g->daemon, SIGKILL);
	status_write(g,
		     "failed: the lazy-pages guard (pid %d) ended before every page was in; the container "
		     "was killed",
		     (int)guard_pid);
	_exit(1);
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
		if (poll(&p, 1, LAZY_LISTEN_POLL_MS) > 0) {
			int status;
			(void)reap_daemon(g, &status);
			g->daemon = -1;
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

static int cmp_fd(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * The container runs: the watchdog starts, the status says so, the restore hears it (with why the
 * helpers stay outside the container's cgroups, if they must), and only then do the guard, the
 * daemon and the watchdog join those cgroups: a cgroup v1 move waits for an RCU grace period, some
 * 14 ms for the three here, which the restore need not wait for.  Not the container's pids cgroup:
 * the helpers' tasks must not take the container's.
 */
static int start_watching(struct guard *g, int sk, int *ret_done_fd)
{
	char warning[256] = "";
	cleanup_strv char **cgroups = NULL;
	int cg = runtime_cgroup_list(g->init, "pids", &cgroups);
	if (cg < 0)
		snprintf(warning, sizeof(warning),
			 "the lazy-pages helpers are not accounted to the container: its cgroups: %s",
			 strerror(-cg));
	int pipefd[2], watch[2];
	pid_t self = getpid();
	int self_pidfd = pidfd_open(self, 0);
	if (self_pidfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, watch) < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return -e;
	}
	pid_t w = fork();
	if (w == 0) {
		/*
		 * The userfaultfds, and what it watches: nothing else.  Holding the page server's
		 * connection would keep the daemon waiting on a dead guard.
		 */
		size_t n = 0;
		int *keep = xmalloc((g->n_uffds + 4) * sizeof(*keep));
		for (size_t i = 0; i < g->n_uffds; i++)
			keep[n++] = g->uffds[i];
		keep[n++] = self_pidfd;
		keep[n++] = pipefd[0];
		keep[n++] = g->init_pidfd;
		keep[n++] = watch[1];
		qsort(keep, n, sizeof(*keep), cmp_fd);
		close_fds_except(3, keep, n);
		watchdog_main(g, self, self_pidfd, pipefd[0], watch[1]);
	}
	int e = errno;
	close(pipefd[0]);
	close(self_pidfd);
	close(watch[1]);
	if (w < 0) {
		close(pipefd[1]);
		close(watch[0]);
		return -e;
	}
	g->watch_sk = watch[0];
	status_write(g, "fetching: container %d, guard %d, watchdog %d, criu lazy-pages %d", (int)g->init,
		     (int)self, (int)w, (int)g->daemon);
	/* the restore returns once the status says so: whoever reads it next sees this or later */
	lazy_msg_send(sk, LAZY_WATCHING, 0, warning[0] ? warning : NULL);
	*ret_done_fd = pipefd[1];
	if (cgroups) {
		pid_t helpers[] = { self, w, g->daemon };
		int r = 0;
		for (size_t i = 0; i < sizeof(helpers) / sizeof(*helpers) && r == 0; i++)
			r = helpers[i] > 0 ? runtime_cgroup_move(cgroups, helpers[i]) : 0;
		/* all or none: a half-joined helper would keep a cgroup from going */
		for (size_t i = 0; r < 0 && i < sizeof(helpers) / sizeof(*helpers); i++)
			if (helpers[i] > 0)
				runtime_cgroup_leave(helpers[i]);
	}
	return 0;
}

/* the guard's end: the watchdog hears that it need not act, the daemon's socket goes */
static _Noreturn void guard_exit(struct guard *g, int done_fd, int code)
{
	if (done_fd >= 0)
		(void)!write(done_fd, "d", 1);
	cleanup_free char *sock = xasprintf("%s/" CRIU_LAZY_PAGES_SOCKET, g->work_dir);
	(void)unlink(sock);
	/* not even as a zombie that this host's init is slow to reap: the cgroups may go at once */
	runtime_cgroup_leave(getpid());
	_exit(code);
}

/* a failure once the container runs: it is killed first, so that no task goes on past it */
static _Noreturn void guard_fail(struct guard *g, int done_fd, const char *why)
{
	kill_container(g);
	if (g->daemon > 0)
		stop_daemon(g);
	status_write(g, "failed: %s; the container was killed", why);
	guard_exit(g, done_fd, 1);
}

/* the container's init has exited (its pidfd readable), or does within wait_ms */
static bool init_gone(const struct guard *g, int wait_ms)
{
	struct pollfd p = { .fd = g->init_pidfd, .events = POLLIN };
	return g->init_pidfd >= 0 && poll(&p, 1, wait_ms) > 0;
}

/* the container exited before every page was in: nothing is wrong, the helpers end */
static _Noreturn void container_ended(struct guard *g, int done_fd)
{
	if (g->daemon > 0)
		stop_daemon(g);
	status_write(g, "stopped: the container exited before every page was in");
	guard_exit(g, done_fd, 0);
}

/* The daemon ended while the container runs: every page is in (it exits 0), or the container dies. */
static _Noreturn void daemon_ended(struct guard *g, int done_fd)
{
	int status;
	int r = reap_daemon(g, &status);
	g->daemon = -1;
	/*
	 * Its tasks gone, the daemon ends as well as when every page is in: which was it.  The init's
	 * pidfd is readable only once it has exited whole, which may come after the daemon saw its
	 * memory go: with pages never asked for, the init is given a moment.  (A task other than the
	 * init that exited early leaves pages unasked too: the init lives on, and that is complete.)
	 */
	bool unasked = g->pages && !lazy_pages_all_served(g->pages);
	if (init_gone(g, r == 0 && unasked ? LAZY_INIT_EXIT_MS : 0))
		container_ended(g, done_fd);
	if (r == 0) {
		if (g->pages)
			lazy_pages_done(g->pages);
		status_write(g, "complete");
		guard_exit(g, done_fd, 0);
	}
	char why[512];
	cleanup_free char *errs = daemon_errors(g);
	snprintf(why, sizeof(why), "criu lazy-pages %s %d before every page was in (%s)",
		 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), errs);
	guard_fail(g, done_fd, why);
}

enum { PFD_RESTORE, PFD_PAGES, PFD_DAEMON, PFD_INIT, PFD_HOLD, PFD_N };

/* the userfaultfds of the `tasks` live tasks held: 0, or -errno with why filled in */
static int hold_all(struct guard *g, size_t tasks, char *why, size_t why_len)
{
	int r = hold_uffds(g, tasks);
	if (r < 0)
		snprintf(why, why_len,
			 "the guard holds %zu of the %zu tasks' userfaultfds of criu lazy-pages: %s",
			 g->n_uffds, tasks, strerror(-r));
	return r;
}

/*
 * Through runc: CRIU's action script, at post-restore, wrote "hold" into the request FIFO and reads
 * the answer FIFO ("held", or why not: it fails the restore then).  It waits a while for a reader.
 */
static void on_hold_request(struct guard *g, int req_fd)
{
	char buf[64];
	ssize_t n = read(req_fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (!strstr(buf, "hold"))
		return;
	char why[512] = "held";
	(void)hold_all(g, g->hold_tasks, why, sizeof(why));
	cleanup_free char *line = xasprintf("%s\n", why);
	uint64_t deadline = monotonic_us() + LAZY_UFFD_WAIT_MS * 1000ull;
	for (;;) {
		/* ENXIO until the script opens its end */
		int fd = open(g->hold_ans, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			(void)write_all(fd, line, strlen(line));
			close(fd);
			return;
		}
		if (errno != ENXIO || monotonic_us() > deadline)
			return;
		nanosleep(&(struct timespec){ 0, 1000000L }, NULL);
	}
}

/* a message of the restore's: HOLD or RUNNING; its end before RUNNING is the restore's failure */
static void on_restore_msg(struct guard *g, int sk, bool *running, int *done_fd)
{
	char why[512];
	struct lazy_msg m;
	if (lazy_msg_recv(sk, 0, &m) < 0) {
		/* the restore failed or went: CRIU undid what it made, the daemon serves no one */
		if (g->daemon > 0)
			stop_daemon(g);
		guard_exit(g, -1, 1);
	}
	if (m.kind == LAZY_HOLD) {
		int r = hold_all(g, (size_t)m.value, why, sizeof(why));
		lazy_msg_send(sk, r < 0 ? LAZY_ERROR : LAZY_HELD, (int32_t)g->n_uffds, r < 0 ? why : NULL);
	} else if (m.kind == LAZY_RUNNING) {
		g->init = (pid_t)m.value;
		g->init_pidfd = pidfd_open(g->init, 0);
		int r = g->init_pidfd < 0 ? -errno : start_watching(g, sk, done_fd);
		if (r < 0) {
			snprintf(why, sizeof(why), "the guard cannot watch the container: %s", strerror(-r));
			guard_fail(g, -1, why);
		}
		*running = true;
		close(sk);
	}
}

/*
 * A reply the daemon took nothing of for LAZY_SEND_STALL_MS: the guard must not wait in it for a
 * daemon that will never read again (the container gone, the daemon gone): -ESRCH, -ECHILD; a
 * daemon merely slow is waited for.
 */
static int reply_stalled(void *data)
{
	const struct guard *g = data;
	struct pollfd p = { .fd = g->daemon_pidfd, .events = POLLIN };
	if (init_gone(g, 0))
		return -ESRCH;
	return g->daemon > 0 && poll(&p, 1, 0) > 0 ? -ECHILD : 0;
}

/* a request of the daemon's: 0 when served, 1 at its CLOSE (every page is in), -1 when it failed */
static int on_daemon_request(struct guard *g, int conn, struct lazy_pages *pages, struct stasis_error **err)
{
	struct ps_get get;
	const void *data;
	uint64_t n;
	int r = ps_lazy_next(conn, &get, err);
	if (r == 0)
		return 1;
	if (r < 0 || lazy_pages_get(pages, get.pid, get.vaddr, get.nr_pages, &data, &n, err) < 0 ||
	    ps_lazy_reply(conn, &get, n, data, reply_stalled, g, err) < 0)
		return -1;
	return 0;
}

_Noreturn void lazy_guard_main(struct guard *g, int sk, const char *criu_path, const char *images_dir,
			       const struct lazy_source *src)
{
	setsid();
	prctl(PR_SET_NAME, "stasis-lazy");
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* nothing of the caller's stays open here: a caller reading our stdout would wait for us */
	stdio_to_devnull();
	if (dup2(sk, 3) < 0)
		_exit(1);
	sk = 3;
	syscall(SYS_close_range, 4u, ~0u, 0u);
	char why[512];
	cleanup_with(lazy_pages_free) struct lazy_pages *pages = NULL;
	cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
	/*
	 * The page server's connection: a socketpair, the daemon's end inherited (`--ps-socket`).
	 * Nobody else can reach the container's memory through it, and a unix socket carries the
	 * pages with less work than loopback TCP (no segments, no softirq: 1 GiB came in sooner).
	 */
	int ps[2] = { -1, -1 };
	if (src && (lazy_pages_open(images_dir, src->archive_path, src->deferred, src->n_deferred,
				    src->remote, src->token, src->tls, &pages, &e) < 0 ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ps) < 0)) {
		snprintf(why, sizeof(why), "the page server's socketpair: %s", strerror(errno));
		lazy_msg_send(sk, LAZY_ERROR, 0, e ? stasis_error_message(e) : why);
		_exit(1);
	}
	g->pages = pages;
	cleanup_strv char **argv = NULL;
	cleanup_free char *sock = xasprintf("%s/" CRIU_LAZY_PAGES_SOCKET, g->work_dir);
	(void)unlink(sock);
	rpc_lazy_daemon_argv(criu_path, images_dir, g->work_dir, STATE_DIR_LAZY_PAGES_LOG, STASIS_LOG_LEVEL,
			     ps[1], &argv);
	if (rpc_cli_spawn(criu_path, argv, src ? &ps[1] : NULL, src ? 1 : 0, NULL, &g->daemon,
			  &g->daemon_pidfd, &e) < 0 ||
	    g->daemon_pidfd < 0) {
		lazy_msg_send(sk, LAZY_ERROR, 0,
			      e ? stasis_error_message(e) : "no pidfd for criu lazy-pages");
		_exit(1);
	}
	if (ps[1] >= 0)
		close(ps[1]);
	/* the pages CRIU restores itself, while the daemon starts (READY follows both) */
	if (pages && lazy_pages_write_eager(pages, images_dir, &e) < 0) {
		stop_daemon(g);
		lazy_msg_send(sk, LAZY_ERROR, 0, stasis_error_message(e));
		_exit(1);
	}
	if (wait_listening(g, why, sizeof(why)) < 0) {
		lazy_msg_send(sk, LAZY_ERROR, 0, why);
		_exit(1);
	}
	/*
	 * While pages are in flight the daemon polls without sleeping (CRIU's loop): niced, that
	 * spinning yields to the page server it waits for (1 GiB came in 0.3-1 s sooner here), and
	 * not so far that a fault waits long on a busy host.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)g->daemon, LAZY_DAEMON_NICE);
	lazy_msg_send(sk, LAZY_READY, (int32_t)getpid(), NULL);
	int done_fd = -1, conn = ps[0];
	/* a reply never waits unwatched: every LAZY_SEND_STALL_MS without progress, who is still there */
	const struct timeval stall = { .tv_usec = LAZY_SEND_STALL_MS * 1000 };
	if (conn >= 0)
		(void)setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall));
	/* read and write: no end of file when the script closes its end */
	int hold_fd = g->hold_req ? open(g->hold_req, O_RDWR | O_NONBLOCK | O_CLOEXEC) : -1;
	bool running = false;
	uint64_t next_scan = 0;
	for (;;) {
		struct pollfd p[PFD_N] = {
			[PFD_RESTORE] = { .fd = running ? -1 : sk, .events = POLLIN },
			[PFD_PAGES] = { .fd = conn, .events = POLLIN },
			[PFD_DAEMON] = { .fd = g->daemon > 0 ? g->daemon_pidfd : -1, .events = POLLIN },
			[PFD_INIT] = { .fd = g->init_pidfd, .events = POLLIN },
			[PFD_HOLD] = { .fd = running ? -1 : hold_fd, .events = POLLIN },
		};
		bool fetching = running && g->daemon > 0;
		if (poll(p, PFD_N, fetching ? LAZY_FORK_SCAN_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, sizeof(why), "the guard's poll: %s", strerror(errno));
			guard_fail(g, done_fd, why);
		}
		/* a task forked meanwhile: its userfaultfd held too (the daemon's end is its PFD_DAEMON) */
		if (fetching && monotonic_us() >= next_scan) {
			(void)take_uffds(g, g->watch_sk);
			next_scan = monotonic_us() + LAZY_FORK_SCAN_MS * 1000ull;
		}
		if (p[PFD_HOLD].revents)
			on_hold_request(g, hold_fd);
		if (p[PFD_RESTORE].revents)
			on_restore_msg(g, sk, &running, &done_fd);
		if (p[PFD_PAGES].revents) {
			int r = on_daemon_request(g, conn, pages, &e);
			if (r < 0 && running && init_gone(g, 0))
				container_ended(g, done_fd);
			/* the daemon gone: what its end says is the better reason (the tasks wait meanwhile) */
			if (r < 0 && running && g->daemon > 0 &&
			    poll(&p[PFD_DAEMON], 1, LAZY_DAEMON_END_MS) > 0)
				daemon_ended(g, done_fd);
			if (r < 0 && running)
				guard_fail(g, done_fd, stasis_error_message(e));
			/* CLOSE; or a failure during the restore, which the daemon then fails (CRIU undoes it) */
			if (r != 0) {
				close(conn);
				conn = -1;
			}
			stasis_error_free(e);
			e = NULL;
		}
		if (p[PFD_DAEMON].revents) {
			if (running)
				daemon_ended(g, done_fd);
			/* during the restore: CRIU fails it without the daemon, and the restore says why */
			int status;
			(void)reap_daemon(g, &status);
			g->daemon = -1;
		}
		if (p[PFD_INIT].revents)
			container_ended(g, done_fd);
	}
}
