/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the restore's side of a lazy restore (lazy.c) and its guard process (lazy-guard.c) share:
 * the messages on their socketpair, and what the guard knows of the container.
 */
#ifndef STASIS_ENGINE_RESTORE_LAZY_GUARD_H
#define STASIS_ENGINE_RESTORE_LAZY_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct lazy_pages;
struct lazy_source;

/* how long the daemon may take to listen: it reads only inventory, pstree and ids first */
#define LAZY_LISTEN_MS 10000
/* the daemon reads the userfaultfds off its socket in its own time, after the restore sent them */
#define LAZY_UFFD_WAIT_MS 2000

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

/* what the guard and the watchdog know of the container (copied into them by fork) */
struct guard {
	char *status_path;
	char *id;
	bool native_cgroup;
	char *work_dir;
	pid_t daemon;
	int daemon_pidfd;
	int *uffds;
	int *uffd_numbers; /* each one's number in the daemon (-1: that number holds another now) */
	size_t n_uffds;
	int watch_sk; /* the guard's end of the socket that passes the watchdog new userfaultfds */
	/*
	 * Through runc, which has CRIU's notifications to itself: CRIU's action script asks for the
	 * hold at post-restore through these FIFOs (NULL: the restore asks, LAZY_HOLD)
	 */
	char *hold_req, *hold_ans;
	size_t hold_tasks;
	pid_t init;
	int init_pidfd;
	struct lazy_pages *pages; /* what the guard serves from (NULL: the daemon reads files) */
};

/* one message to the other side: 0 or -errno */
int lazy_msg_send(int sk, char kind, int32_t value, const char *text);
/* one message, within timeout_ms (-1: forever): 0; -ECONNRESET at EOF; -ETIMEDOUT */
int lazy_msg_recv(int sk, int timeout_ms, struct lazy_msg *m);

/*
 * The guard process, forked by lazy_guard_start with g filled in and sk its end of the socketpair:
 * starts the daemon (and serves it src's pages, when given), then watches; never returns.
 */
_Noreturn void lazy_guard_main(struct guard *g, int sk, const char *criu_path, const char *images_dir,
			       const struct lazy_source *src);

#endif
