/*
 * scan_html.c - a streaming HTML tokenizer for the content scan.
 *
 * Fed one byte at a time (already decoded to UTF-8), it keeps its state
 * across chunks: text, tag names, attribute names and values, comments,
 * declarations, and the raw text of script and style. It hands visible
 * text (outside head, title, script, style and comments, with character
 * references decoded) to the URL finder, and the bytes of href, src and
 * background values to scan_url.c: <a href> values to the link set, <img
 * src> values to the remote image set, cid: references to the inline
 * image resolution.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scan_int.h"

enum {
    H_TEXT,
    H_LT,
    H_BANG,
    H_BANG_DASH,
    H_COMMENT,
    H_DECL,
    H_NAME,
    H_ATTRS,
    H_ANAME,
    H_AFTER_ANAME,
    H_BEFORE_VAL,
    H_VAL_DQ,
    H_VAL_SQ,
    H_VAL_UQ,
};

/* Reset the tokenizer for a new HTML part. */
void
pm_html_reset(struct pm_html *h)
{
    memset(h, 0, sizeof(*h));
}

/* Encode code point cp as UTF-8 into out; returns the length. */
static size_t
utf8(unsigned long cp, char *out)
{
    if (cp < 0x20 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        out[0] = ' ';
        return 1;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the character reference name (without & and ;); 0 if unknown. */
size_t
pm_html_entity(const char *name, size_t n, char *out)
{
    static const char *const named[][2] = {
        {"amp", "&"},    {"lt", "<"},    {"gt", ">"},     {"quot", "\""},  {"apos", "'"},
        {"nbsp", " "},   {"colon", ":"}, {"sol", "/"},    {"period", "."}, {"quest", "?"},
        {"equals", "="}, {"num", "#"},   {"percnt", "%"},
    };
    char buf[16];
    size_t i;

    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, name, n);
    buf[n] = '\0';
    if (buf[0] == '#') {
        char *end, *start = buf + ((buf[1] == 'x' || buf[1] == 'X') ? 2 : 1);
        unsigned long cp;

        if (*start < '0' || (*start > '9' && start == buf + 1) ||
            strspn(start, "0123456789abcdefABCDEF") != strlen(start))
            return 0;
        cp = strtoul(start, &end, start == buf + 2 ? 16 : 10);
        if (*end != '\0' || end == start)
            return 0;
        return utf8(cp, out);
    }
    for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strcmp(buf, named[i][0]) == 0) {
            out[0] = named[i][1][0];
            return 1;
        }
    return 0;
}

/* Whether the tokenizer is in visible text. */
static int
visible(const struct pm_html *h)
{
    return !h->in_head && !h->in_title && !h->raw;
}

/* One character of text content. */
static void
text_out(struct pm_scan *s, unsigned char c)
{
    if (visible(&s->html))
        pm_place_text_byte(s, c);
    else
        pm_url_text(s, &s->tok, ' ');
}

/* A complete attribute; the ones that carry URLs are acted on (scan_url.c). */
static void
attr_done(struct pm_scan *s)
{
    pm_place_attr_end(&s->html);
    if (!s->html.keep)
        return;
    s->html.keep = 0;
    pm_attr_end(s);
}

/* Start an attribute value: <a href> is a link, <img src> an image, any may be cid:;
 * class, id, type and name are read for place markers until quoted text (never left). */
static void
value_begin(struct pm_scan *s)
{
    struct pm_html *h = &s->html;

    if (s->zone != PM_Z_QUOTE)
        pm_place_attr_begin(h);
    h->keep = !h->end && (strcmp(h->aname, "href") == 0 || strcmp(h->aname, "src") == 0 ||
                          strcmp(h->aname, "background") == 0);
    if (h->keep)
        pm_attr_begin(&h->av,
                      strcmp(h->name, "a") == 0 && strcmp(h->aname, "href") == 0    ? PM_URL_LINK
                      : strcmp(h->name, "img") == 0 && strcmp(h->aname, "src") == 0 ? PM_URL_IMG
                                                                                    : -1);
}

