/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CRIU step of a restore through stasis' own RPC client, for crun without C/R or no runtime at
 * all: external mounts and cgroups for CRIU, OCI hooks at setup-namespaces, then crun's status file
 * (crun) or stasis' own state record (none) so that the container can be managed afterwards.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "engine/criu/criu-internal.h"
#include "engine/criu/streamer.h"
#include "engine/names.h"
#include "engine/engine-internal.h"
#include "engine/restore/hooks.h"
#include "engine/restore/lazy-pages.h"
#include "engine/restore/lazy.h"
#include "engine/restore/policy.h"
#include "engine/restore/restore-internal.h"
#include "engine/runtime/runtime-internal.h"
#include "oci/oci.h"
#include "lsm/lsm.h"
#include "mounts/mounts.h"

struct ext_list {
	struct rpc_kv *kv;
	char **owned;
	size_t n, n_owned;
};

static void ext_list_clear(struct ext_list *l)
{
	free(l->kv);
	strv_freep(&l->owned);
}
DEFINE_CLEANUP_CLEAR(struct ext_list, ext_list_clear)

static const char *own(struct ext_list *l, char *s)
{
	strv_push(&l->owned, &l->n_owned, s);
	return s;
}

static bool ext_has(const struct ext_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			return true;
	return false;
}

/* the first mapping of a key wins */
static void ext_add(struct ext_list *l, const char *key, const char *val)
{
	if (ext_has(l, key))
		return;
	l->kv = xgrow(l->kv, l->n, sizeof(*l->kv));
	l->kv[l->n++] = (struct rpc_kv){ key, val };
}

/* cpuset v1 children start empty and take no task: give each new level its parent's cpus and mems */
static void cpuset_inherit(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		cleanup_free char *mine = xasprintf("%s/%s", dir, files[i]);
		cleanup_free char *parent = xasprintf("%s/../%s", dir, files[i]);
		cleanup_free char *cur = NULL, *val = NULL;
		if (read_file_capped(mine, 4096, &cur, NULL, NULL) < 0 || (cur[0] && cur[0] != '\n') ||
		    read_file_capped(parent, 4096, &val, NULL, NULL) < 0)
			continue;
		cleanup_close int fd = open(mine, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && write(fd, val, strlen(val)) < 0)
			continue;
	}
}

static int cgroup_mkdir(const char *mountpoint, const char *path, struct stasis_error **err)
{
	cleanup_free char *dir = xstrdup(mountpoint);
	cleanup_free char *copy = xstrdup(path);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		char *next = xasprintf("%s/%s", dir, c);
		free(dir);
		dir = next;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return error_set(err, errno, "create cgroup `%s`", dir);
		cpuset_inherit(dir);
	}
	return 0;
}

/*
 * The container's device rules, as runc sets them: the cgroup we made holds its parent's (every
 * device, from the root), and CRIU restores no properties into a cgroup it did not make (soft
 * mode).  Written while no task is in it.
 */
static int set_device_rules(struct restore_ctx *r, const char *dir, struct stasis_error **err)
{
	struct oci_device_rule *v = NULL;
	size_t n = 0;
	cleanup_free char *name = xasprintf("%s/config.json", r->bundle);
	int ret = oci_device_cgroup_rules(r->config_json, r->config_len, name, &v, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		cleanup_free char *file =
			xasprintf("%s/%s", dir, v[i].allow ? "devices.allow" : "devices.deny");
		cleanup_close int fd = open(file, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, v[i].rule, strlen(v[i].rule)) < 0)
			ret = error_set(err, errno, "`%s`: write `%s`", file, v[i].rule);
	}
	oci_device_rules_free(v, n);
	return ret;
}

/* where a hierarchy's mounts are, in the container and on a host (runc's and crun's cgroup keys) */
#define CGROUP_MOUNT_PREFIX STASIS_CGROUP_ROOT "/"

/*
 * An empty directory of the restore's own: the source of a masked directory (crun keys each one
 * by its path) and of a cgroup hierarchy this host does not have.
 */
