/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/archive/: checkpoint archives, where libarchive, libzstd and libcrypto live.  walk.c is
 * the one member walker every reader goes through (name and type rules, duplicates, caps, errors);
 * import.c extracts or verifies against the manifest, scan.c reads without extracting (for the
 * image set), apply.c writes a rootfs diff into a rootfs, write.c and zstd.c write archives,
 * digest.c and copy-pipe.c hash and copy members.  archive.h is what the layers above use.
 */
#ifndef STASIS_ENGINE_ARCHIVE_INTERNAL_H
#define STASIS_ENGINE_ARCHIVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "engine/archive/archive.h"

struct archive;
struct archive_entry;
struct copy_pipe;
struct digest;
struct strmap;

/* libarchive's read granularity, and ours */
#define ARC_READ_BLOCK (1u << 20)
/* entries of a file-tree tar (a rootfs diff) that anyone would write: more is an attack */
#define ARC_TREE_MAX_ENTRIES 1000000
/* PATH_MAX: a longer member name cannot be created anywhere */
#define ARC_NAME_MAX 4096
/* NAME_MAX: a checkpoint member's own name is one path component */
#define ARC_BASENAME_MAX 256

/* Which members an archive may hold. */
enum arc_rules {
	/*
	 * A checkpoint archive: regular files at the top or directly under checkpoint/, which must
	 * be a directory; other directories and what is below them (podman's artifacts/) are skipped
	 * unread; every file name once.
	 */
	ARC_RULES_CHECKPOINT,
	/* A tar of a file tree (rootfs-diff.tar, devshm-checkpoint.tar): files, dirs, links. */
	ARC_RULES_TREE,
};

enum {
	ARC_WALK_DROP_BEHIND = 1 << 0, /* give the page cache back behind the reader (read once) */
	ARC_WALK_SPECIAL_OK = 1 << 1,  /* TREE: devices, fifos, sockets are listed, not refused */
};

enum arc_member_type {
	ARC_MEMBER_FILE,
	ARC_MEMBER_DIR,
	ARC_MEMBER_SYMLINK,
	ARC_MEMBER_HARDLINK,
	ARC_MEMBER_SPECIAL, /* only with ARC_WALK_SPECIAL_OK */
};

struct arc_member {
	const char *name; /* without "./" in front or "/" behind; valid until the next step */
	enum arc_member_type type;
	uint64_t size;
	const char *link_target; /* HARDLINK: cleaned and checked like name; SYMLINK: as written */
	struct archive_entry *entry;
};

struct arc_walk {
	struct archive *a;
	char *what; /* "archive `x`" or "`x`": how every message starts */
	enum arc_rules rules;
	unsigned flags;
	size_t n;	      /* members passed so far */
	struct strmap *files; /* CHECKPOINT: the file members, by name, in order */
	char *name;
	char *link;
	uint64_t size; /* the current member's, as its header declares */
	int fd;
	char *buf;
	off_t dropped;
	struct archive *outer; /* a nested walk reads the outer walk's current member */
	/* told the archive's bytes read so far (of progress_total) as members are copied */
	struct arc_progress progress;
	uint64_t progress_total;
};

/*
 * Starts a walk over the archive at path (any compression; tar).  what names it in messages
 * (NULL: "archive `path`").  On error the walk is closed.
 */
int arc_walk_open(struct arc_walk *w, const char *path, const char *what, enum arc_rules rules,
		  unsigned flags, struct stasis_error **err);
/* The same, from byte start of the file on (a zstd frame or a tar block where a member begins). */
int arc_walk_open_at(struct arc_walk *w, const char *path, const char *what, enum arc_rules rules,
		     unsigned flags, off_t start, struct stasis_error **err);
/*
 * Where the current member's data starts in the file, when the archive is an uncompressed tar read
 * from its start and the member has a header of one block (a ustar header, no pax or GNU long-name
 * header before it); else -1.
 */
off_t arc_walk_data_offset(struct arc_walk *w);
/* Starts a walk over the tar that is outer's current member, read straight from outer's stream. */
int arc_walk_open_nested(struct arc_walk *w, struct arc_walk *outer, const char *what, enum arc_rules rules,
			 unsigned flags, struct stasis_error **err);
