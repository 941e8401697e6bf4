/*
 * charset.h - text in another charset converted to UTF-8 (see charset.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CHARSET_H
#define PM_CHARSET_H

#include <stddef.h>

/* Convert in[0..n) from the charset cs (a name iconv knows) to UTF-8 into
 * out[0..cap), up to where out is full: an invalid or incomplete sequence
 * is a byte skipped, written as bad unless bad is '\0'. The length written
 * (no NUL added), or -1 when iconv cannot convert from cs (out untouched). */
long pm_charset_to_utf8(const char *cs, const char *in, size_t n, char *out, size_t cap, char bad);

#endif
