/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library names its options as a program sees them (`opts.tcp_established`); the command
 * line user knows them as flags.  Every library text the CLI prints passes through here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-hooks/cli.h"

static const struct {
	const char *field;
	const char *flag;
} flags[] = {
	{ "bundle", "--bundle" },
	{ "criu_path", "--criu PATH" },
	{ "dump_path", "--dump-memory" },
	{ "export_path", "--export" },
	{ "ext_mount_keys", "--ext-mount-keys" },
	{ "staged", "--staged" },
	{ "ext_unix_sk", "--ext-unix-sk" },
	{ "file_locks", "--file-locks" },
	{ "force", "--force" },
	{ "id", "--name" },
	{ "ignore_rootfs", "--ignore-rootfs" },
	{ "image_path", "--image-path" },
	{ "import_path", "--import" },
	{ "link_remap", "--link-remap" },
	{ "manage_cgroups_mode", "--manage-cgroups-mode" },
	{ "mounts", "--mount" },
	{ "netns_path", "--netns" },
	{ "parent_path", "--parent-path" },
	{ "pid", "--pid" },
	{ "pre_dump", "--pre-dump" },
	{ "rootfs_base", "--rootfs-base" },
	{ "runtime", "--runtime" },
	{ "runtime_root", "--root" },
	{ "search", "--search" },
	{ "search_regex", "--search-regex" },
	{ "shell_job", "--shell-job" },
	{ "state_dir", "--state-dir" },
	{ "tcp_close", "--tcp-close" },
	{ "tcp_established", "--tcp-established" },
	{ "timeout_ms", "--timeout" },
	{ "trust_archive", "--trust-archive" },
	{ "work_path", "--work-path" },
};

#define OPTS_PREFIX "opts."

/* what the library's advice to install CRIU means for someone in the source tree */
#define MAKE_DEPS_ADVICE " (in the stasis source tree, `make deps` fetches one into .deps/criu)"

char *cli_text(const char *text)
{
	if (!text)
		return NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		abort();
	bool criu_advice = false;
	for (const char *p = text; *p;) {
		const char *flag = NULL;
		size_t skip = 0;
		if (strncmp(p, OPTS_PREFIX, strlen(OPTS_PREFIX)) == 0) {
			const char *field = p + strlen(OPTS_PREFIX);
			size_t n = strspn(field, "abcdefghijklmnopqrstuvwxyz_");
			for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && !flag; i++)
				if (strlen(flags[i].field) == n && strncmp(field, flags[i].field, n) == 0)
					flag = flags[i].flag;
			skip = strlen(OPTS_PREFIX) + n;
		}
		if (flag) {
			criu_advice |= strcmp(flag, "--criu PATH") == 0;
			fputs(flag, f);
			p += skip;
		} else {
			fputc(*p++, f);
		}
	}
	if (criu_advice)
		fputs(MAKE_DEPS_ADVICE, f);
	if (fclose(f) != 0)
		abort();
	return out;
}

void cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
