/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checkpoint archives, as the layers above engine/archive/ use them (see archive-internal.h). */
#ifndef STASIS_ENGINE_ARCHIVE_H
#define STASIS_ENGINE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/cleanup.h"
#include "include/stasis.h"

struct stasis_error;

/* Every extracted byte of one archive stays under this; bigger is not a checkpoint but an attack. */
#define ARC_MAX_TOTAL (1ull << 40)
/* members of one checkpoint archive: a container with more files than this is not dumpable */
#define ARC_MAX_MEMBERS 100000

/* bytes done of total (0: unknown), for a caller's progress line */
struct arc_progress {
	void (*fn)(uint64_t done, uint64_t total, void *data);
	void *data;
};

/* A member arc_import_deferring left in the archive, for arc_stream_verified. */
struct arc_deferred {
	char *name; /* "checkpoint/pages-65537.img" */
	uint64_t size;
	bool verified; /* chunks hold its digests (a stasis.manifest): else it streams unchecked */
	char **chunks; /* one sha256 a DIGEST_CHUNK piece, in order (a short member: its own digest) */
	size_t n_chunks;
	/*
	 * Random access to its data (a lazy restore reads the chunk a page fault needs): the zstd
	 * frames the archive's index gives (a chunk each, then the end of the last), or where an
	 * uncompressed archive holds it (-1: not known).  Neither: it can only be read in order.
	 */
	off_t *frames;
	size_t n_frames;
	off_t data_at;
};

struct arc_import {
	bool has_manifest; /* stasis.manifest was present and every digest matched */
	char *criu_version;
	struct arc_deferred *deferred;
	size_t n_deferred;
};

/* Relative, with no ".." component: the only names archive members may have. */
bool arc_name_is_safe(const char *name);

/*
 * Extracts a checkpoint archive (any compression, detected from content) into the empty directory
 * dir.  Every member is checked first: a plain relative name (no "/" prefix, no "..", top level or
 * directly under checkpoint/), a regular file or the checkpoint/ directory, size caps.  With a
 * stasis.manifest every member's sha256 must match and none may be missing or extra; without
 * (podman, CRI-O) the archive must have their structure.  On error dir is emptied again and the
 * message names the member.  progress (may be NULL) hears the archive's bytes read of its size.
 */
int arc_import(const char *archive_path, const char *dir, const struct arc_progress *progress,
	       struct arc_import *ret, struct stasis_error **err);
void arc_import_clear(struct arc_import *a);
/* Forgets the deferred members (they were unpacked after all). */
void arc_import_drop_deferred(struct arc_import *a);
/*
 * arc_import, except that the file members defer() names are left in the archive, their sizes and
 * chunk digests in ret->deferred, for a reader that streams them (arc_stream_verified).  Everything
 * else is checked as arc_import checks it.  A format 1 manifest (whole-member digests: a member
 * could only be checked once it has all gone by) is -EOPNOTSUPP, with dir emptied again.
 */
int arc_import_deferring(const char *archive_path, const char *dir, bool (*defer)(const char *name),
			 const struct arc_progress *progress, struct arc_import *ret,
			 struct stasis_error **err);
/*
 * Writes a deferred member's bytes into fd, a chunk at a time, each only once its digest matched
 * (when verified): a bad chunk is -EBADMSG naming it, and nothing of it is written.  -EPIPE (no
 * message) when the reader went away.  written (may be NULL) hears each chunk's bytes once they
 * are written, from a thread of ours.
 */
int arc_stream_verified(const char *archive_path, const struct arc_deferred *d, int fd,
			void (*written)(uint64_t bytes, void *data), void *data, struct stasis_error **err);

/*
 * Random access to a deferred member (arc_deferred_random_access: checked by the manifest, and a
 * frame a chunk in a zstd archive from stasis' streamed checkpoint, or an uncompressed archive):
 * each DIGEST_CHUNK is read, decompressed and checked against its digest when first needed, and a
 * few are kept.  d must outlive the reader.
 */
struct arc_chunks;
bool arc_deferred_random_access(const struct arc_deferred *d);
int arc_chunks_open(const char *archive_path, const struct arc_deferred *d, struct arc_chunks **ret,
		    struct stasis_error **err);
