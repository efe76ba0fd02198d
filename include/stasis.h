/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis: checkpoint/restore for OCI containers through CRIU's RPC protocol.
 *
 * Conventions: every fallible function returns 0 (or a count) on success and a negative errno on
 * failure, and then sets *err (when err is not NULL) to an error the caller frees with
 * stasis_error_free().  Option structs start with `size` (set it to sizeof the struct you were
 * compiled against); all-zero fields mean defaults.  Result structs the caller allocates start with
 * `size` too, and are filled as far as it says.  The library never prints and never exits (it
 * aborts when memory runs out); what it does goes to the context's log callback.
 *
 * Errors every entry point with an option or result struct can return, besides its own:
 *   -EINVAL  a size field of 0, a missing required option, an option value that makes no sense
 *   -E2BIG   an option struct from a newer header that sets fields this library does not know
 * Messages name options the way a program sees them: `opts.tcp_established`.
 */
#ifndef STASIS_H
#define STASIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STASIS_EXPORT __attribute__((visibility("default")))

/* CRIU 4.2 is the first release that dumps inet sockets on kernels >= 6.16 and handles their vDSO. */
#define STASIS_CRIU_MIN_VERSION 40200
#define STASIS_CRIU_MIN_VERSION_STR "4.2"

/* ---- errors ---------------------------------------------------------------------------------- */

struct stasis_error;

/* The positive errno of the failure. */
STASIS_EXPORT int stasis_error_errno(const struct stasis_error *e);
/* "context: context: cause: strerror", without a trailing newline. */
STASIS_EXPORT const char *stasis_error_message(const struct stasis_error *e);
/* For CRIU failures: the CRIU log file, or NULL. */
STASIS_EXPORT const char *stasis_error_criu_log(const struct stasis_error *e);
/* For CRIU failures: cr_errno from CRIU's reply (0 when absent) and cr_errmsg (or NULL). */
STASIS_EXPORT int stasis_error_criu_errno(const struct stasis_error *e);
STASIS_EXPORT const char *stasis_error_criu_errmsg(const struct stasis_error *e);
/* For CRIU failures: the log lines that matter ("Error (" lines), NULL-terminated; never NULL. */
STASIS_EXPORT const char *const *stasis_error_criu_lines(const struct stasis_error *e);
/* Explanation of the failure (cause and fix) when one is known, or NULL. */
STASIS_EXPORT const char *stasis_error_hint(const struct stasis_error *e);
/* Frees e; accepts NULL; returns NULL. */
STASIS_EXPORT struct stasis_error *stasis_error_free(struct stasis_error *e);

/* ---- context ---------------------------------------------------------------------------------- */

struct stasis_ctx;

enum stasis_log_level {
	STASIS_LOG_ERROR = 1,
	STASIS_LOG_WARNING = 2,
	STASIS_LOG_INFO = 3,  /* each step of a checkpoint or restore */
	STASIS_LOG_DEBUG = 4, /* every CRIU request and runtime command */
};

struct stasis_ctx_opts {
	size_t size;
	/* CRIU binary; NULL: $STASIS_CRIU, then `criu` in $PATH. */
	const char *criu_path;
	/* Longest wait for any single CRIU reply, in milliseconds; 0: 10 minutes. */
	unsigned int timeout_ms;
	/*
	 * What the library does, for the caller to keep (it never prints): log gets each message
	 * up to log_level (0: STASIS_LOG_INFO), without a trailing newline.  NULL: no log.
	 */
	void (*log)(enum stasis_log_level level, const char *msg, void *data);
	void *log_data;
	enum stasis_log_level log_level;
	/*
	 * The runc and crun binaries every runtime command runs (state, delete, runc restore); NULL:
	 * `runc` and `crun` in $PATH.  An engine that runs stasis as its OCI runtime names the
	 * runtime it delegates to here.
	 */
	const char *runc_path;
	const char *crun_path;
	/*
	 * Global flags given to every runtime command before its verb, as the engine gave them to
	 * stasis (`--systemd-cgroup`, `--cgroup-manager`, `--rootless`), NULL-terminated; NULL: none.
	 * The runtime's --root is not one of them (each call's opts.runtime_root).
	 */
	const char *const *runtime_args;
};

/*
 * Creates a context.  Returns 0; -ENOENT when no CRIU binary can be found; -EINVAL when opts->size
 * is 0; -E2BIG when opts sets fields this library does not know.
 */
STASIS_EXPORT int stasis_ctx_new(const struct stasis_ctx_opts *opts, struct stasis_ctx **ret_ctx,
				 struct stasis_error **err);
