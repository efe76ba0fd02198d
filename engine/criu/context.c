/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/namespaces.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"

#define CRIU_HOWTO                                          \
	"stasis needs CRIU >= " STASIS_CRIU_MIN_VERSION_STR \
	": install it and give its path in opts.criu_path or $STASIS_CRIU"

static int locate_criu(const char *explicit_path, char **ret, struct stasis_error **err)
{
	const char *from = "opts.criu_path";
	const char *want = explicit_path;
	if (!want || !*want) {
		want = getenv("STASIS_CRIU");
		from = "STASIS_CRIU";
	}
	if (want && *want) {
		if (access(want, X_OK) < 0)
			return error_setx(err, errno, "CRIU `%s` (from %s): %s; %s", want, from,
					  strerror(errno), CRIU_HOWTO);
		*ret = xstrdup(want);
		return 0;
	}
	char *found = find_in_path("criu");
	if (!found)
		return error_setx(err, ENOENT, "no `criu` in PATH; %s", CRIU_HOWTO);
	*ret = found;
	return 0;
}

int stasis_ctx_new(const struct stasis_ctx_opts *opts, struct stasis_ctx **ret_ctx, struct stasis_error **err)
{
	struct stasis_ctx_opts o;
	int rc = opts_copy(&o, sizeof(o), opts, "context", err);
	if (rc < 0)
		return rc;

	cleanup_free char *criu = NULL;
	int r = locate_criu(o.criu_path, &criu, err);
	if (r < 0)
		return r;
	struct stasis_ctx *ctx = xzalloc(sizeof(*ctx));
	ctx->criu_path = TAKE_PTR(criu);
	ctx->nftables_lock = -1;
	ctx->timeout_ms = o.timeout_ms ? o.timeout_ms : STASIS_DEFAULT_TIMEOUT_MS;
	ctx->log = o.log;
	ctx->log_data = o.log_data;
	ctx->log_level = o.log_level ? o.log_level : STASIS_LOG_INFO;
	ctx->runc_path = o.runc_path ? xstrdup(o.runc_path) : NULL;
	ctx->crun_path = o.crun_path ? xstrdup(o.crun_path) : NULL;
	size_t n_args = 0;
	ctx->runtime_args = xzalloc(sizeof(*ctx->runtime_args));
	for (size_t i = 0; o.runtime_args && o.runtime_args[i]; i++)
		strv_push(&ctx->runtime_args, &n_args, xstrdup(o.runtime_args[i]));
	ctx_log(ctx, STASIS_LOG_DEBUG, "CRIU: `%s`", ctx->criu_path);
	*ret_ctx = ctx;
	return 0;
}

struct stasis_ctx *stasis_ctx_free(struct stasis_ctx *ctx)
{
	if (!ctx)
		return NULL;
	free(ctx->criu_path);
	free(ctx->runc_path);
	free(ctx->crun_path);
	strv_freep(&ctx->runtime_args);
	free(ctx);
	return NULL;
}

const char *stasis_ctx_criu_path(const struct stasis_ctx *ctx)
{
	return ctx->criu_path;
}

/*
 * Runs CRIU's command line argv in the namespaces ns (NULL: the caller's) and waits, killing it
 * after the context's timeout: its exit status, or -errno when it cannot run or gives no answer
 * (killed, timed out).
 */
