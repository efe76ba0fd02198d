/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one walk over an archive's members that import, verify, scan and apply share: an archive may
 * come from anyone, so every name and type is checked here, once, by the same rules, before any
 * reader sees the member.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/copy-pipe.h"
#include "engine/archive/digest.h"
#include "engine/names.h"

/*
 * A walk that reads an archive once gives the page cache back behind it, so that a 1 GiB restore
 * does not hold the archive, the images and the restored memory at the same time.
 */
#define ARC_DROP_BEHIND (64 << 20)

static la_ssize_t fd_read(struct archive *a, void *data, const void **ret)
{
	struct arc_walk *w = data;
	ssize_t n;
	do
		n = read(w->fd, w->buf, ARC_READ_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read");
		return -1;
	}
	if (w->flags & ARC_WALK_DROP_BEHIND) {
		off_t pos = lseek(w->fd, 0, SEEK_CUR);
		if (pos >= 0 && pos - w->dropped >= ARC_DROP_BEHIND) {
			(void)posix_fadvise(w->fd, w->dropped, pos - w->dropped, POSIX_FADV_DONTNEED);
			w->dropped = pos;
		}
	}
	*ret = w->buf;
	return n;
}

static la_int64_t fd_skip(struct archive *a, void *data, la_int64_t request)
{
	struct arc_walk *w = data;
	(void)a;
	/* non-seekable input (a pipe): libarchive reads through instead */
	if (lseek(w->fd, request, SEEK_CUR) < 0)
		return 0;
	return request;
}

/* the nested tar's blocks are the outer member's blocks */
static la_ssize_t nested_read(struct archive *inner, void *data, const void **ret)
{
	struct arc_walk *w = data;
	size_t size;
	la_int64_t off;
	int rc = archive_read_data_block(w->outer, ret, &size, &off);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc != ARCHIVE_OK) {
		archive_set_error(inner, archive_errno(w->outer), "%s", archive_error_string(w->outer));
		return -1;
	}
	return (la_ssize_t)size;
}

int arc_walk_fail(struct arc_walk *w, const char *member, struct stasis_error **err)
{
	int e = archive_errno(w->a);
	const char *s = archive_error_string(w->a);
	if (member)
		return error_setx(err, e > 0 ? e : EIO, "%s: member `%s`: %s", w->what, member,
				  s ? s : "read error");
	return error_setx(err, e > 0 ? e : EIO, "%s: %s", w->what, s ? s : "read error");
}

static void walk_init(struct arc_walk *w, const char *what, enum arc_rules rules, unsigned flags)
{
	*w = (struct arc_walk){ .what = xstrdup(what), .rules = rules, .flags = flags, .fd = -1 };
	w->a = archive_read_new();
	archive_read_support_filter_all(w->a);
	archive_read_support_format_tar(w->a);
	if (rules == ARC_RULES_CHECKPOINT)
		w->files = strmap_new();
}

int arc_walk_open(struct arc_walk *w, const char *path, const char *what, enum arc_rules rules,
		  unsigned flags, struct stasis_error **err)
{
	return arc_walk_open_at(w, path, what, rules, flags, 0, err);
}

