/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "runtime-hooks/cli.h"

static const char usage[] =
	"usage: stasis delete [-f | --force] [--state-dir DIR] ID\n"
	"\n"
	"Removes a container stasis restored, and nothing else: its runtime deletes it (runc,\n"
	"crun) or stasis stops it (--force kills a running one), then stasis unmounts and removes\n"
	"its rootfs overlay, network namespace and state directory.  A container stasis did not\n"
	"restore, and a directory stasis did not mark as its own, are left alone; a --state-dir\n"
	"you made for the restore is emptied of what stasis put there and stays.  (--runtime is\n"
	"accepted and ignored: stasis' record names the runtime.)\n";

int cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stasis_delete_opts o = { .size = sizeof(o), .runtime_root = cli_globals.root };
	int c;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.force = true;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		case 'r':
			o.runtime = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("delete", "expected one container ID");
	o.id = argv[optind];
	struct stasis_error *err = NULL;
	if (stasis_delete(NULL, &o, &err) < 0)
		return cli_fail("delete", err);
	return 0;
}
