/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit/unit.h"

#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "common/parse.h"
#include "common/xalloc.h"

static void error_chain(void **state)
{
	(void)state;
	struct stasis_error *err = NULL;
	int r = error_set(&err, ENOENT, "open source `%s`", "/srv/x");
	assert_int_equal(r, -ENOENT);
	r = error_wrap(&err, r, "external mount `%s`", "/data");
	r = error_wrap(&err, r, "checkpoint");
	assert_int_equal(r, -ENOENT);
	assert_int_equal(stasis_error_errno(err), ENOENT);
	assert_string_equal(
		stasis_error_message(err),
		"checkpoint: external mount `/data`: open source `/srv/x`: No such file or directory");
	assert_null(stasis_error_criu_log(err));
	assert_null(stasis_error_criu_lines(err)[0]);
	stasis_error_free(err);
}

static void first_error_wins(void **state)
{
	(void)state;
	struct stasis_error *err = NULL;
	error_setx(&err, EINVAL, "first");
	int r = error_setx(&err, -EPROTO, "second");
	assert_int_equal(r, -EPROTO);
	assert_string_equal(stasis_error_message(err), "first");
	assert_int_equal(stasis_error_errno(err), EINVAL);
	stasis_error_free(err);
}

static void null_err_is_fine(void **state)
{
	(void)state;
	assert_int_equal(error_set(NULL, EIO, "x"), -EIO);
	assert_int_equal(error_wrap(NULL, -EIO, "x"), -EIO);
	assert_null(stasis_error_free(NULL));
	error_set_hint(NULL, NULL);
}

static void zero_errno_becomes_eio(void **state)
{
	(void)state;
	struct stasis_error *err = NULL;
	assert_int_equal(error_setx(&err, 0, "x"), -EIO);
	stasis_error_free(err);
}

static void parsing(void **state)
{
	(void)state;
	uint64_t u;
	int i;
	pid_t p;
	assert_int_equal(parse_u64("18446744073709551615", &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", &u), -ERANGE);
	assert_int_equal(parse_u64("12x", &u), -EINVAL);
	assert_int_equal(parse_u64("", &u), -EINVAL);
	assert_int_equal(parse_u64("-1", &u), -EINVAL);
	assert_int_equal(parse_u64(" 1", &u), -EINVAL);
	assert_int_equal(parse_int("-2147483648", &i), 0);
	assert_int_equal(i, -2147483647 - 1);
	assert_int_equal(parse_int("2147483648", &i), -ERANGE);
	assert_int_equal(parse_pid("0", &p), -ERANGE);
	assert_int_equal(parse_pid("42", &p), 0);
	assert_int_equal(p, 42);
}

/* what CRIU's error lines become in one message: joined, nothing for none */
static void strv_joined(void **state)
{
	(void)state;
	char *three[] = { (char *)"a", (char *)"bc", (char *)"", NULL };
	char *s = strv_join(three, "; ");
	assert_string_equal(s, "a; bc; ");
	free(s);
	s = strv_join(NULL, "\n");
	assert_string_equal(s, "");
	free(s);
	char *one[] = { (char *)"only", NULL };
	s = strv_join(one, "\n");
	assert_string_equal(s, "only");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_chain),	    cmocka_unit_test(first_error_wins),
		cmocka_unit_test(null_err_is_fine), cmocka_unit_test(zero_errno_becomes_eio),
		cmocka_unit_test(parsing),	    cmocka_unit_test(strv_joined),
	};
	return cmocka_run_group_tests_name("common-error", tests, NULL, NULL);
}
