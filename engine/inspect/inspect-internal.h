/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/inspect/: what a checkpoint holds, read through the image set without extracting or
 * restoring anything.  inspect.c builds the view (processes, files, sockets, mounts, stats, rootfs
 * diff), pages.c and memory.c read process memory from the page images, diff.c compares two
 * checkpoints, json.c writes them out, verify.c is `stasis verify`.
 */
#ifndef STASIS_ENGINE_INSPECT_INTERNAL_H
#define STASIS_ENGINE_INSPECT_INTERNAL_H

#include "engine/images/images-internal.h"
#include "include/stasis.h"

/* argv or the environment longer than this is cut (the kernel's own ARG_MAX is far below) */
#define INSPECT_ARGS_MAX (1u << 20)

/* bytes of one process' memory to fetch from its pages image: [start, end) into dst */
struct mem_piece {
	uint64_t file_off;
	size_t len;
	unsigned char *dst;
};

/* what to fetch from one pages-N.img */
struct mem_plan {
	char *image; /* "pages-1.img" */
	struct mem_piece *pieces;
	size_t n;
};

struct mem_plans {
	struct mem_plan *v;
	size_t n;
};

/*
 * Adds the pieces that fill dst with [start, end) of a process' memory from the pagemap's pages
 * image.  Returns the number of bytes the checkpoint does not hold (dst is zeroed there).
 */
uint64_t mem_plan_range(struct mem_plans *plans, const struct img_pagemap *pm, uint64_t start, uint64_t end,
			unsigned char *dst);
/* Fetches every planned piece, one pass over the checkpoint. */
int mem_plans_run(struct image_set *s, struct mem_plans *plans, struct stasis_error **err);
void mem_plans_clear(struct mem_plans *plans);

/* "pages-<id>.img" for a pagemap */
char *pages_image_name(const struct img_pagemap *pm);

/* loads pstree.img (at least one task, or an error) */
int inspect_load_pstree(struct image_set *s, struct img_task **ret, size_t *ret_n, struct stasis_error **err);
/* loads pagemap-<pid>.img */
int inspect_load_pagemap(struct image_set *s, unsigned pid, struct img_pagemap *ret,
			 struct stasis_error **err);

#endif
