/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stasis command: global options, then one subcommand. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

struct cli_globals cli_globals;

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "version", cmd_version, "stasis, CRIU and kernel versions, CRIU features" },
	{ "check", cmd_check, "ask CRIU whether this host can checkpoint and restore" },
	{ "checkpoint", cmd_checkpoint, "checkpoint a running container (runc flags, --export)" },
	{ "restore", cmd_restore, "restore a container from an archive or images (runc flags, --import)" },
	{ "doctor", cmd_doctor, "why checkpoint/restore will fail (host, container) or failed (--log)" },
	{ "inspect", cmd_inspect,
	  "what a checkpoint holds: processes, files, sockets, mounts, memory, diffs" },
	{ "verify", cmd_verify, "check an archive's digests and that every CRIU image parses" },
	{ "delete", cmd_delete, "remove a restored container and everything stasis made for it" },
	{ "gc", cmd_gc, "undo what killed checkpoints left behind: thaw, remove temporary files" },
	{ "hook", cmd_hook, "the OCI hook stasis puts in the bundles it builds (run by the runtime)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: stasis [GLOBAL OPTIONS] COMMAND [ARGS]\n"
		   "       stasis -h | --help | -v | --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
		"\n"
		"global options (before COMMAND):\n"
		"      --criu PATH            the CRIU binary (default: $STASIS_CRIU, then criu in $PATH)\n"
		"      --timeout SECONDS      the longest wait for one CRIU reply, 1 to 86400 (default 600)\n"
		"      --root DIR             the runtime's state root (runc's and crun's --root)\n"
		"      --log FILE             append the library's log to FILE (default: no log)\n"
		"      --log-format text|json json: one object a line with level, msg and time (as runc)\n"
		"      --debug                log debug messages too (each CRIU request and runtime\n"
		"                             command); without --log, the log goes to stderr\n"
		"  -h, --help                 this text\n"
		"  -v, --version              print \"stasis VERSION\"\n"
		"accepted for runc compatibility, no effect:\n"
		"      --systemd-cgroup\n"
		"\n"
		"stasis needs CRIU >= %s.  COMMAND --help describes a command.\n",
		STASIS_CRIU_MIN_VERSION_STR);
}

/* a progress line is redrawn at most this often: a terminal is read by a person */
#define PROGRESS_REDRAW_US 200000u

static struct {
	bool shown;
	enum stasis_phase phase;
	uint64_t phase_start_us, drawn_us;
} progress;

static uint64_t cli_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void cli_progress(const struct stasis_progress *p, void *command)
{
	static const char *const what[] = {
		[STASIS_PHASE_DUMP] = "CRIU dumps the container",
		[STASIS_PHASE_WRITE] = "writing the archive",
		[STASIS_PHASE_UNPACK] = "reading and verifying the archive",
		[STASIS_PHASE_RESTORE] = "CRIU restores the container",
	};
	if (cli_globals.shim_flavour || !isatty(STDERR_FILENO) || p->phase < STASIS_PHASE_DUMP ||
	    p->phase > STASIS_PHASE_RESTORE)
		return;
	uint64_t now = cli_now_us();
	bool new_phase = !progress.shown || p->phase != progress.phase;
	if (new_phase) {
		progress.phase = p->phase;
		progress.phase_start_us = now;
	} else if (now - progress.drawn_us < PROGRESS_REDRAW_US && !(p->total && p->done == p->total)) {
		/* at most five redraws a second, but a phase's last count is always shown */
		return;
	}
	progress.shown = true;
	progress.drawn_us = now;
	/* \r and erase-line: the line is redrawn in place */
	fprintf(stderr, "\r\033[Kstasis: %s: %s", (const char *)command, what[p->phase]);
	if (p->done || p->total) {
		fprintf(stderr, "  %llu", (unsigned long long)(p->done >> 20));
		if (p->total)
			fprintf(stderr, " / %llu", (unsigned long long)(p->total >> 20));
		fprintf(stderr, " MiB");
		uint64_t us = now - progress.phase_start_us;
		if (us > PROGRESS_REDRAW_US)
			fprintf(stderr, "  %llu MiB/s",
				(unsigned long long)((p->done >> 20) * 1000000u / us));
	}
	fflush(stderr);
}

void cli_progress_end(void)
{
	if (progress.shown)
		fprintf(stderr, "\r\033[K");
	progress.shown = false;
}

int cli_missing_value(const char *command, const char *flag)
{
	/* both phrasings: podman probes a runtime's restore flags by these words (go's and cobra's) */
	return cli_usage_error(command, "flag needs an argument: %s (it requires an argument)", flag);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "stasis: %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 2;
}

/*
 * One log entry as runc and crun write them with --log-format json: level, msg, RFC 3339 time
 * (to the microsecond: a restore's steps take milliseconds); msg is "<command>: <text>" when
 * command is given.
 */
static void log_json_line(FILE *f, const char *level, const char *command, const char *text)
{
	cleanup_free char *msg = NULL;
	if (asprintf(&msg, "%s%s%s", command ? command : "", command ? ": " : "", text) < 0)
		abort();
	char when[64];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", gmtime_r(&now.tv_sec, &tm));
	snprintf(when + n, sizeof(when) - n, ".%06ldZ", now.tv_nsec / 1000);
	fprintf(f, "{\"level\":\"%s\",\"msg\":", level);
	cli_json_string(f, msg);
	fprintf(f, ",\"time\":\"%s\"}\n", when);
}

