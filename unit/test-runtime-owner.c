/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What stasis owns and how it knows (engine/runtime/owner.c): container ids as the runtimes take
 * them, the ownership record, the state directory marker, and clearing a state directory, which
 * touches only one marked for the container (a directory that merely looks like one is left alone);
 * and where a process' cgroups are on the host, which a lazy restore's helpers join.
 */
#include "unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/runtime/runtime-internal.h"
#include "include/stasis.h"
#include "mounts/mounts.h"

static void put(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	assert_int_equal(write_file_atomic(p, text, strlen(text), 0600, 0, NULL), 0);
	free(p);
}

static bool exists(const char *dir, const char *name)
{
	char *p = name ? xasprintf("%s/%s", dir, name) : xstrdup(dir);
	bool r = access(p, F_OK) == 0;
	free(p);
	return r;
}

static void ids_as_runtimes_take_them(void **state)
{
	(void)state;
	const char *good[] = { "a", "rs2-x", "A_b+c.d-e", "9", ".hidden" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(runtime_id_check(good[i], "opts.id", NULL), 0);
	char *longest = xmalloc(RUNTIME_ID_MAX + 2);
	memset(longest, 'x', RUNTIME_ID_MAX);
	longest[RUNTIME_ID_MAX] = '\0';
	assert_int_equal(runtime_id_check(longest, "opts.id", NULL), 0);
	strcat(longest, "x");
	const char *bad[] = { "",    "-x",   "--help",	    ".",   "..",   "a/b",
			      "a b", "a\nb", "caf\xc3\xa9", "a:b", longest };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct stasis_error *e = NULL;
		assert_int_equal(runtime_id_check(bad[i], "opts.id", &e), -EINVAL);
		assert_non_null(strstr(stasis_error_message(e),
				       "a container id is 1 to 240 letters, digits and `_+-.`"));
		stasis_error_free(e);
	}
	assert_int_equal(runtime_id_check(NULL, "opts.id", NULL), -EINVAL);
	free(longest);
}

static void ownership_record(void **state)
{
	(void)state;
	char *dir = unit_tmpdir("owner");
	char *path = xasprintf("%s/rs-a/%s", dir, RUNTIME_OWNER_RECORD);
	struct runtime_owner o = {
		.id = (char *)"rs-a",
		.restorer = getpid(),
		.restorer_start = runtime_proc_start_time(getpid()),
		.state_dir = (char *)"/srv/state/rs-a",
	};
	assert_true(o.restorer_start > 0);
	struct runtime_owner *got = NULL;
	assert_int_equal(runtime_owner_load(path, &got, NULL), -ENOENT);
	assert_int_equal(runtime_owner_save(path, &o, true, NULL), 0);
	/* the claim: a second one is refused, quietly (the caller words it) */
	struct stasis_error *e = NULL;
	assert_int_equal(runtime_owner_save(path, &o, true, &e), -EEXIST);
	assert_null(e);
	assert_int_equal(runtime_owner_load(path, &got, NULL), 0);
	assert_string_equal(got->id, "rs-a");
	assert_false(got->restored);
	assert_null(got->runtime);
	assert_null(got->runtime_root);
	assert_string_equal(got->state_dir, "/srv/state/rs-a");
	/* this very process restores it: alive, unless the start time says another process has the pid */
	assert_true(runtime_owner_restorer_alive(got));
	got->restorer_start++;
	assert_false(runtime_owner_restorer_alive(got));
	got = runtime_owner_free(got);

	o.restored = true;
	o.runtime = (char *)"runc";
	o.runtime_root = (char *)"/run/other-runc";
	assert_int_equal(runtime_owner_save(path, &o, false, NULL), 0);
	assert_int_equal(runtime_owner_load(path, &got, NULL), 0);
	assert_true(got->restored);
	assert_false(runtime_owner_restorer_alive(got));
	assert_string_equal(got->runtime, "runc");
	assert_string_equal(got->runtime_root, "/run/other-runc");
	got = runtime_owner_free(got);

	/* a dead restorer */
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	o.restorer_start = runtime_proc_start_time(child);
	waitpid(child, NULL, 0);
	o.restorer = child;
	o.restored = false;
	assert_int_equal(runtime_owner_save(path, &o, false, NULL), 0);
	assert_int_equal(runtime_owner_load(path, &got, NULL), 0);
	assert_false(runtime_owner_restorer_alive(got));
	got = runtime_owner_free(got);

	put(dir, "rs-a/" RUNTIME_OWNER_RECORD, "{\"id\":\"rs-a\",\"status\":\"maybe\"}");
	assert_int_equal(runtime_owner_load(path, &got, &e), -EBADMSG);
	assert_non_null(strstr(stasis_error_message(e), "not a stasis ownership record"));
	stasis_error_free(e);
	free(path);
	rm_rf(dir);
	free(dir);
}

