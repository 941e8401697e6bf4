/*
 * scan_place.c - where a link is: the sender's new text, a signature, or
 * quoted text.
 *
 * Each text part starts in the new text (PM_Z_BODY); markers move it to the
 * signature (PM_Z_SIG) and to quoted text (PM_Z_QUOTE), never back: a
 * signature lasts until quoted text starts, quoted text to the end of the
 * part. Plain text is read as lines (markers are whole lines, their first
 * bytes or their end); HTML visible text too, a block tag (br, div, p, ...)
 * ending a line (inside <pre>, a line end too), and a start tag's class, id,
 * type or name value is a marker of its own. The README's rules section lists
 * the markers and their clients. Every state is kept a byte at a time, so
 * chunk boundaries do not matter.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>
#include <strings.h>

#include "scan_int.h"

/* Whether the n bytes at p start with the string m. */
static int
starts(const unsigned char *p, size_t n, const char *m)
{
    size_t k = strlen(m);

    return n >= k && memcmp(p, m, k) == 0;
}

/* Whether the n bytes at p end with the string m. */
static int
ends(const unsigned char *p, size_t n, const char *m)
{
    size_t k = strlen(m);

    return n >= k && memcmp(p + n - k, m, k) == 0;
}

/* Whether the n bytes at p hold the string m. */
static int
holds(const unsigned char *p, size_t n, const char *m)
{
    size_t k = strlen(m), i;

    for (i = 0; i + k <= n; i++)
        if (memcmp(p + i, m, k) == 0)
            return 1;
    return 0;
}

/* The zone after a whole line (head, tail) in zone z. */
static int
line_end(struct pm_zline *l, int z)
{
    const unsigned char *h = l->head;
    unsigned char t[PM_SCAN_ZTAIL];
    size_t n = l->hlen - (l->hlen > 0 && l->head[l->hlen - 1] == '\r'),
           tn = l->tlen < sizeof(t) ? l->tlen : sizeof(t), i;
    int from = l->from, on = l->on;

    for (i = 0; i < tn; i++)
        t[i] = l->tail[(l->tlen - tn + i) & (sizeof(t) - 1)];

    if (n == 0)
        return z; /* a blank line changes nothing */
    l->from = starts(h, n, "From:") || starts(h, n, "*From:*");
    l->on = starts(h, n, "On ") || starts(h, n, "At ") || /* NetEase's "At ... wrote:" */
            starts(h, n, "\xe5\x9c\xa8");                 /* "在" */
    on |= l->on; /* an attribution may be wrapped onto a second line */
    if (n == 3 && memcmp(h, "-- ", 3) == 0)
        return z > PM_Z_SIG ? z : PM_Z_SIG;
    if (from && (starts(h, n, "Sent:") || starts(h, n, "Date:") || starts(h, n, "*Sent:*")))
        return PM_Z_QUOTE; /* Outlook's and Gmail's forwarded header block */
    if (on && (ends(t, tn, "wrote:") || ends(t, tn, "\xe5\x86\x99\xe9\x81\x93\xef\xbc\x9a") ||
               ends(t, tn, "\xe5\x86\x99\xe9\x81\x93:")))
        return PM_Z_QUOTE; /* "On ... wrote:", "在 ... 写道：" */
    if (starts(h, n, "Begin forwarded message:") ||
        starts(h, n, "\xe5\x8f\x91\xe4\xbb\xb6\xe4\xba\xba:") ||
        starts(h, n, "\xe5\x8f\x91\xe4\xbb\xb6\xe4\xba\xba\xef\xbc\x9a"))
        return PM_Z_QUOTE; /* Apple Mail's forward, "发件人:" */
    if (starts(h, n, "--") &&
        (holds(h, n, "Original Message") || holds(h, n, "Forwarded message") ||
         holds(h, n, "- Original -") || holds(h, n, "Replied Message") ||
         holds(h, n, "\xe5\x8e\x9f\xe5\xa7\x8b\xe9\x82\xae\xe4\xbb\xb6") ||
         holds(h, n, "\xe5\x9b\x9e\xe5\xa4\x8d\xe7\x9a\x84\xe5\x8e\x9f\xe9\x82\xae\xe4\xbb\xb6")))
        return PM_Z_QUOTE; /* "-----Original Message-----", QQ Mail's "--- 原始邮件 ---" and
                              "--- Original ---", NetEase Mail Master's "---- Replied Message
                              ----" and "---- 回复的原邮件 ----" */
    return z;
}