/* len bytes of the member from off on: -EBADMSG (a chunk not matching its digest), -EIO, -ERANGE */
int arc_chunks_read(struct arc_chunks *c, uint64_t off, void *dst, size_t len, struct stasis_error **err);
/*
 * The same without a copy, when one chunk holds all len bytes: 1 and *ret (valid until the next
 * call on c); 0 when they span two chunks (read them with arc_chunks_read).
 */
int arc_chunks_peek(struct arc_chunks *c, uint64_t off, size_t len, const void **ret,
		    struct stasis_error **err);
/*
 * The archive at archive_path is a sparse replica of one rm serves (remote.c): each chunk's bytes
 * are fetched into it the first time they are read (rm must outlive c).
 */
struct arc_remote;
int arc_chunks_set_remote(struct arc_chunks *c, struct arc_remote *rm, struct stasis_error **err);
/* From now on a thread reads, decompresses and checks the chunk after each one read, ahead of need. */
void arc_chunks_read_ahead(struct arc_chunks *c);
/*
 * The whole member into fd, in order, each chunk checked before a byte of it is written (written()
 * told each time); the next chunks are read and checked on worker threads meanwhile.  0 or -errno.
 */
int arc_chunks_stream(struct arc_chunks *c, int fd, void (*written)(uint64_t bytes, void *data), void *data,
		      struct stasis_error **err);
struct arc_chunks *arc_chunks_free(struct arc_chunks *c);
DEFINE_CLEANUP(struct arc_chunks *, arc_chunks_free)
/*
 * Whether buf, chunk n of d (len bytes), has the digest the manifest gives it (always, for a
 * member of an archive without a manifest): 0 or -EBADMSG naming the bytes.
 */
int arc_chunk_check(const char *path, const struct arc_deferred *d, size_t n, const unsigned char *buf,
		    size_t len, struct stasis_error **err);

/*
 * An archive on another host, served by arc_remote_serve (remote.c): a connection that reads byte
 * ranges of it into a local sparse replica.  The token (ARC_REMOTE_TOKEN_LEN characters) is the one
 * the server was given; a wrong one gets no byte.  One request at a time (threads share it).
 */
#define ARC_REMOTE_TOKEN_LEN STASIS_SERVE_TOKEN_LEN
struct arc_remote;
struct arc_tls;
/* tls: NULL plain TCP; else TLS, the server's certificate checked (engine/archive/tls.h) */
int arc_remote_connect(const char *where, const char *token, const struct arc_tls *tls,
		       struct arc_remote **ret, struct stasis_error **err);
uint64_t arc_remote_size(const struct arc_remote *rm);
/* Bytes [off, off + len) of the archive, written at the same place of the file replica. */
int arc_remote_fetch(struct arc_remote *rm, int replica, uint64_t off, uint64_t len,
		     struct stasis_error **err);
/*
 * Creates replica_path, sparse, the size of the served archive, with its tail: the small members,
 * the manifest and the index (a streamed zstd archive's; any other is -EOPNOTSUPP).
 */
int arc_remote_replicate(struct arc_remote *rm, const char *replica_path, struct stasis_error **err);
/* Tells the server every page is in: it stops serving. */
void arc_remote_bye(struct arc_remote *rm);
struct arc_remote *arc_remote_free(struct arc_remote *rm);
DEFINE_CLEANUP(struct arc_remote *, arc_remote_free)
/*
 * Serves archive_path at where ("ADDR:PORT") to clients with token until one says bye (0) or
 * nobody asks for idle_s seconds (-ETIMEDOUT; 0: never).  ready (may be NULL) hears when it listens.
 * tls: NULL plain TCP; else TLS with its certificate and key (and with its cacert, clients must
 * have a certificate of that CA).
 */
int arc_remote_serve(const char *archive_path, const char *where, const char *token, unsigned idle_s,
		     const struct arc_tls *tls, void (*ready)(const char *where, void *data), void *data,
		     struct stasis_error **err);

/* The same checks as arc_import, hashing each member as it streams by: nothing is written. */
int arc_verify(const char *archive_path, struct arc_import *ret, size_t *ret_members,
	       unsigned long long *ret_bytes, struct stasis_error **err);

