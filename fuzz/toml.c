/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the TOML reader (common/toml.c): the input as a containers.conf,
 * config.toml or crio.conf, then what doctor asks of each entry.  These files are root's, but the
 * reader is a parser all the same: any input must give entries or an error, never a crash, a leak
 * or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/toml.h"
#include "common/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* doctor reads the file as a string: a NUL ends it */
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct toml_doc d = { 0 };
	struct stasis_error *err = NULL;
	if (toml_parse(text, "fuzz.toml", &d, &err) == 0) {
		for (size_t i = 0; i < d.n; i++) {
			const struct toml_entry *e = &d.e[i];
			(void)toml_table_is(e, TOML_PATH("engine", "runtimes"));
			(void)toml_table_under(e, TOML_PATH("crio", "runtime", "runtimes"));
			free(toml_table_name(e));
			if (e->kind == TOML_ARRAY)
				(void)strv_length(e->array);
		}
		toml_doc_clear(&d);
	}
	stasis_error_free(err);
	free(text);
	return 0;
}
