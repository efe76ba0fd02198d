/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "work-path", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *work = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			work = optarg;
			break;
		case 'h':
			printf("usage: stasis check [--work-path DIR]\n\nRuns CRIU's own host check over "
			       "RPC (check.log goes to DIR, default a temporary directory).\n");
			return 0;
		default:
			return 2;
		}
	}
	struct stasis_ctx *ctx = NULL;
	int r = cli_ctx("check", &ctx);
	if (r)
		return r;
	struct stasis_error *err = NULL;
	struct stasis_criu_info info = { .size = sizeof(info) };
	if (stasis_criu_require(ctx, &err) < 0 || stasis_criu_info(ctx, &info, &err) < 0) {
		stasis_ctx_free(ctx);
		return cli_fail("check", err);
	}
	char tmpl[] = "/tmp/stasis-check-XXXXXX";
	if (!work) {
		work = mkdtemp(tmpl);
		if (!work) {
			perror("stasis: check: mkdtemp");
			stasis_ctx_free(ctx);
			return 1;
		}
	}
	r = stasis_criu_check(ctx, work, &err);
	if (r < 0) {
		stasis_ctx_free(ctx);
		return cli_fail("check", err);
	}
	printf("CRIU %d.%d.%d (%s): looks good\n", info.major, info.minor, info.sublevel,
	       stasis_ctx_criu_path(ctx));
	if (info.features_known && !info.mem_track)
		printf("note: memory tracking is off on this kernel: no pre-dump or incremental "
		       "checkpoints\n");
	if (work == tmpl) {
		cleanup_free char *log = NULL;
		if (asprintf(&log, "%s/check.log", tmpl) > 0)
			unlink(log);
		rmdir(tmpl);
	}
	stasis_ctx_free(ctx);
	return 0;
}