/* One byte of text ('\n' ends a line): the zone from here on. */
static int
place_char(struct pm_scan *s, unsigned char c)
{
    struct pm_zline *l = &s->zl;
    int z = s->zone;

    if (z == PM_Z_QUOTE)
        return z;
    if (c == '\n') {
        z = line_end(l, z);
        l->hlen = l->tlen = 0;
        return z;
    }
    if (l->hlen < sizeof(l->head)) {
        if (l->hlen == 0 && c == ' ' && s->text.sink == PM_SINK_HTML)
            return z; /* blanks before a line of HTML */
        if (l->hlen == 0 && c == '>')
            return PM_Z_QUOTE; /* a quoted line */
        l->head[l->hlen++] = c;
    }
    if (c > ' ') /* not a blank (nor another control) */
        l->tail[l->tlen++ & (sizeof(l->tail) - 1)] = c;
    return z;
}

/* The bytes of a line after its head, up to the line end (not given): only
 * the last non-blank ones matter, in order. Read backwards once; when they
 * fill the ring it is rewritten whole, in order from its slot 0. */
static void
place_skip(struct pm_zline *l, const unsigned char *p, size_t n)
{
    unsigned char last[PM_SCAN_ZTAIL];
    size_t k = n, keep = 0, i;

    while (k > 0 && keep < sizeof(last)) {
        unsigned char c = p[--k];

        if (c > ' ')
            last[sizeof(last) - ++keep] = c;
    }
    if (keep == sizeof(last)) {
        memcpy(l->tail, last, sizeof(last));
        l->tlen = (l->tlen + sizeof(last)) & ~(sizeof(last) - 1); /* a whole ring, slot 0 first */
        return;
    }
    for (i = sizeof(last) - keep; i < sizeof(last); i++)
        l->tail[l->tlen++ & (sizeof(l->tail) - 1)] = last[i];
}

/* A line's end or first byte b (of text byte c): the markers, then the URL
 * finder. Kept out of pm_place_text_byte() so that its common case saves no
 * registers. */
static void __attribute__((noinline))
place_edge(struct pm_scan *s, unsigned char b, unsigned char c)
{
    int z = place_char(s, b);

    if (z != s->zone)
        pm_place_set(s, z);
    pm_url_text(s, &s->tok, c);
}

/* One byte of decoded text (visible text in HTML) to the markers, then to the
 * URL finder; a marker moves the zone first. In HTML a line end in the source
 * is a blank (block tags end lines), except inside <pre>, where the source's
 * lines are the lines seen. Once the part is quoted only the URL
 * finder is left. A line's end and first byte go through place_char(); the
 * bytes between, the common case, do here what it would. */
void
pm_place_text_byte(struct pm_scan *s, unsigned char c)
{
    struct pm_zline *l = &s->zl;
    unsigned char b = c;

    if (s->zone != PM_Z_QUOTE) {
        if (s->text.sink == PM_SINK_HTML && (b == '\n' || b == '\t' || b == '\r') &&
            (s->html.pre == 0 || b == '\t'))
            b = ' ';
        if (b == '\n' || l->hlen == 0) {
            place_edge(s, b, c);
            return;
        }
        if (l->hlen < sizeof(l->head))
            l->head[l->hlen++] = b;
        if (b > ' ')
            l->tail[l->tlen++ & (sizeof(l->tail) - 1)] = b;
    }
    pm_url_text(s, &s->tok, c);
}

/* Move to zone z (never back): a URL being read ends there. */
void
pm_place_set(struct pm_scan *s, int z)
{
    if (z <= s->zone)
        return;
    pm_url_flush(s, &s->tok);
    s->zone = z;
}

/* A text part starts: its new text. */
void
pm_place_open(struct pm_scan *s)
{
    s->zone = PM_Z_BODY;
    memset(&s->zl, 0, sizeof(s->zl));
}

/* Feed n bytes of plain text to the markers and the URL finder, in order:
 * as pm_place_text_byte() a byte at a time would, a line at a time. */
void
pm_place_text_run(struct pm_scan *s, const unsigned char *p, size_t n)
{
    struct pm_zline *l = &s->zl;
    size_t i = 0, from = 0, seg, k;
    const unsigned char *nl;
    int z;

    while (i < n && s->zone != PM_Z_QUOTE) {
        if (p[i] != '\n') {
            if (l->hlen == 0 && p[i] == '>') {
                pm_url_text_run(s, &s->tok, p + from, i - from);
                pm_place_set(s, PM_Z_QUOTE); /* a quoted line */
                from = i;
                break;
            }
            nl = memchr(p + i, '\n', n - i);
            seg = (nl != NULL ? (size_t)(nl - p) : n) - i;
            k = sizeof(l->head) - l->hlen < seg ? sizeof(l->head) - l->hlen : seg;
            memcpy(l->head + l->hlen, p + i, k);
            l->hlen += k;
            place_skip(l, p + i, seg);
            i += seg;
            continue;
        }
        z = place_char(s, '\n');
        if (z != s->zone) {
            pm_url_text_run(s, &s->tok, p + from, i - from);
            pm_place_set(s, z);
            from = i;
        }
        i++;
    }
    pm_url_text_run(s, &s->tok, p + from, n - from);
}

