/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every member name stasis reads or writes, defined once: the checkpoint archive layout podman, CRI-O
 * and checkpointctl use, and the names of the CRIU images inside it.
 */
#ifndef STASIS_ENGINE_NAMES_H
#define STASIS_ENGINE_NAMES_H

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
/* 2: members longer than a chunk are hashed chunk by chunk (engine/archive/digest.h) */
#define ARCHIVE_MANIFEST_FORMAT 2

/* CRIU image names (criu/image-desc.c): the fixed ones, and the "<prefix><id>.img" ones */
#define CRIU_IMG_INVENTORY "inventory.img"
#define CRIU_IMG_PSTREE "pstree.img"
#define CRIU_IMG_FILES "files.img"
#define CRIU_IMG_STATS_RESTORE "stats-restore" /* in CRIU's work dir */
/* where `criu lazy-pages` listens, and a lazy restore connects, in their work dir (lazy-pages.c) */
#define CRIU_LAZY_PAGES_SOCKET "lazy-pages.socket"
#define CRIU_IMG_STATS_DUMP "stats-dump"    /* also copied to the archive's top (ARCHIVE_STATS_DUMP) */
#define CRIU_IMG_CORE "core-"		    /* core-<tid>.img */
#define CRIU_IMG_IDS "ids-"		    /* ids-<pid>.img */
#define CRIU_IMG_FS "fs-"		    /* fs-<pid>.img */
#define CRIU_IMG_MM "mm-"		    /* mm-<pid>.img */
#define CRIU_IMG_PAGEMAP "pagemap-"	    /* pagemap-<pid>.img */
#define CRIU_IMG_PAGES "pages-"		    /* pages-<pagemap's pages_id>.img: raw pages, no header */
#define CRIU_IMG_FDINFO "fdinfo-"	    /* fdinfo-<ids' files_id>.img */
#define CRIU_IMG_MOUNTPOINTS "mountpoints-" /* mountpoints-<mnt_ns_id>.img */
#define CRIU_IMG_EXT ".img"
/* the name of one prefix's image, as a format taking the id ("core-%u.img"), and as a glob */
#define CRIU_IMG_ID_FMT(prefix) prefix "%u" CRIU_IMG_EXT
#define CRIU_IMG_ID_GLOB(prefix) prefix "*" CRIU_IMG_EXT

#endif