static int empty_dir(struct restore_ctx *r, struct ext_list *l, const char **ret, struct stasis_error **err)
{
	char *dir = xasprintf("%s/" STATE_DIR_EMPTY, r->state_dir);
	*ret = own(l, dir);
	if (mkdir(dir, 0555) < 0 && errno != EEXIST)
		return error_set(err, errno, "create `%s`", dir);
	return 0;
}

/*
 * Each external mount key in the images (what the dumping runtime called it: runc and crun key a
 * bind mount by its destination and a cgroup v1 hierarchy by its mountpoint; runc keys a masked
 * file /dev/null, crun by its path, and a masked directory by its own empty directory
 * `/run/crun/.empty-directory`) gets its source on this host, before CRIU is asked: a key nobody
 * maps fails here, naming it, instead of as CRIU's "No mapping for" deep in its log.  What the
 * mount masks is known by where it is mounted, whatever its key.
 */
static int ext_image_keys(struct restore_ctx *r, struct ext_list *l, struct stasis_error **err)
{
	for (size_t i = 0; i < r->facts.n_mounts; i++) {
		const struct img_mount *m = &r->facts.mounts[i];
		const char *key = m->ext_key;
		if (!key || !key[0] || ext_has(l, key))
			continue;
		const char *source = "/dev/null";
		int ret = 0;
		if (m->mountpoint && strv_has(r->config->masked_paths, m->mountpoint)) {
			/* /dev/null over a masked file, an empty directory over a masked directory */
			cleanup_free char *target = mnt_resolve_in_root(r->rootfs, m->mountpoint);
			struct stat st;
			if (target && stat(target, &st) == 0 && S_ISDIR(st.st_mode))
				ret = empty_dir(r, l, &source, err);
		} else if (strncmp(key, CGROUP_MOUNT_PREFIX, strlen(CGROUP_MOUNT_PREFIX)) == 0 &&
			   !strchr(key + strlen(CGROUP_MOUNT_PREFIX), '/')) {
			/* a hierarchy the host has was mapped above: this one it lacks (hugetlb in v2 ...) */
			restore_warn(r,
				     "the images' cgroup hierarchy `%s` is not mounted on this host: the "
				     "container sees an empty directory there",
				     key);
			ret = empty_dir(r, l, &source, err);
		} else {
			return error_setx(
				err, EINVAL,
				"the images name the external mount `%s` (mounted at `%s`), which stasis "
				"cannot "
				"map to this host: it is neither a bind mount nor a masked path of the "
				"bundle's "
				"config.json nor a cgroup hierarchy; give its source (opts.mounts `%s=SRC` "
				"without opts.bundle, or a bind mount in config.json)",
				key, m->mountpoint ? m->mountpoint : "?", key);
		}
		if (ret < 0)
			return ret;
		ext_add(l, own(l, xstrdup(key)), source);
	}
	return 0;
}

/*
 * The external mounts the images may name, mapped to this host: bind mounts to their sources,
 * masked files to /dev/null, cgroup v1 hierarchies to the new container's cgroup in each; then
 * whatever else the images' keys name (ext_image_keys).  Keys the images do not use are ignored by
 * CRIU.
 */
static int ext_mounts(struct restore_ctx *r, const char *cg_path, struct ext_list *l,
		      struct stasis_error **err)
{
	const struct oci_config *c = r->config;
	for (size_t i = 0; i < c->n_mounts; i++) {
		if (!oci_mount_is_bind(&c->mounts[i]))
			continue;
		cleanup_free char *d = path_clean(c->mounts[i].destination);
		char *key = mnt_resolve_in_root(r->rootfs, d);
		ext_add(l, own(l, key ? key : xstrdup(d)), c->mounts[i].source);
	}
	/* masked files are binds of /dev/null, stored under that key (runc's convention) */
	if (c->masked_paths)
		ext_add(l, "/dev/null", "/dev/null");
	cleanup_with(mnt_table_clear) struct mnt_table t = { 0 };
	int ret = mnt_table_load(0, &t, err);
	if (ret < 0)
		return ret;
	bool devices = false;
	for (size_t i = 0; i < t.n && ret == 0; i++) {
		if (strcmp(t.e[i].fstype, "cgroup") != 0 ||
		    strncmp(t.e[i].mountpoint, "/sys/fs/cgroup/", 15) != 0)
			continue;
		char *dir = xasprintf("%s%s", t.e[i].mountpoint, cg_path);
		ret = cgroup_mkdir(t.e[i].mountpoint, cg_path, err);
		ext_add(l, own(l, xstrdup(t.e[i].mountpoint)), own(l, dir));
		if (ret == 0 && r->native_cgroup && mnt_option_has(t.e[i].super_opts, "devices")) {
			ret = set_device_rules(r, dir, err);
			devices = true;
		}
	}
	if (ret == 0 && !devices)
		restore_warn(r, "the container's device rules are not set: %s",
			     r->native_cgroup ? "no cgroup v1 devices controller is mounted"
					      : "its cgroup is not one stasis made");
	return ret < 0 ? ret : ext_image_keys(r, l, err);
}

