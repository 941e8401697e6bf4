/*
 * scan_mime.c - the MIME header fields of one entity.
 *
 * Reads Content-Type (type, boundary, charset, name), Content-Disposition
 * (attachment, filename), Content-Transfer-Encoding and Content-ID into a
 * struct pm_part. Parameters may be quoted, RFC 2231 encoded or continued
 * (name*0*=...), or RFC 2047 encoded words; file names are decoded to bytes
 * (their charset is not converted: only presence and extension matter).
 * The first occurrence of each field wins.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "codec.h"
#include "scan_int.h"

enum { SEEN_CT = 1, SEEN_CD = 2, SEEN_CTE = 4, SEEN_CID = 8 };

#define MAX_SEGMENTS 32

/* Clear p and give it a default content type. */
void
pm_part_reset(struct pm_part *p, const char *deftype)
{
    memset(p, 0, sizeof(*p));
    strcpy(p->type, deftype);
}

/* 64-bit FNV-1a hash. */
uint64_t
pm_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Whether c is a MIME token character. */
static int
tok_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skip white space and (comments). */
static const char *
skip_ws(const char *p, const char *e)
{
    int depth = 0;

    for (; p < e; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
        else if (depth == 0 && *p != ' ' && *p != '\t')
            break;
    }
    return p;
}

/* Read a token into out in lower case; returns the end of it. */
static const char *
read_token(const char *p, const char *e, char *out, size_t cap)
{
    size_t n = 0;

    for (; p < e && tok_char((unsigned char)*p); p++)
        if (n + 1 < cap)
            out[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p | 0x20 : *p);
    out[n] = '\0';
    return p;
}

/* Read the next name=value parameter; NULL when there is none left. */
static const char *
next_param(const char *p, const char *e, char *name, size_t ncap, char *val, size_t vcap,
           size_t *vlen)
{
    size_t n = 0, v = 0;

    while (p < e && (*p == ';' || *p == ' ' || *p == '\t'))
        p++;
    if (p >= e)
        return NULL;
    for (; p < e && *p != '=' && *p != ';'; p++)
        if (*p != ' ' && *p != '\t' && n + 1 < ncap)
            name[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p | 0x20 : *p);
    name[n] = '\0';
    if (p < e && *p == '=') {
        p++;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p < e && *p == '"') {
            for (p++; p < e && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < e)
                    p++;
                if (v + 1 < vcap)
                    val[v++] = *p;
            }
            while (p < e && *p != ';')
                p++;
        } else {
            for (; p < e && *p != ';'; p++)
                if (v + 1 < vcap)
                    val[v++] = *p;
            while (v > 0 && (val[v - 1] == ' ' || val[v - 1] == '\t'))
                v--;
        }
    }
    val[v] = '\0';
    *vlen = v;
    return p;
}

/* Append v percent-decoded to out (RFC 2231); returns the new length. */
static size_t
pct_append(char *out, size_t o, size_t cap, const char *v, size_t n)
{
    size_t i;

    for (i = 0; i < n && o + 1 < cap; i++) {
        if (v[i] == '%' && i + 2 < n + 0 && pm_codec_hexval((unsigned char)v[i + 1]) >= 0 &&
            pm_codec_hexval((unsigned char)v[i + 2]) >= 0) {
            out[o++] = (char)(pm_codec_hexval((unsigned char)v[i + 1]) * 16 +
                              pm_codec_hexval((unsigned char)v[i + 2]));
            i += 2;
        } else {
            out[o++] = v[i];
        }
    }
    return o;
}

/* Skip the charset'language' prefix of an RFC 2231 extended value. */
static const char *
skip_2231_prefix(const char *v, size_t *n)
{
    const char *q1 = memchr(v, '\'', *n), *q2;

    if (q1 == NULL)
        return v;
    q2 = memchr(q1 + 1, '\'', *n - (size_t)(q1 + 1 - v));
    if (q2 == NULL)
        return v;
    *n -= (size_t)(q2 + 1 - v);
    return q2 + 1;
}

/* Decode one base64 encoded word's text into out; returns the new length. */
static size_t
b64_append(char *out, size_t o, size_t cap, const char *v, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        const char *c = v[i] ? strchr(al, v[i]) : NULL;

        if (c == NULL)
            continue;
        acc = (acc << 6) | (uint32_t)(c - al);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 < cap)
                out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return o;
}

/* Convert out[start..*o) from the charset cs..cs+cl to UTF-8 in place. */
static void
word_to_utf8(const char *cs, size_t cl, char *out, size_t start, size_t *o, size_t cap)
{
    char name[PM_SCAN_CHARSET_MAX], in[PM_SCAN_HDR_MAX];
    const char *iname;
    size_t il = *o - start, i;
    long n;

    if (cl >= sizeof(name) || il > sizeof(in))
        return;
    for (i = 0; i < cl && cs[i] != '*'; i++) /* RFC 2231: charset*language */
        name[i] = (char)tolower((unsigned char)cs[i]);
    name[i] = '\0';
    if ((iname = pm_scan_iconv_name(name)) == NULL)
        return;
    memcpy(in, out + start, il);
    if ((n = pm_charset_to_utf8(iname, in, il, out + start, cap - 1 - start, '\0')) >= 0)
        *o = start + (size_t)n;
}