static int criu_cli_status(struct stasis_ctx *ctx, char *const *argv, const struct child_namespaces *ns)
{
	pid_t pid;
	int pidfd = -1;
	int r = rpc_cli_spawn(ctx->criu_path, argv, NULL, 0, ns, &pid, &pidfd, NULL);
	if (r < 0)
		return r;
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		if (poll(&p, 1, (int)ctx->timeout_ms) == 0)
			kill(pid, SIGKILL);
		close(pidfd);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

/*
 * What stasis learnt of a CRIU, kept for this boot.  CRIU keeps its own kernel facts (kerndat) only
 * when /run is a tmpfs; asking it again costs a kerndat run (some 50 ms here) each time.
 */
#define CRIU_FACTS_DIR STASIS_STATE_ROOT "/@criu"
/* CRIU's name of the check: built with libnftables, and the kernel's nf_tables has set concatenations */
#define CRIU_FEATURE_NFTABLES_LOCK "network_lock_nftables"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/* this boot's id (one line, no newline), or "?" */
static char *boot_id(void)
{
	char *boot = NULL;
	if (read_file_capped(BOOT_ID_PATH, 64, &boot, NULL, NULL) < 0 || !boot)
		return xstrdup("?");
	boot[strcspn(boot, "\n")] = '\0';
	return boot;
}

/* the value of the facts file `name` when its key line is key (the same CRIU, this boot), else NULL */
static char *fact_get(const char *name, const char *key)
{
	cleanup_free char *path = xasprintf(CRIU_FACTS_DIR "/%s", name);
	cleanup_free char *text = NULL;
	if (read_file_capped(path, 4096, &text, NULL, NULL) < 0)
		return NULL;
	size_t key_len = strlen(key);
	if (strncmp(text, key, key_len) != 0 || text[key_len] != '\n')
		return NULL;
	char *value = text + key_len + 1;
	value[strcspn(value, "\n")] = '\0';
	return xstrdup(value);
}

/* only a cache: when it cannot be written, the next run asks CRIU again */
static void fact_put(const char *name, const char *key, const char *value)
{
	cleanup_free char *path = xasprintf(CRIU_FACTS_DIR "/%s", name);
	cleanup_free char *text = xasprintf("%s\n%s\n", key, value);
	if (mkdir_p(CRIU_FACTS_DIR, 0700, NULL) == 0)
		(void)write_file_atomic(path, text, strlen(text), 0600, 0, NULL);
}

/*
 * The key of a fact about the binary at ctx->criu_path itself: its path, identity and change time
 * (a new CRIU, or a new wrapper script, is another key), and the boot
 */
static char *binary_key(const struct stasis_ctx *ctx)
{
	struct stat st;
	if (stat(ctx->criu_path, &st) < 0)
		return NULL;
	cleanup_free char *boot = boot_id();
	return xasprintf("criu %s dev %llu ino %llu size %lld ctime %lld.%09ld boot %s", ctx->criu_path,
			 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
			 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec, boot);
}

/* CRIU's version as the facts file keeps it (RPC_VERSION costs a CRIU run, 5-7 ms here): 0 or -1 */
static int version_cached(struct stasis_ctx *ctx, const char *key, struct rpc_result *ret)
{
	cleanup_free char *v = key ? fact_get("version", key) : NULL;
	int major, minor, sublevel;
	char end;
	if (!v || sscanf(v, "%d.%d.%d%c", &major, &minor, &sublevel, &end) != 3)
		return -1;
	(void)ctx;
	*ret = (struct rpc_result){
		.success = true, .have_version = true, .major = major, .minor = minor, .sublevel = sublevel
	};
	return 0;
}

/*
 * CRIU's kernel facts (kerndat: some 30-60 ms of probing a run here, and `iptables -L`).  CRIU
 * reads them from /run/criu.kdat wherever /run is, but writes the file only when /run is a tmpfs,
 * so that a reboot into another kernel drops it (kerndat.c).  Where /run is on disk, stasis mounts
 * a small tmpfs of its own on a root-only directory (STASIS_KDAT_DIR), has one `criu check` write
 * the facts there (that directory bound over /run in a mount namespace of that CRIU's own), and
 * links /run/criu.kdat to them.  After a reboot the tmpfs is gone and the link dangles into an
 * empty directory only root can write (CRIU then probes, as without it) until stasis writes it
 * again.  CRIU trusts the file as root: nothing on its way may be anyone else's.
 */
static bool owned_by_root_only(const char *path, mode_t forbidden)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       (st.st_mode & forbidden) == 0;
}

bool cr_root_dir_trusted(const char *dir)
{
	if (!owned_by_root_only(STASIS_STATE_ROOT, S_IWGRP | S_IWOTH))
		return access(STASIS_STATE_ROOT, F_OK) < 0;
	return access(dir, F_OK) < 0 || owned_by_root_only(dir, S_IRWXG | S_IRWXO);
}