int arc_walk_open_at(struct arc_walk *w, const char *path, const char *what, enum arc_rules rules,
		     unsigned flags, off_t start, struct stasis_error **err)
{
	cleanup_free char *label = what ? xstrdup(what) : xasprintf("archive `%s`", path);
	walk_init(w, label, rules, flags);
	/* an archive is a file: a FIFO would block here forever, a directory is not one */
	w->fd = open_regular(path, 0, w->what, err);
	if (w->fd < 0) {
		int r = w->fd;
		arc_walk_close(w);
		return r;
	}
	(void)posix_fadvise(w->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (start && lseek(w->fd, start, SEEK_SET) < 0) {
		int r = error_set(err, errno, "%s: seek to %lld", w->what, (long long)start);
		arc_walk_close(w);
		return r;
	}
	w->dropped = start;
	w->buf = xmalloc(ARC_READ_BLOCK);
	archive_read_set_callback_data(w->a, w);
	archive_read_set_read_callback(w->a, fd_read);
	archive_read_set_skip_callback(w->a, fd_skip);
	if (archive_read_open1(w->a) != ARCHIVE_OK) {
		int r = arc_walk_fail(w, NULL, err);
		arc_walk_close(w);
		return r;
	}
	return 0;
}

int arc_walk_open_nested(struct arc_walk *w, struct arc_walk *outer, const char *what, enum arc_rules rules,
			 unsigned flags, struct stasis_error **err)
{
	walk_init(w, what, rules, flags);
	w->outer = outer->a;
	if (archive_read_open(w->a, w, NULL, nested_read, NULL) != ARCHIVE_OK) {
		int r = arc_walk_fail(w, NULL, err);
		arc_walk_close(w);
		return r;
	}
	return 0;
}

/* a tar header block */
#define TAR_HEADER_BLOCK 512

off_t arc_walk_data_offset(struct arc_walk *w)
{
	if (w->outer || archive_filter_count(w->a) != 1 ||
	    archive_filter_code(w->a, 0) != ARCHIVE_FILTER_NONE)
		return -1;
	la_int64_t header_at = archive_read_header_position(w->a);
	if (header_at < 0)
		return -1;
	/* the block there must be the member's own header: a ustar one, its checksum right */
	unsigned char h[TAR_HEADER_BLOCK];
	if (pread(w->fd, h, sizeof(h), (off_t)header_at) != (ssize_t)sizeof(h) ||
	    memcmp(h + 257, "ustar", 5) != 0 || (h[156] != '0' && h[156] != '\0'))
		return -1;
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof(h); i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	char field[9] = { 0 };
	memcpy(field, h + 148, 8);
	return strtoul(field, NULL, 8) == sum ? (off_t)header_at + TAR_HEADER_BLOCK : -1;
}

void arc_walk_close(struct arc_walk *w)
{
	if (w->a)
		archive_read_free(w->a);
	strmap_free(w->files);
	free(w->what);
	free(w->name);
	free(w->link);
	free(w->buf);
	if (w->fd >= 0)
		close(w->fd);
	*w = (struct arc_walk){ .fd = -1 };
}

bool arc_name_is_safe(const char *name)
{
	if (!name[0] || name[0] == '/')
		return false;
	for (const char *p = name; p;) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p = slash ? slash + 1 : NULL;
	}
	return true;
}

/* "./a/b/" -> "a/b": the form every reader compares and creates */
static char *clean_name(const char *raw)
{
	while (strncmp(raw, "./", 2) == 0)
		raw += 2;
	size_t l = strlen(raw);
	while (l > 1 && raw[l - 1] == '/')
		l--;
	return xstrndup(raw, l);
}

static int refuse(struct arc_walk *w, const char *name, const char *why, struct stasis_error **err)
{
	return error_setx(err, EPERM, "%s: member `%s`: %s: refused", w->what, name, why);
}

static enum arc_member_type type_of(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return ARC_MEMBER_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return ARC_MEMBER_FILE;
	case AE_IFDIR:
		return ARC_MEMBER_DIR;
	case AE_IFLNK:
		return ARC_MEMBER_SYMLINK;
	default:
		return ARC_MEMBER_SPECIAL;
	}
}

/* CHECKPOINT: 1 to pass the member on, 0 to skip it, or an error */
static int checkpoint_rule(struct arc_walk *w, struct arc_member *m, struct stasis_error **err)
{
	if (m->type != ARC_MEMBER_FILE && m->type != ARC_MEMBER_DIR)
		return refuse(w, m->name,
			      "not a regular file or a directory (links and devices are never extracted)",
			      err);
	if (strcmp(m->name, ARCHIVE_CHECKPOINT_DIR) == 0) {
		if (m->type != ARC_MEMBER_DIR)
			return refuse(w, m->name, "not a directory", err);
		return 1;
	}
	const char *base = m->name;
	if (strncmp(base, ARCHIVE_CHECKPOINT_DIR "/", strlen(ARCHIVE_CHECKPOINT_DIR) + 1) == 0)
		base += strlen(ARCHIVE_CHECKPOINT_DIR) + 1;
	/* other directories (podman's artifacts/) and what is in them are not ours to read */
	if (m->type == ARC_MEMBER_DIR || strchr(base, '/') || strlen(base) >= ARC_BASENAME_MAX)
		return 0;
	if (strmap_put(w->files, m->name, strmap_size(w->files)) < 0)
		return error_setx(err, EEXIST, "%s: member `%s` appears twice", w->what, m->name);
	return 1;
}

