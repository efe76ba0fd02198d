/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mount planning: pure functions from (config, mountinfo, namespace ids) to CRIU declarations. */
#ifndef STASIS_MOUNTS_H
#define STASIS_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "oci/oci.h"

struct stasis_error;

struct mnt_info {
	unsigned int id, parent;
	char *root;
	char *mountpoint;
	char *fstype;
	char *source;
	char *super_opts;
};

/* a mount table this big (some 100,000 mounts) is not a container host's: refuse, not swap */
#define MNT_MOUNTINFO_MAX (16u << 20)

struct mnt_table {
	struct mnt_info *e;
	size_t n;
};

/* Parses /proc/PID/mountinfo text (octal escapes decoded). */
int mnt_table_parse(const char *text, const char *name, struct mnt_table *ret, struct stasis_error **err);
/*
 * Reads and parses /proc/PID/mountinfo (pid 0: /proc/self): the one loader of the mount table.
 * A table of more than MNT_MOUNTINFO_MAX bytes is -EFBIG.
 */
int mnt_table_load(pid_t pid, struct mnt_table *ret, struct stasis_error **err);
void mnt_table_clear(struct mnt_table *t);
DEFINE_CLEANUP_CLEAR(struct mnt_table, mnt_table_clear)
const struct mnt_info *mnt_table_find(const struct mnt_table *t, const char *mountpoint);
/* The value of key=... in a comma-separated option string (malloc'ed), or NULL. */
char *mnt_option_value(const char *opts, const char *key);
/* whether the comma-separated opts has the option name (a cgroup v1 hierarchy's "devices") */
bool mnt_option_has(const char *opts, const char *name);

struct mnt_kv {
	char *key;
	char *val;
};

struct mnt_bind {
	char *destination;
	char *source;
};

struct mnt_plan_input {
	const struct oci_config *config;
	const struct mnt_table *mountinfo; /* the container's own view (/proc/PID/mountinfo) */
	unsigned long netns_ino;	   /* of the container's init, 0 when unknown */
	unsigned long pidns_ino;
	/*
	 * Resolves a destination inside the rootfs (symlinks followed, clamped at the root), as runc
	 * and crun do before mounting: returns a malloc'ed path, or NULL to keep it as given.
	 */
	char *(*resolve)(const char *dest, void *data);
	void *resolve_data;
	/*
	 * crun's keys for masked paths (its path, file or directory: what `crun restore` maps) instead
	 * of runc's (/dev/null for a masked file; runc masks directories with a tmpfs, no key)
	 */
	bool masked_keys_by_path;
};

struct mnt_plan {
	struct mnt_kv *ext_mnt; /* dump: key = mountpoint in the container, val = key stored in images */
	size_t n_ext_mnt;
	char **external; /* "net[INODE]:extRootNetNS", ... */
	size_t n_external;
	struct mnt_bind *binds; /* the config's bind mounts, for bind.mounts */
	size_t n_binds;
	char **unexplained; /* mountpoints config.json does not explain (CRIU would refuse them) */
	size_t n_unexplained;
	char **diff_excludes; /* paths never part of the rootfs diff */
	size_t n_diff_excludes;
	char *upperdir; /* overlay upper dir of the rootfs, or NULL */
	bool owns_netns;
};

int mnt_plan_dump(const struct mnt_plan_input *in, struct mnt_plan *ret, struct stasis_error **err);
void mnt_plan_clear(struct mnt_plan *p);
DEFINE_CLEANUP_CLEAR(struct mnt_plan, mnt_plan_clear)

/*
 * Resolves path inside root as the kernel would with root as "/" (symlinks clamped at root):
 * returns the malloc'ed container path ("/real/dest"), or NULL when root cannot be opened.
 * Components that do not exist yet are appended as given.
 */
char *mnt_resolve_in_root(const char *root, const char *path);

/* A path of the rootfs diff: what changed under the overlay upper dir. */
struct mnt_diff {
	char **changed; /* relative paths (no leading '/'), parents before children */
	size_t n_changed;
	char **deleted; /* absolute paths inside the container ("/etc/x") */
	size_t n_deleted;
};

/* More entries than this in one diff is not a container change set but a mistake. */
#define MNT_DIFF_MAX_ENTRIES 1000000

/* Whether the container path abs is one of excludes or below one. */
bool mnt_path_excluded(char *const *excludes, const char *abs);

/*
 * Walks an overlay upper dir: files, dirs and symlinks are changes, whiteouts (0:0 char devices)
 * and opaque dirs (trusted.overlay.opaque=y) are deletions.  excludes are container paths skipped
 * with everything below them.
 */
int mnt_diff_overlay(const char *upperdir, char *const *excludes, struct mnt_diff *ret,
		     struct stasis_error **err);
/*
 * A plain-directory rootfs against the unchanged image it came from: entries that are new or differ
 * (type, mode, owner, size, content, link target) are changes, entries of base missing from rootfs
 * are deletions.
 */
int mnt_diff_dirs(const char *rootfs, const char *base, char *const *excludes, struct mnt_diff *ret,
		  struct stasis_error **err);
void mnt_diff_clear(struct mnt_diff *d);
DEFINE_CLEANUP_CLEAR(struct mnt_diff, mnt_diff_clear)

#endif
