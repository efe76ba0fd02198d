/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/doctor/: `stasis doctor`, what can and cannot be checkpointed, before CRIU is asked:
 * the host (host.c), the container engines configured to run stasis (engines.c), a running
 * container (container.c, unix-peers.c) and a CRIU log (report.c, with criu/explain.c's catalog).
 * Reports are built with these helpers.
 */
#ifndef STASIS_ENGINE_DOCTOR_H
#define STASIS_ENGINE_DOCTOR_H

#include <stddef.h>
#include <sys/types.h>

#include "include/stasis.h"

/* Adds a finding; the strings are copied, fix may be NULL.  Fix comes before cause, as in report_addf. */
void report_add(struct stasis_report *r, const char *id, enum stasis_severity sev, const char *subject,
		const char *fix, const char *cause);
void report_addf(struct stasis_report *r, const char *id, enum stasis_severity sev, const char *subject,
		 const char *fix, const char *cause_fmt, ...) __attribute__((format(printf, 6, 7)));

/* A unix socket and its peer's inode (0: none), as sock_diag reports them. */
struct unix_peer {
	unsigned long ino, peer;
	unsigned int type; /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
};

/* The unix sockets of the network namespace pid is in, with their peers (libnl, sock_diag). */
int netns_unix_peers(pid_t pid, struct unix_peer **ret, size_t *ret_n, struct stasis_error **err);

#endif
