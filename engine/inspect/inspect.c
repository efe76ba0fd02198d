/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis inspect: a checkpoint read without restoring it.  Metadata comes from config.dump,
 * spec.dump and stasis.manifest; processes, files, sockets and mounts from CRIU's own images;
 * argv and the environment from the processes' memory pages.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/names.h"
#include "engine/engine-internal.h"
#include "engine/inspect/inspect-internal.h"
#include "oci/oci.h"

/* argv and env wait in these buffers for the one pass over the page images */
struct pending_args {
	struct stasis_inspect_process *p;
	unsigned char *buf[2]; /* argv, env */
	size_t len[2];
};

struct builder {
	struct image_set *s;
	unsigned what;
	struct stasis_inspect *out;
	struct img_file *files;
	size_t n_files;
	struct mem_plans plans;
	struct pending_args *pending;
	size_t n_pending;
	struct oci_config *spec;
	struct img_task *tasks; /* pstree.img, read once */
	size_t n_tasks;
};

static char *nonempty_dup(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static const char *annotation(const struct oci_config *c, const char *key)
{
	for (size_t i = 0; c && i < c->n_annotations; i++)
		if (strcmp(c->annotations[i].key, key) == 0)
			return c->annotations[i].value;
	return NULL;
}

static int read_metadata(struct builder *b, struct stasis_error **err)
{
	struct stasis_inspect *o = b->out;
	struct image_blob blob;
	int r = image_set_meta(b->s, ARCHIVE_CONFIG_DUMP, &blob, err);
	if (r == 0) {
		struct oci_config_dump *d = NULL;
		r = oci_config_dump_parse((const char *)blob.data, blob.len, &d, err);
		if (r < 0)
			return error_wrap(err, r, "`%s`", b->s->path);
		o->id = nonempty_dup(d->id);
		o->name = nonempty_dup(d->name);
		o->image = nonempty_dup(d->image);
		o->runtime = nonempty_dup(d->runtime);
		o->created = nonempty_dup(d->created);
		o->checkpointed = nonempty_dup(d->checkpointed);
		oci_config_dump_free(d);
	} else if (r != -ENOENT) {
		return r;
	}
	r = image_set_meta(b->s, ARCHIVE_SPEC_DUMP, &blob, err);
	if (r == 0) {
		r = oci_config_parse((const char *)blob.data, blob.len, ARCHIVE_SPEC_DUMP, &b->spec, err);
		if (r < 0)
			return error_wrap(err, r, "`%s`", b->s->path);
	} else if (r != -ENOENT) {
		return r;
	}
	const char *manager = annotation(b->spec, "io.container.manager");
	bool manifest = image_set_find(b->s, ARCHIVE_MANIFEST) != NULL;
	if (manager && strcmp(manager, "libpod") == 0) {
		o->engine = xstrdup("podman");
	} else if (manager && strcmp(manager, "cri-o") == 0) {
		o->engine = xstrdup("cri-o");
		const char *meta = annotation(b->spec, "io.kubernetes.cri-o.Metadata");
		char *name = NULL;
		if (!o->name && meta && oci_json_member_string(meta, strlen(meta), "name", &name) == 0)
			o->name = name;
		if (!o->created)
			o->created = nonempty_dup(annotation(b->spec, "io.kubernetes.cri-o.Created"));
	} else if (manifest) {
		o->engine = xstrdup("stasis");
	}
	if (manifest)
		o->format = xstrdup("stasis");
	else if (!b->s->archive && !*b->s->images)
		o->format = xstrdup("criu-dir");
	else
		o->format = xstrdup(o->engine ? o->engine : "unknown");
	o->verified_manifest = manifest;
	if (manifest && image_set_meta(b->s, ARCHIVE_MANIFEST, &blob, err) == 0) {
		struct oci_manifest *m = NULL;
		if (oci_manifest_parse((const char *)blob.data, blob.len, &m, err) < 0)
			return error_wrap(err, -EBADMSG, "`%s`", b->s->path);
		o->criu_version = nonempty_dup(m->criu_version);
		oci_manifest_free(m);
	}
	for (size_t i = 0; i < b->s->n; i++) {
		const struct image_member *m = &b->s->m[i];
		const char *base = m->name + strlen(b->s->images);
		bool image = strncmp(m->name, b->s->images, strlen(b->s->images)) == 0 && !strchr(base, '/');
		if (image && *b->s->images == '\0' && strcmp(base, ARCHIVE_DUMP_LOG) == 0)
			image = false; /* runc's image dir holds its dump.log too */
		if (image)
			o->total_size += m->size;
		if (image && strncmp(base, CRIU_IMG_PAGES, strlen(CRIU_IMG_PAGES)) == 0)
			o->pages_size += m->size;
		if (strcmp(m->name, ARCHIVE_ROOTFS_DIFF) == 0)
			o->rootfs_diff_size = m->size;
	}
	return 0;
}

static const char *task_state(unsigned s)
{
	if (cr_task_is_zombie(s))
		return "zombie";
	switch (s) {
	case CR_TASK_ALIVE:
		return "alive";
	case CR_TASK_STOPPED:
		return "stopped";
	default:
		return "unknown";
	}
}

static const struct img_file *file_by_id(const struct builder *b, unsigned id)
{
	for (size_t i = 0; i < b->n_files; i++)
		if (b->files[i].id == id)
			return &b->files[i];
	return NULL;
}

static const struct img_file *unix_by_ino(const struct builder *b, unsigned ino)
{
	for (size_t i = 0; ino && i < b->n_files; i++)
		if (b->files[i].type == IMG_FD_UNIXSK && b->files[i].ino == ino)
			return &b->files[i];
	return NULL;
}

static int load_files(struct builder *b, struct stasis_error **err)
{
	struct image_blob blob;
	int r = image_set_image(b->s, CRIU_IMG_FILES, &blob, err);
	if (r == -ENOENT)
		return 0; /* a task with no open file at all */
	if (r < 0)
		return r;
	return image_read_files(&blob, &b->files, &b->n_files, err);
}

static const char *sock_type(unsigned t)
{
	switch (t) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_RAW:
		return "raw";
	case SOCK_SEQPACKET:
		return "seqpacket";
	default:
		return "unknown";
	}
}

