/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON form of stasis inspect (schema in docs/inspect.md): keys never change meaning. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "oci/oci.h"

#define INSPECT_SCHEMA 1

/* argv, env and paths come from the checkpoint: whatever bytes are not UTF-8 become '?' */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n;
	unsigned min;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, min = 0x10000;
	else
		return 0;
	unsigned cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	return cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? n : 0;
}

static void jstr(struct oci_json *j, const char *s)
{
	size_t len = strlen(s), i = 0;
	cleanup_free char *clean = NULL;
	while (i < len) {
		size_t n = utf8_seq((const unsigned char *)s + i);
		if (n == 0) {
			if (!clean)
				clean = xstrdup(s);
			clean[i] = '?';
			n = 1;
		}
		i += n;
	}
	oci_json_string(j, clean ? clean : s);
}

static void jkstr(struct oci_json *j, const char *key, const char *s)
{
	if (!s)
		return;
	oci_json_key(j, key);
	jstr(j, s);
}

static void jstrv(struct oci_json *j, const char *key, const char *const *v, size_t n)
{
	oci_json_key(j, key);
	oci_json_array_open(j);
	for (size_t i = 0; i < n; i++)
		jstr(j, v[i]);
	oci_json_array_close(j);
}

static void write_fds(struct oci_json *j, const struct stasis_inspect_process *p)
{
	oci_json_key(j, "files");
	oci_json_array_open(j);
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct stasis_inspect_fd *f = &p->fds[i];
		oci_json_map_open(j);
		if (f->fd >= 0)
			oci_json_kint(j, "fd", f->fd);
		oci_json_kstr(j, "type", f->type);
		jkstr(j, "path", f->path);
		if (strcmp(f->type, "REG") == 0) {
			oci_json_kint(j, "pos", (long long)f->pos);
			oci_json_kint(j, "flags", f->flags);
		}
		oci_json_map_close(j);
	}
	oci_json_array_close(j);
}

static void write_sockets(struct oci_json *j, const struct stasis_inspect_process *p)
{
	oci_json_key(j, "sockets");
	oci_json_array_open(j);
	for (size_t i = 0; i < p->n_sockets; i++) {
		const struct stasis_inspect_socket *s = &p->sockets[i];
		oci_json_map_open(j);
		oci_json_kint(j, "fd", s->fd);
		oci_json_kstr(j, "family", s->family);
		oci_json_kstr(j, "type", s->type);
		oci_json_kstr(j, "protocol", s->protocol);
		oci_json_kstr(j, "state", s->state);
		jkstr(j, "src", s->src);
		jkstr(j, "dst", s->dst);
		if (strcmp(s->family, "unix") != 0) {
			oci_json_kint(j, "src_port", s->src_port);
			oci_json_kint(j, "dst_port", s->dst_port);
		} else {
			oci_json_kint(j, "peer_inode", s->peer_inode);
		}
		oci_json_kint(j, "inode", s->inode);
		oci_json_map_close(j);
	}
	oci_json_array_close(j);
}

static void write_process(struct oci_json *j, const struct stasis_inspect *in,
			  const struct stasis_inspect_process *p)
{
	oci_json_map_open(j);
	oci_json_kint(j, "pid", p->pid);
	oci_json_kint(j, "ppid", p->ppid);
	oci_json_kint(j, "pgid", p->pgid);
	oci_json_kint(j, "sid", p->sid);
	jkstr(j, "comm", p->comm);
	oci_json_kstr(j, "state", p->state);
	if (p->has_creds) {
		oci_json_kint(j, "uid", p->uid);
		oci_json_kint(j, "gid", p->gid);
	}
	oci_json_kint(j, "threads", (long long)p->n_threads);
	jkstr(j, "exe", p->exe);
	jkstr(j, "cwd", p->cwd);
	jkstr(j, "root", p->root);
	if (p->argv)
		jstrv(j, "cmdline", p->argv, p->argc);
	if (p->env)
		jstrv(j, "env", p->env, p->n_env);
	if (in->what & STASIS_INSPECT_FILES)
		write_fds(j, p);
	if (in->what & STASIS_INSPECT_SOCKETS)
		write_sockets(j, p);
	oci_json_map_close(j);
}

static void write_mounts(struct oci_json *j, const struct stasis_inspect *in)
{
	oci_json_key(j, "mounts");
	oci_json_array_open(j);
	for (size_t i = 0; i < in->n_mounts; i++) {
		const struct stasis_inspect_mount *m = &in->mounts[i];
		oci_json_map_open(j);
		jkstr(j, "destination", m->destination);
		jkstr(j, "type", m->type);
		jkstr(j, "fstype", m->fstype);
		jkstr(j, "source", m->source);
		jkstr(j, "options", m->options);
		jkstr(j, "external", m->external_key);
		oci_json_map_close(j);
	}
	oci_json_array_close(j);
}

