/*
 * scan_url.c - URL detection, normalisation and de-duplication.
 *
 * Text arrives a byte at a time: runs of URL-looking characters are
 * collected (bounded) and, at the first other character, searched for
 * http:// and https://. A URL is normalised (scheme and host in lower case,
 * an empty path as "/", trailing punctuation dropped) and remembered as a
 * 64-bit hash in a bounded hash set (max_links_tracked entries; beyond that
 * new URLs are still counted, without de-duplication). URLs of a multipart preamble are kept
 * aside until it is known whether the preamble is the whole part.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "scan_int.h"

/* Salt that keeps an image source apart from the same link. */
#define PM_IMG_SALT 0x9e3779b97f4a7c15ULL

/* Size the set of URL hashes (open addressing, at most half full); its
 * table is allocated when the first URL is kept (set_add). */
int
pm_urls_init(struct pm_urls *u, size_t cap)
{
    size_t slots = 16;

    memset(u, 0, sizeof(*u));
    if (cap == 0)
        cap = PM_SCAN_DEFAULT_LINKS;
    if (cap > PM_SCAN_MAX_LINKS)
        cap = PM_SCAN_MAX_LINKS;
    while (slots < 2 * cap)
        slots *= 2;
    u->cap = cap;
    u->slots = slots;
    return 0;
}

/* Allocate the table of the set; -1 when out of memory. */
static int
urls_alloc(struct pm_urls *u)
{
    u->h = calloc(u->slots, sizeof(*u->h));
    u->kind = calloc(u->slots, 1);
    if (u->h == NULL || u->kind == NULL) {
        pm_urls_free(u);
        return -1;
    }
    return 0;
}

/* Release the set. */
void
pm_urls_free(struct pm_urls *u)
{
    free(u->h);
    free(u->kind);
    u->h = NULL;
    u->kind = NULL;
}

/* Whether key is already in the first n entries of h. */
static int
has_key(const uint64_t *h, size_t n, uint64_t key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (h[i] == key)
            return 1;
    return 0;
}

/* The slot of key in the main set: where it is, or the empty one to use. */
static size_t
slot_of(const struct pm_urls *u, uint64_t key)
{
    size_t i = (size_t)(key ^ (key >> 29)) & (u->slots - 1);

    while (u->h[i] != 0 && u->h[i] != key)
        i = (i + 1) & (u->slots - 1);
    return i;
}

/* Remember a URL hash of a kind, in the tentative list when asked. */
static void
set_add(struct pm_urls *u, uint64_t key, int kind, int tentative)
{
    size_t i;

    if (key == 0)
        key = 1; /* 0 marks an empty slot */
    if (u->h != NULL && u->h[slot_of(u, key)] == key)
        return;
    if (tentative) {
        if (has_key(u->th, u->nt, key))
            return;
        if (u->nt < PM_SCAN_TENT_MAX) {
            u->th[u->nt] = key;
            u->tkind[u->nt++] = (unsigned char)kind;
        } else {
            u->tover[kind]++;
        }
        return;
    }
    if (u->h == NULL && urls_alloc(u) < 0) {
        u->over[kind]++; /* out of memory: counted without de-duplication */
        return;
    }
    i = slot_of(u, key);
    if (u->n < u->cap) {
        u->h[i] = key;
        u->kind[i] = (unsigned char)kind;
        u->n++;
        u->nkind[kind]++;
    } else {
        u->over[kind]++;
    }
}

/* The preamble was the whole part: its URLs count. */
void
pm_urls_commit(struct pm_scan *s)
{
    struct pm_urls *u = &s->urls;
    size_t i;
    int k;

    for (i = 0; i < u->nt; i++)
        set_add(u, u->th[i], u->tkind[i], 0);
    for (k = 0; k < 3; k++)
        u->over[k] += u->tover[k];
    pm_urls_drop(s);
}

/* The preamble was a preamble: forget its URLs. */
void
pm_urls_drop(struct pm_scan *s)
{
    s->urls.nt = 0;
    memset(s->urls.tover, 0, sizeof(s->urls.tover));
}

/* Fill the link and image counts of f. */
void
pm_urls_count(const struct pm_urls *u, struct pm_features *f)
{
    f->links = u->over[PM_URL_LINK] + u->over[PM_URL_SHORT] + u->nkind[PM_URL_LINK] +
               u->nkind[PM_URL_SHORT];
    f->shortener_links = u->over[PM_URL_SHORT] + u->nkind[PM_URL_SHORT];
    f->remote_images = u->over[PM_URL_IMG] + u->nkind[PM_URL_IMG];
}

