/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the CRIU image reader: the first byte picks the image kind, the rest is the
 * file.  Any input must give a value or an error, never a crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/error.h"
#include "engine/image-reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct image_blob b = { .name = "fuzz.img", .data = data + 1, .len = size - 1 };
	struct stasis_error *err = NULL;
	switch (data[0] % 11) {
	case 0: {
		struct img_inventory v;
		if (image_read_inventory(&b, &v, &err) == 0)
			img_inventory_clear(&v);
		break;
	}
	case 1: {
		struct img_task *v;
		size_t n;
		if (image_read_pstree(&b, &v, &n, &err) == 0)
			img_tasks_free(v, n);
		break;
	}
	case 2: {
		struct img_core v;
		if (image_read_core(&b, &v, &err) == 0)
			img_core_clear(&v);
		break;
	}
	case 3: {
		struct img_ids v;
		image_read_ids(&b, &v, &err);
		break;
	}
	case 4: {
		struct img_fs v;
		image_read_fs(&b, &v, &err);
		break;
	}
	case 5: {
		struct img_mm v;
		if (image_read_mm(&b, &v, &err) == 0)
			img_mm_clear(&v);
		break;
	}
	case 6: {
		struct img_pagemap v;
		if (image_read_pagemap(&b, &v, &err) == 0) {
			uint64_t off;
			pagemap_locate(&v, 0x400000, &off);
			pagemap_pages_bytes(&v);
			img_pagemap_clear(&v);
		}
		break;
	}
	case 7: {
		struct img_fd *v;
		size_t n;
		if (image_read_fdinfo(&b, &v, &n, &err) == 0)
			free(v);
		break;
	}
	case 8: {
		struct img_file *v;
		size_t n;
		if (image_read_files(&b, &v, &n, &err) == 0)
			img_files_free(v, n);
		break;
	}
	case 9: {
		struct img_mount *v;
		size_t n;
		if (image_read_mounts(&b, &v, &n, &err) == 0)
			img_mounts_free(v, n);
		break;
	}
	default: {
		struct img_stats v;
		image_read_stats(&b, &v, &err);
		break;
	}
	}
	stasis_error_free(err);
	return 0;
}
