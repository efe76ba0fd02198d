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

/*
 * A CRIU log's findings.  The catalog's, in the order of their lines; then by the log's verdict
 * (explain_log_verdict()):
 * - failed (a `... FAILED.` line, or no verdict but a decisive error line: CRIU aborts some
 *   restores before it prints one): the cause is a blocker: the catalog's primary finding when it
 *   knows one, else `criu-error` on the decisive line (explain_decisive_line());
 * - succeeded: nothing in it stopped the run: every finding is info;
 * - no verdict and no decisive error line (cut short, killed, still running): `criu-log-incomplete`,
 *   info, since nothing in the log names a failure.
 * Error lines the catalog does not know, other than the decisive one, benign ones and verdicts,
 * are info `criu-error` when the catalog knows nothing of the log.
 */
int stasis_doctor_log(const char *log_path, struct stasis_report **ret, struct stasis_error **err)
{
	cleanup_free char *text = NULL;
	int r = read_file_capped(log_path, CRIU_LOG_MAX, &text, NULL, err);
	if (r < 0)
		return error_wrap(err, r, "doctor of CRIU log `%s`", log_path);
	enum explain_verdict verdict = explain_log_verdict(text);
	char **lines = cr_log_errors(log_path, 20);
	size_t n_lines = strv_length(lines);
	const char *decisive = explain_decisive_line((const char *const *)lines, n_lines);
	bool failed = verdict == EXPLAIN_VERDICT_FAILED || (verdict == EXPLAIN_VERDICT_NONE && decisive);
	struct explain_finding *f = NULL;
	size_t n = 0;
	explain_text(text, &f, &n);
	const struct explain_finding *primary = explain_primary(f, n);
	if (primary && primary->secondary)
		primary = NULL;
	struct stasis_report *rep = xzalloc(sizeof(*rep));
	for (size_t i = 0; i < n; i++) {
		enum stasis_severity sev = log_severity(&f[i]);
		if (verdict == EXPLAIN_VERDICT_SUCCEEDED)
			sev = STASIS_SEVERITY_INFO;
		/* the run failed because of it: a flag fixes the next run, but this one failed */
		else if (failed && &f[i] == primary)
			sev = STASIS_SEVERITY_BLOCKER;
		report_add(rep, f[i].id, sev, f[i].line, f[i].fix, f[i].cause);
	}
	if (failed && !primary) {
		/* the verdict is the subject only when no error line says more */
		const char *subject = decisive;
		for (size_t i = 0; !subject && i < n_lines; i++)
			if (explain_line_consequence(lines[i]))
				subject = lines[i];
		report_add(rep, "criu-error", STASIS_SEVERITY_BLOCKER, subject,
			   "none known to stasis: the log's lines before this one say what CRIU was "
			   "doing when it failed",
			   decisive ? "CRIU failed here: the first error line that is not a consequence "
				      "of another, one the catalog does not know"
				    : "CRIU failed without an error line that names the cause");
	}
	if (n == 0) {
		/* unknown to the catalog: the other error lines are the best we have */
		for (size_t i = 0; i < n_lines; i++)
			if (lines[i] != decisive && (!failed || !explain_line_consequence(lines[i])))
				report_add(rep, "criu-error", STASIS_SEVERITY_INFO, lines[i], NULL,
					   "an error line the catalog does not know");
	}
	if (verdict == EXPLAIN_VERDICT_NONE && !decisive && n == 0)
		report_add(rep, "criu-log-incomplete", STASIS_SEVERITY_INFO, NULL,
			   "look at the error of the stasis call that ran CRIU: it says whether CRIU "
			   "timed out or was killed",
			   "the log ends without CRIU's verdict (`... FAILED.` or `... finished "
			   "successfully`) and without an error line: CRIU was killed (a timeout, a "
			   "signal) or still runs, or the file was cut short");
	explain_findings_free(f, n);
	strv_freep(&lines);
	*ret = rep;
	return 0;
}