/* Whether host (lower case, len bytes) is a shortener or a subdomain of one. */
static int
is_shortener(const struct pm_scan *s, const char *host, size_t len)
{
    size_t i, el;

    for (i = 0; i < s->n_shorteners; i++) {
        const char *e = s->shorteners[i];

        if (e == NULL || (el = strlen(e)) == 0 || el > len)
            continue;
        if (strncasecmp(host + len - el, e, el) == 0 && (el == len || host[len - el - 1] == '.'))
            return 1;
    }
    return 0;
}

/* Length of the scheme prefix ("http://" or "https://") at u, or 0. */
static size_t
scheme_len(const char *u, size_t n)
{
    if (n < 7 || (u[0] | 0x20) != 'h') /* only 'h' and 'H' give 'h' */
        return 0;
    if (strncasecmp(u, "http://", 7) == 0)
        return 7;
    if (n >= 8 && strncasecmp(u, "https://", 8) == 0)
        return 8;
    return 0;
}

/* Whether c is a character a host name may hold. */
static int
host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
           c == '[' || c == ']' || c == ':' || c >= 0x80;
}

/* Count occurrences of c in u[0..n). */
static size_t
count_char(const char *u, size_t n, char c)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++)
        k += u[i] == c;
    return k;
}

/* Normalise and remember one candidate URL (link, or image when img). */
void
pm_url_add(struct pm_scan *s, const char *u, size_t n, int img)
{
    char buf[PM_SCAN_URL_MAX + 8];
    size_t sl, i, a, ae, hs, he, o = 0, open_p, close_p, open_b, close_b;
    int kind, hi, lo;

    while (n > 0 && (u[0] == ' ' || u[0] == '\t' || u[0] == '\r' || u[0] == '\n'))
        u++, n--;
    while (n > 0 && (u[n - 1] == ' ' || u[n - 1] == '\t' || u[n - 1] == '\r' || u[n - 1] == '\n'))
        n--;
    if ((sl = scheme_len(u, n)) == 0)
        return;
    if (n > PM_SCAN_URL_MAX)
        n = PM_SCAN_URL_MAX;
    open_p = count_char(u, n, '(');
    close_p = count_char(u, n, ')');
    open_b = count_char(u, n, '[');
    close_b = count_char(u, n, ']');
    while (n > sl && u[n - 1] != '\0' && strchr(".,;:!?'\"*)]}>", u[n - 1]) != NULL) {
        if (u[n - 1] == ')' && open_p >= close_p--)
            break;
        if (u[n - 1] == ']' && open_b >= close_b--)
            break;
        n--;
    }
    /* authority: up to the first / ? # or backslash; the host follows any '@' */
    for (a = sl; a < n && u[a] != '/' && u[a] != '?' && u[a] != '#' && u[a] != '\\'; a++)
        ;
    for (o = 0; o < sl; o++)
        buf[o] = (char)(u[o] | 0x20);
    /* the authority lower-cased, %XX decoded ("http://%62it.ly/" is bit.ly) */
    for (i = sl; i < a; i++) {
        unsigned char c = (unsigned char)u[i];

        if (c == '%' && i + 2 < a && (hi = pm_hexval((unsigned char)u[i + 1])) >= 0 &&
            (lo = pm_hexval((unsigned char)u[i + 2])) >= 0) {
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        buf[o++] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : (char)c;
    }
    ae = o;
    hs = sl;
    for (i = sl; i < ae; i++)
        if (buf[i] == '@')
            hs = i + 1;
    he = ae;
    if (hs < ae && buf[hs] != '[') {
        for (i = hs; i < ae; i++)
            if (buf[i] == ':') {
                he = i;
                break;
            }
    }
    if (he <= hs)
        return;
    for (i = hs; i < he; i++)
        if (!host_char(buf[i]))
            return;
    for (i = hs; i < he; i++)
        if ((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9'))
            break;
    if (i == he)
        return;
    if (a == n)
        buf[o++] = '/';
    memcpy(buf + o, u + a, n - a);
    o += n - a;
    if (img)
        kind = PM_URL_IMG;
    else
        kind = is_shortener(s, buf + hs, he - hs) ? PM_URL_SHORT : PM_URL_LINK;
    set_add(&s->urls, pm_hash(buf, o) ^ (img ? PM_IMG_SALT : 0), kind, s->urls.tentative);
}

/* Whether c may be part of a URL written in text (ASCII; see pm_url_text). */
static int
url_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"' && c != '\'' && c != '`';
}

/* url_char() for ASCII as two bit masks: characters 0-63 and 64-127. */
#define URL_ASCII_LO                                                                               \
    ((~0ULL << 33) & ~((1ULL << '"') | (1ULL << '\'') | (1ULL << '<') | (1ULL << '>')))
#define URL_ASCII_HI ((~0ULL >> 1) & ~(1ULL << ('`' - 64)))

/* Feed n bytes of visible text, as pm_url_text() a byte at a time would. */
void
pm_url_text_run(struct pm_scan *s, struct pm_urltok *t, const unsigned char *p, size_t n)
{
    size_t i, len = t->len;

    for (i = 0; i < n; i++) {
        unsigned char c = p[i];

        if (c < 64 ? (URL_ASCII_LO >> c) & 1 : c < 128 && ((URL_ASCII_HI >> (c - 64)) & 1)) {
            if (len < sizeof(t->buf))
                t->buf[len++] = (char)c;
            continue;
        }
        t->len = len;
        if (c >= 0x80)
            pm_url_text(s, t, c);
        else if (len > 0)
            pm_url_flush(s, t);
        len = t->len;
    }
    t->len = len;
}

/* Search a run of URL characters for a URL (one: query strings may nest). */
void
pm_url_flush(struct pm_scan *s, struct pm_urltok *t)
{
    size_t i;

    for (i = 0; i + 7 <= t->len; i++) {
        if ((t->buf[i] | 0x20) == 'h' && scheme_len(t->buf + i, t->len - i) != 0) {
            pm_url_add(s, t->buf + i, t->len - i, 0);
            break;
        }
    }
    t->len = 0;
}

/*
 * Feed one byte of visible (UTF-8) text. Two-byte sequences (Latin, Greek,
 * Cyrillic letters) may be part of a URL, except no-break space, guillemets
 * and C1 controls; longer sequences (CJK, full-width and general
 * punctuation) end it, so that a URL written against CJK text stops there.
 */
void
pm_url_text(struct pm_scan *s, struct pm_urltok *t, unsigned char c)
{
    unsigned char last = t->len > 0 ? (unsigned char)t->buf[t->len - 1] : 0;

    if (c >= 0x80 && c <= 0xbf && last >= 0xc2 && last <= 0xdf) {
        if (last == 0xc2 && (c < 0xa1 || c == 0xab || c == 0xbb)) {
            t->len--;
            pm_url_flush(s, t);
            return;
        }
    } else if (!url_char(c) && !(c >= 0xc2 && c <= 0xdf)) {
        if (t->len > 0)
            pm_url_flush(s, t);
        return;
    }
    if (t->len < sizeof(t->buf))
        t->buf[t->len++] = (char)c;
}

/* Remember a cid: reference from the HTML body (v starts with "cid:"). */
void
pm_cid_ref(struct pm_scan *s, const char *v, size_t n)
{
    char buf[PM_SCAN_URL_MAX];
    size_t i, o = 0;
    uint64_t h;

    for (i = 4; i < n && o < sizeof(buf); i++) {
        unsigned char c = (unsigned char)v[i];

        if (c == '%' && i + 2 < n && strchr("0123456789abcdefABCDEF", v[i + 1]) &&
            strchr("0123456789abcdefABCDEF", v[i + 2]) && v[i + 1] && v[i + 2]) {
            char hex[3] = {v[i + 1], v[i + 2], 0};

            c = (unsigned char)strtoul(hex, NULL, 16);
            i += 2;
        }
        buf[o++] = (char)c;
    }
    while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == '>'))
        o--;
    i = 0;
    while (i < o && (buf[i] == ' ' || buf[i] == '<'))
        i++;
    if (i == o)
        return;
    h = pm_hash(buf + i, o - i);
    if (has_key(s->cidref, s->ncidref, h))
        return;
    if (s->ncidref < PM_SCAN_CID_MAX)
        s->cidref[s->ncidref++] = h;
    else
        s->problems |= PM_P_PART_LIMIT;
}
