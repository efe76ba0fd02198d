/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "oci/oci-internal.h"
#include "oci/oci.h"

static void free_strv(char **v)
{
	strv_freep(&v);
}

static void free_hooks(struct oci_hook *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].path);
		free_strv(h[i].args);
		free_strv(h[i].env);
	}
	free(h);
}

struct oci_config *oci_config_free(struct oci_config *c)
{
	if (!c)
		return NULL;
	free(c->root_path);
	free_strv(c->args);
	free(c->cwd);
	free(c->selinux_label);
	free(c->apparmor_profile);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].destination);
		free(c->mounts[i].type);
		free(c->mounts[i].source);
		free_strv(c->mounts[i].options);
	}
	free(c->mounts);
	for (size_t i = 0; i < c->n_namespaces; i++) {
		free(c->namespaces[i].type);
		free(c->namespaces[i].path);
	}
	free(c->namespaces);
	free_strv(c->masked_paths);
	free_strv(c->readonly_paths);
	free(c->cgroups_path);
	free(c->mount_label);
	for (size_t i = 0; i < c->n_annotations; i++) {
		free(c->annotations[i].key);
		free(c->annotations[i].value);
	}
	free(c->annotations);
	free_hooks(c->hooks_create_runtime, c->n_hooks_create_runtime);
	free_hooks(c->hooks_prestart, c->n_hooks_prestart);
	free(c);
	return NULL;
}

