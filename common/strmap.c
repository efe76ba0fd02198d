/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common/strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct slot {
	char *key; /* NULL: empty */
	uint64_t hash;
	size_t value;
};

struct strmap {
	struct slot *slots;
	size_t cap; /* a power of two */
	size_t n;
	size_t probes; /* mutable through a const map: counting is not a change of its contents */
};

#define STRMAP_MIN_CAP 64

/* FNV-1a, 64 bit: fast on short names, and names are not chosen to collide with a secret seed */
static uint64_t hash_of(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

struct strmap *strmap_new(void)
{
	struct strmap *m = xzalloc(sizeof(*m));
	m->cap = STRMAP_MIN_CAP;
	m->slots = xreallocarray(NULL, m->cap, sizeof(*m->slots));
	memset(m->slots, 0, m->cap * sizeof(*m->slots));
	return m;
}

struct strmap *strmap_free(struct strmap *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
	return NULL;
}

static struct slot *find(const struct strmap *m, const char *key, uint64_t h)
{
	struct strmap *counted = (struct strmap *)m;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];
		if (!s->key)
			return s;
		if (s->hash == h) {
			counted->probes++;
			if (strcmp(s->key, key) == 0)
				return s;
		}
	}
}

static void grow(struct strmap *m)
{
	struct slot *old = m->slots;
	size_t old_cap = m->cap;
	m->cap *= 2;
	m->slots = xreallocarray(NULL, m->cap, sizeof(*m->slots));
	memset(m->slots, 0, m->cap * sizeof(*m->slots));
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].key)
			continue;
		size_t j = old[i].hash & (m->cap - 1);
		while (m->slots[j].key)
			j = (j + 1) & (m->cap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

int strmap_put(struct strmap *m, const char *key, size_t value)
{
	/* at most half full: probe sequences stay short */
	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	uint64_t h = hash_of(key);
	struct slot *s = find(m, key, h);
	if (s->key)
		return -EEXIST;
	*s = (struct slot){ .key = xstrdup(key), .hash = h, .value = value };
	m->n++;
	return 0;
}

bool strmap_get(const struct strmap *m, const char *key, size_t *ret_value)
{
	const struct slot *s = find(m, key, hash_of(key));
	if (!s->key)
		return false;
	if (ret_value)
		*ret_value = s->value;
	return true;
}

size_t strmap_size(const struct strmap *m)
{
	return m->n;
}

size_t strmap_probes(const struct strmap *m)
{
	return m->probes;
}