STASIS_EXPORT struct stasis_ctx *stasis_ctx_free(struct stasis_ctx *ctx);
/* The CRIU binary this context runs. */
STASIS_EXPORT const char *stasis_ctx_criu_path(const struct stasis_ctx *ctx);
/*
 * Asks what runs on ctx to stop and undo what it did.  Async-signal-safe (it sets a sig_atomic_t):
 * call it from a SIGTERM/SIGINT handler or another thread.  stasis_restore then fails with
 * -ECANCELED after its rollback (no process, mount, state directory or record of it stays).  It
 * takes effect between the restore's steps; during CRIU's restore at CRIU's next notification,
 * which stasis refuses so that CRIU undoes its own work first; during `runc restore` when runc
 * returns (runc finishes, then stasis deletes what it made).  Other calls that talk to CRIU stop
 * at its next notification the same way.  A cancelled context stays cancelled: every later call
 * on it fails with -ECANCELED.  ctx NULL: nothing happens.
 */
STASIS_EXPORT void stasis_ctx_cancel(struct stasis_ctx *ctx);

/* ---- CRIU ------------------------------------------------------------------------------------- */

struct stasis_criu_info {
	size_t size; /* the caller sets sizeof(struct stasis_criu_info) */
	int major, minor, sublevel;
	/* major*10000 + minor*100 + sublevel */
	int version;
	/* FEATURE_CHECK results; features_known is false when CRIU could not run its checks. */
	bool features_known;
	bool mem_track;
	bool lazy_pages;
	bool pidfd_store;
};

/*
 * VERSION and FEATURE_CHECK, asked once per context.  Returns 0; -EPROTO (CRIU's reply makes no
 * sense or it did not say its version), -ETIMEDOUT (no reply in time), -ECONNRESET (CRIU died),
 * or the errno of starting it (-ENOENT, -EACCES).
 */
STASIS_EXPORT int stasis_criu_info(struct stasis_ctx *ctx, struct stasis_criu_info *ret_info,
				   struct stasis_error **err);

/* 0, or -EOPNOTSUPP when CRIU is older than 4.2 (the message says why), or stasis_criu_info's errors. */
STASIS_EXPORT int stasis_criu_require(struct stasis_ctx *ctx, struct stasis_error **err);

/*
 * CRIU's CHECK over RPC; work_dir receives check.log.  Returns 0 when CRIU says the host is
 * usable; CRIU's own errno (or -EIO) with its log lines when not; the errors of stasis_criu_info.
 */
STASIS_EXPORT int stasis_criu_check(struct stasis_ctx *ctx, const char *work_dir, struct stasis_error **err);

/* ---- process checkpoint/restore --------------------------------------------------------------- */

/*
 * Dump or restore a process tree with no container around it (the building block the container
 * operations use, and what the foundation tests exercise).
 */
struct stasis_process_opts {
	size_t size;
	pid_t pid;		/* dump: root of the tree */
	const char *images_dir; /* required */
	const char *work_dir;	/* logs; default images_dir */
	const char *log_file;	/* bare name inside work_dir; default dump.log / restore.log */
	int log_level;		/* 0: 4 */
	const char *parent_dir; /* pre-dump parent, relative to images_dir */
	bool leave_running;
	bool shell_job;
	bool tcp_established;
	bool ext_unix_sk;
	bool file_locks;
};

/*
 * Dumps the tree rooted at opts->pid into images_dir.  Returns 0; -ENOENT/-ENOTDIR/-EACCES for the
 * directories; CRIU's errno (else -EIO) with the log's error lines and, when the explainer knows
 * the failure, a hint; -ETIMEDOUT, -ECONNRESET, -EPROTO from the RPC.
 */
STASIS_EXPORT int stasis_process_dump(struct stasis_ctx *ctx, const struct stasis_process_opts *opts,
				      struct stasis_error **err);
/* Pre-dump: as dump, and -EOPNOTSUPP when CRIU's FEATURE_CHECK says memory tracking is off. */
STASIS_EXPORT int stasis_process_pre_dump(struct stasis_ctx *ctx, const struct stasis_process_opts *opts,
					  struct stasis_error **err);
/* Restores and stores the restored root pid in *ret_pid.  Errors as stasis_process_dump's. */
STASIS_EXPORT int stasis_process_restore(struct stasis_ctx *ctx, const struct stasis_process_opts *opts,
					 pid_t *ret_pid, struct stasis_error **err);

/* ---- containers ------------------------------------------------------------------------------- */

/* The phases of a checkpoint and a restore, as opts.progress hears of them. */
enum stasis_phase {
	STASIS_PHASE_DUMP = 1,	  /* CRIU dumps the container (no byte count) */
	STASIS_PHASE_WRITE = 2,	  /* the archive is written: bytes of the images and files put in */
	STASIS_PHASE_UNPACK = 3,  /* the archive is read and verified: bytes of it read */
	STASIS_PHASE_RESTORE = 4, /* CRIU (or runc) restores the container (no byte count) */
};

struct stasis_progress {
	enum stasis_phase phase;
	uint64_t done;	/* bytes so far (0 for phases without a count) */
	uint64_t total; /* bytes in all, when known; 0: unknown */
};

/*
 * What a checkpoint took and wrote, for opts.stats (the caller allocates it and sets size to
 * sizeof the struct it was compiled with; filled on success).  Times are in microseconds.
 */