static void state_dir_marker(void **state)
{
	(void)state;
	char *dir = unit_tmpdir("owner");
	char *id = NULL;
	bool created = false;
	assert_int_equal(runtime_state_dir_owner(dir, &id, &created), -ENOENT);
	assert_int_equal(runtime_state_dir_mark(dir, "rs-a", false, NULL), 0);
	assert_int_equal(runtime_state_dir_owner(dir, &id, &created), 0);
	assert_string_equal(id, "rs-a");
	assert_false(created);
	free(id);
	struct stasis_error *e = NULL;
	assert_int_equal(runtime_state_dir_mark(dir, "rs-b", true, &e), -EEXIST);
	assert_null(e);

	/* not a marker of ours: a link, or text that is not one */
	char *marker = xasprintf("%s/%s", dir, RUNTIME_STATE_MARKER);
	unlink(marker);
	assert_int_equal(symlink("/etc/hostname", marker), 0);
	assert_int_equal(runtime_state_dir_owner(dir, &id, &created), -EBADMSG);
	unlink(marker);
	put(dir, RUNTIME_STATE_MARKER, "rs-a\nstolen\n");
	assert_int_equal(runtime_state_dir_owner(dir, &id, &created), -EBADMSG);
	unlink(marker);
	put(dir, RUNTIME_STATE_MARKER, "../etc\ncreated\n");
	assert_int_equal(runtime_state_dir_owner(dir, &id, &created), -EBADMSG);
	free(marker);
	rm_rf(dir);
	free(dir);
}

/* a state dir as a restore leaves it, marked for id (created or adopted), plus a file of the caller's */
static char *state_dir_of(const char *top, const char *name, const char *id, bool created)
{
	char *d = xasprintf("%s/%s", top, name);
	assert_int_equal(mkdir(d, 0700), 0);
	char *sub = xasprintf("%s/" STATE_DIR_ARCHIVE, d);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(sub, "spec.dump", "{}");
	free(sub);
	sub = xasprintf("%s/" STATE_DIR_BUNDLE, d);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(sub, "config.json", "{}");
	free(sub);
	put(d, "restore.log", "log");
	put(d, "mine.txt", "the caller's");
	if (id)
		assert_int_equal(runtime_state_dir_mark(d, id, created, NULL), 0);
	return d;
}

static void clearing_touches_only_what_is_marked(void **state)
{
	(void)state;
	char *top = unit_tmpdir("owner");
	/* created by stasis: gone, whatever is in it */
	char *d = state_dir_of(top, "created", "rs-a", true);
	assert_int_equal(runtime_state_dir_clear(d, "rs-a", NULL), 0);
	assert_false(exists(d, NULL));
	free(d);

	/* the caller's: emptied of what stasis put there, the directory and the caller's file stay */
	d = state_dir_of(top, "adopted", "rs-a", false);
	assert_int_equal(runtime_state_dir_clear(d, "rs-a", NULL), 0);
	assert_true(exists(d, NULL));
	assert_true(exists(d, "mine.txt"));
	assert_false(exists(d, STATE_DIR_ARCHIVE));
	assert_false(exists(d, STATE_DIR_BUNDLE));
	assert_false(exists(d, "restore.log"));
	assert_false(exists(d, RUNTIME_STATE_MARKER));
	free(d);

	/* marked for another container, or not marked at all (it only looks like a state dir): untouched */
	const char *ids[] = { "rs-other", NULL };
	for (size_t i = 0; i < 2; i++) {
		d = state_dir_of(top, ids[i] ? "foreign" : "thesis", ids[i], true);
		struct stasis_error *e = NULL;
		assert_int_equal(runtime_state_dir_clear(d, "rs-a", &e), -EPERM);
		assert_non_null(
			strstr(stasis_error_message(e), "is not a state directory stasis made for `rs-a`"));
		stasis_error_free(e);
		assert_true(exists(d, "archive/spec.dump"));
		assert_true(exists(d, "bundle/config.json"));
		assert_true(exists(d, "mine.txt"));
		free(d);
	}
	/* nothing there: nothing to do */
	d = xasprintf("%s/absent", top);
	assert_int_equal(runtime_state_dir_clear(d, "rs-a", NULL), 0);
	free(d);
	rm_rf(top);
	free(top);
}