/*
 * The next member the rules let through: 1 and *ret, 0 at the end, or a negative errno:
 * EBADMSG (a member without a name, a damaged archive), EPERM (an absolute name, "..", a type the
 * rules refuse), EEXIST (a file member twice), EFBIG (too many members).
 */
int arc_walk_next(struct arc_walk *w, struct arc_member *ret, struct stasis_error **err);
/* The current member's data in memory (NUL-terminated): more than max bytes is -EFBIG, with err. */
int arc_walk_read(struct arc_walk *w, size_t max, unsigned char **ret, size_t *ret_len,
		  struct stasis_error **err);
/* The error libarchive has for this walk, as "<what>[: member `m`]: <libarchive's words>". */
int arc_walk_fail(struct arc_walk *w, const char *member, struct stasis_error **err);
void arc_walk_close(struct arc_walk *w);
DEFINE_CLEANUP_CLEAR(struct arc_walk, arc_walk_close)

/*
 * Whether a data block of the current member, at off and len bytes long, may follow a block that
 * ended at end: 0, or EBADMSG when it goes back over what came before or past the declared size.
 * what ("archive `x`: member `y`") starts the message.
 */
int arc_walk_check_block(struct arc_walk *w, int64_t off, size_t len, uint64_t end, const char *what,
			 struct stasis_error **err);
/*
 * Copies the current member's data blocks into fd at their offsets (sparse members too), counting
 * its declared size into *total and refusing past ARC_MAX_TOTAL before a byte is read.  md (may be
 * NULL) sees the file the member makes: its data blocks and zeros for every hole between them and
 * up to the declared size, as the writer hashed it.  Blocks that go back over each other or past
 * the declared size are EBADMSG.  With a pipe (may be NULL) hashing and writing run on its threads.
 * what ("archive `x`: member `y`") starts every error message.
 */
int arc_walk_copy(struct arc_walk *w, int fd, struct digest *md, struct copy_pipe *pipe,
		  unsigned long long *total, const char *what, struct stasis_error **err);

/*
 * The index a zstd archive with streamed members ends with (sink.c): where the frames after them
 * start, and their names and sizes.  Untrusted like the rest: names pass arc_name_is_safe, offsets
 * stay inside the file; what the members hold is checked when they are read.
 */
struct arc_index_member {
	char *name;
	uint64_t size;
	/*
	 * From a `frames` line (or none): where each DIGEST_CHUNK of the member's data starts a zstd
	 * frame of its own, then where its last frame ends; n_frames is its chunks plus one.
	 */
	off_t *frames;
	size_t n_frames;
};
/*
 * What O_DIRECT wants of a read's or write's offset, length and buffer: the device's block, which
 * is at most this.  Where a file takes O_DIRECT the archive is written and read without the page
 * cache (zstd.c, chunks.c): filling the page cache from the disk or into it cost 0.85-1.2 s of
 * kernel CPU a GiB on this VM, a direct transfer 0.2 (docs/benchmarks.md, session 10).
 */
#define ARC_DIRECT_ALIGN 4096
/* whether the archive is written and streamed with O_DIRECT where it can be (tests turn it off) */
extern bool arc_direct_io;
/* a tar block: every member's data is padded with zeros to a multiple of it */
#define ARC_TAR_BLOCK 512
/* the DIGEST_CHUNK pieces a member of size bytes is hashed and framed in (one when empty) */
#define ARC_CHUNKS(size) ((size) ? ((size) + DIGEST_CHUNK - 1) / DIGEST_CHUNK : 1)
/*
 * The index a zstd archive with streamed members ends with (sink.c writes it, index.c reads it):
 * a skippable frame (RFC 8878 3.1.2, every decoder passes over it) holding its text, then the
 * text's length (u32, little-endian) and ARC_INDEX_MAGIC, so that it is found from the end.
 */
#define ZSTD_SKIPPABLE_INDEX 0x184D2A5Bu
#define ARC_INDEX_MAGIC "STIX"
#define ARC_INDEX_FOOTER 8 /* the length and the magic */
/*
 * Where the index frame starts in a file of file_size bytes whose last ARC_INDEX_FOOTER bytes are
 * foot: 0 and *ret_frame_at; -ENOENT (no index); -EBADMSG (a length no index has).
 */
