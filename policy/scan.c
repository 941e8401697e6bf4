/*
 * scan.c - streaming content scan: line splitter and MIME structure.
 *
 * Body bytes are cut into lines in a fixed buffer (longer lines are passed
 * on in pieces, which can be neither boundaries nor header starts). Each
 * line is first compared with the open multiparts' boundaries, innermost
 * first; otherwise it belongs to the current part's headers, to its body
 * (decoded by scan_decode.c), or to a preamble or epilogue. A preamble is
 * decoded as text too, because a multipart whose boundary never occurs is
 * one text/plain part: its URLs stay aside until the first delimiter drops
 * them. Image parts with a Content-ID wait until the end, when the HTML's
 * cid: references are all known. See scan.h for what is counted.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scan_int.h"

const char *const pm_scan_default_shorteners[] = {
    "bit.ly",  "bitly.com",  "t.co",    "tinyurl.com", "goo.gl",  "ow.ly", "is.gd",
    "buff.ly", "rebrand.ly", "cutt.ly", "t.ly",        "tiny.cc", "rb.gy", "shorturl.at",
};
const size_t pm_scan_default_n_shorteners =
    sizeof(pm_scan_default_shorteners) / sizeof(pm_scan_default_shorteners[0]);

/* Problem words, in the order of the PM_P_* bits. */
static const char *const problem_words[] = {
    "missing_boundary", "boundary_not_found", "missing_end_boundary", "bad_header",
    "header_too_long",  "truncated_base64",   "bad_base64",           "nul_bytes",
    "depth_limit",      "part_limit",
};

/* Start a scan. */
struct pm_scan *
pm_scan_new(const struct pm_scan_conf *conf)
{
    struct pm_scan *s = malloc(sizeof(*s));

    if (s == NULL)
        return NULL;
    memset(s, 0, offsetof(struct pm_scan, line)); /* the buffers after it need no clearing */
    if (conf != NULL) {
        s->shorteners = conf->shorteners;
        s->n_shorteners = conf->n_shorteners;
        s->spam_words = conf->spam_words;
        s->n_spam_words = conf->n_spam_words;
    } else {
        s->shorteners = pm_scan_default_shorteners;
        s->n_shorteners = pm_scan_default_n_shorteners;
    }
    if (pm_urls_init(&s->urls, conf != NULL ? conf->max_links_tracked : 0) < 0) {
        free(s);
        return NULL;
    }
    pm_part_reset(&s->part, "text/plain");
    s->text.cd = (iconv_t)-1;
    return s;
}

/* Release a scan. */
void
pm_scan_free(struct pm_scan *s)
{
    if (s == NULL)
        return;
    if (s->text.active && s->text.conv)
        iconv_close(s->text.cd);
    pm_urls_free(&s->urls);
    free(s);
}

/* Append header bytes to the field being collected, unfolding. */
static void
hdr_append(struct pm_scan *s, const unsigned char *d, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (d[i] == '\r' || d[i] == '\n')
            continue;
        if (s->hlen + 1 >= sizeof(s->hval)) {
            s->problems |= PM_P_HEADER_TOO_LONG;
            return;
        }
        s->hval[s->hlen++] = d[i] ? (char)d[i] : ' ';
    }
}

/* Hand the collected header field to the part. */
static void
hdr_flush(struct pm_scan *s)
{
    if (!s->hactive)
        return;
    s->hactive = 0;
    s->hval[s->hlen] = '\0';
    pm_part_header(s, &s->part, s->hname, s->hval, s->hlen);
}

/* Start collecting header name (nlen bytes) when it is a MIME field. */
static void
hdr_start(struct pm_scan *s, const char *name, size_t nlen)
{
    s->hlen = 0;
    s->hactive = nlen >= 8 && nlen < sizeof(s->hname) && strncasecmp(name, "content-", 8) == 0;
    if (s->hactive) {
        memcpy(s->hname, name, nlen);
        s->hname[nlen] = '\0';
    }
}

