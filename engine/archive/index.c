/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading the index a streamed zstd archive ends with (written by sink.c): a skippable zstd frame
 * whose text names where the frames after the streamed members begin, and those members.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/digest.h"

/* far more than any index of ARC_MAX_MEMBERS page images: bigger is not ours */
#define ARC_INDEX_MAX (16u << 20)

void arc_index_clear(struct arc_index *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->members[i].name);
		free(x->members[i].frames);
	}
	free(x->members);
	*x = (struct arc_index){ 0 };
}

static int bad(struct stasis_error **err, const char *why)
{
	return error_setx(err, EBADMSG, "archive index: %s", why);
}

/*
 * `frames I OFF...` (after the member lines): the I-th member's chunk frames, rising, inside the
 * streamed part of the archive (before tail), one a chunk and then the end of the last.
 */
static int parse_frames(char *text, struct arc_index *x, struct stasis_error **err)
{
	char *save = NULL;
	char *tok = strtok_r(text, " ", &save);
	uint64_t i;
	if (!tok || parse_u64(tok, &i) < 0 || i >= x->n)
		return bad(err, "a frames line for no member");
	struct arc_index_member *m = &x->members[i];
	if (m->frames)
		return bad(err, "two frames lines for one member");
	size_t want = ARC_CHUNKS(m->size) + 1;
	m->frames = xzalloc(want * sizeof(*m->frames));
	for (size_t k = 0; k < want; k++) {
		uint64_t at;
		if (!(tok = strtok_r(NULL, " ", &save)) || parse_u64(tok, &at) < 0 ||
		    at > (uint64_t)x->tail || (k && (off_t)at <= m->frames[k - 1]))
			return error_setx(err, EBADMSG, "archive index: the frames of `%s`", m->name);
		m->frames[k] = (off_t)at;
	}
	if (strtok_r(NULL, " ", &save))
		return error_setx(err, EBADMSG, "archive index: the frames of `%s`", m->name);
	m->n_frames = want;
	return 0;
}

int arc_index_parse(const char *text, size_t len, off_t frame_at, struct arc_index *ret,
		    struct stasis_error **err)
{
	struct arc_index x = { 0 };
	cleanup_free char *copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (strlen(copy) != len)
		return bad(err, "a NUL in its text");
	char *save = NULL;
	char *line = strtok_r(copy, "\n", &save);
	if (!line || strcmp(line, "stasis-index 1") != 0)
		return bad(err, "not `stasis-index 1`");
	line = strtok_r(NULL, "\n", &save);
	uint64_t tail;
	if (!line || strncmp(line, "tail ", 5) != 0 || parse_u64(line + 5, &tail) < 0 || tail == 0 ||
	    tail >= (uint64_t)frame_at)
		return bad(err, "no tail inside the archive");
	x.tail = (off_t)tail;
	int r = 0;
	while (r == 0 && (line = strtok_r(NULL, "\n", &save))) {
		char *name = NULL;
		uint64_t size;
		if (strncmp(line, "frames ", 7) == 0) {
			r = parse_frames(line + 7, &x, err);
			continue;
		}
		/* a later stasis may say more: lines of another kind are not ours */
		if (strncmp(line, "member ", 7) != 0)
			continue;
		if (!(name = strchr(line + 7, ' '))) {
			r = bad(err, "a member line without a name");
			break;
		}
		*name++ = '\0';
		if (parse_u64(line + 7, &size) < 0 || size > ARC_MAX_TOTAL)
			r = bad(err, "a member's size");
		else if (!arc_name_is_safe(name) || strlen(name) >= ARC_NAME_MAX)
			r = error_setx(err, EPERM, "archive index: member name `%s` refused", name);
		else if (x.n >= ARC_MAX_MEMBERS)
			r = bad(err, "too many members");
		if (r == 0) {
			x.members = xgrow(x.members, x.n, sizeof(*x.members));
			x.members[x.n++] = (struct arc_index_member){ .name = xstrdup(name), .size = size };
		}
	}
	if (r < 0) {
		arc_index_clear(&x);
		return r;
	}
	*ret = x;
	return 0;
}

int arc_index_footer(const unsigned char foot[ARC_INDEX_FOOTER], uint64_t file_size, uint64_t *ret_frame_at)
{
	if (memcmp(foot + 4, ARC_INDEX_MAGIC, 4) != 0)
		return -ENOENT;
	uint32_t len;
	memcpy(&len, foot, sizeof(len));
	len = le32toh(len);
	/* the frame: its 8-byte header, the text, the footer */
	if (len > ARC_INDEX_MAX || (uint64_t)len + 8 + ARC_INDEX_FOOTER > file_size)
		return -EBADMSG;
	*ret_frame_at = file_size - 8 - ARC_INDEX_FOOTER - len;
	return 0;
}

int arc_index_read(int fd, const char *what, struct arc_index *ret, struct stasis_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return error_set(err, errno, "%s", what);
	unsigned char foot[ARC_INDEX_FOOTER];
	uint64_t at = 0;
	int r = st.st_size < 16 || pread(fd, foot, sizeof(foot), st.st_size - ARC_INDEX_FOOTER) !=
					   (ssize_t)sizeof(foot)
			? -ENOENT
			: arc_index_footer(foot, (uint64_t)st.st_size, &at);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		uint32_t said;
		memcpy(&said, foot, sizeof(said));
		return error_setx(err, EBADMSG, "%s: archive index of %" PRIu32 " bytes", what,
				  le32toh(said));
	}
	off_t frame_at = (off_t)at;
	uint32_t len = (uint32_t)(st.st_size - frame_at - 8 - ARC_INDEX_FOOTER);
	uint32_t head[2];
	if (pread(fd, head, sizeof(head), frame_at) != (ssize_t)sizeof(head) ||
	    le32toh(head[0]) != ZSTD_SKIPPABLE_INDEX || le32toh(head[1]) != len + 8)
		return error_setx(err, EBADMSG, "%s: archive index without its frame", what);
	cleanup_free char *text = xmalloc(len ? len : 1);
	if (pread(fd, text, len, frame_at + 8) != (ssize_t)len)
		return error_setx(err, EIO, "%s: read its index", what);
	r = arc_index_parse(text, len, frame_at, ret, err);
	return r < 0 ? error_wrap(err, r, "%s", what) : 0;
}
