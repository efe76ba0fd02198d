/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A string -> index hash map (open addressing): archive member names are looked up once per
 * member, so 100,000 members cost 100,000 lookups, never 100,000 squared comparisons.
 */
#ifndef STASIS_COMMON_STRMAP_H
#define STASIS_COMMON_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cleanup.h"

struct strmap;

struct strmap *strmap_new(void);
struct strmap *strmap_free(struct strmap *m);
DEFINE_CLEANUP(struct strmap *, strmap_free)

/* Adds key (copied) with value: 0, or -EEXIST when key is there already (its value stays). */
int strmap_put(struct strmap *m, const char *key, size_t value);
/* Whether key is there; its value into *ret_value (may be NULL). */
bool strmap_get(const struct strmap *m, const char *key, size_t *ret_value);
size_t strmap_size(const struct strmap *m);
/* Key comparisons made so far: tests check that lookups stay constant-time. */
size_t strmap_probes(const struct strmap *m);

#endif
