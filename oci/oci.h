/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI runtime-spec config.json and runtime state, as stasis needs them.  No yajl type leaks out. */
#ifndef STASIS_OCI_H
#define STASIS_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cleanup.h"

struct stasis_error;

/* config.json and state files larger than this are refused */
#define OCI_MAX_JSON (4u * 1024u * 1024u)
/*
 * stasis.manifest lists every member with its sha256: 100,000 members (an archive's cap) of up to
 * 267-byte names (checkpoint/ + NAME_MAX) and 64 hex digits, quoted, fit in this.
 */
#define OCI_MAX_MANIFEST (64u * 1024u * 1024u)

struct oci_mount {
	char *destination;
	char *type;
	char *source;
	char **options; /* NULL-terminated */
};

struct oci_namespace {
	char *type; /* "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" */
	char *path; /* NULL when the container gets a new one */
};

struct oci_kv {
	char *key;
	char *value;
};

/* One OCI hook: path, argv (may be NULL: path alone), env, timeout in seconds (0: none). */
struct oci_hook {
	char *path;
	char **args;
	char **env;
	int timeout;
};

struct oci_config {
	char *root_path;
	bool root_readonly;
	bool terminal;
	char **args;
	char *cwd;
	char *selinux_label;
	char *apparmor_profile;
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_namespace *namespaces;
	size_t n_namespaces;
	char **masked_paths;
	char **readonly_paths;
	char *cgroups_path;
	char *mount_label;
	struct oci_kv *annotations;
	size_t n_annotations;
	struct oci_hook *hooks_create_runtime;
	size_t n_hooks_create_runtime;
	struct oci_hook *hooks_prestart;
	size_t n_hooks_prestart;
	bool has_hooks; /* .hooks is there, whatever kinds it holds */
};

/* Parses config.json text; name is used in messages ("config.json: .linux.maskedPaths[2]: expected string"). */
int oci_config_parse(const char *json, size_t len, const char *name, struct oci_config **ret,
		     struct stasis_error **err);
int oci_config_load(const char *path, struct oci_config **ret, struct stasis_error **err);
struct oci_config *oci_config_free(struct oci_config *c);
DEFINE_CLEANUP(struct oci_config *, oci_config_free)
/* true when the mount is a bind mount (type "bind" or a bind/rbind option) */
bool oci_mount_is_bind(const struct oci_mount *m);
const struct oci_namespace *oci_config_namespace(const struct oci_config *c, const char *type);
const char *oci_config_annotation(const struct oci_config *c, const char *key);

/* What changes in a config.json when a container comes back on a new host under a new name. */
struct oci_spec_edit {
	const char *root_path;		   /* new .root.path, or NULL to keep */
	const struct oci_kv *bind_sources; /* cleaned destination -> new source of a bind mount */
	size_t n_bind_sources;
	const char *cgroups_path; /* new .linux.cgroupsPath, or NULL to keep */
	bool drop_hooks;	  /* remove .hooks: an archive does not choose what runs on the host */
	/* add this createRuntime hook (argv NULL-terminated); only where .hooks is dropped or absent */
	const char *add_hook_path;
	const char *const *add_hook_args;
};

/* Rewrites config.json text; unknown fields and number texts pass through unchanged. */
int oci_spec_edit(const char *json, size_t len, const char *name, const struct oci_spec_edit *e, char **ret,
		  size_t *ret_len, struct stasis_error **err);

/*
 * What a container restored from an archive's spec.dump may do on this host (docs/guarantees.md,
 * section 5).  CRIU restores capabilities and namespaces from its images, not from spec.dump, so
 * what the images hold comes in too.
 */
struct oci_policy {
	/* capabilities, devices and the host's pid or mount namespace as the archive has them */
	bool trust_archive;
	/* joined where spec.dump has no network namespace of its own (none, or one with a path) */
	const char *netns_path;
	/* CLONE_NEWPID, CLONE_NEWNS: the images' processes shared the dumping host's namespace */
	int images_host_namespaces;
	/* every capability some thread in the images holds, in any set (bit N: capability N) */
	uint64_t images_capabilities;
	bool images_capabilities_above_63;
	/* the images' mount tree has /proc with /proc/sys writable (a privileged container's) */
	bool images_proc_sys_writable;
};

/*
 * Applies the policy to spec.dump's text (name is used in messages).  *ret: the text with new pid,
 * mount, ipc, uts namespaces (paths dropped, missing ones added), the network namespace joined at
 * netns_path unless the container owned one, runc's masked and read-only paths where the archive
 * has none.  Returns 0; -EPERM naming each capability (and its sets), device and device rule
 * beyond the defaults, each host namespace the images hold and a writable /proc/sys in their mount
 * tree, unless trust_archive, and a user
 * namespace with a path whatever the trust; -EINVAL (not a config, a field of the wrong type, no
 * netns_path where one is needed).  With trust_archive, *ret_trusted (when given) lists what the
 * refusal would have named, NULL when nothing.
 */
int oci_policy_apply(const char *json, size_t len, const char *name, const struct oci_policy *p, char **ret,
		     size_t *ret_len, char **ret_trusted, struct stasis_error **err);
