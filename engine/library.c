/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every part of the library shares: its version, cancelling, option structs, warnings. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"

#ifndef STASIS_VERSION
#define STASIS_VERSION "0.1.0"
#endif

const char *stasis_version(void)
{
	return STASIS_VERSION;
}

void stasis_ctx_cancel(struct stasis_ctx *ctx)
{
	/* async-signal-safe: one store to a sig_atomic_t; the long waits look at it */
	if (ctx)
		ctx->cancelled = 1;
}

int opts_copy(void *dst, size_t dst_size, const void *src, const char *what, struct stasis_error **err)
{
	memset(dst, 0, dst_size);
	if (!src)
		return 0;
	size_t src_size;
	memcpy(&src_size, src, sizeof(src_size));
	if (src_size < sizeof(size_t))
		return error_setx(err, EINVAL,
				  "%s: the options' size field is %zu (set it to the struct's size)", what,
				  src_size);
	/* a newer caller's fields this library does not know are fine as long as they are unset */
	for (size_t i = dst_size; i < src_size; i++)
		if (((const unsigned char *)src)[i])
			return error_setx(err, E2BIG,
					  "%s: the options set fields this libstasis (%s) does not know",
					  what, stasis_version());
	memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
	return 0;
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

void ctx_log(const struct stasis_ctx *ctx, enum stasis_log_level level, const char *fmt, ...)
{
	if (!ctx || !ctx->log || level > ctx->log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	ctx->log(level, msg, ctx->log_data);
}

void progress_tell(const struct progress_sink *s, uint64_t done, uint64_t total)
{
	if (!s->fn)
		return;
	const struct stasis_progress p = { .phase = s->phase, .done = done, .total = total };
	s->fn(&p, s->data);
}

void progress_tell_arc(uint64_t done, uint64_t total, void *sink)
{
	progress_tell(sink, done, total);
}

void warn_to(void (*fn)(const char *msg, void *data), void *data, const char *fmt, va_list ap)
{
	if (!fn)
		return;
	cleanup_free char *msg = xvasprintf(fmt, ap);
	fn(msg, data);
}
