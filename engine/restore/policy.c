/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The restore policy's engine half.  CRIU restores each thread's capabilities and the tasks'
 * namespaces from its images, not from config.json: so the policy (oci/policy.c) hears what the
 * images hold, and the CRIU step runs where a host namespace the images name cannot be reached.
 */
#include "engine/restore/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "engine/images/reader.h"
#include "engine/images/set.h"
#include "engine/names.h"
#include "engine/restore/restore-internal.h"

/* image_set_image, with a missing image an error: CRIU needs every one read here */
static int load(struct image_set *s, const char *name, struct image_blob *ret, struct stasis_error **err)
{
	int r = image_set_image(s, name, ret, err);
	return r == -ENOENT ? error_setx(err, EBADMSG, "`%s`: no %s", s->path, name) : r;
}

/* one thread's core image: its capability sets into p; *ret_zombie for a task's own (tid == pid) */
static int thread_capabilities(struct image_set *s, unsigned tid, struct oci_policy *p, bool *ret_zombie,
			       struct stasis_error **err)
{
	cleanup_free char *name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_CORE), tid);
	struct image_blob blob;
	cleanup_with(img_core_clear) struct img_core core = { 0 };
	int r = load(s, name, &blob, err);
	if (r < 0 || (r = image_read_core(&blob, &core, err)) < 0)
		return r;
	for (size_t i = 0; core.has_creds && i < IMG_CAP_SETS; i++)
		p->images_capabilities |= core.caps[i];
	p->images_capabilities_above_63 |= core.caps_above_63;
	if (ret_zombie)
		*ret_zombie = cr_task_is_zombie(core.state);
	return 0;
}

/* every thread of the task: a zombie has only its core image (CRIU writes no thread list worth reading) */
static int task_capabilities(struct image_set *s, const struct img_task *t, struct oci_policy *p,
			     struct stasis_error **err)
{
	bool zombie = false;
	int r = thread_capabilities(s, t->pid, p, &zombie, err);
	for (size_t i = 0; r == 0 && !zombie && i < t->n_threads; i++)
		if (t->threads[i] != t->pid)
			r = thread_capabilities(s, t->threads[i], p, NULL, err);
	return r;
}

/*
 * Whether the container saw the host's kernel settings writable: a proc mount at /proc and none
 * read-only at /proc/sys over it (runc's readonlyPaths make one).  CRIU restores the mount tree as
 * the images hold it, whatever config.json says.
 */
/* the root task's mount namespace has /proc with /proc/sys writable (none of its own: the host's,
 * which the policy hears of apart) */
static bool proc_sys_writable(const struct images_root_facts *f)
{
	bool proc = false, sys_readonly = false;
	for (size_t i = 0; i < f->n_mounts; i++) {
		const struct img_mount *m = &f->mounts[i];
		if (!m->mountpoint || m->fstype != IMG_FS_PROC)
			continue;
		proc |= strcmp(m->mountpoint, "/proc") == 0;
		sys_readonly |= strcmp(m->mountpoint, "/proc/sys") == 0 && (m->flags & MS_RDONLY);
	}
	return proc && !sys_readonly;
}

int restore_images_facts(const char *images_dir, const struct images_root_facts *f, struct oci_policy *p,
			 struct stasis_error **err)
{
	cleanup_with(image_set_free) struct image_set *s = NULL;
	int r = image_set_open(images_dir, 0, &s, err);
	if (r < 0)
		return r;
	struct image_blob blob;
	struct img_inventory inv = { 0 };
	if ((r = load(s, CRIU_IMG_INVENTORY, &blob, err)) < 0 ||
	    (r = image_read_inventory(&blob, &inv, err)) < 0)
		return r;
	struct img_ids host = inv.root_ids;
	bool has_root_ids = inv.has_root_ids;
	img_inventory_clear(&inv);
	/* CRIU refuses such images too ("No kIDs provided, image corruption") */
	if (!has_root_ids)
		return error_setx(err, EBADMSG, "`%s`: %s has no root ids", images_dir, CRIU_IMG_INVENTORY);
	struct img_task *tasks = NULL;
	size_t n = 0;
	if ((r = load(s, CRIU_IMG_PSTREE, &blob, err)) < 0 ||
	    (r = image_read_pstree(&blob, &tasks, &n, err)) < 0)
		return r;
	if (n == 0) {
		img_tasks_free(tasks, n);
		return error_setx(err, EBADMSG, "`%s`: %s has no task", images_dir, CRIU_IMG_PSTREE);
	}
	/* the root task's namespaces against the dumping CRIU's: as CRIU computes what it makes anew */
	if (f->ids.pid_ns_id && f->ids.pid_ns_id == host.pid_ns_id)
		p->images_host_namespaces |= CLONE_NEWPID;
	if (f->ids.mnt_ns_id && f->ids.mnt_ns_id == host.mnt_ns_id)
		p->images_host_namespaces |= CLONE_NEWNS;
	else if (f->ids.mnt_ns_id)
		p->images_proc_sys_writable = proc_sys_writable(f);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = task_capabilities(s, &tasks[i], p, err);
	img_tasks_free(tasks, n);
	return r;
}

