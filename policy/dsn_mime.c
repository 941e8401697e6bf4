/*
 * dsn_mime.c - the MIME walk of the bounce parser.
 *
 * A bounce is held whole in memory. Its header fields are unfolded one at
 * a time into a bounded buffer; multipart bodies are split at their
 * boundary lines (a boundary that never occurs makes the body one text
 * part, a missing closing line ends the last part at the end of the
 * input); base64 and quoted-printable parts are decoded, and text in
 * another charset than ASCII or UTF-8 is converted to UTF-8. Delivery-status
 * parts and human-readable text parts are appended to bounded buffers of
 * struct pm_dsn with NUL bytes turned to spaces; the returned message's
 * headers give its sender. Each top-level field goes through the shared
 * automatic-mail predicate (automail.c). The body of the first
 * message/rfc822 part is remembered (a report a gateway forwarded may be
 * inside). Depth and the number of parts are bounded.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "automail.h"
#include "charset.h"
#include "codec.h"
#include "dsn_int.h"

/* A parsed Content-Type (and transfer encoding) of one entity. */
struct ctype {
    char type[64]; /* "multipart/report", lower case; "" when none */
    char boundary[128];
    char report_type[64];
    char charset[40]; /* lower case; "" when none */
    char cte[32];     /* "base64", "quoted-printable", lower case */
};

/* Find the end of the line starting at off: *eol at its end, returns the next line. */
static size_t
line_end(const unsigned char *p, size_t len, size_t off, size_t *eol)
{
    const unsigned char *nl = memchr(p + off, '\n', len - off);
    size_t e = nl ? (size_t)(nl - p) : len;

    *eol = e > off && p[e - 1] == '\r' ? e - 1 : e;
    return nl ? e + 1 : len;
}

/* Copy at most outlen-1 bytes of s[0..n), NULs to spaces, and terminate. */
static void
copy_field(char *out, size_t outlen, const char *s, size_t n)
{
    size_t i;

    if (n >= outlen)
        n = outlen - 1;
    for (i = 0; i < n; i++)
        out[i] = s[i] == '\0' ? ' ' : s[i];
    out[n] = '\0';
}

/* Lower-case s in place. */
static void
lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Extract parameter name (lower case) from a Content-Type value into out. */
static void
param(const char *v, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = strchr(v, ';');

    out[0] = '\0';
    while (p != NULL) {
        const char *q;
        size_t n = 0;

        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, name, nl) == 0) {
            q = p + nl;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ' || *q == '\t')
                    q++;
                if (*q == '"') {
                    q++;
                    while (q[n] != '\0' && q[n] != '"')
                        n++;
                } else {
                    while (q[n] != '\0' && q[n] != ';' && !isspace((unsigned char)q[n]))
                        n++;
                }
                copy_field(out, outlen, q, n);
                return;
            }
        }
        p = strchr(p, ';');
    }
}

/* Parse a Content-Type value into c. */
static void
parse_ctype(struct ctype *c, const char *v)
{
    size_t n = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    while (v[n] != '\0' && v[n] != ';' && !isspace((unsigned char)v[n]))
        n++;
    copy_field(c->type, sizeof(c->type), v, n);
    lower(c->type);
    param(v, "boundary", c->boundary, sizeof(c->boundary));
    param(v, "report-type", c->report_type, sizeof(c->report_type));
    lower(c->report_type);
    param(v, "charset", c->charset, sizeof(c->charset));
    lower(c->charset);
}

/* Keep a header value in dst unless dst is already set. */
static void
keep(char *dst, size_t dlen, const char *v)
{
    if (dst[0] == '\0')
        copy_field(dst, dlen, v, strlen(v));
}

/* Note one top-level header field. */
static void
top_field(struct pm_dsn *d, const char *name, const char *v)
{
    if (strcasecmp(name, "Subject") == 0)
        keep(d->subject, sizeof(d->subject), v);
    else if (strcasecmp(name, "From") == 0) {
        keep(d->from, sizeof(d->from), v);
        d->has_from = 1;
    } else if (strcasecmp(name, "To") == 0)
        keep(d->to, sizeof(d->to), v);
    else if (strcasecmp(name, "Return-Path") == 0) {
        keep(d->return_path, sizeof(d->return_path), v);
        d->has_return_path = 1;
    } else if (strcasecmp(name, "X-Failed-Recipients") == 0)
        keep(d->failed, sizeof(d->failed), v);
    else if (strcasecmp(name, "X-Original-Sender") == 0)
        keep(d->orig_sender, sizeof(d->orig_sender), v);
}

