/*
 * scan_decode.c - transfer decoding and charset conversion of a part.
 *
 * The raw lines of a part go through a byte-at-a-time quoted-printable or
 * base64 decoder, then (for body text in a charset other than ASCII or
 * UTF-8) through iconv to UTF-8 in batches of a fixed size, then to the
 * plain-text URL finder or the HTML tokenizer. Decoder states, the
 * incomplete multibyte tail and iconv's shift state carry over from one
 * chunk to the next; batches are cut at fixed byte counts of the decoded
 * stream, so the result does not depend on how the input was chunked.
 * Base64 is checked for truncation and stray characters in every part.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <string.h>

#include "codec.h"
#include "scan_int.h"

/* Hand one decoded, converted byte to the content handler. */
static void
deliver(struct pm_scan *s, unsigned char c)
{
    if (s->text.sink == PM_SINK_PLAIN)
        pm_place_text_byte(s, c);
    else
        pm_html_byte(s, c);
}

/* Convert the batch of decoded bytes; keep an incomplete tail unless final. */
static void
convert(struct pm_scan *s, int final)
{
    struct pm_text *t = &s->text;
    char out[4096], *ip = (char *)t->in, *op;
    size_t il = t->inlen, ol, i;

    while (il > 0) {
        size_t r;
        int err;

        op = out;
        ol = sizeof(out);
        r = iconv(t->cd, &ip, &il, &op, &ol);
        err = r == (size_t)-1 ? errno : 0;
        for (i = 0; i < sizeof(out) - ol; i++)
            deliver(s, (unsigned char)out[i]);
        if (err == 0 || err == E2BIG)
            continue;
        if (err == EINVAL && !final && il < 16)
            break;
        /* an invalid (or, at the end, incomplete) sequence: skip a byte */
        deliver(s, ' ');
        ip++;
        il--;
    }
    if (final) {
        op = out;
        ol = sizeof(out);
        iconv(t->cd, NULL, NULL, &op, &ol);
        for (i = 0; i < sizeof(out) - ol; i++)
            deliver(s, (unsigned char)out[i]);
        iconv(t->cd, NULL, NULL, NULL, NULL);
    }
    memmove(t->in, ip, il);
    t->inlen = il;
}

/* A decoded byte: convert or deliver it. */
static void
decoded(struct pm_scan *s, unsigned char c)
{
    struct pm_text *t = &s->text;

    if (t->sink == PM_SINK_NONE)
        return;
    if (!t->conv) {
        deliver(s, c);
        return;
    }
    t->in[t->inlen++] = c;
    if (t->inlen == sizeof(t->in))
        convert(s, 0);
}

/* One byte of quoted-printable. */
static void
qp_byte(struct pm_scan *s, unsigned char c)
{
    struct pm_text *t = &s->text;

    for (;;) {
        switch (t->qst) {
        case 0:
            if (c == '=')
                t->qst = 1;
            else
                decoded(s, c);
            return;
        case 1: /* after '=' */
            if (pm_codec_hexval(c) >= 0) {
                t->q1 = c;
                t->qst = 2;
            } else if (c == '\n') {
                t->qst = 0; /* soft line break */
            } else if (c == ' ' || c == '\t' || c == '\r') {
                t->qst = 3;
            } else {
                decoded(s, '=');
                t->qst = 0;
                continue;
            }
            return;
        case 2: /* after '=' and a hex digit */
            t->qst = 0;
            if (pm_codec_hexval(c) >= 0) {
                decoded(s, (unsigned char)(pm_codec_hexval(t->q1) * 16 + pm_codec_hexval(c)));
                return;
            }
            decoded(s, '=');
            decoded(s, t->q1);
            continue;
        default: /* after '=' and white space: a soft break with padding */
            if (c == '\n') {
                t->qst = 0;
                return;
            }
            if (c == ' ' || c == '\t' || c == '\r')
                return;
            t->qst = 0;
            continue;
        }
    }
}

