/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading checkpoint archives, which may come from anyone: nothing in them is trusted.  Members are
 * checked by name and type before a byte is written, written only relative to directory fds, and
 * verified against stasis.manifest before the restore uses any of them.
 */
#include "engine/archive/archive-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "engine/names.h"
#include "engine/archive/copy-pipe.h"
#include "engine/archive/digest.h"
#include "oci/oci.h"

struct member {
	char *name;
	bool deferred; /* left in the archive: not hashed, not written */
	uint64_t size;
	char hex[DIGEST_HEX]; /* as manifest format 2 has it (engine/archive/digest.h) */
	/* a deferred member's data, for random access (struct arc_deferred) */
	off_t *frames;
	size_t n_frames;
	off_t data_at;
};

struct reader {
	struct arc_walk w;
	const char *path;
	struct member *members; /* in the order of w.files */
	size_t n;
	unsigned long long total;
	struct copy_pipe *pipe;
	struct arc_disk_budget disk; /* dirfd's filesystem, when extracting */
	char *manifest;		     /* stasis.manifest's text, kept while passing it */
	size_t manifest_len;
	const struct arc_progress *progress;
	bool (*defer)(const char *name);
};

static void reader_clear(struct reader *r)
{
	arc_walk_close(&r->w);
	for (size_t i = 0; i < r->n; i++) {
		free(r->members[i].name);
		free(r->members[i].frames);
	}
	free(r->members);
	copy_pipe_free(r->pipe);
	arc_disk_budget_clear(&r->disk);
	free(r->manifest);
}

/* the manifest is read from the stream itself, never back from disk */
static int capture_manifest(struct reader *r, struct stasis_error **err)
{
	unsigned char *buf;
	int ret = arc_walk_read(&r->w, OCI_MAX_MANIFEST, &buf, &r->manifest_len, err);
	if (ret < 0)
		return ret;
	r->manifest = (char *)buf;
	return 0;
}

/* dirfd < 0: verify only, nothing is written */
static int extract_file(struct reader *r, int dirfd, const char *name, la_int64_t size, struct member *m,
			struct stasis_error **err)
{
	cleanup_free char *what = xasprintf("archive `%s`: member `%s`", r->path, name);
	if (strcmp(name, ARCHIVE_MANIFEST) == 0) {
		int ret = capture_manifest(r, err);
		if (ret < 0 || dirfd < 0)
			return ret;
		if ((ret = arc_disk_budget_charge(&r->disk, r->manifest_len, what, err)) < 0)
			return ret;
		cleanup_close int fd =
			openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || pwrite_all(fd, r->manifest, r->manifest_len, 0) < 0)
			return error_set(err, errno, "archive `%s`: member `%s`", r->path, name);
		return 0;
	}
	cleanup_close int fd = -1;
	if (dirfd >= 0) {
		int ret = arc_disk_budget_charge(&r->disk, (uint64_t)size, what, err);
		if (ret < 0)
			return ret;
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return error_set(err, errno, "archive `%s`: member `%s`", r->path, name);
	}
	struct digest *md = digest_new(DIGEST_CHUNK);
	m->size = (uint64_t)size;
	int ret = arc_walk_copy(&r->w, fd, md, fd >= 0 ? r->pipe : NULL, &r->total, what, err);
	digest_finish(md, m->hex);
	if (ret < 0)
		return ret;
	/* a sparse member's tail hole comes as no block at all */
	if (fd >= 0 && size > 0 && ftruncate(fd, (off_t)size) < 0)
		return error_set(err, errno, "archive `%s`: member `%s`", r->path, name);
	return 0;
}

