/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common/parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

int parse_u64(const char *s, uint64_t *ret)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_int(const char *s, int *ret)
{
	if (!s)
		return -EINVAL;
	int neg = (*s == '-');
	uint64_t v;
	int r = parse_u64(s + neg, &v);
	if (r < 0)
		return r;
	if (v > (uint64_t)INT_MAX + (uint64_t)neg)
		return -ERANGE;
	*ret = neg ? (int)(-(int64_t)v) : (int)v;
	return 0;
}

int parse_uint(const char *s, unsigned int *ret)
{
	uint64_t v;
	int r = parse_u64(s, &v);
	if (r < 0)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;
	*ret = (unsigned int)v;
	return 0;
}

int parse_pid(const char *s, pid_t *ret)
{
	int v;
	int r = parse_int(s, &v);
	if (r < 0)
		return r;
	if (v <= 0)
		return -ERANGE;
	*ret = v;
	return 0;
}
