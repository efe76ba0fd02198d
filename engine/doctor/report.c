/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/doctor/doctor-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/engine-internal.h"
#include "engine/criu/explain.h"

void report_add(struct stasis_report *r, const char *id, enum stasis_severity sev, const char *subject,
		const char *fix, const char *cause)
{
	r->findings = xgrow(r->findings, r->n, sizeof(*r->findings));
	r->findings[r->n++] = (struct stasis_finding){
		.id = xstrdup(id),
		.severity = sev,
		.subject = xstrdup(subject ? subject : ""),
		.cause = xstrdup(cause),
		.fix = fix ? xstrdup(fix) : NULL,
	};
}

void report_addf(struct stasis_report *r, const char *id, enum stasis_severity sev, const char *subject,
		 const char *fix, const char *cause_fmt, ...)
{
	va_list ap;
	va_start(ap, cause_fmt);
	cleanup_free char *cause = xvasprintf(cause_fmt, ap);
	va_end(ap);
	report_add(r, id, sev, subject, fix, cause);
}

struct stasis_report *stasis_report_free(struct stasis_report *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		free((char *)r->findings[i].id);
		free((char *)r->findings[i].subject);
		free((char *)r->findings[i].cause);
		free((char *)r->findings[i].fix);
	}
	free(r->findings);
	free(r);
	return NULL;
}

int stasis_report_worst(const struct stasis_report *r)
{
	int worst = -1;
	for (size_t i = 0; r && i < r->n; i++)
		if ((int)r->findings[i].severity > worst)
			worst = (int)r->findings[i].severity;
	return worst;
}

/* Failures a flag fixes; the rest of the catalog stops checkpoint or restore as it is. */
static enum stasis_severity log_severity(const struct explain_finding *f)
{
	static const char *const flags[] = { "tcp-established",	 "file-locks",	"unix-external",
					     "unix-half-stream", "tty-inherit", "link-remap",
					     "ghost-limit" };
	if (f->secondary)
		return STASIS_SEVERITY_INFO;
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (strcmp(f->id, flags[i]) == 0)
			return STASIS_SEVERITY_NEEDS_FLAG;
	return STASIS_SEVERITY_BLOCKER;
}

/* CRIU logs at level 4 run to some MiB for a large container; a log past this is not one */
#define CRIU_LOG_MAX (256u << 20)

int stasis_doctor_log(const char *log_path, struct stasis_report **ret, struct stasis_error **err)
{
	cleanup_free char *text = NULL;
	int r = read_file_capped(log_path, CRIU_LOG_MAX, &text, NULL, err);
	if (r < 0)
		return error_wrap(err, r, "doctor of CRIU log `%s`", log_path);
	struct explain_finding *f = NULL;
	size_t n = 0;
	explain_text(text, &f, &n);
	struct stasis_report *rep = xzalloc(sizeof(*rep));
	for (size_t i = 0; i < n; i++)
		report_add(rep, f[i].id, log_severity(&f[i]), f[i].line, f[i].fix, f[i].cause);
	explain_findings_free(f, n);
	if (n == 0) {
		/* unknown to the catalog: the error lines themselves are the best we have */
		char **lines = cr_log_errors(log_path, 20);
		for (size_t i = 0; lines && lines[i]; i++)
			report_add(rep, "criu-error", STASIS_SEVERITY_INFO, lines[i], NULL,
				   "an error line the catalog does not know");
		strv_freep(&lines);
	}
	*ret = rep;
	return 0;
}