void images_root_facts_clear(struct images_root_facts *f)
{
	img_mounts_free(f->mounts, f->n_mounts);
	*f = (struct images_root_facts){ 0 };
}

/* the mode files.img records for file id (0: none) */
static int file_mode(struct image_set *s, unsigned id, unsigned *ret, struct stasis_error **err)
{
	struct image_blob blob;
	struct img_file *files = NULL;
	size_t n = 0;
	int r = load(s, CRIU_IMG_FILES, &blob, err);
	if (r < 0 || (r = image_read_files(&blob, &files, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (files[i].id == id)
			*ret = files[i].mode;
	img_files_free(files, n);
	return 0;
}

int restore_images_root_facts(const char *images_dir, struct images_root_facts *ret,
			      struct stasis_error **err)
{
	*ret = (struct images_root_facts){ 0 };
	cleanup_with(image_set_free) struct image_set *s = NULL;
	int r = image_set_open(images_dir, 0, &s, err);
	if (r < 0)
		return r;
	struct image_blob blob;
	struct img_task *tasks = NULL;
	size_t n = 0;
	if ((r = load(s, CRIU_IMG_PSTREE, &blob, err)) < 0 ||
	    (r = image_read_pstree(&blob, &tasks, &n, err)) < 0)
		return r;
	unsigned root_pid = n ? tasks[0].pid : 0;
	/* each live task's memory is a userfaultfd of its own in a lazy restore (lazy.c counts them) */
	for (size_t i = 0; r == 0 && i < n; i++) {
		cleanup_free char *core_name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_CORE), tasks[i].pid);
		cleanup_with(img_core_clear) struct img_core core = { 0 };
		if ((r = load(s, core_name, &blob, err)) == 0 &&
		    (r = image_read_core(&blob, &core, err)) == 0)
			ret->live_tasks += !cr_task_is_zombie(core.state);
	}
	img_tasks_free(tasks, n);
	if (r < 0)
		return r;
	if (!root_pid)
		return error_setx(err, EBADMSG, "`%s`: %s has no task", images_dir, CRIU_IMG_PSTREE);
	cleanup_free char *fs_name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_FS), root_pid);
	struct img_fs fs;
	if ((r = load(s, fs_name, &blob, err)) < 0 || (r = image_read_fs(&blob, &fs, err)) < 0 ||
	    (r = file_mode(s, fs.root_id, &ret->root_mode, err)) < 0)
		return r;
	cleanup_free char *ids_name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_IDS), root_pid);
	if ((r = load(s, ids_name, &blob, err)) < 0 || (r = image_read_ids(&blob, &ret->ids, err)) < 0)
		return r;
	cleanup_free char *mnt_name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_MOUNTPOINTS), ret->ids.mnt_ns_id);
	r = image_set_image(s, mnt_name, &blob, err);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = image_read_mounts(&blob, &ret->mounts, &ret->n_mounts, err);
	return r;
}

int restore_criu_namespaces(const struct restore_ctx *r, struct child_namespaces *ret, int *ret_netns_fd,
			    struct stasis_error **err)
{
	int fd = -1;
	if (r->netns_path) {
		fd = open(r->netns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error_set(err, errno, "open network namespace `%s`", r->netns_path);
	}
	*ret = (struct child_namespaces){
		.join_net_fd = fd,
		.unshare_flags = CLONE_NEWIPC | CLONE_NEWUTS | (fd < 0 ? CLONE_NEWNET : 0),
	};
	*ret_netns_fd = fd;
	return 0;
}
