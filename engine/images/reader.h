/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRIU's image files, decoded into plain structs: no protobuf-c type leaks out of image-reader.c.
 * Images come from anyone (an archive off the network): every length is checked against what is
 * left and against a cap before it is used, and every error names the image and the byte offset.
 */
#ifndef STASIS_ENGINE_IMAGE_READER_H
#define STASIS_ENGINE_IMAGE_READER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cleanup.h"

struct stasis_error;

/* no CRIU entry comes near this; a size field above it is corruption, not a big image */
#define IMAGE_ENTRY_MAX (16u << 20)
#define IMAGE_PAGE_SIZE 4096u

/*
 * The deepest process tree pstree.img may hold: Linux sets no bound on a chain of parents, but a
 * reader walking the tree from its root (stasis inspect --ps-tree prints it that way) recurses once
 * a level, and no container's tree is anywhere near this deep.
 */
#define IMAGE_PSTREE_MAX_DEPTH 4096

/* the magics of the images stasis reads (criu-wire.md, section 5) */
#define IMAGE_MAGIC_COMMON 0x54564319u
#define IMAGE_MAGIC_SERVICE 0x55105940u
#define IMAGE_MAGIC_INVENTORY 0x58313116u
#define IMAGE_MAGIC_PSTREE 0x50273030u
#define IMAGE_MAGIC_CORE 0x55053847u
#define IMAGE_MAGIC_IDS 0x54432030u
#define IMAGE_MAGIC_MM 0x57492820u
#define IMAGE_MAGIC_PAGEMAP 0x56084025u
#define IMAGE_MAGIC_FDINFO 0x56213732u
#define IMAGE_MAGIC_FILES 0x56303138u
#define IMAGE_MAGIC_FS 0x51403912u
#define IMAGE_MAGIC_MNTS 0x55563928u
#define IMAGE_MAGIC_STATS 0x57093306u

/* CRIU's fd_types */
enum image_fd_type {
	IMG_FD_UND = 0,
	IMG_FD_REG = 1,
	IMG_FD_PIPE = 2,
	IMG_FD_FIFO = 3,
	IMG_FD_INETSK = 4,
	IMG_FD_UNIXSK = 5,
	IMG_FD_EVENTFD = 6,
	IMG_FD_EVENTPOLL = 7,
	IMG_FD_INOTIFY = 8,
	IMG_FD_SIGNALFD = 9,
	IMG_FD_PACKETSK = 10,
	IMG_FD_TTY = 11,
	IMG_FD_FANOTIFY = 12,
	IMG_FD_NETLINKSK = 13,
	IMG_FD_NS = 14,
	IMG_FD_TUNF = 15,
	IMG_FD_EXT = 16,
	IMG_FD_TIMERFD = 17,
	IMG_FD_MEMFD = 18,
	IMG_FD_BPFMAP = 19,
	IMG_FD_PIDFD = 20,
};

/*
 * core.img's tc.task_state: CRIU's TASK_* (criu/include/pid.h), whose values are compel's
 * (compel/include/uapi/task-state.h: "Don't ever change the above values, they are used by CRIU!").
 * A zombie is written as TASK_DEAD, with a core image and nothing else (cr-dump.c dump_one_zombie():
 * no ids, fdinfo, fs, mm or pagemap); seize.c turns compel's ZOMBIE into DEAD before anything is
 * written, so no image CRIU writes holds 6, which is read as a zombie all the same.  A stopped task
 * is dumped whole.  crit's names (pycriu pb2dict: 3 "Zombie", 6 "Stopped") are wrong.  Checked
 * against CRIU 4.2's source and its dumps here (unit/data/task-states).
 */
enum cr_task_state {
	CR_TASK_ALIVE = 0x01,
	CR_TASK_DEAD = 0x02,
	CR_TASK_STOPPED = 0x03,
	CR_TASK_ZOMBIE = 0x06,
};

/* an exited task not yet reaped: CRIU dumped only its core image */
static inline bool cr_task_is_zombie(unsigned state)
{
	return state == CR_TASK_DEAD || state == CR_TASK_ZOMBIE;
}

