/*
 * slurp.c - read a whole test fixture into memory (unit tests).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>

#include "slurp.h"

/* Read a whole file; NULL when it cannot be read. */
unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)n, fp);
        if (*len != (size_t)n) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}