/* stdin, stdout, stderr: the fds runc's descriptors.json describes */
#define STDIO_FDS 3
/* CRIU's name of a pipe in descriptors.json and in its inherit-fd keys */
#define PIPE_KEY_PREFIX "pipe:["

/*
 * opts.inherit_stdio: each of the container's fds 0-2 that was a pipe at checkpoint is restored as
 * a dup of ours (CRIU's inherit-fd, keyed by the pipe's name), at fd >= 10 as criu swrk needs.
 */
static int stdio_inherit(struct restore_ctx *r, struct rpc_inherit_fd *inherit, size_t *n_inherit, int *fds,
			 char ***keys, struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/descriptors.json", r->images_dir);
	cleanup_free char *text = NULL;
	size_t len = 0;
	int ret = read_file_capped(path, 64 * 1024, &text, &len, err);
	if (ret == -ENOENT) {
		restore_warn(r,
			     "no descriptors.json in the images: the container's stdio is not the caller's");
		return 0;
	}
	size_t n = 0;
	if (ret < 0 || (ret = oci_string_array_parse(text, len, "descriptors.json", keys, &n, err)) < 0)
		return ret;
	for (size_t i = 0; i < n && i < STDIO_FDS; i++) {
		if (strncmp((*keys)[i], PIPE_KEY_PREFIX, strlen(PIPE_KEY_PREFIX)) != 0)
			continue;
		fds[i] = fcntl((int)i, F_DUPFD_CLOEXEC, 10);
		if (fds[i] < 0)
			return error_set(err, errno, "restore: the container's fd %zu (`%s`) is our fd %zu",
					 i, (*keys)[i], i);
		inherit[(*n_inherit)++] = (struct rpc_inherit_fd){ (*keys)[i], fds[i] };
	}
	return 0;
}

/* what the restored init's fds 0-2 are now, as crun records them (external_descriptors) */
static char *stdio_descriptors(pid_t pid)
{
	struct oci_json *j = oci_json_new(false);
	oci_json_array_open(j);
	for (int i = 0; i < STDIO_FDS; i++) {
		char link[64], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, i);
		ssize_t l = readlink(link, target, sizeof(target) - 1);
		target[l > 0 ? l : 0] = '\0';
		oci_json_string(j, l > 0 ? target : "/dev/null");
	}
	oci_json_array_close(j);
	return oci_json_finish(j, NULL);
}

