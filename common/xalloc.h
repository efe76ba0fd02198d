/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_COMMON_XALLOC_H
#define STASIS_COMMON_XALLOC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Out of memory aborts: there is no sane recovery in a checkpoint engine half way through a dump. */
void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * Room for element n (counting from 0) of an array that grows one element at a time from NULL:
 * the capacity doubles whenever n reaches a power of two, so n appends copy O(n) elements, not
 * O(n^2) (a realloc that cannot grow in place, as under ASan, copies the whole array).
 */
void *xgrow(void *v, size_t n, size_t size);

/* Append to a NULL-terminated string vector, taking ownership of s. */
void strv_push(char ***strv, size_t *len, char *s);
size_t strv_length(char *const *strv);
/* The strings of strv (may be NULL) joined by sep (malloc'ed; "" for none). */
char *strv_join(char *const *strv, const char *sep);
/* Whether the NULL-terminated strv (may be NULL) holds s. */
bool strv_has(char *const *strv, const char *s);
/* Sorts the first n strings of strv by strcmp (reproducible archives do not follow readdir order). */
void strv_sort(char **strv, size_t n);

#endif