/* the kernel's TCP states (include/net/tcp_states.h), which unix sockets use too */
static const char *sock_state(unsigned s)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "ESTABLISHED",
		[TCP_SYN_SENT] = "SYN_SENT",
		[TCP_SYN_RECV] = "SYN_RECV",
		[TCP_FIN_WAIT1] = "FIN_WAIT1",
		[TCP_FIN_WAIT2] = "FIN_WAIT2",
		[TCP_TIME_WAIT] = "TIME_WAIT",
		[TCP_CLOSE] = "CLOSE",
		[TCP_CLOSE_WAIT] = "CLOSE_WAIT",
		[TCP_LAST_ACK] = "LAST_ACK",
		[TCP_LISTEN] = "LISTEN",
		[TCP_CLOSING] = "CLOSING",
	};
	const char *name = s < sizeof(names) / sizeof(names[0]) ? names[s] : NULL;
	return name ? name : "UNKNOWN";
}

static void add_socket(struct builder *b, struct stasis_inspect_process *p, unsigned fd,
		       const struct img_file *f)
{
	struct stasis_inspect_socket *v = (struct stasis_inspect_socket *)p->sockets;
	v = xgrow(v, p->n_sockets, sizeof(*v));
	struct stasis_inspect_socket *s = &v[p->n_sockets++];
	p->sockets = v;
	*s = (struct stasis_inspect_socket){
		.fd = (int)fd,
		.type = sock_type(f->sock_type),
		.state = sock_state(f->state),
		.inode = f->ino,
	};
	if (f->type == IMG_FD_UNIXSK) {
		const struct img_file *peer = unix_by_ino(b, f->peer);
		s->family = "unix";
		s->src = nonempty_dup(f->path);
		s->dst = peer ? nonempty_dup(peer->path) : NULL;
		s->peer_inode = f->peer;
		return;
	}
	s->family = f->family == AF_INET6 ? "inet6" : "inet";
	s->protocol = f->proto == IPPROTO_TCP ? "tcp" : f->proto == IPPROTO_UDP ? "udp" : NULL;
	s->src = xstrdup(f->src);
	s->dst = xstrdup(f->dst);
	s->src_port = f->src_port;
	s->dst_port = f->dst_port;
}

