/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting for processes: children we forked, and processes we only know by pid. */
#ifndef STASIS_COMMON_PROCESS_H
#define STASIS_COMMON_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in microseconds: for durations, never for dates */
uint64_t monotonic_us(void);

/*
 * Waits up to timeout_ms for pid to exit (a pidfd polls readable then, reaped or not): 0, also
 * when there is no such process; -ETIMEDOUT; or -errno when it cannot be watched.
 */
int pid_wait_exit(pid_t pid, int timeout_ms);
/*
 * In the calling thread (and the threads it starts), a write to a pipe whose reader went away is
 * EPIPE, never a SIGPIPE that ends the whole process: for threads that feed another process.
 */
void thread_block_sigpipe(void);

/*
 * Reaps the child pid: its exit status, or 255 when a signal ended it.  Our helper children exit
 * with the number of the step that failed, so the status names the step.
 */
int child_wait_exit_code(pid_t pid);

/*
 * Whether pid is stopped (SIGSTOP, state T) or stopped by a tracer (t): CRIU cannot seize such a
 * task in a frozen cgroup and waits for it until its timeout.  A task that is gone is not.
 */
bool proc_is_stopped(pid_t pid);

/* stdin, stdout and stderr on /dev/null: for a child whose output nobody reads */
void stdio_to_devnull(void);

/*
 * Closes every fd from `from` up except those in keep (sorted ascending, each >= from), which
 * stay open and lose FD_CLOEXEC: for a child about to exec, or to hold on to just those.
 */
void close_fds_except(int from, const int *keep, size_t n);

/* a cgroup's cgroup.procs: one line a process; more than this is not a container's */
#define CGROUP_PROCS_MAX (16u << 20)

/*
 * Appends the pids listed in a cgroup.procs file to *pids (grown with xgrow from *n): the count
 * appended, or -errno when the file cannot be read (a cgroup that is gone: -ENOENT).
 */
int cgroup_procs_read(const char *path, pid_t **pids, size_t *n);

#endif
