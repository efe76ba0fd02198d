/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JSON nested deeper than any OCI document is refused before yajl sees it: yajl's tree parser,
 * yajl_tree_free and our spec rewrite recurse once a level (1.9 million levels fit in the 4 MiB cap
 * and overflow the stack), the rewrite costs memory quadratic in the depth, and yajl_gen writes
 * invalid JSON past 128 levels.
 */
#include "unit/unit.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "oci/oci.h"

/* every case here is done in milliseconds; a regression to the recursive parse fails, not hangs */
#define CASE_SECONDS 10

/* an object whose member "x" holds depth - 1 nested arrays: depth levels in all */
static char *nested(size_t depth, size_t *ret_len)
{
	size_t len = 6 + 2 * (depth - 1);
	char *s = xmalloc(len + 1), *p = s;
	memcpy(p, "{\"x\":", 5);
	p += 5;
	memset(p, '[', depth - 1);
	p += depth - 1;
	memset(p, ']', depth - 1);
	p += depth - 1;
	*p++ = '}';
	*p = '\0';
	*ret_len = len;
	return s;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* config.json, state and the archive's JSON members: refused with the file and the cap named */
static void expect_refused(size_t depth)
{
	size_t len;
	char *json = nested(depth, &len);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	alarm(CASE_SECONDS);
	struct stasis_error *err = NULL;
	struct oci_config *c = NULL;
	assert_int_equal(oci_config_parse(json, len, "config.json", &c, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "config.json: nested deeper than 64 levels"));
	err = stasis_error_free(err);
	struct oci_state *st = NULL;
	assert_int_equal(oci_state_parse(json, len, "state.json", &st, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "state.json: nested deeper than 64"));
	err = stasis_error_free(err);
	struct oci_config_dump *d = NULL;
	assert_int_equal(oci_config_dump_parse(json, len, &d, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "config.dump: nested deeper"));
	err = stasis_error_free(err);
	struct oci_manifest *m = NULL;
	assert_int_equal(oci_manifest_parse(json, len, &m, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "stasis.manifest: nested deeper"));
	err = stasis_error_free(err);
	char *text = NULL;
	struct oci_spec_edit e = { .root_path = "/r" };
	assert_int_equal(oci_spec_edit(json, len, "spec.dump", &e, &text, NULL, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "spec.dump: nested deeper than 64 levels"));
	err = stasis_error_free(err);
	char *member = NULL;
	assert_int_equal(oci_json_member_string(json, len, "x", &member), -EINVAL);
	alarm(0);
	print_message("%zu levels refused in %.3f s\n", depth, seconds_since(&t0));
	free(json);
}

/* 1.9 million levels in 3.8 MB: under the 4 MiB cap, and a SIGSEGV in yajl_tree_free before */
static void million_levels_refused(void **state)
{
	(void)state;
	size_t len;
	free(nested(1900000, &len));
	assert_true(len < OCI_MAX_JSON);
	expect_refused(1900000);
}

/* 30,000 levels made the spec rewrite take 895 MB */
static void thirty_thousand_levels_refused(void **state)
{
	(void)state;
	expect_refused(30000);
}

/* past 128 levels yajl_gen wrote invalid JSON; 65 is the first depth refused */
static void past_the_cap_refused(void **state)
{
	(void)state;
	expect_refused(129);
	expect_refused(65);
}

/* 64 levels (OCI documents nest about 10) parse, and the rewrite keeps them */
static void sixty_four_levels_accepted(void **state)
{
	(void)state;
	size_t len;
	char *json = nested(64, &len);
	struct oci_config *c = NULL;
	assert_int_equal(oci_config_parse(json, len, "config.json", &c, NULL), 0);
	oci_config_free(c);
	char *text = NULL;
	size_t text_len = 0;
	struct oci_spec_edit e = { .root_path = "/r" };
	assert_int_equal(oci_spec_edit(json, len, "spec.dump", &e, &text, &text_len, NULL), 0);
	assert_int_equal(oci_config_parse(text, text_len, "edited", &c, NULL), 0);
	oci_config_free(c);
	free(text);
	free(json);
}

/* brackets in strings are text, whatever the escapes around them */
static void brackets_in_strings_not_counted(void **state)
{
	(void)state;
	struct stasis_error *err = NULL;
	struct oci_config *c = NULL;
	/* 1000 brackets in a string, after an escaped quote that does not end it */
	char *deep_text = xmalloc(2000);
	char *p = deep_text;
	p += snprintf(p, 32, "{\"x\":\"a\\\"");
	memset(p, '[', 1000);
	p += 1000;
	p += snprintf(p, 32, "\\\\\",\"y\":\"{{\"}");
	assert_int_equal(oci_config_parse(deep_text, strlen(deep_text), "config.json", &c, &err), 0);
	oci_config_free(c);
	free(deep_text);
	/* an escaped backslash ends before the quote: what follows is nesting again */
	size_t len;
	char *json = nested(66, &len);
	char *after = xasprintf("{\"s\":\"\\\\\",%s", json + 1);
	assert_int_equal(oci_config_parse(after, strlen(after), "config.json", &c, &err), -EINVAL);
	assert_non_null(strstr(stasis_error_message(err), "nested deeper than 64"));
	err = stasis_error_free(err);
	free(after);
	free(json);
	/* \u escapes and keys that look like brackets */
	static const char keys[] = "{\"[[[[\":{\"\\u005b\":\"]]]]\"},\"root\":{\"path\":\"/r\"}}";
	assert_int_equal(oci_config_parse(keys, strlen(keys), "config.json", &c, NULL), 0);
	assert_string_equal(c->root_path, "/r");
	oci_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(million_levels_refused),
		cmocka_unit_test(thirty_thousand_levels_refused),
		cmocka_unit_test(past_the_cap_refused),
		cmocka_unit_test(sixty_four_levels_accepted),
		cmocka_unit_test(brackets_in_strings_not_counted),
	};
	return cmocka_run_group_tests_name("oci-json-depth", tests, NULL, NULL);
}
