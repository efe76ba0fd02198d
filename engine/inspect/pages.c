/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fetching pieces of processes' memory from their page images: argv, the environment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/inspect/inspect-internal.h"
#include "engine/names.h"

char *pages_image_name(const struct img_pagemap *pm)
{
	return xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_PAGES), pm->pages_id);
}

int inspect_load_pagemap(struct image_set *s, unsigned pid, struct img_pagemap *ret,
			 struct stasis_error **err)
{
	cleanup_free char *name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_PAGEMAP), pid);
	struct image_blob b;
	int r = image_set_image(s, name, &b, err);
	if (r == -ENOENT)
		return error_setx(err, ENOENT, "`%s`: no %s: the checkpoint holds no memory of pid %u",
				  s->path, name, pid);
	if (r < 0)
		return r;
	return image_read_pagemap(&b, ret, err);
}

int inspect_load_pstree(struct image_set *s, struct img_task **ret, size_t *ret_n, struct stasis_error **err)
{
	struct image_blob b;
	int r = image_set_image(s, CRIU_IMG_PSTREE, &b, err);
	if (r == -ENOENT)
		return error_setx(err, ENOENT, "`%s`: no " CRIU_IMG_PSTREE, s->path);
	if (r < 0)
		return r;
	return image_read_pstree(&b, ret, ret_n, err);
}

static struct mem_plan *plan_for(struct mem_plans *plans, const struct img_pagemap *pm)
{
	cleanup_free char *name = pages_image_name(pm);
	for (size_t i = 0; i < plans->n; i++)
		if (strcmp(plans->v[i].image, name) == 0)
			return &plans->v[i];
	plans->v = xgrow(plans->v, plans->n, sizeof(*plans->v));
	plans->v[plans->n] = (struct mem_plan){ .image = TAKE_PTR(name) };
	return &plans->v[plans->n++];
}

uint64_t mem_plan_range(struct mem_plans *plans, const struct img_pagemap *pm, uint64_t start, uint64_t end,
			unsigned char *dst)
{
	struct mem_plan *p = plan_for(plans, pm);
	uint64_t missing = 0;
	memset(dst, 0, end - start);
	for (uint64_t a = start; a < end;) {
		uint64_t page_end = (a / IMAGE_PAGE_SIZE + 1) * IMAGE_PAGE_SIZE;
		uint64_t stop = page_end < end ? page_end : end;
		uint64_t off;
		if (pagemap_locate(pm, a, &off) == 1) {
			p->pieces = xgrow(p->pieces, p->n, sizeof(*p->pieces));
			p->pieces[p->n++] = (struct mem_piece){ .file_off = off,
								.len = (size_t)(stop - a),
								.dst = dst + (a - start) };
		} else {
			missing += stop - a;
		}
		a = stop;
	}
	return missing;
}

static int piece_cmp(const void *a, const void *b)
{
	const struct mem_piece *x = a, *y = b;
	return x->file_off < y->file_off ? -1 : x->file_off > y->file_off;
}

struct run_ctx {
	struct mem_plans *plans;
	size_t *next; /* per plan: the first piece not yet complete */
};

static int copy_chunk(void *data, size_t which, uint64_t off, const unsigned char *buf, size_t len,
		      struct stasis_error **err)
{
	(void)err;
	struct run_ctx *c = data;
	struct mem_plan *p = &c->plans->v[which];
	uint64_t end = off + len;
	size_t i = c->next[which];
	while (i < p->n && p->pieces[i].file_off + p->pieces[i].len <= off)
		i++;
	c->next[which] = i;
	for (; i < p->n && p->pieces[i].file_off < end; i++) {
		struct mem_piece *pc = &p->pieces[i];
		uint64_t from = pc->file_off > off ? pc->file_off : off;
		uint64_t to = pc->file_off + pc->len < end ? pc->file_off + pc->len : end;
		if (from < to)
			memcpy(pc->dst + (from - pc->file_off), buf + (from - off), (size_t)(to - from));
	}
	return c->next[which] >= p->n ? 1 : 0;
}

int mem_plans_run(struct image_set *s, struct mem_plans *plans, struct stasis_error **err)
{
	if (plans->n == 0)
		return 0;
	cleanup_free char **names = xreallocarray(NULL, plans->n, sizeof(char *));
	cleanup_free size_t *next = xreallocarray(NULL, plans->n, sizeof(size_t));
	for (size_t i = 0; i < plans->n; i++) {
		qsort(plans->v[i].pieces, plans->v[i].n, sizeof(struct mem_piece), piece_cmp);
		names[i] = plans->v[i].image;
		next[i] = 0;
	}
	struct run_ctx c = { .plans = plans, .next = next };
	return image_set_stream(s, names, plans->n, copy_chunk, &c, err);
}

void mem_plans_clear(struct mem_plans *plans)
{
	for (size_t i = 0; i < plans->n; i++) {
		free(plans->v[i].image);
		free(plans->v[i].pieces);
	}
	free(plans->v);
	*plans = (struct mem_plans){ 0 };
}
