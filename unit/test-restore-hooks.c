/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis' own loopback-up hook in a spec.dump (a container stasis restored under runc, checkpointed
 * again) is recognised as ours; any other hook, kind, field or argument is not.
 */
#include "unit/unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/restore/hooks.h"
#include "include/stasis.h"
#include "oci/oci.h"

static const char base[] =
	"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"/r\"},\"process\":{\"args\":[\"sh\"]},"
	"\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}";

/* the spec with stasis' hook added by the editor, as build_bundle adds it */
static char *with_our_hook(const char *const *args)
{
	const struct oci_spec_edit e = { .add_hook_path = "/usr/bin/stasis", .add_hook_args = args };
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(oci_spec_edit(base, strlen(base), "spec", &e, &out, &len, NULL), 0);
	return out;
}

static bool only_ours(const char *spec)
{
	struct oci_config *c = NULL;
	assert_int_equal(oci_config_parse(spec, strlen(spec), "spec", &c, NULL), 0);
	bool r = restore_hooks_only_ours(spec, strlen(spec), c);
	oci_config_free(c);
	return r;
}

/* text with `what` inserted right after the first occurrence of `after` (the editor writes pretty JSON) */
static char *insert_after(const char *text, const char *after, const char *what)
{
	const char *at = strstr(text, after);
	assert_non_null(at);
	size_t head = (size_t)(at - text) + strlen(after);
	char *out = malloc(strlen(text) + strlen(what) + 1);
	memcpy(out, text, head);
	strcpy(out + head, what);
	strcat(out, text + head);
	return out;
}

static void our_hook_is_ours(void **state)
{
	(void)state;
	const char *const args[] = { "stasis", "hook", STASIS_HOOK_LOOPBACK_UP, NULL };
	char *spec = with_our_hook(args);
	assert_true(only_ours(spec));

	/* anything more in .hooks is someone else's */
	char *more = insert_after(spec, "\"hooks\": {", "\"poststop\":[{\"path\":\"/bin/true\"}],");
	assert_false(only_ours(more));
	free(more);
	more = insert_after(spec, "\"createRuntime\": [", "{\"path\":\"/bin/true\"},");
	assert_false(only_ours(more));
	free(more);
	more = insert_after(spec, "\"hooks\": {", "\"prestart\":[{\"path\":\"/bin/true\"}],");
	assert_false(only_ours(more));
	free(more);
	more = insert_after(spec, "\"path\": \"/usr/bin/stasis\",", "\"env\":[\"LD_PRELOAD=/x.so\"],");
	assert_false(only_ours(more));
	free(more);
	free(spec);

	const char *const other[] = { "stasis", "hook", "something-else", NULL };
	spec = with_our_hook(other);
	assert_false(only_ours(spec));
	free(spec);
	const char *const extra[] = { "stasis", "hook", STASIS_HOOK_LOOPBACK_UP, "--and-more", NULL };
	spec = with_our_hook(extra);
	assert_false(only_ours(spec));
	free(spec);
	assert_false(only_ours(base));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(our_hook_is_ours),
	};
	return cmocka_run_group_tests_name("restore-hooks", tests, NULL, NULL);
}