/*
 * Applies a file-tree tar (rootfs-diff.tar) to rootfs: directories, regular files, symlinks and
 * hardlinks with their mode, owner, times and xattrs.  Each entry is created relative to a
 * directory fd reached from rootfs without following any symlink and without leaving it; absolute
 * names, "..", devices and links pointing outside are refused with the entry named.  ret_paths
 * (may be NULL): what was written.
 */
int arc_apply_tree(const char *tar_path, const char *rootfs, char ***ret_paths, size_t *ret_n,
		   struct stasis_error **err);

/*
 * Removes the paths of deleted.files (container paths) from rootfs, reached the same way: never
 * through a symlink, never outside.  Paths already absent are fine.
 */
int arc_remove_deleted(const char *rootfs, char *const *paths, size_t n, struct stasis_error **err);

/*
 * Reading without extracting.  arc_scan passes every member the checkpoint rules let through to
 * fn, in archive order; fn may read it (arc_scan_read) or list it as a tar (arc_scan_list_tar),
 * else it is skipped unread.  fn returns 0 to go on, <0 to stop with that error.
 */
struct arc_scan_member {
	const char *name; /* "checkpoint/pstree.img", "spec.dump" */
	uint64_t size;
	bool is_dir;
	struct arc_walk *walk;
};
typedef int (*arc_scan_fn)(void *data, struct arc_scan_member *m, struct stasis_error **err);
int arc_scan(const char *path, arc_scan_fn fn, void *data, struct stasis_error **err);
/* The member's bytes, at most max (NUL-terminated); longer is EBADMSG: not what its header says. */
int arc_scan_read(struct arc_scan_member *m, size_t max, unsigned char **ret, size_t *ret_len,
		  struct stasis_error **err);
/* The entries of the member, a tar, as container paths ("/etc/x"). */
int arc_scan_list_tar(struct arc_scan_member *m, char ***ret, size_t *ret_n, struct stasis_error **err);
/* The entries of a tar file on disk, as container paths. */
int arc_list_tar(const char *path, char ***ret, size_t *ret_n, struct stasis_error **err);

/*
 * Streams the members `members` through fn, each in order, in one pass over the archive; `which`
 * is the index into members.  fn returns <0 to stop with that error, 1 to stop early with
 * success.  The bytes are not kept.
 */
typedef int (*arc_chunk_fn)(void *data, size_t which, uint64_t off, const unsigned char *buf, size_t len,
			    struct stasis_error **err);
int arc_stream_members(const char *path, char *const *members, size_t n, arc_chunk_fn fn, void *data,
		       struct stasis_error **err);

/*
 * Writing.  A tar archive (compress: "zstd", "gzip" or "none") streams to a temporary file beside
 * final_path; arc_writer_commit() adds the manifest, fsyncs and renames it into place (mode 0600),
 * so a crash or ENOSPC never leaves a partial archive under the final name.  tmp_path (NULL: a
 * fresh arc_writer_tmp_name()) is created, never opened if it exists: a caller that must undo
 * it after a kill records its name first (the checkpoint's guard).
 */
struct arc_writer;
/* "DIR/.NAME.stasis-RANDOM" beside final_path (malloc'ed); nothing is created */
char *arc_writer_tmp_name(const char *final_path);
int arc_writer_open(const char *final_path, const char *compress, const char *tmp_path,
		    struct arc_writer **ret, struct stasis_error **err);
int arc_writer_add_dir(struct arc_writer *w, const char *name, struct stasis_error **err);
int arc_writer_add_buffer(struct arc_writer *w, const char *name, const void *buf, size_t len,
			  struct stasis_error **err);
int arc_writer_add_file(struct arc_writer *w, const char *name, const char *path, struct stasis_error **err);
/*
 * A member whose size is known at its end (the pages CRIU sends while it dumps), written as its
 * bytes come: arc_writer_append, then arc_writer_end, which records its digest.  Only a zstd or
 * uncompressed archive can (arc_writer_streams); gzip is EOPNOTSUPP.
 */
