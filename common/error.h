/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_COMMON_ERROR_H
#define STASIS_COMMON_ERROR_H

#include <stdarg.h>

#include "common/cleanup.h"
#include "include/stasis.h"

struct stasis_error {
	int errnum;
	char *msg;
	char *criu_log;
	int criu_errno;
	char *criu_errmsg;
	char **criu_lines;
	char *hint;
};

/*
 * Sets *err (if err is not NULL and *err is still empty) to "<fmt>: strerror(errnum)" and returns
 * -errnum.  errnum may be given positive or negative.
 */
int error_set(struct stasis_error **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same without the strerror suffix, for causes that are not a system call's. */
int error_setx(struct stasis_error **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "<fmt>: " to the message of *err and returns ret (a negative errno). */
int error_wrap(struct stasis_error **err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Hands an inner call's error to the caller: *err takes inner when it is still empty (the first
 * error is the one that explains), else inner is freed.  *inner is NULL afterwards.  Returns ret.
 */
int error_adopt(struct stasis_error **err, struct stasis_error **inner, int ret);
/* errno when a failed call set one, else fallback: for checks that fail without a system call. */
int errno_or(int fallback);
DEFINE_CLEANUP(struct stasis_error *, stasis_error_free)

/* Takes ownership of hint. */
void error_set_hint(struct stasis_error **err, char *hint);

#endif
