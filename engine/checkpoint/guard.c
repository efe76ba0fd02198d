/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What keeps a checkpoint from losing a container when stasis dies half way:
 *  - a lock a container (flock on CKPT_OPS_DIR/<id>.lock): a second checkpoint of the same
 *    container is refused at once, naming the first;
 *  - a record of what the run has done to the host that it must undo if it never finishes
 *    (CKPT_OPS_DIR/<id>.record: the freezer it froze, the temporary files it made);
 *  - a guard process that holds the lock with us and, when our pipe to it ends, undoes the
 *    record if it is still there (we remove it when the run ends; kill -9, a signal or a crash
 *    leave it): the container is thawed and runs on;
 *  - when the guard died too, the next checkpoint of that container or stasis_gc finds the record
 *    with nobody holding its lock, and undoes it the same way, saying what it did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/checkpoint/checkpoint-internal.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"

#define CKPT_OPS_DIR STASIS_STATE_ROOT "/@checkpoints" /* "@" is in no container id: never one of theirs */
#define LOCK_SUFFIX ".lock"
#define RECORD_SUFFIX ".record"
/* record entries: a tag and a path, each NUL-terminated (a path may hold any other byte) */
#define TAG_FREEZER "freezer"
#define TAG_TEMP "temp"
#define RECORD_MAX (1u << 20)

static char *ops_path(const char *key, const char *suffix)
{
	return xasprintf(CKPT_OPS_DIR "/%s%s", key, suffix);
}

/* Undoes a record: thaws the freezer it names (if still frozen), removes its temporary files. */
static void undo_record(const char *text, size_t len, void (*say)(const char *msg, void *data), void *data)
{
	for (size_t i = 0; i < len;) {
		const char *tag = text + i;
		size_t tl = strnlen(tag, len - i);
		if (i + tl + 1 >= len)
			break;
		const char *path = tag + tl + 1;
		size_t pl = strnlen(path, len - i - tl - 1);
		i += tl + 1 + pl + 1;
		if (strcmp(tag, TAG_FREEZER) == 0 && ckpt_frozen(path)) {
			if (ckpt_thaw(path, NULL) == 0 && say) {
				cleanup_free char *msg =
					xasprintf("thawed `%s`: the container runs again", path);
				say(msg, data);
			}
		} else if (strcmp(tag, TAG_TEMP) == 0 && access(path, F_OK) == 0) {
			if (rm_rf(path) == 0 && say) {
				cleanup_free char *msg = xasprintf("removed `%s`", path);
				say(msg, data);
			}
		}
	}
}

/*
 * The run of container key died before it finished (its guard saw the pipe end, or nobody holds
 * its lock): undo what its record says, then drop the record.  1 when there was one, else 0.
 */
static int undo_run(const char *key, void (*say)(const char *msg, void *data), void *data)
{
	cleanup_free char *record = ops_path(key, RECORD_SUFFIX);
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (read_file_capped(record, RECORD_MAX, &text, &len, NULL) < 0)
		return 0;
	if (say) {
		cleanup_free char *msg = xasprintf("a checkpoint of `%s` was killed before it finished", key);
		say(msg, data);
	}
	undo_record(text, len, say, data);
	unlink(record);
	return 1;
}

static int rewrite_record(struct ckpt_guard *g, struct stasis_error **err)
{
	size_t len = 0;
	cleanup_free char *text = NULL;
	for (size_t i = 0; i < g->n_entries; i++) {
		size_t tl = strlen(g->entries[i].tag) + 1, pl = strlen(g->entries[i].path) + 1;
		text = xrealloc(text, len + tl + pl);
		memcpy(text + len, g->entries[i].tag, tl);
		memcpy(text + len + tl, g->entries[i].path, pl);
		len += tl + pl;
	}
	cleanup_free char *record = ops_path(g->key, RECORD_SUFFIX);
	return write_file_atomic(record, text ? text : "", len, 0600, 0, err);
}

int ckpt_guard_lock(struct ckpt_guard *g, const char *key, void (*say)(const char *msg, void *data),
		    void *data, struct stasis_error **err)
{
	*g = (struct ckpt_guard){ .lock_fd = -1, .pipe_fd = -1 };
	int r = mkdir_p(CKPT_OPS_DIR, 0700, err);
	if (r < 0)
		return r;
	cleanup_free char *lock = ops_path(key, LOCK_SUFFIX);
	cleanup_close int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, errno, "open `%s`", lock);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return error_set(err, errno, "lock `%s`", lock);
		char holder[32] = "";
		ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		return error_setx(err, EBUSY,
				  "a checkpoint of `%s` is already running (stasis pid %s): one at a time",
				  key, holder[0] ? holder : "?");
	}
	cleanup_free char *pid = xasprintf("%d", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite_all(fd, pid, strlen(pid), 0) < 0)
		return error_set(err, errno, "write `%s`", lock);
	/* we hold the lock: a record left here is a dead run's */
	undo_run(key, say, data);
	g->key = xstrdup(key);
	g->lock_fd = TAKE_FD(fd);
	return 0;
}

