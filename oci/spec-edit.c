/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A restored container's config.json: the checkpointed one (spec.dump or the bundle's) with what
 * must change on the new host rewritten, and everything else kept byte for byte in meaning
 * (numbers keep their text, unknown fields pass through).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "oci/oci-internal.h"
#include "oci/oci.h"

struct editor {
	yajl_gen g;
	const struct oci_spec_edit *e;
};

static const char *str_child(yajl_val obj, const char *key)
{
	yajl_val v = oci_json_child(obj, key);
	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static bool mount_is_bind(yajl_val m)
{
	const char *type = str_child(m, "type");
	if (type && strcmp(type, "bind") == 0)
		return true;
	yajl_val opts = oci_json_child(m, "options");
	for (size_t i = 0; YAJL_IS_ARRAY(opts) && i < opts->u.array.len; i++) {
		const char *o = YAJL_GET_STRING(opts->u.array.values[i]);
		if (o && (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0))
			return true;
	}
	return false;
}

static const char *bind_source(const struct oci_spec_edit *e, yajl_val m)
{
	const char *dest = str_child(m, "destination");
	if (!dest || !mount_is_bind(m))
		return NULL;
	cleanup_free char *d = path_clean(dest);
	for (size_t i = 0; i < e->n_bind_sources; i++)
		if (strcmp(e->bind_sources[i].key, d) == 0)
			return e->bind_sources[i].value;
	return NULL;
}

enum action { KEEP, REPLACE, DROP };

/* What happens to obj.key at path; *val is the replacement string. */
static enum action decide(const struct editor *ed, const char *path, yajl_val obj, const char *key,
			  const char **val)
{
	const struct oci_spec_edit *e = ed->e;
	if (strcmp(path, ".root") == 0 && strcmp(key, "path") == 0 && e->root_path) {
		*val = e->root_path;
		return REPLACE;
	}
	if (strcmp(path, ".mounts[]") == 0 && strcmp(key, "source") == 0) {
		*val = bind_source(e, obj);
		return *val ? REPLACE : KEEP;
	}
	if (!path[0] && strcmp(key, "hooks") == 0 && e->drop_hooks)
		return DROP;
	if (strcmp(path, ".linux") == 0 && strcmp(key, "cgroupsPath") == 0 && e->cgroups_path) {
		*val = e->cgroups_path;
		return REPLACE;
	}
	return KEEP;
}

static void emit(struct editor *ed, yajl_val v, const char *path);

static void emit_added_hook(struct editor *ed)
{
	oci_json_gen_string(ed->g, "hooks");
	yajl_gen_map_open(ed->g);
	oci_json_gen_string(ed->g, "createRuntime");
	yajl_gen_array_open(ed->g);
	yajl_gen_map_open(ed->g);
	oci_json_gen_string(ed->g, "path");
	oci_json_gen_string(ed->g, ed->e->add_hook_path);
	oci_json_gen_string(ed->g, "args");
	yajl_gen_array_open(ed->g);
	for (const char *const *a = ed->e->add_hook_args; a && *a; a++)
		oci_json_gen_string(ed->g, *a);
	yajl_gen_array_close(ed->g);
	oci_json_gen_string(ed->g, "timeout");
	yajl_gen_integer(ed->g, 30);
	yajl_gen_map_close(ed->g);
	yajl_gen_array_close(ed->g);
	yajl_gen_map_close(ed->g);
}

static void emit_object(struct editor *ed, yajl_val v, const char *path)
{
	yajl_gen_map_open(ed->g);
	for (size_t i = 0; i < v->u.object.len; i++) {
		const char *key = v->u.object.keys[i], *val = NULL;
		enum action a = decide(ed, path, v, key, &val);
		if (a == DROP)
			continue;
		oci_json_gen_string(ed->g, key);
		if (a == REPLACE) {
			oci_json_gen_string(ed->g, val);
			continue;
		}
		cleanup_free char *sub = xasprintf("%s.%s", path, key);
		emit(ed, v->u.object.values[i], sub);
	}
	/* keys the new host needs that the old config did not have */
	const char *val = NULL;
	if (strcmp(path, ".linux") == 0 && !oci_json_child(v, "cgroupsPath") &&
	    decide(ed, path, v, "cgroupsPath", &val) == REPLACE) {
		oci_json_gen_string(ed->g, "cgroupsPath");
		oci_json_gen_string(ed->g, val);
	}
	if (!path[0] && ed->e->add_hook_path && (ed->e->drop_hooks || !oci_json_child(v, "hooks")))
		emit_added_hook(ed);
	yajl_gen_map_close(ed->g);
}

static void emit(struct editor *ed, yajl_val v, const char *path)
{
	if (YAJL_IS_OBJECT(v)) {
		emit_object(ed, v, path);
	} else if (YAJL_IS_ARRAY(v)) {
		cleanup_free char *sub = xasprintf("%s[]", path);
		yajl_gen_array_open(ed->g);
		for (size_t i = 0; i < v->u.array.len; i++)
			emit(ed, v->u.array.values[i], sub);
		yajl_gen_array_close(ed->g);
	} else {
		oci_json_gen_tree(ed->g, v);
	}
}

int oci_spec_edit(const char *json, size_t len, const char *name, const struct oci_spec_edit *e, char **ret,
		  size_t *ret_len, struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = name, .err = err };
	yajl_val tree = NULL;
	int r = oci_json_parse(&jc, json, len, &tree);
	if (r < 0)
		return r;
	if (!YAJL_IS_OBJECT(tree)) {
		yajl_tree_free(tree);
		return oci_json_type_error(&jc, ".", "object");
	}
	struct editor ed = { oci_json_gen_new(), e };
	emit(&ed, tree, "");
	yajl_tree_free(tree);
	*ret = oci_json_gen_finish(ed.g, ret_len);
	return 0;
}
