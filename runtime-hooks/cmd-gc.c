/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

static const char usage[] =
	"usage: stasis gc\n"
	"\n"
	"Finds what checkpoints killed before they finished (their guard too) left behind and\n"
	"undoes it: a container left frozen is thawed and runs on, temporary images and archives\n"
	"are removed.  Checkpoints still running are never touched.  Also removes the lazy-restore\n"
	"lines (/run/stasis/@lazy) of runtime-owned containers that are gone.  Prints what it did.\n";

static void print_report(const char *msg, void *data)
{
	(void)data;
	cleanup_free char *text = cli_text(msg);
	printf("%s\n", text);
}

int cmd_gc(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc)
		return cli_usage_error("gc", "takes no arguments");
	struct stasis_gc_opts o = { .size = sizeof(o), .report = print_report };
	struct stasis_error *err = NULL;
	int n = stasis_gc(NULL, &o, &err);
	if (n < 0)
		return cli_fail("gc", err);
	if (n == 0)
		printf("nothing left behind\n");
	return 0;
}
