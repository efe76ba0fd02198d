/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis verify: an archive's members against stasis.manifest (or podman's and CRI-O's structure),
 * then every CRIU image stasis knows parsed, so that a checkpoint that would fail mid-restore fails
 * here, naming the member.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "engine/engine-internal.h"
#include "engine/archive/archive.h"
#include "engine/images/images-internal.h"
#include "engine/names.h"

/* every image stasis has a reader for, parsed */
static int check_images(const char *path, struct stasis_error **err)
{
	struct image_set *s = NULL;
	int r = image_set_open(path, 0, &s, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n && r == 0; i++) {
		const char *name = s->m[i].name;
		bool image = strncmp(name, s->images, strlen(s->images)) == 0 &&
			     !strchr(name + strlen(s->images), '/');
		if (!image && strcmp(name, ARCHIVE_STATS_DUMP) != 0)
			continue;
		const char *base = image ? name + strlen(s->images) : name;
		if (!image_set_wants(name, s->m[i].size))
			continue;
		struct image_blob b;
		r = image_set_meta(s, name, &b, err);
		if (r == 0)
			r = image_parse_named(base, &b, err);
		if (r < 0)
			error_wrap(err, r, "`%s`", path);
	}
	image_set_free(s);
	return r;
}

int stasis_verify(const char *path, struct stasis_verify_result *ret, struct stasis_error **err)
{
	if (!path || !ret)
		return error_setx(err, EINVAL, "verify: no checkpoint given");
	struct stasis_verify_result res = { .size = sizeof(res) };
	if (result_fill(ret, &res, sizeof(res)) < 0)
		return error_setx(err, EINVAL, "verify: the result's size field is not set");
	struct stat st;
	if (stat(path, &st) < 0)
		return error_set(err, errno, "`%s`", path);
	if (!S_ISDIR(st.st_mode)) {
		struct arc_import imp = { 0 };
		unsigned long long bytes = 0;
		int r = arc_verify(path, &imp, &res.members, &bytes, err);
		if (r < 0)
			return r;
		res.has_manifest = imp.has_manifest;
		res.bytes = bytes;
		arc_import_clear(&imp);
	}
	int r = check_images(path, err);
	if (r == 0)
		result_fill(ret, &res, sizeof(res));
	return r;
}