static void add_fd(struct stasis_inspect_process *p, int fd, const char *type, const struct img_file *f)
{
	struct stasis_inspect_fd *v = (struct stasis_inspect_fd *)p->fds;
	v = xgrow(v, p->n_fds, sizeof(*v));
	struct stasis_inspect_fd *d = &v[p->n_fds++];
	p->fds = v;
	*d = (struct stasis_inspect_fd){ .fd = fd, .type = type };
	if (!f)
		return;
	d->flags = f->flags;
	if (f->type == IMG_FD_REG) {
		d->path = xstrdup(f->path ? f->path : "");
		d->pos = f->pos;
	} else if (f->type == IMG_FD_PIPE || f->type == IMG_FD_FIFO) {
		d->path = xasprintf("pipe:[%u]", f->pipe_id);
	} else if (f->type == IMG_FD_UNIXSK || f->type == IMG_FD_INETSK) {
		d->path = xasprintf("socket:[%u]", f->ino);
	}
}

static int load_fds(struct builder *b, unsigned pid, struct stasis_inspect_process *p,
		    struct stasis_error **err)
{
	cleanup_free char *ids_name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_IDS), pid);
	struct image_blob blob;
	struct img_ids ids;
	int r = image_set_image(b->s, ids_name, &blob, err);
	if (r == -ENOENT)
		return error_setx(err, ENOENT, "`%s`: no %s", b->s->path, ids_name);
	if (r < 0 || (r = image_read_ids(&blob, &ids, err)) < 0)
		return r;
	cleanup_free char *fdinfo = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_FDINFO), ids.files_id);
	r = image_set_image(b->s, fdinfo, &blob, err);
	if (r == -ENOENT)
		return error_setx(err, ENOENT, "`%s`: no %s for pid %u", b->s->path, fdinfo, pid);
	cleanup_free struct img_fd *fds = NULL;
	size_t n = 0;
	if (r < 0 || (r = image_read_fdinfo(&blob, &fds, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct img_file *f = file_by_id(b, fds[i].id);
		if ((b->what & STASIS_INSPECT_FILES))
			add_fd(p, (int)fds[i].fd, image_fd_type_name(fds[i].type), f);
		if ((b->what & STASIS_INSPECT_SOCKETS) && f &&
		    (f->type == IMG_FD_UNIXSK || f->type == IMG_FD_INETSK))
			add_socket(b, p, fds[i].fd, f);
	}
	return 0;
}

static const char *reg_path(const struct builder *b, unsigned id)
{
	const struct img_file *f = file_by_id(b, id);
	return f && f->type == IMG_FD_REG ? f->path : NULL;
}

static int load_fs(struct builder *b, unsigned pid, struct stasis_inspect_process *p,
		   struct stasis_error **err)
{
	cleanup_free char *name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_FS), pid);
	struct image_blob blob;
	struct img_fs fs;
	int r = image_set_image(b->s, name, &blob, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || (r = image_read_fs(&blob, &fs, err)) < 0)
		return r;
	p->cwd = nonempty_dup(reg_path(b, fs.cwd_id));
	p->root = nonempty_dup(reg_path(b, fs.root_id));
	if (b->what & STASIS_INSPECT_FILES) {
		add_fd(p, -1, "cwd", NULL);
		((struct stasis_inspect_fd *)p->fds)[p->n_fds - 1].path = nonempty_dup(p->cwd);
		add_fd(p, -1, "root", NULL);
		((struct stasis_inspect_fd *)p->fds)[p->n_fds - 1].path = nonempty_dup(p->root);
	}
	return 0;
}

