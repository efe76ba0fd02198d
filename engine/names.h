/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Member names of a checkpoint archive: the layout podman, CRI-O and checkpointctl use. */
#ifndef STASIS_ENGINE_ARCHIVE_LAYOUT_H
#define STASIS_ENGINE_ARCHIVE_LAYOUT_H

#define ARCHIVE_CHECKPOINT_DIR "checkpoint"
#define ARCHIVE_CONFIG_DUMP "config.dump"
#define ARCHIVE_SPEC_DUMP "spec.dump"
#define ARCHIVE_NETWORK_STATUS "network.status"
#define ARCHIVE_STATS_DUMP "stats-dump"
#define ARCHIVE_ROOTFS_DIFF "rootfs-diff.tar"
#define ARCHIVE_DELETED_FILES "deleted.files"
#define ARCHIVE_BIND_MOUNTS "bind.mounts"
#define ARCHIVE_DEVSHM "devshm-checkpoint.tar" /* podman: the contents of /dev/shm */
#define ARCHIVE_DUMP_LOG "dump.log"
#define ARCHIVE_MANIFEST "stasis.manifest"
#define ARCHIVE_MANIFEST_FORMAT 1

#endif