static int extract_all(struct reader *r, int dirfd, struct stasis_error **err)
{
	bool have_ckpt_dir = false;
	struct arc_member m;
	int rc;
	while ((rc = arc_walk_next(&r->w, &m, err)) > 0) {
		/* tar writers that skip directory entries: create it all the same */
		if (!have_ckpt_dir && (m.type == ARC_MEMBER_DIR || strchr(m.name, '/'))) {
			if (dirfd >= 0 && mkdirat(dirfd, ARCHIVE_CHECKPOINT_DIR, 0700) < 0)
				return error_set(err, errno, "archive `%s`: create checkpoint/", r->path);
			have_ckpt_dir = true;
		}
		if (m.type == ARC_MEMBER_DIR)
			continue;
		r->members = xgrow(r->members, r->n, sizeof(*r->members));
		struct member *mb = &r->members[r->n++];
		*mb = (struct member){ .name = xstrdup(m.name) };
		if (m.type == ARC_MEMBER_FILE && r->defer && r->defer(m.name)) {
			/* its data is skipped unread: the caller streams it later (checking each chunk) */
			mb->deferred = true;
			mb->size = m.size;
			mb->data_at = arc_walk_data_offset(&r->w);
			digest_finish(digest_new(DIGEST_CHUNK), mb->hex);
			continue;
		}
		int ret = extract_file(r, dirfd, m.name, (la_int64_t)m.size, mb, err);
		if (ret < 0)
			return ret;
	}
	return rc;
}

/* a member hashed from the extracted file (dirfd) */
static int hash_extracted(struct reader *r, int dirfd, const char *name, char hex[DIGEST_HEX],
			  struct stasis_error **err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "archive `%s`: member `%s`", r->path, name);
	cleanup_free unsigned char *buf = xmalloc(ARC_READ_BLOCK);
	struct digest *md = digest_new(DIGEST_WHOLE);
	ssize_t n;
	while ((n = read(fd, buf, ARC_READ_BLOCK)) > 0)
		digest_update(md, buf, (size_t)n);
	digest_finish(md, hex);
	return n < 0 ? error_set(err, errno, "archive `%s`: member `%s`", r->path, name) : 0;
}

struct plain_hashes {
	struct digest **md;
	uint64_t *end;
};

static int hash_block(void *data, size_t which, uint64_t off, const unsigned char *buf, size_t len,
		      struct stasis_error **err)
{
	(void)err;
	struct plain_hashes *p = data;
	/* a hole between blocks is zeros in the file the member makes */
	if (off > p->end[which])
		digest_update_zeros(p->md[which], off - p->end[which]);
	digest_update(p->md[which], buf, len);
	p->end[which] = off + len;
	return 0;
}

/*
 * Format 1 recorded the plain sha256 of every member, and the pass hashed the longer ones chunk by
 * chunk: those are hashed again as format 1 did, from the extracted files (dirfd), or in a second
 * pass over the archive.  Only archives of an older stasis pay for it.
 */
