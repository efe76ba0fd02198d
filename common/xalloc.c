/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noreturn)) static void oom(void)
{
	static const char msg[] = "stasis: out of memory\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p = reallocarray(ptr, nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *p = NULL;
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

size_t strv_length(char *const *strv)
{
	size_t n = 0;
	while (strv && strv[n])
		n++;
	return n;
}

char *strv_join(char *const *strv, const char *sep)
{
	size_t len = 1, sep_len = strlen(sep);
	for (size_t i = 0; strv && strv[i]; i++)
		len += strlen(strv[i]) + (i ? sep_len : 0);
	char *out = xmalloc(len), *p = out;
	for (size_t i = 0; strv && strv[i]; i++) {
		if (i) {
			memcpy(p, sep, sep_len);
			p += sep_len;
		}
		size_t l = strlen(strv[i]);
		memcpy(p, strv[i], l);
		p += l;
	}
	*p = '\0';
	return out;
}

void *xgrow(void *v, size_t n, size_t size)
{
	/* n is the count so far: the capacity is the next power of two, reached at n = 0, 1, 2, 4, ... */
	if (n & (n - 1))
		return v;
	return xreallocarray(v, n ? 2 * n : 1, size);
}

void strv_push(char ***strv, size_t *len, char *s)
{
	/* + 1 for the NULL at the end: room for element len + 1 */
	*strv = xgrow(*strv, *len + 1, sizeof(char *));
	(*strv)[(*len)++] = s;
	(*strv)[*len] = NULL;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool strv_has(char *const *strv, const char *s)
{
	for (; strv && *strv; strv++)
		if (strcmp(*strv, s) == 0)
			return true;
	return false;
}

void strv_sort(char **strv, size_t n)
{
	if (n > 1)
		qsort(strv, n, sizeof(char *), cmp_strp);
}
