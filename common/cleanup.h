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

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
