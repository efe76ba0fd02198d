/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "oci/oci-internal.h"
#include "oci/oci.h"

struct oci_state *oci_state_free(struct oci_state *s)
{
	if (!s)
		return NULL;
	free(s->id);
	free(s->status);
	free(s->bundle);
	free(s->rootfs);
	free(s->created);
	free(s);
	return NULL;
}

int oci_state_parse(const char *json, size_t len, const char *name, struct oci_state **ret,
		    struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = name, .err = err };
	yajl_val root = NULL;
	int r = oci_json_parse(&jc, json, len, &root);
	if (r < 0)
		return r;
	struct oci_state *s = xzalloc(sizeof(*s));
	if (!YAJL_IS_OBJECT(root)) {
		r = oci_json_type_error(&jc, ".", "object");
		goto out;
	}
	if ((r = oci_json_get_string(&jc, root, ".", "id", true, &s->id)) < 0 ||
	    (r = oci_json_get_string(&jc, root, ".", "status", true, &s->status)) < 0 ||
	    (r = oci_json_get_string(&jc, root, ".", "bundle", true, &s->bundle)) < 0 ||
	    (r = oci_json_get_string(&jc, root, ".", "rootfs", false, &s->rootfs)) < 0 ||
	    (r = oci_json_get_string(&jc, root, ".", "created", false, &s->created)) < 0)
		goto out;
	yajl_val pid = oci_json_child(root, "pid");
	if (pid) {
		if (!YAJL_IS_INTEGER(pid) || YAJL_GET_INTEGER(pid) < 0 || YAJL_GET_INTEGER(pid) > (1 << 22)) {
			r = oci_json_type_error(&jc, ".pid", "a pid");
			goto out;
		}
		s->pid = (pid_t)YAJL_GET_INTEGER(pid);
	}
	*ret = TAKE_PTR(s);
	r = 0;
out:
	oci_state_free(s);
	yajl_tree_free(root);
	return r;
}