/* Note one header field of a returned message. */
static void
returned_field(struct pm_dsn *d, const char *name, const char *v)
{
    if (strcasecmp(name, "From") == 0)
        keep(d->ret_from, sizeof(d->ret_from), v);
    else if (strcasecmp(name, "Return-Path") == 0)
        keep(d->ret_return_path, sizeof(d->ret_return_path), v);
    else if (strcasecmp(name, "To") == 0)
        keep(d->ret_to, sizeof(d->ret_to), v);
    else if (pm_automail_header(name, v) & PM_AUTO_LIST)
        d->ret_list = 1;
}

/* Is this line a header field start ("Name:" with a printable name)? */
static int
is_field(const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n && i < 80; i++) {
        if (p[i] == ':')
            return i > 0;
        if (p[i] <= ' ' || p[i] >= 127)
            return 0;
    }
    return 0;
}

/*
 * Read the header block at p[0..len): note fields with where (0 top, 1
 * MIME part, 2 returned message), the Content-Type into c. Returns the
 * offset of the body.
 */
static size_t
headers(struct pm_dsn *d, const unsigned char *p, size_t len, int where, struct ctype *c)
{
    char name[80], val[PM_DSN_FIELD];
    size_t off = 0, vlen = 0;
    int have = 0;

    name[0] = '\0';
    for (;;) {
        size_t eol = 0, next = off < len ? line_end(p, len, off, &eol) : len;
        int cont = off < len && eol > off && (p[off] == ' ' || p[off] == '\t');

        if (have && !cont) {
            val[vlen] = '\0';
            if (where == 0)
                d->auto_flags |= pm_automail_header(name, val);
            if (strcasecmp(name, "Content-Type") == 0 && c->type[0] == '\0')
                parse_ctype(c, val);
            else if (strcasecmp(name, "Content-Transfer-Encoding") == 0) {
                size_t i = 0;
                const char *v = val;

                while (*v == ' ' || *v == '\t')
                    v++;
                while (v[i] != '\0' && !isspace((unsigned char)v[i]) && v[i] != ';')
                    i++;
                copy_field(c->cte, sizeof(c->cte), v, i);
                lower(c->cte);
            } else if (where == 0)
                top_field(d, name, val);
            else
                returned_field(d, name, val); /* a part that is a message header block */
            have = 0;
        }
        if (off >= len || eol == off)
            return next;
        if (cont && have) {
            size_t n = eol - off;

            if (n > sizeof(val) - 1 - vlen)
                n = sizeof(val) - 1 - vlen;
            copy_field(val + vlen, n + 1, (const char *)p + off, n);
            vlen += n;
        } else if (is_field(p + off, eol - off)) {
            const unsigned char *colon = memchr(p + off, ':', eol - off);
            size_t nl = (size_t)(colon - (p + off)), n;

            copy_field(name, sizeof(name), (const char *)p + off, nl);
            n = eol - (size_t)(colon + 1 - p);
            copy_field(val, sizeof(val), (const char *)colon + 1, n);
            vlen = strlen(val);
            have = 1;
        } else if (!cont && where != 2) {
            /* not a header line: the body starts here */
            return off;
        }
        off = next;
    }
}