static void write_stats(struct oci_json *j, const struct stasis_inspect_stats *s)
{
	oci_json_key(j, "statistics");
	oci_json_map_open(j);
	oci_json_kint(j, "freezing_time", s->freezing_time);
	oci_json_kint(j, "frozen_time", s->frozen_time);
	oci_json_kint(j, "memdump_time", s->memdump_time);
	oci_json_kint(j, "memwrite_time", s->memwrite_time);
	oci_json_kint(j, "pages_scanned", (long long)s->pages_scanned);
	oci_json_kint(j, "pages_skipped_parent", (long long)s->pages_skipped_parent);
	oci_json_kint(j, "pages_written", (long long)s->pages_written);
	oci_json_kint(j, "pages_lazy", (long long)s->pages_lazy);
	oci_json_map_close(j);
}

int stasis_inspect_json(const struct stasis_inspect *in, char **ret, struct stasis_error **err)
{
	if (!in || !ret)
		return error_setx(err, EINVAL, "inspect json: nothing to write");
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kint(j, "schema", INSPECT_SCHEMA);
	jkstr(j, "path", in->path);
	oci_json_kstr(j, "format", in->format);
	jkstr(j, "id", in->id);
	jkstr(j, "name", in->name);
	jkstr(j, "image", in->image);
	jkstr(j, "runtime", in->runtime);
	jkstr(j, "engine", in->engine);
	jkstr(j, "created", in->created);
	jkstr(j, "checkpointed", in->checkpointed);
	jkstr(j, "criu_version", in->criu_version);
	oci_json_key(j, "manifest");
	oci_json_bool(j, in->verified_manifest);
	oci_json_kint(j, "img_version", in->img_version);
	jkstr(j, "network_lock", in->network_lock);
	oci_json_key(j, "checkpoint_size");
	oci_json_map_open(j);
	oci_json_kint(j, "total_size", (long long)in->total_size);
	oci_json_kint(j, "memory_pages_size", (long long)in->pages_size);
	oci_json_kint(j, "root_fs_diff_size", (long long)in->rootfs_diff_size);
	oci_json_map_close(j);
	if ((in->what & STASIS_INSPECT_STATS) && in->stats.present)
		write_stats(j, &in->stats);
	oci_json_key(j, "processes");
	oci_json_array_open(j);
	for (size_t i = 0; i < in->n_processes; i++)
		write_process(j, in, &in->processes[i]);
	oci_json_array_close(j);
	if (in->what & STASIS_INSPECT_MOUNTS)
		write_mounts(j, in);
	if (in->what & STASIS_INSPECT_ROOTFS_DIFF) {
		oci_json_key(j, "rootfs_diff");
		oci_json_map_open(j);
		oci_json_key(j, "present");
		oci_json_bool(j, in->has_rootfs_diff);
		jstrv(j, "changed", in->rootfs_changed, in->n_rootfs_changed);
		jstrv(j, "deleted", in->rootfs_deleted, in->n_rootfs_deleted);
		oci_json_map_close(j);
	}
	oci_json_map_close(j);
	*ret = oci_json_finish(j, NULL);
	return 0;
}

static void jhex(struct oci_json *j, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	oci_json_kstr(j, key, buf);
}

int stasis_memory_result_json(const struct stasis_memory_result *r, char **ret, struct stasis_error **err)
{
	if (!r || !ret)
		return error_setx(err, EINVAL, "memory json: nothing to write");
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kint(j, "schema", INSPECT_SCHEMA);
	oci_json_kint(j, "pid", r->pid);
	oci_json_kint(j, "dumped_bytes", (long long)r->dumped_bytes);
	oci_json_key(j, "regions");
	oci_json_array_open(j);
	for (size_t i = 0; i < r->regions_n; i++) {
		oci_json_map_open(j);
		jhex(j, "address", r->regions[i].addr);
		oci_json_kint(j, "length", (long long)r->regions[i].len);
		oci_json_kint(j, "offset", (long long)r->regions[i].offset);
		oci_json_map_close(j);
	}
	oci_json_array_close(j);
	oci_json_key(j, "matches");
	oci_json_array_open(j);
	for (size_t i = 0; i < r->n_matches; i++) {
		const struct stasis_memory_match *m = &r->matches[i];
		oci_json_map_open(j);
		jhex(j, "address", m->addr);
		oci_json_kint(j, "length", (long long)m->len);
		oci_json_kstr(j, "text", m->text);
		oci_json_kint(j, "before", (long long)m->before);
		oci_json_map_close(j);
	}
	oci_json_array_close(j);
	oci_json_key(j, "truncated");
	oci_json_bool(j, r->truncated);
	oci_json_map_close(j);
	*ret = oci_json_finish(j, NULL);
	return 0;
}

int stasis_diff_json(const struct stasis_diff *d, char **ret, struct stasis_error **err)
{
	if (!d || !ret)
		return error_setx(err, EINVAL, "diff json: nothing to write");
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kint(j, "schema", INSPECT_SCHEMA);
	oci_json_key(j, "differences");
	oci_json_array_open(j);
	for (size_t i = 0; i < d->n; i++) {
		const struct stasis_diff_item *it = &d->items[i];
		char change[2] = { it->change, '\0' };
		oci_json_map_open(j);
		oci_json_kstr(j, "section", it->section);
		oci_json_kstr(j, "change", change);
		jkstr(j, "subject", it->subject);
		jkstr(j, "detail", it->detail);
		oci_json_map_close(j);
	}
	oci_json_array_close(j);
	oci_json_map_close(j);
	*ret = oci_json_finish(j, NULL);
	return 0;
}
