/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON members of a checkpoint archive: stasis.manifest, config.dump, deleted.files, bind.mounts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "oci/oci-internal.h"
#include "oci/oci.h"

struct oci_manifest *oci_manifest_free(struct oci_manifest *m)
{
	if (!m)
		return NULL;
	free(m->stasis_version);
	free(m->criu_version);
	free(m->kernel);
	free(m->arch);
	for (size_t i = 0; i < m->n_members; i++) {
		free(m->members[i].key);
		free(m->members[i].value);
	}
	free(m->members);
	for (size_t i = 0; i < m->n_chunks; i++) {
		free(m->chunks[i].member);
		strv_freep(&m->chunks[i].hex);
	}
	free(m->chunks);
	free(m);
	return NULL;
}

static bool is_sha256_hex(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return n == 64 && s[n] == '\0';
}

/* format 2: chunkSize, and the chunks' digests of the members longer than one */
static int parse_chunks(struct oci_json_ctx *jc, yajl_val t, struct oci_manifest *m)
{
	yajl_val size = oci_json_child(t, "chunkSize");
	if (!YAJL_IS_INTEGER(size) || YAJL_GET_INTEGER(size) <= 0)
		return oci_json_type_error(jc, ".chunkSize", "a positive integer");
	m->chunk_size = (uint64_t)YAJL_GET_INTEGER(size);
	yajl_val all = oci_json_child(t, "chunks");
	if (!all)
		return 0;
	if (!YAJL_IS_OBJECT(all))
		return oci_json_type_error(jc, ".chunks", "object");
	m->chunks = xreallocarray(NULL, all->u.object.len + 1, sizeof(*m->chunks));
	for (size_t i = 0; i < all->u.object.len; i++) {
		const char *name = all->u.object.keys[i];
		yajl_val v = all->u.object.values[i];
		cleanup_free char *where = xasprintf(".chunks[\"%s\"]", name);
		if (!YAJL_IS_ARRAY(v) || v->u.array.len < 2)
			return oci_json_type_error(jc, where, "an array of two sha256 hex digests or more");
		struct oci_manifest_chunks *c = &m->chunks[m->n_chunks++];
		*c = (struct oci_manifest_chunks){ .member = xstrdup(name) };
		c->hex = xreallocarray(NULL, v->u.array.len + 1, sizeof(*c->hex));
		for (size_t k = 0; k < v->u.array.len; k++) {
			yajl_val h = v->u.array.values[k];
			if (!YAJL_IS_STRING(h) || !is_sha256_hex(YAJL_GET_STRING(h))) {
				c->hex[c->n] = NULL;
				return oci_json_type_error(jc, where, "an array of sha256 hex digests");
			}
			c->hex[c->n++] = xstrdup(YAJL_GET_STRING(h));
		}
		c->hex[c->n] = NULL;
	}
	return 0;
}

static int parse(struct oci_json_ctx *jc, yajl_val t, struct oci_manifest *m)
{
	yajl_val f = oci_json_child(t, "format");
	if (!YAJL_IS_INTEGER(f))
		return oci_json_type_error(jc, ".format", "integer");
	m->format = (int)YAJL_GET_INTEGER(f);
	int r;
	if ((r = oci_json_get_string(jc, t, ".", "stasisVersion", false, &m->stasis_version)) < 0 ||
	    (r = oci_json_get_string(jc, t, ".", "criuVersion", false, &m->criu_version)) < 0 ||
	    (r = oci_json_get_string(jc, t, ".", "kernel", false, &m->kernel)) < 0 ||
	    (r = oci_json_get_string(jc, t, ".", "arch", false, &m->arch)) < 0)
		return r;
	cleanup_free char *digest = NULL;
	if ((r = oci_json_get_string(jc, t, ".", "digest", true, &digest)) < 0)
		return r;
	if (strcmp(digest, "sha256") != 0)
		return error_setx(jc->err, EINVAL, "%s: .digest: `%s` is not sha256", jc->name, digest);
	yajl_val mem = oci_json_child(t, "members");
	if (!YAJL_IS_OBJECT(mem))
		return oci_json_type_error(jc, ".members", "object");
	m->members = xreallocarray(NULL, mem->u.object.len + 1, sizeof(*m->members));
	for (size_t i = 0; i < mem->u.object.len; i++) {
		const char *name = mem->u.object.keys[i];
		yajl_val v = mem->u.object.values[i];
		if (!YAJL_IS_STRING(v) || !is_sha256_hex(YAJL_GET_STRING(v))) {
			cleanup_free char *where = xasprintf(".members[\"%s\"]", name);
			return oci_json_type_error(jc, where, "a sha256 hex digest");
		}
		m->members[m->n_members++] = (struct oci_kv){ xstrdup(name), xstrdup(YAJL_GET_STRING(v)) };
	}
	return m->format >= 2 ? parse_chunks(jc, t, m) : 0;
}