static int rehash_format1(struct reader *r, int dirfd, struct stasis_error **err)
{
	cleanup_free size_t *idx = xreallocarray(NULL, r->n + 1, sizeof(*idx));
	cleanup_free char **names = xreallocarray(NULL, r->n + 1, sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->members[i].size > DIGEST_CHUNK && !r->members[i].deferred) {
			idx[n] = i;
			names[n++] = r->members[i].name;
		}
	if (dirfd >= 0) {
		for (size_t k = 0; k < n; k++) {
			int ret = hash_extracted(r, dirfd, names[k], r->members[idx[k]].hex, err);
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	if (n == 0)
		return 0;
	cleanup_free struct digest **md = xreallocarray(NULL, n, sizeof(*md));
	cleanup_free uint64_t *end = xreallocarray(NULL, n, sizeof(*end));
	for (size_t k = 0; k < n; k++) {
		md[k] = digest_new(DIGEST_WHOLE);
		end[k] = 0;
	}
	struct plain_hashes p = { md, end };
	int ret = arc_stream_members(r->path, names, n, hash_block, &p, err);
	for (size_t k = 0; k < n; k++) {
		if (ret == 0 && end[k] < r->members[idx[k]].size)
			digest_update_zeros(md[k], r->members[idx[k]].size - end[k]);
		digest_finish(md[k], r->members[idx[k]].hex);
	}
	return ret;
}

/* format 2: every chunk list stands for its member's digest and fits its size */
static int check_chunk_lists(struct reader *r, const struct oci_manifest *m, const struct strmap *listed,
			     struct stasis_error **err)
{
	if (m->chunk_size != DIGEST_CHUNK)
		return error_setx(
			err, ENOTSUP, "archive `%s`: manifest chunks of %llu bytes: this stasis hashes %llu",
			r->path, (unsigned long long)m->chunk_size, (unsigned long long)DIGEST_CHUNK);
	for (size_t i = 0; i < r->n; i++) {
		const struct member *mb = &r->members[i];
		if (strcmp(mb->name, ARCHIVE_MANIFEST) == 0)
			continue;
		const struct oci_manifest_chunks *c = oci_manifest_chunks(m, mb->name);
		uint64_t want = mb->size > DIGEST_CHUNK ? (mb->size + DIGEST_CHUNK - 1) / DIGEST_CHUNK : 0;
		char hex[DIGEST_HEX];
		size_t at;
		if ((c ? c->n : 0) != want)
			return error_setx(
				err, EBADMSG,
				"archive `%s`: member `%s` of %llu bytes has %zu chunk digests in the "
				"manifest, not %llu; refused",
				r->path, mb->name, (unsigned long long)mb->size, c ? c->n : 0,
				(unsigned long long)want);
		if (c && (digest_of_chunks(c->hex, c->n, hex) < 0 || !strmap_get(listed, mb->name, &at) ||
			  strcmp(hex, m->members[at].value) != 0))
			return error_setx(
				err, EBADMSG,
				"archive `%s`: the chunk digests of member `%s` do not make its digest "
				"in the manifest: the archive was altered or damaged; refused",
				r->path, mb->name);
	}
	for (size_t i = 0; i < m->n_chunks; i++)
		if (!strmap_get(r->w.files, m->chunks[i].member, NULL))
			return error_setx(err, EBADMSG,
					  "archive `%s`: chunks of member `%s`, which is missing", r->path,
					  m->chunks[i].member);
	return 0;
}

/* the deferred members, with their chunk digests when m (checked) has them */
static void take_deferred(struct reader *r, const struct oci_manifest *m, struct arc_import *out)
{
	for (size_t i = 0; i < r->n; i++) {
		if (!r->members[i].deferred)
			continue;
		out->deferred = xgrow(out->deferred, out->n_deferred, sizeof(*out->deferred));
		struct arc_deferred *d = &out->deferred[out->n_deferred++];
		struct member *mb = &r->members[i];
		*d = (struct arc_deferred){ .name = xstrdup(mb->name),
					    .size = mb->size,
					    .frames = mb->frames,
					    .n_frames = mb->n_frames,
					    .data_at = mb->data_at };
		mb->frames = NULL;
		if (!m)
			continue;
		d->verified = true;
		const struct oci_manifest_chunks *c = oci_manifest_chunks(m, d->name);
		size_t n = c ? c->n : d->size ? 1 : 0;
		d->chunks = xreallocarray(NULL, n + 1, sizeof(*d->chunks));
		for (size_t k = 0; k < n; k++)
			d->chunks[k] = xstrdup(c ? c->hex[k] : oci_manifest_digest(m, d->name));
		d->chunks[n] = NULL;
		d->n_chunks = n;
	}
}

static int verify_manifest(struct reader *r, int dirfd, struct arc_import *out, struct stasis_error **err)
{
	cleanup_with(oci_manifest_free) struct oci_manifest *m = NULL;
	int ret = oci_manifest_parse(r->manifest, r->manifest_len, &m, err);
	if (ret < 0)
		return error_wrap(err, ret, "archive `%s`", r->path);
	if (m->format > ARCHIVE_MANIFEST_FORMAT || m->format < 1)
		return error_setx(err, ENOTSUP, "archive `%s`: manifest format %d: this stasis reads 1 to %d",
				  r->path, m->format, ARCHIVE_MANIFEST_FORMAT);
	for (size_t i = 0; m->format == 1 && i < r->n; i++)
		if (r->members[i].deferred)
			return error_setx(
				err, EOPNOTSUPP,
				"archive `%s`: an older stasis made it (manifest format 1): member `%s` "
				"can be checked only once all of it has gone by",
				r->path, r->members[i].name);
	if (m->format == 1 && (ret = rehash_format1(r, dirfd, err)) < 0)
		return ret;
	/* the manifest's members by name: one lookup a member, whatever their number */
	cleanup_with(strmap_free) struct strmap *listed = strmap_new();
	for (size_t i = 0; i < m->n_members && ret == 0; i++)
		if (strmap_put(listed, m->members[i].key, i) < 0)
			ret = error_setx(err, EBADMSG, "archive `%s`: member `%s` is twice in the manifest",
					 r->path, m->members[i].key);
	for (size_t i = 0; i < r->n && ret == 0; i++) {
		if (strcmp(r->members[i].name, ARCHIVE_MANIFEST) == 0)
			continue;
		size_t at;
		if (!strmap_get(listed, r->members[i].name, &at))
			ret = error_setx(err, EBADMSG,
					 "archive `%s`: member `%s` is not in the manifest: refused (added "
					 "after the checkpoint?)",
					 r->path, r->members[i].name);
		else if ((!r->members[i].deferred || r->members[i].size == 0) &&
			 strcmp(m->members[at].value, r->members[i].hex) != 0)
			ret = error_setx(
				err, EBADMSG,
				"archive `%s`: member `%s` does not match its sha256 in the manifest: "
				"the archive was altered or damaged; refused",
				r->path, r->members[i].name);
	}
	for (size_t i = 0; i < m->n_members && ret == 0; i++)
		if (!strmap_get(r->w.files, m->members[i].key, NULL))
			ret = error_setx(err, EBADMSG, "archive `%s`: member `%s` of the manifest is missing",
					 r->path, m->members[i].key);
	if (ret == 0 && m->format >= 2)
		ret = check_chunk_lists(r, m, listed, err);
	if (ret == 0) {
		out->has_manifest = true;
		out->criu_version = m->criu_version ? xstrdup(m->criu_version) : NULL;
		take_deferred(r, m, out);
	}
	return ret;
}

/* podman and CRI-O write no manifest: at least their layout must be there */
static int check_structure(struct reader *r, struct stasis_error **err)
{
	static const char *const required[] = {
		ARCHIVE_CHECKPOINT_DIR "/" CRIU_IMG_INVENTORY,
		ARCHIVE_SPEC_DUMP,
		ARCHIVE_CONFIG_DUMP,
	};
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		if (!strmap_get(r->w.files, required[i], NULL))
			return error_setx(err, EBADMSG,
					  "archive `%s`: no member `%s`: not a checkpoint archive", r->path,
					  required[i]);
	}
	return 0;
}

/* a member the index names, deferred without being read: it must be one the caller defers */
static int defer_indexed(struct reader *r, struct arc_index_member *m, struct stasis_error **err)
{
	if (!r->defer(m->name))
		return error_setx(err, EBADMSG, "archive `%s`: its index names `%s`, which is not streamed",
				  r->path, m->name);
	if (strmap_put(r->w.files, m->name, strmap_size(r->w.files)) < 0)
		return error_setx(err, EEXIST, "archive `%s`: member `%s` appears twice", r->path, m->name);
	r->members = xgrow(r->members, r->n, sizeof(*r->members));
	struct member *mb = &r->members[r->n++];
	*mb = (struct member){ .name = xstrdup(m->name),
			       .deferred = true,
			       .size = m->size,
			       .frames = m->frames,
			       .n_frames = m->n_frames,
			       .data_at = -1 };
	m->frames = NULL; /* the member's now */
	/* an empty one streams no chunk to check: the manifest must give it the digest of nothing */
	digest_finish(digest_new(DIGEST_CHUNK), mb->hex);
	return 0;
}

/* one pass: members checked, hashed and (dirfd >= 0) written; then the manifest or the structure */
static int read_all(struct reader *r, int dirfd, struct arc_import *out, struct stasis_error **err)
{
	/*
	 * A streamed zstd archive's index lets the walk start after the deferred members' frames,
	 * which are then never read here (only the small members are)
	 */
	cleanup_with(arc_index_clear) struct arc_index idx = { 0 };
	if (r->defer) {
		cleanup_free char *what = xasprintf("archive `%s`", r->path);
		cleanup_close int fd = open_regular(r->path, 0, what, err);
		if (fd < 0)
			return fd;
		int ri = arc_index_read(fd, what, &idx, err);
		if (ri < 0 && ri != -ENOENT)
			return ri;
	}
	/* what is read once goes from the page cache behind us; deferred members are read again soon */
	int rc = arc_walk_open_at(&r->w, r->path, NULL, ARC_RULES_CHECKPOINT,
				  r->defer ? 0 : ARC_WALK_DROP_BEHIND, idx.tail, err);
	for (size_t i = 0; rc == 0 && i < idx.n; i++)
		rc = defer_indexed(r, &idx.members[i], err);
	struct stat st;
	if (rc == 0 && r->progress && r->progress->fn) {
		r->w.progress = *r->progress;
		r->w.progress_total = stat(r->path, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	if (rc == 0)
		rc = extract_all(r, dirfd, err);
	if (rc == 0)
		rc = r->manifest ? verify_manifest(r, dirfd, out, err) : check_structure(r, err);
	if (rc == 0 && !r->manifest)
		take_deferred(r, NULL, out);
	return rc;
}

static int import(const char *archive_path, const char *dir, bool (*defer)(const char *name),
		  const struct arc_progress *progress, struct arc_import *ret, struct stasis_error **err)
{
	struct reader r = { .path = archive_path, .progress = progress, .defer = defer };
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return error_set(err, errno, "open `%s`", dir);
	int e = arc_disk_budget_init(&r.disk, dirfd, dir, err);
	if (e < 0)
		return e;
	e = copy_pipe_new(&r.pipe);
	if (e < 0)
		return error_set(err, e, "start the threads that hash and write `%s`", archive_path);
	struct arc_import out = { 0 };
	int rc = read_all(&r, dirfd, &out, err);
	if (rc == 0)
		*ret = out;
	if (rc < 0) {
		arc_import_clear(&out);
		/* nothing of a refused archive stays behind */
		cleanup_free char *ck = xasprintf("%s/%s", dir, ARCHIVE_CHECKPOINT_DIR);
		rm_rf(ck);
		for (size_t i = 0; i < r.n; i++)
			unlinkat(dirfd, r.members[i].name, 0);
	}
	reader_clear(&r);
	return rc;
}

int arc_import(const char *archive_path, const char *dir, const struct arc_progress *progress,
	       struct arc_import *ret, struct stasis_error **err)
{
	return import(archive_path, dir, NULL, progress, ret, err);
}

int arc_import_deferring(const char *archive_path, const char *dir, bool (*defer)(const char *name),
			 const struct arc_progress *progress, struct arc_import *ret,
			 struct stasis_error **err)
{
	return import(archive_path, dir, defer, progress, ret, err);
}

int arc_verify(const char *archive_path, struct arc_import *ret, size_t *ret_members,
	       unsigned long long *ret_bytes, struct stasis_error **err)
{
	struct reader r = { .path = archive_path };
	struct arc_import out = { 0 };
	int rc = read_all(&r, -1, &out, err);
	if (rc == 0) {
		*ret = out;
		*ret_members = r.n;
		*ret_bytes = r.total;
	}
	reader_clear(&r);
	return rc;
}

void arc_import_drop_deferred(struct arc_import *a)
{
	for (size_t i = 0; i < a->n_deferred; i++) {
		free(a->deferred[i].name);
		free(a->deferred[i].frames);
		strv_freep(&a->deferred[i].chunks);
	}
	free(a->deferred);
	a->deferred = NULL;
	a->n_deferred = 0;
}

void arc_import_clear(struct arc_import *a)
{
	free(a->criu_version);
	arc_import_drop_deferred(a);
	*a = (struct arc_import){ 0 };
}