/* mnt_entry.fstype: CRIU's enum fstype (images/mnt.proto; 20 to 22 are unused) */
enum image_fstype {
	IMG_FS_UNSUPPORTED = 0, /* CRIU knows no such fs: the name is in fsname */
	IMG_FS_PROC = 1,
	IMG_FS_SYSFS = 2,
	IMG_FS_DEVTMPFS = 3,
	IMG_FS_BINFMT_MISC = 4,
	IMG_FS_TMPFS = 5,
	IMG_FS_DEVPTS = 6,
	IMG_FS_SIMFS = 7,
	IMG_FS_PSTORE = 8,
	IMG_FS_SECURITYFS = 9,
	IMG_FS_FUSECTL = 10,
	IMG_FS_DEBUGFS = 11,
	IMG_FS_CGROUP = 12,
	IMG_FS_AUFS = 13,
	IMG_FS_MQUEUE = 14,
	IMG_FS_FUSE = 15,
	IMG_FS_AUTO = 16, /* dumped by the generic code: the name is in fsname */
	IMG_FS_OVERLAYFS = 17,
	IMG_FS_AUTOFS = 18,
	IMG_FS_TRACEFS = 19,
	IMG_FS_CGROUP2 = 23,
};

/* pagemap_entry flags */
#define IMG_PE_PARENT 1u
#define IMG_PE_LAZY 2u
#define IMG_PE_PRESENT 4u

/* one image file's bytes; name is what errors call it */
struct image_blob {
	const char *name;
	const unsigned char *data;
	size_t len;
};

/* a task's namespaces and shared kernel objects, by CRIU's ids (0: not in the image) */
struct img_ids {
	unsigned files_id, mnt_ns_id, net_ns_id, pid_ns_id, ipc_ns_id, uts_ns_id;
};

struct img_inventory {
	unsigned img_version;
	bool has_root_ids;
	struct img_ids root_ids; /* the dumping CRIU's own: a task with the same id shared it */
	unsigned lsmtype;
	uint64_t dump_uptime;
	char *criu_run_id;
	/* how the dump locked the network, which the restore unlocks the same way: "iptables",
	 * "nftables", "skip"; NULL when the images do not say (older CRIU: iptables) */
	const char *network_lock;
};

struct img_task {
	unsigned pid, ppid, pgid, sid;
	unsigned *threads;
	size_t n_threads;
};

/* a thread's capability sets, as in its creds */
enum img_cap_set {
	IMG_CAP_INHERITABLE,
	IMG_CAP_PERMITTED,
	IMG_CAP_EFFECTIVE,
	IMG_CAP_BOUNDING,
	IMG_CAP_AMBIENT,
	IMG_CAP_SETS,
};

struct img_core {
	char *comm;
	unsigned state; /* enum cr_task_state */
	unsigned exit_code;
	bool has_creds;
	unsigned uid, gid, euid, egid;
	char *lsm_profile;
	uint64_t caps[IMG_CAP_SETS]; /* bit N: capability N */
	bool caps_above_63;	     /* a set names a capability 64 or above (no kernel has one) */
};

struct img_fs {
	unsigned cwd_id, root_id;
};

struct img_vma {
	uint64_t start, end, pgoff, shmid;
	unsigned prot, flags, status;
	int64_t fd;
};

struct img_mm {
	uint64_t arg_start, arg_end, env_start, env_end;
	unsigned exe_file_id;
	struct img_vma *vmas;
	size_t n_vmas;
};

struct img_page_run {
	uint64_t vaddr;
	uint64_t nr_pages;
	unsigned flags; /* IMG_PE_*, PRESENT when the image has none (old CRIU) */
};

struct img_pagemap {
	unsigned pages_id;
	struct img_page_run *runs;
	size_t n;
};

struct img_fd {
	unsigned fd, id, type, flags;
};

/* one files.img entry; which part is filled depends on type */
struct img_file {
	unsigned id, type;
	/* regular files, and the path of a unix socket */
	char *path;
	uint64_t pos, size;
	bool has_size;
	unsigned flags;
	int mnt_id;
	unsigned mode; /* st_mode at checkpoint (CRIU checks it at restore); 0: not recorded */
	/* sockets */
	unsigned ino, family, sock_type, proto, state, backlog, peer;
	unsigned src_port, dst_port;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN]; /* addresses, printed */
	bool deleted;
	/* pipes, fifos, ttys, namespaces */
	unsigned pipe_id, ns_cflag, tty_info_id;
};

