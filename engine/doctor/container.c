/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `stasis doctor ID`: what in a running container CRIU will refuse, read from /proc without
 * freezing or tracing anything: every task CRIU would dump (the init and its descendants), their
 * fds, locks, sockets, namespaces and mounts.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/major.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/parse.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/doctor/doctor-internal.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

#define DOCTOR_MAX_TASKS 4096
/* a /proc/PID file: status and stat are small, net/tcp of a netns with ~7000 sockets is 1 MiB; past
 * this the check is skipped rather than the host's memory spent */
#define PROC_READ_MAX (1u << 20)
/* /proc/locks lists every lock on the host, about 100 bytes each */
#define PROC_LOCKS_MAX (16u << 20)
/* minors of MEM_MAJOR (drivers/char/mem.c devlist) */
#define MEM_MINOR_NULL 3
#define MEM_MINOR_ZERO 5
#define MEM_MINOR_FULL 7
#define MEM_MINOR_RANDOM 8
#define MEM_MINOR_URANDOM 9

struct ct {
	pid_t *pids;
	size_t n;
	struct mnt_table mounts; /* the init's mount namespace */
	struct stasis_report *r;
	unsigned long *socks; /* every socket inode the tasks hold, with where */
	char **sock_where;
	size_t n_socks;
};

static char *proc_read(pid_t pid, const char *what)
{
	cleanup_free char *p = xasprintf("/proc/%d/%s", (int)pid, what);
	char *text = NULL;
	return read_file_capped(p, PROC_READ_MAX, &text, NULL, NULL) == 0 ? text : NULL;
}

static char *comm(pid_t pid)
{
	char *c = proc_read(pid, "comm");
	if (!c)
		return xstrdup("?");
	c[strcspn(c, "\n")] = '\0';
	return c;
}

/* The init and its descendants, through /proc/PID/task/TID/children. */
static void collect_tasks(struct ct *c, pid_t init)
{
	c->pids = xreallocarray(NULL, 1, sizeof(pid_t));
	c->pids[c->n++] = init;
	for (size_t i = 0; i < c->n && c->n < DOCTOR_MAX_TASKS; i++) {
		cleanup_free char *dir = xasprintf("/proc/%d/task", (int)c->pids[i]);
		cleanup_closedir DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			cleanup_free char *what = xasprintf("task/%s/children", de->d_name);
			cleanup_free char *kids = proc_read(c->pids[i], what);
			for (char *s = kids, *tok; s && (tok = strtok_r(s, " \n", &s));) {
				pid_t k;
				if (parse_pid(tok, &k) == 0 && c->n < DOCTOR_MAX_TASKS) {
					c->pids = xgrow(c->pids, c->n, sizeof(pid_t));
					c->pids[c->n++] = k;
				}
			}
		}
	}
}

static bool in_container(const struct ct *c, pid_t pid)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->pids[i] == pid)
			return true;
	return false;
}

