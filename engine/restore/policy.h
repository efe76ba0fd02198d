/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The restore policy's engine half (its rules are oci/policy.c's): what CRIU's images say about
 * the processes, and the namespaces the CRIU step runs in.
 */
#ifndef STASIS_ENGINE_RESTORE_POLICY_H
#define STASIS_ENGINE_RESTORE_POLICY_H

#include "common/cleanup.h"
#include "common/namespaces.h"
#include "engine/images/reader.h"
#include "oci/oci.h"

struct restore_ctx;
struct stasis_error;

/* What CRIU checks of this host at restore, as the images record it. */
struct images_root_facts {
	/* the root task's root directory's st_mode (CRIU refuses another mode); 0: not recorded */
	unsigned root_mode;
	/* the root task's namespaces and shared objects (ids-N.img) */
	struct img_ids ids;
	/* the root task's mount namespace (mountpoints-N.img): the external mounts' keys are here */
	struct img_mount *mounts;
	size_t n_mounts;
	/* the tasks pstree.img holds that are not zombies */
	size_t live_tasks;
};
void images_root_facts_clear(struct images_root_facts *f);
DEFINE_CLEANUP_CLEAR(struct images_root_facts, images_root_facts_clear)

/*
 * Reads the root task's root directory (fs-N.img's root_id in files.img) and mount namespace from
 * the images in images_dir.  0; -EBADMSG (an image missing or damaged).
 */
int restore_images_root_facts(const char *images_dir, struct images_root_facts *ret,
			      struct stasis_error **err);

/*
 * Fills p's images_* fields from the images in images_dir and what restore_images_root_facts read
 * of them (f): the capabilities any thread holds in any set (CRIU gives them back as they were)
 * and the namespaces the root task shared with the CRIU that dumped it (CRIU restores it in its
 * own then).  Returns 0; -EBADMSG (an image missing or damaged: CRIU could not restore them either).
 */
int restore_images_facts(const char *images_dir, const struct images_root_facts *f, struct oci_policy *p,
			 struct stasis_error **err);

/*
 * Where the CRIU step (runc restore, or criu swrk) of a restore built from spec.dump runs: the
 * container's network namespace r->netns_path (else a new one: the container owned its own, which
 * CRIU makes anyway), and new ipc and uts namespaces.  CRIU leaves processes in its own namespaces
 * where the images say they shared the dumping host's: they land in these, never in this host's.
 * *ret_netns_fd is the fd ret refers to (-1 when none), for the caller to close.
 */
int restore_criu_namespaces(const struct restore_ctx *r, struct child_namespaces *ret, int *ret_netns_fd,
			    struct stasis_error **err);

#endif
