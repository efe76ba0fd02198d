/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The explainer: CRIU log signatures -> what the kernel or the container is doing that CRIU
 * refuses, and which flag or change fixes it.  Applied to every failed checkpoint or restore
 * (the error's hint) and on demand (`stasis doctor --log FILE`).
 */
#ifndef STASIS_ENGINE_EXPLAIN_H
#define STASIS_ENGINE_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

struct explain_finding {
	const char *id; /* the signature's stable name, e.g. "tcp-established" */
	char *line;	/* the log line that matched */
	char *cause;	/* with the details of that line filled in */
	char *fix;
	bool secondary; /* a consequence of an earlier failure, not its cause */
};

/* The number of signatures in the catalog. */
size_t explain_catalog_size(void);
/* The signature ids, for tests and docs: index < explain_catalog_size(). */
const char *explain_catalog_id(size_t index);

/* Findings for text (a whole log or a message), in the order their lines come; one per id. */
void explain_text(const char *text, struct explain_finding **ret, size_t *ret_n);
void explain_findings_free(struct explain_finding *f, size_t n);
/* The finding that names the cause: the first that is not a consequence, else the first. */
const struct explain_finding *explain_primary(const struct explain_finding *f, size_t n);
/* "cause Fix: fix" of the primary finding of text, or NULL (malloc'ed). */
char *explain_hint(const char *text);

/* What a CRIU log says of its run, from its last verdict line. */
enum explain_verdict {
	EXPLAIN_VERDICT_NONE,	   /* no verdict: cut short, still running, or an early abort */
	EXPLAIN_VERDICT_FAILED,	   /* "Restoring FAILED.", "Dumping FAILED.", ... */
	EXPLAIN_VERDICT_SUCCEEDED, /* "Restore finished successfully", "Dumping finished ..." */
};
enum explain_verdict explain_log_verdict(const char *text);

/* An error line CRIU prints on runs that succeed (a failed RLIMIT_NOFILE raise): never shown. */
bool explain_line_benign(const char *line);
/* An error line that never names a cause: CRIU's verdict, or a consequence of an earlier error. */
bool explain_line_consequence(const char *line);
/*
 * The decisive line of CRIU's error lines (in log order): the first that is neither benign nor a
 * consequence; else the first consequence that is not a verdict; else NULL.
 */
const char *explain_decisive_line(const char *const *lines, size_t n);

#endif
