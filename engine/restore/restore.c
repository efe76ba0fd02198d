/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Container restore: verify and unpack the archive, build the new container's rootfs and bundle,
 * then either let its runtime run the CRIU step (runc: so runc owns it) or restore natively.
 * Every step that leaves something behind registers its undo; a failure runs them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/names.h"
#include "engine/archive/archive.h"
#include "engine/engine-internal.h"
#include "engine/images/reader.h"
#include "engine/restore/hooks.h"
#include "engine/restore/netns.h"
#include "engine/restore/policy.h"
#include "engine/restore/restore-internal.h"
#include "engine/restore/prepare.h"
#include "engine/runtime/runtime-internal.h"
#include "mounts/mounts.h"
#include "oci/oci.h"

static int read_member(struct restore_ctx *r, const char *name, bool required, char **ret, size_t *ret_len,
		       struct stasis_error **err)
{
	cleanup_free char *p = xasprintf("%s/%s", r->archive_dir, name);
	if (!required && access(p, F_OK) < 0) {
		*ret = NULL;
		return 0;
	}
	return read_file_capped(p, OCI_MAX_JSON, ret, ret_len, err);
}

/* the members a streamed restore leaves in the archive: CRIU's page images, nearly all of it */
static bool is_pages_member(const char *name)
{
	static const char prefix[] = ARCHIVE_CHECKPOINT_DIR "/" CRIU_IMG_PAGES;
	return strncmp(name, prefix, sizeof(prefix) - 1) == 0 && !strchr(name + sizeof(prefix) - 1, '/');
}

/*
 * Whether the pages may stay in the archive: stasis runs CRIU itself (runtime none or crun, known
 * before the archive is read: runc restores from a directory of images).
 */
static bool may_stream(const struct restore_ctx *r)
{
	return !r->o.staged && r->o.runtime &&
	       (strcmp(r->o.runtime, "none") == 0 || strcmp(r->o.runtime, "crun") == 0);
}

const struct arc_tls *restore_page_server_tls(struct restore_ctx *r)
{
	const struct stasis_restore_opts *o = &r->o;
	if (!o->page_server_tls && !o->tls_cacert && !o->tls_cert && !o->tls_key)
		return NULL;
	r->page_server_tls = (struct arc_tls){ .cert = o->tls_cert,
					       .key = o->tls_key,
					       .cacert = o->tls_cacert,
					       .no_cn_verify = o->tls_no_cn_verify };
	return &r->page_server_tls;
}

/* The archive another host serves: a sparse replica in the state dir, imported as any archive. */
static int replicate(struct restore_ctx *r, struct stasis_error **err)
{
	cleanup_with(arc_remote_free) struct arc_remote *rm = NULL;
	r->replica = xasprintf("%s/" STATE_DIR_REPLICA, r->state_dir);
	int ret = arc_remote_connect(r->o.page_server, r->o.page_server_token, restore_page_server_tls(r),
				     &rm, err);
	if (ret == 0)
		ret = arc_remote_replicate(rm, r->replica, err);
	if (ret == 0)
		r->o.import_path = r->replica;
	return ret;
}