bool cr_kdat_dir_trusted(void)
{
	return cr_root_dir_trusted(STASIS_KDAT_DIR);
}

bool cr_boot_tmpfs(const char *dir, const char *source, bool create)
{
	if (create && mkdir_p(dir, 0700, NULL) < 0)
		return false;
	if (access(dir, F_OK) < 0 || !cr_root_dir_trusted(dir))
		return false;
	struct statfs fs;
	if (statfs(dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC)
		return true;
	/* 64 KiB: what goes there is a file under 1 KiB, or mount points */
	return create &&
	       mount(source, dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=64k") == 0 &&
	       cr_root_dir_trusted(dir);
}

/* STASIS_KDAT_DIR is there, trusted, with a tmpfs on it (mounted now when create is set) */
static bool kdat_dir_ready(bool create)
{
	/* a tmpfs: gone at reboot, as CRIU wants its facts to be */
	return cr_boot_tmpfs(STASIS_KDAT_DIR, "stasis-kdat", create);
}

/* path is a symbolic link whose text is target: 1; another link or a file: 0; nothing: -ENOENT */
static int link_points_at(const char *path, const char *target)
{
	char text[PATH_MAX];
	ssize_t n = readlink(path, text, sizeof(text));
	if (n < 0)
		return errno == EINVAL ? 0 : -errno;
	return (size_t)n == strlen(target) && memcmp(text, target, (size_t)n) == 0;
}

enum cr_kdat_state cr_kdat_state(void)
{
	struct statfs fs;
	if (statfs(CRIU_KDAT_RUN_DIR, &fs) == 0 && fs.f_type == TMPFS_MAGIC)
		return CR_KDAT_CRIU_KEEPS;
	int ours = link_points_at(CRIU_KDAT_FILE, STASIS_KDAT_FILE);
	if (ours == -ENOENT)
		return CR_KDAT_NONE;
	if (ours != 1)
		return CR_KDAT_FOREIGN;
	struct stat st;
	return kdat_dir_ready(false) && lstat(STASIS_KDAT_FILE, &st) == 0 && S_ISREG(st.st_mode) &&
			       st.st_uid == geteuid()
		       ? CR_KDAT_STASIS_KEEPS
		       : CR_KDAT_NONE;
}

/*
 * Where a development version of stasis linked it (never released): a directory anyone may make
 * after a reboot.  Such a link is taken away wherever it is found.
 */
#define STASIS_KDAT_UNSAFE_FILE "/dev/shm/stasis-criu/" CRIU_KDAT_NAME

static void kdat_keep(struct stasis_ctx *ctx)
{
	if (link_points_at(CRIU_KDAT_FILE, STASIS_KDAT_UNSAFE_FILE) == 1)
		(void)unlink(CRIU_KDAT_FILE);
	if (cr_kdat_state() != CR_KDAT_NONE)
		return;
	/* a CRIU that wrote nothing once this boot is not asked again by every command */
	cleanup_free char *key = binary_key(ctx);
	cleanup_free char *failed = key ? fact_get("kdat", key) : NULL;
	if (failed)
		return;
	if (!kdat_dir_ready(true)) {
		ctx_log(ctx, STASIS_LOG_DEBUG,
			"CRIU's kernel facts: " STASIS_KDAT_DIR " is not a root-only directory with a tmpfs "
			"on it; every CRIU run probes the kernel");
		return;
	}
	/* a CRIU killed while writing leaves this, and CRIU never writes over it (O_EXCL) */
	(void)unlink(STASIS_KDAT_DIR "/" CRIU_KDAT_NAME ".tmp");
	char *argv[] = { ctx->criu_path, (char *)"check", NULL };
	const struct child_namespaces ns = {
		.join_net_fd = -1,
		.bind_src = STASIS_KDAT_DIR,
		.bind_dst = CRIU_KDAT_RUN_DIR,
	};
	int r = criu_cli_status(ctx, argv, &ns);
	struct stat st;
	if (lstat(STASIS_KDAT_FILE, &st) < 0 || !S_ISREG(st.st_mode)) {
		ctx_log(ctx, STASIS_LOG_DEBUG, "CRIU's kernel facts: `%s check` wrote none (status %d)",
			ctx->criu_path, r);
		if (key)
			fact_put("kdat", key, "none written");
		return;
	}
	/* EEXIST: our dangling link (it points here already), or one just made by another run */
	if (symlink(STASIS_KDAT_FILE, CRIU_KDAT_FILE) < 0 && errno != EEXIST)
		ctx_log(ctx, STASIS_LOG_DEBUG, "CRIU's kernel facts: link " CRIU_KDAT_FILE ": %s",
			strerror(errno));
	else
		ctx_log(ctx, STASIS_LOG_DEBUG, "CRIU's kernel facts are kept in " STASIS_KDAT_FILE);
}

/* CRIU's version alone: one short RPC, no kerndat (what every operation needs to know) */
static int criu_version(struct stasis_ctx *ctx, struct stasis_error **err)
{
	if (ctx->have_version)
		return 0;
	cleanup_with(rpc_result_clear) struct rpc_result res = { 0 };
	cleanup_free char *key = binary_key(ctx);
	if (version_cached(ctx, key, &res) < 0) {
		int r = rpc_run(ctx->criu_path, ctx->timeout_ms, NULL, RPC_VERSION, NULL, NULL, &res, err);
		if (r < 0)
			return error_wrap(err, r, "ask `%s` its version", ctx->criu_path);
		if (!res.success || !res.have_version)
			return error_setx(err, EPROTO, "`%s` did not report its version; %s", ctx->criu_path,
					  CRIU_HOWTO);
		cleanup_free char *v = xasprintf("%d.%d.%d", res.major, res.minor, res.sublevel);
		if (key)
			fact_put("version", key, v);
	}
	ctx->info = (struct stasis_criu_info){
		.size = sizeof(ctx->info),
		.major = res.major,
		.minor = res.minor,
		.sublevel = res.sublevel,
		.version = res.major * 10000 + res.minor * 100 + res.sublevel,
	};
	ctx->have_version = true;
	kdat_keep(ctx);
	return 0;
}

int stasis_criu_info(struct stasis_ctx *ctx, struct stasis_criu_info *ret_info, struct stasis_error **err)
{
	if (!ret_info)
		return error_setx(err, EINVAL, "CRIU info: no result struct given");
	int r = criu_version(ctx, err);
	if (r < 0)
		return r;
	if (!ctx->have_info) {
		/*
		 * FEATURE_CHECK forks kerndat (about 0.1 s here: CRIU runs iptables): only callers that
		 * want the features pay for it.  A CRIU that cannot run on this kernel answers false.
		 */
		cleanup_with(rpc_result_clear) struct rpc_result res = { 0 };
		r = rpc_run(ctx->criu_path, ctx->timeout_ms, NULL, RPC_FEATURE_CHECK, NULL, NULL, &res, NULL);
		if (r == 0 && res.success && res.have_features) {
			ctx->info.features_known = true;
			ctx->info.mem_track = res.mem_track;
			ctx->info.lazy_pages = res.lazy_pages;
			ctx->info.pidfd_store = res.pidfd_store;
		}
		ctx->have_info = true;
		ctx_log(ctx, STASIS_LOG_DEBUG,
			"CRIU %d.%d.%d; features %s (memory tracking %s, lazy pages %s)", ctx->info.major,
			ctx->info.minor, ctx->info.sublevel, ctx->info.features_known ? "checked" : "unknown",
			ctx->info.mem_track ? "yes" : "no", ctx->info.lazy_pages ? "yes" : "no");
	}
	return result_fill(ret_info, &ctx->info, sizeof(ctx->info)) < 0
		       ? error_setx(err, EINVAL, "CRIU info: the result's size field is not set")
		       : 0;
}

int stasis_criu_require(struct stasis_ctx *ctx, struct stasis_error **err)
{
	int r = criu_version(ctx, err);
	if (r < 0)
		return r;
	const struct stasis_criu_info info = ctx->info;
	if (info.version < STASIS_CRIU_MIN_VERSION)
		return error_setx(err, EOPNOTSUPP,
				  "CRIU %d.%d.%d at `%s` is too old (3.17 cannot dump on kernels "
				  "with the new vDSO layout, 4.1 cannot dump inet sockets on kernels "
				  ">= 6.16); %s",
				  info.major, info.minor, info.sublevel, ctx->criu_path, CRIU_HOWTO);
	return 0;
}

int cr_require_mem_track(struct stasis_ctx *ctx, struct stasis_error **err)
{
	struct stasis_criu_info info = { .size = sizeof(info) };
	int r = stasis_criu_info(ctx, &info, err);
	if (r < 0)
		return r;
	if (!info.features_known || !info.mem_track)
		return error_setx(
			err, EOPNOTSUPP,
			"pre-dump: CRIU reports memory tracking is off on this kernel (no soft-dirty page "
			"tracking, CONFIG_MEM_SOFT_DIRTY): only full checkpoints are possible");
	return 0;
}

/*
 * `criu check --feature NAME`: 1 when CRIU says it is supported, 0 when it says not, -errno when
 * it cannot run or gives no answer (killed, timed out)
 */
static int criu_check_feature(struct stasis_ctx *ctx, const char *feature)
{
	char *argv[] = { ctx->criu_path, (char *)"check", (char *)"--feature", (char *)feature, NULL };
	int r = criu_cli_status(ctx, argv, NULL);
	return r < 0 ? r : r == 0 ? 1 : r == 1 ? 0 : -EIO;
}

static bool nftables_lock_works(struct stasis_ctx *ctx)
{
	if (ctx->nftables_lock >= 0)
		return ctx->nftables_lock;
	cleanup_free char *boot = boot_id();
	cleanup_free char *key =
		xasprintf("criu %s version %d boot %s", ctx->criu_path, ctx->info.version, boot);
	cleanup_free char *cached = fact_get(CRIU_FEATURE_NFTABLES_LOCK, key);
	int v = cached && strcmp(cached, "1") == 0 ? 1 : cached && strcmp(cached, "0") == 0 ? 0 : -1;
	if (v < 0) {
		v = criu_check_feature(ctx, CRIU_FEATURE_NFTABLES_LOCK);
		/* only an answer: without it the next run asks CRIU again */
		if (v >= 0)
			fact_put(CRIU_FEATURE_NFTABLES_LOCK, key, v ? "1" : "0");
		v = v > 0;
	}
	ctx->nftables_lock = v;
	ctx_log(ctx, STASIS_LOG_DEBUG, "CRIU can%s lock the network with nftables here", v ? "" : "not");
	return v;
}

int cr_network_lock(struct stasis_ctx *ctx, const char *method, enum rpc_network_lock *ret,
		    struct stasis_error **err)
{
	int r = criu_version(ctx, err);
	if (r < 0)
		return r;
	if (!method || strcmp(method, "auto") == 0) {
		/* the same lock, without an iptables-restore run each way (some 60 ms each, frozen) */
		*ret = nftables_lock_works(ctx) ? RPC_NETLOCK_NFTABLES : RPC_NETLOCK_IPTABLES;
		return 0;
	}
	if (strcmp(method, "iptables") == 0) {
		*ret = RPC_NETLOCK_IPTABLES;
	} else if (strcmp(method, "skip") == 0) {
		*ret = RPC_NETLOCK_SKIP;
	} else if (strcmp(method, "nftables") == 0) {
		if (!nftables_lock_works(ctx))
			return error_setx(
				err, EOPNOTSUPP,
				"opts.network_lock nftables: `%s check --feature " CRIU_FEATURE_NFTABLES_LOCK
				"` says it cannot lock with "
				"nftables here (CRIU without libnftables, or a kernel without "
				"nf_tables set concatenations): use iptables",
				ctx->criu_path);
		*ret = RPC_NETLOCK_NFTABLES;
	} else {
		return error_setx(err, EINVAL,
				  "opts.network_lock `%s`: expected iptables, nftables, skip or auto",
				  method);
	}
	return 0;
}
