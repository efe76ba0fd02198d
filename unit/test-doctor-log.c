/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a failed CRIU log says, on real logs (unit/data/criu-*-restore.log, captured on this
 * machine with CRIU 4.2.1 under runc 1.1.5): `stasis doctor --log`'s findings and exit rule (a
 * blocker for every failed log, none for a clean one), and the CRIU lines a failed call's error
 * carries (never the benign RLIMIT_NOFILE one).
 */
#include "unit/unit.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "stasis.h"

#define RLIMIT_LINE "Can't setup RLIMIT_NOFILE"

static const struct {
	const char *log;
	const char *id;	     /* the blocker, NULL: none */
	const char *subject; /* in the blocker's subject */
} cases[] = {
	{ "criu-bad-mode-root-restore.log", "rootfs-bad-mode", "File . has bad mode 040700" },
	{ "criu-bad-mode-file-restore.log", "file-bad-mode", "File data/keep has bad mode" },
	/* no verdict (CRIU fails before it prints one), and still a failure */
	{ "criu-no-mapping-restore.log", "ext-mount-unmapped", "No mapping for 148:" },
	/* a failure the catalog does not know: the first error line that is not a consequence */
	{ "criu-no-pages-restore.log", "criu-error", "Can't read pages data (-9)" },
	/* crun 1.28's and podman+crun's, captured with the crun of .deps/crun */
	{ "criu-no-mapping-crun-mask-restore.log", "ext-mount-unmapped", "No mapping for 50:" },
	{ "criu-no-mapping-dev-null-key-crun-restore.log", "ext-mount-unmapped", "No mapping for 116:" },
	{ "criu-bad-root-mode-restore.log", "rootfs-bad-mode", "File . has bad mode 040755 (expect 040555)" },
	{ "criu-clean-restore.log", NULL, NULL },
	{ "criu-clean-dump.log", NULL, NULL },
};

static void a_failed_log_has_a_blocker_a_clean_one_none(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = xasprintf("%s/%s", UNIT_DATA, cases[i].log);
		struct stasis_report *r = NULL;
		assert_int_equal(stasis_doctor_log(path, &r, NULL), 0);
		const struct stasis_finding *blocker = NULL;
		size_t n_blockers = 0;
		for (size_t k = 0; k < r->n; k++) {
			if (strstr(r->findings[k].subject, RLIMIT_LINE))
				fail_msg("%s: the RLIMIT_NOFILE line is a finding", cases[i].log);
			if (r->findings[k].severity == STASIS_SEVERITY_BLOCKER) {
				blocker = &r->findings[k];
				n_blockers++;
			}
		}
		if (!cases[i].id) {
			if (stasis_report_worst(r) == STASIS_SEVERITY_BLOCKER)
				fail_msg("%s: blocker %s in a clean log", cases[i].log, blocker->id);
		} else {
			if (!blocker || n_blockers != 1 || strcmp(blocker->id, cases[i].id) != 0)
				fail_msg("%s: %zu blockers, expected %s, got %s", cases[i].log, n_blockers,
					 cases[i].id, blocker ? blocker->id : "none");
			assert_non_null(strstr(blocker->subject, cases[i].subject));
			assert_non_null(blocker->cause);
			assert_non_null(blocker->fix);
		}
		stasis_report_free(r);
		free(path);
	}
}

/* a log cut before CRIU's verdict and before any error: info, not a blocker */
static void a_cut_log_is_incomplete_not_failed(void **state)
{
	(void)state;
	char *dir = unit_tmpdir("doctor-log");
	char *path = xasprintf("%s/restore.log", dir);
	char *cmd = xasprintf("head -n 100 %s/criu-clean-restore.log >%s", UNIT_DATA, path);
	assert_int_equal(system(cmd), 0);
	struct stasis_report *r = NULL;
	assert_int_equal(stasis_doctor_log(path, &r, NULL), 0);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->findings[0].id, "criu-log-incomplete");
	assert_int_equal(r->findings[0].severity, STASIS_SEVERITY_INFO);
	stasis_report_free(r);
	unlink(path);
	rmdir(dir);
	free(cmd);
	free(path);
	free(dir);
}

/* the lines that matter never include the benign RLIMIT_NOFILE line, whatever the log */
static void the_rlimit_line_never_matters(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = xasprintf("%s/%s", UNIT_DATA, cases[i].log);
		char **lines = cr_log_errors(path, 20);
		for (size_t k = 0; lines && lines[k]; k++)
			if (strstr(lines[k], RLIMIT_LINE))
				fail_msg("%s: `%s` collected", cases[i].log, lines[k]);
		/* every fixture has it, and a failed one has lines that do matter */
		if (cases[i].id)
			assert_non_null(lines);
		strv_freep(&lines);
		free(path);
	}
}

/*
 * A failed call's error, as the CLI prints it: CRIU's reply carries its first error, which is
 * the benign line on this host; neither the message nor the CRIU lines show it.
 */
static void a_failed_call_names_the_decisive_line(void **state)
{
	(void)state;
	static const struct {
		const char *log, *cause;
	} calls[] = {
		{ "criu-no-pages-restore.log", "CRIU restore: CRIU: Can't read pages data (-9) (log `" },
		{ "criu-bad-mode-root-restore.log",
		  "CRIU restore: CRIU: File . has bad mode 040700 (expect 040755) (log `" },
		{ "criu-no-mapping-restore.log",
		  "CRIU restore: CRIU: mnt: No mapping for 148:(null) mountpoint (log `" },
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		char *path = xasprintf("%s/%s", UNIT_DATA, calls[i].log);
		struct rpc_result res = {
			.success = false,
			.cr_errmsg = (char *)"rlimit: " RLIMIT_LINE " for self: Operation not permitted",
		};
		struct stasis_error *err = NULL;
		assert_true(cr_fail(&err, "CRIU restore", &res, path) < 0);
		const char *msg = stasis_error_message(err);
		if (strncmp(msg, calls[i].cause, strlen(calls[i].cause)) != 0)
			fail_msg("message `%s`, expected `%s...`", msg, calls[i].cause);
		const char *const *lines = stasis_error_criu_lines(err);
		assert_non_null(lines[0]);
		for (size_t k = 0; lines[k]; k++)
			assert_null(strstr(lines[k], RLIMIT_LINE));
		stasis_error_free(err);
		free(path);
	}
	/* no log: CRIU's reply is all there is, and the benign line is not a cause */
	struct rpc_result res = { .cr_errmsg = (char *)"rlimit: " RLIMIT_LINE " for self: x" };
	struct stasis_error *err = NULL;
	assert_true(cr_fail(&err, "CRIU dump", &res, NULL) < 0);
	assert_string_equal(stasis_error_message(err), "CRIU dump: CRIU failed");
	stasis_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_failed_log_has_a_blocker_a_clean_one_none),
		cmocka_unit_test(a_cut_log_is_incomplete_not_failed),
		cmocka_unit_test(the_rlimit_line_never_matters),
		cmocka_unit_test(a_failed_call_names_the_decisive_line),
	};
	return cmocka_run_group_tests_name("doctor-log", tests, NULL, NULL);
}
