/*
 * buf.c - a text being built, in a fixed or a growing buffer (see
 * buf.h). A fixed buffer never overruns: what does not fit is cut; a
 * growing one grows until memory runs out, then drops its text.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Build into mem from its start. */
void
pm_buf_fixed(struct pm_buf *b, char *mem, size_t size)
{
    memset(b, 0, sizeof(*b));
    b->p = mem;
    b->cap = size;
    if (size)
        mem[0] = '\0';
}

/* Build after the text already in mem. */
void
pm_buf_resume(struct pm_buf *b, char *mem, size_t size)
{
    memset(b, 0, sizeof(*b));
    b->p = mem;
    b->cap = size;
    b->len = size ? strnlen(mem, size - 1) : 0;
    if (size)
        mem[b->len] = '\0';
}

/* Build into a buffer that grows. */
void
pm_buf_growing(struct pm_buf *b)
{
    memset(b, 0, sizeof(*b));
    b->grow = 1;
}

/* Room for n more bytes and the terminator; how many of them fit. */
static size_t
room(struct pm_buf *b, size_t n)
{
    char *grown;
    size_t want;

    if (b->failed)
        return 0;
    if (b->len + n + 1 <= b->cap)
        return n;
    if (!b->grow)
        return b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
    want = (b->len + n + 1) * 2;
    if (!(grown = realloc(b->p, want))) {
        free(b->p);
        memset(b, 0, sizeof(*b));
        b->grow = b->failed = 1;
        return 0;
    }
    b->p = grown;
    b->cap = want;
    return n;
}

/* Append n bytes of s. */
void
pm_buf_add(struct pm_buf *b, const char *s, size_t n)
{
    n = room(b, n);
    if (!n)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Append a string. */
void
pm_buf_str(struct pm_buf *b, const char *s)
{
    pm_buf_add(b, s, strlen(s));
}

/* Append printf-formatted text. */
void
pm_buf_printf(struct pm_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t fit;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0 || !(fit = room(b, (size_t)n)))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, fit + 1, fmt, ap); /* a fixed buffer keeps what fits */
    va_end(ap);
    b->len += fit;
}

/* Append a number in decimal. */
void
pm_buf_num(struct pm_buf *b, long long v)
{
    char d[24], *e = d + sizeof(d), *p = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    pm_buf_add(b, p, (size_t)(e - p));
}

/* The length of the well-formed UTF-8 sequence at p (2 to 4), or 0. */
static size_t
utf8_seq(const unsigned char *p)
{
    size_t n, i;
    unsigned long cp;

    if (*p >= 0xc2 && *p <= 0xdf)
        n = 2, cp = *p & 0x1f;
    else if (*p >= 0xe0 && *p <= 0xef)
        n = 3, cp = *p & 0x0f;
    else if (*p >= 0xf0 && *p <= 0xf4)
        n = 4, cp = *p & 0x07;
    else
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Append s as a JSON string. */
void
pm_buf_json_str(struct pm_buf *b, const char *s)
{
    const unsigned char *p;
    size_t n;

    pm_buf_add(b, "\"", 1);
    for (p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') {
            pm_buf_add(b, "\\", 1);
            pm_buf_add(b, (const char *)p, 1);
        } else if (*p == '\n')
            pm_buf_add(b, "\\n", 2);
        else if (*p == '\t')
            pm_buf_add(b, "\\t", 2);
        else if (*p < 0x20 || *p == 0x7f)
            pm_buf_printf(b, "\\u%04x", *p);
        else if (*p < 0x80)
            pm_buf_add(b, (const char *)p, 1);
        else if ((n = utf8_seq(p)) > 0) {
            pm_buf_add(b, (const char *)p, n);
            p += n - 1;
        } else
            pm_buf_printf(b, "\\u%04x", *p); /* as the Latin-1 it would be */
    }
    pm_buf_add(b, "\"", 1);
}

/* A growing buffer's text, or NULL when memory ran out. */
char *
pm_buf_take(struct pm_buf *b)
{
    char *t = b->p;

    if (b->failed)
        t = NULL;
    else if (!t && (t = malloc(1)) != NULL)
        t[0] = '\0';
    pm_buf_growing(b);
    return t;
}
