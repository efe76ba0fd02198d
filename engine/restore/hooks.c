/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/restore/hooks.h"
#include "engine/restore/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/process.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"

char *hook_state_json(const char *id, pid_t pid, const char *bundle, const struct oci_config *c)
{
	struct oci_json *j = oci_json_new(false);
	oci_json_map_open(j);
	oci_json_kstr(j, "ociVersion", "1.0.2");
	oci_json_kstr(j, "id", id);
	oci_json_kstr(j, "status", "creating");
	oci_json_kint(j, "pid", pid);
	oci_json_kstr(j, "bundle", bundle);
	if (c->n_annotations) {
		oci_json_key(j, "annotations");
		oci_json_map_open(j);
		for (size_t i = 0; i < c->n_annotations; i++)
			oci_json_kstr(j, c->annotations[i].key, c->annotations[i].value);
		oci_json_map_close(j);
	}
	oci_json_map_close(j);
	return oci_json_finish(j, NULL);
}

/* Waits for pid, at most timeout_s seconds (0: for ever); -ETIMEDOUT after killing it. */
static int wait_hook(pid_t pid, int timeout_s, int *status)
{
	bool late = timeout_s > 0 && pid_wait_exit(pid, timeout_s * 1000) == -ETIMEDOUT;
	if (late)
		kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return late ? -ETIMEDOUT : 0;
}

static int run_one(const struct oci_hook *h, const char *what, const char *state, struct stasis_error **err)
{
	cleanup_close int in = memfd_create("stasis-hook-state", MFD_CLOEXEC);
	cleanup_close int errfd = memfd_create("stasis-hook-err", MFD_CLOEXEC);
	if (in < 0 || errfd < 0)
		return error_set(err, errno, "%s: memfd_create", what);
	if (pwrite_all(in, state, strlen(state), 0) < 0)
		return error_set(err, errno, "%s: write its state", what);
	char *const fallback[] = { h->path, NULL };
	char *const no_env[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	pid_t pid;
	int r = posix_spawn(&pid, h->path, &fa, NULL, h->args && h->args[0] ? h->args : fallback,
			    h->env ? h->env : no_env);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return error_set(err, r, "%s", what);
	int status = 0;
	if (wait_hook(pid, h->timeout, &status) == -ETIMEDOUT)
		return error_setx(err, ETIMEDOUT, "%s: still running after its timeout of %d s: killed", what,
				  h->timeout);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	cleanup_free char *text = memfd_read_capped(errfd);
	cleanup_free char *line = text_last_line(text);
	return error_setx(err, EIO, "%s failed (%s %d)%s%s", what, WIFEXITED(status) ? "exit" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), line[0] ? ": " : "",
			  line);
}

int hooks_run(const struct oci_hook *hooks, size_t n, const char *kind, const char *state,
	      struct stasis_error **err)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *what = xasprintf("%s hook %zu `%s`", kind, i, hooks[i].path);
		int r = run_one(&hooks[i], what, state, err);
		if (r < 0)
			return r;
	}
	return 0;
}

bool restore_hooks_only_ours(const char *spec, size_t len, const struct oci_config *config)
{
	if (config->n_hooks_prestart || config->n_hooks_create_runtime != 1)
		return false;
	const struct oci_hook *h = &config->hooks_create_runtime[0];
	if (!h->path || !h->args || strv_length(h->args) != 3 || strcmp(h->args[1], "hook") != 0 ||
	    strcmp(h->args[2], STASIS_HOOK_LOOPBACK_UP) != 0)
		return false;
	/*
	 * The config parser reads only the hook kinds a restore runs; the editor that added ours sees
	 * all of .hooks.  So ours is rebuilt by that editor in place of .hooks, and the two texts must
	 * match: another kind of hook, another field or another argument makes them differ.
	 */
	const struct oci_spec_edit as_is = { 0 };
	const struct oci_spec_edit rebuilt = {
		.drop_hooks = true,
		.add_hook_path = h->path,
		.add_hook_args = (const char *const *)h->args,
	};
	cleanup_free char *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	if (oci_spec_edit(spec, len, "spec", &as_is, &a, &a_len, NULL) < 0 ||
	    oci_spec_edit(spec, len, "spec", &rebuilt, &b, &b_len, NULL) < 0)
		return false;
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

int stasis_hook(const char *name, const char *state_json, size_t len, struct stasis_error **err)
{
	if (strcmp(name, STASIS_HOOK_LOOPBACK_UP) != 0)
		return error_setx(err, EINVAL, "hook `%s`: unknown (known: %s)", name,
				  STASIS_HOOK_LOOPBACK_UP);
	cleanup_with(oci_state_free) struct oci_state *st = NULL;
	int r = oci_state_parse(state_json, len, "the hook's state (stdin)", &st, err);
	if (r < 0)
		return r;
	return st->pid > 0 ? netns_loopback_up_pid(st->pid, err)
			   : error_setx(err, EINVAL, "hook `%s`: the state has no pid", name);
}