/* "Field:\tvalue" of /proc/PID/status or fdinfo text */
static long field(const char *text, const char *name)
{
	const char *p = text ? strstr(text, name) : NULL;
	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static void check_task(struct ct *c, pid_t pid)
{
	cleanup_free char *name = comm(pid);
	cleanup_free char *subject = xasprintf("pid %d (%s)", (int)pid, name);
	cleanup_free char *status = proc_read(pid, "status");
	long tracer = field(status, "TracerPid:");
	if (tracer > 0) {
		cleanup_free char *tn = comm((pid_t)tracer);
		report_addf(c->r, "tracer", STASIS_SEVERITY_BLOCKER, subject,
			    "detach the tracer first: a task has only one, and CRIU must be it",
			    "pid %ld (%s) traces it", tracer, tn);
	}
	if (proc_is_stopped(pid))
		report_add(
			c->r, "stopped-task", STASIS_SEVERITY_BLOCKER, subject,
			"send it SIGCONT first (kill -CONT), or let it finish",
			"it is stopped (SIGSTOP or a tracer's stop): CRIU cannot seize a stopped task in a "
			"frozen cgroup and waits for it until its timeout");
	/* "Uid:\treal\teffective\tsaved\tfs" */
	const char *uid_line = status ? strstr(status, "Uid:") : NULL;
	unsigned ids[4];
	uid_t me = geteuid();
	if (me != 0 && uid_line &&
	    sscanf(uid_line + 4, "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) == 4 &&
	    (ids[0] != me || ids[1] != me || ids[2] != me || ids[3] != me))
		report_addf(c->r, "other-user", STASIS_SEVERITY_BLOCKER, subject,
			    "run stasis as root, or as a user with CAP_CHECKPOINT_RESTORE and CAP_SYS_PTRACE",
			    "runs as uid %u (effective %u), not as uid %u who runs stasis: CRIU cannot seize "
			    "another user's tasks without root",
			    ids[0], ids[1], (unsigned)me);
	cleanup_free char *exe = xasprintf("/proc/%d/exe", (int)pid);
	cleanup_close int fd = open(exe, O_RDONLY | O_CLOEXEC);
	unsigned char ident[EI_NIDENT];
	if (fd >= 0 && read(fd, ident, sizeof(ident)) == (ssize_t)sizeof(ident) &&
	    memcmp(ident, ELFMAG, SELFMAG) == 0 && ident[EI_CLASS] == ELFCLASS32)
		report_add(c->r, "compat-32bit", STASIS_SEVERITY_BLOCKER, subject,
			   "use a CRIU built with compat support, or the 64-bit build of the program",
			   "a 32-bit program: CRIU needs compat support for it");
	/* stat: "pid (comm) state ppid pgrp session tty_nr ..." */
	cleanup_free char *stat = proc_read(pid, "stat");
	const char *rp = stat ? strrchr(stat, ')') : NULL;
	int sid = 0, tty = 0;
	if (rp && sscanf(rp + 2, "%*c %*d %*d %d %d", &sid, &tty) == 2 && tty != 0 && sid > 0 &&
	    !in_container(c, sid))
		report_addf(c->r, "shared-tty", STASIS_SEVERITY_NEEDS_FLAG, subject,
			    "set opts.shell_job, or run the container detached",
			    "its terminal session %d is led by pid %d outside the container", sid, sid);
}

static bool harmless_device(dev_t rdev)
{
	unsigned int ma = major(rdev), mi = minor(rdev);
	/* mem (null, zero, full, random, urandom), tty/console/ptmx, pts */
	return (ma == MEM_MAJOR && (mi == MEM_MINOR_NULL || mi == MEM_MINOR_ZERO || mi == MEM_MINOR_FULL ||
				    mi == MEM_MINOR_RANDOM || mi == MEM_MINOR_URANDOM)) ||
	       ma == TTYAUX_MAJOR ||
	       (ma >= UNIX98_PTY_SLAVE_MAJOR && ma < UNIX98_PTY_SLAVE_MAJOR + UNIX98_PTY_MAJOR_COUNT);
}

static const struct mnt_info *mount_by_id(const struct ct *c, long id)
{
	for (size_t i = 0; i < c->mounts.n; i++)
		if ((long)c->mounts.e[i].id == id)
			return &c->mounts.e[i];
	return NULL;
}

/* the TCP state of socket inode ino in the task's netns (TCP_ESTABLISHED, TCP_LISTEN, ...), 0 if unknown */
static int tcp_state(pid_t pid, unsigned long ino)
{
	static const char *const tables[] = { "net/tcp", "net/tcp6" };
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		cleanup_free char *text = proc_read(pid, tables[t]);
		for (char *s = text, *line; s && (line = strtok_r(s, "\n", &s));) {
			unsigned int st;
			unsigned long i;
			/* sl local rem st tx:rx tr:when retr uid timeout inode */
			if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st, &i) == 2 && i == ino)
				return (int)st;
		}
	}
	return 0;
}

