/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRIU image files (criu-wire.md, section 4): [head magic] type magic, then entries of a u32 size and
 * one packed protobuf message.  Nothing here trusts the file: sizes are checked against what is
 * left and against IMAGE_ENTRY_MAX before a byte is decoded.
 */
#include "engine/images/reader.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/names.h"
#include "images.pb-c.h"

struct img_iter {
	const struct image_blob *b;
	size_t off;
};

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v; /* images are written in host order; stasis reads them on the same arch */
}

/*
 * Checks the magics: IMG_COMMON or IMG_SERVICE then the type, or the type alone (inventory.img, and
 * every image of format v1).
 */
static int img_begin(const struct image_blob *b, uint32_t magic, struct img_iter *it,
		     struct stasis_error **err)
{
	*it = (struct img_iter){ .b = b };
	if (b->len < 4)
		return error_setx(err, EBADMSG, "image `%s`: %zu bytes: too short for a magic", b->name,
				  b->len);
	uint32_t m = get_u32(b->data);
	if (m == IMAGE_MAGIC_COMMON || m == IMAGE_MAGIC_SERVICE) {
		if (b->len < 8)
			return error_setx(err, EBADMSG, "image `%s`: offset 4: truncated magic", b->name);
		it->off = 4;
		m = get_u32(b->data + 4);
	}
	if (m != magic)
		return error_setx(err, EBADMSG, "image `%s`: offset %zu: magic 0x%08x, expected 0x%08x",
				  b->name, it->off, m, magic);
	it->off += 4;
	return 0;
}

/* 1 and *ret with the next entry, 0 at a clean end, <0 on a corrupt or truncated entry */
static int img_next(struct img_iter *it, const ProtobufCMessageDescriptor *d, ProtobufCMessage **ret,
		    struct stasis_error **err)
{
	const struct image_blob *b = it->b;
	if (it->off == b->len)
		return 0;
	if (b->len - it->off < 4)
		return error_setx(err, EBADMSG,
				  "image `%s`: offset %zu: truncated entry size (%zu bytes left)", b->name,
				  it->off, b->len - it->off);
	uint32_t size = get_u32(b->data + it->off);
	if (size > IMAGE_ENTRY_MAX)
		return error_setx(err, EBADMSG,
				  "image `%s`: offset %zu: entry of %u bytes is over the %u cap", b->name,
				  it->off, size, IMAGE_ENTRY_MAX);
	if (size > b->len - it->off - 4)
		return error_setx(err, EBADMSG,
				  "image `%s`: offset %zu: truncated entry (%u bytes announced, %zu left)",
				  b->name, it->off, size, b->len - it->off - 4);
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, b->data + it->off + 4);
	if (!m)
		return error_setx(err, EBADMSG, "image `%s`: offset %zu: not a valid %s", b->name, it->off,
				  d->name);
	it->off += 4 + (size_t)size;
	*ret = m;
	return 1;
}