struct stasis_checkpoint_stats {
	size_t size;
	uint64_t total_us;	/* the whole call */
	uint64_t frozen_us;	/* stasis held the container frozen: from the freeze to the thaw or the end */
	uint64_t dump_us;	/* CRIU's dump */
	uint64_t write_us;	/* writing the archive (or syncing the images) until durable */
	uint64_t images_bytes;	/* CRIU's images */
	uint64_t archive_bytes; /* the archive (0: none written) */
	bool has_criu_stats;	/* CRIU's stats-dump was read: */
	unsigned freezing_time, frozen_time, memdump_time, memwrite_time;
	uint64_t pages_scanned, pages_written;
};

/* What a restore took, for opts.stats (as stasis_checkpoint_stats).  Times in microseconds. */
struct stasis_restore_stats {
	size_t size;
	uint64_t total_us;	/* the whole call */
	uint64_t unpack_us;	/* the archive unpacked and verified (0 with image_path) */
	uint64_t criu_us;	/* CRIU's restore (or runc's) until the container runs */
	uint64_t archive_bytes; /* the archive read (0 with image_path) */
	bool has_criu_stats;	/* CRIU's stats-restore was read: */
	unsigned forking_time, restore_time;
	uint64_t pages_restored;
};

struct stasis_checkpoint_opts {
	size_t size;
	const char *id;		  /* container id (needed unless pid and bundle are given) */
	const char *runtime;	  /* "runc", "crun" or NULL/"auto": whichever knows the id */
	const char *runtime_root; /* the runtime's --root */
	pid_t pid;		  /* with bundle: any runtime's container, no state lookup */
	const char *bundle;
	const char *image_path;		 /* keep CRIU's images here (runc contract); else a temporary dir */
	const char *work_path;		 /* dump.log and other work files; default image dir */
	const char *export_path;	 /* write the archive here */
	const char *compress;		 /* "zstd" (default), "gzip", "none" */
	const char *rootfs_base;	 /* plain-directory rootfs: the unchanged image to diff against */
	const char *manage_cgroups_mode; /* "soft" (default), "full", "strict", "ignore" */
	const char *parent_path;	 /* pre-dump parent images, relative to image_path */
	bool ignore_rootfs;
	bool leave_running;
	bool tcp_established;
	bool tcp_skip_in_flight;
	bool ext_unix_sk;
	bool shell_job;
	bool file_locks;
	bool link_remap;
	bool pre_dump;
	/* warnings (rootfs diff skipped, runtime cleanup failed, ...) go here; may be NULL */
	void (*warn)(const char *msg, void *data);
	void *warn_data;
	/*
	 * Before anything is frozen, the doctor's container checks (stasis_doctor_container): a
	 * finding CRIU would fail on (a blocker, or one whose flag is not set) stops the checkpoint
	 * with -EPERM and the doctor's cause and fix, and the container is never frozen.
	 */
	bool preflight;
	/* filled on success when set (with its size set by the caller); may be NULL */
	struct stasis_checkpoint_stats *stats;
	/*
	 * Whose keys the images' external mounts get, so that that runtime can restore them: "runc"
	 * (a masked file is /dev/null) or "crun" (a masked path is its own path); NULL: crun's for a
	 * crun container whose crun has C/R, else runc's.  stasis restores either.
	 */
	const char *ext_mount_keys;
	/*
	 * Called when a phase starts (done 0) and as bytes go by (every MiB or so), one call at a
	 * time: during a streamed dump from a thread of the library's, else in the calling thread;
	 * p is valid during the call.  NULL: no progress.
	 */
	void (*progress)(const struct stasis_progress *p, void *data);
	void *progress_data;
	/*
	 * With export_path, CRIU's images go to a directory first and the archive is written from
	 * it after the dump, instead of CRIU's pages streaming into the archive as
	 * it dumps.  Streaming reads and writes the pages once; staged keeps the dump's freeze
	 * short when the container is left running and stasis cannot hold it (no freezer).
	 */
	bool staged;
	/*
	 * How CRIU keeps packets away from the container's network namespace while it dumps (so that
	 * no connection arrives or is reset meanwhile): "iptables", "nftables", "skip" (nothing: a
	 * connection that arrives may fail the dump, a peer may see a reset), or NULL/"auto":
	 * nftables when this CRIU can lock with it here, else iptables.  The images name the method,
	 * and the restore unlocks with it: restoring an nftables-locked checkpoint needs a CRIU built
	 * with nftables (CRIU's packages usually are).
	 */
	const char *network_lock;
};

/*
 * Checkpoints a running container: CRIU images (image_path) and/or a podman/CRI-O compatible
 * archive (export_path).  A failed dump leaves the container running and no archive behind.
 * Returns 0; -ENOENT (no such container, or neither runtime knows it); -EEXIST (export_path
 * exists: never overwritten); -EOPNOTSUPP (CRIU too old; pre_dump without memory tracking);
 * -EINVAL (no destination, pre_dump with export_path, a bad manage_cgroups_mode, a container that
 * is not running, a mount CRIU cannot declare); -ESRCH (a container stasis restored whose process
 * is gone); CRIU's errno (else -EIO) with its log lines and hint; -ENOSPC and other
 * errnos of writing the archive, whose message says where the images were kept.
 */