/* crun's own status file, so that `crun state/kill/delete` know the restored container */
static int write_crun_status(struct restore_ctx *r, const char *cg_path, struct stasis_error **err)
{
	const char *root = r->o.runtime_root ? r->o.runtime_root : "/run/crun";
	cleanup_free char *dir = xasprintf("%s/%s", root, r->o.id);
	int ret = mkdir_p(root, 0700, err);
	if (ret < 0)
		return ret;
	/* a crun container that appeared since the claim is someone else's: never written over */
	if (mkdir(dir, 0700) < 0)
		return error_set(err, errno, "create crun's record `%s`", dir);
	r->crun_dir = xstrdup(dir);
	r->runtime_created = true;
	char now[64];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kint(j, "pid", r->pid);
	oci_json_kint(j, "process-start-time", (long long)runtime_proc_start_time(r->pid));
	oci_json_kstr(j, "cgroup-path", cg_path);
	oci_json_kstr(j, "scope", "");
	oci_json_kstr(j, "rootfs", r->rootfs);
	oci_json_key(j, "systemd-cgroup");
	oci_json_bool(j, false);
	oci_json_kstr(j, "bundle", r->bundle);
	oci_json_kstr(j, "created", now);
	oci_json_kstr(j, "owner", "root");
	oci_json_key(j, "detached");
	oci_json_bool(j, true);
	cleanup_free char *descriptors = stdio_descriptors(r->pid);
	oci_json_kstr(j, "external_descriptors", descriptors);
	oci_json_map_close(j);
	cleanup_free char *status = oci_json_finish(j, NULL);
	cleanup_free char *cfg = xasprintf("%s/config.json", dir);
	if ((ret = write_file_atomic(cfg, r->config_json, r->config_len, 0600, 0, err)) < 0)
		return ret;
	cleanup_free char *path = xasprintf("%s/status", dir);
	return write_file_atomic(path, status, strlen(status), 0600, 0, err);
}

/* stasis' own record (runtime none): what `stasis checkpoint ID` needs to find the container */
static int write_stasis_state(struct restore_ctx *r, struct stasis_error **err)
{
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kstr(j, "ociVersion", "1.0.2");
	oci_json_kstr(j, "id", r->o.id);
	oci_json_kint(j, "pid", r->pid);
	oci_json_kstr(j, "status", "running");
	oci_json_kstr(j, "bundle", r->bundle);
	oci_json_kstr(j, "rootfs", r->rootfs);
	oci_json_map_close(j);
	cleanup_free char *text = oci_json_finish(j, NULL);
	/* always under the state root, whatever --state-dir said: that is where `stasis checkpoint` looks */
	cleanup_free char *path = stasis_state_record(r->o.id);
	cleanup_free char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	int ret = mkdir_p(dir, 0700, err);
	if (ret < 0)
		return ret;
	return write_file_atomic(path, text, strlen(text), 0600, 0, err);
}

/* runc runs these when CRIU has made the namespaces, with the restored pid: so do we */
static int on_setup_namespaces(const char *script, pid_t pid, int *fd, void *data, struct stasis_error **err)
{
	struct restore_ctx *r = data;
	(void)script;
	(void)fd;
	const struct oci_config *c = r->config;
	if (!c->n_hooks_prestart && !c->n_hooks_create_runtime)
		return 0;
	cleanup_free char *state = hook_state_json(r->o.id, pid, r->bundle, c);
	int ret = hooks_run(c->hooks_prestart, c->n_hooks_prestart, "prestart", state, err);
	if (ret == 0)
		ret = hooks_run(c->hooks_create_runtime, c->n_hooks_create_runtime, "createRuntime", state,
				err);
	return ret;
}

/* every task has sent its userfaultfd to criu lazy-pages, and none runs yet: the guard holds them all */
static int on_post_restore(const char *script, pid_t pid, int *fd, void *data, struct stasis_error **err)
{
	(void)script;
	(void)pid;
	(void)fd;
	struct restore_ctx *r = data;
	return r->lazy ? lazy_guard_hold(r->lazy, r->facts.live_tasks, err) : 0;
}

/* ---- a streamed restore: CRIU reads the page images from the archive (streamer.c) ---- */

/* the deferred member CRIU's image name stands for, or NULL */
static const struct arc_deferred *deferred_image(const struct restore_ctx *r, const char *image)
{
	static const char dir[] = ARCHIVE_CHECKPOINT_DIR "/";
	for (size_t i = 0; i < r->import.n_deferred; i++) {
		const char *name = r->import.deferred[i].name;
		if (strncmp(name, dir, sizeof(dir) - 1) == 0 && strcmp(name + sizeof(dir) - 1, image) == 0)
			return &r->import.deferred[i];
	}
	return NULL;
}

/* the pages fed to CRIU, of all the deferred members': told as the restore phase's bytes */
struct feed_progress {
	pthread_mutex_t lock;
	struct progress_sink sink;
	uint64_t done, total;
};