static int unpack(struct restore_ctx *r, struct stasis_error **err)
{
	r->archive_dir = xasprintf("%s/" STATE_DIR_ARCHIVE, r->state_dir);
	if (mkdir(r->archive_dir, 0700) < 0)
		return error_set(err, errno, "create `%s`", r->archive_dir);
	struct progress_sink sink = { r->o.progress, r->o.progress_data, STASIS_PHASE_UNPACK };
	const struct arc_progress p = { progress_tell_arc, &sink };
	struct stat st;
	progress_tell(&sink, 0, stat(r->o.import_path, &st) == 0 ? (uint64_t)st.st_size : 0);
	int ret = -EOPNOTSUPP;
	if (may_stream(r)) {
		cleanup_with(stasis_error_free) struct stasis_error *e = NULL;
		ret = arc_import_deferring(r->o.import_path, r->archive_dir, is_pages_member, &p, &r->import,
					   &e);
		if (ret == -EOPNOTSUPP)
			restore_warn(r, "the pages are unpacked before CRIU reads them: %s",
				     stasis_error_message(e));
		else if (ret < 0)
			return error_adopt(err, &e, ret);
	}
	if (ret == -EOPNOTSUPP)
		ret = arc_import(r->o.import_path, r->archive_dir, &p, &r->import, err);
	if (ret < 0)
		return ret;
	if (!r->import.has_manifest)
		restore_warn(
			r,
			"archive `%s` has no stasis.manifest (podman or CRI-O made it): its structure was "
			"checked, its contents cannot be",
			r->o.import_path);
	r->images_dir = xasprintf("%s/" ARCHIVE_CHECKPOINT_DIR, r->archive_dir);
	int pruned = netns_prune_empty_dumps(r->images_dir);
	if (pruned)
		ctx_log(r->ctx, STASIS_LOG_DEBUG, "restore `%s`: %d network dumps that hold nothing left out",
			r->o.id, pruned);

	cleanup_free char *text = NULL;
	size_t len = 0;
	if ((ret = read_member(r, ARCHIVE_CONFIG_DUMP, true, &text, &len, err)) < 0 ||
	    (ret = oci_config_dump_parse(text, len, &r->cdump, err)) < 0)
		return ret;
	free(TAKE_PTR(text));
	if ((ret = read_member(r, ARCHIVE_DELETED_FILES, false, &text, &len, err)) < 0)
		return ret;
	if (text && (ret = oci_string_array_parse(text, len, ARCHIVE_DELETED_FILES, &r->deleted,
						  &r->n_deleted, err)) < 0)
		return ret;
	free(TAKE_PTR(text));
	if ((ret = read_member(r, ARCHIVE_BIND_MOUNTS, false, &text, &len, err)) < 0)
		return ret;
	if (text && (ret = oci_bind_mounts_parse(text, len, &r->bind_info, &r->n_bind_info, err)) < 0)
		return ret;
	return 0;
}

static int load_bundle_config(struct restore_ctx *r, struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/config.json", r->bundle);
	int ret = read_file_capped(path, OCI_MAX_JSON, &r->config_json, &r->config_len, err);
	if (ret < 0)
		return ret;
	ret = oci_config_parse(r->config_json, r->config_len, path, &r->config, err);
	if (ret < 0)
		return ret;
	if (!r->config->root_path)
		return error_setx(err, EINVAL, "%s: .root.path: missing", path);
	r->rootfs = r->config->root_path[0] == '/' ? xstrdup(r->config->root_path)
						   : xasprintf("%s/%s", r->bundle, r->config->root_path);
	return 0;
}

static int mount_fresh_rootfs(struct restore_ctx *r, struct stasis_error **err)
{
	if (!r->o.rootfs_base)
		return error_setx(
			err, EINVAL,
			"restoring an archive without opts.bundle needs opts.rootfs_base: the image "
			"the container's rootfs came from (its changes are in the archive)");
	struct stat st;
	errno = 0;
	if (stat(r->o.rootfs_base, &st) < 0 || !S_ISDIR(st.st_mode))
		return error_set(err, errno_or(ENOTDIR), "opts.rootfs_base `%s`", r->o.rootfs_base);
	cleanup_free char *upper = xasprintf("%s/" STATE_DIR_UPPER, r->state_dir);
	cleanup_free char *work = xasprintf("%s/" STATE_DIR_OVERLAY_WORK, r->state_dir);
	r->rootfs = xasprintf("%s/" STATE_DIR_ROOTFS, r->state_dir);
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(r->rootfs, 0755) < 0)
		return error_set(err, errno, "create the rootfs in `%s`", r->state_dir);
	/*
	 * The overlay's root takes the upper dir's mode and owner.  CRIU checks the mode against the
	 * one the images recorded (podman's image mounts have a 0555 root, an unpacked image usually
	 * 0755): the images' mode, else the base's; the owner is the base's (the images have none).
	 */
	mode_t mode = (r->facts.root_mode ? r->facts.root_mode : st.st_mode) & 07777;
	if (r->facts.root_mode && !S_ISDIR(r->facts.root_mode))
		return error_setx(err, EBADMSG, "the images record a root that is no directory (mode 0%o)",
				  r->facts.root_mode);
	if (chmod(upper, mode) < 0 || chown(upper, st.st_uid, st.st_gid) < 0)
		return error_set(err, errno, "set up `%s`", upper);
	if (r->facts.root_mode && (st.st_mode & 07777) != mode)
		ctx_log(r->ctx, STASIS_LOG_INFO,
			"restore `%s`: the rootfs' root gets mode 0%o as at checkpoint (the base's is 0%o)",
			r->o.id, (unsigned)mode, (unsigned)(st.st_mode & 07777));
	cleanup_free char *real_base = realpath(r->o.rootfs_base, NULL);
	cleanup_free char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s",
					    real_base ? real_base : r->o.rootfs_base, upper, work);
	if (mount("overlay", r->rootfs, "overlay", 0, opts) < 0)
		return error_set(err, errno, "mount an overlay rootfs on `%s` (%s)", r->rootfs, opts);
	/* what the rollback unmounts, kept apart from r->rootfs, which the bundle's config decides */
	r->rootfs_mount = xstrdup(r->rootfs);
	return 0;
}