int cli_fail(const char *command, struct stasis_error *err)
{
	/* the whole text once, in one write: conmon passes on one read of a failed runtime's stderr */
	cleanup_free char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	cleanup_free char *msg = cli_text(stasis_error_message(err));
	fprintf(f, "%s", msg);
	const char *const *lines = stasis_error_criu_lines(err);
	if (lines[0]) {
		fprintf(f, "\nCRIU log lines that matter:");
		for (size_t i = 0; lines[i]; i++)
			fprintf(f, "\n  %s", lines[i]);
	}
	if (stasis_error_hint(err)) {
		cleanup_free char *hint = cli_text(stasis_error_hint(err));
		fprintf(f, "\nhint: %s", hint);
	}
	if (fclose(f) != 0)
		abort();
	cli_progress_end();
	fprintf(stderr, "stasis: %s: %s\n", command, text);
	fflush(stderr);
	/* an engine reads its runtime's failure from --log: podman one object, containerd the last error */
	FILE *log =
		cli_globals.shim_flavour && cli_globals.log_path ? fopen(cli_globals.log_path, "ae") : NULL;
	if (log) {
		if (cli_globals.log_json)
			log_json_line(log, "error", command, text);
		else
			fprintf(log, "stasis: %s: %s\n", command, text);
		fclose(log);
	}
	stasis_error_free(err);
	return 1;
}

void cli_warn(const char *msg, void *command)
{
	cleanup_free char *text = cli_text(msg);
	if (cli_globals.shim_flavour && strcmp(command, "restore") == 0) {
		/* a restore's stdio is the container's (conmon's, the shim's): its log, when there is one */
		FILE *log = cli_globals.log_path ? fopen(cli_globals.log_path, "ae") : NULL;
		if (!log)
			return;
		if (cli_globals.log_json)
			log_json_line(log, "warning", command, text);
		else
			fprintf(log, "stasis: %s: warning: %s\n", (const char *)command, text);
		fclose(log);
		return;
	}
	cli_progress_end();
	fprintf(stderr, "stasis: %s: warning: %s\n", (const char *)command, text);
}

/* the library's log: to --log FILE (every message) or, with --debug, to stderr */
static void cli_log(enum stasis_log_level level, const char *msg, void *data)
{
	static const char *const names[] = {
		[STASIS_LOG_ERROR] = "error",
		[STASIS_LOG_WARNING] = "warning",
		[STASIS_LOG_INFO] = "info",
		[STASIS_LOG_DEBUG] = "debug",
	};
	const char *name = level >= STASIS_LOG_ERROR && level <= STASIS_LOG_DEBUG ? names[level] : "info";
	FILE *f = cli_globals.log_path ? fopen(cli_globals.log_path, "ae") : stderr;
	if (!f)
		return;
	cleanup_free char *text = cli_text(msg);
	if (cli_globals.log_json) {
		log_json_line(f, name, NULL, text);
	} else {
		fprintf(f, "stasis: %s: %s: %s\n", (const char *)data, name, text);
	}
	if (f != stderr)
		fclose(f);
}

int cli_ctx(const char *command, struct stasis_ctx **ret)
{
	struct stasis_error *err = NULL;
	/*
	 * As an engine's runtime, --log is the engine's: only the failure goes there (podman reads a
	 * failed restore's log as one JSON object), the library's log only with --debug
	 */
	bool logging =
		cli_globals.shim_flavour ? cli_globals.debug : cli_globals.log_path || cli_globals.debug;
	struct stasis_ctx_opts o = {
		.size = sizeof(o),
		.criu_path = cli_globals.criu_path,
		.timeout_ms = cli_globals.timeout_ms,
		.log = logging ? cli_log : NULL,
		.log_data = (void *)command,
		.log_level = cli_globals.debug ? STASIS_LOG_DEBUG : STASIS_LOG_INFO,
		.runc_path = cli_globals.runc_path,
		.crun_path = cli_globals.crun_path,
		.runtime_args = cli_globals.runtime_args,
	};
	if (stasis_ctx_new(&o, ret, &err) < 0)
		return cli_fail(command, err);
	return 0;
}

/* the delegate of a runtime named stasis-<delegate> */
static const char *shim_flavour_of(const char *argv0)
{
	const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
	if (strcmp(base, "stasis-runc") == 0)
		return "runc";
	if (strcmp(base, "stasis-crun") == 0)
		return "crun";
	return NULL;
}

int main(int argc, char **argv)
{
	const char *flavour = argc > 0 ? shim_flavour_of(argv[0]) : NULL;
	if (flavour)
		return shim_main(flavour, argc, argv);

	static const struct option opts[] = {
		{ "criu", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		/* runc's global flags, as podman and CRI-O pass them to a runtime */
		{ "root", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "systemd-cgroup", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	/* '+': stop at the subcommand, whose own options follow it */
	while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli_globals.criu_path = optarg;
			break;
		case 't': {
			char *end = NULL;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || !end || *end || v == 0 || v > 86400)
				return cli_usage_error("--timeout", "expected seconds, got `%s`", optarg);
			cli_globals.timeout_ms = (unsigned int)v * 1000u;
			break;
		}
		case 'r':
			cli_globals.root = optarg;
			break;
		case 'l':
			cli_globals.log_path = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "text"))
				return cli_usage_error("--log-format", "expected text or json, got `%s`",
						       optarg);
			cli_globals.log_json = strcmp(optarg, "json") == 0;
			break;
		case 'd':
			cli_globals.debug = true;
			break;
		case 's':
			/* runc's flag for systemd-managed cgroups: stasis leaves cgroups to the runtime */
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("stasis %s\n", stasis_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name) == 0) {
			int idx = optind;
			/* glibc: optind = 0 fully re-initialises getopt for the subcommand */
			optind = 0;
			return commands[i].fn(argc - idx, argv + idx);
		}
	}
	fprintf(stderr, "stasis: unknown command `%s` (see `stasis --help`)\n", name);
	return 2;
}