static void fed(uint64_t bytes, void *data)
{
	struct feed_progress *p = data;
	/* feeders run on threads of their own: the caller's callback hears one at a time */
	pthread_mutex_lock(&p->lock);
	p->done += bytes;
	progress_tell(&p->sink, p->done, p->total);
	pthread_mutex_unlock(&p->lock);
}

struct feed_source {
	const struct restore_ctx *r;
	struct feed_progress *progress;
};

/* CRIU killed half way through: what it made in this restore's own cgroup dies with it */
static void abandon_tasks(void *data)
{
	const struct restore_ctx *r = ((const struct feed_source *)data)->r;
	if (r->native_cgroup)
		runtime_cgroup_kill(r->o.id, 5000);
}

static bool image_exists(const char *image, void *data)
{
	const struct restore_ctx *r = ((const struct feed_source *)data)->r;
	if (deferred_image(r, image))
		return true;
	cleanup_free char *path = xasprintf("%s/%s", r->images_dir, image);
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* a small image from the unpacked directory, or a page image straight from the archive */
static int feed_image(const char *image, int fd, void *data, struct stasis_error **err)
{
	const struct feed_source *src = data;
	const struct restore_ctx *r = src->r;
	const struct arc_deferred *d = deferred_image(r, image);
	if (d)
		return arc_stream_verified(r->o.import_path, d, fd, src->progress->sink.fn ? fed : NULL,
					   src->progress, err);
	cleanup_free char *path = xasprintf("%s/%s", r->images_dir, image);
	cleanup_close int in = open_regular(path, O_NOFOLLOW, path, err);
	if (in < 0)
		return in;
	cleanup_free char *buf = xmalloc(1u << 20);
	ssize_t n;
	while ((n = read(in, buf, 1u << 20)) > 0) {
		int w = write_all(fd, buf, (size_t)n);
		if (w < 0)
			return w == -EPIPE ? w : error_set(err, -w, "pass `%s` to CRIU", path);
	}
	return n < 0 ? error_set(err, errno, "read `%s`", path) : 0;
}

int restore_unpack_deferred(struct restore_ctx *r, const char *why, struct stasis_error **err)
{
	if (!r->import.n_deferred)
		return 0;
	restore_warn(r, "the pages are unpacked before CRIU reads them: %s", why);
	for (size_t i = 0; i < r->import.n_deferred; i++) {
		const struct arc_deferred *d = &r->import.deferred[i];
		cleanup_free char *path = xasprintf("%s/%s", r->archive_dir, d->name);
		cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return error_set(err, errno, "create `%s`", path);
		int ret = arc_stream_verified(r->o.import_path, d, fd, NULL, NULL, err);
		if (ret < 0)
			return ret == -EPIPE ? error_set(err, EPIPE, "write `%s`", path) : ret;
	}
	arc_import_drop_deferred(&r->import);
	return 0;
}

/* CRIU's restore by its command line, the images served by us: -D is a short dir of its own */
static int restore_streamed(struct stasis_ctx *ctx, struct restore_ctx *r, struct rpc_opts *o, pid_t *ret_pid,
			    struct stasis_error **err)
{
	char dir[] = STASIS_STATE_ROOT "/@stream-XXXXXX";
	if (!mkdtemp(dir))
		return error_set(err, errno, "create a directory in " STASIS_STATE_ROOT);
	o->images_dir_fd = -1;
	o->work_dir_fd = -1;
	o->notify_scripts = false;
	/* CRIU 4.2 crashes on auto_dedup in a stream restore; nothing is on disk to punch out anyway */
	o->auto_dedup = false;
	struct feed_progress progress = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.sink = { r->o.progress, r->o.progress_data, STASIS_PHASE_RESTORE },
	};
	for (size_t i = 0; i < r->import.n_deferred; i++)
		progress.total += r->import.deferred[i].size;
	struct feed_source data = { r, &progress };
	const struct cr_stream_source src = { image_exists, feed_image, abandon_tasks, &data };
	int ret = cr_restore_streamed(ctx, o, dir, r->work_dir, &src, ret_pid, err);
	rmdir(dir);
	pthread_mutex_destroy(&progress.lock);
	return ret;
}

