/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis as an engine's OCI runtime: run as `stasis-crun` or `stasis-runc`, it does checkpoint
 * and restore itself and execs the delegate (crun, runc) for every other command, so that the
 * engine sees the delegate's exit status, output and process for create, start, exec, kill,
 * delete and the rest.  docs/podman.md says how engines are configured with it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"
#include "runtime-hooks/shim-args.h"

/*
 * What the runtime cannot take from its environment: podman runs it with PATH and little else,
 * so STASIS_CRIU and STASIS_DELEGATE set in a shell never arrive.  `delegate=` and `criu=` lines.
 */
#define SHIM_CONF "/etc/stasis/runtime.conf"
#define SHIM_CONF_MAX (64u * 1024)

/* runtime.conf's text (NULL: none), at most SHIM_CONF_MAX bytes */
static char *read_conf(void)
{
	FILE *f = fopen(SHIM_CONF, "re");
	if (!f)
		return NULL;
	char *text = calloc(1, SHIM_CONF_MAX + 1);
	if (!text)
		abort();
	(void)!fread(text, 1, SHIM_CONF_MAX, f);
	fclose(f);
	return text;
}

/* name in $PATH, as execvp would find it (malloc'ed), or NULL */
static char *path_lookup(const char *name)
{
	const char *path = getenv("PATH");
	for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t len = strcspn(p, ":");
		char *candidate = NULL;
		if (asprintf(&candidate, "%.*s/%s", (int)len, p, name) < 0)
			abort();
		if (len && access(candidate, X_OK) == 0)
			return candidate;
		free(candidate);
		p += len + (p[len] == ':');
	}
	return NULL;
}

/* the delegate: --stasis-delegate, $STASIS_DELEGATE, runtime.conf, then flavour in PATH */
static char *find_delegate(const char *flavour, const struct shim_args *a, const char *conf)
{
	const char *given = a->delegate ? a->delegate : getenv("STASIS_DELEGATE");
	if (given && given[0]) {
		char *copy = strdup(given);
		if (!copy)
			abort();
		return copy;
	}
	char *from_conf = conf ? shim_conf_value(conf, "delegate") : NULL;
	if (from_conf && from_conf[0])
		return from_conf;
	free(from_conf);
	return path_lookup(flavour);
}

/* A delegate that is stasis itself would exec itself forever: e.g. stasis-runc installed as runc. */
static bool is_self(const char *path)
{
	cleanup_free char *self = realpath("/proc/self/exe", NULL);
	cleanup_free char *target = realpath(path, NULL);
	return self && target && strcmp(self, target) == 0;
}

int shim_main(const char *flavour, int argc, char **argv)
{
	const char *me = argv[0];
	cleanup_with(shim_args_clear) struct shim_args a = { 0 };
	const char *bad = NULL;
	if (shim_args_parse(argc, argv, &a, &bad) < 0) {
		fprintf(stderr, "%s: flag needs an argument: %s\n", me, bad);
		return 2;
	}
	cleanup_free char *conf = read_conf();
	cleanup_free char *delegate = find_delegate(flavour, &a, conf);
	if (!delegate) {
		fprintf(stderr,
			"%s: no `%s` in PATH to hand commands to (set delegate= in " SHIM_CONF
			", $STASIS_DELEGATE or --stasis-delegate)\n",
			me, flavour);
		return 127;
	}
	if (is_self(delegate)) {
		fprintf(stderr, "%s: the delegate `%s` is stasis itself: name the real %s\n", me, delegate,
			flavour);
		return 127;
	}
	const char *verb = a.verb < argc ? argv[a.verb] : NULL;
	bool ours = verb && (strcmp(verb, "checkpoint") == 0 || strcmp(verb, "restore") == 0);
	if (!ours) {
		/* the delegate in this very process: same pid, stdio, exit status and signals */
		a.delegate_argv[0] = delegate;
		execv(delegate, (char *const *)a.delegate_argv);
		fprintf(stderr, "%s: run `%s`: %s\n", me, delegate, strerror(errno));
		return errno == ENOENT ? 127 : 126;
	}
	cleanup_free char *criu_conf = conf ? shim_conf_value(conf, "criu") : NULL;
	cli_globals.criu_path = a.criu ? a.criu : getenv("STASIS_CRIU") ? NULL : criu_conf;
	cli_globals.root = a.root;
	cli_globals.log_path = a.log;
	cli_globals.log_json = a.log_format && strcmp(a.log_format, "json") == 0;
	cli_globals.debug = a.debug;
	cli_globals.shim_flavour = flavour;
	if (strcmp(flavour, "runc") == 0)
		cli_globals.runc_path = delegate;
	else
		cli_globals.crun_path = delegate;
	cli_globals.runtime_args = (const char *const *)a.runtime_args;

	int n = argc - a.verb;
	char **verb_argv = argv + a.verb;
	cleanup_strv char **owned = NULL;
	size_t n_owned = 0;
	shim_args_long_dashes(n, verb_argv, &owned, &n_owned);
	return strcmp(verb, "checkpoint") == 0 ? cmd_checkpoint(n, verb_argv) : cmd_restore(n, verb_argv);
}
