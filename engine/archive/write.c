/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/archive/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/names.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/chunk-pipe.h"
#include "engine/archive/digest.h"
#include "include/stasis.h"
#include "oci/oci.h"

#define COPY_CHUNK (1u << 20)

struct member_digest {
	char *name;
	char hex[DIGEST_HEX];
	char (*chunks)[DIGEST_HEX]; /* a member of two chunks or more: each chunk's */
	size_t n_chunks;
};

/*
 * zstd and uncompressed archives are written by sink.c, which can also stream a member whose size
 * is known only at its end (the pages CRIU sends while it dumps); gzip goes through libarchive's
 * filter, and its members must be whole when they start.
 */
struct arc_writer {
	struct archive *a;     /* gzip */
	struct arc_sink *sink; /* zstd, none */
	int fd;
	char *tmp_path;
	char *final_path;
	char *dir;
	struct member_digest *digests;
	size_t n_digests;
	time_t now;
	struct arc_progress progress;
	uint64_t progress_done, progress_total;
	/* the member being written, and its digest so far */
	char *member;
	struct digest *md;
	/* sink: a member's chunks are hashed (and compressed) on threads of their own (NULL: here) */
	struct chunk_pipe *pipe;
};

void arc_writer_progress(struct arc_writer *w, const struct arc_progress *p, uint64_t total)
{
	w->progress = *p;
	w->progress_total = total;
	w->progress_done = 0;
}

static void count_written(struct arc_writer *w, size_t n)
{
	w->progress_done += n;
	if (w->progress.fn)
		w->progress.fn(w->progress_done, w->progress_total, w->progress.data);
}

static int ar_error(struct arc_writer *w, struct stasis_error **err, const char *what)
{
	int e = archive_errno(w->a);
	/* a system call's failure (ENOSPC, EIO) says so in its own words */
	if (e > 0)
		return error_set(err, e, "archive `%s`: %s", w->final_path, what);
	return error_setx(err, EIO, "archive `%s`: %s: %s", w->final_path, what,
			  archive_error_string(w->a) ? archive_error_string(w->a) : "error");
}

char *arc_writer_tmp_name(const char *final_path)
{
	char suffix[9];
	random_suffix(suffix, sizeof(suffix));
	cleanup_free char *copy = xstrdup(final_path);
	cleanup_free char *copy2 = xstrdup(final_path);
	return xasprintf("%s/.%s.stasis-%s", dirname(copy), basename(copy2), suffix);
}

int arc_writer_open(const char *final_path, const char *compress, const char *tmp_path,
		    struct arc_writer **ret, struct stasis_error **err)
{
	if (!compress)
		compress = "zstd";
	if (strcmp(compress, "zstd") && strcmp(compress, "gzip") && strcmp(compress, "none"))
		return error_setx(err, EINVAL, "compression `%s`: expected zstd, gzip or none", compress);
	cleanup_free char *copy = xstrdup(final_path);
	struct arc_writer *w = xzalloc(sizeof(*w));
	w->final_path = xstrdup(final_path);
	w->dir = xstrdup(dirname(copy));
	w->tmp_path = tmp_path ? xstrdup(tmp_path) : arc_writer_tmp_name(final_path);
	w->now = time(NULL);
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		int r = error_set(err, errno, "create archive in `%s`", w->dir);
		free(w->tmp_path);
		w->tmp_path = NULL;
		arc_writer_abort(w);
		return r;
	}
	fchmod(w->fd, 0600);
	if (strcmp(compress, "gzip") != 0) {
		int r = arc_sink_open(w->fd, strcmp(compress, "zstd") == 0, w->now, &w->sink, err);
		if (r < 0) {
			arc_writer_abort(w);
			return error_wrap(err, r, "archive `%s`", final_path);
		}
		/* without threads (a pids limit) the bytes are hashed and written here, only slower */
		if (chunk_pipe_new(&w->pipe) < 0)
			w->pipe = NULL;
		*ret = w;
		return 0;
	}
	w->a = archive_write_new();
	archive_write_set_format_pax_restricted(w->a);
	if (archive_write_add_filter_gzip(w->a) != ARCHIVE_OK ||
	    archive_write_open_fd(w->a, w->fd) != ARCHIVE_OK) {
		int r = ar_error(w, err, "open");
		arc_writer_abort(w);
		return r;
	}
	*ret = w;
	return 0;
}

bool arc_writer_streams(const struct arc_writer *w)
{
	return w->sink != NULL;
}

/* gzip: libarchive's entry of a member */
static struct archive_entry *new_entry(const struct arc_writer *w, const char *name, mode_t type, mode_t perm,
				       uint64_t size)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, w->now, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	return e;
}