/* CRIU opens the tasks' root and refuses it in another mode than at checkpoint ("has bad mode") */
static int check_root_mode(const struct restore_ctx *r, struct stasis_error **err)
{
	struct stat st;
	if (!r->facts.root_mode || stat(r->rootfs, &st) < 0 || st.st_mode == r->facts.root_mode)
		return 0;
	return error_setx(err, EINVAL,
			  "the rootfs `%s` has mode 0%o, its root had 0%o at checkpoint, and CRIU refuses "
			  "another: %s",
			  r->rootfs, (unsigned)st.st_mode, r->facts.root_mode,
			  r->o.bundle ? "chmod the bundle's rootfs (stasis changes no rootfs it did not make)"
				      : "the archive's rootfs diff changed it");
}

static int apply_rootfs_changes(struct restore_ctx *r, struct stasis_error **err)
{
	cleanup_free char *diff = xasprintf("%s/%s", r->archive_dir, ARCHIVE_ROOTFS_DIFF);
	int ret = 0;
	if (access(diff, F_OK) == 0)
		ret = arc_apply_tree(diff, r->rootfs, &r->diff_paths, &r->n_diff_paths, err);
	if (ret == 0 && r->n_deleted)
		ret = arc_remove_deleted(r->rootfs, r->deleted, r->n_deleted, err);
	return ret < 0 ? error_wrap(err, ret, "rootfs `%s`", r->rootfs) : 0;
}

/*
 * podman saves the contents of the container's /dev/shm as devshm-checkpoint.tar: they go into
 * the fresh /dev/shm we made (never into a directory the user gave with --mount), with the
 * rootfs diff's rules: nothing outside it, no devices, no links leading out.
 */
static int restore_devshm(struct restore_ctx *r, const char *files, const struct oci_kv *binds,
			  size_t n_binds, struct stasis_error **err)
{
	cleanup_free char *tar = xasprintf("%s/%s", r->archive_dir, ARCHIVE_DEVSHM);
	if (access(tar, F_OK) < 0)
		return 0;
	cleanup_free char *fresh = xasprintf("%s/shm", files);
	for (size_t i = 0; i < n_binds; i++) {
		if (strcmp(binds[i].key, "/dev/shm") != 0)
			continue;
		if (strcmp(binds[i].value, fresh) != 0) {
			restore_warn(r, "%s not restored: /dev/shm comes from opts.mounts `%s`",
				     ARCHIVE_DEVSHM, binds[i].value);
			return 0;
		}
		int ret = arc_apply_tree(tar, fresh, NULL, NULL, err);
		return ret < 0 ? error_wrap(err, ret, "restore /dev/shm from %s", ARCHIVE_DEVSHM) : 0;
	}
	restore_warn(r, "%s not restored: the container has no /dev/shm bind mount", ARCHIVE_DEVSHM);
	return 0;
}

/*
 * The restore policy (docs/guarantees.md, section 5) applied to spec.dump: what CRIU's images hold
 * goes in with it; *ret is the text the bundle is built from.  The network namespace the container
 * joins where it had none of its own is named here and made after the policy has agreed.
 */
static int apply_policy(struct restore_ctx *r, const char *spec, size_t len, const struct oci_config *old,
			char **ret, size_t *ret_len, struct stasis_error **err)
{
	struct oci_policy policy = { .trust_archive = r->o.trust_archive };
	int rc = restore_images_facts(r->images_dir, &r->facts, &policy, err);
	if (rc < 0)
		return rc;
	const struct oci_namespace *net = oci_config_namespace(old, "network");
	/*
	 * The host's (no entry) or one from outside (a path): the images expect one from outside
	 * (extRootNetNS), or CRIU's own (the host's) where CRIU runs.  It is ours or the caller's.
	 */
	bool join_netns = !net || net->path;
	if (join_netns)
		r->netns_path = r->o.netns_path ? xstrdup(r->o.netns_path)
						: xasprintf("%s/" STATE_DIR_NETNS, r->state_dir);
	else if (r->o.netns_path)
		restore_warn(r,
			     "opts.netns_path `%s` ignored: the container owned its network namespace, which "
			     "comes back from the images",
			     r->o.netns_path);
	policy.netns_path = r->netns_path;
	cleanup_free char *trusted = NULL;
	rc = oci_policy_apply(spec, len, ARCHIVE_SPEC_DUMP, &policy, ret, ret_len, &trusted, err);
	if (rc < 0)
		return rc;
	if (trusted)
		restore_warn(r, "opts.trust_archive: the container gets what its archive asks: %s", trusted);
	r->criu_in_new_namespaces = true;
	if (join_netns && !r->o.netns_path) {
		rc = restore_new_netns(r->netns_path, err);
		r->netns_created = rc == 0;
	}
	return rc;
}