/* Decode p[0..len) per cte into out (at least len bytes); returns its length. */
static size_t
decode(const char *cte, const unsigned char *p, size_t len, unsigned char *out)
{
    size_t i, o = 0;

    if (strcmp(cte, "base64") == 0) {
        unsigned acc = 0;
        int bits = 0;

        for (i = 0; i < len; i++) {
            int v = pm_codec_b64val(p[i]);

            if (p[i] == '=')
                break;
            if (v < 0)
                continue;
            acc = (acc << 6) | (unsigned)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out[o++] = (unsigned char)(acc >> bits);
                acc &= (1u << bits) - 1;
            }
        }
        return o;
    }
    if (strcmp(cte, "quoted-printable") == 0) {
        for (i = 0; i < len; i++) {
            if (p[i] != '=') {
                out[o++] = p[i];
                continue;
            }
            if (i + 2 < len && pm_codec_hexval(p[i + 1]) >= 0 && pm_codec_hexval(p[i + 2]) >= 0) {
                out[o++] =
                    (unsigned char)(pm_codec_hexval(p[i + 1]) * 16 + pm_codec_hexval(p[i + 2]));
                i += 2;
                continue;
            }
            /* soft line break: "=" then optional blanks and a line end */
            {
                size_t j = i + 1;

                while (j < len && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r'))
                    j++;
                if (j >= len) {
                    i = j;
                } else if (p[j] == '\n') {
                    i = j;
                } else {
                    out[o++] = '=';
                }
            }
        }
        return o;
    }
    memcpy(out, p, len);
    return len;
}

/* Append p[0..n) to a bounded text buffer, NULs to spaces, CRs dropped. */
static void
append(char *buf, size_t *blen, size_t cap, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n && *blen < cap - 2; i++) {
        if (p[i] == '\r')
            continue;
        buf[(*blen)++] = p[i] == '\0' ? ' ' : (char)p[i];
    }
    if (*blen > 0 && buf[*blen - 1] != '\n' && *blen < cap - 1)
        buf[(*blen)++] = '\n';
    buf[*blen] = '\0';
}

/* Is the charset one whose bytes can be searched as they are (ASCII, UTF-8)? */
static int
plain_charset(const char *cs)
{
    return cs[0] == '\0' || strcmp(cs, "us-ascii") == 0 || strcmp(cs, "ascii") == 0 ||
           strcmp(cs, "utf-8") == 0 || strcmp(cs, "utf8") == 0;
}

/* Append p[0..n) converted from charset cs to UTF-8; an invalid byte becomes '?'. */
static void
append_converted(const char *cs, const unsigned char *p, size_t n, char *buf, size_t *blen,
                 size_t cap)
{
    size_t room = 2 * (cap - *blen) + 4; /* what append() can take, CRs dropped */
    char *out = malloc(room);
    long m;

    if (out == NULL)
        return;
    if ((m = pm_charset_to_utf8(cs, (const char *)p, n, out, room, '?')) < 0)
        append(buf, blen, cap, p, n);
    else
        append(buf, blen, cap, (const unsigned char *)out, (size_t)m);
    free(out);
}

/* Decode a leaf body (and its charset, for text) and append it to buf. */
static void
append_decoded(const struct ctype *c, const unsigned char *p, size_t len, char *buf, size_t *blen,
               size_t cap)
{
    unsigned char *tmp;
    size_t n;

    if (len > cap + cap / 2 + 4)
        len = cap + cap / 2 + 4; /* enough to fill the buffer after decoding */
    tmp = malloc(len + 1);
    if (tmp == NULL)
        return;
    n = decode(c->cte, p, len, tmp);
    if (plain_charset(c->charset))
        append(buf, blen, cap, tmp, n);
    else
        append_converted(c->charset, tmp, n, buf, blen, cap);
    free(tmp);
}

static void entity(struct pm_dsn *d, const unsigned char *p, size_t len, int depth, int top);

/* Does the line p[0..n) start with "--" boundary? */
static int
is_delim(const unsigned char *p, size_t n, const char *b, size_t bl)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--; /* tolerated: a boundary line indented by mistake */
    return n >= bl + 2 && p[0] == '-' && p[1] == '-' && memcmp(p + 2, b, bl) == 0;
}

/* Split a multipart body at its boundary and walk each part; 0, or -1 when never found. */
static int
multipart(struct pm_dsn *d, const unsigned char *p, size_t len, const char *b, int depth)
{
    size_t bl = strlen(b), off = 0, start = 0;
    int inpart = 0;

    if (bl == 0)
        return -1;
    while (off < len) {
        size_t eol, next = line_end(p, len, off, &eol);

        if (is_delim(p + off, eol - off, b, bl)) {
            size_t ind = off;
            int closing;

            while (p[ind] == ' ' || p[ind] == '\t')
                ind++;
            closing = eol - ind >= bl + 4 && p[ind + bl + 2] == '-' && p[ind + bl + 3] == '-';

            if (inpart)
                entity(d, p + start, off - start, depth + 1, 0);
            if (closing)
                return 0;
            inpart = 1;
            start = next;
        }
        off = next;
    }
    if (!inpart)
        return -1;
    if (depth == 0)
        d->cut_short = 1;
    entity(d, p + start, len - start, depth + 1, 0);
    return 0;
}

