/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_UNIT_H
#define STASIS_UNIT_H

/* cmocka needs these before its header */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh directory /tmp/stasis-unit-<topic>-XXXXXX for one test (malloc'ed); the test removes it. */
static inline char *unit_tmpdir(const char *topic)
{
	size_t len = strlen("/tmp/stasis-unit--XXXXXX") + strlen(topic) + 1;
	char *d = malloc(len);
	assert_non_null(d);
	snprintf(d, len, "/tmp/stasis-unit-%s-XXXXXX", topic);
	assert_non_null(mkdtemp(d));
	return d;
}

#endif
