/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a restore prepares before CRIU runs: rootfs, bundle, mountpoints, namespaces. */
#ifndef STASIS_ENGINE_RESTORE_PREPARE_H
#define STASIS_ENGINE_RESTORE_PREPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "include/stasis.h"
#include "oci/oci.h"

struct stasis_error;

/* Bind mount destinations whose host files the runtime generates: fresh ones on every host. */
bool restore_is_runtime_file(const char *dest);

/*
 * Creates the fresh runtime file for dest (/etc/hosts, /etc/hostname, /etc/resolv.conf,
 * /run/.containerenv, /dev/shm, /run/secrets) under dir; returns its malloc'ed path.
 */
int restore_runtime_file(const char *dir, const char *dest, const char *hostname, char **ret,
			 struct stasis_error **err);

/*
 * The source of every bind mount of config: from mounts ("DEST=SRC") or a fresh runtime file;
 * an archive's own sources are never used.  ret: cleaned destination -> source.
 */
int restore_bind_sources(const struct oci_config *config, const char *const *mounts, size_t n_mounts,
			 const char *files_dir, const char *hostname, struct oci_kv **ret, size_t *ret_n,
			 struct stasis_error **err);
void restore_kv_free(struct oci_kv *v, size_t n);

/*
 * Every bind mount's source exists and its destination exists inside rootfs (created as file or
 * directory per bind.mounts or the source's type, symlinks resolved inside the rootfs).
 */
int restore_mountpoints(const struct oci_config *config, const char *rootfs,
			const struct oci_bind_mount *info, size_t n_info, struct stasis_error **err);

#endif