/* the path of unix socket ino, or NULL: "" when unbound */
static char *unix_path(pid_t pid, unsigned long ino)
{
	cleanup_free char *text = proc_read(pid, "net/unix");
	for (char *s = text, *line; s && (line = strtok_r(s, "\n", &s));) {
		unsigned long i;
		int off = 0;
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %n", &i, &off) >= 1 && i == ino)
			return xstrdup(off > 0 ? line + off : "");
	}
	return NULL;
}

static void check_fd(struct ct *c, pid_t pid, const char *fdname, const char *subject_task)
{
	cleanup_free char *link = xasprintf("/proc/%d/fd/%s", (int)pid, fdname);
	char target[PATH_MAX];
	ssize_t l = readlink(link, target, sizeof(target) - 1);
	if (l < 0)
		return;
	target[l] = '\0';
	cleanup_free char *subject = xasprintf("%s fd %s (%s)", subject_task, fdname, target);
	if (strcmp(target, "anon_inode:[io_uring]") == 0) {
		report_add(c->r, "io-uring", STASIS_SEVERITY_BLOCKER, subject, "stop using io_uring first",
			   "an io_uring instance, which CRIU cannot checkpoint");
		return;
	}
	unsigned long ino;
	if (sscanf(target, "socket:[%lu]", &ino) == 1) {
		c->socks = xgrow(c->socks, c->n_socks, sizeof(*c->socks));
		c->sock_where = xgrow(c->sock_where, c->n_socks, sizeof(*c->sock_where));
		c->socks[c->n_socks] = ino;
		c->sock_where[c->n_socks++] = xstrdup(subject);
		int st = tcp_state(pid, ino);
		if (st == TCP_ESTABLISHED)
			report_add(c->r, "tcp-established", STASIS_SEVERITY_NEEDS_FLAG, subject,
				   "checkpoint and restore with opts.tcp_established (or opts.tcp_close on "
				   "restore)",
				   "an established TCP connection");
		else if (st == TCP_LISTEN)
			report_add(c->r, "tcp-listen", STASIS_SEVERITY_INFO, subject, NULL,
				   "a listening TCP socket: CRIU saves it as it is");
		cleanup_free char *up = st ? NULL : unix_path(pid, ino);
		if (up && up[0] && up[0] != '/' && up[0] != '@')
			report_addf(c->r, "unix-relative-path", STASIS_SEVERITY_BLOCKER, subject,
				    "bind it to an absolute path",
				    "a unix socket bound to the relative path `%s`", up);
		return;
	}
	struct stat sb;
	if (stat(link, &sb) < 0)
		return;
	if ((S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode)) && !harmless_device(sb.st_rdev)) {
		report_addf(c->r, "device", STASIS_SEVERITY_BLOCKER, subject,
			    "close it, or give the device to the restored container again",
			    "an open %s device %u:%u, which CRIU cannot save",
			    S_ISCHR(sb.st_mode) ? "character" : "block", major(sb.st_rdev),
			    minor(sb.st_rdev));
		return;
	}
	if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
		return;
	cleanup_free char *what = xasprintf("fdinfo/%s", fdname);
	cleanup_free char *info = proc_read(pid, what);
	long mnt = field(info, "mnt_id:");
	const struct mnt_info *m = mnt >= 0 ? mount_by_id(c, mnt) : NULL;
	if (mnt >= 0 && !m)
		report_add(c->r, "host-file", STASIS_SEVERITY_BLOCKER, subject,
			   "give the container pipes or /dev/null as stdio (as conmon does), or close it",
			   "a file on a mount outside the container (stdio redirected to a host file is the "
			   "usual case): CRIU cannot look up its mount");
	else if (m && m->fstype && strcmp(m->fstype, "btrfs") == 0)
		report_add(c->r, "btrfs", STASIS_SEVERITY_INFO, subject, NULL,
			   "a file on btrfs, whose subvolume device numbers older CRIUs cannot match");
}