bool arc_writer_streams(const struct arc_writer *w);
int arc_writer_begin(struct arc_writer *w, const char *name, struct stasis_error **err);
int arc_writer_append(struct arc_writer *w, const void *buf, size_t len, struct stasis_error **err);
/*
 * Where the member's next bytes would be copied to by arc_writer_append: a reader may put them
 * there itself, then pass that buf to arc_writer_append, which copies nothing.  0 with the buffer
 * and its room (> 0); -EOPNOTSUPP when there is no such place (no member, or no threads); another
 * -errno when the archive failed (arc_writer_append says how).
 */
int arc_writer_room(struct arc_writer *w, void **ret_buf, size_t *ret_room);
int arc_writer_end(struct arc_writer *w, struct stasis_error **err);
/* Adds the manifest, fsyncs, links the archive under its final name; frees w either way. */
int arc_writer_commit(struct arc_writer *w, const char *criu_version, struct stasis_error **err);
/* The temporary file the archive is written to until the commit (for whoever must remove it). */
/* Removes the temporary file and frees w; accepts NULL; returns NULL. */
struct arc_writer *arc_writer_abort(struct arc_writer *w);
/*
 * A tar stream written as it comes, for members whose size is known only at their end (the pages
 * CRIU is dumping): sink.c.  fd must be a file it can seek back in (the placeholder of such a
 * member's header is rewritten at its end); zstd: as zstd frames, else uncompressed.  mtime stamps
 * every member.  Members are written in the order given; arc_sink_finish ends the archive (the
 * caller fsyncs and renames).
 */
struct arc_sink;
int arc_sink_open(int fd, bool zstd, time_t mtime, struct arc_sink **ret, struct stasis_error **err);
/* A member whose bytes are all here. */
int arc_sink_add(struct arc_sink *s, const char *name, const void *data, size_t len,
		 struct stasis_error **err);
/* A directory member (checkpoint/). */
int arc_sink_add_dir(struct arc_sink *s, const char *name, struct stasis_error **err);
/*
 * A member of size bytes, or ARC_SIZE_UNKNOWN (a placeholder header, rewritten at its end): then
 * arc_sink_append, and arc_sink_end.  Bytes beyond a known size, or fewer, are EIO.
 */
#define ARC_SIZE_UNKNOWN UINT64_MAX
int arc_sink_begin(struct arc_sink *s, const char *name, uint64_t size, struct stasis_error **err);
int arc_sink_append(struct arc_sink *s, const void *data, size_t len, struct stasis_error **err);
int arc_sink_end(struct arc_sink *s, struct stasis_error **err);
/*
 * Whether the member being written takes its data as zstd frames the caller made, one a
 * DIGEST_CHUNK (a streamed member of a zstd archive): arc_sink_append_frame.
 */
bool arc_sink_takes_frames(const struct arc_sink *s);
/*
 * The member's next chunk as one zstd frame of raw_len bytes of data (DIGEST_CHUNK, or less for
 * its last; the last frame holds the tar padding after them too), instead of arc_sink_append.
 */
int arc_sink_append_frame(struct arc_sink *s, const void *frame, size_t len, uint64_t raw_len,
			  struct stasis_error **err);
int arc_sink_finish(struct arc_sink *s, struct stasis_error **err);
struct arc_sink *arc_sink_free(struct arc_sink *s);
DEFINE_CLEANUP(struct arc_sink *, arc_sink_free)
/*
 * The ustar header of a regular file (mode 0600, root) of size bytes, or of a directory (0700):
 * 0, -EINVAL (no name),
 * -ENAMETOOLONG (no split into a 155-byte prefix and a 100-byte name).  Sizes of 8 GiB and more
 * are written in base 256, as GNU tar does.
 */
int arc_ustar_header(unsigned char h[512], const char *name, uint64_t size, time_t mtime, bool dir);

/* From now on, each chunk written is counted towards total and told to p (copied). */
void arc_writer_progress(struct arc_writer *w, const struct arc_progress *p, uint64_t total);
/* Writes an uncompressed tar of the given relative paths under base (metadata, xattrs, hardlinks kept). */
int arc_write_tree(const char *tar_path, const char *base, char *const *paths, size_t n,
		   struct stasis_error **err);

#endif
