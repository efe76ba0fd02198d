/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command line an engine gives its OCI runtime, read the way runc and crun read it, for
 * stasis run as `stasis-runc` / `stasis-crun`: global flags, then the verb and its own flags.
 * Not getopt: the words must stay in order and unknown flags verbatim, since every verb but
 * checkpoint and restore goes to the delegate exactly as the engine wrote it.
 */
#ifndef STASIS_SHIM_ARGS_H
#define STASIS_SHIM_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cleanup.h"

struct shim_args {
	/* the global flags stasis reads (pointers into argv); NULL when not given */
	const char *root;
	const char *log;
	const char *log_format;
	const char *criu;     /* runc's --criu, or --stasis-criu */
	const char *delegate; /* --stasis-delegate */
	bool debug;
	/*
	 * global flags the delegate also gets on each command stasis runs (--systemd-cgroup, ...),
	 * NULL-terminated, never NULL (the strings are malloc'ed)
	 */
	char **runtime_args;
	size_t n_runtime_args;
	/* the verb's index in argv; argc when there is none (`--version`, no words) */
	int verb;
	/* argv without the flags only stasis knows (--stasis-*), NULL-terminated: the delegate's */
	const char **delegate_argv;
	size_t n_delegate_argv;
};

/*
 * Reads argv[1..argc) up to the verb.  A flag's value is the next word or follows `=`; `-flag` is
 * `--flag` (go's flag parsing: containerd writes `-no-subreaper`).  0, or -EINVAL when a flag that
 * takes a value ends the line (*ret_bad: that flag).  delegate_argv's strings are argv's.
 */
int shim_args_parse(int argc, char **argv, struct shim_args *ret, const char **ret_bad);
void shim_args_clear(struct shim_args *a);
DEFINE_CLEANUP_CLEAR(struct shim_args, shim_args_clear)

/*
 * A verb's flags as stasis' getopt_long reads them: a word `-name` or `-name=value` (one dash,
 * more than one letter) becomes `--name...`, which go's flag package treats alike.  Rewrites in
 * place (the new strings are malloc'ed and recorded in *owned, NULL-terminated, for freeing).
 */
void shim_args_long_dashes(int argc, char **argv, char ***owned, size_t *n_owned);
/* Frees a NULL-terminated vector of malloc'ed strings and NULLs *v. */
void shim_strv_free(char ***v);

/* `key=value` lines of /etc/stasis/runtime.conf (`#` comments): key's value, malloc'ed, or NULL. */
char *shim_conf_value(const char *text, const char *key);

#endif