/* Walk one MIME entity (headers and body) at p[0..len). */
static void
entity(struct pm_dsn *d, const unsigned char *p, size_t len, int depth, int top)
{
    struct ctype c;
    size_t body;
    const unsigned char *bp;
    size_t blen;

    if (depth > PM_DSN_DEPTH || d->parts >= PM_DSN_PARTS)
        return;
    d->parts++;
    memset(&c, 0, sizeof(c));
    body = headers(d, p, len, top ? 0 : 1, &c);
    bp = p + body;
    blen = len - body;
    if (top && strcmp(c.type, "multipart/report") == 0) {
        if (strcmp(c.report_type, "delivery-status") == 0 ||
            strcmp(c.report_type, "global-delivery-status") == 0)
            d->report_type_dsn = 1;
        else if (strcmp(c.report_type, "feedback-report") == 0)
            d->is_arf = 1;
    }
    if (strncmp(c.type, "multipart/", 10) == 0) {
        if (multipart(d, bp, blen, c.boundary, depth) == 0)
            return;
        /* the boundary never occurs: the body is one text part */
        append(d->text, &d->text_len, sizeof(d->text), bp, blen);
        return;
    }
    if (strcmp(c.type, "message/delivery-status") == 0 ||
        strcmp(c.type, "message/global-delivery-status") == 0 ||
        strcmp(c.type, "text/delivery-status") == 0) {
        d->has_status_part = 1;
        append_decoded(&c, bp, blen, d->report, &d->report_len, sizeof(d->report));
        return;
    }
    if (strcmp(c.type, "message/feedback-report") == 0) {
        d->is_arf = 1;
        return;
    }
    if (strcmp(c.type, "message/rfc822") == 0 || strcmp(c.type, "message/global") == 0 ||
        strcmp(c.type, "text/rfc822-headers") == 0 || strcmp(c.type, "text/rfc822-header") == 0 ||
        strcmp(c.type, "message/global-headers") == 0 ||
        strcmp(c.type, "message/rfc822-headers") == 0) {
        struct ctype inner;

        memset(&inner, 0, sizeof(inner));
        if (!d->returned)
            headers(d, bp, blen, 2, &inner);
        d->returned = 1;
        if (d->inner == NULL &&
            (strcmp(c.type, "message/rfc822") == 0 || strcmp(c.type, "message/global") == 0)) {
            d->inner = bp;
            d->inner_len = blen;
        }
        return;
    }
    if (c.type[0] == '\0' || strcmp(c.type, "text/plain") == 0 ||
        (top && strncmp(c.type, "text/", 5) == 0)) {
        if (!top && d->returned)
            return; /* text after the returned message is not the bounce's */
        append_decoded(&c, bp, blen, d->text, &d->text_len, sizeof(d->text));
    }
}

/* Walk the message and fill *d. */
void
pm_dsn_walk(struct pm_dsn *d, const unsigned char *msg, size_t len)
{
    d->report[0] = '\0';
    d->text[0] = '\0';
    if (len >= 5 && memcmp(msg, "From ", 5) == 0) {
        /* an mbox separator line: not a header field */
        size_t eol, next = line_end(msg, len, 0, &eol);

        msg += next;
        len -= next;
    }
    /* a message cut short: its partial last line could hold half an address */
    while (len > 0 && msg[len - 1] != '\n')
        len--;
    entity(d, msg, len, 0, 1);
}

/* Note the header fields of a returned message at p[0..len). */
void
pm_dsn_returned(struct pm_dsn *d, const unsigned char *p, size_t len)
{
    struct ctype inner;

    memset(&inner, 0, sizeof(inner));
    headers(d, p, len, 2, &inner);
}
