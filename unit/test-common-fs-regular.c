/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A FIFO, a directory or a device where stasis expects a file it reads: refused at once with what
 * it is, never a read that blocks forever in open() (a FIFO waits there for a writer).  Every
 * reader stasis has for a path it is given: read_file_capped (config.json, state, logs), the
 * archive walk (import, verify, inspect, a tar listed), and the public calls on top of them.
 */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/archive/archive.h"
#include "include/stasis.h"
#include "oci/oci.h"

/* a reader that blocks is killed by SIGALRM: the test fails instead of hanging */
#define BLOCKED_SECONDS 5

static char *fifo_in(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	assert_int_equal(mkfifo(p, 0600), 0);
	return p;
}

#define expect_error(call, want, words)                                                                      \
	do {                                                                                                 \
		struct stasis_error *e_ = NULL;                                                              \
		alarm(BLOCKED_SECONDS);                                                                      \
		int r_ = (call);                                                                             \
		alarm(0);                                                                                    \
		if (r_ != -(want) || !strstr(stasis_error_message(e_), words))                               \
			fail_msg("%s: %d (%s), expected %d and \"%s\"", #call, r_, stasis_error_message(e_), \
				 -(want), words);                                                            \
		stasis_error_free(e_);                                                                       \
	} while (0)

static void fifo_is_refused_by_every_file_reader(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("fs");
	cleanup_free char *fifo = fifo_in(dir, "config.json");
	cleanup_free char *buf = NULL;
	size_t len = 0;
	expect_error(read_file_capped(fifo, 1 << 20, &buf, &len, &e_), EINVAL,
		     "is a fifo, not a regular file");
	struct oci_config *c = NULL;
	expect_error(oci_config_load(fifo, &c, &e_), EINVAL, "config.json` is a fifo");
	struct stasis_report *rep = NULL;
	expect_error(stasis_doctor_log(fifo, &rep, &e_), EINVAL, "is a fifo, not a regular file");
	/* a character device is not a file either */
	expect_error(read_file_capped("/dev/null", 1 << 20, &buf, &len, &e_), EINVAL,
		     "`/dev/null` is a character device, not a regular file");
	expect_error(read_file_capped(dir, 1 << 20, &buf, &len, &e_), EISDIR, "is a directory");
	/* a regular file still reads */
	cleanup_free char *plain = xasprintf("%s/plain", dir);
	assert_int_equal(write_file_atomic(plain, "{}", 2, 0600, 0, NULL), 0);
	assert_int_equal(read_file_capped(plain, 1 << 20, &buf, &len, NULL), 0);
	assert_string_equal(buf, "{}");
	rm_rf(dir);
}

static void fifo_is_refused_as_an_archive(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("fs");
	cleanup_free char *fifo = fifo_in(dir, "checkpoint.tar.zst");
	cleanup_free char *out = xasprintf("%s/out", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	struct arc_import imp = { 0 };
	expect_error(arc_import(fifo, out, NULL, &imp, &e_), EINVAL,
		     "checkpoint.tar.zst` is a fifo, not a regular file");
	size_t members = 0;
	unsigned long long bytes = 0;
	expect_error(arc_verify(fifo, &imp, &members, &bytes, &e_), EINVAL, "is a fifo, not a regular file");
	struct stasis_verify_result res = { .size = sizeof(res) };
	expect_error(stasis_verify(fifo, &res, &e_), EINVAL, "is a fifo, not a regular file");
	struct stasis_inspect_opts io = { .size = sizeof(io), .what = STASIS_INSPECT_PS_TREE };
	struct stasis_inspect *in = NULL;
	expect_error(stasis_inspect(fifo, &io, &in, &e_), EINVAL, "is a fifo, not a regular file");
	char **paths = NULL;
	size_t n = 0;
	expect_error(arc_list_tar(fifo, &paths, &n, &e_), EINVAL, "is a fifo, not a regular file");
	cleanup_free char *root = xasprintf("%s/root", dir);
	assert_int_equal(mkdir(root, 0755), 0);
	expect_error(arc_apply_tree(fifo, root, NULL, NULL, &e_), EINVAL, "is a fifo, not a regular file");
	/* nothing was written for the refused archive */
	assert_int_equal(rmdir(out), 0);
	rm_rf(dir);
}

/* a directory given as the archive says so, not "open: read" */
static void directory_is_refused_as_an_archive(void **state)
{
	(void)state;
	cleanup_free char *dir = unit_tmpdir("fs");
	cleanup_free char *not_archive = xasprintf("%s/checkpoint.tar", dir);
	assert_int_equal(mkdir(not_archive, 0700), 0);
	cleanup_free char *out = xasprintf("%s/out", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	struct arc_import imp = { 0 };
	expect_error(arc_import(not_archive, out, NULL, &imp, &e_), EISDIR, "checkpoint.tar` is a directory");
	size_t members = 0;
	unsigned long long bytes = 0;
	expect_error(arc_verify(not_archive, &imp, &members, &bytes, &e_), EISDIR, "is a directory");
	char **paths = NULL;
	size_t n = 0;
	expect_error(arc_list_tar(not_archive, &paths, &n, &e_), EISDIR, "is a directory");
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo_is_refused_by_every_file_reader),
		cmocka_unit_test(fifo_is_refused_as_an_archive),
		cmocka_unit_test(directory_is_refused_as_an_archive),
	};
	return cmocka_run_group_tests_name("common-fs-regular", tests, NULL, NULL);
}
