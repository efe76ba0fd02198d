/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Typed front of the CRIU RPC client.  Nothing outside rpc-client.c sees protobuf-c: callers fill a
 * struct rpc_opts and get a struct rpc_result.
 */
#ifndef STASIS_ENGINE_RPC_CLIENT_H
#define STASIS_ENGINE_RPC_CLIENT_H

#include "common/cleanup.h"
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stasis_error;
struct child_namespaces;

/* Values are CRIU's criu_req_type. */
enum rpc_req {
	RPC_DUMP = 1,
	RPC_RESTORE = 2,
	RPC_CHECK = 3,
	RPC_PRE_DUMP = 4,
	RPC_FEATURE_CHECK = 9,
	RPC_VERSION = 10,
};

/* Values are CRIU's criu_cg_mode; RPC_CG_UNSET leaves CRIU's default. */
enum rpc_cg_mode {
	RPC_CG_UNSET = -1,
	RPC_CG_IGNORE = 0,
	RPC_CG_NONE = 1,
	RPC_CG_PROPS = 2,
	RPC_CG_SOFT = 3,
	RPC_CG_FULL = 4,
	RPC_CG_STRICT = 5,
	RPC_CG_DEFAULT = 6,
};

struct rpc_kv {
	const char *key;
	const char *val;
};

struct rpc_inherit_fd {
	const char *key;
	int fd;
};

struct rpc_join_ns {
	const char *ns;
	const char *ns_file;
	const char *extra_opt;
};

/* how CRIU keeps packets from the container's network namespace while it works (CRIU's values) */
enum rpc_network_lock {
	RPC_NETLOCK_DEFAULT = 0, /* not sent: CRIU's default, iptables */
	RPC_NETLOCK_IPTABLES = 1,
	RPC_NETLOCK_NFTABLES = 2,
	RPC_NETLOCK_SKIP = 3,
};

struct rpc_opts {
	int images_dir_fd; /* required; opened in this process: CRIU reads /proc/<peer>/fd/N */
	int work_dir_fd;   /* -1: the images dir */
	const char *log_file;
	int log_level;
	pid_t pid;
	const char *root;
	const char *parent_img;
	const char *freeze_cgroup;
	const char *lsm_profile;
	const char *lsm_mount_context;
	/* a directory with every cgroup hierarchy mounted, as CRIU names them (NULL: CRIU mounts its own) */
	const char *cgroup_yard;
	enum rpc_cg_mode manage_cgroups_mode;
	enum rpc_network_lock network_lock;
	uint32_t empty_ns;
	bool leave_running, ext_unix_sk, tcp_established, tcp_skip_in_flight, tcp_close;
	bool shell_job, file_locks, link_remap, manage_cgroups, rst_sibling, orphan_pts_master;
	bool track_mem, notify_scripts, evasive_devices, auto_dedup;
	/* restore: the tasks' private memory comes from `criu lazy-pages`, listening in the work dir */
	bool lazy_pages;
	/* ext_mnt: key = mount key, val = host path (restore) or key again (dump) */
	const struct rpc_kv *ext_mnt;
	size_t n_ext_mnt;
	/* cg_root: key = controller (NULL for all), val = path */
	const struct rpc_kv *cg_root;
	size_t n_cg_root;
	const char *const *external;
	size_t n_external;
	const char *const *skip_mnt;
	size_t n_skip_mnt;
	const char *const *enable_fs;
	size_t n_enable_fs;
	const struct rpc_inherit_fd *inherit_fd;
	size_t n_inherit_fd;
	const struct rpc_join_ns *join_ns;
	size_t n_join_ns;
	/*
	 * dump: a socket (stream) CRIU sends the pages to, in the page server protocol, instead of
	 * writing pages-N.img and pagemap-N.img; swrk inherits it at the same number.  -1: none.
	 */
	int ps_fd;
	/* not sent: the namespaces criu swrk runs in (NULL: ours) */
	const struct child_namespaces *criu_namespaces;
	/*
	 * Not sent: called once criu swrk is started, before the request goes (NULL: none).  What
	 * the request needs but CRIU's start does not waits here, while CRIU loads (a lazy restore's
	 * daemon coming to listen).  A failure ends swrk and is rpc_run's.
	 */
	int (*before_request)(void *data, struct stasis_error **err);
	void *before_request_data;
};

/* Initialises o to CRIU's defaults (no fds, cgroup mode unset). */
void rpc_opts_init(struct rpc_opts *o);

struct rpc_result {
	bool success;
	int cr_errno;
	char *cr_errmsg;
	pid_t restored_pid;
	bool have_features;
	bool mem_track, lazy_pages, pidfd_store;
	bool have_version;
	int major, minor, sublevel;
};

void rpc_result_clear(struct rpc_result *r);
DEFINE_CLEANUP_CLEAR(struct rpc_result, rpc_result_clear)