STASIS_EXPORT int stasis_checkpoint(struct stasis_ctx *ctx, const struct stasis_checkpoint_opts *opts,
				    struct stasis_error **err);

struct stasis_gc_opts {
	size_t size;
	/* what was found and what was done about it, one message each; may be NULL */
	void (*report)(const char *msg, void *data);
	void *report_data;
};

/*
 * Finds what checkpoints that were killed before they finished (and whose guard died too) left
 * behind, and undoes it: a container left frozen is thawed and runs on, temporary images and
 * archives are removed.  Runs that are still at work are never touched.  Returns the number of
 * such runs found, or -errno (the state directory cannot be read).
 */
STASIS_EXPORT int stasis_gc(struct stasis_ctx *ctx, const struct stasis_gc_opts *opts,
			    struct stasis_error **err);

struct stasis_restore_opts {
	size_t size;
	const char *id;		 /* the restored container's id (required; a new name is fine) */
	const char *import_path; /* a checkpoint archive: ours, podman's or CRI-O's */
	const char *image_path;	 /* or CRIU images (runc contract; needs bundle) */
	const char *bundle;	 /* the new container's bundle; else built from spec.dump in state_dir */
	const char *rootfs_base; /* without bundle: the image the fresh overlay rootfs is made from */
	const char *state_dir;	 /* stasis' files for this container; default /run/stasis/<id> */
	const char *work_path;	 /* restore.log; default state_dir */
	const char *pid_file;
	const char *runtime;	  /* "runc", "crun", "none"; NULL: the checkpointed one if known, else none */
	const char *runtime_root; /* the runtime's --root */
	const char *const *mounts; /* "DEST=SRC": bind mount sources (without bundle) */
	size_t n_mounts;
	const char *netns_path;		 /* the network namespace joined when the container owned none */
	const char *lsm_profile;	 /* "selinux:LABEL" / "apparmor:NAME"; default from config.json */
	const char *lsm_mount_context;	 /* default: config.json's linux.mountLabel */
	const char *manage_cgroups_mode; /* "soft" (default), "full", "strict", "ignore" */
	const char *console_socket;
	bool tcp_established;
	bool tcp_close;
	bool ext_unix_sk;
	bool shell_job;
	bool file_locks;
	void (*warn)(const char *msg, void *data);
	void *warn_data;
	/*
	 * A program that runs stasis_hook(): `<hook_path> hook NAME` with the OCI state on stdin
	 * (the stasis command does).  runc restores a container's own network namespace empty, with
	 * loopback down; with hook_path the bundle stasis builds has runc run it as a createRuntime
	 * hook that sets loopback up before CRIU restores the sockets.
	 */
	const char *hook_path;
	/*
	 * Without bundle, a restore gives the container at most the capabilities and devices
	 * container engines grant by default, and refuses an archive (spec.dump or CRIU's images)
	 * that asks for more, whose processes shared the host's pid or mount namespace, or whose
	 * /proc/sys was writable.  Set, these come back as the archive has them (a warning names
	 * them).  New namespaces, and no host namespace an archive names, hold either way.
	 */
	bool trust_archive;
	/*
	 * The container's stdin, stdout and stderr that were pipes when it was checkpointed (the
	 * images' descriptors.json) become the caller's fds 0, 1 and 2, as runc and crun restore them
	 * for conmon and containerd's shim, which read the container's output from those pipes.
	 * Unset: the restored process gets pipes of its own that nobody reads.
	 */
	bool inherit_stdio;
	/*
	 * With bundle and runtime runc or crun: once restored, the container is the runtime's alone,
	 * as if the runtime had restored it.  stasis keeps no ownership record or state directory (an
	 * engine running stasis as its OCI runtime deletes the container through the runtime).
	 */
	bool runtime_owns;
	/* filled on success when set (with its size set by the caller); may be NULL */
	struct stasis_restore_stats *stats;
	/* as stasis_checkpoint_opts' */
	void (*progress)(const struct stasis_progress *p, void *data);
	void *progress_data;
	/*
	 * With import_path and runtime "none" or "crun" (stasis runs CRIU itself), the page images
	 * are not unpacked: CRIU reads them from the archive as stasis decompresses it, each 4 MiB
	 * checked against the manifest before CRIU gets it.  staged unpacks them first, as a
	 * runc-owned restore (runtime runc or auto) always does.
	 */
	bool staged;
	/*
	 * Lazy restore (any runtime; through runc, CRIU's action script asks the guard to hold the
	 * tasks' userfaultfds): the container runs as soon as CRIU has restored all but its private
	 * memory, which `criu lazy-pages` faults in on first touch and pushes in the background until
	 * every page is in.  A guard process of stasis' outlives the call until then, in the
	 * container's cgroups: if what serves the pages ends before every page is in, the guard kills
	 * the container rather than let it run on zeros, and says why in <state_dir>/lazy-pages (one
	 * line: "fetching ...", "complete", "stopped: ..." or "failed: ...").
	 */
	bool lazy_pages;
	/*
	 * Instead of import_path, with lazy_pages: the archive another host serves
	 * (stasis_archive_serve, "HOST:PORT"), with its token.  A sparse replica of it in the state
	 * dir gets the small members before the restore, and each chunk of pages when first needed,
	 * checked against the manifest like any archive's; the server is told when every page is in.
	 */
	const char *page_server;
	const char *page_server_token;
	/*
	 * With page_server: TLS.  The server's certificate must chain to tls_cacert (NULL: the
	 * system's CAs) and name the host unless tls_no_cn_verify; tls_cert and tls_key are ours, for
	 * a server that asks its clients for one.  Any of them set means TLS too.
	 */
	bool page_server_tls;
	const char *tls_cacert, *tls_cert, *tls_key;
	bool tls_no_cn_verify;
};

