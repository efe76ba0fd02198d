/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Holding the container still while its archive is written: stasis freezes the container's
 * cgroup v1 freezer itself before CRIU dumps it.  CRIU leaves a cgroup that was frozen before it
 * started frozen after a leave-running dump (checked here with CRIU 4.2.1), so the container
 * neither runs on nor dies until stasis decides: thawed when anything fails, killed once the
 * archive is durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/parse.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/checkpoint/checkpoint-internal.h"

#define FREEZER_STATE "freezer.state"
#define FREEZER_FROZEN "FROZEN"
#define FREEZER_THAWED "THAWED"
/* cgroup v1's freezer announces nothing: its state is read again every FREEZER_STEP_MS, as CRIU does */
#define FREEZER_STEP_MS 10
#define FREEZER_TIMEOUT_MS 10000
/* freezer.state holds one word */
#define FREEZER_STATE_MAX 64

static int write_state(const char *dir, const char *state, struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, FREEZER_STATE);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, state, strlen(state)) != (ssize_t)strlen(state))
		return error_set(err, errno, "write %s to `%s`", state, path);
	return 0;
}

bool ckpt_frozen(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, FREEZER_STATE);
	cleanup_free char *state = NULL;
	if (read_file_capped(path, FREEZER_STATE_MAX, &state, NULL, NULL) < 0)
		return false;
	return strncmp(state, FREEZER_FROZEN, strlen(FREEZER_FROZEN)) == 0;
}

int ckpt_freeze(const char *dir, struct stasis_error **err)
{
	int r = write_state(dir, FREEZER_FROZEN, err);
	if (r < 0)
		return r;
	/* FREEZING until every task has stopped in the kernel */
	for (unsigned waited = 0; waited < FREEZER_TIMEOUT_MS; waited += FREEZER_STEP_MS) {
		if (ckpt_frozen(dir))
			return 0;
		struct timespec step = { 0, FREEZER_STEP_MS * 1000000L };
		nanosleep(&step, NULL);
	}
	(void)write_state(dir, FREEZER_THAWED, NULL);
	return error_setx(err, ETIMEDOUT,
			  "freezer `%s` did not freeze within %u ms (a task in uninterruptible sleep?): "
			  "thawed again",
			  dir, FREEZER_TIMEOUT_MS);
}

int ckpt_thaw(const char *dir, struct stasis_error **err)
{
	return write_state(dir, FREEZER_THAWED, err);
}

/* the processes of the freezer's cgroup */
static int cgroup_pids(const char *dir, pid_t **ret, size_t *ret_n, struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/cgroup.procs", dir);
	*ret = NULL;
	*ret_n = 0;
	int r = cgroup_procs_read(path, ret, ret_n);
	return r < 0 ? error_set(err, r, "read `%s`", path) : 0;
}

int ckpt_refuse_stopped(const char *dir, struct stasis_error **err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	int r = cgroup_pids(dir, &pids, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (proc_is_stopped(pids[i]))
			r = error_setx(
				err, EBUSY,
				"pid %d is stopped (SIGSTOP or a tracer's stop): CRIU cannot seize a "
				"stopped task in a frozen cgroup and would wait for it until its timeout; "
				"send it SIGCONT first",
				(int)pids[i]);
	return r;
}

int ckpt_kill_frozen(const char *dir, struct stasis_error **err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	int r = cgroup_pids(dir, &pids, &n, err);
	/*
	 * SIGKILL is queued while the tasks are frozen and acted on before they run a single
	 * instruction of their own once thawed: nothing the container does after its dump survives
	 */
	for (size_t i = 0; r == 0 && i < n; i++)
		if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
			r = error_set(err, errno, "kill pid %d of `%s`", (int)pids[i], dir);
	return r < 0 ? r : ckpt_thaw(dir, err);
}