/* Headers done: decide what the current entity's body is. */
static void
begin_body(struct pm_scan *s)
{
    struct pm_part *p = &s->part;
    const char *t = p->type;
    int html;

    s->body_text = 0;
    if (strncmp(t, "multipart/", 10) == 0) {
        if (p->blen == 0) {
            s->problems |= PM_P_MISSING_BOUNDARY;
            strcpy(p->type, "text/plain");
        } else if (s->depth >= PM_SCAN_MAX_DEPTH) {
            s->problems |= PM_P_DEPTH;
            s->mode = PM_M_SKIP;
            return;
        } else {
            struct pm_level *l = &s->lv[s->depth++];

            memcpy(l->boundary, p->boundary, p->blen);
            l->blen = p->blen;
            l->seen = l->closed = 0;
            l->kind = strcmp(t + 10, "alternative") == 0 ? PM_MP_ALT
                      : strcmp(t + 10, "digest") == 0    ? PM_MP_DIGEST
                                                         : PM_MP_MIXED;
            if (strcmp(t + 10, "encrypted") == 0)
                s->f.is_encrypted = 1;
            if ((unsigned)s->depth > s->f.depth)
                s->f.depth = (unsigned)s->depth;
            s->mode = PM_M_PREAMBLE;
            s->urls.tentative = 1;
            pm_text_open(s, p->cte, p->charset, PM_SINK_PLAIN);
            return;
        }
    }
    if (strncmp(t, "message/", 8) == 0) {
        s->f.attachments++;
        s->f.parts++;
        s->mode = PM_M_SKIP;
        return;
    }
    html = strcmp(t, "text/html") == 0;
    s->mode = PM_M_LEAF;
    s->body_text =
        (html || strcmp(t, "text/plain") == 0) && !p->disp_attachment && !p->has_filename;
    if (s->body_text && html)
        s->f.has_html = 1;
    pm_text_open(s, p->cte, p->charset,
                 !s->body_text ? PM_SINK_NONE
                 : html        ? PM_SINK_HTML
                               : PM_SINK_PLAIN);
}

/* Whether type t is one of the NULL-terminated list. */
static int
type_in(const char *t, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(t, *list) == 0)
            return 1;
    return 0;
}

/* Count the leaf part that just ended. */
static void
classify(struct pm_scan *s)
{
    static const char *const sig[] = {"application/pkcs7-signature",
                                      "application/x-pkcs7-signature", "application/pgp-signature",
                                      NULL};
    static const char *const enc[] = {"application/pkcs7-mime", "application/x-pkcs7-mime", NULL};
    static const char *const tnef[] = {"application/ms-tnef", "application/vnd.ms-tnef", NULL};
    static const char *const cal[] = {"text/calendar", "application/ics", NULL};
    struct pm_part *p = &s->part;
    int counts;

    if (type_in(p->type, sig)) {
        s->f.is_signed = 1;
        return;
    }
    if (type_in(p->type, enc))
        s->f.is_encrypted = 1;
    if (type_in(p->type, tnef) || (p->has_filename && strcasecmp(p->filename, "winmail.dat") == 0))
        s->f.has_tnef = 1;
    if (type_in(p->type, cal))
        s->f.has_calendar = 1;
    /* unless inline, an image counts as an attachment, but not as another alternative */
    counts = p->disp_attachment || p->has_filename || !p->alt;
    if (pm_part_is_image(p)) {
        if (p->has_cid) {
            if (s->npend < PM_SCAN_CID_MAX) {
                s->pend_counts[s->npend] = (unsigned char)counts;
                s->pend[s->npend++] = p->cid;
                return;
            }
            s->problems |= PM_P_PART_LIMIT;
        }
        s->f.attachments += counts;
        s->f.attached_images += counts;
        return;
    }
    if (s->body_text || !counts)
        return;
    s->f.attachments++;
}

/* End whatever entity is current (at a delimiter or the end). */
static void
end_current(struct pm_scan *s)
{
    if (s->mode == PM_M_HEADERS) {
        hdr_flush(s);
        begin_body(s);
    }
    if (s->mode == PM_M_LEAF) {
        pm_text_close(s);
        classify(s);
        s->f.parts++;
        s->mode = PM_M_SKIP;
    }
}

/* Close open multiparts until depth levels remain. */
static void
pop_to(struct pm_scan *s, int depth)
{
    while (s->depth > depth) {
        struct pm_level *l = &s->lv[s->depth - 1];

        if (s->mode == PM_M_PREAMBLE) {
            /* its boundary never occurred: the body was one text/plain part */
            pm_text_close(s);
            pm_urls_commit(s);
            s->urls.tentative = 0;
            s->f.parts++;
            s->problems |= PM_P_BOUNDARY_NOT_FOUND;
        } else if (!l->closed) {
            s->problems |= PM_P_MISSING_END;
        }
        s->depth--;
        s->mode = PM_M_EPILOGUE;
    }
}

