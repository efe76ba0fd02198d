/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every part of the library shares: its version, option structs, warnings. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"

#ifndef STASIS_VERSION
#define STASIS_VERSION "0.1.0"
#endif

const char *stasis_version(void)
{
	return STASIS_VERSION;
}

void opts_copy(void *dst, size_t dst_size, const void *src, size_t src_size)
{
	memset(dst, 0, dst_size);
	if (src)
		memcpy(dst, src, src_size && src_size < dst_size ? src_size : dst_size);
}

int result_fill(void *dst, const void *src, size_t src_size)
{
	size_t dst_size;
	memcpy(&dst_size, dst, sizeof(dst_size));
	if (dst_size < sizeof(size_t))
		return -EINVAL;
	size_t n = dst_size < src_size ? dst_size : src_size;
	memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t), n - sizeof(size_t));
	if (dst_size > n)
		memset((char *)dst + n, 0, dst_size - n);
	return 0;
}

void warn_to(void (*fn)(const char *msg, void *data), void *data, const char *fmt, va_list ap)
{
	if (!fn)
		return;
	cleanup_free char *msg = xvasprintf(fmt, ap);
	fn(msg, data);
}
