/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Task states on a real checkpoint (unit/data/task-states, made by unit/data/make-task-states.sh
 * with CRIU 4.2.1 here: the workload, alive, with a zombie child and a stopped child).  CRIU writes
 * the zombie as TASK_DEAD with a core image and nothing else; the stopped task is dumped whole.
 * Pids and the workload's directory differ from one regeneration to the next: tasks are found by
 * comm, files by their last path component.
 */
#include "unit/unit.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/images/reader.h"
#include "engine/names.h"
#include "include/stasis.h"

#define DIR UNIT_DATA "/task-states"

static struct image_blob load(const char *name, char **ret_data)
{
	char *path = xasprintf("%s/%s", DIR, name);
	size_t len = 0;
	assert_int_equal(read_file_capped(path, 1 << 20, ret_data, &len, NULL), 0);
	free(path);
	return (struct image_blob){ .name = name, .data = (const unsigned char *)*ret_data, .len = len };
}

static unsigned core_state(unsigned pid, char **ret_comm)
{
	char *name = xasprintf(CRIU_IMG_ID_FMT(CRIU_IMG_CORE), pid), *data = NULL;
	struct image_blob b = load(name, &data);
	struct img_core c;
	assert_int_equal(image_read_core(&b, &c, NULL), 0);
	unsigned state = c.state;
	*ret_comm = xstrdup(c.comm);
	img_core_clear(&c);
	free(data);
	free(name);
	return state;
}

/* the image reader gives CRIU's numbers: 1 alive, 2 (TASK_DEAD) for the zombie, 3 stopped */
static void core_images_hold_criu_task_states(void **state)
{
	(void)state;
	char *data = NULL;
	struct image_blob b = load(CRIU_IMG_PSTREE, &data);
	struct img_task *t;
	size_t n;
	assert_int_equal(image_read_pstree(&b, &t, &n, NULL), 0);
	free(data);
	assert_int_equal(n, 3);
	bool alive = false, zombie = false, stopped = false;
	for (size_t i = 0; i < n; i++) {
		char *comm = NULL;
		unsigned s = core_state(t[i].pid, &comm);
		if (strcmp(comm, "workload") == 0) {
			alive = s == CR_TASK_ALIVE && t[i].ppid == 0;
		} else if (strcmp(comm, "zombie") == 0) {
			zombie = s == CR_TASK_DEAD && cr_task_is_zombie(s) && t[i].ppid == t[0].pid;
		} else if (strcmp(comm, "stopped") == 0) {
			stopped = s == CR_TASK_STOPPED && !cr_task_is_zombie(s) && t[i].ppid == t[0].pid;
		}
		free(comm);
	}
	assert_true(alive && zombie && stopped);
	assert_true(cr_task_is_zombie(CR_TASK_ZOMBIE));
	assert_false(cr_task_is_zombie(CR_TASK_ALIVE));
	img_tasks_free(t, n);
}

static bool has_file(const struct stasis_inspect_process *p, const char *type, const char *last)
{
	for (size_t i = 0; i < p->n_fds; i++) {
		const char *path = p->fds[i].path, *slash = path ? strrchr(path, '/') : NULL;
		if (strcmp(p->fds[i].type, type) == 0 && slash && strcmp(slash + 1, last) == 0)
			return true;
	}
	return false;
}

/* inspect: the zombie without files and without an error, the stopped task with its own files */
static void inspect_shows_zombie_and_stopped(void **state)
{
	(void)state;
	struct stasis_inspect_opts o = { .size = sizeof(o),
					 .what = STASIS_INSPECT_PS_TREE | STASIS_INSPECT_FILES |
						 STASIS_INSPECT_SOCKETS | STASIS_INSPECT_MOUNTS };
	struct stasis_inspect *in = NULL;
	struct stasis_error *err = NULL;
	int r = stasis_inspect(DIR, &o, &in, &err);
	if (r < 0)
		fail_msg("%s", stasis_error_message(err));
	assert_int_equal(in->n_processes, 3);
	const struct stasis_inspect_process *root = NULL, *zombie = NULL, *stopped = NULL;
	for (size_t i = 0; i < in->n_processes; i++) {
		const struct stasis_inspect_process *p = &in->processes[i];
		if (strcmp(p->comm, "workload") == 0)
			root = p;
		else if (strcmp(p->comm, "zombie") == 0)
			zombie = p;
		else if (strcmp(p->comm, "stopped") == 0)
			stopped = p;
	}
	assert_non_null(root);
	assert_non_null(zombie);
	assert_non_null(stopped);

	assert_string_equal(root->state, "alive");
	assert_true(has_file(root, "REG", "keep") && has_file(root, "REG", "counter"));
	assert_false(has_file(root, "REG", "stopped"));

	assert_string_equal(zombie->state, "zombie");
	assert_int_equal(zombie->ppid, root->pid);
	assert_int_equal(zombie->n_fds, 0);
	assert_int_equal(zombie->n_sockets, 0);
	assert_null(zombie->cwd);
	assert_null(zombie->exe);
	assert_false(zombie->has_creds);

	assert_string_equal(stopped->state, "stopped");
	assert_int_equal(stopped->ppid, root->pid);
	assert_true(has_file(stopped, "REG", "stopped"));
	assert_true(has_file(stopped, "REG", "keep") && has_file(stopped, "REG", "counter"));
	assert_non_null(stopped->cwd);
	assert_string_equal(stopped->cwd, root->cwd);
	assert_true(stopped->has_creds);

	char *json = NULL;
	assert_int_equal(stasis_inspect_json(in, &json, &err), 0);
	assert_non_null(strstr(json, "\"zombie\""));
	assert_non_null(strstr(json, "\"stopped\""));
	free(json);
	stasis_inspect_free(in);
}

/* verify parses every image, the zombie's bare core image included */
static void verify_accepts_the_zombie_core(void **state)
{
	(void)state;
	struct stasis_verify_result res = { .size = sizeof(res) };
	struct stasis_error *err = NULL;
	int r = stasis_verify(DIR, &res, &err);
	if (r < 0)
		fail_msg("%s", stasis_error_message(err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(core_images_hold_criu_task_states),
		cmocka_unit_test(inspect_shows_zombie_and_stopped),
		cmocka_unit_test(verify_accepts_the_zombie_core),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