/* The new container's config.json, from spec.dump, in the state dir's bundle. */
static int build_bundle(struct restore_ctx *r, struct stasis_error **err)
{
	cleanup_free char *spec = NULL, *policed = NULL;
	size_t len = 0, policed_len = 0;
	int ret = read_member(r, ARCHIVE_SPEC_DUMP, true, &spec, &len, err);
	if (ret < 0)
		return ret;
	cleanup_with(oci_config_free) struct oci_config *old = NULL;
	if ((ret = oci_config_parse(spec, len, ARCHIVE_SPEC_DUMP, &old, err)) < 0 ||
	    (ret = apply_policy(r, spec, len, old, &policed, &policed_len, err)) < 0)
		return ret;
	struct oci_kv *binds = NULL;
	size_t n_binds = 0;
	cleanup_free char *files = xasprintf("%s/" STATE_DIR_FILES, r->state_dir);
	ret = restore_bind_sources(old, r->o.mounts, r->o.n_mounts, files, r->o.id, &binds, &n_binds, err);
	if (ret == 0)
		ret = restore_devshm(r, files, binds, n_binds, err);
	const struct oci_namespace *net = oci_config_namespace(old, "network");
	/* runc restores an owned network namespace empty (its empty-ns rule): our hook brings lo up */
	bool lo_hook = ret == 0 && net && !net->path && strcmp(r->runtime, "runc") == 0;
	if (lo_hook && !r->o.hook_path)
		restore_warn(r,
			     "runc restores the container's own network namespace with loopback down, and no "
			     "hook program was given to set it up");
	/* a container stasis restored under runc and checkpointed again carries our own hook: not news */
	if (old->has_hooks && !restore_hooks_only_ours(spec, len, old))
		restore_warn(r,
			     "the hooks in %s are not run: an archive does not choose what runs on this host "
			     "(give opts.bundle with a config.json that has them)",
			     ARCHIVE_SPEC_DUMP);
	cleanup_free char *cg = xasprintf("/stasis/%s", r->o.id);
	const char *const hook_args[] = { "stasis", "hook", STASIS_HOOK_LOOPBACK_UP, NULL };
	struct oci_spec_edit e = {
		.root_path = r->rootfs,
		.bind_sources = binds,
		.n_bind_sources = n_binds,
		.cgroups_path = cg,
		.drop_hooks = true,
		.add_hook_path = lo_hook ? r->o.hook_path : NULL,
		.add_hook_args = hook_args,
	};
	cleanup_free char *out = NULL;
	size_t out_len = 0;
	if (ret == 0)
		ret = oci_spec_edit(policed, policed_len, ARCHIVE_SPEC_DUMP, &e, &out, &out_len, err);
	restore_kv_free(binds, n_binds);
	if (ret < 0)
		return ret;
	r->bundle = xasprintf("%s/" STATE_DIR_BUNDLE, r->state_dir);
	cleanup_free char *path = xasprintf("%s/config.json", r->bundle);
	if (mkdir(r->bundle, 0700) < 0)
		return error_set(err, errno, "create `%s`", r->bundle);
	if ((ret = write_file_atomic(path, out, out_len, 0600, WRITE_FILE_NOREPLACE, err)) < 0)
		return ret;
	free(r->rootfs);
	r->rootfs = NULL;
	return load_bundle_config(r, err);
}

static const char *default_runtime(struct restore_ctx *r)
{
	if (r->o.runtime && strcmp(r->o.runtime, "auto") != 0)
		return r->o.runtime;
	const char *from = r->cdump ? r->cdump->runtime : NULL;
	if (from && (strcmp(from, "runc") == 0 || strcmp(from, "crun") == 0))
		return from;
	/* podman records the runtime as a path */
	if (from && strstr(from, "/runc"))
		return "runc";
	if (from && strstr(from, "/crun"))
		return "crun";
	return "none";
}