/* One byte of an attribute value (most values, style for one, are wanted by neither). */
static inline void
value_byte(struct pm_scan *s, unsigned char c)
{
    struct pm_html *h = &s->html;

    if (!(h->zwant | h->keep))
        return;
    if (h->zwant)
        pm_place_attr_byte(h, c);
    if (h->keep && c != '\t' && c != '\r' && c != '\n')
        pm_attr_byte(s, c);
}

/* Start an attribute name with c. */
static void
aname_begin(struct pm_html *h, unsigned char c)
{
    h->alen = 0;
    h->aname[0] = '\0';
    h->keep = 0;
    if (h->alen + 1 < sizeof(h->aname))
        h->aname[h->alen++] = (char)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
    h->aname[h->alen] = '\0';
}

/* The end of a tag ('>'): track head, title, script and style. */
static void
tag_end(struct pm_scan *s)
{
    struct pm_html *h = &s->html;

    h->st = H_TEXT;
    pm_place_tag(s);
    if (h->end) {
        if (strcmp(h->name, "head") == 0)
            h->in_head = 0;
        else if (strcmp(h->name, "title") == 0)
            h->in_title = 0;
        else if (strcmp(h->name, "pre") == 0 && h->pre > 0)
            h->pre--;
        return;
    }
    if (strcmp(h->name, "head") == 0)
        h->in_head = 1;
    else if (strcmp(h->name, "body") == 0)
        h->in_head = h->in_title = 0; /* also ends an unclosed title */
    else if (strcmp(h->name, "title") == 0)
        h->in_title = 1;
    else if (strcmp(h->name, "pre") == 0)
        h->pre++;
    else if (strcmp(h->name, "script") == 0)
        h->raw = 1;
    else if (strcmp(h->name, "style") == 0)
        h->raw = 2;
    h->rawmatch = 0;
}

/* Inside script or style: look for the end tag only. */
static void
raw_byte(struct pm_html *h, unsigned char c)
{
    const char *want = h->raw == 1 ? "</script" : "</style";

    if (c >= 'A' && c <= 'Z')
        c |= 0x20;
    if (c == (unsigned char)want[h->rawmatch]) {
        if (want[++h->rawmatch] == '\0') {
            strcpy(h->name, want + 2);
            h->nlen = strlen(h->name);
            h->raw = 0;
            h->end = 1;
            h->st = H_ATTRS;
        }
    } else {
        h->rawmatch = c == '<' ? 1 : 0;
    }
}

/* Text state, with character references. */
static void
text_byte(struct pm_scan *s, unsigned char c)
{
    struct pm_html *h = &s->html;
    char out[4];
    size_t i, k;

    if (h->in_ent) {
        if (c == ';') {
            h->in_ent = 0;
            k = pm_html_entity(h->ent, h->elen, out);
            if (k == 0) {
                text_out(s, '&');
                for (i = 0; i < h->elen; i++)
                    text_out(s, (unsigned char)h->ent[i]);
                text_out(s, ';');
            }
            for (i = 0; i < k; i++)
                text_out(s, (unsigned char)out[i]);
            return;
        }
        if (h->elen + 1 < sizeof(h->ent) && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                             (c >= '0' && c <= '9') || c == '#')) {
            h->ent[h->elen++] = (char)c;
            return;
        }
        h->in_ent = 0;
        text_out(s, '&');
        for (i = 0; i < h->elen; i++)
            text_out(s, (unsigned char)h->ent[i]);
    }
    if (c == '&') {
        h->in_ent = 1;
        h->elen = 0;
    } else if (c == '<') {
        pm_url_text(s, &s->tok, ' ');
        h->st = H_LT;
    } else {
        text_out(s, c);
    }
}

