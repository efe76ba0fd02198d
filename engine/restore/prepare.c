/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Restore preparation that touches the host.  The rule that matters: an archive never chooses a
 * host path.  Bind sources come from the caller (--mount, --bundle) or are files stasis creates.
 */
#include "engine/restore/prepare.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "mounts/mounts.h"

struct runtime_file {
	const char *dest;
	const char *name;
	bool dir;
};

static const struct runtime_file runtime_files[] = {
	{ "/etc/hosts", "hosts", false },
	{ "/etc/hostname", "hostname", false },
	{ "/etc/resolv.conf", "resolv.conf", false },
	{ "/run/.containerenv", "containerenv", false },
	{ "/dev/shm", "shm", true },
	{ "/run/secrets", "secrets", true },
};

static const struct runtime_file *find_runtime_file(const char *dest)
{
	cleanup_free char *d = path_clean(dest);
	for (size_t i = 0; i < ARRAY_SIZE(runtime_files); i++)
		if (strcmp(runtime_files[i].dest, d) == 0)
			return &runtime_files[i];
	return NULL;
}

bool restore_is_runtime_file(const char *dest)
{
	return find_runtime_file(dest) != NULL;
}

/* runtime files are read by the container's processes: world-readable, as runc makes them */
static int write_text(const char *path, const char *text, struct stasis_error **err)
{
	return write_file_atomic(path, text, strlen(text), 0644, 0, err);
}

int restore_runtime_file(const char *dir, const char *dest, const char *hostname, char **ret,
			 struct stasis_error **err)
{
	const struct runtime_file *f = find_runtime_file(dest);
	if (!f)
		return error_setx(err, EINVAL, "`%s` is not a runtime-generated file", dest);
	int r = mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	cleanup_free char *path = xasprintf("%s/%s", dir, f->name);
	if (f->dir) {
		if (mkdir(path, 01777) < 0 && errno != EEXIST)
			return error_set(err, errno, "create `%s`", path);
		chmod(path, f->dir && strcmp(f->name, "shm") == 0 ? 01777 : 0755);
	} else {
		cleanup_free char *text = NULL;
		if (strcmp(f->name, "hosts") == 0)
			text = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t%s\n", hostname);
		else if (strcmp(f->name, "hostname") == 0)
			text = xasprintf("%s\n", hostname);
		else if (strcmp(f->name, "resolv.conf") == 0) {
			/* the host's resolvers, as podman gives a container without its own */
			if (read_file_capped("/etc/resolv.conf", 1 << 16, &text, NULL, NULL) < 0)
				text = xstrdup("");
		} else {
			text = xstrdup("engine=\"stasis\"\n");
		}
		r = write_text(path, text, err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(path);
	return 0;
}

void restore_kv_free(struct oci_kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

int restore_bind_sources(const struct oci_config *config, const char *const *mounts, size_t n_mounts,
			 const char *files_dir, const char *hostname, struct oci_kv **ret, size_t *ret_n,
			 struct stasis_error **err)
{
	struct oci_kv *v = NULL;
	size_t n = 0;
	int r = 0;
	bool *used = xzalloc((n_mounts + 1) * sizeof(bool));
	for (size_t i = 0; i < config->n_mounts && r == 0; i++) {
		const struct oci_mount *m = &config->mounts[i];
		if (!oci_mount_is_bind(m))
			continue;
		cleanup_free char *dest = path_clean(m->destination);
		char *src = NULL;
		for (size_t j = 0; j < n_mounts && !src; j++) {
			const char *eq = strchr(mounts[j], '=');
			if (!eq)
				continue;
			cleanup_free char *d = xstrndup(mounts[j], (size_t)(eq - mounts[j]));
			cleanup_free char *dc = path_clean(d);
			if (strcmp(dc, dest) == 0) {
				src = xstrdup(eq + 1);
				used[j] = true;
			}
		}
		if (!src && restore_is_runtime_file(dest))
			r = restore_runtime_file(files_dir, dest, hostname, &src, err);
		else if (!src)
			r = error_setx(
				err, EINVAL,
				"bind mount `%s`: no source on this host; the archive's `%s` is "
				"never used (an archive does not choose host paths): give opts.mounts %s=SRC "
				"or opts.bundle",
				dest, m->source ? m->source : "", dest);
		if (r == 0) {
			v = xgrow(v, n, sizeof(*v));
			v[n++] = (struct oci_kv){ TAKE_PTR(dest), src };
		}
	}
	for (size_t j = 0; j < n_mounts && r == 0; j++) {
		if (!strchr(mounts[j], '='))
			r = error_setx(err, EINVAL, "opts.mounts `%s`: expected DEST=SRC", mounts[j]);
		else if (!used[j])
			r = error_setx(err, EINVAL, "opts.mounts `%s`: the container has no bind mount there",
				       mounts[j]);
	}
	free(used);
	if (r < 0) {
		restore_kv_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static const struct oci_bind_mount *bind_info(const struct oci_bind_mount *info, size_t n, const char *dest)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *d = path_clean(info[i].destination);
		if (strcmp(d, dest) == 0)
			return &info[i];
	}
	return NULL;
}

int restore_mountpoints(const struct oci_config *config, const char *rootfs,
			const struct oci_bind_mount *info, size_t n_info, struct stasis_error **err)
{
	for (size_t i = 0; i < config->n_mounts; i++) {
		const struct oci_mount *m = &config->mounts[i];
		if (!oci_mount_is_bind(m))
			continue;
		cleanup_free char *dest = path_clean(m->destination);
		struct stat st;
		if (!m->source || stat(m->source, &st) < 0)
			return error_set(err, m->source ? errno : EINVAL, "restore mount %s: source `%s`",
					 dest, m->source ? m->source : "");
		cleanup_free char *inside = mnt_resolve_in_root(rootfs, dest);
		if (!inside)
			return error_setx(err, EINVAL, "restore mount %s: cannot resolve it in rootfs `%s`",
					  dest, rootfs);
		cleanup_free char *host = xasprintf("%s%s", rootfs, inside);
		struct stat dst;
		if (lstat(host, &dst) == 0)
			continue;
		const struct oci_bind_mount *bi = bind_info(info, n_info, dest);
		bool dir = bi ? bi->is_dir : S_ISDIR(st.st_mode);
		cleanup_free char *parent = xstrdup(host);
		*strrchr(parent, '/') = '\0';
		int r = mkdir_p(parent, 0755, err);
		if (r < 0)
			return error_wrap(err, r, "restore mount %s", dest);
		if (dir) {
			if (mkdir(host, bi ? bi->mode : 0755) < 0)
				return error_set(err, errno, "restore mount %s: create mountpoint", dest);
		} else {
			int fd = open(host, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				      bi ? bi->mode : 0644);
			if (fd < 0)
				return error_set(err, errno, "restore mount %s: create mountpoint", dest);
			close(fd);
		}
	}
	return 0;
}