static void check_fds(struct ct *c, pid_t pid)
{
	cleanup_free char *name = comm(pid);
	cleanup_free char *subject = xasprintf("pid %d (%s)", (int)pid, name);
	cleanup_free char *dir = xasprintf("/proc/%d/fd", (int)pid);
	cleanup_closedir DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			check_fd(c, pid, de->d_name, subject);
}

static void check_locks(struct ct *c)
{
	cleanup_free char *text = NULL;
	if (read_file_capped("/proc/locks", PROC_LOCKS_MAX, &text, NULL, NULL) < 0)
		return;
	for (char *s = text, *line; (line = strtok_r(s, "\n", &s));) {
		char kind[16];
		int pid;
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:2a:123 0 EOF" */
		if (sscanf(line, "%*s %15s %*s %*s %d", kind, &pid) == 2 && in_container(c, pid)) {
			cleanup_free char *name = comm(pid);
			cleanup_free char *subject = xasprintf("pid %d (%s)", pid, name);
			report_addf(c->r, "file-locks", STASIS_SEVERITY_NEEDS_FLAG, subject,
				    "checkpoint and restore with opts.file_locks", "holds a %s lock", kind);
		}
	}
}

static bool ours(const struct ct *c, unsigned long ino)
{
	for (size_t i = 0; i < c->n_socks; i++)
		if (c->socks[i] == ino)
			return true;
	return false;
}

/* a unix socket whose peer no task of the container holds: CRIU calls it external */
static void check_unix_peers(struct ct *c, pid_t init)
{
	struct unix_peer *v = NULL;
	size_t n = 0;
	struct stasis_error *e = NULL;
	if (netns_unix_peers(init, &v, &n, &e) < 0) {
		report_add(c->r, "unix-peers", STASIS_SEVERITY_INFO, "the container", NULL,
			   stasis_error_message(e));
		stasis_error_free(e);
		return;
	}
	for (size_t i = 0; i < c->n_socks; i++)
		for (size_t j = 0; j < n; j++)
			if (v[j].ino == c->socks[i] && v[j].peer && !ours(c, v[j].peer)) {
				bool dgram = v[j].type == SOCK_DGRAM;
				report_addf(
					c->r, "unix-external",
					dgram ? STASIS_SEVERITY_NEEDS_FLAG : STASIS_SEVERITY_BLOCKER,
					c->sock_where[i],
					dgram ? "checkpoint and restore with opts.ext_unix_sk (the peer must "
						"be "
						"there again at restore)"
					      : "close the connection before checkpointing and reconnect "
						"after "
						"restore (opts.ext_unix_sk covers datagram sockets only)",
					"a unix %s socket connected to a peer outside the container (socket "
					"%lu)",
					dgram ? "datagram" : "stream", v[j].peer);
			}
	free(v);
}

static void check_namespaces(struct ct *c, pid_t init)
{
	cleanup_free char *p = xasprintf("/proc/%d/ns/pid", (int)init);
	struct stat a, b;
	if (stat(p, &a) == 0 && stat("/proc/self/ns/pid", &b) == 0 && a.st_ino == b.st_ino)
		report_add(c->r, "host-pidns", STASIS_SEVERITY_NEEDS_FLAG, "the container",
			   "restore into a new pid namespace (a restore from opts.import_path makes one)",
			   "shares the host's pid namespace: restoring it next to the original (or after "
			   "its pids are reused) collides (\"Can't fork for N: File exists\")");
}

static char *resolve_dest(const char *dest, void *data)
{
	return mnt_resolve_in_root(data, dest);
}

