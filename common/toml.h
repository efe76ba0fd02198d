/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A reader for the part of TOML 1.0 that container engines' configuration files use (podman's
 * containers.conf, containerd's config.toml, CRI-O's crio.conf): table headers, `key = value`,
 * strings, booleans, arrays of strings spanning lines, comments.  Other values (numbers, dates,
 * inline tables, arrays of those) are read for their extent and kept as raw text.  It reads, it
 * does not validate: a duplicate key or a mixed array that the engines' TOML libraries refuse
 * passes here, so a file it reads may still be one the engine refuses.
 */
#ifndef STASIS_COMMON_TOML_H
#define STASIS_COMMON_TOML_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cleanup.h"

struct stasis_error;

enum toml_kind {
	TOML_STRING,
	TOML_BOOL,
	TOML_ARRAY, /* its string members; other members are skipped */
	TOML_OTHER, /* a number, a date, an inline table: the raw text */
};

/* One `key = value`. */
struct toml_entry {
	/* the table's key path, NULL-terminated, quotes removed: [a."b.c"] is {"a", "b.c"}; a dotted
	 * key's leading parts are appended (a.b = 1 under [t] is key b of table {"t", "a"}) */
	char **table;
	char *key;
	enum toml_kind kind;
	char *string;	   /* TOML_STRING: escapes decoded; TOML_OTHER: the raw text */
	bool boolean;	   /* TOML_BOOL */
	char **array;	   /* TOML_ARRAY: NULL-terminated */
	unsigned int line; /* of the key, from 1 */
};

struct toml_doc {
	struct toml_entry *e; /* in the order of the file */
	size_t n;
};

/*
 * Reads text (a whole file; what names it in messages).  Returns 0, or -EBADMSG with err saying
 * where ("`what`: line 3: ...") for text that is not TOML this reader knows.
 */
int toml_parse(const char *text, const char *what, struct toml_doc *ret, struct stasis_error **err);
void toml_doc_clear(struct toml_doc *d);
DEFINE_CLEANUP_CLEAR(struct toml_doc, toml_doc_clear)

/* A table's key path for the two below: TOML_PATH("engine", "runtimes") */
#define TOML_PATH(...) ((const char *const[]){ __VA_ARGS__, NULL })
/* Whether e's table is exactly path (NULL-terminated). */
bool toml_table_is(const struct toml_entry *e, const char *const *path);
/* Whether e's table starts with path (NULL-terminated). */
bool toml_table_under(const struct toml_entry *e, const char *const *path);
/* e's table as TOML writes it, parts that are no bare key quoted: plugins."io.containerd".x */
char *toml_table_name(const struct toml_entry *e);

#endif
