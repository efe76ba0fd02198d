/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

static const char *yesno(bool v)
{
	return v ? "yes" : "no";
}

int cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: stasis version\n\nPrints the versions of stasis, CRIU and the kernel, "
			       "and what CRIU's FEATURE_CHECK reports.\n");
			return 0;
		}
		return 2;
	}
	struct utsname u;
	uname(&u);
	printf("stasis:  %s\n", stasis_version());
	printf("kernel:  %s %s\n", u.release, u.machine);

	struct stasis_ctx *ctx = NULL;
	int r = cli_ctx("version", &ctx);
	if (r)
		return r;
	struct stasis_error *err = NULL;
	struct stasis_criu_info info = { .size = sizeof(info) };
	if (stasis_criu_info(ctx, &info, &err) < 0) {
		stasis_ctx_free(ctx);
		return cli_fail("version", err);
	}
	printf("criu:    %d.%d.%d (%s)%s\n", info.major, info.minor, info.sublevel, stasis_ctx_criu_path(ctx),
	       info.version < STASIS_CRIU_MIN_VERSION
		       ? " too old: stasis needs >= " STASIS_CRIU_MIN_VERSION_STR
		       : "");
	if (info.features_known)
		printf("features: mem_track=%s lazy_pages=%s pidfd_store=%s\n", yesno(info.mem_track),
		       yesno(info.lazy_pages), yesno(info.pidfd_store));
	else
		printf("features: unknown (CRIU's FEATURE_CHECK failed on this kernel)\n");
	if (info.features_known && !info.mem_track)
		printf("          no memory tracking: pre-dump and incremental checkpoints are not "
		       "possible on this kernel\n");
	stasis_ctx_free(ctx);
	return 0;
}
