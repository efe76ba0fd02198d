/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef STASIS_UNIT_H
#define STASIS_UNIT_H

/* cmocka needs these before its header */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#endif
