/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "oci/oci-internal.h"
#include "oci/oci.h"

/*
 * Whether the objects and arrays of a text, counted outside strings, nest deeper than
 * OCI_JSON_MAX_DEPTH; *ret_at is then the offset of the bracket that goes past it.  One pass, no
 * allocation, blind to everything else: yajl judges the syntax afterwards.
 */
static bool nests_too_deep(const char *json, size_t len, size_t *ret_at)
{
	size_t depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = json[i];
		if (in_string) {
			if (c == '\\')
				i++; /* the escaped character, a quote or a backslash, says nothing */
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > OCI_JSON_MAX_DEPTH) {
				*ret_at = i;
				return true;
			}
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return false;
}

int oci_json_parse(struct oci_json_ctx *jc, const char *json, size_t len, yajl_val *ret)
{
	size_t max = jc->max ? jc->max : OCI_MAX_JSON;
	if (len > max)
		return error_setx(jc->err, EFBIG, "%s: larger than %zu bytes", jc->name, max);
	if (strlen(json) != len)
		return error_setx(jc->err, EINVAL, "%s: contains a NUL byte", jc->name);
	size_t at;
	if (nests_too_deep(json, len, &at))
		return error_setx(jc->err, EINVAL, "%s: nested deeper than %d levels (at byte %zu): refused",
				  jc->name, OCI_JSON_MAX_DEPTH, at);
	char msg[256] = "";
	yajl_val v = yajl_tree_parse(json, msg, sizeof(msg));
	if (!v) {
		size_t l = strlen(msg);
		while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
			msg[--l] = '\0';
		for (char *p = msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		return error_setx(jc->err, EINVAL, "%s: invalid JSON: %s", jc->name,
				  msg[0] ? msg : "parse error");
	}
	*ret = v;
	return 0;
}

yajl_val oci_json_child(yajl_val obj, const char *key)
{
	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return YAJL_IS_NULL(obj->u.object.values[i]) ? NULL : obj->u.object.values[i];
	return NULL;
}

int oci_json_type_error(struct oci_json_ctx *jc, const char *path, const char *expected)
{
	return error_setx(jc->err, EINVAL, "%s: %s: expected %s", jc->name, path, expected);
}

int oci_json_get_string(struct oci_json_ctx *jc, yajl_val obj, const char *where, const char *key,
			bool required, char **ret)
{
	yajl_val v = oci_json_child(obj, key);
	cleanup_free char *path = xasprintf("%s.%s", strcmp(where, ".") ? where : "", key);
	if (!v) {
		if (required)
			return error_setx(jc->err, EINVAL, "%s: %s: missing", jc->name, path);
		*ret = NULL;
		return 0;
	}
	if (!YAJL_IS_STRING(v))
		return oci_json_type_error(jc, path, "string");
	*ret = xstrdup(YAJL_GET_STRING(v));
	return 0;
}

int oci_json_get_bool(struct oci_json_ctx *jc, yajl_val obj, const char *where, const char *key, bool *ret)
{
	yajl_val v = oci_json_child(obj, key);
	if (!v) {
		*ret = false;
		return 0;
	}
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
		cleanup_free char *path = xasprintf("%s.%s", where, key);
		return oci_json_type_error(jc, path, "boolean");
	}
	*ret = YAJL_IS_TRUE(v);
	return 0;
}

int oci_json_get_strv(struct oci_json_ctx *jc, yajl_val obj, const char *where, const char *key, char ***ret)
{
	yajl_val v = oci_json_child(obj, key);
	*ret = NULL;
	if (!v)
		return 0;
	cleanup_free char *path = xasprintf("%s.%s", where, key);
	if (!YAJL_IS_ARRAY(v))
		return oci_json_type_error(jc, path, "array");
	char **out = NULL;
	size_t n = 0;
	for (size_t i = 0; i < v->u.array.len; i++) {
		yajl_val s = v->u.array.values[i];
		if (!YAJL_IS_STRING(s)) {
			strv_freep(&out);
			cleanup_free char *elem = xasprintf("%s[%zu]", path, i);
			return oci_json_type_error(jc, elem, "string");
		}
		strv_push(&out, &n, xstrdup(YAJL_GET_STRING(s)));
	}
	if (!out)
		out = xzalloc(sizeof(char *));
	*ret = out;
	return 0;
}