/* Decode RFC 2047 encoded words in v into out (see scan_int.h); returns the length. */
size_t
pm_scan_rfc2047_decode(const char *v, size_t n, char *out, size_t cap, int to_utf8)
{
    size_t i = 0, o = 0, ws_mark = 0;
    int after_word = 0, only_ws = 0, unterminated = 0;

    while (i < n) {
        if (v[i] == '=' && i + 1 < n && v[i + 1] == '?' && !unterminated) {
            const char *cs = v + i + 2, *e = v + n, *q, *t, *end;

            q = memchr(cs, '?', (size_t)(e - cs));
            if (q != NULL && q + 2 < e && q[2] == '?') {
                t = q + 3;
                for (end = t; end + 1 < e && !(end[0] == '?' && end[1] == '='); end++)
                    ;
                if (end + 1 < e) {
                    char enc = (char)(q[1] | 0x20);
                    size_t start;

                    if (after_word && only_ws)
                        o = ws_mark;
                    start = o;
                    if (enc == 'b') {
                        o = b64_append(out, o, cap, t, (size_t)(end - t));
                    } else {
                        for (; t < end && o + 1 < cap; t++) {
                            if (*t == '_') {
                                out[o++] = ' ';
                            } else if (*t == '=' && t + 2 < end + 0 &&
                                       pm_codec_hexval((unsigned char)t[1]) >= 0 &&
                                       pm_codec_hexval((unsigned char)t[2]) >= 0) {
                                out[o++] = (char)(pm_codec_hexval((unsigned char)t[1]) * 16 +
                                                  pm_codec_hexval((unsigned char)t[2]));
                                t += 2;
                            } else {
                                out[o++] = *t;
                            }
                        }
                    }
                    if (to_utf8)
                        word_to_utf8(cs, (size_t)(q - cs), out, start, &o, cap);
                    i = (size_t)(end + 2 - v);
                    after_word = 1;
                    only_ws = 1;
                    ws_mark = o;
                    continue;
                }
                unterminated = 1; /* no "?=" further on: no more words */
            }
        }
        if (v[i] != ' ' && v[i] != '\t')
            only_ws = 0;
        if (o + 1 < cap)
            out[o++] = v[i];
        i++;
    }
    return o;
}

/*
 * Value of parameter want (lower case) in the parameter list p..e, decoded
 * (RFC 2231 continuations and percent encoding, else RFC 2047 words) into
 * out; -1 when absent.
 */
static long
get_param(const char *p, const char *e, const char *want, int words, char *out, size_t cap)
{
    char name[64], val[PM_SCAN_HDR_MAX], seg[80];
    const char *q;
    size_t wl = strlen(want), vl, o = 0;
    long plain = -1;
    int k, found = 0, ext = 0, segs = 0;

    for (q = p; (q = next_param(q, e, name, sizeof(name), val, sizeof(val), &vl)) != NULL;) {
        if (strcmp(name, want) == 0 && plain < 0) {
            if (words) {
                plain = (long)pm_scan_rfc2047_decode(val, vl, out, cap, 0);
            } else {
                plain = (long)(vl < cap ? vl : cap - 1);
                memcpy(out, val, (size_t)plain);
            }
        } else if (strncmp(name, want, wl) == 0 && name[wl] == '*' && name[wl + 1] >= '0' &&
                   name[wl + 1] <= '9') {
            segs = 1;
        } else if (strncmp(name, want, wl) == 0 && strcmp(name + wl, "*") == 0 && !ext) {
            const char *d = skip_2231_prefix(val, &vl);

            o = pct_append(out, 0, cap, d, vl);
            ext = 1;
        }
    }
    if (ext)
        return (long)o;
    for (k = 0; segs && k < MAX_SEGMENTS; k++) {
        int hit = 0;

        for (q = p; (q = next_param(q, e, name, sizeof(name), val, sizeof(val), &vl)) != NULL;) {
            snprintf(seg, sizeof(seg), "%s*%d", want, k);
            if (strncmp(name, seg, strlen(seg)) != 0)
                continue;
            if (name[strlen(seg)] == '*' && name[strlen(seg) + 1] == '\0') {
                const char *d = k == 0 ? skip_2231_prefix(val, &vl) : val;

                if (!found)
                    o = 0;
                o = pct_append(out, o, cap, d, vl);
            } else if (name[strlen(seg)] == '\0') {
                if (!found)
                    o = 0;
                if (vl > cap - 1 - o)
                    vl = cap - 1 - o;
                memcpy(out + o, val, vl);
                o += vl;
            } else {
                continue;
            }
            hit = found = 1;
            break;
        }
        if (!hit)
            break;
    }
    if (found)
        return (long)o;
    return plain;
}

