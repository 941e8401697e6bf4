/*
 * scan_msg.c - whole messages and the renderings of the scan's features.
 *
 * pm_scan_message() splits a message held in memory (a file given to
 * postmeterctl classify, a test) into its header fields, fed one call each
 * like libmilter does (value without the name, colon and leading blanks,
 * folding kept), and its body, fed in chunks of a chosen size. An mbox
 * "From " line first is skipped; a line that is not a header field ends the
 * header section. pm_features_text() and pm_features_json() print features.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_int.h"

/* Whether d[0..n) is a header field name (printable, no colon or space). */
static int
field_name_ok(const unsigned char *d, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (d[i] <= 0x20 || d[i] >= 0x7f || d[i] == ':')
            return 0;
    return n > 0;
}

/* Position after the line that starts at pos (after its LF, or len). */
static size_t
next_line(const unsigned char *buf, size_t len, size_t pos)
{
    const unsigned char *nl = memchr(buf + pos, '\n', len - pos);

    return nl != NULL ? (size_t)(nl - buf) + 1 : len;
}

/* Feed the header section of buf to s; returns where the body starts. */
static size_t
feed_headers(struct pm_scan *s, const unsigned char *buf, size_t len, int *fail)
{
    size_t pos = 0, end, fend, nlen, vs, ve, i;
    char name[256], *val;

    if (len >= 5 && memcmp(buf, "From ", 5) == 0)
        pos = next_line(buf, len, 0);
    while (pos < len) {
        const unsigned char *colon;

        end = next_line(buf, len, pos);
        if (buf[pos] == '\n' || (buf[pos] == '\r' && end == pos + 2 && buf[pos + 1] == '\n'))
            return end;
        colon = memchr(buf + pos, ':', end - pos);
        if (colon == NULL)
            return pos;
        nlen = (size_t)(colon - (buf + pos));
        while (nlen > 0 && (buf[pos + nlen - 1] == ' ' || buf[pos + nlen - 1] == '\t'))
            nlen--;
        if (!field_name_ok(buf + pos, nlen))
            return pos;
        for (fend = end; fend < len && (buf[fend] == ' ' || buf[fend] == '\t');)
            fend = next_line(buf, len, fend);
        vs = (size_t)(colon - buf) + 1;
        while (vs < fend && (buf[vs] == ' ' || buf[vs] == '\t'))
            vs++;
        ve = fend;
        while (ve > vs && (buf[ve - 1] == '\n' || buf[ve - 1] == '\r'))
            ve--;
        if ((val = malloc(ve - vs + 1)) == NULL) {
            *fail = 1;
            return len;
        }
        for (i = vs; i < ve; i++) {
            if (buf[i] == 0)
                s->problems |= PM_P_NUL;
            val[i - vs] = buf[i] ? (char)buf[i] : ' ';
        }
        val[ve - vs] = '\0';
        if (nlen >= sizeof(name))
            nlen = sizeof(name) - 1;
        memcpy(name, buf + pos, nlen);
        name[nlen] = '\0';
        pm_scan_header(s, name, val);
        free(val);
        pos = fend;
    }
    return len;
}

/* Scan a whole message in memory, feeding its body in chunks. */
int
pm_scan_message_chunked(const struct pm_scan_conf *conf, const unsigned char *buf, size_t len,
                        size_t chunk, struct pm_features *out)
{
    struct pm_scan *s = pm_scan_new(conf);
    size_t pos;
    int fail = 0;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return -1;
    pos = feed_headers(s, buf, len, &fail);
    if (chunk == 0)
        chunk = len - pos;
    while (pos < len) {
        size_t k = len - pos < chunk ? len - pos : chunk;

        pm_scan_body(s, buf + pos, k);
        pos += k;
    }
    pm_scan_finish(s, out);
    pm_scan_free(s);
    return fail ? -1 : 0;
}

/* Scan a whole message in memory. */
int
pm_scan_message(const struct pm_scan_conf *conf, const unsigned char *buf, size_t len,
                struct pm_features *out)
{
    return pm_scan_message_chunked(conf, buf, len, 0, out);
}

/* Append formatted text to buf at *o, bounded. */
static void __attribute__((format(printf, 4, 5)))
put(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*o >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *o, len - *o, fmt, ap);
    va_end(ap);
    if (n > 0)
        *o += (size_t)n;
}

#define PM_NFIELDS 19

/* Names of the numeric fields, in output order. */
static const char *const field_names[PM_NFIELDS] = {
    "complete",        "size",          "parts",           "depth",        "attachments",
    "attached_images", "inline_images", "remote_images",   "links",        "shortener_links",
    "cid_refs",        "has_html",      "has_calendar",    "has_tnef",     "is_signed",
    "is_encrypted",    "body_links",    "signature_links", "quoted_links",
};

/* Values of the numeric fields, in the order of field_names. */
static void
field_values(const struct pm_features *f, unsigned long long *v)
{
    v[0] = (unsigned long long)f->complete;
    v[1] = f->size;
    v[2] = f->parts;
    v[3] = f->depth;
    v[4] = f->attachments;
    v[5] = f->attached_images;
    v[6] = f->inline_images;
    v[7] = f->remote_images;
    v[8] = f->links;
    v[9] = f->shortener_links;
    v[10] = f->cid_refs;
    v[11] = (unsigned long long)f->has_html;
    v[12] = (unsigned long long)f->has_calendar;
    v[13] = (unsigned long long)f->has_tnef;
    v[14] = (unsigned long long)f->is_signed;
    v[15] = (unsigned long long)f->is_encrypted;
    v[16] = f->body_links;
    v[17] = f->signature_links;
    v[18] = f->quoted_links;
}

/* "complete=1 size=... is_encrypted=0 problems=-" */
void
pm_features_text(const struct pm_features *f, char *buf, size_t len)
{
    unsigned long long v[PM_NFIELDS];
    size_t o = 0, i;

    if (len == 0)
        return;
    buf[0] = '\0';
    field_values(f, v);
    for (i = 0; i < PM_NFIELDS; i++)
        put(buf, len, &o, "%s=%llu ", field_names[i], v[i]);
    put(buf, len, &o, "problems=%s", f->problems[0] ? f->problems : "-");
}

/* {"complete":1,...,"problems":["..."]} */
void
pm_features_json(const struct pm_features *f, char *buf, size_t len)
{
    unsigned long long v[PM_NFIELDS];
    const char *p = f->problems, *c;
    size_t o = 0, i;

    if (len == 0)
        return;
    buf[0] = '\0';
    field_values(f, v);
    put(buf, len, &o, "{");
    for (i = 0; i < PM_NFIELDS; i++)
        put(buf, len, &o, "\"%s\":%llu,", field_names[i], v[i]);
    put(buf, len, &o, "\"problems\":[");
    while (*p != '\0') {
        size_t n;

        c = strchr(p, ',');
        n = c != NULL ? (size_t)(c - p) : strlen(p);
        put(buf, len, &o, "%s\"%.*s\"", p == f->problems ? "" : ",", (int)n, p);
        p += n + (c != NULL);
    }
    put(buf, len, &o, "]}");
}