/*
 * The source's end of a migration: serves an archive (a streamed zstd one, with its index) to
 * stasis_restore with opts.page_server on another host, until that restore has every page
 * (0), or nobody asks for idle_timeout_s (-ETIMEDOUT).  A client must send the token; the
 * connection is plain TCP unless tls_cert is set.
 */
#define STASIS_SERVE_TOKEN_LEN 32
struct stasis_serve_opts {
	size_t size;
	const char *archive_path;
	const char *address;	 /* "ADDR:PORT" to listen on (ADDR may be empty: every address) */
	const char *token;	 /* STASIS_SERVE_TOKEN_LEN letters and digits; NULL: a random one */
	unsigned idle_timeout_s; /* 0: 600 */
	/* told once it listens, with the token clients need */
	void (*ready)(const char *address, const char *token, void *data);
	void *ready_data;
	/*
	 * TLS with this certificate (and its chain) and key; with tls_cacert, a client must present a
	 * certificate of that CA as well as the token.  NULL tls_cert: plain TCP.
	 */
	const char *tls_cert, *tls_key, *tls_cacert;
};
STASIS_EXPORT int stasis_archive_serve(struct stasis_ctx *ctx, const struct stasis_serve_opts *opts,
				       struct stasis_error **err);

/*
 * Restores a container from an archive or an image directory and hands it to its runtime.  Before
 * anything is made, the name is claimed: stasis' ownership record /run/stasis/<id>/owner.json
 * (what stasis_delete later trusts) and a marker in the state directory.  A name that runc or crun
 * already has is refused, and that container is never touched.  What an earlier restore of the
 * same name left (killed, or its container deleted by its runtime) is cleaned up first and said
 * in a warning.  On failure nothing is left: no process, no mount, no half-built bundle, no state
 * directory (one the caller gave is emptied, not removed), no record; CRIU's restore.log is kept
 * as /run/stasis/@logs/<id>.restore.log (or stays in opts.work_path) and the error names it.
 * *ret_pid: the restored init's pid.
 * Returns 0; -EINVAL (no id, or one runc would refuse: letters, digits, `_+-.`, not `-` first;
 * both or neither of import_path and image_path, image_path without bundle, no rootfs_base, a bad
 * mount or runtime); -EISDIR (import_path is a directory); -EEXIST (a container of that name
 * exists, or a state dir stasis did not make for it); -EBUSY (another restore of that name runs);
 * -ECANCELED (stasis_ctx_cancel); -EBADMSG (a damaged archive, a digest that does not match the
 * manifest, a member missing or added); -EPERM (a member or rootfs-diff entry that would write
 * outside, a link, a device); -EFBIG (an archive over the size or member caps); -ENOTSUP (a newer
 * manifest format); CRIU's errno (else -EIO) with its log lines and hint; the runtime's failure
 * (-EIO) with its last line of stderr; -ENOTSUP (a container with a terminal restored without
 * runc); -ETIMEDOUT (an OCI hook ran past its timeout); -EPERM (a network namespace could not be
 * made); -EPERM (without bundle: an archive that asks for more than a restore gives without
 * trust_archive, naming each capability, device and namespace, or that names a host user
 * namespace).
 */
STASIS_EXPORT int stasis_restore(struct stasis_ctx *ctx, const struct stasis_restore_opts *opts,
				 pid_t *ret_pid, struct stasis_error **err);

struct stasis_delete_opts {
	size_t size;
	const char *id;		  /* the restored container */
	const char *state_dir;	  /* as given to restore (the record names it); default /run/stasis/<id> */
	const char *runtime;	  /* not needed: stasis' ownership record names the runtime */
	const char *runtime_root; /* the runtime's --root, when the record has none */
	bool force;		  /* kill a running container first */
};

/*
 * Removes a container stasis restored, and only one whose ownership record stasis_restore wrote:
 * stops it (with force) or has its runtime delete it, then unmounts and removes what stasis made
 * for it (rootfs overlay, netns, state dir, record, the last failed restore's log).  A state dir
 * is touched only when stasis' marker in it names the container; one the caller gave to the
 * restore is emptied of what stasis put there and stays.
 * Returns 0; -EINVAL (a bad id; state_dir is not the one the record names); -ENOENT (stasis knows
 * no such container); -EPERM (a runtime's container or a directory stasis did not make: left
 * alone); -EBUSY (it runs and force is not set, or its restore is under way); -ETIMEDOUT (it did
 * not die after SIGKILL); the errno of an unmount or removal; the runtime's failure (-EIO).
 */
