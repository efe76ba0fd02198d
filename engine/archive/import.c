/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading checkpoint archives, which may come from anyone: nothing in them is trusted.  Members are
 * checked by name and type before a byte is written, written only relative to directory fds, and
 * verified against stasis.manifest before the restore uses any of them.
 */
#include "engine/archive/archive.h"

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
#include "common/xalloc.h"
#include "engine/names.h"
#include "engine/archive/copy-pipe.h"
#include "engine/archive/digest.h"
#include "oci/oci.h"

#define READ_BLOCK (1u << 20)

struct member {
	char *name;
	char hex[65];
};

struct reader {
	struct archive *a;
	const char *path;
	struct member *members;
	size_t n;
	unsigned long long total;
	struct copy_pipe *pipe;
	int fd;
	off_t dropped; /* the archive's page cache before this offset is given back */
	char *buf;
	char *manifest; /* stasis.manifest's text, kept while passing it */
	size_t manifest_len;
};

static void reader_clear(struct reader *r)
{
	if (r->a)
		archive_read_free(r->a);
	for (size_t i = 0; i < r->n; i++)
		free(r->members[i].name);
	free(r->members);
	copy_pipe_free(r->pipe);
	free(r->manifest);
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
}

/*
 * The archive is read once: its page cache goes back behind us, so that a 1 GiB restore does not
 * hold the archive, the images and the restored memory at the same time.
 */
#define DROP_BEHIND (64 << 20)

static la_ssize_t reader_read(struct archive *a, void *data, const void **ret)
{
	struct reader *r = data;
	ssize_t n;
	do
		n = read(r->fd, r->buf, READ_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read");
		return -1;
	}
	off_t pos = lseek(r->fd, 0, SEEK_CUR);
	if (pos >= 0 && pos - r->dropped >= DROP_BEHIND) {
		(void)posix_fadvise(r->fd, r->dropped, pos - r->dropped, POSIX_FADV_DONTNEED);
		r->dropped = pos;
	}
	*ret = r->buf;
	return n;
}

static la_int64_t reader_skip(struct archive *a, void *data, la_int64_t request)
{
	struct reader *r = data;
	(void)a;
	/* non-seekable input (a pipe): libarchive reads through instead */
	if (lseek(r->fd, request, SEEK_CUR) < 0)
		return 0;
	return request;
}

static int ar_err(struct reader *r, struct stasis_error **err, const char *what)
{
	int e = archive_errno(r->a);
	const char *s = archive_error_string(r->a);
	return error_setx(err, e > 0 ? e : EIO, "archive `%s`: %s: %s", r->path, what, s ? s : "error");
}

bool archive_name_is_safe(const char *name)
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