/*
 * Notification handlers, looked up by CRIU's script name ("post-dump", "setup-namespaces", ...).
 * fd is the descriptor CRIU passed with the notification (orphan-pts-master) or -1; a handler that
 * keeps it sets *fd to -1.  A handler returning < 0 makes us answer notify_success=false, which
 * aborts CRIU's operation.  Unlisted notifications are answered with success.
 */
struct rpc_notify_handler {
	const char *script;
	int (*fn)(const char *script, pid_t pid, int *fd, void *data, struct stasis_error **err);
};

struct rpc_notify_table {
	const struct rpc_notify_handler *handlers;
	size_t n_handlers;
	void *data;
};

struct rpc_conn {
	int sk;
	pid_t pid; /* the criu swrk child, or 0 when the peer is not ours to reap */
	int pidfd;
	unsigned int timeout_ms;
	/* set (from a signal handler too) when the caller wants out: see rpc_call; NULL: never */
	const volatile sig_atomic_t *cancelled;
};

/*
 * Runs `criu swrk <fd>` on a SOCK_SEQPACKET socketpair, in the namespaces ns (NULL: ours); keep_fds
 * (>= 4) stay open in it.
 */
int rpc_conn_spawn(const char *criu_path, unsigned int timeout_ms, const int *keep_fds, size_t n_keep,
		   const struct child_namespaces *ns, struct rpc_conn *ret, struct stasis_error **err);
/*
 * Runs CRIU's command line argv (argv[0] is criu_path) the same way, without a socket: its pid and
 * a pidfd (-1 when the kernel has none) to wait on.
 */
int rpc_cli_spawn(const char *criu_path, char *const *argv, const int *keep_fds, size_t n_keep,
		  const struct child_namespaces *ns, pid_t *ret_pid, int *ret_pidfd,
		  struct stasis_error **err);
/*
 * `criu restore --stream` with what o asks (its images come from the image streamer in images_dir,
 * the tree's pid goes to pidfile): a NULL-terminated argv, or -EOPNOTSUPP naming what the command
 * line cannot take (notify scripts, an images dir fd, ...).
 */
int rpc_restore_argv(const struct rpc_opts *o, const char *criu_path, const char *images_dir,
		     const char *work_dir, const char *pidfile, char ***ret, struct stasis_error **err);
/*
 * `criu lazy-pages` serving a lazy restore from the page images in images_dir, or (page_server_fd
 * >= 0) from the page server at the other end of that connected socket, which it inherits
 * (`--ps-socket`): it listens on lazy-pages.socket in work_dir, where the restore looks for it,
 * and logs to log_file there.
 */
void rpc_lazy_daemon_argv(const char *criu_path, const char *images_dir, const char *work_dir,
			  const char *log_file, int log_level, int page_server_fd, char ***ret);
/* The image streamer's messages: a request's image name (malloc'ed), or -EBADMSG. */
int rpc_streamer_request_decode(const void *buf, size_t len, char **ret_name);
/* A reply, framed (u32 length, then the message): its length. */
#define RPC_STREAMER_REPLY_MAX 16
size_t rpc_streamer_reply_encode(bool exists, unsigned char buf[RPC_STREAMER_REPLY_MAX]);
/* Wraps an already connected socket (tests use it with a fake peer).  Takes sk. */
void rpc_conn_from_fd(int sk, unsigned int timeout_ms, struct rpc_conn *ret);
/* Closes the socket and reaps the child: waits up to its timeout, then SIGKILL.  Never leaves a zombie. */
void rpc_conn_close(struct rpc_conn *c);

/*
 * Sends one request and waits for its reply, answering every NOTIFY on the way.  opts may be NULL
 * for VERSION.  A reply with success=false is not an error of this function: *ret says so.  Fails
 * with -ETIMEDOUT, -ECONNRESET (CRIU went away), -EPROTO (garbage or an unexpected reply), and
 * -ECANCELED once *c->cancelled is set: the request is not sent, or CRIU's next NOTIFY is answered
 * with failure, which makes CRIU undo its work (a restore kills what it restored) and reply; that
 * reply is still in *ret (a restore that had already finished has its pid there, to be killed).
 */
int rpc_call(struct rpc_conn *c, enum rpc_req type, const struct rpc_opts *opts,
	     const struct rpc_notify_table *notify, struct rpc_result *ret, struct stasis_error **err);

/* rpc_conn_spawn + rpc_call + rpc_conn_close; cancelled (may be NULL) as in struct rpc_conn. */
int rpc_run(const char *criu_path, unsigned int timeout_ms, const volatile sig_atomic_t *cancelled,
	    enum rpc_req type, const struct rpc_opts *opts, const struct rpc_notify_table *notify,
	    struct rpc_result *ret, struct stasis_error **err);

const char *rpc_req_name(enum rpc_req type);

#endif