/* Keep the tail of a decoded file name in p (the extension matters). */
static void
set_filename(struct pm_part *p, const char *v, size_t n)
{
    while (n > 0 && (v[0] == ' ' || v[0] == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0)
        return;
    if (n >= sizeof(p->filename)) {
        v += n - (sizeof(p->filename) - 1);
        n = sizeof(p->filename) - 1;
    }
    memcpy(p->filename, v, n);
    p->filename[n] = '\0';
    p->has_filename = 1;
}

/* Parse a Content-Type value. */
static void
content_type(struct pm_part *p, const char *v, const char *e)
{
    char type[PM_SCAN_TYPE_MAX], sub[PM_SCAN_TYPE_MAX], buf[PM_SCAN_HDR_MAX];
    long n;
    size_t i;

    v = read_token(skip_ws(v, e), e, type, sizeof(type));
    v = skip_ws(v, e);
    if (v < e && *v == '/') {
        v = read_token(skip_ws(v + 1, e), e, sub, sizeof(sub));
        size_t tl = strlen(type), sl = strlen(sub);

        if (tl > 0 && sl > 0 && tl + sl + 2 <= sizeof(p->type)) {
            memcpy(p->type, type, tl);
            p->type[tl] = '/';
            memcpy(p->type + tl + 1, sub, sl + 1);
        } else
            strcpy(p->type, "text/plain");
    } else {
        strcpy(p->type, "text/plain");
    }
    n = get_param(v, e, "boundary", 0, buf, sizeof(buf));
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    if (n > 0 && (size_t)n < sizeof(p->boundary)) {
        memcpy(p->boundary, buf, (size_t)n);
        p->blen = (size_t)n;
    } else if (n >= 0) {
        p->boundary_bad = 1;
    }
    n = get_param(v, e, "charset", 0, buf, sizeof(buf));
    if (n > 0 && (size_t)n < sizeof(p->charset)) {
        for (i = 0; i < (size_t)n; i++)
            p->charset[i] = (char)((buf[i] >= 'A' && buf[i] <= 'Z') ? buf[i] | 0x20 : buf[i]);
        p->charset[n] = '\0';
    }
    n = get_param(v, e, "name", 1, buf, sizeof(buf));
    if (n > 0 && !(p->seen & SEEN_CD && p->has_filename))
        set_filename(p, buf, (size_t)n);
}

/* Parse a Content-Disposition value. */
static void
content_disposition(struct pm_part *p, const char *v, const char *e)
{
    char disp[32], buf[PM_SCAN_HDR_MAX];
    long n;

    v = read_token(skip_ws(v, e), e, disp, sizeof(disp));
    p->disp_attachment = strcmp(disp, "attachment") == 0;
    n = get_param(v, e, "filename", 1, buf, sizeof(buf));
    if (n > 0)
        set_filename(p, buf, (size_t)n);
}

/* Take one header field of an entity into p when it is a MIME field. */
void
pm_part_header(struct pm_scan *s, struct pm_part *p, const char *name, const char *val, size_t vlen)
{
    const char *e = val + vlen;
    char tok[32];

    (void)s;
    if (strcasecmp(name, "Content-Type") == 0 && !(p->seen & SEEN_CT)) {
        p->seen |= SEEN_CT;
        content_type(p, val, e);
    } else if (strcasecmp(name, "Content-Disposition") == 0 && !(p->seen & SEEN_CD)) {
        p->seen |= SEEN_CD;
        content_disposition(p, val, e);
    } else if (strcasecmp(name, "Content-Transfer-Encoding") == 0 && !(p->seen & SEEN_CTE)) {
        p->seen |= SEEN_CTE;
        read_token(skip_ws(val, e), e, tok, sizeof(tok));
        if (strcmp(tok, "base64") == 0)
            p->cte = PM_CTE_BASE64;
        else if (strcmp(tok, "quoted-printable") == 0)
            p->cte = PM_CTE_QP;
    } else if (strcasecmp(name, "Content-ID") == 0 && !(p->seen & SEEN_CID)) {
        p->seen |= SEEN_CID;
        while (val < e && (*val == ' ' || *val == '\t' || *val == '<'))
            val++;
        while (e > val && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '>'))
            e--;
        if (e > val) {
            p->cid = pm_hash(val, (size_t)(e - val));
            p->has_cid = 1;
        }
    }
}

/* Whether p is an image: image/..., or octet-stream with an image extension. */
int
pm_part_is_image(const struct pm_part *p)
{
    static const char *const ext[] = {"jpg", "jpeg", "jpe", "png", "gif",  "bmp",  "webp",
                                      "tif", "tiff", "svg", "ico", "heic", "heif", "avif"};
    const char *dot;
    size_t i;

    if (strncmp(p->type, "image/", 6) == 0)
        return 1;
    if (strcmp(p->type, "application/octet-stream") != 0 || !p->has_filename)
        return 0;
    if ((dot = strrchr(p->filename, '.')) == NULL)
        return 0;
    for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        if (strcasecmp(dot + 1, ext[i]) == 0)
            return 1;
    return 0;
}