/* TREE: 1 to pass the member on, or an error */
static int tree_rule(struct arc_walk *w, struct arc_member *m, struct stasis_error **err)
{
	if (m->type == ARC_MEMBER_SPECIAL && !(w->flags & ARC_WALK_SPECIAL_OK))
		return refuse(w, m->name, "not a file, directory or link (devices are never restored)", err);
	if (m->type == ARC_MEMBER_HARDLINK) {
		free(w->link);
		w->link = clean_name(archive_entry_hardlink(m->entry));
		if (!arc_name_is_safe(w->link))
			return refuse(w, m->name, "hardlink target absolute or with \"..\"", err);
		m->link_target = w->link;
	} else if (m->type == ARC_MEMBER_SYMLINK) {
		/* a symlink may point anywhere: it is created, never followed, by our writers */
		m->link_target = archive_entry_symlink(m->entry);
		if (!m->link_target)
			return error_setx(err, EBADMSG, "%s: member `%s`: a symlink without a target",
					  w->what, m->name);
	}
	return 1;
}

int arc_walk_next(struct arc_walk *w, struct arc_member *ret, struct stasis_error **err)
{
	size_t max = w->rules == ARC_RULES_CHECKPOINT ? ARC_MAX_MEMBERS : ARC_TREE_MAX_ENTRIES;
	for (;;) {
		struct archive_entry *e;
		int rc = archive_read_next_header(w->a, &e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			return arc_walk_fail(w, NULL, err);
		const char *raw = archive_entry_pathname(e);
		if (!raw || !*raw)
			return error_setx(err, EBADMSG, "%s: a member without a name: damaged", w->what);
		free(w->name);
		w->name = clean_name(raw);
		struct arc_member m = {
			.name = w->name,
			.type = type_of(e),
			.size = archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0,
			.entry = e,
		};
		w->size = m.size;
		/* `tar -C dir -c .` starts with the directory itself */
		if ((!*m.name || strcmp(m.name, ".") == 0) && m.type == ARC_MEMBER_DIR)
			continue;
		if (!arc_name_is_safe(m.name) || strlen(m.name) >= ARC_NAME_MAX)
			return refuse(w, raw, "an absolute path or one with \"..\"", err);
		if (++w->n > max)
			return error_setx(err, EFBIG, "%s: more than %zu members", w->what, max);
		rc = w->rules == ARC_RULES_CHECKPOINT ? checkpoint_rule(w, &m, err) : tree_rule(w, &m, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		*ret = m;
		return 1;
	}
}

int arc_walk_read(struct arc_walk *w, size_t max, unsigned char **ret, size_t *ret_len,
		  struct stasis_error **err)
{
	size_t cap = max < 4096 ? max + 1 : 4096, len = 0;
	cleanup_free unsigned char *buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > max)
				return error_setx(err, EFBIG, "%s: member `%s`: more than %zu bytes", w->what,
						  w->name, max);
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		la_ssize_t n = archive_read_data(w->a, buf + len, cap - len);
		if (n < 0)
			return arc_walk_fail(w, w->name, err);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0'; /* JSON members are parsed as text */
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int arc_walk_check_block(struct arc_walk *w, int64_t off, size_t len, uint64_t end, const char *what,
			 struct stasis_error **err)
{
	/*
	 * Sparse members come as blocks at offsets, in the order of a map anyone can write: a block
	 * over another would make the bytes hashed differ from the bytes written, and one past the
	 * declared size would write what no check counted.
	 */
	if (off < 0 || (uint64_t)off < end)
		return error_setx(
			err, EBADMSG,
			"%s: a sparse block at %lld starts before the end of the one ahead of it (%llu): "
			"refused",
			what, (long long)off, (unsigned long long)end);
	if ((uint64_t)off > w->size || len > w->size - (uint64_t)off)
		return error_setx(err, EBADMSG,
				  "%s: data at %lld (%zu bytes) past its size of %llu bytes: refused", what,
				  (long long)off, len, (unsigned long long)w->size);
	return 0;
}

/* a hole of len bytes: hashed as the zeros it reads as; left unwritten (the file is sparse there too) */
static int copy_hole(struct digest *md, struct copy_pipe *pipe, uint64_t len)
{
	if (!md || !len)
		return 0;
	if (pipe)
		return copy_pipe_push_hole(pipe, len);
	digest_update_zeros(md, len);
	return 0;
}

int arc_walk_copy(struct arc_walk *wk, int fd, struct digest *md, struct copy_pipe *pipe,
		  unsigned long long *total, const char *what, struct stasis_error **err)
{
	struct archive *a = wk->a;
	uint64_t size = wk->size;
	/* the member counts whole, holes too (they are hashed), before a byte of it is read */
	if (size > ARC_MAX_TOTAL - *total)
		return error_setx(err, EFBIG, "%s: %llu bytes: more than %llu bytes in all", what,
				  (unsigned long long)size, ARC_MAX_TOTAL);
	*total += size;
	if (pipe)
		copy_pipe_begin(pipe, fd, md);
	int ret = 0;
	uint64_t end = 0; /* the end of the last block: what the file holds so far */
	while (ret == 0) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int rc = archive_read_data_block(a, &buf, &len, &off);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc != ARCHIVE_OK) {
			int e = archive_errno(a);
			const char *s = archive_error_string(a);
			ret = error_setx(err, e > 0 ? e : EIO, "%s: %s", what, s ? s : "error");
			break;
		}
		if ((ret = arc_walk_check_block(wk, off, len, end, what, err)) < 0)
			break;
		int w = copy_hole(md, pipe, (uint64_t)off - end);
		end = (uint64_t)off + len;
		if (w == 0 && pipe) {
			w = copy_pipe_push(pipe, buf, len, (off_t)off);
		} else if (w == 0) {
			if (md)
				digest_update(md, buf, len);
			w = fd >= 0 ? pwrite_all(fd, buf, len, (off_t)off) : 0;
		}
		if (w < 0)
			ret = error_set(err, -w, "%s: write", what);
		if (wk->progress.fn)
			wk->progress.fn((uint64_t)archive_filter_bytes(a, -1), wk->progress_total,
					wk->progress.data);
	}
	/* a hole at the tail comes as no block at all: the caller sets the file's size */
	if (ret == 0) {
		int w = copy_hole(md, pipe, size - end);
		if (w < 0)
			ret = error_set(err, -w, "%s: write", what);
	}
	if (pipe) {
		int w = copy_pipe_end(pipe);
		if (w < 0 && ret == 0)
			ret = error_set(err, -w, "%s: write", what);
	}
	return ret;
}

