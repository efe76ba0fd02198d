/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "common/xalloc.h"
#include "oci/oci-internal.h"
#include "oci/oci.h"

struct oci_json {
	yajl_gen g;
};

struct oci_json *oci_json_new(bool pretty)
{
	struct oci_json *j = xzalloc(sizeof(*j));
	j->g = yajl_gen_alloc(NULL);
	if (!j->g)
		abort();
	yajl_gen_config(j->g, yajl_gen_beautify, pretty ? 1 : 0);
	yajl_gen_config(j->g, yajl_gen_indent_string, "  ");
	yajl_gen_config(j->g, yajl_gen_validate_utf8, 0);
	return j;
}

void oci_json_map_open(struct oci_json *j)
{
	yajl_gen_map_open(j->g);
}

void oci_json_map_close(struct oci_json *j)
{
	yajl_gen_map_close(j->g);
}

void oci_json_array_open(struct oci_json *j)
{
	yajl_gen_array_open(j->g);
}

void oci_json_array_close(struct oci_json *j)
{
	yajl_gen_array_close(j->g);
}

void oci_json_string(struct oci_json *j, const char *s)
{
	yajl_gen_string(j->g, (const unsigned char *)s, strlen(s));
}

void oci_json_key(struct oci_json *j, const char *key)
{
	oci_json_string(j, key);
}

void oci_json_int(struct oci_json *j, long long v)
{
	yajl_gen_integer(j->g, v);
}

void oci_json_bool(struct oci_json *j, bool v)
{
	yajl_gen_bool(j->g, v);
}

void oci_json_kstr(struct oci_json *j, const char *key, const char *s)
{
	if (!s)
		return;
	oci_json_key(j, key);
	oci_json_string(j, s);
}

void oci_json_kint(struct oci_json *j, const char *key, long long v)
{
	oci_json_key(j, key);
	oci_json_int(j, v);
}

char *oci_json_finish(struct oci_json *j, size_t *ret_len)
{
	const unsigned char *buf = NULL;
	size_t len = 0;
	yajl_gen_get_buf(j->g, &buf, &len);
	char *out = xstrndup((const char *)buf, len);
	yajl_gen_free(j->g);
	free(j);
	if (ret_len)
		*ret_len = len;
	return out;
}

void oci_json_gen_string(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void oci_json_gen_tree(yajl_gen g, yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			oci_json_gen_string(g, v->u.object.keys[i]);
			oci_json_gen_tree(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			oci_json_gen_tree(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v)) {
		oci_json_gen_string(g, YAJL_GET_STRING(v));
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else {
		yajl_gen_null(g);
	}
}

yajl_gen oci_json_gen_new(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		abort();
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "\t");
	return g;
}

char *oci_json_gen_finish(yajl_gen g, size_t *ret_len)
{
	const unsigned char *buf;
	size_t n;
	yajl_gen_get_buf(g, &buf, &n);
	char *text = xstrndup((const char *)buf, n);
	if (ret_len)
		*ret_len = n;
	yajl_gen_free(g);
	return text;
}
