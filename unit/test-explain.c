/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The explainer's catalog: every signature against a log line, none against clean logs. */
#include "unit/unit.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fs.h"
#include "engine/criu/explain.h"

/*
 * One line per signature.  "real" ones were captured from failed runs on the development
 * machine (Debian 12, kernel 6.18, CRIU 4.2.1/3.17); the others are written from CRIU's message.
 */
static const struct {
	const char *id;
	const char *line;
} lines[] = {
	{ "lsm-transport-socket", "(00.101893) Error (compel/src/lib/infect.c:1131): Unable to connect a "
				  "transport socket: Permission denied" },
	{ "seccomp-suspend",
	  "(00.031230) Error (compel/src/lib/infect.c:370): suspending seccomp failed: Invalid argument" },
	{ "detach-after-infection",
	  "(00.040102) Error (compel/src/lib/infect.c:1380): Unable to detach from 4123: No such process" },
	/* real */
	{ "pid-taken",
	  "(00.061772)      1: Error (criu/cr-restore.c:1533): Can't fork for 20644: File exists" },
	{ "pid-mismatch", "(00.061801) Error (criu/cr-restore.c:1580): Pid 31 do not match expected 1" },
	/* real: a runc container with rootfsPropagation rslave restored with runc */
	{ "mount-sharing",
	  "(00.080626)      1: Error (criu/mount-v2.c:897): mnt-v2: Failed to copy sharing from "
	  "-1:/run/runc/dr8-r/criu-root to 3: Invalid argument" },
	{ "mount-no-root",
	  "(00.150425) Error (criu/mount.c:753): mnt: 730:./etc/hosts doesn't have a proper root mount" },
	/* real: connected to a host listener through a bind mount */
	{ "unix-half-stream", "(00.161897) Error (criu/sk-unix.c:881): unix: Can't dump half of stream unix "
			      "connection. name: (null); peer name: /tmp/stasis-ct/dr6/data/host.sock" },
	{ "unix-external", "(00.062110) Error (criu/sk-unix.c:833): sk unix: External socket is used. "
			   "Consider using --ext-unix-sk option." },
	{ "unix-relative-path", "(00.062210) Error (criu/sk-unix.c:1400): sk unix: Unix socket 0x1234 has a "
				"relative path foo.sock" },
	{ "tcp-established", "(00.052830) Error (criu/sk-inet.c:191): inet: Connected TCP socket, consider "
			     "using --tcp-established option." },
	/* real */
	{ "tcp-unreachable", "(00.084191)     12: Error (soccr/soccr.c:529): Can't connect inet socket back: "
			     "Network is unreachable" },
	{ "sockopt-old-criu",
	  "(00.044012) Error (criu/sockets.c:594): Can't get 1:16 opt: Operation not supported" },
	/* real, Debian 12's criu 3.17 */
	{ "vdso-bounds", "(00.004890) Error (criu/vdso.c:627): vdso: Unexpected rt vDSO area bounds" },
	{ "lookup-mount",
	  "(00.070414) Error (criu/files-reg.c:1718): Can't lookup mount=23 for fd=1 path=/tmp/x.log" },
	/* real */
	{ "file-bad-size", "(00.100471)      9: Error (criu/files-reg.c:2175): File data/received has bad "
			   "size 0 (expect 42)" },
	/* real */
	{ "file-missing", "(00.067413)      1: Error (criu/files-reg.c:2353): Can't open file data/keep on "
			  "restore: No such file or directory" },
	/* real: runc restore after `chmod 0700 rootfs` (unit/data/criu-bad-mode-root-restore.log) */
	{ "rootfs-bad-mode", "(00.107912)      1: Error (criu/files-reg.c:2294): File . has bad mode "
			     "040700 (expect 040755)" },
	/* real: the open data/keep chmod'ed 0600 (unit/data/criu-bad-mode-file-restore.log) */
	{ "file-bad-mode", "(00.093052)      1: Error (criu/files-reg.c:2294): File data/keep has bad "
			   "mode 0100600 (expect 0100644)" },
	/* real: restored with a config.json lacking the /data bind (criu-no-mapping-restore.log) */
	{ "ext-mount-unmapped",
	  "(00.043697) Error (criu/mount.c:3141): mnt: No mapping for 148:(null) mountpoint" },
	{ "file-locks", "(00.087742) Error (criu/file-lock.c:110): Some file locks are hold by dumping "
			"tasks! You can try --file-locks to dump them." },
	/* real: strace attached to the container's init */
	{ "ptraced",
	  "(00.037512) Error (criu/seize.c:335): zombie 10626 (comm workload) found while seizing" },
	{ "ptraced", "(00.012771) Error (compel/src/lib/infect.c:157): SEIZE 4017: can't interrupt task: "
		     "Operation not permitted" },
	{ "unsupported-fd",
	  "(00.070212) Error (criu/files.c:525): Can't dump file 5 of that type [20660] (chr 10:200)" },
	{ "compat-32bit", "(00.014001) Error (criu/cr-dump.c:1500): 32-bit tasks are not supported" },
	{ "tty-inherit", "(00.073114)      1: Error (criu/tty.c:1021): tty: Don't have tty to inherit "
			 "session from, aborting" },
	{ "freezer-timeout", "(10.012345) Error (criu/seize.c:542): Timeout reached. Try to interrupt: 0" },
	{ "dirty-tracking",
	  "(00.004412) Error (criu/cr-dump.c:2101): Dirty tracking is OFF. Memory snapshot will not work." },
	{ "network-lock", "(00.042870) Error (criu/util.c:640): execvp(\"iptables-restore\", ...) failed: No "
			  "such file or directory" },
	{ "no-space",
	  "(00.512000) Error (criu/image.c:421): Unable to write pages-1.img: No space left on device" },
	/* the runtime's words, as stasis' error carries them */
	{ "runtime-leftover", "`runc restore` failed (exit 1): container with id exists: web2" },
	{ "ghost-limit", "(00.104296) Error (criu/files-reg.c:1031): Can't dump ghost file "
			 "/dev/shm/nccl-tsD6S7 of 1052672 size, increase limit" },
	{ "link-remap", "(00.104300) Error (criu/files-reg.c:1100): Can't create link remap for /tmp/x. Use "
			"link-remap option." },
	{ "io-uring", "(00.030100) Error (criu/files.c:610): io_uring instances are not supported" },
	{ "btrfs",
	  "(00.030200) Error (criu/mount.c:320): Can't find mount for device 0:44 (btrfs subvolume)" },
	/* real: CRIU run under strace */
	{ "nested-tracer",
	  "(00.088096) Error (criu/kerndat.c:1770): ptrace(PTRACE_TRACEME): Operation not permitted" },
	{ "missing-capability", "(00.000400) Error (criu/crtools.c:300): criu: Operation not permitted: "
				"needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE" },
	{ "pid-taken", "(00.061772)      1: Error (criu/cr-restore.c:1533): Can't fork for 7: File exists" },
};

