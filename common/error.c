/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

static int set_message(struct stasis_error **err, int errnum, char *msg)
{
	if (errnum < 0)
		errnum = -errnum;
	if (errnum == 0)
		errnum = EIO;
	if (!err || *err) {
		free(msg);
		return -errnum;
	}
	struct stasis_error *e = xzalloc(sizeof(*e));
	e->errnum = errnum;
	e->msg = msg;
	*err = e;
	return -errnum;
}

int error_set(struct stasis_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *ctx = xvasprintf(fmt, ap);
	va_end(ap);
	int e = errnum < 0 ? -errnum : errnum;
	return set_message(err, errnum, xasprintf("%s: %s", ctx, strerror(e ? e : EIO)));
}

int error_setx(struct stasis_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return set_message(err, errnum, msg);
}

int error_wrap(struct stasis_error **err, int ret, const char *fmt, ...)
{
	if (!err || !*err)
		return ret;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *ctx = xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
	free((*err)->msg);
	(*err)->msg = msg;
	return ret;
}

int error_adopt(struct stasis_error **err, struct stasis_error **inner, int ret)
{
	if (err && !*err)
		*err = *inner;
	else
		stasis_error_free(*inner);
	*inner = NULL;
	return ret;
}

int errno_or(int fallback)
{
	return errno > 0 ? errno : fallback;
}

void error_set_hint(struct stasis_error **err, char *hint)
{
	if (!err || !*err) {
		free(hint);
		return;
	}
	free((*err)->hint);
	(*err)->hint = hint;
}

int stasis_error_errno(const struct stasis_error *e)
{
	return e ? e->errnum : 0;
}

const char *stasis_error_message(const struct stasis_error *e)
{
	return e ? e->msg : "";
}

const char *stasis_error_criu_log(const struct stasis_error *e)
{
	return e ? e->criu_log : NULL;
}

int stasis_error_criu_errno(const struct stasis_error *e)
{
	return e ? e->criu_errno : 0;
}

const char *stasis_error_criu_errmsg(const struct stasis_error *e)
{
	return e ? e->criu_errmsg : NULL;
}

const char *const *stasis_error_criu_lines(const struct stasis_error *e)
{
	static const char *const none[] = { NULL };
	return (e && e->criu_lines) ? (const char *const *)e->criu_lines : none;
}

const char *stasis_error_hint(const struct stasis_error *e)
{
	return e ? e->hint : NULL;
}

struct stasis_error *stasis_error_free(struct stasis_error *e)
{
	if (!e)
		return NULL;
	free(e->msg);
	free(e->criu_log);
	free(e->criu_errmsg);
	strv_freep(&e->criu_lines);
	free(e->hint);
	free(e);
	return NULL;
}