STASIS_EXPORT int stasis_delete(struct stasis_ctx *ctx, const struct stasis_delete_opts *opts,
				struct stasis_error **err);

/* ---- doctor ----------------------------------------------------------------------------------- */

enum stasis_severity {
	STASIS_SEVERITY_INFO = 0,	/* worth knowing; nothing fails because of it */
	STASIS_SEVERITY_NEEDS_FLAG = 1, /* works with the flag or change the fix names */
	STASIS_SEVERITY_BLOCKER = 2,	/* checkpoint or restore will fail (or failed) because of it */
};

struct stasis_finding {
	const char *id; /* stable name: "tcp-established", "tracer", "criu-version", ... */
	enum stasis_severity severity;
	const char *subject; /* what it is about: "pid 12 fd 3", a log line, "host" */
	const char *cause;   /* what the kernel or the container does that CRIU refuses */
	const char *fix;     /* the flag or change that fixes it; may be NULL for info */
};

struct stasis_report {
	struct stasis_finding *findings;
	size_t n;
};

/* Frees r; accepts NULL; returns NULL. */
STASIS_EXPORT struct stasis_report *stasis_report_free(struct stasis_report *r);
/* The worst severity in the report, or -1 when it is empty. */
STASIS_EXPORT int stasis_report_worst(const struct stasis_report *r);

/*
 * Why a CRIU log (dump.log, restore.log) failed: the explainer's catalog applied to it.  A log
 * that failed (a `... FAILED.` verdict, or an error line and no verdict) has a blocker: the
 * catalog's cause, else `criu-error` on its first error line that is neither benign nor a
 * consequence; in a log that succeeded every finding is info.  Returns 0, or the errno of reading
 * the log (-ENOENT, -EACCES, -EFBIG over 256 MiB).
 */
STASIS_EXPORT int stasis_doctor_log(const char *log_path, struct stasis_report **ret,
				    struct stasis_error **err);
/*
 * Whether this host can checkpoint and restore: CRIU, kernel features, cgroups, LSMs, rights,
 * space.  What is wrong is a finding, not an error: returns 0 unless memory runs out.
 */
STASIS_EXPORT int stasis_doctor_host(struct stasis_ctx *ctx, struct stasis_report **ret,
				     struct stasis_error **err);

struct stasis_doctor_opts {
	size_t size;
	const char *id;		  /* the container */
	const char *runtime;	  /* runc, crun; NULL: whichever knows it */
	const char *runtime_root; /* the runtime's --root */
};

/*
 * What in a running container CRIU will refuse, found through /proc without freezing it.  Returns
 * 0 (the findings say what is wrong), -ENOENT (no such container), or the runtime's failure.
 */
STASIS_EXPORT int stasis_doctor_container(struct stasis_ctx *ctx, const struct stasis_doctor_opts *opts,
					  struct stasis_report **ret, struct stasis_error **err);

struct stasis_doctor_engines_opts {
	size_t size;
	/* the directory the engines' configuration files are read under, as if it were `/` (an
	 * image of a host, a test); NULL: `/` */
	const char *config_root;
	/* podman's containers.conf, read alone as podman reads $CONTAINERS_CONF (not under
	 * config_root); NULL: $CONTAINERS_CONF, then podman's own list of files */
	const char *containers_conf;
};

/*
 * Whether podman, containerd and CRI-O are configured to run stasis as their OCI runtime
 * (stasis-crun, stasis-runc), read from their configuration files as each engine reads them:
 * containers.conf (/usr/share/containers, /etc/containers, /etc/containers/containers.conf.d),
 * /etc/containerd/config.toml, /etc/crio/crio.conf and /etc/crio/crio.conf.d.  Findings are of
 * severity info (ids engine-podman, engine-podman-json, engine-containerd, engine-crio,
 * engine-crio-criu); a file that is missing or unreadable is one too.  opts may be NULL.
 * Returns 0; -EINVAL or -E2BIG for bad opts.
 */
STASIS_EXPORT int stasis_doctor_engines(const struct stasis_doctor_engines_opts *opts,
					struct stasis_report **ret, struct stasis_error **err);

/* ---- inspect and verify ----------------------------------------------------------------------- */

/* What stasis_inspect reads beyond the container's metadata. */
enum stasis_inspect_what {
	STASIS_INSPECT_PS_TREE = 1 << 0,
	STASIS_INSPECT_CMDLINE = 1 << 1, /* argv from each process' memory (implies PS_TREE) */
	STASIS_INSPECT_ENV = 1 << 2,	 /* the environment from memory (implies PS_TREE) */
	STASIS_INSPECT_FILES = 1 << 3,
	STASIS_INSPECT_SOCKETS = 1 << 4,
	STASIS_INSPECT_MOUNTS = 1 << 5,
	STASIS_INSPECT_STATS = 1 << 6,
	STASIS_INSPECT_ROOTFS_DIFF = 1 << 7,
	STASIS_INSPECT_ALL = (1 << 8) - 1,
};