static int parse_mounts(struct oci_json_ctx *jc, yajl_val arr, struct oci_config *c)
{
	if (!arr)
		return 0;
	if (!YAJL_IS_ARRAY(arr))
		return oci_json_type_error(jc, ".mounts", "array");
	size_t n = arr->u.array.len;
	c->mounts = xreallocarray(NULL, n, sizeof(*c->mounts));
	memset(c->mounts, 0, n * sizeof(*c->mounts));
	c->n_mounts = n;
	for (size_t i = 0; i < n; i++) {
		yajl_val m = arr->u.array.values[i];
		cleanup_free char *where = xasprintf(".mounts[%zu]", i);
		if (!YAJL_IS_OBJECT(m))
			return oci_json_type_error(jc, where, "object");
		int r = oci_json_get_string(jc, m, where, "destination", true, &c->mounts[i].destination);
		if (r == 0)
			r = oci_json_get_string(jc, m, where, "type", false, &c->mounts[i].type);
		if (r == 0)
			r = oci_json_get_string(jc, m, where, "source", false, &c->mounts[i].source);
		if (r == 0)
			r = oci_json_get_strv(jc, m, where, "options", &c->mounts[i].options);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_namespaces(struct oci_json_ctx *jc, yajl_val arr, struct oci_config *c)
{
	if (!arr)
		return 0;
	if (!YAJL_IS_ARRAY(arr))
		return oci_json_type_error(jc, ".linux.namespaces", "array");
	size_t n = arr->u.array.len;
	c->namespaces = xreallocarray(NULL, n, sizeof(*c->namespaces));
	memset(c->namespaces, 0, n * sizeof(*c->namespaces));
	c->n_namespaces = n;
	for (size_t i = 0; i < n; i++) {
		yajl_val ns = arr->u.array.values[i];
		cleanup_free char *where = xasprintf(".linux.namespaces[%zu]", i);
		if (!YAJL_IS_OBJECT(ns))
			return oci_json_type_error(jc, where, "object");
		int r = oci_json_get_string(jc, ns, where, "type", true, &c->namespaces[i].type);
		if (r == 0)
			r = oci_json_get_string(jc, ns, where, "path", false, &c->namespaces[i].path);
		if (r < 0)
			return r;
		if (c->namespaces[i].path && !c->namespaces[i].path[0]) {
			free(c->namespaces[i].path);
			c->namespaces[i].path = NULL;
		}
	}
	return 0;
}

static int parse_annotations(struct oci_json_ctx *jc, yajl_val obj, struct oci_config *c)
{
	if (!obj)
		return 0;
	if (!YAJL_IS_OBJECT(obj))
		return oci_json_type_error(jc, ".annotations", "object");
	size_t n = obj->u.object.len;
	c->annotations = xreallocarray(NULL, n, sizeof(*c->annotations));
	c->n_annotations = 0;
	for (size_t i = 0; i < n; i++) {
		yajl_val v = obj->u.object.values[i];
		if (!YAJL_IS_STRING(v)) {
			cleanup_free char *where = xasprintf(".annotations.%s", obj->u.object.keys[i]);
			return oci_json_type_error(jc, where, "string");
		}
		c->annotations[c->n_annotations].key = xstrdup(obj->u.object.keys[i]);
		c->annotations[c->n_annotations].value = xstrdup(YAJL_GET_STRING(v));
		c->n_annotations++;
	}
	return 0;
}

/* .hooks.<name>: [{path, args, env, timeout}] */
static int parse_hooks(struct oci_json_ctx *jc, yajl_val hooks, const char *name, struct oci_hook **ret,
		       size_t *ret_n)
{
	yajl_val arr = hooks ? oci_json_child(hooks, name) : NULL;
	if (!arr)
		return 0;
	cleanup_free char *where = xasprintf(".hooks.%s", name);
	if (!YAJL_IS_ARRAY(arr))
		return oci_json_type_error(jc, where, "array");
	size_t n = arr->u.array.len;
	*ret = xreallocarray(NULL, n ? n : 1, sizeof(**ret));
	memset(*ret, 0, (n ? n : 1) * sizeof(**ret));
	*ret_n = n;
	for (size_t i = 0; i < n; i++) {
		yajl_val h = arr->u.array.values[i];
		struct oci_hook *hk = &(*ret)[i];
		cleanup_free char *w = xasprintf("%s[%zu]", where, i);
		if (!YAJL_IS_OBJECT(h))
			return oci_json_type_error(jc, w, "object");
		int r = oci_json_get_string(jc, h, w, "path", true, &hk->path);
		if (r == 0)
			r = oci_json_get_strv(jc, h, w, "args", &hk->args);
		if (r == 0)
			r = oci_json_get_strv(jc, h, w, "env", &hk->env);
		if (r < 0)
			return r;
		yajl_val t = oci_json_child(h, "timeout");
		if (t && (!YAJL_IS_INTEGER(t) || YAJL_GET_INTEGER(t) <= 0 || YAJL_GET_INTEGER(t) > 86400)) {
			cleanup_free char *tw = xasprintf("%s.timeout", w);
			return oci_json_type_error(jc, tw, "a positive number of seconds");
		}
		hk->timeout = t ? (int)YAJL_GET_INTEGER(t) : 0;
	}
	return 0;
}

int oci_config_parse(const char *json, size_t len, const char *name, struct oci_config **ret,
		     struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = name, .err = err };
	yajl_val root = NULL;
	int r = oci_json_parse(&jc, json, len, &root);
	if (r < 0)
		return r;
	struct oci_config *c = xzalloc(sizeof(*c));
	yajl_val v;

	if (!YAJL_IS_OBJECT(root)) {
		r = oci_json_type_error(&jc, ".", "object");
		goto out;
	}
	v = oci_json_child(root, "root");
	if (v) {
		if ((r = oci_json_get_string(&jc, v, ".root", "path", true, &c->root_path)) < 0 ||
		    (r = oci_json_get_bool(&jc, v, ".root", "readonly", &c->root_readonly)) < 0)
			goto out;
	}
	v = oci_json_child(root, "process");
	if (v) {
		if ((r = oci_json_get_bool(&jc, v, ".process", "terminal", &c->terminal)) < 0 ||
		    (r = oci_json_get_strv(&jc, v, ".process", "args", &c->args)) < 0 ||
		    (r = oci_json_get_string(&jc, v, ".process", "cwd", false, &c->cwd)) < 0 ||
		    (r = oci_json_get_string(&jc, v, ".process", "selinuxLabel", false, &c->selinux_label)) <
			    0 ||
		    (r = oci_json_get_string(&jc, v, ".process", "apparmorProfile", false,
					     &c->apparmor_profile)) < 0)
			goto out;
	}
	if ((r = parse_mounts(&jc, oci_json_child(root, "mounts"), c)) < 0)
		goto out;
	if ((r = parse_annotations(&jc, oci_json_child(root, "annotations"), c)) < 0)
		goto out;
	v = oci_json_child(root, "hooks");
	if (v && !YAJL_IS_OBJECT(v)) {
		r = oci_json_type_error(&jc, ".hooks", "object");
		goto out;
	}
	c->has_hooks = v != NULL;
	if ((r = parse_hooks(&jc, v, "createRuntime", &c->hooks_create_runtime, &c->n_hooks_create_runtime)) <
		    0 ||
	    (r = parse_hooks(&jc, v, "prestart", &c->hooks_prestart, &c->n_hooks_prestart)) < 0)
		goto out;
	v = oci_json_child(root, "linux");
	if (v) {
		if ((r = parse_namespaces(&jc, oci_json_child(v, "namespaces"), c)) < 0 ||
		    (r = oci_json_get_strv(&jc, v, ".linux", "maskedPaths", &c->masked_paths)) < 0 ||
		    (r = oci_json_get_strv(&jc, v, ".linux", "readonlyPaths", &c->readonly_paths)) < 0 ||
		    (r = oci_json_get_string(&jc, v, ".linux", "cgroupsPath", false, &c->cgroups_path)) < 0 ||
		    (r = oci_json_get_string(&jc, v, ".linux", "mountLabel", false, &c->mount_label)) < 0)
			goto out;
	}
	*ret = TAKE_PTR(c);
	r = 0;
out:
	oci_config_free(c);
	yajl_tree_free(root);
	return r;
}

int oci_config_load(const char *path, struct oci_config **ret, struct stasis_error **err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r = read_file_capped(path, OCI_MAX_JSON, &buf, &len, err);
	if (r < 0)
		return r;
	return oci_config_parse(buf, len, path, ret, err);
}

bool oci_mount_is_bind(const struct oci_mount *m)
{
	if (m->type && strcmp(m->type, "bind") == 0)
		return true;
	for (char **o = m->options; o && *o; o++)
		if (strcmp(*o, "bind") == 0 || strcmp(*o, "rbind") == 0)
			return true;
	return false;
}

const struct oci_namespace *oci_config_namespace(const struct oci_config *c, const char *type)
{
	for (size_t i = 0; i < c->n_namespaces; i++)
		if (strcmp(c->namespaces[i].type, type) == 0)
			return &c->namespaces[i];
	return NULL;
}

const char *oci_config_annotation(const struct oci_config *c, const char *key)
{
	for (size_t i = 0; i < c->n_annotations; i++)
		if (strcmp(c->annotations[i].key, key) == 0)
			return c->annotations[i].value;
	return NULL;
}
