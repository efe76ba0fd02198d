/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The files of one checkpoint, wherever they are: a checkpoint archive (stasis, podman, CRI-O; read
 * as a stream, never extracted), an extracted archive (images under checkpoint/) or a plain CRIU
 * image directory (runc checkpoint --image-path).  Small files are held in memory; page images are
 * streamed on demand.
 */
#ifndef STASIS_ENGINE_IMAGE_SET_H
#define STASIS_ENGINE_IMAGE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cleanup.h"
#include "engine/archive/archive.h"
#include "engine/images/reader.h"

struct stasis_error;
struct strmap;

/* small members above this are not loaded (no image, config or log of a container is that big) */
#define IMAGE_SET_SMALL_MAX (64u << 20)
#define IMAGE_SET_LOADED_MAX (512u << 20)

struct image_member {
	char *name; /* relative: "checkpoint/pstree.img", "spec.dump", or "pstree.img" in an image dir */
	uint64_t size;
	unsigned char *data; /* NULL until loaded (directories) or when too big / streamed */
	size_t len;
	bool loaded;
};

struct image_set {
	char *path;
	bool archive;
	const char *images; /* "checkpoint/" or "" */
	struct image_member *m;
	size_t n;
	uint64_t loaded_total;
	/* with IMAGE_SET_ROOTFS_DIFF: the entries of rootfs-diff.tar */
	bool has_rootfs_diff;
	char **diff_paths;
	size_t n_diff;
	struct strmap *index; /* name -> index into m */
};

enum {
	IMAGE_SET_ROOTFS_DIFF = 1 << 0, /* list rootfs-diff.tar while passing it */
};

int image_set_open(const char *path, unsigned flags, struct image_set **ret, struct stasis_error **err);
struct image_set *image_set_free(struct image_set *s);
DEFINE_CLEANUP(struct image_set *, image_set_free)

/* whether the checkpoint has the CRIU image `image` ("pages-1.img") */
bool image_set_has_image(struct image_set *s, const char *image);
/* the member with this relative name, or NULL */
struct image_member *image_set_find(struct image_set *s, const char *name);
/*
 * A CRIU image ("pstree.img") or a top-level file ("spec.dump"), loaded: 0 and *ret, -ENOENT when
 * the checkpoint has no such file (no error set), other errors with a message.
 */
int image_set_image(struct image_set *s, const char *image, struct image_blob *ret,
		    struct stasis_error **err);
int image_set_meta(struct image_set *s, const char *name, struct image_blob *ret, struct stasis_error **err);

/*
 * Streams the CRIU images `images` (pages-N.img files) through fn, each in order, in one pass over an
 * archive; `which` is the index into images.  fn returns <0 to stop with that error, 1 to stop
 * early with success.  The bytes are not kept.
 */
int image_set_stream(struct image_set *s, char *const *images, size_t n, arc_chunk_fn fn, void *ctx,
		     struct stasis_error **err);

/* whether a member is worth holding in memory while scanning */
bool image_set_wants(const char *name, uint64_t size);

#endif
