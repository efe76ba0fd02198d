/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `stasis doctor [ID] [--log FILE]`: why checkpoint or restore will fail, or why it failed, and
 * what fixes it.  Exit status 1 when a blocker was found.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

static const char *const sev_name[] = { "info", "needs-flag", "blocker" };

static void json_str(const char *s)
{
	cleanup_free char *text = cli_text(s);
	cli_json_string(stdout, text);
}

static void print_json(const char *what, const struct stasis_report *r)
{
	printf("{\"target\":");
	json_str(what);
	printf(",\"worst\":");
	int w = stasis_report_worst(r);
	if (w < 0)
		printf("null");
	else
		json_str(sev_name[w]);
	printf(",\"findings\":[");
	for (size_t i = 0; i < r->n; i++) {
		const struct stasis_finding *f = &r->findings[i];
		printf("%s{\"id\":", i ? "," : "");
		json_str(f->id);
		printf(",\"severity\":");
		json_str(sev_name[f->severity]);
		printf(",\"subject\":");
		json_str(f->subject);
		printf(",\"cause\":");
		json_str(f->cause);
		printf(",\"fix\":");
		if (f->fix)
			json_str(f->fix);
		else
			printf("null");
		putchar('}');
	}
	printf("]}\n");
}

static void print_human(const char *what, const struct stasis_report *r)
{
	bool tty = isatty(STDOUT_FILENO);
	static const char *const colour[] = { "\033[2m", "\033[33m", "\033[1;31m" };
	static const char *const label[] = { "info      ", "needs flag", "BLOCKER   " };
	printf("%s:\n", what);
	if (!r->n)
		printf("  nothing found\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct stasis_finding *f = &r->findings[i];
		cleanup_free char *cause = cli_text(f->cause);
		cleanup_free char *fix = cli_text(f->fix);
		printf("  %s%s%s  %s%s%s\n", tty ? colour[f->severity] : "", label[f->severity],
		       tty ? "\033[0m" : "", f->subject && f->subject[0] ? f->subject : "",
		       f->subject && f->subject[0] ? ": " : "", cause);
		if (fix)
			printf("              fix: %s\n", fix);
	}
}

static const char usage[] =
	"usage: stasis doctor [--format text|json]\n"
	"       stasis doctor [--format text|json] [--runtime NAME] ID\n"
	"       stasis doctor [--format text|json] --log FILE\n"
	"\n"
	"Without ID: whether this host can checkpoint and restore (CRIU, kernel, cgroups,\n"
	"LSMs, capabilities, space).\n"
	"With ID: what in the running container CRIU will refuse (tracers, devices, sockets,\n"
	"locks, terminals, mounts, host files), without freezing it.\n"
	"With --log FILE: why a CRIU dump.log/restore.log failed.\n"
	"Each finding is a blocker, needs a flag, or info; exit status 1 when a blocker was\n"
	"found.\n"
	"\n"
	"      --format text|json     text (default) or JSON\n"
	"      --runtime NAME         with ID: runc or crun (default: whichever knows ID)\n"
	"      --log FILE             explain the CRIU log FILE\n"
	"  -h, --help                 this text\n";

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "format", required_argument, NULL, 'f' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *log = NULL, *format = "text", *runtime = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			log = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'r':
			runtime = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error("doctor", "--format: expected text or json");
	if (optind + 1 < argc || (log && optind < argc))
		return cli_usage_error("doctor",
				       "give one container ID, or --log FILE, or nothing (the host)");
	struct stasis_report *r = NULL;
	struct stasis_error *err = NULL;
	const char *what;
	int ret;
	struct stasis_ctx *ctx = NULL;
	if (log) {
		what = log;
		ret = stasis_doctor_log(log, &r, &err);
	} else {
		if ((ret = cli_ctx("doctor", &ctx)) != 0)
			return ret;
		if (optind < argc) {
			what = argv[optind];
			struct stasis_doctor_opts o = { .size = sizeof(o),
							.id = what,
							.runtime = runtime,
							.runtime_root = cli_globals.root };
			ret = stasis_doctor_container(ctx, &o, &r, &err);
		} else {
			what = "this host";
			ret = stasis_doctor_host(ctx, &r, &err);
		}
		stasis_ctx_free(ctx);
	}
	if (ret < 0)
		return cli_fail("doctor", err);
	if (strcmp(format, "json") == 0)
		print_json(what, r);
	else
		print_human(what, r);
	ret = stasis_report_worst(r) == STASIS_SEVERITY_BLOCKER ? 1 : 0;
	stasis_report_free(r);
	return ret;
}
