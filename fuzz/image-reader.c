/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the CRIU image reader: the first byte picks the image kind, the rest is the
 * file.  Any input must give a value or an error, never a crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "engine/images/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the first byte's reader, in scripts/fuzz.sh's order */
static const char *const names[] = {
	"inventory.img", "pstree.img",	 "core-1.img", "ids-1.img",	    "fs-1.img",	  "mm-1.img",
	"pagemap-1.img", "fdinfo-1.img", "files.img",  "mountpoints-1.img", "stats-dump",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *name = names[data[0] % (sizeof(names) / sizeof(names[0]))];
	struct image_blob b = { .name = name, .data = data + 1, .len = size - 1 };
	struct stasis_error *err = NULL;
	image_parse_named(name, &b, &err);
	err = stasis_error_free(err);
	/* the page arithmetic on whatever pagemap parsed */
	struct img_pagemap pm;
	if (strcmp(name, "pagemap-1.img") == 0 && image_read_pagemap(&b, &pm, &err) == 0) {
		uint64_t off;
		pagemap_locate(&pm, 0x400000, &off);
		pagemap_pages_bytes(&pm);
		img_pagemap_clear(&pm);
	}
	stasis_error_free(err);
	return 0;
}
