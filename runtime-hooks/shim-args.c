/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "runtime-hooks/shim-args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "common/cleanup.h"

/* The CLI has no allocator of the library's: out of memory, a runtime has nothing to say. */
static void *must(void *p)
{
	if (!p)
		abort();
	return p;
}

/* Appends s to the NULL-terminated vector *v of *n entries. */
static void push(void *vector, size_t *n, const void *s)
{
	const void ***v = vector;
	*v = must(reallocarray(*v, *n + 2, sizeof(**v)));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

static char *joined_flag(const char *name, const char *value)
{
	char *s = NULL;
	if ((value ? asprintf(&s, "--%s=%s", name, value) : asprintf(&s, "--%s", name)) < 0)
		abort();
	return s;
}

void shim_strv_free(char ***v)
{
	for (size_t i = 0; *v && (*v)[i]; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
}

enum global_use {
	GLOBAL_READ,	    /* stasis reads it; the delegate gets it as written */
	GLOBAL_FORWARD,	    /* and every runtime command stasis runs gets it too */
	GLOBAL_STASIS_ONLY, /* stasis' own: the delegate never sees it (crun refuses what it does not know) */
};

static const struct global_flag {
	const char *name;
	bool has_value;
	enum global_use use;
} global_flags[] = {
	{ "root", true, GLOBAL_READ },
	{ "log", true, GLOBAL_READ },
	{ "log-format", true, GLOBAL_READ },
	{ "criu", true, GLOBAL_READ },
	{ "debug", false, GLOBAL_READ },
	{ "systemd-cgroup", false, GLOBAL_FORWARD },
	{ "rootless", true, GLOBAL_FORWARD },
	{ "cgroup-manager", true, GLOBAL_FORWARD },
	{ "stasis-criu", true, GLOBAL_STASIS_ONLY },
	{ "stasis-delegate", true, GLOBAL_STASIS_ONLY },
};

static const struct global_flag *global_flag_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(global_flags); i++)
		if (strlen(global_flags[i].name) == len && strncmp(global_flags[i].name, name, len) == 0)
			return &global_flags[i];
	return NULL;
}

static void remember(struct shim_args *a, const char *name, const char *value)
{
	const char **slot = strcmp(name, "root") == 0		   ? &a->root
			    : strcmp(name, "log") == 0		   ? &a->log
			    : strcmp(name, "log-format") == 0	   ? &a->log_format
			    : strcmp(name, "criu") == 0		   ? &a->criu
			    : strcmp(name, "stasis-criu") == 0	   ? &a->criu
			    : strcmp(name, "stasis-delegate") == 0 ? &a->delegate
								   : NULL;
	if (slot)
		*slot = value;
	if (strcmp(name, "debug") == 0)
		a->debug = true;
}

int shim_args_parse(int argc, char **argv, struct shim_args *a, const char **ret_bad)
{
	*a = (struct shim_args){ .verb = argc };
	push(&a->delegate_argv, &a->n_delegate_argv, argv[0]);
	int i = 1;
	for (; i < argc; i++) {
		const char *w = argv[i];
		if (w[0] != '-' || strcmp(w, "-") == 0 || strcmp(w, "--") == 0)
			break;
		const char *name = w + (w[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		const struct global_flag *f = global_flag_find(name, eq ? (size_t)(eq - name) : strlen(name));
		if (!f) {
			/* --version, --help, a flag stasis does not know: the delegate's business */
			push(&a->delegate_argv, &a->n_delegate_argv, w);
			continue;
		}
		const char *value = NULL;
		int words = 1;
		if (f->has_value && eq) {
			value = eq + 1;
		} else if (f->has_value) {
			if (i + 1 >= argc) {
				*ret_bad = w;
				shim_args_clear(a);
				return -EINVAL;
			}
			value = argv[i + 1];
			words = 2;
		}
		remember(a, f->name, value);
		if (f->use == GLOBAL_FORWARD)
			push(&a->runtime_args, &a->n_runtime_args, joined_flag(f->name, value));
		if (f->use != GLOBAL_STASIS_ONLY)
			for (int k = 0; k < words; k++)
				push(&a->delegate_argv, &a->n_delegate_argv, argv[i + k]);
		i += words - 1;
	}
	a->verb = i;
	for (; i < argc; i++)
		push(&a->delegate_argv, &a->n_delegate_argv, argv[i]);
	if (!a->runtime_args)
		a->runtime_args = must(calloc(1, sizeof(*a->runtime_args)));
	return 0;
}

void shim_args_clear(struct shim_args *a)
{
	/* cleared twice (a failed parse, then the caller's cleanup) is cleared once */
	shim_strv_free(&a->runtime_args);
	free(a->delegate_argv);
	a->delegate_argv = NULL;
	a->n_runtime_args = a->n_delegate_argv = 0;
}

void shim_args_long_dashes(int argc, char **argv, char ***owned, size_t *n_owned)
{
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		/* `-x`, `-xVALUE`: a short option; `--x`: already long */
		if (w[0] != '-' || w[1] == '-' || w[1] < 'a' || w[1] > 'z' || w[2] < 'a' || w[2] > 'z')
			continue;
		char *longer = NULL;
		if (asprintf(&longer, "-%s", w) < 0)
			abort();
		push(owned, n_owned, longer);
		argv[i] = longer;
	}
}

char *shim_conf_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line;) {
		const char *end = strchrnul(line, '\n');
		const char *p = line + strspn(line, " \t");
		if (*p != '#' && strncmp(p, key, klen) == 0) {
			const char *q = p + klen + strspn(p + klen, " \t");
			if (*q == '=') {
				q++;
				q += strspn(q, " \t");
				const char *e = end;
				while (e > q && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
					e--;
				return must(strndup(q, (size_t)(e - q)));
			}
		}
		line = *end ? end + 1 : NULL;
	}
	return NULL;
}
