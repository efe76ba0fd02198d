/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `stasis doctor [ID] [--log FILE]`: why checkpoint or restore will fail, or why it failed, and
 * what fixes it.  Exit status 1 when a blocker was found.  The host's report is two of the
 * library's, printed as one: the host itself and the container engines that run stasis.
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

/* the reports as one: the worst severity of them all */
static int worst_of(struct stasis_report *const *r, size_t n)
{
	int worst = -1;
	for (size_t k = 0; k < n; k++)
		if (stasis_report_worst(r[k]) > worst)
			worst = stasis_report_worst(r[k]);
	return worst;
}

static void print_json(const char *what, struct stasis_report *const *reports, size_t n_reports)
{
	printf("{\"target\":");
	json_str(what);
	printf(",\"worst\":");
	int w = worst_of(reports, n_reports);
	if (w < 0)
		printf("null");
	else
		json_str(sev_name[w]);
	printf(",\"findings\":[");
	bool first = true;
	for (size_t k = 0; k < n_reports; k++)
		for (size_t i = 0; i < reports[k]->n; i++) {
			const struct stasis_finding *f = &reports[k]->findings[i];
			printf("%s{\"id\":", first ? "" : ",");
			first = false;
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

static void print_human(const char *what, struct stasis_report *const *reports, size_t n_reports)
{
	bool tty = isatty(STDOUT_FILENO);
	static const char *const colour[] = { "\033[2m", "\033[33m", "\033[1;31m" };
	static const char *const label[] = { "info      ", "needs flag", "BLOCKER   " };
	printf("%s:\n", what);
	if (worst_of(reports, n_reports) < 0)
		printf("  nothing found\n");
	for (size_t k = 0; k < n_reports; k++)
		for (size_t i = 0; i < reports[k]->n; i++) {
			const struct stasis_finding *f = &reports[k]->findings[i];
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
	"usage: stasis doctor [--format text|json] [--config-root DIR]\n"
	"       stasis doctor [--format text|json] [--runtime NAME] ID\n"
	"       stasis doctor [--format text|json] --log FILE\n"
	"\n"
	"Without ID: whether this host can checkpoint and restore (CRIU, kernel, cgroups,\n"
	"LSMs, capabilities, space), and whether podman, containerd and CRI-O are\n"
	"configured to run stasis as their runtime (stasis-crun, stasis-runc).\n"
	"With ID: what in the running container CRIU will refuse (tracers, devices, sockets,\n"
	"locks, terminals, mounts, host files), without freezing it.\n"
	"With --log FILE: why a CRIU dump.log/restore.log failed.\n"
	"Each finding is a blocker, needs a flag, or info; exit status 1 when a blocker was\n"
	"found (with --log: whenever the log's run failed).\n"
	"\n"
	"      --format text|json     text (default) or JSON\n"
	"      --runtime NAME         with ID: runc or crun (default: whichever knows ID)\n"
	"      --config-root DIR      without ID: read the engines' configuration under DIR\n"
	"                             (/etc/containers/... is DIR/etc/containers/...)\n"
	"      --log FILE             explain the CRIU log FILE\n"
	"  -h, --help                 this text\n";

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log", required_argument, NULL, 'l' },     { "format", required_argument, NULL, 'f' },
		{ "runtime", required_argument, NULL, 'r' }, { "config-root", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	const char *log = NULL, *format = "text", *runtime = NULL, *config_root = NULL;
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
		case 'C':
			config_root = optarg;
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
	if (config_root && (log || optind < argc))
		return cli_usage_error("doctor", "--config-root is for the host's report (no ID, no --log)");
	/* the host's report, then the engines' */
	struct stasis_report *r = NULL, *engines = NULL;
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
			struct stasis_doctor_engines_opts o = { .size = sizeof(o),
								.config_root = config_root };
			if (ret == 0)
				ret = stasis_doctor_engines(&o, &engines, &err);
		}
		stasis_ctx_free(ctx);
	}
	if (ret < 0) {
		stasis_report_free(r);
		return cli_fail("doctor", err);
	}
	struct stasis_report *reports[] = { r, engines };
	size_t n_reports = engines ? 2 : 1;
	if (strcmp(format, "json") == 0)
		print_json(what, reports, n_reports);
	else
		print_human(what, reports, n_reports);
	ret = worst_of(reports, n_reports) == STASIS_SEVERITY_BLOCKER ? 1 : 0;
	stasis_report_free(r);
	stasis_report_free(engines);
	return ret;
}
