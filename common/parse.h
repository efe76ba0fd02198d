/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_COMMON_PARSE_H
#define STASIS_COMMON_PARSE_H

#include <stdint.h>
#include <sys/types.h>

/* Whole-string decimal parsing: no sign surprises, no trailing junk, range checked.  0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *ret);
int parse_int(const char *s, int *ret);
int parse_uint(const char *s, unsigned int *ret);
int parse_pid(const char *s, pid_t *ret);

#endif