static void every_signature_names_its_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct explain_finding *f = NULL;
		size_t n = 0;
		explain_text(lines[i].line, &f, &n);
		const struct explain_finding *p = explain_primary(f, n);
		if (!p || strcmp(p->id, lines[i].id) != 0)
			fail_msg("`%s`: expected %s, got %s", lines[i].line, lines[i].id,
				 p ? p->id : "nothing");
		assert_non_null(strstr(p->line, lines[i].line + 14));
		explain_findings_free(f, n);
	}
}

static void the_catalog_is_covered_and_big_enough(void **state)
{
	(void)state;
	assert_true(explain_catalog_size() >= 25);
	for (size_t c = 0; c < explain_catalog_size(); c++) {
		bool tested = false;
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && !tested; i++)
			tested = strcmp(lines[i].id, explain_catalog_id(c)) == 0;
		if (!tested)
			fail_msg("signature %s has no test line", explain_catalog_id(c));
	}
}

static void details_are_filled_in(void **state)
{
	(void)state;
	char *hint = explain_hint(
		"(00.1) Error (criu/files-reg.c:2175): File data/received has bad size 0 (expect 42)");
	assert_non_null(hint);
	assert_non_null(strstr(
		hint,
		"`data/received`, open in the container at checkpoint time, is 0 bytes now but was 42"));
	assert_non_null(strstr(hint, "Fix: "));
	free(hint);
	/* the cause, not its consequence, even when the consequence comes first */
	hint = explain_hint("(0.1) Error (x): Unable to detach from 12: No such process\n"
			    "(0.2) Error (x): Unable to connect a transport socket: Permission denied\n");
	assert_non_null(strstr(hint, "LSM"));
	free(hint);
	/* a log line that is not an error never matches, whatever it mentions */
	assert_null(explain_hint("(00.2) mnt: type btrfs source /dev/vdb mnt_id 44 @ ./data\n"));
}

static void clean_logs_match_nothing(void **state)
{
	(void)state;
	static const char *const logs[] = { UNIT_DATA "/criu-clean-dump.log",
					    UNIT_DATA "/criu-clean-restore.log" };
	for (size_t i = 0; i < 2; i++) {
		char *text = NULL;
		size_t len = 0;
		assert_int_equal(read_file_capped(logs[i], 1 << 24, &text, &len, NULL), 0);
		struct explain_finding *f = NULL;
		size_t n = 0;
		explain_text(text, &f, &n);
		if (n)
			fail_msg("%s: %s matched `%s`", logs[i], f[0].id, f[0].line);
		free(text);
	}
}