struct img_mount {
	unsigned mnt_id, parent_mnt_id, fstype, flags; /* fstype: enum image_fstype */
	char *fsname, *root, *mountpoint, *source, *options, *ext_key;
	bool ext_mount;
};

struct img_stats {
	bool has_dump, has_restore;
	unsigned freezing_time, frozen_time, memdump_time, memwrite_time;
	uint64_t pages_scanned, pages_skipped_parent, pages_written, pages_lazy;
	uint64_t pages_compared, pages_skipped_cow, pages_restored;
	unsigned forking_time, restore_time;
};

int image_read_inventory(const struct image_blob *b, struct img_inventory *ret, struct stasis_error **err);
/*
 * The tasks of pstree.img, in the image's order (parents before children).  The image must hold a
 * tree: a pid listed twice or a task that is its own ancestor is -EBADMSG, a tree deeper than
 * IMAGE_PSTREE_MAX_DEPTH or with more than 65536 tasks -EFBIG.
 */
int image_read_pstree(const struct image_blob *b, struct img_task **ret, size_t *ret_n,
		      struct stasis_error **err);
int image_read_core(const struct image_blob *b, struct img_core *ret, struct stasis_error **err);
int image_read_ids(const struct image_blob *b, struct img_ids *ret, struct stasis_error **err);
int image_read_fs(const struct image_blob *b, struct img_fs *ret, struct stasis_error **err);
int image_read_mm(const struct image_blob *b, struct img_mm *ret, struct stasis_error **err);
int image_read_pagemap(const struct image_blob *b, struct img_pagemap *ret, struct stasis_error **err);
int image_read_fdinfo(const struct image_blob *b, struct img_fd **ret, size_t *ret_n,
		      struct stasis_error **err);
int image_read_files(const struct image_blob *b, struct img_file **ret, size_t *ret_n,
		     struct stasis_error **err);
int image_read_mounts(const struct image_blob *b, struct img_mount **ret, size_t *ret_n,
		      struct stasis_error **err);
int image_read_stats(const struct image_blob *b, struct img_stats *ret, struct stasis_error **err);
/*
 * pagemap-N.img as CRIU 4.2 writes it (the magics, the head naming pages-<pages_id>.img, one entry
 * a run, each a u32 length and the packed message; nr_pages in field 5 and, when it fits, field 2):
 * for the pagemaps stasis writes itself when CRIU sends the pages to its page server.  malloc'ed.
 */
void image_pagemap_encode(unsigned pages_id, const struct img_page_run *runs, size_t n, unsigned char **ret,
			  size_t *ret_len);
/* CRIU's stats-dump or stats-restore file at path: 0, -ENOENT, or a read or parse error. */
int image_read_stats_file(const char *path, struct img_stats *ret, struct stasis_error **err);

void img_inventory_clear(struct img_inventory *v);
void img_tasks_free(struct img_task *v, size_t n);
void img_core_clear(struct img_core *v);
DEFINE_CLEANUP_CLEAR(struct img_core, img_core_clear)
void img_mm_clear(struct img_mm *v);
void img_pagemap_clear(struct img_pagemap *v);
DEFINE_CLEANUP_CLEAR(struct img_pagemap, img_pagemap_clear)
void img_files_free(struct img_file *v, size_t n);
void img_mounts_free(struct img_mount *v, size_t n);

/*
 * Decodes (and drops) the image `base` names ("core-1.img", "stats-dump", ...) with its reader: 0
 * when it parses or stasis has no reader for that name, else the reader's error.
 */
int image_parse_named(const char *base, const struct image_blob *b, struct stasis_error **err);

/* CRIU's names: "REG", "UNIXSK", ... ("UNKNOWN" past the table); "proc", "tmpfs", ... for fstype */
const char *image_fd_type_name(unsigned type);
const char *image_fstype_name(unsigned fstype);

/*
 * Where vaddr's byte sits in pages-<pages_id>.img: 1 and *ret_off when it was dumped there, 0 when
 * it was not (never touched, file-backed, or in a parent image).  Runs are in ascending vaddr order.
 */
int pagemap_locate(const struct img_pagemap *pm, uint64_t vaddr, uint64_t *ret_off);
/* bytes the pagemap puts into its pages file */
uint64_t pagemap_pages_bytes(const struct img_pagemap *pm);

#endif