/* Index of the open multipart whose delimiter line d is, or -1. */
static int
match_delim(const struct pm_scan *s, const unsigned char *d, size_t n, int *close)
{
    int i;
    size_t k;

    if (n < 3 || d[0] != '-' || d[1] != '-')
        return -1;
    for (i = s->depth - 1; i >= 0; i--) {
        const struct pm_level *l = &s->lv[i];

        if (l->closed || n - 2 < l->blen || memcmp(d + 2, l->boundary, l->blen) != 0)
            continue;
        k = 2 + l->blen;
        *close = n - k >= 2 && d[k] == '-' && d[k + 1] == '-';
        if (*close)
            k += 2;
        while (k < n && (d[k] == ' ' || d[k] == '\t'))
            k++;
        if (k == n)
            return i;
    }
    return -1;
}

/* A delimiter of level j: end the current part, maybe start the next. */
static void
on_delim(struct pm_scan *s, int j, int close)
{
    struct pm_level *l = &s->lv[j];

    end_current(s);
    pop_to(s, j + 1);
    if (s->mode == PM_M_PREAMBLE) {
        pm_text_close(s);
        pm_urls_drop(s);
        s->urls.tentative = 0;
    }
    l->seen = 1;
    if (close) {
        l->closed = 1;
        s->mode = PM_M_EPILOGUE;
        return;
    }
    pm_part_reset(&s->part, l->kind == PM_MP_DIGEST ? "message/rfc822" : "text/plain");
    s->part.alt = l->kind == PM_MP_ALT;
    s->hactive = 0;
    s->mode = PM_M_HEADERS;
}

/* Feed a body line (or a piece of one) to the current part's decoder. */
static void
body_line(struct pm_scan *s, const unsigned char *d, size_t n, int nl)
{
    if (s->mode != PM_M_LEAF && s->mode != PM_M_PREAMBLE)
        return;
    pm_text_feed(s, d, n);
    if (nl)
        pm_text_feed(s, (const unsigned char *)"\n", 1);
}

/* A line (or piece) in a part's header section. */
static void
header_line(struct pm_scan *s, const unsigned char *d, size_t n, int first, int nl)
{
    const unsigned char *colon;
    size_t k, nlen;

    if (!first) {
        if (s->hactive)
            hdr_append(s, d, n);
        return;
    }
    if (n == 0) {
        hdr_flush(s);
        begin_body(s);
        return;
    }
    if (d[0] == ' ' || d[0] == '\t') {
        if (s->hactive)
            hdr_append(s, d, n);
        return;
    }
    hdr_flush(s);
    colon = memchr(d, ':', n);
    nlen = colon != NULL ? (size_t)(colon - d) : 0;
    while (nlen > 0 && (d[nlen - 1] == ' ' || d[nlen - 1] == '\t'))
        nlen--;
    for (k = 0; k < nlen && d[k] > 0x20 && d[k] < 0x7f; k++)
        ;
    if (nlen == 0 || k < nlen) {
        /* not a header: the header section ended without its blank line */
        s->problems |= PM_P_BAD_HEADER;
        begin_body(s);
        body_line(s, d, n, nl);
        return;
    }
    hdr_start(s, (const char *)d, nlen);
    if (s->hactive)
        hdr_append(s, colon + 1, n - (size_t)(colon + 1 - d));
}

/* One line, or a piece of a long one; whole when it can be a delimiter. */
static void
process(struct pm_scan *s, const unsigned char *d, size_t n, int first, int nl, int eof)
{
    int j, close = 0;

    if (first && (nl || eof) && s->depth > 0 && (j = match_delim(s, d, n, &close)) >= 0) {
        on_delim(s, j, close);
        return;
    }
    if (s->mode == PM_M_HEADERS)
        header_line(s, d, n, first, nl);
    else
        body_line(s, d, n, nl);
}

/* What only the top-level headers tell: the Subject, the references. */
static void
top_header(struct pm_scan *s, const char *name, const char *value)
{
    char subj[PM_SUBJECT_MAX];
    const char *p, *q, *c;

    if (strcasecmp(name, "Subject") == 0 && !s->subject_seen) {
        s->subject_seen = 1;
        pm_subject_decode(value, subj, sizeof(subj));
        pm_subject_facts(subj, s->spam_words, s->n_spam_words, &s->f);
    } else if (strcasecmp(name, "In-Reply-To") == 0 || strcasecmp(name, "References") == 0) {
        /* the ids "<...>" that are not empty, as feedback.c reads them */
        for (p = value; (p = strchr(p, '<')) != NULL && (q = strchr(p + 1, '>')) != NULL;
             p = q + 1) {
            for (c = p + 1; c < q && isspace((unsigned char)*c); c++)
                ;
            s->f.references += c < q;
        }
    }
}

