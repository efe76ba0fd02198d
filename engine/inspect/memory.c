/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis inspect --memory: one process' memory as the checkpoint holds it, searched as a stream
 * (a literal byte string anywhere, or a regex inside runs of non-NUL bytes) and/or written out.
 * Pages never sit in memory as a whole: a window slides over each contiguous address range.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/inspect/inspect-internal.h"

#define DEFAULT_CONTEXT 32
#define MAX_CONTEXT 4096
#define DEFAULT_MAX_MATCHES 1000
/* a regex match is looked for inside runs of non-NUL bytes at most this long */
#define MAX_TEXT_RUN 65536
#define WINDOW (4u << 20)

struct region {
	uint64_t vaddr, len, file_off;
};

struct searcher {
	const struct stasis_memory_opts *o;
	const char *needle;
	size_t needle_len;
	regex_t re;
	bool have_re;
	size_t ctx;
	size_t max_matches;
	/* the window: [base, base + len) of one contiguous address range */
	unsigned char *buf;
	size_t len, cap;
	uint64_t base;
	size_t scan_from; /* no match starts before this offset in buf */
	bool open;
	struct stasis_memory_match *matches;
	size_t n_matches;
	bool truncated;
	/* pages file offset -> address */
	const struct region *regions;
	size_t n_regions;
	size_t cur;
	int dump_fd;
	const char *dump_path;
};

static void add_match(struct searcher *s, size_t start, size_t mlen)
{
	if (s->n_matches >= s->max_matches) {
		s->truncated = true;
		return;
	}
	size_t from = start > s->ctx ? start - s->ctx : 0;
	size_t to = start + mlen + s->ctx < s->len ? start + mlen + s->ctx : s->len;
	char *text = xmalloc(to - from + 1);
	for (size_t i = from; i < to; i++) {
		unsigned char c = s->buf[i];
		text[i - from] = c >= 0x20 && c < 0x7f ? (char)c : '.';
	}
	text[to - from] = '\0';
	s->matches = xgrow(s->matches, s->n_matches, sizeof(*s->matches));
	s->matches[s->n_matches++] = (struct stasis_memory_match){
		.addr = s->base + start, .text = text, .before = start - from, .len = mlen
	};
}

/* literal matches that start in [scan_from, limit) */
static size_t scan_literal(struct searcher *s, size_t limit)
{
	size_t p = s->scan_from;
	while (p < limit && !s->truncated) {
		const unsigned char *hit = memmem(s->buf + p, s->len - p, s->needle, s->needle_len);
		if (!hit || (size_t)(hit - s->buf) >= limit)
			break;
		add_match(s, (size_t)(hit - s->buf), s->needle_len);
		p = (size_t)(hit - s->buf) + 1;
	}
	return limit;
}

/* regex matches inside the non-NUL runs that end before the window does (or all, at the end) */
static size_t scan_regex(struct searcher *s, bool final)
{
	size_t p = s->scan_from;
	while (p < s->len && !s->truncated) {
		if (s->buf[p] == '\0') {
			p++;
			continue;
		}
		const unsigned char *nul = memchr(s->buf + p, '\0', s->len - p);
		size_t end = nul ? (size_t)(nul - s->buf) : s->len;
		if (end - p > MAX_TEXT_RUN)
			end = p + MAX_TEXT_RUN;
		else if (!nul && !final)
			break; /* the run may go on in the next chunk */
		cleanup_free char *text = xstrndup((const char *)s->buf + p, end - p);
		size_t off = 0;
		regmatch_t m;
		while (off <= end - p && !s->truncated &&
		       regexec(&s->re, text + off, 1, &m, off ? REG_NOTBOL : 0) == 0) {
			size_t mlen = (size_t)(m.rm_eo - m.rm_so);
			add_match(s, p + off + (size_t)m.rm_so, mlen);
			off += (size_t)m.rm_eo + (mlen == 0);
		}
		p = end;
	}
	return p;
}

