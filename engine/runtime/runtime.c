/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Talking to the OCI runtime that owns a container: `<runtime> [--root R] state|delete|restore ID`. */
#include "engine/runtime/runtime-internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/namespaces.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"

extern char **environ;

#define RUNTIME_MAX_OUTPUT (1u << 20)

char *memfd_read_capped(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		size = 0;
	if (size > (off_t)RUNTIME_MAX_OUTPUT)
		size = RUNTIME_MAX_OUTPUT;
	char *buf = xmalloc((size_t)size + 1);
	ssize_t n = pread(fd, buf, (size_t)size, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

char *text_last_line(char *text)
{
	size_t l = strlen(text);
	while (l && (text[l - 1] == '\n' || text[l - 1] == ' '))
		text[--l] = '\0';
	char *nl = strrchr(text, '\n');
	return xstrdup(nl ? nl + 1 : text);
}

/* the namespaces were not entered: said on the runtime's stderr, which the failure message quotes */
#define NAMESPACES_FAILED "stasis: cannot enter the namespaces the runtime runs in\n"

/* fork and exec, for what posix_spawn cannot do: enter namespaces first */
static int spawn_in(const char *bin, const char *const *argv, char *const *envp,
		    const struct child_namespaces *ns, int out, int errfd, bool caller_stdio, pid_t *ret_pid)
{
	cleanup_close int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return errno;
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		/* between fork and exec only async-signal-safe calls: the caller may have threads */
		if (setpgid(0, 0) < 0 || child_namespaces_enter(ns) < 0) {
			(void)!write(errfd, NAMESPACES_FAILED, sizeof(NAMESPACES_FAILED) - 1);
			_exit(127);
		}
		if (!caller_stdio && (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0))
			_exit(127);
		execve(bin, (char *const *)argv, envp);
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
}

const char *runtime_binary(const struct stasis_ctx *ctx, const char *runtime)
{
	/* stasis_delete runs without a context (it needs no CRIU): the runtimes in PATH */
	if (ctx && strcmp(runtime, "runc") == 0 && ctx->runc_path)
		return ctx->runc_path;
	if (ctx && strcmp(runtime, "crun") == 0 && ctx->crun_path)
		return ctx->crun_path;
	return runtime;
}

int runtime_runv(const struct stasis_ctx *ctx, const char *const *argv, char **ret_out,
		 struct stasis_error **err)
{
	return runtime_runv_in(ctx, argv, NULL, 0, NULL, ret_out, err);
}

/* environ, with each NAME=VALUE of set in place of the NAME it has (malloc'ed array, borrowed strings) */
static char **env_with(const char *const *set)
{
	size_t n_env = 0, n_set = 0;
	while (environ[n_env])
		n_env++;
	while (set[n_set])
		n_set++;
	char **v = xreallocarray(NULL, n_env + n_set + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < n_env; i++) {
		bool replaced = false;
		for (size_t k = 0; k < n_set && !replaced; k++) {
			size_t name_len = strcspn(set[k], "=");
			replaced = strncmp(environ[i], set[k], name_len + 1) == 0;
		}
		if (!replaced)
			v[n++] = environ[i];
	}
	for (size_t k = 0; k < n_set; k++)
		v[n++] = (char *)set[k];
	v[n] = NULL;
	return v;
}

int runtime_runv_in(const struct stasis_ctx *ctx, const char *const *given, const struct child_namespaces *ns,
		    unsigned flags, const char *const *env, char **ret_out, struct stasis_error **err)
{
	cleanup_free char **envp = env ? env_with(env) : NULL;
	const char *runtime = runtime_binary(ctx, given[0]);
	cleanup_free char *bin = strchr(runtime, '/') ? xstrdup(runtime) : find_in_path(runtime);
	if (!bin)
		return error_setx(err, ENOENT, "runtime `%s` not found in PATH", runtime);
	/* the engine's global flags (--systemd-cgroup, ...) go with every command, before the verb */
	size_t n_given = 0, n_extra = 0;
	while (given[n_given])
		n_given++;
	const char *const *extra = ctx ? (const char *const *)ctx->runtime_args : NULL;
	while (extra && extra[n_extra])
		n_extra++;
	cleanup_free const char **argv = xreallocarray(NULL, n_given + n_extra + 1, sizeof(*argv));
	argv[0] = given[0];
	if (n_extra)
		memcpy(argv + 1, extra, n_extra * sizeof(*argv));
	memcpy(argv + 1 + n_extra, given + 1, n_given * sizeof(*argv));
	bool caller_stdio = flags & RUNTIME_CALLER_STDIO;
	/* files, not pipes: a detached container that keeps a copy must not keep us waiting */
	cleanup_close int out = memfd_create("stasis-runtime-out", MFD_CLOEXEC);
	cleanup_close int errfd = memfd_create("stasis-runtime-err", MFD_CLOEXEC);
	if (out < 0 || errfd < 0)
		return error_set(err, errno, "memfd_create");
	pid_t pid;
	int r;
	if (ns) {
		r = spawn_in(bin, argv, envp ? envp : environ, ns, out, errfd, caller_stdio, &pid);
	} else {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		if (!caller_stdio) {
			posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
			posix_spawn_file_actions_adddup2(&fa, out, 1);
			posix_spawn_file_actions_adddup2(&fa, errfd, 2);
		}
		posix_spawnattr_t attr;
		posix_spawnattr_init(&attr);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
		posix_spawnattr_setpgroup(&attr, 0);
		r = posix_spawn(&pid, bin, &fa, &attr, (char *const *)argv, envp ? envp : environ);
		posix_spawnattr_destroy(&attr);
		posix_spawn_file_actions_destroy(&fa);
	}
	if (r != 0)
		return error_set(err, r, "run `%s`", argv[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cleanup_free char *text = memfd_read_capped(errfd);
		cleanup_free char *line = text_last_line(text);
		cleanup_free char *cmd = xstrdup(argv[0]);
		for (size_t i = 1; argv[i]; i++) {
			char *c = xasprintf("%s %s", cmd, argv[i]);
			free(cmd);
			cmd = c;
		}
		return error_setx(err, EIO, "`%s` failed (exit %d)%s%s", cmd,
				  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
				  line[0] ? ": " : "", line);
	}
	if (ret_out)
		*ret_out = memfd_read_capped(out);
	return 0;
}

int runtime_run(const struct stasis_ctx *ctx, const char *runtime, const char *root, const char *verb,
		const char *id, const char *extra, char **ret_out, struct stasis_error **err)
{
	const char *argv[8];
	size_t n = 0;
	argv[n++] = runtime;
	if (root) {
		argv[n++] = "--root";
		argv[n++] = root;
	}
	argv[n++] = verb;
	if (extra)
		argv[n++] = extra;
	argv[n++] = id;
	argv[n] = NULL;
	return runtime_runv(ctx, argv, ret_out, err);
}

bool runtime_can_checkpoint(const struct stasis_ctx *ctx, const char *runtime)
{
	const char *argv[] = { runtime, "checkpoint", "--help", NULL };
	cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
	cleanup_free char *out = NULL;
	return runtime_runv(ctx, argv, &out, &e) == 0;
}

int runtime_own_state(const char *runtime, const char *id, struct oci_state **ret, struct stasis_error **err)
{
	if (runtime && strcmp(runtime, "auto") != 0 && strcmp(runtime, "none") != 0)
		return -ENOENT;
	cleanup_free char *own = stasis_state_record(id);
	if (access(own, F_OK) < 0)
		return -ENOENT;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = read_file_capped(own, OCI_MAX_JSON, &text, &len, err);
	if (r < 0 || (r = oci_state_parse(text, len, own, ret, err)) < 0)
		return r;
	if (kill((*ret)->pid, 0) < 0)
		return error_setx(err, ESRCH, "container `%s` (pid %d, restored by stasis) is not running",
				  id, (int)(*ret)->pid);
	return 0;
}

int runtime_state(const struct stasis_ctx *ctx, const char *runtime, const char *root, const char *id,
		  struct oci_state **ret, char **ret_runtime, struct stasis_error **err)
{
	static const char *const candidates[] = { "runc", "crun" };
	bool any = !runtime || strcmp(runtime, "auto") == 0;
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		const char *rt = any ? candidates[i] : runtime;
		cleanup_free char *out = NULL;
		cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
		int r = runtime_run(ctx, rt, root, "state", id, NULL, &out, &e);
		if (r == 0) {
			cleanup_free char *name = xasprintf("`%s state %s`", rt, id);
			r = oci_state_parse(out, strlen(out), name, ret, err);
			if (r == 0)
				*ret_runtime = xstrdup(rt);
			return r;
		}
		if (!any) {
			error_adopt(err, &e, r);
			return error_wrap(err, r, "container `%s`", id);
		}
	}
	return error_setx(
		err, ENOENT,
		"container `%s`: neither runc nor crun knows it (give opts.runtime and opts.runtime_root, or "
		"opts.pid and opts.bundle)",
		id);
}

char *runtime_lazy_status_path(const char *id, bool runtime_owns)
{
	return runtime_owns ? xasprintf(STASIS_LAZY_STATUS "/%s", id)
			    : xasprintf(STASIS_STATE_ROOT "/%s/" STATE_DIR_LAZY_PAGES, id);
}

bool runtime_lazy_fetching(const char *id, pid_t pid, char **ret_path)
{
	char *paths[] = { runtime_lazy_status_path(id, false), runtime_lazy_status_path(id, true) };
	bool fetching = false;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		cleanup_free char *text = NULL;
		size_t len = 0;
		long who = 0;
		if (!fetching && read_file_capped(paths[i], 4096, &text, &len, NULL) == 0 &&
		    sscanf(text, "fetching: container %ld,", &who) == 1 && who == (long)pid) {
			fetching = true;
			*ret_path = TAKE_PTR(paths[i]);
		}
		free(paths[i]);
	}
	return fetching;
}

static bool pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int runtime_lazy_gc(void (*report)(const char *msg, void *data), void *data)
{
	cleanup_closedir DIR *d = opendir(STASIS_LAZY_STATUS);
	struct dirent *de;
	int removed = 0;
	while (d && (de = readdir(d))) {
		if (runtime_id_check(de->d_name, "id", NULL) < 0)
			continue;
		cleanup_free char *path = xasprintf(STASIS_LAZY_STATUS "/%s", de->d_name);
		cleanup_free char *text = NULL;
		if (read_file_capped(path, 4096, &text, NULL, NULL) < 0)
			continue;
		long ct = 0, guard = 0, watchdog = 0;
		bool gone;
		if (sscanf(text, "fetching: container %ld, guard %ld, watchdog %ld,", &ct, &guard,
			   &watchdog) == 3)
			/* its helpers at work, or its container still there: not a leftover */
			gone = !pid_alive(ct) && !pid_alive(guard) && !pid_alive(watchdog);
		else
			/* complete, stopped or failed: kept while a runtime still knows the container */
			gone = !runtime_knows("crun", NULL, de->d_name, NULL) &&
			       !runtime_knows("runc", NULL, de->d_name, NULL);
		if (!gone || unlink(path) < 0)
			continue;
		removed++;
		if (report) {
			cleanup_free char *msg = xasprintf(
				"removed `%s`: the lazy restore's line of a container that is gone", path);
			report(msg, data);
		}
	}
	return removed;
}