/* rpc_opts.before_request: the guard's daemon listens */
static int lazy_ready(void *lazy, struct stasis_error **err)
{
	return lazy_guard_ready(lazy, err);
}

int restore_native(struct stasis_ctx *ctx, struct restore_ctx *r, struct stasis_error **err)
{
	if (r->config->terminal)
		return error_setx(
			err, ENOTSUP,
			"a container with a terminal restores through runc (opts.runtime runc) for now");
	cleanup_with(lsm_decision_clear) struct lsm_decision lsm = { 0 };
	int ret = restore_decide_labels(r, &lsm, err);
	if (ret < 0)
		return ret;
	cleanup_free char *cg_path = r->config->cgroups_path && r->config->cgroups_path[0] == '/'
					     ? xstrdup(r->config->cgroups_path)
					     : xasprintf(STASIS_CGROUP_PARENT "/%s", r->o.id);
	cleanup_free char *own_cg = xasprintf(STASIS_CGROUP_PARENT "/%s", r->o.id);
	/* the cgroups /stasis/<id> are this restore's (the claim checked that nothing runs there) */
	r->native_cgroup = strcmp(cg_path, own_cg) == 0;
	cleanup_with(ext_list_clear) struct ext_list ext = { 0 };
	cleanup_free char *criu_root = xasprintf("%s/" STATE_DIR_CRIU_ROOT, r->state_dir);
	cleanup_close int images_fd = -1, work_fd = -1, netns_fd = -1, criu_netns_fd = -1;
	struct child_namespaces criu_ns;
	bool root_mounted = false;
	/* before the first goto: a jump past a cleanup variable's initialisation frees garbage */
	cleanup_with(rpc_result_clear) struct rpc_result res = { 0 };
	cleanup_strv char **stdio_keys = NULL;
	int stdio_fds[STDIO_FDS] = { -1, -1, -1 };
	cleanup_with(lazy_guard_free) struct lazy_guard *lazy = NULL;
	struct lazy_source lazy_src = { 0 };
	/* OCI hooks run at CRIU's setup-namespaces notification: its command line has none */
	if ((r->config->n_hooks_prestart || r->config->n_hooks_create_runtime) &&
	    (ret = restore_unpack_deferred(r,
					   "the container's prestart and createRuntime hooks run at a "
					   "notification only CRIU's RPC sends",
					   err)) < 0)
		goto out;
	if (r->o.lazy_pages && (ret = lazy_prepare(r, &lazy_src, err)) < 0)
		goto out;
	if ((r->criu_in_new_namespaces &&
	     (ret = restore_criu_namespaces(r, &criu_ns, &criu_netns_fd, err)) < 0) ||
	    (ret = ext_mounts(r, cg_path, &ext, err)) < 0 ||
	    (ret = cr_open_dir(r->images_dir, false, &images_fd, err)) < 0 ||
	    (ret = cr_open_dir(r->work_dir, true, &work_fd, err)) < 0)
		goto out;
	/* CRIU restores the mount tree onto a mount of the rootfs of its own, as crun does it */
	if (mkdir(criu_root, 0755) < 0 && errno != EEXIST) {
		ret = error_set(err, errno, "create `%s`", criu_root);
		goto out;
	}
	if (mount(r->rootfs, criu_root, NULL, MS_BIND | MS_REC, NULL) < 0) {
		ret = error_set(err, errno, "bind mount the rootfs on `%s`", criu_root);
		goto out;
	}
	root_mounted = true;
	struct rpc_inherit_fd inherit[1 + STDIO_FDS];
	size_t n_inherit = 0;
	if (r->o.inherit_stdio &&
	    (ret = stdio_inherit(r, inherit, &n_inherit, stdio_fds, &stdio_keys, err)) < 0)
		goto out;
	const struct oci_namespace *net = oci_config_namespace(r->config, "network");
	if (net && net->path) {
		/* CRIU gets this fd as it is (rpc_run keeps it open in criu swrk), above stdio and its socket */
		cleanup_close int fd = open(net->path, O_RDONLY | O_CLOEXEC);
		netns_fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 10) : -1;
		if (netns_fd < 0) {
			ret = error_set(err, errno, "open network namespace `%s`", net->path);
			goto out;
		}
		inherit[n_inherit++] = (struct rpc_inherit_fd){ "extRootNetNS", netns_fd };
	}
	struct rpc_kv cg_root = { NULL, cg_path };
	struct rpc_opts o;
	rpc_opts_init(&o);
	o.images_dir_fd = images_fd;
	o.work_dir_fd = work_fd;
	o.log_file = "restore.log";
	o.log_level = STASIS_LOG_LEVEL;
	o.root = criu_root;
	o.rst_sibling = true;
	o.manage_cgroups = true;
	o.manage_cgroups_mode = RPC_CG_SOFT;
	o.cg_root = &cg_root;
	o.n_cg_root = 1;
	o.ext_mnt = ext.kv;
	o.n_ext_mnt = ext.n;
	o.inherit_fd = inherit;
	o.n_inherit_fd = n_inherit;
	o.tcp_established = r->o.tcp_established;
	o.auto_dedup = r->o.import_path != NULL; /* as for runc above: only our own scratch images */
	o.tcp_close = r->o.tcp_close;
	o.ext_unix_sk = r->o.ext_unix_sk;
	o.shell_job = r->o.shell_job;
	o.file_locks = r->o.file_locks;
	o.lsm_profile = lsm.lsm_profile;
	o.lsm_mount_context = lsm.mount_context;
	o.notify_scripts = true;
	o.cgroup_yard = cr_cgroup_yard(ctx);
	o.criu_namespaces = r->criu_in_new_namespaces ? &criu_ns : NULL;
	static const struct rpc_notify_handler handlers[] = {
		{ "setup-namespaces", on_setup_namespaces },
		{ "post-restore", on_post_restore },
	};
	const struct rpc_notify_table notify = { handlers, ARRAY_SIZE(handlers), r };
	if (r->o.lazy_pages) {
		o.lazy_pages = true;
		/* the daemon reads the pages files after the restore: nothing may punch them out */
		o.auto_dedup = false;
		/*
		 * CRIU connects to the daemon before its first notification: it must listen by then.
		 * criu swrk starts meanwhile (it loads for some 20-30 ms here); the request waits.
		 */
		if ((ret = lazy_guard_start(ctx, r, lazy_src.archive_path ? &lazy_src : NULL, &lazy, err)) <
		    0)
			goto out;
		o.before_request = lazy_ready;
		o.before_request_data = lazy;
		r->lazy = lazy;
	}
	if (r->import.n_deferred && !r->o.lazy_pages) {
		ret = restore_streamed(ctx, r, &o, &res.restored_pid, err);
		res.success = ret == 0;
	} else {
		ret = cr_run(ctx, RPC_RESTORE, &o, &notify, &res, err);
	}
	/* cancelled after CRIU had finished: its tree runs, and the rollback kills it */
	if (ret < 0 && res.success && res.restored_pid > 0)
		r->native_pid = res.restored_pid;
	if (ret == 0 && !res.success) {
		cleanup_free char *log = xasprintf("%s/restore.log", r->work_dir);
		ret = cr_fail(err, "CRIU restore", &res, log);
	}
	if (ret == 0)
		r->pid = r->native_pid = res.restored_pid;
	if (ret == 0 && lazy) {
		cleanup_free char *warning = NULL;
		ret = lazy_guard_running(lazy, r->pid, &warning, err);
		if (warning)
			restore_warn(r, "%s", warning);
	}
	if (ret < 0)
		goto out;
	if (r->o.pid_file) {
		cleanup_free char *text = xasprintf("%d", (int)r->pid);
		if ((ret = write_file_atomic(r->o.pid_file, text, strlen(text), 0644, 0, err)) < 0)
			goto out;
	}
	ret = strcmp(r->runtime, "crun") == 0 ? write_crun_status(r, cg_path, err)
					      : write_stasis_state(r, err);
out:
	r->lazy = NULL;
	for (int i = 0; i < STDIO_FDS; i++)
		if (stdio_fds[i] >= 0)
			close(stdio_fds[i]);
	if (root_mounted) {
		umount2(criu_root, MNT_DETACH);
		rmdir(criu_root);
	}
	return ret;
}