/* The capabilities a container gets by default (bit N: capability N). */
uint64_t oci_policy_default_capabilities(void);

/* One line of a cgroup v1 device controller: rule goes to devices.allow or devices.deny. */
struct oci_device_rule {
	bool allow;
	char *rule; /* "c 1:3 rwm", "a *:* rwm" */
};

/*
 * The device cgroup a container gets from its config.json, as runc sets it (a runtime applies it
 * to the container's cgroup, CRIU does not): all denied, then .linux.resources.devices in order,
 * each node of .linux.devices allowed, then runc's defaults (mknod of any device; null, zero, full,
 * random, urandom, tty, console, ptmx, the pts, tun).  Returns 0; -EINVAL (a rule the controller
 * cannot take, naming it).
 */
int oci_device_cgroup_rules(const char *json, size_t len, const char *name, struct oci_device_rule **ret,
			    size_t *ret_n, struct stasis_error **err);
void oci_device_rules_free(struct oci_device_rule *v, size_t n);

/* stasis.manifest (docs/archive-format.md) */
struct oci_manifest_chunks {
	char *member;
	char **hex; /* one sha256 a chunk of chunk_size bytes, in order (the last may be shorter) */
	size_t n;
};

struct oci_manifest {
	int format;
	char *stasis_version;
	char *criu_version;
	char *kernel;
	char *arch;
	struct oci_kv *members; /* member name -> sha256 hex (format 2: of its chunks' when listed) */
	size_t n_members;
	uint64_t chunk_size;		    /* format 2 (0 before) */
	struct oci_manifest_chunks *chunks; /* format 2: the members of two chunks or more */
	size_t n_chunks;
};

int oci_manifest_parse(const char *json, size_t len, struct oci_manifest **ret, struct stasis_error **err);
struct oci_manifest *oci_manifest_free(struct oci_manifest *m);
DEFINE_CLEANUP(struct oci_manifest *, oci_manifest_free)
const char *oci_manifest_digest(const struct oci_manifest *m, const char *member);
/* The chunk digests of a member (format 2, a member of two chunks or more), else NULL. */
const struct oci_manifest_chunks *oci_manifest_chunks(const struct oci_manifest *m, const char *member);

/* config.dump: who the container was (any field may be NULL) */
struct oci_config_dump {
	char *id;
	char *name;
	char *runtime;
	char *image;
	char *created, *checkpointed; /* RFC 3339 */
};

int oci_config_dump_parse(const char *json, size_t len, struct oci_config_dump **ret,
			  struct stasis_error **err);
struct oci_config_dump *oci_config_dump_free(struct oci_config_dump *d);
DEFINE_CLEANUP(struct oci_config_dump *, oci_config_dump_free)

/* deleted.files and other arrays of strings */
int oci_string_array_parse(const char *json, size_t len, const char *name, char ***ret, size_t *ret_n,
			   struct stasis_error **err);

/* The string member key of a JSON object text (CRI-O's io.kubernetes.cri-o.Metadata): 0, -ENOENT, -EINVAL */
int oci_json_member_string(const char *json, size_t len, const char *key, char **ret);

/* bind.mounts (CRI-O's form) */
struct oci_bind_mount {
	char *destination;
	char *source;
	bool is_dir;
	unsigned int mode;
};

int oci_bind_mounts_parse(const char *json, size_t len, struct oci_bind_mount **ret, size_t *ret_n,
			  struct stasis_error **err);
void oci_bind_mounts_free(struct oci_bind_mount *v, size_t n);

/* The runtime's `state` output (OCI state plus runc/crun's rootfs and created). */
struct oci_state {
	char *id;
	pid_t pid;
	char *status;
	char *bundle;
	char *rootfs;
	char *created;
};

int oci_state_parse(const char *json, size_t len, const char *name, struct oci_state **ret,
		    struct stasis_error **err);
struct oci_state *oci_state_free(struct oci_state *s);
DEFINE_CLEANUP(struct oci_state *, oci_state_free)

/*
 * A small JSON writer for the files stasis writes (config.dump, descriptors.json, bind.mounts,
 * deleted.files, stasis.manifest).  Errors are impossible short of OOM, which aborts.
 */
struct oci_json;
struct oci_json *oci_json_new(bool pretty);
void oci_json_map_open(struct oci_json *j);
void oci_json_map_close(struct oci_json *j);
void oci_json_array_open(struct oci_json *j);
void oci_json_array_close(struct oci_json *j);
void oci_json_key(struct oci_json *j, const char *key);
void oci_json_string(struct oci_json *j, const char *s);
void oci_json_int(struct oci_json *j, long long v);
void oci_json_bool(struct oci_json *j, bool v);
/* key + value shorthands; a NULL string is skipped */
void oci_json_kstr(struct oci_json *j, const char *key, const char *s);
void oci_json_kint(struct oci_json *j, const char *key, long long v);
/* Returns the text (malloc'ed) and frees j. */
char *oci_json_finish(struct oci_json *j, size_t *ret_len);

#endif