int archive_copy_entry(struct archive *a, int fd, struct digest *md, struct copy_pipe *pipe,
		       unsigned long long *total, const char *what, struct stasis_error **err)
{
	if (pipe)
		copy_pipe_begin(pipe, fd, md);
	int ret = 0;
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
		*total += len;
		if (*total > ARCHIVE_READ_MAX_TOTAL) {
			ret = error_setx(err, EFBIG, "%s: more than %llu bytes in all", what,
					 ARCHIVE_READ_MAX_TOTAL);
			break;
		}
		/* sparse entries come as blocks at offsets: write them where they belong */
		int w;
		if (pipe) {
			w = copy_pipe_push(pipe, buf, len, (off_t)off);
		} else {
			if (md)
				digest_update(md, buf, len);
			w = fd >= 0 ? pwrite_all(fd, buf, len, (off_t)off) : 0;
		}
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

enum member_kind { MEMBER_REFUSED, MEMBER_CKPT_DIR, MEMBER_FILE, MEMBER_SKIPPED };

/*
 * "checkpoint/" is the image directory, "x" and "checkpoint/x" are files we extract; other
 * directories (podman's artifacts/) are skipped unread.  Absolute names and ".." never pass.
 */
static enum member_kind classify(const char *name)
{
	if (!archive_name_is_safe(name) || strlen(name) >= 4096)
		return MEMBER_REFUSED;
	if (strcmp(name, ARCHIVE_CHECKPOINT_DIR "/") == 0 || strcmp(name, ARCHIVE_CHECKPOINT_DIR) == 0)
		return MEMBER_CKPT_DIR;
	const char *base = name;
	if (strncmp(name, ARCHIVE_CHECKPOINT_DIR "/", strlen(ARCHIVE_CHECKPOINT_DIR) + 1) == 0)
		base = name + strlen(ARCHIVE_CHECKPOINT_DIR) + 1;
	if (!strchr(base, '/') && strcmp(base, ".") != 0 && strlen(base) < 256)
		return MEMBER_FILE;
	return MEMBER_SKIPPED;
}

/* the manifest is read from the stream itself, never back from disk */
int archive_entry_read_all(struct archive *a, size_t max, unsigned char **ret, size_t *ret_len)
{
	size_t cap = max < 4096 ? max + 1 : 4096, len = 0;
	cleanup_free unsigned char *buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > max)
				return -EFBIG;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		la_ssize_t n = archive_read_data(a, buf + len, cap - len);
		if (n < 0)
			return -EIO;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0'; /* JSON members are parsed as text */
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* the manifest is read from the stream itself, never back from disk */
static int capture_manifest(struct reader *r, struct stasis_error **err)
{
	unsigned char *buf;
	int ret = archive_entry_read_all(r->a, OCI_MAX_JSON, &buf, &r->manifest_len);
	if (ret == -EFBIG)
		return error_setx(err, EFBIG, "archive `%s`: %s is larger than %d bytes", r->path,
				  ARCHIVE_MANIFEST, OCI_MAX_JSON);
	if (ret < 0)
		return ar_err(r, err, ARCHIVE_MANIFEST);
	r->manifest = (char *)buf;
	return 0;
}

/* dirfd < 0: verify only, nothing is written */
static int extract_file(struct reader *r, int dirfd, const char *name, la_int64_t size, struct member *m,
			struct stasis_error **err)
{
	if (strcmp(name, ARCHIVE_MANIFEST) == 0) {
		int ret = capture_manifest(r, err);
		if (ret < 0 || dirfd < 0)
			return ret;
		cleanup_close int fd =
			openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || pwrite_all(fd, r->manifest, r->manifest_len, 0) < 0)
			return error_set(err, errno, "archive `%s`: member `%s`", r->path, name);
		return 0;
	}
	cleanup_close int fd = -1;
	if (dirfd >= 0) {
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return error_set(err, errno, "archive `%s`: member `%s`", r->path, name);
	}
	struct digest *md = digest_new();
	cleanup_free char *what = xasprintf("archive `%s`: member `%s`", r->path, name);
	int ret = archive_copy_entry(r->a, fd, md, fd >= 0 ? r->pipe : NULL, &r->total, what, err);
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
	for (;;) {
		struct archive_entry *e;
		int rc = archive_read_next_header(r->a, &e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			return ar_err(r, err, "read");
		const char *name = archive_entry_pathname(e);
		if (!name)
			return error_setx(err, EINVAL, "archive `%s`: a member without a name", r->path);
		while (strncmp(name, "./", 2) == 0)
			name += 2;
		/* `tar -C dir -c .` starts with the directory itself */
		if ((!*name || strcmp(name, ".") == 0) && archive_entry_filetype(e) == AE_IFDIR)
			continue;
		if (r->n >= ARCHIVE_READ_MAX_MEMBERS)
			return error_setx(err, EFBIG, "archive `%s`: more than %d members", r->path,
					  ARCHIVE_READ_MAX_MEMBERS);
		enum member_kind kind = classify(name);
		if (kind == MEMBER_REFUSED)
			return error_setx(
				err, EPERM,
				"archive `%s`: member `%s`: an absolute path or one with \"..\": refused",
				r->path, name);
		if (kind == MEMBER_SKIPPED)
			continue;
		mode_t type = archive_entry_filetype(e);
		if (kind == MEMBER_CKPT_DIR) {
			if (type != AE_IFDIR)
				return error_setx(err, EPERM, "archive `%s`: member `%s` is not a directory",
						  r->path, name);
			if (!have_ckpt_dir && dirfd >= 0 && mkdirat(dirfd, ARCHIVE_CHECKPOINT_DIR, 0700) < 0)
				return error_set(err, errno, "archive `%s`: create checkpoint/", r->path);
			have_ckpt_dir = true;
			continue;
		}
		if (type != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e))
			return error_setx(err, EPERM,
					  "archive `%s`: member `%s` is not a regular file (links, devices "
					  "and directories are refused)",
					  r->path, name);
		if (strchr(name, '/') && !have_ckpt_dir) {
			/* tar writers that skip directory entries: create it, same rules */
			if (dirfd >= 0 && mkdirat(dirfd, ARCHIVE_CHECKPOINT_DIR, 0700) < 0)
				return error_set(err, errno, "archive `%s`: create checkpoint/", r->path);
			have_ckpt_dir = true;
		}
		for (size_t i = 0; i < r->n; i++)
			if (strcmp(r->members[i].name, name) == 0)
				return error_setx(err, EEXIST, "archive `%s`: member `%s` appears twice",
						  r->path, name);
		r->members = xreallocarray(r->members, r->n + 1, sizeof(*r->members));
		struct member *m = &r->members[r->n++];
		*m = (struct member){ .name = xstrdup(name) };
		int ret = extract_file(r, dirfd, name, archive_entry_size(e), m, err);
		if (ret < 0)
			return ret;
	}
}

