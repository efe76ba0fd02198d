/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the mountinfo parser: the input as /proc/PID/mountinfo text, then the
 * lookups the planner makes on the table.  Any input must give a table or an error, never a crash,
 * a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the kernel's text has no NUL: the parser takes a string */
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct mnt_table t = { 0 };
	struct stasis_error *err = NULL;
	if (mnt_table_parse(text, "mountinfo", &t, &err) == 0) {
		mnt_table_find(&t, "/");
		for (size_t i = 0; i < t.n; i++) {
			mnt_table_find(&t, t.e[i].mountpoint);
			char *v = mnt_option_value(t.e[i].super_opts, "lowerdir");
			free(v);
		}
		mnt_table_clear(&t);
	}
	stasis_error_free(err);
	free(text);
	return 0;
}