/* Feed one byte of HTML. */
void
pm_html_byte(struct pm_scan *s, unsigned char c)
{
    struct pm_html *h = &s->html;
    int ws = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';

    if (h->raw && h->st == H_TEXT) {
        raw_byte(h, c);
        return;
    }
    switch (h->st) {
    case H_TEXT:
        text_byte(s, c);
        break;
    case H_LT:
        if (c == '!') {
            h->st = H_BANG;
        } else if (c == '/' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            h->end = c == '/';
            h->zmark = PM_Z_BODY;
            h->nlen = 0;
            h->name[0] = '\0';
            h->st = H_NAME;
            if (!h->end) {
                h->name[h->nlen++] = (char)(c | 0x20);
                h->name[h->nlen] = '\0';
            }
        } else if (c == '?') {
            h->st = H_DECL;
        } else {
            h->st = H_TEXT;
            text_byte(s, c);
        }
        break;
    case H_BANG:
        h->st = c == '-' ? H_BANG_DASH : c == '>' ? H_TEXT : H_DECL;
        break;
    case H_BANG_DASH:
        h->st = c == '-' ? H_COMMENT : c == '>' ? H_TEXT : H_DECL;
        h->dashes = h->clen = h->cbang = 0;
        break;
    case H_COMMENT:
        /* closed by "-->", "--!>", and (as browsers do) "<!-->" and "<!--->" */
        if (c == '>' && (h->dashes >= 2 || h->cbang || h->clen == h->dashes))
            h->st = H_TEXT;
        h->cbang = c == '!' && h->dashes >= 2;
        h->dashes = c == '-' ? h->dashes + 1 : 0;
        h->clen += h->clen < 2;
        break;
    case H_DECL:
        if (c == '>')
            h->st = H_TEXT;
        break;
    case H_NAME:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == ':' || c == '_') {
            if (h->nlen + 1 < sizeof(h->name)) {
                h->name[h->nlen++] = (char)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
                h->name[h->nlen] = '\0';
            }
        } else if (c == '>') {
            tag_end(s);
        } else {
            h->st = H_ATTRS;
        }
        break;
    case H_ATTRS:
        if (c == '>')
            tag_end(s);
        else if (!ws && c != '/') {
            aname_begin(h, c);
            h->st = H_ANAME;
        }
        break;
    case H_ANAME:
        if (ws) {
            h->st = H_AFTER_ANAME;
        } else if (c == '=') {
            value_begin(s);
            h->st = H_BEFORE_VAL;
        } else if (c == '>') {
            tag_end(s);
        } else if (c == '/') {
            h->st = H_ATTRS;
        } else if (h->alen + 1 < sizeof(h->aname)) {
            h->aname[h->alen++] = (char)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
            h->aname[h->alen] = '\0';
        }
        break;
    case H_AFTER_ANAME:
        if (c == '=') {
            value_begin(s);
            h->st = H_BEFORE_VAL;
        } else if (c == '>') {
            tag_end(s);
        } else if (!ws && c != '/') {
            aname_begin(h, c);
            h->st = H_ANAME;
        }
        break;
    case H_BEFORE_VAL:
        if (ws)
            break;
        if (c == '"') {
            h->st = H_VAL_DQ;
        } else if (c == '\'') {
            h->st = H_VAL_SQ;
        } else if (c == '>') {
            attr_done(s);
            tag_end(s);
        } else {
            value_byte(s, c);
            h->st = H_VAL_UQ;
        }
        break;
    case H_VAL_DQ:
    case H_VAL_SQ:
        if (c == (h->st == H_VAL_DQ ? '"' : '\'')) {
            attr_done(s);
            h->st = H_ATTRS;
        } else {
            value_byte(s, c);
        }
        break;
    default: /* H_VAL_UQ */
        if (ws) {
            attr_done(s);
            h->st = H_ATTRS;
        } else if (c == '>') {
            attr_done(s);
            tag_end(s);
        } else {
            value_byte(s, c);
        }
        break;
    }
}

/* End of the HTML part: flush pending text. */
void
pm_html_end(struct pm_scan *s)
{
    struct pm_html *h = &s->html;
    size_t i;

    if (h->st == H_TEXT && h->in_ent) {
        text_out(s, '&');
        for (i = 0; i < h->elen; i++)
            text_out(s, (unsigned char)h->ent[i]);
    }
    h->in_ent = 0;
    pm_url_flush(s, &s->tok);
}