/* A cancel (stasis_ctx_cancel) between two steps: the rollback undoes what the steps made. */
static int check_cancelled(const struct stasis_ctx *ctx, struct stasis_error **err)
{
	return ctx && ctx->cancelled ? error_setx(err, ECANCELED, "cancelled") : 0;
}

/* The options that make sense on their own, checked before anything is touched. */
static int check_opts(const struct restore_ctx *r, struct stasis_error **err)
{
	int ret = runtime_id_check(r->o.id, "opts.id", err);
	if (ret < 0)
		return ret;
	if (!!r->o.import_path + !!r->o.image_path + !!r->o.page_server != 1)
		return error_setx(err, EINVAL,
				  "give one of opts.import_path, opts.image_path and opts.page_server");
	if (r->o.page_server && (!r->o.lazy_pages || !r->o.page_server_token))
		return error_setx(err, EINVAL,
				  "opts.page_server needs opts.lazy_pages (the pages come when needed) and "
				  "opts.page_server_token (the one the server printed)");
	if (!r->o.page_server && (r->o.page_server_tls || r->o.tls_cacert || r->o.tls_cert || r->o.tls_key ||
				  r->o.tls_no_cn_verify))
		return error_setx(err, EINVAL, "TLS (opts.page_server_tls, tls_*) is for opts.page_server");
	if (!r->o.tls_cert != !r->o.tls_key)
		return error_setx(err, EINVAL, "opts.tls_cert and opts.tls_key go together");
	if (r->o.image_path && !r->o.bundle)
		return error_setx(
			err, EINVAL,
			"opts.image_path needs opts.bundle: the new container's config.json and rootfs");
	struct stat st;
	if (r->o.import_path && stat(r->o.import_path, &st) == 0 && S_ISDIR(st.st_mode))
		return error_setx(
			err, EISDIR,
			"opts.import_path `%s` is a directory: it takes a checkpoint archive file (CRIU "
			"images in a directory go in opts.image_path, with opts.bundle)",
			r->o.import_path);
	return 0;
}

/* sizes and CRIU's own figures, for opts.stats (before a hand-over clears the work dir) */
static void restore_fill_stats(const struct restore_ctx *r, struct stasis_restore_stats *st)
{
	struct stat sb;
	if (r->o.import_path && stat(r->o.import_path, &sb) == 0)
		st->archive_bytes = (uint64_t)sb.st_size;
	struct img_stats s;
	cleanup_free char *path = xasprintf("%s/%s", r->work_dir, CRIU_IMG_STATS_RESTORE);
	if (image_read_stats_file(path, &s, NULL) < 0 || !s.has_restore)
		return;
	st->has_criu_stats = true;
	st->forking_time = s.forking_time;
	st->restore_time = s.restore_time;
	st->pages_restored = s.pages_restored;
}

