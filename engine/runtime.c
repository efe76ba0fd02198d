/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Talking to the OCI runtime that owns a container: `<runtime> [--root R] state|delete ID`. */
#include "engine/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"

extern char **environ;

#define RUNTIME_MAX_OUTPUT (1u << 20)

int runtime_run(const char *runtime, const char *root, const char *verb, const char *id, const char *extra,
		char **ret_out, struct stasis_error **err)
{
	cleanup_free char *bin = find_in_path(runtime);
	if (!bin)
		return error_setx(err, ENOENT, "runtime `%s` not found in PATH", runtime);
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

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_set(err, errno, "pipe");
	cleanup_close int rd = p[0];
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int r = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0)
		return error_set(err, r, "run `%s %s`", runtime, verb);

	size_t len = 0, cap = 4096;
	cleanup_free char *buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= RUNTIME_MAX_OUTPUT)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t got = read(rd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return error_setx(err, ENOENT, "`%s %s %s` failed (exit %d)", runtime, verb, id,
				  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	if (ret_out)
		*ret_out = TAKE_PTR(buf);
	return 0;
}

int runtime_state(const char *runtime, const char *root, const char *id, struct oci_state **ret,
		  char **ret_runtime, struct stasis_error **err)
{
	static const char *const candidates[] = { "runc", "crun" };
	bool any = !runtime || strcmp(runtime, "auto") == 0;
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		const char *rt = any ? candidates[i] : runtime;
		cleanup_free char *out = NULL;
		struct stasis_error *e = NULL;
		int r = runtime_run(rt, root, "state", id, NULL, &out, &e);
		if (r == 0) {
			stasis_error_free(e);
			cleanup_free char *name = xasprintf("`%s state %s`", rt, id);
			r = oci_state_parse(out, strlen(out), name, ret, err);
			if (r == 0)
				*ret_runtime = xstrdup(rt);
			return r;
		}
		if (!any) {
			if (err && !*err)
				*err = TAKE_PTR(e);
			stasis_error_free(e);
			return error_wrap(err, r, "container `%s`", id);
		}
		stasis_error_free(e);
	}
	return error_setx(err, ENOENT,
			  "container `%s`: neither runc nor crun knows it (give --runtime/--root, or --pid "
			  "and --bundle)",
			  id);
}
