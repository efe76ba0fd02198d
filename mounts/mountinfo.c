/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"

int mnt_table_load(pid_t pid, struct mnt_table *ret, struct stasis_error **err)
{
	cleanup_free char *path =
		pid > 0 ? xasprintf("/proc/%d/mountinfo", (int)pid) : xstrdup("/proc/self/mountinfo");
	cleanup_free char *text = NULL;
	int r = read_file_capped(path, MNT_MOUNTINFO_MAX, &text, NULL, err);
	return r < 0 ? r : mnt_table_parse(text, path, ret, err);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static char *unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

void mnt_table_clear(struct mnt_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].root);
		free(t->e[i].mountpoint);
		free(t->e[i].fstype);
		free(t->e[i].source);
		free(t->e[i].super_opts);
	}
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

int mnt_table_parse(const char *text, const char *name, struct mnt_table *ret, struct stasis_error **err)
{
	struct mnt_table t = { 0 };
	cleanup_free char *copy = xstrdup(text);
	char *save_line = NULL;
	size_t lineno = 0;
	for (char *line = strtok_r(copy, "\n", &save_line); line; line = strtok_r(NULL, "\n", &save_line)) {
		lineno++;
		char *f[64];
		size_t nf = 0;
		char *save = NULL;
		for (char *tok = strtok_r(line, " ", &save); tok && nf < 64; tok = strtok_r(NULL, " ", &save))
			f[nf++] = tok;
		size_t dash = 0;
		for (size_t i = 6; i < nf; i++)
			if (strcmp(f[i], "-") == 0) {
				dash = i;
				break;
			}
		unsigned int id, parent;
		if (nf < 10 || !dash || dash + 3 >= nf + 1 || parse_uint(f[0], &id) < 0 ||
		    parse_uint(f[1], &parent) < 0) {
			mnt_table_clear(&t);
			return error_setx(err, EBADMSG, "%s: line %zu: not a mountinfo line", name, lineno);
		}
		t.e = xgrow(t.e, t.n, sizeof(*t.e));
		t.e[t.n++] = (struct mnt_info){
			.id = id,
			.parent = parent,
			.root = unescape(f[3]),
			.mountpoint = unescape(f[4]),
			.fstype = unescape(f[dash + 1]),
			.source = unescape(dash + 2 < nf ? f[dash + 2] : ""),
			.super_opts = unescape(dash + 3 < nf ? f[dash + 3] : ""),
		};
	}
	*ret = t;
	return 0;
}

const struct mnt_info *mnt_table_find(const struct mnt_table *t, const char *mountpoint)
{
	/* the last one wins: later mounts cover earlier ones on the same point */
	for (size_t i = t->n; i > 0; i--)
		if (strcmp(t->e[i - 1].mountpoint, mountpoint) == 0)
			return &t->e[i - 1];
	return NULL;
}

bool mnt_option_has(const char *opts, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = opts; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == nl && strncmp(p, name, nl) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

char *mnt_option_value(const char *opts, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = opts; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
			return xstrndup(p + kl + 1, len - kl - 1);
		p = end ? end + 1 : NULL;
	}
	return NULL;
}