/* images that hold exactly one entry */
static int img_one(const struct image_blob *b, uint32_t magic, const ProtobufCMessageDescriptor *d,
		   ProtobufCMessage **ret, struct stasis_error **err)
{
	struct img_iter it;
	int r = img_begin(b, magic, &it, err);
	if (r < 0)
		return r;
	r = img_next(&it, d, ret, err);
	if (r == 0)
		return error_setx(err, EBADMSG, "image `%s`: offset %zu: no %s entry", b->name, it.off,
				  d->name);
	return r < 0 ? r : 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static struct img_ids ids_of(const TaskKobjIdsEntry *e)
{
	return (struct img_ids){
		.files_id = e->files_id,
		.mnt_ns_id = e->has_mnt_ns_id ? e->mnt_ns_id : 0,
		.net_ns_id = e->has_net_ns_id ? e->net_ns_id : 0,
		.pid_ns_id = e->has_pid_ns_id ? e->pid_ns_id : 0,
		.ipc_ns_id = e->has_ipc_ns_id ? e->ipc_ns_id : 0,
		.uts_ns_id = e->has_uts_ns_id ? e->uts_ns_id : 0,
	};
}

int image_read_inventory(const struct image_blob *b, struct img_inventory *ret, struct stasis_error **err)
{
	ProtobufCMessage *m = NULL;
	int r = img_one(b, IMAGE_MAGIC_INVENTORY, &inventory_entry__descriptor, &m, err);
	if (r < 0)
		return r;
	InventoryEntry *e = (InventoryEntry *)m;
	*ret = (struct img_inventory){
		.img_version = e->img_version,
		.has_root_ids = e->root_ids != NULL,
		.lsmtype = e->has_lsmtype ? (unsigned)e->lsmtype : 0,
		.dump_uptime = e->has_dump_uptime ? e->dump_uptime : 0,
		.criu_run_id = dup_or_null(e->dump_criu_run_id),
	};
	/*
	 * CRIU stores its own enum (cr_options.h, from 0), not the RPC's criu_network_lock_method
	 * (from 1): a dump asked for NFTABLES (2) over RPC writes 1 here.
	 */
	static const char *const lock_names[] = { "iptables", "nftables", "skip" };
	if (e->has_network_lock_method && e->network_lock_method < ARRAY_SIZE(lock_names))
		ret->network_lock = lock_names[e->network_lock_method];
	if (e->root_ids)
		ret->root_ids = ids_of(e->root_ids);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

void img_inventory_clear(struct img_inventory *v)
{
	free(v->criu_run_id);
	*v = (struct img_inventory){ 0 };
}

/* more tasks than this in one checkpoint is not a container */
#define MAX_TASKS 65536

struct pid_at {
	unsigned pid;
	size_t at;
};

static int pid_at_cmp(const void *a, const void *b)
{
	unsigned x = ((const struct pid_at *)a)->pid, y = ((const struct pid_at *)b)->pid;
	return x < y ? -1 : x > y;
}

/* the index of pid's task, or n when the image has none (the parent of a root) */
static size_t task_index(const struct pid_at *by_pid, size_t n, unsigned pid)
{
	struct pid_at key = { .pid = pid };
	const struct pid_at *hit = bsearch(&key, by_pid, n, sizeof(*by_pid), pid_at_cmp);
	return hit ? hit->at : n;
}

/*
 * CRIU writes a tree: every pid once, and every chain of parents ends at a task whose parent is
 * not in the image (the root's ppid is 0).  Whoever walks it from a root down (stasis inspect
 * --ps-tree) would go round a pid listed twice or a cycle forever, and recurse as deep as the
 * tree is.  One pass up from each task, each task climbed once: O(n log n).
 */
static int check_tree(const struct image_blob *b, const struct img_task *v, size_t n,
		      struct stasis_error **err)
{
	cleanup_free struct pid_at *by_pid = xreallocarray(NULL, n, sizeof(*by_pid));
	for (size_t i = 0; i < n; i++)
		by_pid[i] = (struct pid_at){ v[i].pid, i };
	qsort(by_pid, n, sizeof(*by_pid), pid_at_cmp);
	for (size_t i = 1; i < n; i++)
		if (by_pid[i].pid == by_pid[i - 1].pid)
			return error_setx(err, EBADMSG, "image `%s`: pid %u is there twice", b->name,
					  by_pid[i].pid);
	/* depth[i]: 0 while unknown, 1 for a root; climbed[i]: which climb last passed task i, + 1 */
	cleanup_free size_t *depth = xzalloc(n * sizeof(*depth));
	cleanup_free size_t *climbed = xzalloc(n * sizeof(*climbed));
	cleanup_free size_t *chain = xreallocarray(NULL, n, sizeof(*chain));
	for (size_t i = 0; i < n; i++) {
		size_t len = 0, j = i;
		while (j < n && !depth[j]) {
			if (climbed[j] == i + 1)
				return error_setx(err, EBADMSG, "image `%s`: pid %u is its own ancestor",
						  b->name, v[j].pid);
			climbed[j] = i + 1;
			chain[len++] = j;
			j = task_index(by_pid, n, v[j].ppid);
		}
		/* j is past the root (its parent is not in the image) or a task already measured */
		size_t d = j < n ? depth[j] : 0;
		while (len) {
			j = chain[--len];
			depth[j] = ++d;
			if (d > IMAGE_PSTREE_MAX_DEPTH)
				return error_setx(err, EFBIG,
						  "image `%s`: pid %u is %zu levels deep, over the %d cap",
						  b->name, v[j].pid, d, IMAGE_PSTREE_MAX_DEPTH);
		}
	}
	return 0;
}

int image_read_pstree(const struct image_blob *b, struct img_task **ret, size_t *ret_n,
		      struct stasis_error **err)
{
	struct img_iter it;
	int r = img_begin(b, IMAGE_MAGIC_PSTREE, &it, err);
	if (r < 0)
		return r;
	struct img_task *v = NULL;
	size_t n = 0;
	ProtobufCMessage *m;
	while ((r = img_next(&it, &pstree_entry__descriptor, &m, err)) > 0) {
		PstreeEntry *e = (PstreeEntry *)m;
		if (n >= MAX_TASKS) {
			protobuf_c_message_free_unpacked(m, NULL);
			r = error_setx(err, EFBIG, "image `%s`: more than %d tasks", b->name, MAX_TASKS);
			break;
		}
		v = xgrow(v, n, sizeof(*v));
		v[n] = (struct img_task){ .pid = e->pid, .ppid = e->ppid, .pgid = e->pgid, .sid = e->sid };
		if (e->n_threads) {
			v[n].threads = xreallocarray(NULL, e->n_threads, sizeof(unsigned));
			for (size_t i = 0; i < e->n_threads; i++)
				v[n].threads[i] = e->threads[i];
			v[n].n_threads = e->n_threads;
		}
		n++;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (r == 0 && n == 0)
		r = error_setx(err, EBADMSG, "image `%s`: no task", b->name);
	if (r == 0)
		r = check_tree(b, v, n, err);
	if (r < 0) {
		img_tasks_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void img_tasks_free(struct img_task *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].threads);
	free(v);
}

int image_read_core(const struct image_blob *b, struct img_core *ret, struct stasis_error **err)
{
	ProtobufCMessage *m = NULL;
	int r = img_one(b, IMAGE_MAGIC_CORE, &core_entry__descriptor, &m, err);
	if (r < 0)
		return r;
	CoreEntry *e = (CoreEntry *)m;
	*ret = (struct img_core){ 0 };
	if (e->tc) {
		ret->comm = xstrdup(e->tc->comm);
		ret->state = e->tc->task_state;
		ret->exit_code = e->tc->exit_code;
	} else if (e->thread_core && e->thread_core->comm) {
		ret->comm = xstrdup(e->thread_core->comm);
	}
	if (e->thread_core && e->thread_core->creds) {
		CredsEntry *c = e->thread_core->creds;
		ret->has_creds = true;
		ret->uid = c->uid;
		ret->gid = c->gid;
		ret->euid = c->euid;
		ret->egid = c->egid;
		ret->lsm_profile = dup_or_null(c->lsm_profile);
		const struct {
			size_t n;
			const uint32_t *words;
		} sets[IMG_CAP_SETS] = {
			[IMG_CAP_INHERITABLE] = { c->n_cap_inh, c->cap_inh },
			[IMG_CAP_PERMITTED] = { c->n_cap_prm, c->cap_prm },
			[IMG_CAP_EFFECTIVE] = { c->n_cap_eff, c->cap_eff },
			[IMG_CAP_BOUNDING] = { c->n_cap_bnd, c->cap_bnd },
			[IMG_CAP_AMBIENT] = { c->n_cap_amb, c->cap_amb },
		};
		for (size_t s = 0; s < IMG_CAP_SETS; s++)
			for (size_t w = 0; w < sets[s].n; w++) {
				if (w < 2)
					ret->caps[s] |= (uint64_t)sets[s].words[w] << (32 * w);
				else if (sets[s].words[w])
					ret->caps_above_63 = true;
			}
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

void img_core_clear(struct img_core *v)
{
	free(v->comm);
	free(v->lsm_profile);
	*v = (struct img_core){ 0 };
}

int image_read_ids(const struct image_blob *b, struct img_ids *ret, struct stasis_error **err)
{
	ProtobufCMessage *m = NULL;
	int r = img_one(b, IMAGE_MAGIC_IDS, &task_kobj_ids_entry__descriptor, &m, err);
	if (r < 0)
		return r;
	*ret = ids_of((TaskKobjIdsEntry *)m);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int image_read_fs(const struct image_blob *b, struct img_fs *ret, struct stasis_error **err)
{
	ProtobufCMessage *m = NULL;
	int r = img_one(b, IMAGE_MAGIC_FS, &fs_entry__descriptor, &m, err);
	if (r < 0)
		return r;
	FsEntry *e = (FsEntry *)m;
	*ret = (struct img_fs){ .cwd_id = e->cwd_id, .root_id = e->root_id };
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int image_read_mm(const struct image_blob *b, struct img_mm *ret, struct stasis_error **err)
{
	ProtobufCMessage *m = NULL;
	int r = img_one(b, IMAGE_MAGIC_MM, &mm_entry__descriptor, &m, err);
	if (r < 0)
		return r;
	MmEntry *e = (MmEntry *)m;
	*ret = (struct img_mm){
		.arg_start = e->mm_arg_start,
		.arg_end = e->mm_arg_end,
		.env_start = e->mm_env_start,
		.env_end = e->mm_env_end,
		.exe_file_id = e->exe_file_id,
	};
	if (e->n_vmas) {
		ret->vmas = xreallocarray(NULL, e->n_vmas, sizeof(*ret->vmas));
		for (size_t i = 0; i < e->n_vmas; i++) {
			VmaEntry *v = e->vmas[i];
			ret->vmas[i] = (struct img_vma){ .start = v->start,
							 .end = v->end,
							 .pgoff = v->pgoff,
							 .shmid = v->shmid,
							 .prot = v->prot,
							 .flags = v->flags,
							 .status = v->status,
							 .fd = v->fd };
		}
		ret->n_vmas = e->n_vmas;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

void img_mm_clear(struct img_mm *v)
{
	free(v->vmas);
	*v = (struct img_mm){ 0 };
}

/* 2^36 pages is 256 TiB: more than x86_64 user space, so a run beyond it is corrupt */
#define MAX_RUN_PAGES (1ull << 36)

int image_read_pagemap(const struct image_blob *b, struct img_pagemap *ret, struct stasis_error **err)
{
	struct img_iter it;
	int r = img_begin(b, IMAGE_MAGIC_PAGEMAP, &it, err);
	if (r < 0)
		return r;
	ProtobufCMessage *m;
	r = img_next(&it, &pagemap_head__descriptor, &m, err);
	if (r == 0)
		r = error_setx(err, EBADMSG, "image `%s`: no pagemap head", b->name);
	if (r < 0)
		return r;
	struct img_pagemap pm = { .pages_id = ((PagemapHead *)m)->pages_id };
	protobuf_c_message_free_unpacked(m, NULL);
	uint64_t prev_end = 0;
	while ((r = img_next(&it, &pagemap_entry__descriptor, &m, err)) > 0) {
		PagemapEntry *e = (PagemapEntry *)m;
		struct img_page_run run = {
			.vaddr = e->vaddr,
			.nr_pages = e->has_nr_pages ? e->nr_pages : e->compat_nr_pages,
			.flags = e->has_flags ? e->flags
					      : (e->has_in_parent && e->in_parent ? IMG_PE_PARENT
										  : IMG_PE_PRESENT),
		};
		protobuf_c_message_free_unpacked(m, NULL);
		if (run.nr_pages > MAX_RUN_PAGES || run.vaddr % IMAGE_PAGE_SIZE || run.vaddr < prev_end ||
		    run.vaddr + run.nr_pages * IMAGE_PAGE_SIZE < run.vaddr) {
			r = error_setx(err, EBADMSG,
				       "image `%s`: entry %zu: pages at 0x%llx (+%llu) overlap, wrap or are "
				       "unaligned",
				       b->name, pm.n, (unsigned long long)run.vaddr,
				       (unsigned long long)run.nr_pages);
			break;
		}
		prev_end = run.vaddr + run.nr_pages * IMAGE_PAGE_SIZE;
		pm.runs = xgrow(pm.runs, pm.n, sizeof(*pm.runs));
		pm.runs[pm.n++] = run;
	}
	if (r < 0) {
		img_pagemap_clear(&pm);
		return r;
	}
	*ret = pm;
	return 0;
}

void img_pagemap_clear(struct img_pagemap *v)
{
	free(v->runs);
	*v = (struct img_pagemap){ 0 };
}

/* more fds or files than this is corruption: the kernel's nr_open tops out at 2^30 anyway */
#define MAX_ENTRIES (1u << 20)

int image_read_fdinfo(const struct image_blob *b, struct img_fd **ret, size_t *ret_n,
		      struct stasis_error **err)
{
	struct img_iter it;
	int r = img_begin(b, IMAGE_MAGIC_FDINFO, &it, err);
	if (r < 0)
		return r;
	struct img_fd *v = NULL;
	size_t n = 0;
	ProtobufCMessage *m;
	while (n < MAX_ENTRIES && (r = img_next(&it, &fdinfo_entry__descriptor, &m, err)) > 0) {
		FdinfoEntry *e = (FdinfoEntry *)m;
		v = xgrow(v, n, sizeof(*v));
		v[n++] = (struct img_fd){ .fd = e->fd, .id = e->id, .type = e->type, .flags = e->flags };
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void print_addr(char *buf, size_t size, unsigned family, const uint32_t *addr, size_t n)
{
	buf[0] = '\0';
	if (family == AF_INET && n >= 1)
		inet_ntop(AF_INET, addr, buf, (socklen_t)size);
	else if (family == AF_INET6 && n >= 4)
		inet_ntop(AF_INET6, addr, buf, (socklen_t)size);
}

/* an abstract unix name starts with NUL: shown as "@name"; a path name ends at its first NUL */
static char *unix_name(const ProtobufCBinaryData *name)
{
	if (name->len == 0)
		return NULL;
	if (name->data[0] == '\0') {
		char *s = xmalloc(name->len + 1);
		s[0] = '@';
		for (size_t i = 1; i < name->len; i++)
			s[i] = name->data[i] ? (char)name->data[i] : '@';
		s[name->len] = '\0';
		return s;
	}
	return xstrndup((const char *)name->data, name->len);
}

static void file_from_entry(const FileEntry *e, struct img_file *f)
{
	*f = (struct img_file){ .id = e->id, .type = e->type, .mnt_id = -1 };
	if (e->reg) {
		f->path = xstrdup(e->reg->name);
		f->pos = e->reg->pos;
		f->flags = e->reg->flags;
		f->has_size = e->reg->has_size;
		f->size = e->reg->size;
		if (e->reg->has_mnt_id)
			f->mnt_id = e->reg->mnt_id;
		if (e->reg->has_mode)
			f->mode = e->reg->mode;
	} else if (e->isk) {
		const InetSkEntry *s = e->isk;
		f->ino = s->ino;
		f->family = s->family;
		f->sock_type = s->type;
		f->proto = s->proto;
		f->state = s->state;
		f->backlog = s->backlog;
		f->src_port = s->src_port;
		f->dst_port = s->dst_port;
		print_addr(f->src, sizeof(f->src), s->family, s->src_addr, s->n_src_addr);
		print_addr(f->dst, sizeof(f->dst), s->family, s->dst_addr, s->n_dst_addr);
	} else if (e->usk) {
		const UnixSkEntry *s = e->usk;
		f->ino = s->ino;
		f->family = AF_UNIX;
		f->sock_type = s->type;
		f->state = s->state;
		f->backlog = s->backlog;
		f->peer = s->peer;
		f->path = unix_name(&s->name);
		f->deleted = s->has_deleted && s->deleted;
	} else if (e->pipe) {
		f->pipe_id = e->pipe->pipe_id;
		f->flags = e->pipe->flags;
	} else if (e->fifo) {
		f->pipe_id = e->fifo->pipe_id;
	} else if (e->tty) {
		f->tty_info_id = e->tty->tty_info_id;
		f->flags = e->tty->flags;
	} else if (e->nsf) {
		f->ns_cflag = e->nsf->ns_cflag;
	}
}

int image_read_files(const struct image_blob *b, struct img_file **ret, size_t *ret_n,
		     struct stasis_error **err)
{
	struct img_iter it;
	int r = img_begin(b, IMAGE_MAGIC_FILES, &it, err);
	if (r < 0)
		return r;
	struct img_file *v = NULL;
	size_t n = 0;
	ProtobufCMessage *m;
	while (n < MAX_ENTRIES && (r = img_next(&it, &file_entry__descriptor, &m, err)) > 0) {
		v = xgrow(v, n, sizeof(*v));
		file_from_entry((FileEntry *)m, &v[n++]);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (r < 0) {
		img_files_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void img_files_free(struct img_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

int image_read_mounts(const struct image_blob *b, struct img_mount **ret, size_t *ret_n,
		      struct stasis_error **err)
{
	struct img_iter it;
	int r = img_begin(b, IMAGE_MAGIC_MNTS, &it, err);
	if (r < 0)
		return r;
	struct img_mount *v = NULL;
	size_t n = 0;
	ProtobufCMessage *m;
	while (n < MAX_ENTRIES && (r = img_next(&it, &mnt_entry__descriptor, &m, err)) > 0) {
		MntEntry *e = (MntEntry *)m;
		v = xgrow(v, n, sizeof(*v));
		v[n++] = (struct img_mount){
			.mnt_id = e->mnt_id,
			.parent_mnt_id = e->parent_mnt_id,
			.fstype = e->fstype,
			.flags = e->flags,
			.fsname = dup_or_null(e->fsname),
			.root = xstrdup(e->root),
			.mountpoint = xstrdup(e->mountpoint),
			.source = xstrdup(e->source),
			.options = xstrdup(e->options),
			.ext_key = dup_or_null(e->ext_key),
			.ext_mount = (e->has_ext_mount && e->ext_mount) || e->ext_key,
		};
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (r < 0) {
		img_mounts_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void img_mounts_free(struct img_mount *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].fsname);
		free(v[i].root);
		free(v[i].mountpoint);
		free(v[i].source);
		free(v[i].options);
		free(v[i].ext_key);
	}
	free(v);
}

int image_read_stats(const struct image_blob *b, struct img_stats *ret, struct stasis_error **err)
{
	ProtobufCMessage *m = NULL;
	int r = img_one(b, IMAGE_MAGIC_STATS, &stats_entry__descriptor, &m, err);
	if (r < 0)
		return r;
	StatsEntry *e = (StatsEntry *)m;
	*ret = (struct img_stats){ 0 };
	if (e->dump) {
		DumpStatsEntry *d = e->dump;
		ret->has_dump = true;
		ret->freezing_time = d->freezing_time;
		ret->frozen_time = d->frozen_time;
		ret->memdump_time = d->memdump_time;
		ret->memwrite_time = d->memwrite_time;
		ret->pages_scanned = d->pages_scanned;
		ret->pages_skipped_parent = d->pages_skipped_parent;
		ret->pages_written = d->pages_written;
		ret->pages_lazy = d->pages_lazy;
	}
	if (e->restore) {
		RestoreStatsEntry *s = e->restore;
		ret->has_restore = true;
		ret->pages_compared = s->pages_compared;
		ret->pages_skipped_cow = s->pages_skipped_cow;
		ret->forking_time = s->forking_time;
		ret->restore_time = s->restore_time;
		ret->pages_restored = s->has_pages_restored ? s->pages_restored : 0;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int image_parse_named(const char *base, const struct image_blob *b, struct stasis_error **err)
{
	int r = 0;
	if (strcmp(base, CRIU_IMG_INVENTORY) == 0) {
		struct img_inventory v;
		if ((r = image_read_inventory(b, &v, err)) == 0)
			img_inventory_clear(&v);
	} else if (strcmp(base, CRIU_IMG_PSTREE) == 0) {
		struct img_task *v;
		size_t n;
		if ((r = image_read_pstree(b, &v, &n, err)) == 0)
			img_tasks_free(v, n);
	} else if (fnmatch(CRIU_IMG_ID_GLOB(CRIU_IMG_CORE), base, 0) == 0) {
		struct img_core v;
		if ((r = image_read_core(b, &v, err)) == 0)
			img_core_clear(&v);
	} else if (fnmatch(CRIU_IMG_ID_GLOB(CRIU_IMG_IDS), base, 0) == 0) {
		struct img_ids v;
		r = image_read_ids(b, &v, err);
	} else if (fnmatch(CRIU_IMG_ID_GLOB(CRIU_IMG_FS), base, 0) == 0) {
		struct img_fs v;
		r = image_read_fs(b, &v, err);
	} else if (fnmatch(CRIU_IMG_ID_GLOB(CRIU_IMG_MM), base, 0) == 0) {
		struct img_mm v;
		if ((r = image_read_mm(b, &v, err)) == 0)
			img_mm_clear(&v);
	} else if (fnmatch(CRIU_IMG_ID_GLOB(CRIU_IMG_PAGEMAP), base, 0) == 0) {
		struct img_pagemap v;
		if ((r = image_read_pagemap(b, &v, err)) == 0)
			img_pagemap_clear(&v);
	} else if (fnmatch(CRIU_IMG_ID_GLOB(CRIU_IMG_FDINFO), base, 0) == 0) {
		struct img_fd *v;
		size_t n;
		if ((r = image_read_fdinfo(b, &v, &n, err)) == 0)
			free(v);
	} else if (strcmp(base, CRIU_IMG_FILES) == 0) {
		struct img_file *v;
		size_t n;
		if ((r = image_read_files(b, &v, &n, err)) == 0)
			img_files_free(v, n);
	} else if (fnmatch(CRIU_IMG_ID_GLOB(CRIU_IMG_MOUNTPOINTS), base, 0) == 0) {
		struct img_mount *v;
		size_t n;
		if ((r = image_read_mounts(b, &v, &n, err)) == 0)
			img_mounts_free(v, n);
	} else if (strcmp(base, CRIU_IMG_STATS_DUMP) == 0) {
		struct img_stats v;
		r = image_read_stats(b, &v, err);
	}
	return r;
}

/* a stats file holds one small entry: anything near this is not CRIU's */
#define STATS_FILE_MAX (64u * 1024)

int image_read_stats_file(const char *path, struct img_stats *ret, struct stasis_error **err)
{
	cleanup_free char *data = NULL;
	size_t len = 0;
	int r = read_file_capped(path, STATS_FILE_MAX, &data, &len, err);
	if (r < 0)
		return r;
	const struct image_blob b = { path, (const unsigned char *)data, len };
	return image_read_stats(&b, ret, err);
}

/* appends a u32 in host order (CRIU's images are host-endian) */
static void put_u32(unsigned char **buf, size_t *len, size_t *cap, uint32_t v)
{
	if (*cap - *len < sizeof(v)) {
		*cap = (*cap + sizeof(v)) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, &v, sizeof(v));
	*len += sizeof(v);
}

static void put_entry(unsigned char **buf, size_t *len, size_t *cap, const ProtobufCMessage *m)
{
	size_t size = protobuf_c_message_get_packed_size(m);
	put_u32(buf, len, cap, (uint32_t)size);
	if (*cap - *len < size) {
		*cap = (*cap + size) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	protobuf_c_message_pack(m, *buf + *len);
	*len += size;
}

void image_pagemap_encode(unsigned pages_id, const struct img_page_run *runs, size_t n, unsigned char **ret,
			  size_t *ret_len)
{
	size_t len = 0, cap = 64 + n * 32;
	unsigned char *buf = xmalloc(cap);
	put_u32(&buf, &len, &cap, IMAGE_MAGIC_COMMON);
	put_u32(&buf, &len, &cap, IMAGE_MAGIC_PAGEMAP);
	PagemapHead head = PAGEMAP_HEAD__INIT;
	head.pages_id = pages_id;
	put_entry(&buf, &len, &cap, &head.base);
	for (size_t i = 0; i < n; i++) {
		PagemapEntry e = PAGEMAP_ENTRY__INIT;
		e.vaddr = runs[i].vaddr;
		e.compat_nr_pages = runs[i].nr_pages <= UINT32_MAX ? (uint32_t)runs[i].nr_pages : 0;
		e.has_nr_pages = true;
		e.nr_pages = runs[i].nr_pages;
		e.has_flags = true;
		e.flags = runs[i].flags;
		put_entry(&buf, &len, &cap, &e.base);
	}
	*ret = buf;
	*ret_len = len;
}
