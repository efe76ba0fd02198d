/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building doctor reports: host, container and log checks share these. */
#ifndef STASIS_ENGINE_DOCTOR_H
#define STASIS_ENGINE_DOCTOR_H

#include "include/stasis.h"

/* Adds a finding; the strings are copied, fix may be NULL. */
void report_add(struct stasis_report *r, const char *id, enum stasis_severity sev, const char *subject,
		const char *cause, const char *fix);
void report_addf(struct stasis_report *r, const char *id, enum stasis_severity sev, const char *subject,
		 const char *fix, const char *cause_fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