static char *read_fixture(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", UNIT_DATA, name);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(read_file_capped(path, 1 << 24, &text, &len, NULL), 0);
	return text;
}

static void details_of_the_new_signatures(void **state)
{
	(void)state;
	char *hint = explain_hint("(00.1) Error (criu/files-reg.c:2294): File . has bad mode 040700 "
				  "(expect 040755)");
	assert_non_null(strstr(hint, "root directory is mode 0700 now but was 0755"));
	assert_non_null(strstr(hint, "`chmod 0755 DIR`"));
	free(hint);
	/* a file other than the root is named, even one whose name starts with a dot */
	hint = explain_hint("(00.1) Error (criu/files-reg.c:2294): File .cache/x has bad mode 0100600 "
			    "(expect 0100644)");
	assert_non_null(strstr(hint, "`.cache/x`, open in the container at checkpoint time, is mode "
				     "0600 now but was 0644"));
	free(hint);
	hint = explain_hint("(00.1) Error (criu/mount.c:3141): mnt: No mapping for 148:(null) "
			    "mountpoint");
	assert_non_null(strstr(hint, "mount 148 of the images is an external (bind) mount"));
	free(hint);
}

/* the verdict of real logs: their last `... FAILED.` or `... finished successfully` line */
static void verdicts_of_real_logs(void **state)
{
	(void)state;
	static const struct {
		const char *log;
		enum explain_verdict v;
	} cases[] = {
		{ "criu-clean-dump.log", EXPLAIN_VERDICT_SUCCEEDED },
		{ "criu-clean-restore.log", EXPLAIN_VERDICT_SUCCEEDED },
		{ "criu-bad-mode-root-restore.log", EXPLAIN_VERDICT_FAILED },
		{ "criu-bad-mode-file-restore.log", EXPLAIN_VERDICT_FAILED },
		{ "criu-no-pages-restore.log", EXPLAIN_VERDICT_FAILED },
		/* CRIU failed before restore_root_task, which prints the verdict */
		{ "criu-no-mapping-restore.log", EXPLAIN_VERDICT_NONE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = read_fixture(cases[i].log);
		if (explain_log_verdict(text) != cases[i].v)
			fail_msg("%s: verdict %d, expected %d", cases[i].log, explain_log_verdict(text),
				 cases[i].v);
		free(text);
	}
	/* a verdict is CRIU's own line, not a message that quotes one */
	assert_int_equal(explain_log_verdict("stasis: Restoring FAILED.\n"), EXPLAIN_VERDICT_NONE);
	assert_int_equal(explain_log_verdict("(00.1) Dumping finished successfully\n(00.2) Error "
					     "(criu/cr-dump.c:2128): Dumping FAILED.\n"),
			 EXPLAIN_VERDICT_FAILED);
}

/* the decisive line: not the RLIMIT one, not the verdict, not a consequence logged after it */
static void the_decisive_line(void **state)
{
	(void)state;
	const char *no_pages[] = {
		"(00.024844) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: "
		"Operation not permitted",
		"(00.072311) pie: 1: Error (criu/pie/restorer.c:1907): Can't read pages data (-9)",
		"(00.072330) pie: 1: Error (criu/pie/restorer.c:2332): Restorer fail 1",
		"(00.072901) Error (criu/cr-restore.c:2331): Restoring FAILED.",
		"(00.074015) Error (criu/cgroup.c:2055): cg: cgroupd: recv req error: No such file or "
		"directory",
	};
	assert_ptr_equal(explain_decisive_line(no_pages, 5), no_pages[1]);
	/* when only consequences are left, the first of them that is not the verdict */
	assert_ptr_equal(explain_decisive_line(no_pages + 2, 3), no_pages[2]);
	assert_null(explain_decisive_line(no_pages + 3, 1));
	assert_null(explain_decisive_line(no_pages, 1));
	assert_true(explain_line_benign(no_pages[0]));
	assert_false(explain_line_benign(no_pages[1]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_signature_names_its_line),
		cmocka_unit_test(the_catalog_is_covered_and_big_enough),
		cmocka_unit_test(details_are_filled_in),
		cmocka_unit_test(clean_logs_match_nothing),
		cmocka_unit_test(details_of_the_new_signatures),
		cmocka_unit_test(verdicts_of_real_logs),
		cmocka_unit_test(the_decisive_line),
	};
	return cmocka_run_group_tests_name("explain", tests, NULL, NULL);
}