/* mm-<pid>.img: the exe, and (with CMDLINE/ENV) the argv and env ranges planned for the page pass */
static int load_mm(struct builder *b, unsigned pid, struct stasis_inspect_process *p,
		   struct stasis_error **err)
{
	cleanup_free char *name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_MM), pid);
	struct image_blob blob;
	struct img_mm mm = { 0 };
	int r = image_set_image(b->s, name, &blob, err);
	if (r == -ENOENT)
		return 0; /* not in the checkpoint: no exe, argv or env to show */
	if (r < 0 || (r = image_read_mm(&blob, &mm, err)) < 0)
		return r;
	p->exe = nonempty_dup(reg_path(b, mm.exe_file_id));
	if (b->what & (STASIS_INSPECT_CMDLINE | STASIS_INSPECT_ENV)) {
		struct img_pagemap pm = { 0 };
		r = inspect_load_pagemap(b->s, pid, &pm, err);
		cleanup_free char *pages = r == 0 ? pages_image_name(&pm) : NULL;
		if (r == 0 && pm.n && image_set_has_image(b->s, pages)) {
			b->pending = xgrow(b->pending, b->n_pending, sizeof(*b->pending));
			struct pending_args *pa = &b->pending[b->n_pending++];
			*pa = (struct pending_args){ .p = p };
			const uint64_t range[2][2] = { { mm.arg_start, mm.arg_end },
						       { mm.env_start, mm.env_end } };
			const unsigned flag[2] = { STASIS_INSPECT_CMDLINE, STASIS_INSPECT_ENV };
			for (int k = 0; k < 2; k++) {
				uint64_t s = range[k][0], e = range[k][1];
				if (!(b->what & flag[k]) || e <= s)
					continue;
				if (e - s > INSPECT_ARGS_MAX)
					e = s + INSPECT_ARGS_MAX;
				pa->len[k] = (size_t)(e - s);
				pa->buf[k] = xmalloc(pa->len[k]);
				mem_plan_range(&b->plans, &pm, s, e, pa->buf[k]);
			}
		}
		img_pagemap_clear(&pm);
	}
	img_mm_clear(&mm);
	return r;
}

/* NUL-separated strings; a trailing piece without NUL counts too */
static const char *const *split_nul(const unsigned char *buf, size_t len, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		const unsigned char *end = memchr(buf + i, '\0', len - i);
		size_t l = end ? (size_t)(end - (buf + i)) : len - i;
		if (l == 0 && !end)
			break;
		strv_push(&v, &n, xstrndup((const char *)buf + i, l));
		i += l + 1;
	}
	/* env blocks end in padding NULs */
	while (n && !*v[n - 1])
		free(v[--n]);
	*ret_n = n;
	return (const char *const *)v;
}

static int load_processes(struct builder *b, struct stasis_error **err)
{
	struct image_blob blob;
	const struct img_task *tasks = b->tasks;
	size_t n = b->n_tasks;
	struct stasis_inspect_process *procs = xreallocarray(NULL, n, sizeof(*procs));
	memset(procs, 0, n * sizeof(*procs));
	b->out->processes = procs;
	b->out->n_processes = n;
	int r = load_files(b, err);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct stasis_inspect_process *p = &procs[i];
		const struct img_task *t = &tasks[i];
		*p = (struct stasis_inspect_process){ .pid = t->pid,
						      .ppid = t->ppid,
						      .pgid = t->pgid,
						      .sid = t->sid,
						      .n_threads = t->n_threads };
		cleanup_free char *core_name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_CORE), t->pid);
		struct img_core core = { 0 };
		r = image_set_image(b->s, core_name, &blob, err);
		if (r == -ENOENT)
			r = error_setx(err, ENOENT, "`%s`: no %s for pid %u of " CRIU_IMG_PSTREE, b->s->path,
				       core_name, t->pid);
		if (r < 0 || (r = image_read_core(&blob, &core, err)) < 0)
			break;
		p->comm = xstrdup(core.comm ? core.comm : "");
		p->state = task_state(core.state);
		p->has_creds = core.has_creds;
		p->uid = core.uid;
		p->gid = core.gid;
		bool zombie = cr_task_is_zombie(core.state);
		img_core_clear(&core);
		if (zombie)
			continue; /* CRIU dumps a zombie's core image only: no files, fs or memory */
		if (b->what & (STASIS_INSPECT_FILES | STASIS_INSPECT_SOCKETS))
			r = load_fds(b, t->pid, p, err);
		if (r == 0)
			r = load_fs(b, t->pid, p, err);
		if (r == 0)
			r = load_mm(b, t->pid, p, err);
	}
	if (r < 0)
		return r;
	r = mem_plans_run(b->s, &b->plans, err);
	for (size_t i = 0; i < b->n_pending && r == 0; i++) {
		struct pending_args *pa = &b->pending[i];
		if (pa->buf[0])
			pa->p->argv = split_nul(pa->buf[0], pa->len[0], &pa->p->argc);
		if (pa->buf[1])
			pa->p->env = split_nul(pa->buf[1], pa->len[1], &pa->p->n_env);
	}
	return r;
}

static const char *spec_source(const struct builder *b, const char *dest)
{
	for (size_t i = 0; b->spec && i < b->spec->n_mounts; i++)
		if (b->spec->mounts[i].destination && strcmp(b->spec->mounts[i].destination, dest) == 0)
			return b->spec->mounts[i].source;
	return NULL;
}

