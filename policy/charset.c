/*
 * charset.c - text in another charset converted to UTF-8 with iconv, for the
 * content scanner's encoded words and the bounce parser's texts: a bad byte
 * is skipped (or marked), never an end to the conversion.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <iconv.h>

#include "charset.h"

/* Convert in[0..n) from cs to UTF-8 into out[0..cap); the length, or -1. */
long
pm_charset_to_utf8(const char *cs, const char *in, size_t n, char *out, size_t cap, char bad)
{
    char *ip = (char *)in, *op = out;
    size_t il = n, ol = cap;
    iconv_t cd = iconv_open("UTF-8", cs);

    if (cd == (iconv_t)-1)
        return -1;
    while (il > 0 && ol > 0) {
        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 || errno == E2BIG)
            break;
        if (bad != '\0') { /* an invalid or incomplete sequence: mark it */
            if (ol == 0)
                break;
            *op++ = bad;
            ol--;
        }
        ip++; /* and skip a byte */
        il--;
    }
    iconv(cd, NULL, NULL, &op, &ol);
    iconv_close(cd);
    return (long)(op - out);
}