/* an archive stasis writes is one it can read back: its readers refuse more members than this */
static int room_for_member(struct arc_writer *w, const char *name, struct stasis_error **err)
{
	/* + 1: the manifest is a member too */
	if (w->n_digests + 1 >= ARC_MAX_MEMBERS)
		return error_setx(err, EFBIG, "`%s`: member `%s`: more than %d members", w->final_path, name,
				  ARC_MAX_MEMBERS);
	return 0;
}

int arc_writer_add_dir(struct arc_writer *w, const char *name, struct stasis_error **err)
{
	if (w->member)
		return error_setx(err, EBUSY, "archive: `%s` before `%s` has ended", name, w->member);
	if (w->sink)
		return arc_sink_add_dir(w->sink, name, err);
	struct archive_entry *e = new_entry(w, name, AE_IFDIR, 0700, 0);
	int r = archive_write_header(w->a, e);
	archive_entry_free(e);
	return r == ARCHIVE_OK ? 0 : ar_error(w, err, name);
}

/* the pipe's writing thread: a member's chunks into the sink (the caller's thread waits at its end) */
static int pipe_to_sink(void *data, const void *buf, size_t len, uint64_t raw_len, bool frame)
{
	struct arc_writer *w = data;
	return frame ? arc_sink_append_frame(w->sink, buf, len, raw_len, NULL)
		     : arc_sink_append(w->sink, buf, len, NULL);
}

/* A member of size bytes (ARC_SIZE_UNKNOWN: told at its end, which only the sink can do). */
static int begin_member(struct arc_writer *w, const char *name, uint64_t size, struct stasis_error **err)
{
	if (w->member)
		return error_setx(err, EBUSY, "archive: `%s` before `%s` has ended", name, w->member);
	int r = room_for_member(w, name, err);
	if (r < 0)
		return r;
	if (w->sink) {
		if ((r = arc_sink_begin(w->sink, name, size, err)) < 0)
			return r;
	} else if (size == ARC_SIZE_UNKNOWN) {
		return error_setx(
			err, EOPNOTSUPP,
			"archive: `%s`: a gzip archive cannot take a member before its size is known", name);
	} else {
		struct archive_entry *e = new_entry(w, name, AE_IFREG, 0600, size);
		r = archive_write_header(w->a, e);
		archive_entry_free(e);
		if (r != ARCHIVE_OK)
			return ar_error(w, err, name);
	}
	w->member = xstrdup(name);
	w->md = digest_new(DIGEST_CHUNK);
	/* a streamed member of a zstd archive: each chunk a frame, compressed where it is hashed */
	if (w->pipe)
		chunk_pipe_begin(w->pipe, pipe_to_sink, w, w->md, arc_sink_takes_frames(w->sink));
	return 0;
}

int arc_writer_append(struct arc_writer *w, const void *buf, size_t len, struct stasis_error **err)
{
	if (!w->member)
		return error_setx(err, EINVAL, "archive: data outside any member");
	if (w->pipe) {
		int r = chunk_pipe_push(w->pipe, buf, len);
		if (r < 0)
			return error_set(err, -r, "archive `%s`: write `%s`", w->final_path, w->member);
		count_written(w, len);
		return 0;
	}
	digest_update(w->md, buf, len);
	if (w->sink) {
		int r = arc_sink_append(w->sink, buf, len, err);
		if (r < 0)
			return r;
	} else if (len && archive_write_data(w->a, buf, len) != (la_ssize_t)len) {
		return ar_error(w, err, w->member);
	}
	count_written(w, len);
	return 0;
}

int arc_writer_room(struct arc_writer *w, void **ret_buf, size_t *ret_room)
{
	if (!w->member || !w->pipe)
		return -EOPNOTSUPP;
	return chunk_pipe_room(w->pipe, ret_buf, ret_room);
}

/* forgets the member being written (its digest too) */
static void drop_member(struct arc_writer *w)
{
	if (w->md)
		digest_finish(w->md, (char[DIGEST_HEX]){ 0 });
	w->md = NULL;
	free(w->member);
	w->member = NULL;
}

int arc_writer_end(struct arc_writer *w, struct stasis_error **err)
{
	if (!w->member)
		return error_setx(err, EINVAL, "archive: no member to end");
	int r = w->pipe ? chunk_pipe_end(w->pipe) : 0;
	if (r < 0)
		return error_set(err, -r, "archive `%s`: write `%s`", w->final_path, w->member);
	if (w->sink) {
		r = arc_sink_end(w->sink, err);
		if (r < 0)
			return r;
	}
	w->digests = xgrow(w->digests, w->n_digests, sizeof(*w->digests));
	struct member_digest *d = &w->digests[w->n_digests++];
	d->name = w->member;
	d->n_chunks = digest_finish_chunks(w->md, d->hex, &d->chunks);
	w->member = NULL;
	w->md = NULL;
	return 0;
}