static int load_mounts(struct builder *b, struct stasis_error **err)
{
	struct image_blob blob;
	int r = image_set_image(b->s, CRIU_IMG_INVENTORY, &blob, err);
	struct img_inventory inv = { 0 };
	if (r < 0 || (r = image_read_inventory(&blob, &inv, err)) < 0)
		return r == -ENOENT ? error_setx(err, ENOENT, "`%s`: no " CRIU_IMG_INVENTORY, b->s->path) : r;
	b->out->img_version = inv.img_version;
	b->out->network_lock = inv.network_lock; /* a static string */
	img_inventory_clear(&inv);
	if (!(b->what & STASIS_INSPECT_MOUNTS))
		return 0;
	/* inventory's root_ids are not the ids images are named by: the root task's ids-<pid>.img are */
	unsigned mnt_ns = 0;
	cleanup_free char *ids_name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_IDS), b->tasks[0].pid);
	struct img_ids ids;
	r = image_set_image(b->s, ids_name, &blob, err);
	if (r == 0 && (r = image_read_ids(&blob, &ids, err)) == 0)
		mnt_ns = ids.mnt_ns_id;
	if (r < 0 && r != -ENOENT)
		return r;
	cleanup_free char *name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_MOUNTPOINTS), mnt_ns);
	r = image_set_image(b->s, name, &blob, err);
	if (r == -ENOENT)
		return 0; /* no mount namespace of its own: not a container */
	struct img_mount *m = NULL;
	size_t n = 0;
	if (r < 0 || (r = image_read_mounts(&blob, &m, &n, err)) < 0)
		return r;
	struct stasis_inspect_mount *v = xreallocarray(NULL, n ? n : 1, sizeof(*v));
	/* CRIU writes children before parents: reversed, the list reads in mount order */
	for (size_t k = 0; k < n; k++) {
		const struct img_mount *im = &m[n - 1 - k];
		const char *fstype = image_fstype_name(im->fstype);
		if ((im->fstype == IMG_FS_UNSUPPORTED || im->fstype == IMG_FS_AUTO) && im->fsname)
			fstype = im->fsname;
		/* an external mount is a bind mount from outside, whatever fs its source is on */
		const char *type = im->ext_mount ? "bind" : fstype;
		const char *src = im->ext_mount ? spec_source(b, im->mountpoint) : NULL;
		v[k] = (struct stasis_inspect_mount){
			.destination = xstrdup(im->mountpoint),
			.type = xstrdup(type),
			.fstype = xstrdup(fstype),
			.source = xstrdup(src				 ? src
					  : im->ext_mount && im->ext_key ? im->ext_key
									 : im->source),
			.options = xstrdup(im->options),
			.external_key = nonempty_dup(im->ext_key),
		};
	}
	img_mounts_free(m, n);
	b->out->mounts = v;
	b->out->n_mounts = n;
	return 0;
}

static int load_stats(struct builder *b, struct stasis_error **err)
{
	struct image_blob blob;
	int r = image_set_meta(b->s, ARCHIVE_STATS_DUMP, &blob, err);
	if (r == -ENOENT)
		r = image_set_image(b->s, ARCHIVE_STATS_DUMP, &blob, err);
	if (r == -ENOENT)
		return 0;
	struct img_stats st;
	if (r < 0 || (r = image_read_stats(&blob, &st, err)) < 0)
		return r;
	if (!st.has_dump)
		return 0;
	b->out->stats = (struct stasis_inspect_stats){
		.present = true,
		.freezing_time = st.freezing_time,
		.frozen_time = st.frozen_time,
		.memdump_time = st.memdump_time,
		.memwrite_time = st.memwrite_time,
		.pages_scanned = st.pages_scanned,
		.pages_skipped_parent = st.pages_skipped_parent,
		.pages_written = st.pages_written,
		.pages_lazy = st.pages_lazy,
	};
	return 0;
}

