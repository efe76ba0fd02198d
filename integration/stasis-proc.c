/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test driver for the library's bare-process operations:
 *   stasis-proc dump PID IMAGES_DIR [leave-running]
 *   stasis-proc pre-dump PID IMAGES_DIR
 *   stasis-proc restore IMAGES_DIR         (prints the restored pid)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/stasis.h"

static int fail(struct stasis_error *err)
{
	fprintf(stderr, "stasis-proc: %s\n", stasis_error_message(err));
	for (const char *const *l = stasis_error_criu_lines(err); *l; l++)
		fprintf(stderr, "  %s\n", *l);
	stasis_error_free(err);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: stasis-proc dump|pre-dump PID DIR [leave-running] | restore DIR\n");
		return 2;
	}
	struct stasis_error *err = NULL;
	struct stasis_ctx *ctx = NULL;
	if (stasis_ctx_new(NULL, &ctx, &err) < 0)
		return fail(err);
	struct stasis_process_opts o = { .size = sizeof(o) };
	int r;
	if (strcmp(argv[1], "restore") == 0) {
		o.images_dir = argv[2];
		pid_t pid = 0;
		r = stasis_process_restore(ctx, &o, &pid, &err);
		if (r == 0)
			printf("%d\n", (int)pid);
	} else if (argc >= 4) {
		o.pid = atoi(argv[2]);
		o.images_dir = argv[3];
		o.leave_running = argc > 4 && strcmp(argv[4], "leave-running") == 0;
		if (strcmp(argv[1], "pre-dump") == 0)
			r = stasis_process_pre_dump(ctx, &o, &err);
		else
			r = stasis_process_dump(ctx, &o, &err);
	} else {
		fprintf(stderr, "stasis-proc: bad arguments\n");
		return 2;
	}
	stasis_ctx_free(ctx);
	return r < 0 ? fail(err) : 0;
}
