/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_CLI_H
#define STASIS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "include/stasis.h"

struct cli_globals {
	const char *criu_path;
	unsigned int timeout_ms;
	const char *root;     /* the runtime's --root, as runc's global flag */
	const char *log_path; /* --log: where the library's log goes (runc's flag); NULL: stderr */
	bool log_json;	      /* --log-format json: one JSON object a line, as runc writes */
	bool debug;	      /* --debug: debug messages too */
	/*
	 * Run as an engine's OCI runtime (stasis-runc, stasis-crun): the delegate's name ("runc",
	 * "crun"), else NULL.  Then the delegate owns what is restored, a checkpoint is preflighted,
	 * a restore prints nothing when it works (its stdio is the container's) and a failure is
	 * also one JSON error object in --log, where the engine reads it.
	 */
	const char *shim_flavour;
	const char *runc_path, *crun_path;
	const char *const *runtime_args;
};

extern struct cli_globals cli_globals;

/* Prints "stasis: <command>: <message>" plus CRIU log lines and hint; returns the exit status. */
int cli_fail(const char *command, struct stasis_error *err);
/* Prints "stasis: <command>: <message>" for usage mistakes; returns 2. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A flag that takes a value came without one; returns 2. */
int cli_missing_value(const char *command, const char *flag);
int cli_ctx(const char *command, struct stasis_ctx **ret);
/* A library warning on stderr; command is the (const char *) subcommand name. */
void cli_warn(const char *msg, void *command);

/*
 * One progress line on a terminal (stderr), overwritten as the phases go by; nothing when stderr
 * is no terminal or stasis runs as an engine's runtime.  command: the (const char *) subcommand.
 */
void cli_progress(const struct stasis_progress *p, void *command);
/* Clears the progress line, if one was shown. */
void cli_progress_end(void);

/* text with the library's option names (`opts.tcp_established`) as the flags users type (malloc'ed) */
char *cli_text(const char *text);
/* s as a JSON string (NULL: "") */
void cli_json_string(FILE *f, const char *s);

/* stasis run as stasis-runc or stasis-crun (argv[0]): an OCI runtime for engines (shim.c) */
int shim_main(const char *flavour, int argc, char **argv);

int cmd_version(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);

#endif
