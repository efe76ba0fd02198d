/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The dump plan: which of the container's mounts CRIU must treat as external, keyed as runc and
 * crun key them so that `runc restore` accepts our images:
 *  - a bind mount: key = its destination, stored key = the destination;
 *  - a masked file (a bind of /dev/null): key = the path, stored key = "/dev/null" (runc) or the
 *    path (crun, whose masked directories are binds of an empty directory, stored the same way);
 *  - every cgroup/cgroup2 mount: key = stored key = the mountpoint.
 * Masked directories are read-only tmpfs mounts that CRIU dumps itself.
 */
#include <errno.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"

/* File systems CRIU dumps by itself when they are mounted inside the container. */
static const char *const virtual_fs[] = {
	"proc",	      "sysfs",	 "tmpfs",   "devpts", "mqueue",	 "cgroup", "cgroup2",	"devtmpfs",
	"securityfs", "debugfs", "tracefs", "bpf",    "fusectl", "pstore", "hugetlbfs", "binfmt_misc",
};

/* Runtime-generated files that never belong in a rootfs diff. */
static const char *const runtime_paths[] = {
	"/proc", "/sys", "/dev", "/run/.containerenv", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
};

static bool is_virtual(const char *fstype)
{
	for (size_t i = 0; i < ARRAY_SIZE(virtual_fs); i++)
		if (strcmp(virtual_fs[i], fstype) == 0)
			return true;
	return false;
}

static bool is_cgroup(const char *fstype)
{
	return strcmp(fstype, "cgroup") == 0 || strcmp(fstype, "cgroup2") == 0;
}

static void push_kv(struct mnt_plan *p, const char *key, const char *val)
{
	for (size_t i = 0; i < p->n_ext_mnt; i++)
		if (strcmp(p->ext_mnt[i].key, key) == 0)
			return;
	p->ext_mnt = xgrow(p->ext_mnt, p->n_ext_mnt, sizeof(*p->ext_mnt));
	p->ext_mnt[p->n_ext_mnt++] = (struct mnt_kv){ xstrdup(key), xstrdup(val) };
}

void mnt_plan_clear(struct mnt_plan *p)
{
	for (size_t i = 0; i < p->n_ext_mnt; i++) {
		free(p->ext_mnt[i].key);
		free(p->ext_mnt[i].val);
	}
	free(p->ext_mnt);
	strv_freep(&p->external);
	for (size_t i = 0; i < p->n_binds; i++) {
		free(p->binds[i].destination);
		free(p->binds[i].source);
	}
	free(p->binds);
	strv_freep(&p->unexplained);
	strv_freep(&p->diff_excludes);
	free(p->upperdir);
	*p = (struct mnt_plan){ 0 };
}

/* The destination as the runtime mounted it: cleaned, then resolved inside the rootfs. */
static char *mount_dest(const struct mnt_plan_input *in, const char *destination)
{
	char *d = path_clean(destination);
	if (!in->resolve)
		return d;
	char *r = in->resolve(d, in->resolve_data);
	if (!r)
		return d;
	free(d);
	return r;
}

static bool explained(const struct mnt_plan_input *in, char *const *dests, const struct mnt_info *m)
{
	if (strcmp(m->mountpoint, "/") == 0 || is_cgroup(m->fstype))
		return true;
	const struct oci_config *c = in->config;
	if (strv_has(dests, m->mountpoint))
		return true;
	if (strv_has(c->masked_paths, m->mountpoint) || strv_has(c->readonly_paths, m->mountpoint))
		return true;
	/* mounts the container made of kernel file systems are CRIU's own business */
	return is_virtual(m->fstype) && strcmp(m->root, "/") == 0;
}

int mnt_plan_dump(const struct mnt_plan_input *in, struct mnt_plan *ret, struct stasis_error **err)
{
	struct mnt_plan p = { 0 };
	const struct oci_config *c = in->config;
	const struct mnt_table *mi = in->mountinfo;
	cleanup_strv char **dests = NULL;
	size_t n_dests = 0;
	for (size_t i = 0; i < c->n_mounts; i++)
		strv_push(&dests, &n_dests, mount_dest(in, c->mounts[i].destination));

	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct oci_mount *m = &c->mounts[i];
		if (!oci_mount_is_bind(m))
			continue;
		if (!m->source) {
			mnt_plan_clear(&p);
			return error_setx(err, EINVAL,
					  "config.json: .mounts[%zu] (%s): bind mount without source", i,
					  m->destination);
		}
		const char *dest = dests[i];
		push_kv(&p, dest, dest);
		p.binds = xgrow(p.binds, p.n_binds, sizeof(*p.binds));
		p.binds[p.n_binds++] = (struct mnt_bind){ xstrdup(dest), xstrdup(m->source) };
		strv_push(&p.diff_excludes, &p.n_diff_excludes, xstrdup(dest));
	}

	for (char **mp = c->masked_paths; mp && *mp; mp++) {
		const struct mnt_info *m = mnt_table_find(mi, *mp);
		/*
		 * a masked file is /dev/null bound over it; a masked directory a tmpfs (runc, no key) or
		 * a bind of crun's empty directory
		 */
		if (m && strcmp(m->root, "/") != 0 && !is_cgroup(m->fstype))
			push_kv(&p, *mp, in->masked_keys_by_path ? *mp : "/dev/null");
	}

	for (size_t i = 0; i < mi->n; i++) {
		const struct mnt_info *m = &mi->e[i];
		if (is_cgroup(m->fstype))
			push_kv(&p, m->mountpoint, m->mountpoint);
		if (strcmp(m->mountpoint, "/") == 0 && strcmp(m->fstype, "overlay") == 0) {
			free(p.upperdir);
			p.upperdir = mnt_option_value(m->super_opts, "upperdir");
		}
		if (!explained(in, dests, m))
			strv_push(&p.unexplained, &p.n_unexplained, xstrdup(m->mountpoint));
	}

	const struct oci_namespace *net = oci_config_namespace(c, "network");
	const struct oci_namespace *pid = oci_config_namespace(c, "pid");
	p.owns_netns = net && !net->path;
	if (net && net->path && in->netns_ino)
		strv_push(&p.external, &p.n_external, xasprintf("net[%lu]:extRootNetNS", in->netns_ino));
	if (pid && pid->path && in->pidns_ino)
		strv_push(&p.external, &p.n_external, xasprintf("pid[%lu]:extRootPidNS", in->pidns_ino));

	for (size_t i = 0; i < ARRAY_SIZE(runtime_paths); i++)
		strv_push(&p.diff_excludes, &p.n_diff_excludes, xstrdup(runtime_paths[i]));
	*ret = p;
	return 0;
}
