/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The public header's rules (include/stasis.h): option structs sized by the caller (0 is refused,
 * a newer caller's unset fields are fine, set ones are E2BIG), result structs filled as far as
 * the caller's size says, destructors returning NULL, and the context's log callback.
 */
#include "unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/stasis.h"

/* a caller compiled against a newer header: the known struct, then one field we do not know */
struct newer_delete_opts {
	struct stasis_delete_opts known;
	const char *from_the_future;
};

static void option_sizes(void **state)
{
	(void)state;
	struct stasis_error *e = NULL;
	struct stasis_delete_opts zero = { .id = "abi-test-none" };
	assert_int_equal(stasis_delete(NULL, &zero, &e), -EINVAL);
	assert_non_null(strstr(stasis_error_message(e), "size field is 0"));
	e = stasis_error_free(e);

	struct newer_delete_opts newer = { .known = { .size = sizeof(newer), .id = "abi-test-none" } };
	newer.from_the_future = "set";
	assert_int_equal(stasis_delete(NULL, &newer.known, &e), -E2BIG);
	assert_non_null(strstr(stasis_error_message(e), "does not know"));
	e = stasis_error_free(e);

	/* unset, the unknown tail is no reason to refuse: the call goes on (and finds no container) */
	newer.from_the_future = NULL;
	int r = stasis_delete(NULL, &newer.known, &e);
	assert_int_not_equal(r, -E2BIG);
	assert_int_not_equal(r, -EINVAL);
	e = stasis_error_free(e);
}

static void result_sizes(void **state)
{
	(void)state;
	struct stasis_error *e = NULL;
	struct stasis_verify_result unsized = { 0 };
	assert_int_equal(stasis_verify(UNIT_DATA "/images", &unsized, &e), -EINVAL);
	e = stasis_error_free(e);

	/* an older caller's smaller struct: only what it knows is written */
	struct {
		struct stasis_verify_result r;
		unsigned char guard[16];
	} older;
	memset(&older, 0xa5, sizeof(older));
	older.r.size = offsetof(struct stasis_verify_result, members);
	assert_int_equal(stasis_verify(UNIT_DATA "/images", &older.r, &e), 0);
	assert_false(older.r.has_manifest);
	unsigned char *tail = (unsigned char *)&older.r + older.r.size;
	for (size_t i = 0; i < sizeof(older) - older.r.size; i++)
		assert_int_equal(tail[i], 0xa5);
}

static void destructors_return_null(void **state)
{
	(void)state;
	struct stasis_report *rep = NULL;
	assert_int_equal(stasis_doctor_log(UNIT_DATA "/criu-clean-dump.log", &rep, NULL), 0);
	assert_null(stasis_report_free(rep));
	assert_null(stasis_report_free(NULL));
	assert_null(stasis_error_free(NULL));
	assert_null(stasis_ctx_free(NULL));
	assert_null(stasis_inspect_free(NULL));
	assert_null(stasis_diff_free(NULL));
	assert_null(stasis_memory_result_free(NULL));
}

struct logged {
	int n;
	enum stasis_log_level worst;
	char first[256];
};

static void on_log(enum stasis_log_level level, const char *msg, void *data)
{
	struct logged *l = data;
	if (!l->n++)
		snprintf(l->first, sizeof(l->first), "%s", msg);
	if (level > l->worst)
		l->worst = level;
}

static void log_callback(void **state)
{
	(void)state;
	struct logged quiet = { 0 }, loud = { 0 };
	struct stasis_ctx *ctx = NULL;
	struct stasis_ctx_opts o = {
		.size = sizeof(o), .criu_path = "/bin/true", .log = on_log, .log_data = &quiet
	};
	assert_int_equal(stasis_ctx_new(&o, &ctx, NULL), 0);
	ctx = stasis_ctx_free(ctx);
	/* the default level is info: the debug line naming CRIU is not passed */
	assert_int_equal(quiet.n, 0);
	o.log_data = &loud;
	o.log_level = STASIS_LOG_DEBUG;
	assert_int_equal(stasis_ctx_new(&o, &ctx, NULL), 0);
	ctx = stasis_ctx_free(ctx);
	assert_int_equal(loud.n, 1);
	assert_int_equal(loud.worst, STASIS_LOG_DEBUG);
	assert_non_null(strstr(loud.first, "/bin/true"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(option_sizes),
		cmocka_unit_test(result_sizes),
		cmocka_unit_test(destructors_return_null),
		cmocka_unit_test(log_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