/* Feed one top-level header. */
void
pm_scan_header(struct pm_scan *s, const char *name, const char *value)
{
    size_t nlen;

    if (s == NULL || name == NULL || value == NULL || s->body_started)
        return;
    nlen = strlen(name);
    s->size += nlen + strlen(value) + 4;
    top_header(s, name, value);
    hdr_start(s, name, nlen);
    if (!s->hactive)
        return;
    hdr_append(s, (const unsigned char *)value, strlen(value));
    hdr_flush(s);
}

/* The header section is over: the root entity's body begins. */
static void
body_start(struct pm_scan *s)
{
    if (s->body_started)
        return;
    s->body_started = 1;
    s->size += 2;
    begin_body(s);
}

/* Feed body bytes. */
void
pm_scan_body(struct pm_scan *s, const unsigned char *p, size_t len)
{
    if (s == NULL || s->finished || (p == NULL && len > 0))
        return;
    body_start(s);
    s->size += len;
    while (len > 0) {
        const unsigned char *nlp = memchr(p, '\n', len);
        size_t seg = nlp != NULL ? (size_t)(nlp - p) : len;

        if (!(s->problems & PM_P_NUL) && memchr(p, 0, seg) != NULL)
            s->problems |= PM_P_NUL;
        if (s->llen == 0 && nlp != NULL && seg <= sizeof(s->line)) {
            /* a whole line in the chunk: as below, without the copy */
            size_t n = seg;

            if (n > 0 && p[n - 1] == '\r')
                n--;
            process(s, p, n, !s->midline, 1, 0);
            s->midline = 0;
            p += seg + 1;
            len -= seg + 1;
            continue;
        }
        while (seg > 0) {
            size_t k;

            if (s->llen == sizeof(s->line)) {
                process(s, s->line, s->llen, !s->midline, 0, 0);
                s->midline = 1;
                s->llen = 0;
            }
            k = sizeof(s->line) - s->llen;
            if (k > seg)
                k = seg;
            memcpy(s->line + s->llen, p, k);
            s->llen += k;
            p += k;
            len -= k;
            seg -= k;
        }
        if (nlp != NULL) {
            size_t n = s->llen;

            if (n > 0 && s->line[n - 1] == '\r')
                n--;
            process(s, s->line, n, !s->midline, 1, 0);
            s->llen = 0;
            s->midline = 0;
            p++;
            len--;
        }
    }
}

/* Whether key is among the first n of h. */
static int
in_list(const uint64_t *h, size_t n, uint64_t key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (h[i] == key)
            return 1;
    return 0;
}

/* End of message: close everything and fill out. */
void
pm_scan_finish(struct pm_scan *s, struct pm_features *out)
{
    size_t i, o = 0;
    int b;

    if (!s->finished) {
        body_start(s);
        if (s->llen > 0) {
            size_t n = s->llen;

            if (s->line[n - 1] == '\r')
                n--;
            process(s, s->line, n, !s->midline, 0, 1);
            s->llen = 0;
        }
        end_current(s);
        pop_to(s, 0);
        for (i = 0; i < s->npend; i++) {
            if (in_list(s->cidref, s->ncidref, s->pend[i])) {
                s->f.inline_images++;
            } else {
                s->f.attachments += s->pend_counts[i];
                s->f.attached_images += s->pend_counts[i];
            }
        }
        s->f.cid_refs = (unsigned)s->ncidref;
        pm_urls_count(&s->urls, &s->f);
        s->f.size = s->size;
        s->f.complete = s->problems == 0;
        for (b = 0; b < (int)(sizeof(problem_words) / sizeof(problem_words[0])); b++) {
            if (!(s->problems & (1u << b)))
                continue;
            o += (size_t)snprintf(s->f.problems + o, sizeof(s->f.problems) - o, "%s%s",
                                  o ? "," : "", problem_words[b]);
            if (o >= sizeof(s->f.problems))
                break;
        }
        s->finished = 1;
    }
    memcpy(out, &s->f, sizeof(*out)); /* padding included: results compare with memcmp */
}