/* Emit the bytes of an incomplete base64 group; returns its length. */
static int
b64_partial(struct pm_scan *s)
{
    struct pm_text *t = &s->text;
    int had = t->bn;

    if (t->bn == 2) {
        decoded(s, (unsigned char)(t->bacc >> 4));
    } else if (t->bn == 3) {
        decoded(s, (unsigned char)(t->bacc >> 10));
        decoded(s, (unsigned char)(t->bacc >> 2));
    }
    t->bn = 0;
    t->bacc = 0;
    return had;
}

/* One byte of base64. */
static void
b64_byte(struct pm_scan *s, unsigned char c)
{
    struct pm_text *t = &s->text;
    int v = pm_codec_b64val(c);

    if (v >= 0) {
        t->bacc = (t->bacc << 6) | (uint32_t)v;
        if (++t->bn == 4) {
            decoded(s, (unsigned char)(t->bacc >> 16));
            decoded(s, (unsigned char)(t->bacc >> 8));
            decoded(s, (unsigned char)t->bacc);
            t->bn = 0;
            t->bacc = 0;
        }
    } else if (c == '=') {
        if (b64_partial(s) == 1)
            s->problems |= PM_P_TRUNCATED_BASE64;
    } else if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
        s->problems |= PM_P_BAD_BASE64;
    }
}

/* Base64 digit values plus one (0: not a digit), for the fast loop below. */
#define D(c, v) [c] = (v) + 1
static const unsigned char b64_digit1[256] = {
    D('A', 0),  D('B', 1),  D('C', 2),  D('D', 3),  D('E', 4),  D('F', 5),  D('G', 6),  D('H', 7),
    D('I', 8),  D('J', 9),  D('K', 10), D('L', 11), D('M', 12), D('N', 13), D('O', 14), D('P', 15),
    D('Q', 16), D('R', 17), D('S', 18), D('T', 19), D('U', 20), D('V', 21), D('W', 22), D('X', 23),
    D('Y', 24), D('Z', 25), D('a', 26), D('b', 27), D('c', 28), D('d', 29), D('e', 30), D('f', 31),
    D('g', 32), D('h', 33), D('i', 34), D('j', 35), D('k', 36), D('l', 37), D('m', 38), D('n', 39),
    D('o', 40), D('p', 41), D('q', 42), D('r', 43), D('s', 44), D('t', 45), D('u', 46), D('v', 47),
    D('w', 48), D('x', 49), D('y', 50), D('z', 51), D('0', 52), D('1', 53), D('2', 54), D('3', 55),
    D('4', 56), D('5', 57), D('6', 58), D('7', 59), D('8', 60), D('9', 61), D('+', 62), D('/', 63),
};
#undef D

/* Base64 bytes: digits in a tight loop, anything else through b64_byte(). */
static void
b64_feed(struct pm_scan *s, const unsigned char *p, size_t n)
{
    struct pm_text *t = &s->text;
    uint32_t acc = t->bacc;
    int bn = t->bn;
    size_t i;

    if (t->sink == PM_SINK_NONE) {
        /* nothing is delivered: only the position in the group and the
         * problems matter (the decoded bits would be dropped by decoded()) */
        for (i = 0; i < n; i++) {
            if (b64_digit1[p[i]] != 0) {
                bn++;
                continue;
            }
            t->bn = bn & 3;
            b64_byte(s, p[i]);
            bn = t->bn;
        }
        t->bn = bn & 3;
        return;
    }
    for (i = 0; i < n; i++) {
        unsigned v = b64_digit1[p[i]];

        if (v == 0) {
            t->bacc = acc;
            t->bn = bn;
            b64_byte(s, p[i]);
            acc = t->bacc;
            bn = t->bn;
            continue;
        }
        acc = (acc << 6) | (v - 1);
        if (++bn == 4) {
            decoded(s, (unsigned char)(acc >> 16));
            decoded(s, (unsigned char)(acc >> 8));
            decoded(s, (unsigned char)acc);
            bn = 0;
            acc = 0;
        }
    }
    t->bacc = acc;
    t->bn = bn;
}