static void scan(struct searcher *s, bool final)
{
	if (s->len == 0 || (!s->needle && !s->have_re))
		return;
	size_t next;
	if (s->have_re) {
		next = scan_regex(s, final);
	} else {
		size_t keep = s->needle_len + s->ctx;
		size_t limit = final ? s->len : (s->len > keep ? s->len - keep : 0);
		next = limit > s->scan_from ? scan_literal(s, limit) : s->scan_from;
	}
	s->scan_from = next;
	/* keep what the next scan needs: context before scan_from and everything after */
	size_t drop = s->scan_from > s->ctx ? s->scan_from - s->ctx : 0;
	if (drop) {
		memmove(s->buf, s->buf + drop, s->len - drop);
		s->len -= drop;
		s->base += drop;
		s->scan_from -= drop;
	}
}

static void feed(struct searcher *s, uint64_t vaddr, const unsigned char *data, size_t n)
{
	if (!s->needle && !s->have_re)
		return;
	if (s->open && vaddr != s->base + s->len) {
		scan(s, true);
		s->len = 0;
		s->open = false;
	}
	if (!s->open) {
		s->base = vaddr;
		s->scan_from = 0;
		s->open = true;
	}
	while (n) {
		size_t room = WINDOW - s->len;
		size_t take = n < room ? n : room;
		if (s->len + take > s->cap) {
			s->cap = WINDOW;
			s->buf = xrealloc(s->buf, s->cap);
		}
		memcpy(s->buf + s->len, data, take);
		s->len += take;
		data += take;
		n -= take;
		if (s->len == WINDOW) {
			scan(s, false);
			if (s->len == WINDOW) { /* a text run filled the window: cut it */
				scan(s, true);
				s->base += s->len;
				s->len = 0;
				s->scan_from = 0;
			}
		}
	}
}

static int on_chunk(void *data, size_t which, uint64_t off, const unsigned char *buf, size_t len,
		    struct stasis_error **err)
{
	(void)which;
	struct searcher *s = data;
	if (s->dump_fd >= 0 && pwrite_all(s->dump_fd, buf, len, (off_t)off) < 0)
		return error_set(err, errno, "write `%s`", s->dump_path);
	while (len) {
		while (s->cur < s->n_regions && s->regions[s->cur].file_off + s->regions[s->cur].len <= off)
			s->cur++;
		if (s->cur == s->n_regions)
			break; /* bytes past the pagemap: not this process' */
		const struct region *r = &s->regions[s->cur];
		if (off < r->file_off) { /* cannot happen with a consistent pagemap; skip the gap */
			size_t skip = r->file_off - off < len ? (size_t)(r->file_off - off) : len;
			off += skip, buf += skip, len -= skip;
			continue;
		}
		size_t n = r->file_off + r->len - off < len ? (size_t)(r->file_off + r->len - off) : len;
		feed(s, r->vaddr + (off - r->file_off), buf, n);
		off += n, buf += n, len -= n;
	}
	return s->truncated && s->dump_fd < 0 ? 1 : 0;
}

static int find_pid(struct image_set *set, unsigned pid, struct stasis_error **err)
{
	struct img_task *t = NULL;
	size_t n = 0;
	int r = inspect_load_pstree(set, &t, &n, err);
	if (r < 0)
		return r;
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = t[i].pid == pid;
	img_tasks_free(t, n);
	if (!found)
		return error_setx(err, ESRCH,
				  "`%s`: no pid %u in the checkpoint (its process tree lists those it has)",
				  set->path, pid);
	return 0;
}