int arc_index_footer(const unsigned char foot[ARC_INDEX_FOOTER], uint64_t file_size, uint64_t *ret_frame_at);
struct arc_index {
	off_t tail;
	struct arc_index_member *members;
	size_t n;
};
/* The index's text (frame_at: where its frame starts): 0 or -EBADMSG naming what is wrong. */
int arc_index_parse(const char *text, size_t len, off_t frame_at, struct arc_index *ret,
		    struct stasis_error **err);
/* The index at the end of the file fd: 0, -ENOENT (none: not a streamed zstd archive) or an error. */
int arc_index_read(int fd, const char *what, struct arc_index *ret, struct stasis_error **err);
void arc_index_clear(struct arc_index *x);
DEFINE_CLEANUP_CLEAR(struct arc_index, arc_index_clear)

/*
 * What a reader may still write into one filesystem: its free space when the reader starts, less a
 * reserve kept for everyone else on it (1%, at most 64 MiB: CRIU's logs and the runtime's state
 * still fit after an import).  Every file member is charged its declared size before a byte of it
 * is written, so a small compressed archive that expands into terabytes stops at its header.
 */
#define ARC_DISK_RESERVE_PERCENT 1
#define ARC_DISK_RESERVE_MAX (64ull << 20)

struct arc_disk_budget {
	char *where;		  /* the directory written into, for messages */
	unsigned long long avail; /* bytes free to an unprivileged writer when measured */
	unsigned long long reserve;
	unsigned long long charged; /* declared sizes of the members charged so far */
};

/* Measures the filesystem of dirfd (where names it): 0 or -errno of fstatvfs. */
int arc_disk_budget_init(struct arc_disk_budget *b, int dirfd, const char *where, struct stasis_error **err);
/* Charges size bytes of the member what names: 0, or -ENOSPC naming it, its size and the space free. */
int arc_disk_budget_charge(struct arc_disk_budget *b, uint64_t size, const char *what,
			   struct stasis_error **err);
void arc_disk_budget_clear(struct arc_disk_budget *b);

/*
 * zstd.c's output: zstd frames (or, without compress, the bytes as they are) written to fd, the
 * file given back to the disk a window behind.  -errno returns (-EIO: zstd failed).
 */
/*
 * One client of arc_remote_serve on sk, the archive (size bytes) open as archive: its token, then
 * its requests, until it says bye (1) or goes or errs (< 0).  For the fuzzer: the server's loop
 * takes one message of a client at a time.
 */
int arc_remote_serve_client(int sk, int archive, uint64_t size, const char *token);
/* how long a client of arc_remote_serve has to send its whole token (ms; tests make it short) */
extern unsigned arc_remote_auth_ms;
/* One whole zstd frame (src, len) into dst: 0 and its size, or -EBADMSG. */
int zstd_decode_frame(const void *src, size_t len, void *dst, size_t cap, size_t *ret_len);
struct zsink;
struct zsink *zsink_new(int fd, bool compress);
int zsink_put(struct zsink *z, const void *buf, size_t len);
/* Ends the current zstd frame (none begun: nothing): what follows starts a new one. */
int zsink_end_frame(struct zsink *z);
/* A frame of nothing (an empty chunk's), between frames. */
int zsink_empty_frame(struct zsink *z);
/* Bytes as they are, between frames (after zsink_end_frame): a frame made by the caller. */
int zsink_put_raw(struct zsink *z, const void *buf, size_t len);
/* Bytes at an offset already written (a placeholder's): 0 or -errno. */
int zsink_pwrite(struct zsink *z, const void *buf, size_t len, off_t at);
/* Everything given so far in the file (before its fsync): 0 or -errno. */
int zsink_flush(struct zsink *z);
/* Bytes written to fd so far: where the next one lands. */
off_t zsink_offset(const struct zsink *z);
bool zsink_compresses(const struct zsink *z);
struct zsink *zsink_free(struct zsink *z);
/* A thread's own zstd context for whole frames, as zsink's (its level, a checksum). */
struct zframer;
struct zframer *zframer_new(void);
/* the most a frame of len bytes can take */
size_t zframe_bound(size_t len);
/* src as one frame into dst (cap >= zframe_bound(len)): 0 and its size, or -EIO. */
int zframer_encode(struct zframer *f, const void *src, size_t len, void *dst, size_t cap, size_t *ret_len);
struct zframer *zframer_free(struct zframer *f);

#endif