struct stasis_inspect_opts {
	size_t size;
	unsigned what; /* enum stasis_inspect_what bits */
};

/* An open fd (or cwd/root, as fd -1 with type "cwd"/"root") of a checkpointed process. */
struct stasis_inspect_fd {
	int fd;
	const char *type; /* CRIU's fd type: "REG", "PIPE", "UNIXSK", "INETSK", "TTY", ... */
	const char *path; /* regular files, cwd, root: the path; pipes: "pipe:[id]"; else NULL */
	uint64_t pos;	  /* regular files: the offset */
	unsigned flags;	  /* open flags */
};

struct stasis_inspect_socket {
	int fd;
	const char *family;   /* "unix", "inet", "inet6" */
	const char *type;     /* "stream", "dgram", "seqpacket", "raw" */
	const char *state;    /* "ESTABLISHED", "LISTEN", "CLOSE", ... */
	const char *protocol; /* "tcp", "udp" or NULL */
	const char *src;      /* inet: address; unix: bound path ("@name": abstract) or NULL */
	const char *dst;      /* inet: address; unix: the peer's path or NULL */
	unsigned src_port, dst_port;
	unsigned inode, peer_inode;
};

struct stasis_inspect_process {
	unsigned pid, ppid, pgid, sid;
	const char *comm;
	const char *state; /* "alive", "zombie", "stopped", "unknown" */
	bool has_creds;
	unsigned uid, gid;
	size_t n_threads;
	const char *const *argv; /* with CMDLINE; NULL when the pages are not in the checkpoint */
	size_t argc;
	const char *const *env; /* with ENV */
	size_t n_env;
	const char *cwd, *root, *exe;
	const struct stasis_inspect_fd *fds; /* with FILES */
	size_t n_fds;
	const struct stasis_inspect_socket *sockets; /* with SOCKETS */
	size_t n_sockets;
};

struct stasis_inspect_mount {
	const char *destination;
	const char *type;   /* "proc", "tmpfs", ..., "bind" for external bind mounts */
	const char *fstype; /* the filesystem, also of a bind mount's source: "ext4", "tmpfs", ... */
	const char *source; /* bind mounts: the host path from spec.dump, else the fs source */
	const char *options;
	const char *external_key; /* the key of an external mount, or NULL */
};

struct stasis_inspect_stats {
	bool present;
	unsigned freezing_time, frozen_time, memdump_time, memwrite_time; /* microseconds */
	uint64_t pages_scanned, pages_skipped_parent, pages_written, pages_lazy;
};

struct stasis_inspect {
	unsigned what; /* what was read: enum stasis_inspect_what bits */
	const char *path;
	const char *format;	  /* "stasis", "podman", "cri-o", "criu-dir" */
	const char *id, *name;	  /* from config.dump / spec.dump; NULL when unknown */
	const char *image;	  /* rootfs image name */
	const char *runtime;	  /* runc, crun */
	const char *engine;	  /* "podman", "cri-o", "stasis", ... */
	const char *created;	  /* RFC 3339 */
	const char *checkpointed; /* RFC 3339 */
	const char *criu_version; /* from stasis.manifest, when known */
	bool verified_manifest;	  /* a stasis.manifest is present (stasis_verify checks it) */
	uint64_t total_size;	  /* bytes of every member */
	uint64_t pages_size;	  /* bytes of page images */
	uint64_t rootfs_diff_size;
	unsigned img_version;
	const struct stasis_inspect_process *processes; /* parents before children; pid 1 first */
	size_t n_processes;
	const struct stasis_inspect_mount *mounts; /* with MOUNTS */
	size_t n_mounts;
	struct stasis_inspect_stats stats; /* with STATS */
	bool has_rootfs_diff;
	const char *const *rootfs_changed; /* with ROOTFS_DIFF: paths in rootfs-diff.tar */
	size_t n_rootfs_changed;
	const char *const *rootfs_deleted; /* with ROOTFS_DIFF: deleted.files */
	size_t n_rootfs_deleted;
	/*
	 * How the dump locked the container's network ("iptables", "nftables", "skip"), which a
	 * restore undoes the same way (nftables needs a CRIU built with it); NULL: not said (iptables)
	 */
	const char *network_lock;
};

/*
 * Reads a checkpoint without restoring it: an archive (stasis, podman, CRI-O; streamed, nothing is
 * extracted), an extracted archive, or a CRIU image directory.  A corrupt image fails naming the
 * file and the byte offset.  Returns 0; -ENOENT (no such path, or a directory without
 * inventory.img); -EBADMSG (a damaged archive or image, a member twice); -EPERM (a member with an
 * unsafe name or type); -EFBIG (over the member or metadata caps).
 */
STASIS_EXPORT int stasis_inspect(const char *path, const struct stasis_inspect_opts *opts,
				 struct stasis_inspect **ret, struct stasis_error **err);
