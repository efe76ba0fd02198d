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

#endif
