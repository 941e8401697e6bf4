/*
 * scan_msg.c - whole messages and the renderings of the scan's features.
 *
 * pm_scan_message() splits a message held in memory (a file given to
 * postmeterctl classify, a test) into its header fields, fed one call each
 * like libmilter does (value without the name, colon and leading blanks,
 * folding kept), and its body, fed in chunks of a chosen size. An mbox
 * "From " line first is skipped; a line that is not a header field ends the
 * header section. pm_features_text() and pm_features_json() print features.
 */
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

/* Append to buf at *o, bounded. */
static void
put(char *buf, size_t len, size_t *o, const char *fmt, const char *s1, unsigned long long v)
{
    int n;

    if (*o >= len)
        return;
    n = s1 != NULL ? snprintf(buf + *o, len - *o, fmt, s1, v)
                   : snprintf(buf + *o, len - *o, fmt, v);
    if (n > 0)
        *o += (size_t)n;
}

/* The numeric fields, in output order. */
#define PM_FEATURE_FIELDS(X)                                                                       \
    X(complete)                                                                                    \
    X(size)                                                                                        \
    X(parts)                                                                                       \
    X(depth)                                                                                       \
    X(attachments)                                                                                 \
    X(attached_images) X(inline_images) X(remote_images) X(links) X(shortener_links) X(cid_refs)   \
        X(has_html) X(has_calendar) X(has_tnef) X(is_signed) X(is_encrypted)

/* "complete=1 problems=- size=..." */
void
pm_features_text(const struct pm_features *f, char *buf, size_t len)
{
    size_t o = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
#define X(n) put(buf, len, &o, "%s=%llu ", #n, (unsigned long long)f->n);
    PM_FEATURE_FIELDS(X)
#undef X
    put(buf, len, &o, "problems=%s", f->problems[0] ? f->problems : "-", 0);
}

/* {"complete":1,...,"problems":["..."]} */
void
pm_features_json(const struct pm_features *f, char *buf, size_t len)
{
    const char *p = f->problems, *c;
    size_t o = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    put(buf, len, &o, "{", NULL, 0);
#define X(n) put(buf, len, &o, "\"%s\":%llu,", #n, (unsigned long long)f->n);
    PM_FEATURE_FIELDS(X)
#undef X
    put(buf, len, &o, "\"problems\":[", NULL, 0);
    while (*p != '\0') {
        char word[64];
        size_t n;

        c = strchr(p, ',');
        n = c != NULL ? (size_t)(c - p) : strlen(p);
        if (n >= sizeof(word))
            n = sizeof(word) - 1;
        memcpy(word, p, n);
        word[n] = '\0';
        put(buf, len, &o, p == f->problems ? "\"%s\"" : ",\"%s\"", word, 0);
        p += n + (c != NULL);
    }
    put(buf, len, &o, "]}", NULL, 0);
}