STASIS_EXPORT struct stasis_inspect *stasis_inspect_free(struct stasis_inspect *i);
/* The documented JSON form (docs/inspect.md) of what was read; *ret is freed with free().  -EINVAL: NULL. */
STASIS_EXPORT int stasis_inspect_json(const struct stasis_inspect *i, char **ret, struct stasis_error **err);

struct stasis_memory_opts {
	size_t size;
	unsigned pid;		  /* the process (its pid in the checkpoint) */
	const char *search;	  /* a byte string to find, or NULL */
	const char *search_regex; /* a POSIX extended regex, matched inside runs of non-NUL bytes */
	unsigned context;	  /* bytes shown around each match; 0: 32 */
	const char *dump_path;	  /* writes the process' dumped pages here, in address order (regions) */
	size_t max_matches;	  /* 0: 1000 */
};

struct stasis_memory_match {
	uint64_t addr;	  /* the virtual address of the match in the process */
	const char *text; /* the match with context, non-printable bytes as '.' */
	size_t before;	  /* bytes of context before the match in text */
	size_t len;	  /* bytes of the match */
};

/* A range of the process' memory the checkpoint holds, and where it sits in a --dump-memory file. */
struct stasis_memory_region {
	uint64_t addr, len, offset;
};

struct stasis_memory_result {
	unsigned pid;
	uint64_t dumped_bytes; /* memory of the process held by the checkpoint */
	const struct stasis_memory_region *regions;
	size_t regions_n;
	const struct stasis_memory_match *matches;
	size_t n_matches;
	bool truncated; /* more matches than max_matches */
};

/*
 * Searches (and/or writes out) one process' memory as the checkpoint holds it.  Returns 0;
 * -ESRCH (no such pid in the checkpoint); -EINVAL (no pid, an empty search, both kinds of search,
 * a bad regex); the errors of stasis_inspect; the errno of writing dump_path.
 */
STASIS_EXPORT int stasis_inspect_memory(const char *path, const struct stasis_memory_opts *opts,
					struct stasis_memory_result **ret, struct stasis_error **err);
STASIS_EXPORT struct stasis_memory_result *stasis_memory_result_free(struct stasis_memory_result *r);
/* JSON of a memory search (docs/inspect.md); *ret is freed with free().  -EINVAL: NULL. */
STASIS_EXPORT int stasis_memory_result_json(const struct stasis_memory_result *r, char **ret,
					    struct stasis_error **err);

/* One difference between two checkpoints. */
struct stasis_diff_item {
	const char *section; /* "process", "file", "socket", "mount", "rootfs", "metadata" */
	char change;	     /* '+' only in the second, '-' only in the first, '~' changed */
	const char *subject; /* "pid 6 (sleep)", "pid 1 fd 3", "/etc/newfile" */
	const char *detail;  /* for '~': "old -> new"; else NULL */
};

struct stasis_diff {
	struct stasis_diff_item *items;
	size_t n;
};

/* What differs between two inspected checkpoints (read them with the same `what`).  -EINVAL: NULL. */
STASIS_EXPORT int stasis_inspect_diff(const struct stasis_inspect *a, const struct stasis_inspect *b,
				      struct stasis_diff **ret, struct stasis_error **err);
STASIS_EXPORT struct stasis_diff *stasis_diff_free(struct stasis_diff *d);
/* JSON of a diff (docs/inspect.md); *ret is freed with free().  -EINVAL: NULL. */
STASIS_EXPORT int stasis_diff_json(const struct stasis_diff *d, char **ret, struct stasis_error **err);

struct stasis_verify_result {
	size_t size;	   /* the caller sets sizeof(struct stasis_verify_result) */
	bool has_manifest; /* digests checked; without one, only the structure */
	size_t members;	   /* file members read */
	uint64_t bytes;	   /* their bytes */
};

/*
 * Checks an archive without extracting it: every member's sha256 against stasis.manifest (none
 * missing, none added), or for archives without one (podman, CRI-O) the structure and that every
 * CRIU image parses.  The error names the first bad member.  Returns 0; -EBADMSG (a digest that
 * does not match, a member missing or added, a damaged image, not a checkpoint archive); -EPERM
 * (an unsafe member name or type); -EEXIST (a member twice); -EFBIG (over the caps); -ENOTSUP (a
 * newer manifest format); -ENOENT (no such file).
 */
STASIS_EXPORT int stasis_verify(const char *path, struct stasis_verify_result *ret,
				struct stasis_error **err);

/* The hooks stasis puts in the bundles it builds, by name. */
#define STASIS_HOOK_LOOPBACK_UP "loopback-up"

/*
 * Runs the hook `name` for the OCI state JSON a runtime passed on stdin: "loopback-up" sets
 * loopback up in the network namespace of the state's pid.  Returns 0; -EINVAL (an unknown hook,
 * a state without a pid, bad JSON); -EPERM (the namespace cannot be entered or set up).
 */
STASIS_EXPORT int stasis_hook(const char *name, const char *state_json, size_t len,
			      struct stasis_error **err);

STASIS_EXPORT const char *stasis_version(void);

#ifdef __cplusplus
}
#endif

#endif