static void guard_main(int in, int lock_fd, const char *key)
{
	/* its own session: a ^C or a hangup meant for stasis does not end the guard */
	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (int fd = 0; fd < 3; fd++) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
	/* keep only the command pipe and the lock: the guard holds nothing else of the caller's */
	int keep_lo = in < lock_fd ? in : lock_fd, keep_hi = in < lock_fd ? lock_fd : in;
	syscall(SYS_close_range, 3u, (unsigned)keep_lo - 1, 0u);
	syscall(SYS_close_range, (unsigned)keep_lo + 1, (unsigned)keep_hi - 1, 0u);
	syscall(SYS_close_range, (unsigned)keep_hi + 1, ~0u, 0u);
	/*
	 * The pipe ends when the run does, however it ends.  A run that finished removed its record
	 * first, so there is nothing to undo; one that died left it, and it is undone here.
	 */
	char buf[64];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	undo_run(key, NULL, NULL);
	_exit(0);
}

char *ckpt_guard_path(const struct ckpt_guard *g, const char *suffix)
{
	return ops_path(g->key, suffix);
}

int ckpt_guard_start(struct ckpt_guard *g, struct stasis_error **err)
{
	int r = rewrite_record(g, err);
	if (r < 0)
		return r;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_set(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return error_set(err, errno, "fork the checkpoint's guard");
	}
	if (pid == 0) {
		close(p[1]);
		guard_main(p[0], g->lock_fd, g->key);
	}
	close(p[0]);
	g->pid = pid;
	g->pipe_fd = p[1];
	return 0;
}

int ckpt_guard_note(struct ckpt_guard *g, bool freezer, const char *path, struct stasis_error **err)
{
	if (!g->key)
		return 0;
	g->entries = xgrow(g->entries, g->n_entries, sizeof(*g->entries));
	g->entries[g->n_entries++] = (struct ckpt_guard_entry){
		.tag = freezer ? TAG_FREEZER : TAG_TEMP,
		.path = xstrdup(path),
	};
	return rewrite_record(g, err);
}

void ckpt_guard_release(struct ckpt_guard *g)
{
	/* the run ends here, however it went: the caller undid or kept what it made */
	if (g->key) {
		cleanup_free char *record = ops_path(g->key, RECORD_SUFFIX);
		unlink(record);
	}
	/* then the guard sees the pipe end and finds no record: nothing to undo */
	if (g->pipe_fd >= 0) {
		close(g->pipe_fd);
		while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (g->lock_fd >= 0)
		close(g->lock_fd);
	for (size_t i = 0; i < g->n_entries; i++)
		free(g->entries[i].path);
	free(g->entries);
	free(g->key);
	*g = (struct ckpt_guard){ .lock_fd = -1, .pipe_fd = -1 };
}

int stasis_gc(struct stasis_ctx *ctx, const struct stasis_gc_opts *opts, struct stasis_error **err)
{
	(void)ctx;
	struct stasis_gc_opts o;
	int r = opts_copy(&o, sizeof(o), opts, "gc", err);
	if (r < 0)
		return r;
	/* the lines of lazy restores whose runtime-owned containers are gone */
	int found = runtime_lazy_gc(o.report, o.report_data);
	cleanup_closedir DIR *d = opendir(CKPT_OPS_DIR);
	if (!d)
		return errno == ENOENT ? found : error_set(err, errno, "open `%s`", CKPT_OPS_DIR);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= strlen(RECORD_SUFFIX) ||
		    strcmp(de->d_name + l - strlen(RECORD_SUFFIX), RECORD_SUFFIX))
			continue;
		cleanup_free char *key = xstrndup(de->d_name, l - strlen(RECORD_SUFFIX));
		cleanup_free char *lock = ops_path(key, LOCK_SUFFIX);
		cleanup_close int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		/* a held lock is a run (or its guard) still at work: not ours to touch */
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		found += undo_run(key, o.report, o.report_data);
	}
	return found;
}