static void check_mounts(struct ct *c, const struct oci_config *config, const char *rootfs)
{
	cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
	cleanup_with(mnt_plan_clear) struct mnt_plan plan = { 0 };
	struct mnt_plan_input in = {
		.config = config,
		.mountinfo = &c->mounts,
		.resolve = resolve_dest,
		.resolve_data = (void *)rootfs,
	};
	if (mnt_plan_dump(&in, &plan, &e) == 0)
		for (size_t i = 0; i < plan.n_unexplained; i++)
			report_addf(
				c->r, "undeclared-mount", STASIS_SEVERITY_BLOCKER, plan.unexplained[i],
				"unmount it, or declare it in config.json as a bind mount",
				"mounted inside the container but not in config.json: CRIU will fail with "
				"\"doesn't have a proper root mount\"");
}

static void ct_clear(struct ct *c)
{
	mnt_table_clear(&c->mounts);
	free(c->pids);
	for (size_t i = 0; i < c->n_socks; i++)
		free(c->sock_where[i]);
	free(c->socks);
	free(c->sock_where);
	stasis_report_free(c->r);
}
DEFINE_CLEANUP_CLEAR(struct ct, ct_clear)

int stasis_doctor_container(struct stasis_ctx *ctx, const struct stasis_doctor_opts *opts,
			    struct stasis_report **ret, struct stasis_error **err)
{
	(void)ctx;
	struct stasis_doctor_opts o = { 0 };
	if (!opts)
		return error_setx(err, EINVAL, "doctor: no options given");
	int rc = opts_copy(&o, sizeof(o), opts, "doctor", err);
	if (rc < 0)
		return rc;
	if (!o.id)
		return error_setx(err, EINVAL, "doctor: a container id is needed");
	cleanup_with(oci_state_free) struct oci_state *st = NULL;
	cleanup_free char *rt = NULL;
	/* one restored by stasis with no runtime first, as stasis checkpoint finds it */
	int r = runtime_own_state(o.runtime, o.id, &st, err);
	if (r == -ENOENT)
		r = runtime_state(ctx, o.runtime, o.runtime_root, o.id, &st, &rt, err);
	if (r < 0)
		return error_wrap(err, r, "doctor");
	/* paused: frozen, and /proc tells all the same (containerd pauses a task to checkpoint it) */
	if (!st->status || (strcmp(st->status, "running") != 0 && strcmp(st->status, "paused") != 0) ||
	    st->pid <= 0)
		return error_setx(err, EINVAL, "doctor: container `%s` is %s, not running", o.id,
				  st->status ? st->status : "in an unknown state");
	cleanup_with(oci_config_free) struct oci_config *config = NULL;
	cleanup_free char *cfg = xasprintf("%s/config.json", st->bundle);
	r = oci_config_load(cfg, &config, err);
	if (r < 0)
		return error_wrap(err, r, "doctor `%s`", o.id);
	cleanup_with(ct_clear) struct ct c = { .r = xzalloc(sizeof(*c.r)) };
	pid_t init = st->pid;
	cleanup_free char *rootfs = config->root_path && config->root_path[0] != '/'
					    ? xasprintf("%s/%s", st->bundle, config->root_path)
					    : xstrdup(config->root_path ? config->root_path : "/");
	(void)mnt_table_load(init, &c.mounts, NULL);
	collect_tasks(&c, init);
	for (size_t i = 0; i < c.n; i++) {
		check_task(&c, c.pids[i]);
		check_fds(&c, c.pids[i]);
	}
	check_locks(&c);
	check_unix_peers(&c, init);
	check_namespaces(&c, init);
	check_mounts(&c, config, rootfs);
	cleanup_free char *lazy = NULL;
	if (runtime_lazy_fetching(o.id, init, &lazy))
		report_addf(
			c.r, "lazy-fetching", STASIS_SEVERITY_BLOCKER, "the container",
			"wait until that file says complete",
			"a lazy restore is still bringing its memory back (`%s` says fetching): CRIU would "
			"dump pages that are not there yet",
			lazy);
	if (!c.r->n)
		report_addf(c.r, "ok", STASIS_SEVERITY_INFO, "the container", NULL,
			    "%zu task(s) checked: nothing CRIU refuses was found", c.n);
	*ret = TAKE_PTR(c.r);
	return 0;
}