int arc_disk_budget_init(struct arc_disk_budget *b, int dirfd, const char *where, struct stasis_error **err)
{
	struct statvfs sv;
	if (fstatvfs(dirfd, &sv) < 0)
		return error_set(err, errno, "statvfs `%s`", where);
	unsigned long long size = (unsigned long long)sv.f_blocks * sv.f_frsize;
	unsigned long long reserve = size / 100 * ARC_DISK_RESERVE_PERCENT;
	*b = (struct arc_disk_budget){
		.where = xstrdup(where),
		/* f_bavail: root may dip into ext4's reserved blocks, but the host needs them more */
		.avail = (unsigned long long)sv.f_bavail * sv.f_frsize,
		.reserve = reserve < ARC_DISK_RESERVE_MAX ? reserve : ARC_DISK_RESERVE_MAX,
	};
	return 0;
}

int arc_disk_budget_charge(struct arc_disk_budget *b, uint64_t size, const char *what,
			   struct stasis_error **err)
{
	unsigned long long usable = b->avail > b->reserve ? b->avail - b->reserve : 0;
	unsigned long long left = usable > b->charged ? usable - b->charged : 0;
	if (size > left)
		return error_setx(err, ENOSPC,
				  "%s: %llu bytes do not fit in `%s`: %llu bytes free, %llu of them kept in "
				  "reserve and %llu taken by the members before it: refused",
				  what, (unsigned long long)size, b->where, b->avail, b->reserve, b->charged);
	b->charged += size;
	return 0;
}

void arc_disk_budget_clear(struct arc_disk_budget *b)
{
	free(b->where);
	*b = (struct arc_disk_budget){ 0 };
}