static int verify_manifest(struct reader *r, struct archive_import *out, struct stasis_error **err)
{
	const char *text = r->manifest;
	size_t len = r->manifest_len;
	struct oci_manifest *m = NULL;
	int ret = oci_manifest_parse(text, len, &m, err);
	if (ret < 0)
		return error_wrap(err, ret, "archive `%s`", r->path);
	for (size_t i = 0; i < r->n && ret == 0; i++) {
		if (strcmp(r->members[i].name, ARCHIVE_MANIFEST) == 0)
			continue;
		const char *want = oci_manifest_digest(m, r->members[i].name);
		if (!want)
			ret = error_setx(err, EBADMSG,
					 "archive `%s`: member `%s` is not in the manifest: refused (added "
					 "after the checkpoint?)",
					 r->path, r->members[i].name);
		else if (strcmp(want, r->members[i].hex) != 0)
			ret = error_setx(
				err, EBADMSG,
				"archive `%s`: member `%s` does not match its sha256 in the manifest: "
				"the archive was altered or damaged; refused",
				r->path, r->members[i].name);
	}
	for (size_t i = 0; i < m->n_members && ret == 0; i++) {
		bool found = false;
		for (size_t j = 0; j < r->n && !found; j++)
			found = strcmp(r->members[j].name, m->members[i].key) == 0;
		if (!found)
			ret = error_setx(err, EBADMSG, "archive `%s`: member `%s` of the manifest is missing",
					 r->path, m->members[i].key);
	}
	if (ret == 0 && m->format > ARCHIVE_MANIFEST_FORMAT)
		ret = error_setx(err, ENOTSUP,
				 "archive `%s`: manifest format %d is newer than this stasis (%d)", r->path,
				 m->format, ARCHIVE_MANIFEST_FORMAT);
	if (ret == 0) {
		out->has_manifest = true;
		out->criu_version = m->criu_version ? xstrdup(m->criu_version) : NULL;
	}
	oci_manifest_free(m);
	return ret;
}

/* podman and CRI-O write no manifest: at least their layout must be there */
static int check_structure(struct reader *r, struct stasis_error **err)
{
	static const char *const required[] = {
		ARCHIVE_CHECKPOINT_DIR "/inventory.img",
		ARCHIVE_SPEC_DUMP,
		ARCHIVE_CONFIG_DUMP,
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		bool found = false;
		for (size_t j = 0; j < r->n && !found; j++)
			found = strcmp(r->members[j].name, required[i]) == 0;
		if (!found)
			return error_setx(err, EBADMSG,
					  "archive `%s`: no member `%s`: not a checkpoint archive", r->path,
					  required[i]);
	}
	return 0;
}

/* one pass: members checked, hashed and (dirfd >= 0) written; then the manifest or the structure */
static int read_all(struct reader *r, int dirfd, struct archive_import *out, struct stasis_error **err)
{
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return error_set(err, errno, "archive `%s`", r->path);
	(void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->buf = xmalloc(READ_BLOCK);
	r->a = archive_read_new();
	archive_read_support_filter_all(r->a);
	archive_read_support_format_tar(r->a);
	archive_read_set_callback_data(r->a, r);
	archive_read_set_read_callback(r->a, reader_read);
	archive_read_set_skip_callback(r->a, reader_skip);
	if (archive_read_open1(r->a) != ARCHIVE_OK)
		return ar_err(r, err, "open");
	int rc = extract_all(r, dirfd, err);
	if (rc == 0)
		rc = r->manifest ? verify_manifest(r, out, err) : check_structure(r, err);
	return rc;
}

int archive_import(const char *archive_path, const char *dir, struct archive_import *ret,
		   struct stasis_error **err)
{
	struct reader r = { .path = archive_path, .fd = -1 };
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return error_set(err, errno, "open `%s`", dir);
	r.pipe = copy_pipe_new();
	struct archive_import out = { 0 };
	int rc = read_all(&r, dirfd, &out, err);
	if (rc == 0)
		*ret = out;
	if (rc < 0 && r.fd >= 0) {
		/* nothing of a refused archive stays behind */
		cleanup_free char *ck = xasprintf("%s/%s", dir, ARCHIVE_CHECKPOINT_DIR);
		rm_rf(ck);
		for (size_t i = 0; i < r.n; i++)
			unlinkat(dirfd, r.members[i].name, 0);
	}
	reader_clear(&r);
	return rc;
}

int archive_verify(const char *archive_path, struct archive_import *ret, size_t *ret_members,
		   unsigned long long *ret_bytes, struct stasis_error **err)
{
	struct reader r = { .path = archive_path, .fd = -1 };
	struct archive_import out = { 0 };
	int rc = read_all(&r, -1, &out, err);
	if (rc == 0) {
		*ret = out;
		*ret_members = r.n;
		*ret_bytes = r.total;
	}
	reader_clear(&r);
	return rc;
}

void archive_import_clear(struct archive_import *a)
{
	free(a->criu_version);
	*a = (struct archive_import){ 0 };
}