int stasis_restore(struct stasis_ctx *ctx, const struct stasis_restore_opts *opts, pid_t *ret_pid,
		   struct stasis_error **err)
{
	struct restore_ctx r = { .ctx = ctx };
	struct stasis_restore_stats st = { .size = sizeof(st) };
	uint64_t t_start = monotonic_us(), t;
	if (!opts)
		return error_setx(err, EINVAL, "restore: no options given");
	int rc = opts_copy(&r.o, sizeof(r.o), opts, "restore", err);
	if (rc < 0)
		return rc;
	/* an id that is not one is not repeated in every message */
	const char *what = r.o.id && runtime_id_check(r.o.id, "opts.id", NULL) == 0 ? r.o.id : NULL;
	int ret;
	if ((ret = check_opts(&r, err)) < 0 || (ret = check_cancelled(ctx, err)) < 0 ||
	    (ret = stasis_criu_require(ctx, err)) < 0 || (ret = restore_ctx_claim(&r, err)) < 0)
		goto out;
	t = monotonic_us();
	if (r.o.page_server && (ret = replicate(&r, err)) < 0)
		goto out;
	if (r.o.import_path && ((ret = unpack(&r, err)) < 0 || (ret = check_cancelled(ctx, err)) < 0))
		goto out;
	if (r.o.import_path)
		st.unpack_us = monotonic_us() - t;
	if (r.o.import_path)
		ctx_log(ctx, STASIS_LOG_INFO, "restore `%s`: archive `%s` %s and unpacked into `%s`%s",
			r.o.id, r.o.import_path, r.import.has_manifest ? "verified" : "checked",
			r.archive_dir,
			r.import.n_deferred ? " (but the pages, which CRIU reads from the archive)" : "");
	if (r.o.image_path)
		r.images_dir = xstrdup(r.o.image_path);
	if ((ret = restore_images_root_facts(r.images_dir, &r.facts, err)) < 0)
		goto out;
	r.runtime = xstrdup(default_runtime(&r));
	if (strcmp(r.runtime, "runc") && strcmp(r.runtime, "crun") && strcmp(r.runtime, "none")) {
		ret = error_setx(err, EINVAL, "opts.runtime `%s`: expected runc, crun or none", r.runtime);
		goto out;
	}
	if (r.o.runtime_owns && (!r.o.bundle || strcmp(r.runtime, "none") == 0)) {
		ret = error_setx(err, EINVAL,
				 "opts.runtime_owns needs opts.bundle and opts.runtime runc or crun: the "
				 "runtime must be able to manage the container on its own");
		goto out;
	}
	/* the record names the runtime before the runtime hears of the container */
	if ((ret = restore_ctx_save_owner(&r, false, err)) < 0)
		goto out;
	if (r.o.bundle) {
		r.bundle = xstrdup(r.o.bundle);
		ret = load_bundle_config(&r, err);
		if (ret == 0 && r.o.n_mounts)
			restore_warn(&r, "opts.mounts ignored: with opts.bundle the bind sources are its "
					 "config.json's");
	} else {
		ret = mount_fresh_rootfs(&r, err);
		if (ret == 0)
			ret = build_bundle(&r, err);
	}
	if (ret < 0 || (ret = check_cancelled(ctx, err)) < 0)
		goto out;
	if (r.o.import_path && (ret = apply_rootfs_changes(&r, err)) < 0)
		goto out;
	if ((ret = restore_mountpoints(r.config, r.rootfs, r.bind_info, r.n_bind_info, err)) < 0 ||
	    (ret = check_cancelled(ctx, err)) < 0)
		goto out;
	if ((ret = check_root_mode(&r, err)) < 0)
		goto out;
	r.work_dir = r.o.work_path ? xstrdup(r.o.work_path) : xstrdup(r.state_dir);
	if ((ret = mkdir_p(r.work_dir, 0700, err)) < 0)
		goto out;
	ctx_log(ctx, STASIS_LOG_INFO, "restore `%s`: rootfs `%s`, bundle `%s`, CRIU step by %s", r.o.id,
		r.rootfs, r.bundle, strcmp(r.runtime, "runc") == 0 ? "runc restore" : "stasis");
	t = monotonic_us();
	progress_tell(&(struct progress_sink){ r.o.progress, r.o.progress_data, STASIS_PHASE_RESTORE }, 0, 0);
	if (strcmp(r.runtime, "runc") == 0)
		ret = restore_via_runc(ctx, &r, err);
	else
		ret = restore_native(ctx, &r, err);
	st.criu_us = monotonic_us() - t;
	/* a cancel that came while runc restored (runc is left to finish): undone all the same */
	if (ret < 0 || (ret = check_cancelled(ctx, err)) < 0 ||
	    (ret = restore_ctx_save_owner(&r, true, err)) < 0)
		goto out;
	ctx_log(ctx, STASIS_LOG_INFO, "restore `%s`: running as pid %d", r.o.id, (int)r.pid);
	{
		/* an earlier failure's log of this name is stale now */
		cleanup_free char *old_log = xasprintf(STASIS_FAILED_LOGS "/%s.restore.log", r.o.id);
		(void)unlink(old_log);
	}
	if (r.o.stats) {
		st.total_us = monotonic_us() - t_start;
		restore_fill_stats(&r, &st);
		result_fill(r.o.stats, &st, sizeof(st));
	}
	if (r.o.runtime_owns)
		restore_ctx_hand_over(&r);
	if (ret_pid)
		*ret_pid = r.pid;
out:
	if (ret < 0) {
		restore_ctx_rollback(&r);
		if (r.kept_log)
			error_wrap(err, ret, "restore.log kept as `%s`", r.kept_log);
		if (what)
			error_wrap(err, ret, "restore `%s`", what);
		else
			error_wrap(err, ret, "restore");
	}
	restore_ctx_clear(&r);
	return ret;
}