static int run(struct image_set *set, const struct stasis_memory_opts *o, struct stasis_memory_result *res,
	       struct searcher *s, struct stasis_error **err)
{
	int r = find_pid(set, o->pid, err);
	if (r < 0)
		return r;
	struct img_pagemap pm = { 0 };
	r = inspect_load_pagemap(set, o->pid, &pm, err);
	if (r < 0)
		return r;
	cleanup_free struct region *regions = xreallocarray(NULL, pm.n ? pm.n : 1, sizeof(*regions));
	size_t n = 0;
	uint64_t off = 0;
	for (size_t i = 0; i < pm.n; i++) {
		if (!(pm.runs[i].flags & IMG_PE_PRESENT))
			continue;
		uint64_t len = pm.runs[i].nr_pages * IMAGE_PAGE_SIZE;
		regions[n++] = (struct region){ .vaddr = pm.runs[i].vaddr, .len = len, .file_off = off };
		off += len;
	}
	res->dumped_bytes = off;
	cleanup_free char *pages = pages_image_name(&pm);
	img_pagemap_clear(&pm);
	s->regions = regions;
	s->n_regions = n;
	if (o->dump_path) {
		s->dump_path = o->dump_path;
		/* a memory dump never replaces a file that is there: it may be the last copy of something */
		s->dump_fd = open(o->dump_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (s->dump_fd < 0 && errno == EEXIST)
			return error_setx(err, EEXIST, "opts.dump_path `%s` exists: not overwritten",
					  o->dump_path);
		if (s->dump_fd < 0)
			return error_set(err, errno, "open `%s`", o->dump_path);
	}
	if (n && (s->needle || s->have_re || o->dump_path)) {
		char *names[] = { pages };
		r = image_set_stream(set, names, 1, on_chunk, s, err);
		if (r < 0)
			return r;
		if (s->open)
			scan(s, true);
	}
	if (s->dump_fd >= 0 && ftruncate(s->dump_fd, (off_t)off) < 0)
		return error_set(err, errno, "write `%s`", o->dump_path);
	res->regions_n = n;
	res->regions = xreallocarray(NULL, n ? n : 1, sizeof(*res->regions));
	for (size_t i = 0; i < n; i++)
		((struct stasis_memory_region *)res->regions)[i] = (struct stasis_memory_region){
			.addr = regions[i].vaddr, .len = regions[i].len, .offset = regions[i].file_off
		};
	return 0;
}

int stasis_inspect_memory(const char *path, const struct stasis_memory_opts *opts_in,
			  struct stasis_memory_result **ret, struct stasis_error **err)
{
	struct stasis_memory_opts o = { 0 };
	int copied = opts_copy(&o, sizeof(o), opts_in, "inspect memory", err);
	if (copied < 0)
		return copied;
	if (!path || !o.pid)
		return error_setx(err, EINVAL, "inspect memory: a checkpoint and opts.pid are needed");
	if (o.search && o.search_regex)
		return error_setx(err, EINVAL,
				  "inspect memory: opts.search and opts.search_regex exclude each other");
	if (o.search && !*o.search)
		return error_setx(err, EINVAL, "inspect memory: opts.search: an empty string");
	struct searcher s = {
		.o = &o,
		.needle = o.search,
		.needle_len = o.search ? strlen(o.search) : 0,
		.ctx = o.context ? (o.context > MAX_CONTEXT ? MAX_CONTEXT : o.context) : DEFAULT_CONTEXT,
		.max_matches = o.max_matches ? o.max_matches : DEFAULT_MAX_MATCHES,
		.dump_fd = -1,
	};
	if (o.search_regex) {
		int rc = regcomp(&s.re, o.search_regex, REG_EXTENDED);
		if (rc != 0) {
			char msg[256];
			regerror(rc, &s.re, msg, sizeof(msg));
			return error_setx(err, EINVAL, "inspect memory: opts.search_regex `%s`: %s",
					  o.search_regex, msg);
		}
		s.have_re = true;
	}
	struct image_set *set = NULL;
	struct stasis_memory_result *res = xzalloc(sizeof(*res));
	res->pid = o.pid;
	int r = image_set_open(path, 0, &set, err);
	if (r == 0)
		r = run(set, &o, res, &s, err);
	image_set_free(set);
	if (s.dump_fd >= 0)
		close(s.dump_fd);
	if (s.have_re)
		regfree(&s.re);
	free(s.buf);
	res->matches = s.matches;
	res->n_matches = s.n_matches;
	res->truncated = s.truncated;
	if (r < 0) {
		stasis_memory_result_free(res);
		return r;
	}
	*ret = res;
	return 0;
}

struct stasis_memory_result *stasis_memory_result_free(struct stasis_memory_result *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_matches; i++)
		free((void *)r->matches[i].text);
	free((void *)r->matches);
	free((void *)r->regions);
	free(r);
	return NULL;
}
