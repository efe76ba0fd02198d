/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_OCI_INTERNAL_H
#define STASIS_OCI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

struct stasis_error;

/*
 * The deepest nesting of objects and arrays a JSON text may have.  OCI documents nest about 10
 * deep (.linux.resources.devices[0].access); yajl's tree parser and yajl_tree_free recurse once a
 * level (1.9 million levels fit in OCI_MAX_JSON and overflow the stack), the spec rewrite costs
 * memory quadratic in the depth, and yajl_gen refuses to write past 128 levels (YAJL_MAX_DEPTH).
 */
#define OCI_JSON_MAX_DEPTH 64

struct oci_json_ctx {
	const char *name; /* file name for messages */
	struct stasis_error **err;
	size_t max; /* the longest text accepted; 0: OCI_MAX_JSON */
};

/*
 * The one way stasis parses JSON: len bytes (no NUL among them), at most jc->max long and
 * OCI_JSON_MAX_DEPTH deep, into a yajl tree.  EFBIG or EINVAL naming jc->name.
 */
int oci_json_parse(struct oci_json_ctx *jc, const char *json, size_t len, yajl_val *ret);
yajl_val oci_json_child(yajl_val obj, const char *key);
int oci_json_type_error(struct oci_json_ctx *jc, const char *path, const char *expected);
/* Reads obj.key as a string (required or not) into a new allocation; absent optional -> NULL. */
int oci_json_get_string(struct oci_json_ctx *jc, yajl_val obj, const char *where, const char *key,
			bool required, char **ret);
int oci_json_get_bool(struct oci_json_ctx *jc, yajl_val obj, const char *where, const char *key, bool *ret);
int oci_json_get_strv(struct oci_json_ctx *jc, yajl_val obj, const char *where, const char *key, char ***ret);

void oci_json_gen_string(yajl_gen g, const char *s);
/* Writes a parsed tree as it is: numbers keep their text, unknown fields pass through. */
void oci_json_gen_tree(yajl_gen g, yajl_val v);
/* A generator writing the way stasis writes config.json (tab-indented); aborts on OOM. */
yajl_gen oci_json_gen_new(void);
/* The generator's text (malloc'ed, NUL-terminated) and its length; frees g. */
char *oci_json_gen_finish(yajl_gen g, size_t *ret_len);

#endif
