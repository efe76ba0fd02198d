/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `stasis hook NAME`: the OCI hooks stasis puts into the bundles it builds; the runtime runs
 * them with the container's state on stdin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime-hooks/cli.h"

/* an OCI state is a few hundred bytes: anything near this is not one */
#define HOOK_STATE_MAX (1u << 20)

static const char usage[] =
	"usage: stasis hook " STASIS_HOOK_LOOPBACK_UP " < STATE\n"
	"\n"
	"Run by the OCI runtime as a createRuntime hook in bundles stasis restore builds: sets\n"
	"loopback up in the container's network namespace (runc restores an owned one with\n"
	"loopback down).\n";

int cmd_hook(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : 2;
	}
	char *buf = malloc(HOOK_STATE_MAX);
	if (!buf)
		return 1;
	size_t len = 0;
	while (len < HOOK_STATE_MAX) {
		ssize_t n = read(STDIN_FILENO, buf + len, HOOK_STATE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	struct stasis_error *err = NULL;
	int r = stasis_hook(argv[1], buf, len, &err);
	free(buf);
	return r < 0 ? cli_fail("hook", err) : 0;
}