/* Map a MIME charset name to one iconv knows best; NULL: no conversion. */
const char *
pm_scan_iconv_name(const char *cs)
{
    static const char *const map[][2] = {
        {"gb2312", "GB18030"},          {"gbk", "GB18030"},         {"x-gbk", "GB18030"},
        {"cp936", "GB18030"},           {"big5", "BIG5-HKSCS"},     {"x-big5", "BIG5-HKSCS"},
        {"x-sjis", "SHIFT_JIS"},        {"shift-jis", "SHIFT_JIS"}, {"ks_c_5601-1987", "CP949"},
        {"unicode-1-1-utf-7", "UTF-7"},
    };
    size_t i;

    if (cs[0] == '\0' || strcmp(cs, "us-ascii") == 0 || strcmp(cs, "ascii") == 0 ||
        strcmp(cs, "utf-8") == 0 || strcmp(cs, "utf8") == 0)
        return NULL;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(cs, map[i][0]) == 0)
            return map[i][1];
    for (i = 0; cs[i] != '\0'; i++)
        if (!((cs[i] >= 'a' && cs[i] <= 'z') || (cs[i] >= '0' && cs[i] <= '9') ||
              strchr("-_.:", cs[i]) != NULL))
            return NULL;
    return cs;
}

/* Start decoding a part: transfer encoding, charset and where text goes. */
void
pm_text_open(struct pm_scan *s, int cte, const char *charset, int sink)
{
    struct pm_text *t = &s->text;
    const char *name;

    memset(t, 0, sizeof(*t));
    t->active = 1;
    t->cte = cte;
    t->sink = sink;
    t->cd = (iconv_t)-1;
    if (sink != PM_SINK_NONE && (name = pm_scan_iconv_name(charset)) != NULL) {
        t->cd = iconv_open("UTF-8", name);
        t->conv = t->cd != (iconv_t)-1;
    }
    s->tok.len = 0;
    pm_place_open(s);
    if (sink == PM_SINK_HTML)
        pm_html_reset(&s->html);
}

/* Feed raw (encoded) bytes of the current part. */
void
pm_text_feed(struct pm_scan *s, const unsigned char *p, size_t n)
{
    struct pm_text *t = &s->text;
    size_t i;

    if (!t->active)
        return;
    if (t->cte == PM_CTE_BASE64) {
        b64_feed(s, p, n);
    } else if (t->sink == PM_SINK_NONE) {
        return;
    } else if (t->cte == PM_CTE_QP) {
        for (i = 0; i < n; i++)
            qp_byte(s, p[i]);
    } else if (t->sink == PM_SINK_PLAIN && !t->conv) {
        pm_place_text_run(s, p, n); /* what decoded() would do, a run at a time */
    } else {
        for (i = 0; i < n; i++)
            decoded(s, p[i]);
    }
}

/* End of the part: flush every stage. */
void
pm_text_close(struct pm_scan *s)
{
    struct pm_text *t = &s->text;

    if (!t->active)
        return;
    if (t->cte == PM_CTE_BASE64 && b64_partial(s) != 0)
        s->problems |= PM_P_TRUNCATED_BASE64;
    if (t->cte == PM_CTE_QP && t->qst == 2) {
        decoded(s, '=');
        decoded(s, t->q1);
    } else if (t->cte == PM_CTE_QP && t->qst == 1) {
        decoded(s, '=');
    }
    if (t->conv) {
        convert(s, 1);
        iconv_close(t->cd);
    }
    if (t->sink == PM_SINK_PLAIN)
        pm_url_flush(s, &s->tok);
    else if (t->sink == PM_SINK_HTML)
        pm_html_end(s);
    t->active = 0;
    t->conv = 0;
}
