/*
 * buf.h - a text being built, the one way postmeter builds texts: in a
 * caller's fixed buffer (cut at its size, always terminated: log lines,
 * replies, reports) or in a buffer that grows (script arguments, the
 * metrics page, JSON output).
 *
 * SYNOPSIS
 *	char line[512];
 *	struct pm_buf b;
 *	pm_buf_fixed(&b, line, sizeof(line));
 *	pm_buf_str(&b, "sender=");
 *	pm_buf_num(&b, 42);
 *
 *	pm_buf_growing(&b);
 *	pm_buf_printf(&b, "%s|", name);
 *	text = pm_buf_take(&b);       (malloc'd; NULL if memory ran out)
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_BUF_H
#define PM_BUF_H

#include <stddef.h>

struct pm_buf {
    char *p;
    size_t len, cap;
    int grow;   /* 1: p is ours and grows; 0: the caller's, cut at cap - 1 bytes */
    int failed; /* a growing buffer could not grow: its text is lost */
};

/* Build into mem[0..size) from its start (size > 0), cut when full. */
void pm_buf_fixed(struct pm_buf *b, char *mem, size_t size);

/* Build after the text already in mem[0..size) (a terminated string). */
void pm_buf_resume(struct pm_buf *b, char *mem, size_t size);

/* Build into a buffer that grows as needed. */
void pm_buf_growing(struct pm_buf *b);

/* Append n bytes of s. */
void pm_buf_add(struct pm_buf *b, const char *s, size_t n);

/* Append a string. */
void pm_buf_str(struct pm_buf *b, const char *s);

/* Append printf-formatted text. */
void pm_buf_printf(struct pm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append a number in decimal (without printf: the hot path uses it). */
void pm_buf_num(struct pm_buf *b, long long v);

/* Append s as a JSON string with its quotes: well-formed UTF-8 is kept, any
 * other byte (an 8-bit address, Latin-1) is written as \u00XX, so the output
 * is always valid JSON. */
void pm_buf_json_str(struct pm_buf *b, const char *s);

/* A growing buffer's text, the caller's to free ("" when empty), or NULL
 * when memory ran out; the buffer is empty again. */
char *pm_buf_take(struct pm_buf *b);

#endif