/* Start an attribute value: class, id, type and name values are read for markers. */
void
pm_place_attr_begin(struct pm_html *h)
{
    const char *a = h->aname;

    h->zwant = h->end || (a[0] != 'c' && a[0] != 'i' && a[0] != 't' && a[0] != 'n') ? 0
               : strcmp(a, "class") == 0                                            ? 1
               : strcmp(a, "id") == 0                                               ? 2
               : strcmp(a, "type") == 0                                             ? 3
               : strcmp(a, "name") == 0                                             ? 4
                                                                                    : 0;
    h->zlen = 0;
}

/* One byte of an attribute value. */
void
pm_place_attr_byte(struct pm_html *h, unsigned char c)
{
    if (h->zwant && h->zlen + 1 < sizeof(h->zattr))
        h->zattr[h->zlen++] = (char)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
}

/* Whether the value read holds one of the NULL-terminated markers. */
static int
attr_has(const struct pm_html *h, const char *const *m)
{
    for (; *m != NULL; m++)
        if (holds((const unsigned char *)h->zattr, h->zlen, *m))
            return 1;
    return 0;
}

/* The end of an attribute value: a marker sets the zone its tag starts. */
void
pm_place_attr_end(struct pm_html *h)
{
    static const char *const class_sig[] = {"gmail_signature", "moz-signature", "ntes-signature",
                                            NULL};
    /* not Thunderbird's moz-cite-prefix: it also marks the new text above a quote */
    static const char *const class_quote[] = {"gmail_quote",           "gmail_attr",
                                              "moz-forward-container", "yahoo_quoted",
                                              "ntes-mailmaster-quote", NULL};
    /* "signature" is also in QQ Mail's QQMailSignature, NetEase's imail_signature */
    static const char *const id_sig[] = {"signature", "spneditorsign", NULL};
    static const char *const id_quote[] = {
        "divrplyfwdmsg",  "appendonsend",     "mail-editor-reference-message-container",
        "isreplycontent", "isforwardcontent", NULL};
    int z = PM_Z_BODY;

    if (h->zwant == 1)
        z = attr_has(h, class_quote) ? PM_Z_QUOTE : attr_has(h, class_sig) ? PM_Z_SIG : z;
    else if (h->zwant == 2)
        z = attr_has(h, id_quote) ? PM_Z_QUOTE : attr_has(h, id_sig) ? PM_Z_SIG : z;
    else if (h->zwant == 3 && h->zlen == 4 && memcmp(h->zattr, "cite", 4) == 0)
        z = PM_Z_QUOTE; /* <blockquote type="cite"> */
    else if (h->zwant == 4 && h->zlen == 12 && memcmp(h->zattr, "_mailautosig", 12) == 0)
        z = PM_Z_SIG; /* Outlook's <a name="_MailAutoSig"> starts its signature */
    if (z > h->zmark)
        h->zmark = z;
    h->zwant = 0;
}

/* Whether a tag ends a line of visible text: br, div, p, tr, td, th, li, ul,
 * ol, blockquote, hr, pre, table, body, h1-h6, includetail. */
static int
block_tag(const char *t)
{
    switch (t[0]) {
    case 'b':
        return !strcmp(t, "br") || !strcmp(t, "blockquote") || !strcmp(t, "body");
    case 'd':
        return !strcmp(t, "div");
    case 'p':
        return t[1] == '\0' || !strcmp(t, "pre");
    case 't':
        return !strcmp(t, "tr") || !strcmp(t, "td") || !strcmp(t, "th") || !strcmp(t, "table");
    case 'l':
    case 'u':
    case 'o':
        return t[1] == (t[0] == 'l' ? 'i' : 'l') && t[2] == '\0';
    case 'h':
        return ((t[1] >= '1' && t[1] <= '6') || t[1] == 'r') && t[2] == '\0';
    case 'i':
        return !strcmp(t, "includetail");
    default:
        return 0;
    }
}

/* The end of a tag: a block tag ends a line; a start tag's markers take effect. */
void
pm_place_tag(struct pm_scan *s)
{
    struct pm_html *h = &s->html;

    if (s->zone == PM_Z_QUOTE) { /* never left: no marker can matter */
        h->zmark = PM_Z_BODY;
        return;
    }
    if (s->zl.hlen > 0 && block_tag(h->name))
        pm_place_set(s, place_char(s, '\n')); /* (an empty line changes nothing) */
    if (!h->end && h->name[0] == 'i' && strcmp(h->name, "includetail") == 0)
        h->zmark = PM_Z_QUOTE; /* QQ Mail wraps the quoted message in it */
    if (!h->end)
        pm_place_set(s, h->zmark);
    h->zmark = PM_Z_BODY;
}
