/*
 * slurp.h - read a whole test fixture into memory (unit tests).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_TEST_SLURP_H
#define PM_TEST_SLURP_H

#include <stddef.h>

/* Read a whole file into a malloc'd buffer with room for one more byte;
 * NULL when it cannot be read. *len gets its length. */
unsigned char *slurp(const char *path, size_t *len);

#endif