static int load_rootfs_diff(struct builder *b, struct stasis_error **err)
{
	struct stasis_inspect *o = b->out;
	o->has_rootfs_diff = b->s->has_rootfs_diff;
	o->rootfs_changed = (const char *const *)TAKE_PTR(b->s->diff_paths);
	o->n_rootfs_changed = b->s->n_diff;
	b->s->n_diff = 0;
	struct image_blob blob;
	int r = image_set_meta(b->s, ARCHIVE_DELETED_FILES, &blob, err);
	if (r == -ENOENT)
		return 0;
	char **v = NULL;
	size_t n = 0;
	if (r < 0 || (r = oci_string_array_parse((const char *)blob.data, blob.len, ARCHIVE_DELETED_FILES, &v,
						 &n, err)) < 0)
		return r;
	o->rootfs_deleted = (const char *const *)v;
	o->n_rootfs_deleted = n;
	return 0;
}

int stasis_inspect(const char *path, const struct stasis_inspect_opts *opts_in, struct stasis_inspect **ret,
		   struct stasis_error **err)
{
	struct stasis_inspect_opts opts = { 0 };
	int rc = opts_copy(&opts, sizeof(opts), opts_in, "inspect", err);
	if (rc < 0)
		return rc;
	if (!path)
		return error_setx(err, EINVAL, "inspect: no checkpoint given");
	unsigned what = opts.what;
	if (what & (STASIS_INSPECT_CMDLINE | STASIS_INSPECT_ENV))
		what |= STASIS_INSPECT_PS_TREE;
	struct builder b = { .what = what };
	int r = image_set_open(path, what & STASIS_INSPECT_ROOTFS_DIFF ? IMAGE_SET_ROOTFS_DIFF : 0, &b.s,
			       err);
	if (r < 0)
		return r;
	b.out = xzalloc(sizeof(*b.out));
	b.out->path = xstrdup(path);
	b.out->what = what;
	r = read_metadata(&b, err);
	if (r == 0)
		r = inspect_load_pstree(b.s, &b.tasks, &b.n_tasks, err);
	if (r == 0)
		r = load_mounts(&b, err);
	if (r == 0)
		r = load_processes(&b, err);
	if (r == 0 && (what & STASIS_INSPECT_STATS))
		r = load_stats(&b, err);
	if (r == 0 && (what & STASIS_INSPECT_ROOTFS_DIFF))
		r = load_rootfs_diff(&b, err);
	for (size_t i = 0; i < b.n_pending; i++) {
		free(b.pending[i].buf[0]);
		free(b.pending[i].buf[1]);
	}
	free(b.pending);
	mem_plans_clear(&b.plans);
	img_files_free(b.files, b.n_files);
	img_tasks_free(b.tasks, b.n_tasks);
	oci_config_free(b.spec);
	image_set_free(b.s);
	if (r < 0) {
		stasis_inspect_free(b.out);
		return r;
	}
	*ret = b.out;
	return 0;
}

static void strv_free_n(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)v[i]);
	free((void *)v);
}

struct stasis_inspect *stasis_inspect_free(struct stasis_inspect *i)
{
	if (!i)
		return NULL;
	for (size_t k = 0; k < i->n_processes; k++) {
		const struct stasis_inspect_process *p = &i->processes[k];
		free((void *)p->comm);
		strv_free_n(p->argv, p->argc);
		strv_free_n(p->env, p->n_env);
		free((void *)p->cwd);
		free((void *)p->root);
		free((void *)p->exe);
		for (size_t f = 0; f < p->n_fds; f++)
			free((void *)p->fds[f].path);
		free((void *)p->fds);
		for (size_t s = 0; s < p->n_sockets; s++) {
			free((void *)p->sockets[s].src);
			free((void *)p->sockets[s].dst);
		}
		free((void *)p->sockets);
	}
	free((void *)i->processes);
	for (size_t k = 0; k < i->n_mounts; k++) {
		const struct stasis_inspect_mount *m = &i->mounts[k];
		free((void *)m->destination);
		free((void *)m->type);
		free((void *)m->fstype);
		free((void *)m->source);
		free((void *)m->options);
		free((void *)m->external_key);
	}
	free((void *)i->mounts);
	strv_free_n(i->rootfs_changed, i->n_rootfs_changed);
	strv_free_n(i->rootfs_deleted, i->n_rootfs_deleted);
	free((void *)i->path);
	free((void *)i->format);
	free((void *)i->id);
	free((void *)i->name);
	free((void *)i->image);
	free((void *)i->runtime);
	free((void *)i->engine);
	free((void *)i->created);
	free((void *)i->checkpointed);
	free((void *)i->criu_version);
	free(i);
	return NULL;
}
