/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the archive readers: the input is an archive file (any compression, tar),
 * written once to a memfd and read through every path a checkpoint archive takes without being
 * extracted: the verify against its manifest, the scan that inspect and the image set make (its
 * members read, its tars listed), a tar listed on its own, page images streamed, and the public
 * inspect and verify on top.  Any input must give a result or an error, never a crash, a hang, a
 * leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/archive.h"
#include "include/stasis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a member read whole is at most this: what inspect keeps of an image in memory is more, but no seed needs it */
#define FUZZ_MEMBER_MAX (1u << 20)

static int on_member(void *data, struct arc_scan_member *m, struct stasis_error **err)
{
	(void)data;
	if (m->is_dir)
		return 0;
	size_t l = strlen(m->name);
	if (l > 4 && strcmp(m->name + l - 4, ".tar") == 0) {
		char **paths = NULL;
		size_t n = 0;
		int r = arc_scan_list_tar(m, &paths, &n, err);
		for (size_t i = 0; r == 0 && i < n; i++)
			free(paths[i]);
		free(paths);
		return r;
	}
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = arc_scan_read(m, FUZZ_MEMBER_MAX, &buf, &len, err);
	free(buf);
	return r;
}

static int on_chunk(void *data, size_t which, uint64_t off, const unsigned char *buf, size_t len,
		    struct stasis_error **err)
{
	(void)data, (void)which, (void)off, (void)buf, (void)len, (void)err;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("stasis-fuzz-archive", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite_all(fd, data, size, 0) < 0)
		abort();
	struct stasis_error *err = NULL;

	struct arc_import imp = { 0 };
	size_t members = 0;
	unsigned long long bytes = 0;
	if (arc_verify(path, &imp, &members, &bytes, &err) == 0)
		arc_import_clear(&imp);
	err = stasis_error_free(err);

	arc_scan(path, on_member, NULL, &err);
	err = stasis_error_free(err);

	char **paths = NULL;
	size_t n = 0;
	if (arc_list_tar(path, &paths, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			free(paths[i]);
		free(paths);
	}
	err = stasis_error_free(err);

	/* the index a streamed zstd archive ends with: found at the end, or the input as its text */
	struct arc_index idx = { 0 };
	if (arc_index_read(fd, "fuzz", &idx, &err) == 0)
		arc_index_clear(&idx);
	err = stasis_error_free(err);
	if (arc_index_parse((const char *)data, size, (off_t)size + 1, &idx, &err) == 0)
		arc_index_clear(&idx);
	err = stasis_error_free(err);

	char *pages[] = { "checkpoint/pages-1.img", "checkpoint/pages-2.img" };
	arc_stream_members(path, pages, 2, on_chunk, NULL, &err);
	err = stasis_error_free(err);

	struct stasis_inspect_opts io = { .size = sizeof(io), .what = STASIS_INSPECT_ALL };
	struct stasis_inspect *in = NULL;
	if (stasis_inspect(path, &io, &in, &err) == 0) {
		char *json = NULL;
		if (stasis_inspect_json(in, &json, NULL) == 0)
			free(json);
		stasis_inspect_free(in);
	}
	err = stasis_error_free(err);

	struct stasis_verify_result res = { .size = sizeof(res) };
	stasis_verify(path, &res, &err);
	stasis_error_free(err);
	return 0;
}