int arc_writer_begin(struct arc_writer *w, const char *name, struct stasis_error **err)
{
	return begin_member(w, name, ARC_SIZE_UNKNOWN, err);
}

int arc_writer_add_buffer(struct arc_writer *w, const char *name, const void *buf, size_t len,
			  struct stasis_error **err)
{
	int r = begin_member(w, name, len, err);
	if (r == 0)
		r = arc_writer_append(w, buf, len, err);
	return r < 0 ? r : arc_writer_end(w, err);
}

int arc_writer_add_file(struct arc_writer *w, const char *name, const char *path, struct stasis_error **err)
{
	cleanup_free char *what = xasprintf("archive: `%s`", path);
	cleanup_close int fd = open_regular(path, O_NOFOLLOW, what, err);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return error_set(err, errno, "archive: stat `%s`", path);
	int r = begin_member(w, name, (uint64_t)st.st_size, err);
	if (r < 0)
		return r;
	cleanup_free char *buf = xmalloc(COPY_CHUNK);
	off_t left = st.st_size;
	while (left > 0) {
		ssize_t n = read(fd, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? error_set(err, errno, "archive: read `%s`", path)
				     : error_setx(err, EIO, "archive: `%s` shrank while being archived",
						  path);
		if (n > left)
			n = left;
		if ((r = arc_writer_append(w, buf, (size_t)n, err)) < 0)
			return r;
		/* read once: its pages are of no more use in the page cache */
		(void)posix_fadvise(fd, st.st_size - left, n, POSIX_FADV_DONTNEED);
		left -= n;
	}
	return arc_writer_end(w, err);
}

static char *manifest_json(struct arc_writer *w, const char *criu_version)
{
	struct utsname u;
	uname(&u);
	struct oci_json *j = oci_json_new(true);
	oci_json_map_open(j);
	oci_json_kint(j, "format", ARCHIVE_MANIFEST_FORMAT);
	oci_json_kstr(j, "stasisVersion", stasis_version());
	oci_json_kstr(j, "criuVersion", criu_version);
	oci_json_kstr(j, "kernel", u.release);
	oci_json_kstr(j, "arch", u.machine);
	oci_json_kstr(j, "digest", "sha256");
	oci_json_kint(j, "chunkSize", (long long)DIGEST_CHUNK);
	oci_json_key(j, "members");
	oci_json_map_open(j);
	for (size_t i = 0; i < w->n_digests; i++)
		oci_json_kstr(j, w->digests[i].name, w->digests[i].hex);
	oci_json_map_close(j);
	oci_json_key(j, "chunks");
	oci_json_map_open(j);
	for (size_t i = 0; i < w->n_digests; i++) {
		if (!w->digests[i].n_chunks)
			continue;
		oci_json_key(j, w->digests[i].name);
		oci_json_array_open(j);
		for (size_t k = 0; k < w->digests[i].n_chunks; k++)
			oci_json_string(j, w->digests[i].chunks[k]);
		oci_json_array_close(j);
	}
	oci_json_map_close(j);
	oci_json_map_close(j);
	size_t len;
	return oci_json_finish(j, &len);
}

static int commit(struct arc_writer *w, const char *criu_version, struct stasis_error **err)
{
	if (w->member)
		return error_setx(err, EBUSY, "archive `%s`: committed while `%s` had not ended",
				  w->final_path, w->member);
	cleanup_free char *manifest = manifest_json(w, criu_version);
	size_t len = strlen(manifest);
	int r;
	if (w->sink) {
		if ((r = arc_sink_add(w->sink, ARCHIVE_MANIFEST, manifest, len, err)) < 0 ||
		    (r = arc_sink_finish(w->sink, err)) < 0)
			return error_wrap(err, r, "archive `%s`", w->final_path);
	} else {
		struct archive_entry *e = new_entry(w, ARCHIVE_MANIFEST, AE_IFREG, 0600, len);
		r = archive_write_header(w->a, e);
		archive_entry_free(e);
		if (r != ARCHIVE_OK || archive_write_data(w->a, manifest, len) != (la_ssize_t)len)
			return ar_error(w, err, ARCHIVE_MANIFEST);
		if (archive_write_close(w->a) != ARCHIVE_OK)
			return ar_error(w, err, "close");
	}
	if (fsync(w->fd) < 0)
		return error_set(err, errno, "fsync `%s`", w->tmp_path);
	/*
	 * link, not rename: the final name is taken only if nobody has it, so two checkpoints to one
	 * path never overwrite each other's archive (the loser fails, its container runs on)
	 */
	if (link(w->tmp_path, w->final_path) < 0) {
		if (errno == EEXIST)
			return error_setx(
				err, EEXIST,
				"`%s` exists (another checkpoint wrote it meanwhile): never overwritten",
				w->final_path);
		return error_set(err, errno, "link `%s` as `%s`", w->tmp_path, w->final_path);
	}
	cleanup_close int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

int arc_writer_commit(struct arc_writer *w, const char *criu_version, struct stasis_error **err)
{
	int r = commit(w, criu_version, err);
	/* committed or not, the temporary name goes (committed, the archive lives on under its own) */
	arc_writer_abort(w);
	return r;
}

struct arc_writer *arc_writer_abort(struct arc_writer *w)
{
	if (!w)
		return NULL;
	if (w->a)
		archive_write_free(w->a);
	/* its threads first: they may be writing into the sink */
	chunk_pipe_free(w->pipe);
	arc_sink_free(w->sink);
	drop_member(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	free(w->final_path);
	free(w->dir);
	for (size_t i = 0; i < w->n_digests; i++) {
		free(w->digests[i].name);
		free(w->digests[i].chunks);
	}
	free(w->digests);
	free(w);
	return NULL;
}

/* trusted.overlay.* attributes are overlayfs' bookkeeping of the upper dir, not the container's data */
static void drop_overlay_xattrs(struct archive_entry *e)
{
	struct keep {
		char *name;
		void *value;
		size_t size;
	} keep[64];
	size_t n = 0;
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(e);
	while (n < ARRAY_SIZE(keep) && archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (strncmp(name, "trusted.overlay.", 16) == 0)
			continue;
		keep[n].name = xstrdup(name);
		keep[n].value = xmalloc(size);
		memcpy(keep[n].value, value, size);
		keep[n].size = size;
		n++;
	}
	archive_entry_xattr_clear(e);
	for (size_t i = 0; i < n; i++) {
		archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
		free(keep[i].name);
		free(keep[i].value);
	}
}

int arc_write_tree(const char *tar_path, const char *base, char *const *paths, size_t n,
		   struct stasis_error **err)
{
	struct archive *a = archive_write_new();
	struct archive *disk = archive_read_disk_new();
	struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
	archive_write_set_format_pax_restricted(a);
	archive_entry_linkresolver_set_strategy(links, archive_format(a));
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_standard_lookup(disk);
	int r = 0;
	if (archive_write_open_filename(a, tar_path) != ARCHIVE_OK) {
		r = error_setx(err, EIO, "create `%s`: %s", tar_path, archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		cleanup_free char *src = xasprintf("%s/%s", base, paths[i]);
		struct archive_entry *e = archive_entry_new();
		archive_entry_copy_sourcepath(e, src);
		if (archive_read_disk_entry_from_file(disk, e, -1, NULL) != ARCHIVE_OK) {
			r = error_setx(err, EIO, "rootfs diff: `/%s`: %s", paths[i],
				       archive_error_string(disk));
			archive_entry_free(e);
			break;
		}
		archive_entry_set_pathname(e, paths[i]);
		drop_overlay_xattrs(e);
		struct archive_entry *sparse = NULL;
		archive_entry_linkify(links, &e, &sparse);
		if (e && archive_write_header(a, e) != ARCHIVE_OK) {
			r = error_setx(err, EIO, "rootfs diff: `/%s`: %s", paths[i], archive_error_string(a));
		} else if (e && archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
			/* the container may have put a FIFO where the file was a moment ago */
			cleanup_free char *what = xasprintf("rootfs diff: `/%s`", paths[i]);
			int fd = open_regular(src, O_NOFOLLOW, what, err);
			if (fd < 0) {
				r = fd;
			} else {
				char buf[65536];
				ssize_t got;
				while ((got = read(fd, buf, sizeof(buf))) > 0)
					if (archive_write_data(a, buf, (size_t)got) != got) {
						r = error_setx(err, EIO, "rootfs diff: write `/%s`",
							       paths[i]);
						break;
					}
				close(fd);
			}
		}
		if (e)
			archive_entry_free(e);
		if (sparse)
			archive_entry_free(sparse);
	}
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = error_setx(err, EIO, "close `%s`: %s", tar_path, archive_error_string(a));
out:
	archive_entry_linkresolver_free(links);
	archive_read_free(disk);
	archive_write_free(a);
	return r;
}
