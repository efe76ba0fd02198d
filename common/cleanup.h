/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_COMMON_CLEANUP_H
#define STASIS_COMMON_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* NULL-terminated string vectors */
static inline void strv_freep(char ***strv)
{
	if (*strv) {
		for (char **s = *strv; *s; s++)
			free(*s);
		free(*strv);
	}
}

#define cleanup_free __attribute__((cleanup(freep)))
#define cleanup_close __attribute__((cleanup(closep)))
#define cleanup_fclose __attribute__((cleanup(fclosep)))
#define cleanup_closedir __attribute__((cleanup(closedirp)))
#define cleanup_strv __attribute__((cleanup(strv_freep)))

#define TAKE_PTR(p)                 \
	({                          \
		typeof(p) _p = (p); \
		(p) = NULL;         \
		_p;                 \
	})
#define TAKE_FD(fd)             \
	({                      \
		int _fd = (fd); \
		(fd) = -1;      \
		_fd;            \
	})

/*
 * Cleanup for the project's own types: DEFINE_CLEANUP(struct x *, x_free) defines x_freep, so
 * that `cleanup_with(x_free) struct x *v = NULL;` frees v on every way out of its scope.  Destructors
 * accept NULL.  DEFINE_CLEANUP_CLEAR(struct x, x_clear) does the same for a struct whose owned
 * members x_clear releases: `cleanup_with(x_clear) struct x v = { 0 };`.
 */
#define DEFINE_CLEANUP(type, fn)          \
	static inline void fn##p(type *p) \
	{                                 \
		if (*p)                   \
			(void)fn(*p);     \
	}
#define DEFINE_CLEANUP_CLEAR(type, fn)    \
	static inline void fn##p(type *p) \
	{                                 \
		fn(p);                    \
	}
#define cleanup_with(fn) __attribute__((cleanup(fn##p)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