/* The public entry points refuse a bad id and a directory that is not theirs before touching anything. */
static void public_calls_refuse_first(void **state)
{
	(void)state;
	char *top = unit_tmpdir("owner");
	struct stasis_error *e = NULL;
	struct stasis_delete_opts d = { .size = sizeof(d), .id = "--help", .force = true };
	assert_int_equal(stasis_delete(NULL, &d, &e), -EINVAL);
	assert_non_null(strstr(stasis_error_message(e), "opts.id `--help`: a container id is"));
	e = stasis_error_free(e);

	char *thesis = state_dir_of(top, "thesis", NULL, false);
	d.id = "unit-owner-no-such-container";
	d.state_dir = thesis;
	assert_int_equal(stasis_delete(NULL, &d, &e), -EPERM);
	assert_non_null(strstr(stasis_error_message(e), "left alone"));
	e = stasis_error_free(e);
	assert_true(exists(thesis, "archive/spec.dump"));
	assert_true(exists(thesis, "mine.txt"));

	struct stasis_restore_opts r = { .size = sizeof(r), .id = "-x", .import_path = "/nonexistent" };
	assert_int_equal(stasis_restore(NULL, &r, NULL, &e), -EINVAL);
	assert_string_equal(
		stasis_error_message(e),
		"restore: opts.id `-x`: a container id is 1 to 240 letters, digits and `_+-.`, does "
		"not start with `-` and is not `.` or `..` (the OCI runtimes' rule)");
	e = stasis_error_free(e);
	r.id = "unit-owner-ok";
	r.import_path = top;
	assert_int_equal(stasis_restore(NULL, &r, NULL, &e), -EISDIR);
	assert_non_null(
		strstr(stasis_error_message(e), "is a directory: it takes a checkpoint archive file"));
	e = stasis_error_free(e);
	free(thesis);
	rm_rf(top);
	free(top);
}

struct seen_dirs {
	char text[1024];
};

static void note_dir(const char *controllers, const char *dir, void *data)
{
	struct seen_dirs *s = data;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof(s->text) - len, "%s=%s\n", controllers, dir);
}

/* a hybrid host: v1 controllers (one pair mounted together), a named hierarchy, a unified one */
static void cgroup_dirs_of_a_process(void **state)
{
	(void)state;
	static const char mountinfo[] =
		"30 20 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
		"31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
		"32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
		"33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
		"34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
		/* a mount of part of the pids hierarchy only: what is not below its root is not there */
		"35 30 0:31 /other /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
		"36 30 0:32 /stasis /mnt/freezer rw - cgroup cgroup rw,freezer\n";
	struct mnt_table t = { 0 };
	assert_int_equal(mnt_table_parse(mountinfo, "mountinfo", &t, NULL), 0);
	char proc_cgroup[] = "12:freezer:/stasis/web\n"
			     "11:pids:/stasis/web\n"
			     "10:memory:/stasis/web\n"
			     "9:cpu,cpuacct:/stasis/web\n"
			     "8:blkio:/stasis/web\n"
			     "7:hugetlb:/\n"
			     "1:name=systemd:/stasis/web\n"
			     "0::/stasis/web\n"
			     "garbage\n";
	struct seen_dirs seen = { "" };
	runtime_cgroup_dirs_in(proc_cgroup, &t, note_dir, &seen);
	/* blkio: no mount here; hugetlb: the root, no container's own; pids: not below the mount's root */
	assert_string_equal(seen.text, "freezer=/mnt/freezer/web\n"
				       "memory=/sys/fs/cgroup/memory/stasis/web\n"
				       "cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct/stasis/web\n"
				       "name=systemd=/sys/fs/cgroup/systemd/stasis/web\n"
				       "=/sys/fs/cgroup/unified/stasis/web\n");
	mnt_table_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_as_runtimes_take_them),
		cmocka_unit_test(ownership_record),
		cmocka_unit_test(state_dir_marker),
		cmocka_unit_test(clearing_touches_only_what_is_marked),
		cmocka_unit_test(public_calls_refuse_first),
		cmocka_unit_test(cgroup_dirs_of_a_process),
	};
	return cmocka_run_group_tests_name("runtime-owner", tests, NULL, NULL);
}