int oci_manifest_parse(const char *json, size_t len, struct oci_manifest **ret, struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = "stasis.manifest", .err = err, .max = OCI_MAX_MANIFEST };
	yajl_val t = NULL;
	int r = oci_json_parse(&jc, json, len, &t);
	if (r < 0)
		return r;
	struct oci_manifest *m = xzalloc(sizeof(*m));
	r = YAJL_IS_OBJECT(t) ? parse(&jc, t, m) : oci_json_type_error(&jc, ".", "object");
	yajl_tree_free(t);
	if (r < 0) {
		oci_manifest_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

const struct oci_manifest_chunks *oci_manifest_chunks(const struct oci_manifest *m, const char *member)
{
	for (size_t i = 0; i < m->n_chunks; i++)
		if (strcmp(m->chunks[i].member, member) == 0)
			return &m->chunks[i];
	return NULL;
}

const char *oci_manifest_digest(const struct oci_manifest *m, const char *member)
{
	for (size_t i = 0; i < m->n_members; i++)
		if (strcmp(m->members[i].key, member) == 0)
			return m->members[i].value;
	return NULL;
}

/* config.dump: the fields a restore needs (checkpointctl's reduced form, as podman writes it). */
int oci_config_dump_parse(const char *json, size_t len, struct oci_config_dump **ret,
			  struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = "config.dump", .err = err };
	yajl_val t = NULL;
	int r = oci_json_parse(&jc, json, len, &t);
	if (r < 0)
		return r;
	struct oci_config_dump *d = xzalloc(sizeof(*d));
	if (!YAJL_IS_OBJECT(t))
		r = oci_json_type_error(&jc, ".", "object");
	if (r == 0)
		r = oci_json_get_string(&jc, t, ".", "id", false, &d->id);
	if (r == 0)
		r = oci_json_get_string(&jc, t, ".", "name", false, &d->name);
	if (r == 0)
		r = oci_json_get_string(&jc, t, ".", "runtime", false, &d->runtime);
	if (r == 0)
		r = oci_json_get_string(&jc, t, ".", "rootfsImageName", false, &d->image);
	if (r == 0)
		r = oci_json_get_string(&jc, t, ".", "createdTime", false, &d->created);
	if (r == 0)
		r = oci_json_get_string(&jc, t, ".", "checkpointedTime", false, &d->checkpointed);
	/* podman calls its OCI runtime "OCIRuntime" */
	if (r == 0 && !d->runtime)
		r = oci_json_get_string(&jc, t, ".", "OCIRuntime", false, &d->runtime);
	yajl_tree_free(t);
	if (r < 0) {
		oci_config_dump_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

struct oci_config_dump *oci_config_dump_free(struct oci_config_dump *d)
{
	if (!d)
		return NULL;
	free(d->id);
	free(d->name);
	free(d->runtime);
	free(d->image);
	free(d->created);
	free(d->checkpointed);
	free(d);
	return NULL;
}

int oci_string_array_parse(const char *json, size_t len, const char *name, char ***ret, size_t *ret_n,
			   struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = name, .err = err };
	yajl_val t = NULL;
	int r = oci_json_parse(&jc, json, len, &t);
	if (r < 0)
		return r;
	char **v = NULL;
	size_t n = 0;
	if (!YAJL_IS_ARRAY(t) && !YAJL_IS_NULL(t))
		r = oci_json_type_error(&jc, ".", "array");
	for (size_t i = 0; r == 0 && YAJL_IS_ARRAY(t) && i < t->u.array.len; i++) {
		yajl_val s = t->u.array.values[i];
		if (!YAJL_IS_STRING(s)) {
			cleanup_free char *where = xasprintf("[%zu]", i);
			r = oci_json_type_error(&jc, where, "string");
		} else {
			strv_push(&v, &n, xstrdup(YAJL_GET_STRING(s)));
		}
	}
	yajl_tree_free(t);
	if (r < 0) {
		strv_freep(&v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int oci_bind_mounts_parse(const char *json, size_t len, struct oci_bind_mount **ret, size_t *ret_n,
			  struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = "bind.mounts", .err = err };
	yajl_val t = NULL;
	int r = oci_json_parse(&jc, json, len, &t);
	if (r < 0)
		return r;
	struct oci_bind_mount *v = NULL;
	size_t n = 0;
	if (!YAJL_IS_ARRAY(t) && !YAJL_IS_NULL(t))
		r = oci_json_type_error(&jc, ".", "array");
	for (size_t i = 0; r == 0 && YAJL_IS_ARRAY(t) && i < t->u.array.len; i++) {
		yajl_val m = t->u.array.values[i];
		cleanup_free char *where = xasprintf("[%zu]", i);
		v = xgrow(v, n, sizeof(*v));
		struct oci_bind_mount *b = &v[n++];
		*b = (struct oci_bind_mount){ 0 };
		cleanup_free char *type = NULL;
		if (!YAJL_IS_OBJECT(m)) {
			r = oci_json_type_error(&jc, where, "object");
			break;
		}
		if ((r = oci_json_get_string(&jc, m, where, "destination", true, &b->destination)) < 0 ||
		    (r = oci_json_get_string(&jc, m, where, "source", false, &b->source)) < 0 ||
		    (r = oci_json_get_string(&jc, m, where, "file_type", false, &type)) < 0)
			break;
		b->is_dir = !type || strcmp(type, "directory") == 0;
		yajl_val perm = oci_json_child(m, "permissions");
		b->mode = YAJL_IS_INTEGER(perm) ? (unsigned)(YAJL_GET_INTEGER(perm) & 07777) : 0755;
	}
	yajl_tree_free(t);
	if (r < 0) {
		oci_bind_mounts_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void oci_bind_mounts_free(struct oci_bind_mount *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].destination);
		free(v[i].source);
	}
	free(v);
}

int oci_json_member_string(const char *json, size_t len, const char *key, char **ret)
{
	struct oci_json_ctx jc = { .name = "annotation" };
	yajl_val t = NULL;
	*ret = NULL;
	if (oci_json_parse(&jc, json, len, &t) < 0)
		return -EINVAL;
	yajl_val v = YAJL_IS_OBJECT(t) ? oci_json_child(t, key) : NULL;
	if (YAJL_IS_STRING(v))
		*ret = xstrdup(YAJL_GET_STRING(v));
	yajl_tree_free(t);
	return *ret ? 0 : -ENOENT;
}
