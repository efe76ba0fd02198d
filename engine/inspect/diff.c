/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stasis inspect --diff: what changed between two checkpoints of one container. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "include/stasis.h"

static void add(struct stasis_diff *d, const char *section, char change, char *subject, char *detail)
{
	d->items = xgrow(d->items, d->n, sizeof(*d->items));
	d->items[d->n++] = (struct stasis_diff_item){
		.section = section, .change = change, .subject = subject, .detail = detail
	};
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void changed(struct stasis_diff *d, const char *section, const char *subject, const char *what,
		    const char *a, const char *b)
{
	if (!same(a, b))
		add(d, section, '~', xstrdup(subject),
		    xasprintf("%s: %s -> %s", what, a ? a : "-", b ? b : "-"));
}

static const struct stasis_inspect_process *proc(const struct stasis_inspect *i, unsigned pid)
{
	for (size_t k = 0; k < i->n_processes; k++)
		if (i->processes[k].pid == pid)
			return &i->processes[k];
	return NULL;
}

static char *joined(const char *const *v, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *s = xmalloc(len), *p = s;
	for (size_t i = 0; i < n; i++)
		p += snprintf(p, len - (size_t)(p - s), "%s%s", i ? " " : "", v[i]);
	*p = '\0';
	return s;
}

static const struct stasis_inspect_fd *fd_of(const struct stasis_inspect_process *p, int fd, const char *type)
{
	for (size_t k = 0; p && k < p->n_fds; k++)
		if (p->fds[k].fd == fd && (fd >= 0 || strcmp(p->fds[k].type, type) == 0))
			return &p->fds[k];
	return NULL;
}

static const struct stasis_inspect_socket *sock_of(const struct stasis_inspect_process *p, int fd)
{
	for (size_t k = 0; p && k < p->n_sockets; k++)
		if (p->sockets[k].fd == fd)
			return &p->sockets[k];
	return NULL;
}

static char *sock_text(const struct stasis_inspect_socket *s)
{
	if (strcmp(s->family, "unix") == 0)
		return xasprintf("unix %s %s %s -> %s", s->type, s->state, s->src ? s->src : "-",
				 s->dst ? s->dst : "-");
	return xasprintf("%s %s %s %s:%u -> %s:%u", s->family, s->protocol ? s->protocol : s->type, s->state,
			 s->src, s->src_port, s->dst, s->dst_port);
}

/* one direction of the per-process comparison; a '~' only from the first call */
static void diff_fds(struct stasis_diff *d, const struct stasis_inspect_process *pa,
		     const struct stasis_inspect_process *pb, char missing, bool compare)
{
	for (size_t k = 0; pa && k < pa->n_fds; k++) {
		const struct stasis_inspect_fd *fa = &pa->fds[k];
		const struct stasis_inspect_fd *fb = fd_of(pb, fa->fd, fa->type);
		char *subject = fa->fd >= 0 ? xasprintf("pid %u fd %d", pa->pid, fa->fd)
					    : xasprintf("pid %u %s", pa->pid, fa->type);
		if (!fb) {
			add(d, "file", missing, subject,
			    xasprintf("%s %s", fa->type, fa->path ? fa->path : ""));
			continue;
		}
		if (compare) {
			changed(d, "file", subject, "type", fa->type, fb->type);
			changed(d, "file", subject, "path", fa->path, fb->path);
			if (fa->pos != fb->pos && strcmp(fa->type, "REG") == 0)
				add(d, "file", '~', xstrdup(subject),
				    xasprintf("pos: %llu -> %llu", (unsigned long long)fa->pos,
					      (unsigned long long)fb->pos));
		}
		free(subject);
	}
	for (size_t k = 0; pa && k < pa->n_sockets; k++) {
		const struct stasis_inspect_socket *sa = &pa->sockets[k];
		const struct stasis_inspect_socket *sb = sock_of(pb, sa->fd);
		char *subject = xasprintf("pid %u fd %d", pa->pid, sa->fd);
		char *ta = sock_text(sa);
		if (!sb) {
			add(d, "socket", missing, subject, ta);
			continue;
		}
		char *tb = sock_text(sb);
		if (compare)
			changed(d, "socket", subject, "socket", ta, tb);
		free(tb);
		free(ta);
		free(subject);
	}
}

static void diff_processes(struct stasis_diff *d, const struct stasis_inspect *a,
			   const struct stasis_inspect *b)
{
	for (size_t k = 0; k < a->n_processes; k++) {
		const struct stasis_inspect_process *pa = &a->processes[k], *pb = proc(b, pa->pid);
		char *subject = xasprintf("pid %u (%s)", pa->pid, pa->comm);
		if (!pb) {
			add(d, "process", '-', subject, NULL);
			diff_fds(d, pa, NULL, '-', false);
			continue;
		}
		changed(d, "process", subject, "comm", pa->comm, pb->comm);
		changed(d, "process", subject, "state", pa->state, pb->state);
		if (pa->ppid != pb->ppid)
			add(d, "process", '~', xstrdup(subject),
			    xasprintf("ppid: %u -> %u", pa->ppid, pb->ppid));
		if (pa->argv && pb->argv) {
			char *ja = joined(pa->argv, pa->argc), *jb = joined(pb->argv, pb->argc);
			changed(d, "process", subject, "cmdline", ja, jb);
			free(ja);
			free(jb);
		}
		changed(d, "process", subject, "cwd", pa->cwd, pb->cwd);
		free(subject);
		diff_fds(d, pa, pb, '-', true);
		diff_fds(d, pb, pa, '+', false);
	}
	for (size_t k = 0; k < b->n_processes; k++) {
		const struct stasis_inspect_process *pb = &b->processes[k];
		if (proc(a, pb->pid))
			continue;
		add(d, "process", '+', xasprintf("pid %u (%s)", pb->pid, pb->comm), NULL);
		diff_fds(d, pb, NULL, '+', false);
	}
}

static const struct stasis_inspect_mount *mount_at(const struct stasis_inspect *i, const char *dest)
{
	for (size_t k = 0; k < i->n_mounts; k++)
		if (strcmp(i->mounts[k].destination, dest) == 0)
			return &i->mounts[k];
	return NULL;
}

static void diff_mounts(struct stasis_diff *d, const struct stasis_inspect *a, const struct stasis_inspect *b)
{
	for (size_t k = 0; k < a->n_mounts; k++) {
		const struct stasis_inspect_mount *ma = &a->mounts[k], *mb = mount_at(b, ma->destination);
		if (!mb) {
			add(d, "mount", '-', xstrdup(ma->destination),
			    xasprintf("%s %s", ma->type, ma->source));
			continue;
		}
		changed(d, "mount", ma->destination, "type", ma->type, mb->type);
		changed(d, "mount", ma->destination, "source", ma->source, mb->source);
	}
	for (size_t k = 0; k < b->n_mounts; k++)
		if (!mount_at(a, b->mounts[k].destination))
			add(d, "mount", '+', xstrdup(b->mounts[k].destination),
			    xasprintf("%s %s", b->mounts[k].type, b->mounts[k].source));
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void diff_list(struct stasis_diff *d, const char *section, const char *const *va, size_t na,
		      const char *const *vb, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (!in_list(vb, nb, va[i]))
			add(d, section, '-', xstrdup(va[i]), NULL);
	for (size_t i = 0; i < nb; i++)
		if (!in_list(va, na, vb[i]))
			add(d, section, '+', xstrdup(vb[i]), NULL);
}

int stasis_inspect_diff(const struct stasis_inspect *a, const struct stasis_inspect *b,
			struct stasis_diff **ret, struct stasis_error **err)
{
	if (!a || !b || !ret)
		return error_setx(err, EINVAL, "inspect diff: two checkpoints are needed");
	struct stasis_diff *d = xzalloc(sizeof(*d));
	changed(d, "metadata", "container", "id", a->id, b->id);
	changed(d, "metadata", "container", "image", a->image, b->image);
	changed(d, "metadata", "container", "runtime", a->runtime, b->runtime);
	diff_processes(d, a, b);
	diff_mounts(d, a, b);
	diff_list(d, "rootfs", a->rootfs_changed, a->n_rootfs_changed, b->rootfs_changed,
		  b->n_rootfs_changed);
	diff_list(d, "rootfs-deleted", a->rootfs_deleted, a->n_rootfs_deleted, b->rootfs_deleted,
		  b->n_rootfs_deleted);
	*ret = d;
	return 0;
}

struct stasis_diff *stasis_diff_free(struct stasis_diff *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		free((void *)d->items[i].subject);
		free((void *)d->items[i].detail);
	}
	free(d->items);
	free(d);
	return NULL;
}
