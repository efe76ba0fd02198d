/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "common/xalloc.h"
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
