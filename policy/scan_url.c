/*
 * scan_url.c - URL detection, normalisation and de-duplication.
 *
 * Text arrives a byte at a time: in a run of URL-looking characters, a URL
 * starts at the first http:// or https:// and lasts to the end of the run.
 * An <a href> or <img src> value (character references decoded) is a URL
 * when it starts with one. A URL is normalised as it streams (scheme and
 * host in lower case, a %XX in the host decoded, an empty path as "/",
 * trailing punctuation dropped) into a 64-bit hash of the whole URL,
 * whatever its length: only the end of its host and its pending trailing
 * punctuation are held. The hashes go in a bounded hash set
 * (max_links_tracked entries; beyond that new URLs are still counted,
 * without de-duplication). URLs of a multipart preamble are kept aside until
 * it is known whether the preamble is the whole part.
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

/* A link's sighting kept in kind[]: bits 0-1 its kind, 2-3 its zone, 4 seen
 * in an HTML part. */
#define SEEN(kind, zone, html) ((unsigned char)((kind) | (zone) << 2 | (html) << 4))
#define SEEN_ZONE(k) (((k) >> 2) & 3)
#define SEEN_HTML(k) ((k) >> 4)

/* Whether sighting n places a link rather than sighting o (SPEC: the HTML
 * part decides, as clients put the signature in the plain part without a
 * "-- " line; then the body before the signature before quoted text). */
static int
places_better(unsigned char n, unsigned char o)
{
    if (SEEN_HTML(n) != SEEN_HTML(o))
        return SEEN_HTML(n) > SEEN_HTML(o);
    return SEEN_ZONE(n) < SEEN_ZONE(o);
}

/* Remember a URL hash of a kind seen in a zone (html: in an HTML part), in
 * the tentative list when asked; a link seen again moves to the better
 * place (places_better), so each counts once. */
static void
set_add(struct pm_urls *u, uint64_t key, int kind, int zone, int html, int tentative)
{
    unsigned char seen = SEEN(kind, zone, html);
    size_t i;
    int link = kind != PM_URL_IMG;

    if (key == 0)
        key = 1; /* 0 marks an empty slot */
    if (u->h != NULL && u->h[i = slot_of(u, key)] == key) {
        if (link && places_better(seen, u->kind[i])) {
            u->nzone[SEEN_ZONE(u->kind[i])]--;
            u->nzone[zone]++;
            u->kind[i] = seen;
        }
        return;
    }
    if (tentative) {
        if (has_key(u->th, u->nt, key))
            return;
        if (u->nt < PM_SCAN_TENT_MAX) {
            u->th[u->nt] = key;
            u->tkind[u->nt++] = seen;
        } else {
            u->tover[kind]++;
            u->tzover[zone] += link;
        }
        return;
    }
    u->nzone[zone] += link;
    if (u->h == NULL && urls_alloc(u) < 0) {
        u->over[kind]++; /* out of memory: counted without de-duplication */
        return;
    }
    i = slot_of(u, key);
    if (u->n < u->cap) {
        u->h[i] = key;
        u->kind[i] = seen;
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
        set_add(u, u->th[i], u->tkind[i] & 3, SEEN_ZONE(u->tkind[i]), SEEN_HTML(u->tkind[i]), 0);
    for (k = 0; k < 3; k++) {
        u->over[k] += u->tover[k];
        u->nzone[k] += u->tzover[k];
    }
    pm_urls_drop(s);
}

/* The preamble was a preamble: forget its URLs. */
void
pm_urls_drop(struct pm_scan *s)
{
    s->urls.nt = 0;
    memset(s->urls.tover, 0, sizeof(s->urls.tover));
    memset(s->urls.tzover, 0, sizeof(s->urls.tzover));
}

/* Fill the link and image counts of f. */
void
pm_urls_count(const struct pm_urls *u, struct pm_features *f)
{
    f->links = u->over[PM_URL_LINK] + u->over[PM_URL_SHORT] + u->nkind[PM_URL_LINK] +
               u->nkind[PM_URL_SHORT];
    f->shortener_links = u->over[PM_URL_SHORT] + u->nkind[PM_URL_SHORT];
    f->remote_images = u->over[PM_URL_IMG] + u->nkind[PM_URL_IMG];
    f->body_links = u->nzone[PM_Z_BODY];
    f->signature_links = u->nzone[PM_Z_SIG];
    f->quoted_links = u->nzone[PM_Z_QUOTE];
}

/* Where a URL is: not in one, in its authority, after it, or in one that is not a URL. */
enum { URL_OFF, URL_AUTH, URL_REST, URL_BAD };

/* Where an attribute value is: ignored, leading blanks, first bytes, cid:, URL. */
enum { AV_OFF, AV_LEAD, AV_HEAD, AV_CID, AV_URL };

/* "http://" and "https://" as url_tok's window holds them. */
#define WIN_HTTP 0x00687474703a2f2fULL
#define WIN_HTTPS 0x68747470733a2f2fULL

/* Whether the URL's host (the end kept, hlen bytes in all) is a shortener or under one. */
static int
is_shortener(const struct pm_scan *s, const struct pm_url *u)
{
    const char *host = u->host;
    size_t i, el, keep = u->hkeep;

    for (i = 0; i < s->n_shorteners; i++) {
        const char *e = s->shorteners[i];

        if (e == NULL || (el = strlen(e)) == 0 || el > u->hlen || el + (el < u->hlen) > keep)
            continue;
        if (strncasecmp(host + keep - el, e, el) == 0 &&
            (el == u->hlen || host[keep - el - 1] == '.'))
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

/* Whether c is a blank around a URL. */
static int
url_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether c is punctuation that is not part of a URL when it ends it. */
static int
url_trail(unsigned char c)
{
    return c != '\0' && strchr(".,;:!?'\"*)]}>", c) != NULL;
}

/* Add one byte of the normalised URL to its hash (FNV-1a, as pm_hash). */
static void
url_hash(struct pm_url *u, unsigned char c)
{
    u->h = (u->h ^ c) * 0x100000001b3ULL;
}

/* Forget the host read so far (an '@' ends the user information). */
static void
host_reset(struct pm_url *u)
{
    u->hkeep = u->hlen = 0;
    u->port = u->hbracket = u->hbad = u->halnum = 0;
}

/* Start a URL with its scheme (sl: 7 for "http://", 8 for "https://"). */
static void
url_start(struct pm_url *u, size_t sl)
{
    const char *scheme = sl == 8 ? "https://" : "http://";

    u->st = URL_AUTH;
    u->h = 0xcbf29ce484222325ULL;
    while (*scheme)
        url_hash(u, (unsigned char)*scheme++);
    u->tlen = 0;
    u->open_p = u->close_p = u->open_b = u->close_b = 0;
    u->npct = 0;
    host_reset(u);
}

/* One byte of the authority, decoded: hashed lower-cased; the host follows the last '@'. */
static void
auth_char(struct pm_url *u, unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        c |= 0x20;
    url_hash(u, c);
    if (c == '@') {
        host_reset(u);
        return;
    }
    if (u->port)
        return;
    if (c == ':' && !u->hbracket) {
        u->port = 1; /* the host ends at a port, unless it is an [address] */
        return;
    }
    if (u->hlen++ == 0)
        u->hbracket = c == '[';
    u->hbad |= !host_char(c);
    u->halnum |= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (u->hkeep == sizeof(u->host)) {
        memmove(u->host, u->host + sizeof(u->host) / 2, sizeof(u->host) / 2);
        u->hkeep = sizeof(u->host) / 2;
    }
    u->host[u->hkeep++] = (char)c;
}

/* A %XX begun in the authority was not one: its bytes stand for themselves. */
static void
auth_pct_flush(struct pm_url *u)
{
    if (u->npct >= 1)
        auth_char(u, '%');
    if (u->npct == 2)
        auth_char(u, u->pct);
    u->npct = 0;
}

/* One byte of the authority as written: %XX is decoded ("%62it.ly" is bit.ly). */
static void
auth_byte(struct pm_url *u, unsigned char c)
{
    int v = pm_codec_hexval(c);

    if (u->npct > 0 && v >= 0) {
        if (u->npct == 2) {
            auth_char(u, (unsigned char)(pm_codec_hexval(u->pct) * 16 + v));
            u->npct = 0;
        } else {
            u->pct = c;
            u->npct = 2;
        }
        return;
    }
    auth_pct_flush(u);
    if (c == '%')
        u->npct = 1;
    else
        auth_char(u, c);
}

/* The end of the authority: a URL needs a host of host characters with a letter or digit. */
static void
auth_end(struct pm_url *u)
{
    auth_pct_flush(u);
    u->st = u->hlen > 0 && !u->hbad && u->halnum ? URL_REST : URL_BAD;
}

/* One byte of the URL known not to be trailing punctuation. */
static void
url_emit(struct pm_url *u, unsigned char c)
{
    if (u->st == URL_AUTH) {
        if (c != '/' && c != '?' && c != '#' && c != '\\') {
            auth_byte(u, c);
            return;
        }
        auth_end(u);
    }
    if (u->st == URL_REST)
        url_hash(u, c);
}

/* Emit the first n bytes held back, forget the rest. */
static void
url_tail_flush(struct pm_url *u, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        url_emit(u, (unsigned char)u->tail[i]);
    u->tlen = 0;
}

/* One byte of a URL as written, after its scheme. Blanks and punctuation
 * wait: they are the URL's only when more of it follows. */
static void
url_byte(struct pm_url *u, unsigned char c)
{
    if (u->st == URL_BAD)
        return;
    u->open_p += c == '(';
    u->close_p += c == ')';
    u->open_b += c == '[';
    u->close_b += c == ']';
    if (url_blank(c) || url_trail(c)) {
        if (u->tlen == sizeof(u->tail))
            url_tail_flush(u, u->tlen);
        u->tail[u->tlen++] = (char)c;
        return;
    }
    if (u->tlen > 0)
        url_tail_flush(u, u->tlen);
    url_emit(u, c);
}

/* The end of a URL: drop trailing blanks and punctuation (a closing bracket
 * only when unbalanced), give an empty path as "/", remember the hash. */
static void
url_end(struct pm_scan *s, struct pm_url *u, int img)
{
    size_t n = u->tlen;
    int kind;

    while (n > 0 && url_blank((unsigned char)u->tail[n - 1]))
        n--;
    while (n > 0 && url_trail((unsigned char)u->tail[n - 1])) {
        if (u->tail[n - 1] == ')' && u->open_p >= u->close_p--)
            break;
        if (u->tail[n - 1] == ']' && u->open_b >= u->close_b--)
            break;
        n--;
    }
    url_tail_flush(u, n);
    if (u->st == URL_AUTH) {
        auth_end(u);
        url_hash(u, '/');
    }
    if (u->st == URL_REST) {
        if (img)
            kind = PM_URL_IMG;
        else
            kind = is_shortener(s, u) ? PM_URL_SHORT : PM_URL_LINK;
        set_add(&s->urls, u->h ^ (img ? PM_IMG_SALT : 0), kind, s->zone,
                s->text.sink == PM_SINK_HTML, s->urls.tentative);
    }
    u->st = URL_OFF;
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

/* A byte of the run: to its URL, or to the window that finds where one starts
 * (the first http:// or https://; the rest of the run is that URL). */
static void
run_feed(struct pm_urltok *t, unsigned char c)
{
    if (t->url.st != URL_OFF) {
        url_byte(&t->url, c);
        return;
    }
    t->win = t->win << 8 | (c | 0x20); /* lower-cases letters; ':' and '/' stay */
    if (c != '/')
        return;
    if (t->win == WIN_HTTPS)
        url_start(&t->url, 8);
    else if ((t->win & 0x00ffffffffffffffULL) == WIN_HTTP)
        url_start(&t->url, 7);
}

/* Append a byte to the run; a 0xc2 is held until the next byte says whether it stays. */
static void
run_push(struct pm_urltok *t, unsigned char c)
{
    if (t->len == 0) {
        t->win = 0;
        t->held = 0;
        t->url.st = URL_OFF;
    }
    if (t->held) {
        t->held = 0;
        run_feed(t, 0xc2);
    }
    t->len++;
    t->last = c;
    if (c == 0xc2)
        t->held = 1;
    else
        run_feed(t, c);
}

/* Feed n bytes of visible text, as pm_url_text() a byte at a time would. */
void
pm_url_text_run(struct pm_scan *s, struct pm_urltok *t, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = p[i];

        if (c < 64 ? (URL_ASCII_LO >> c) & 1 : c < 128 && ((URL_ASCII_HI >> (c - 64)) & 1))
            run_push(t, c);
        else if (c >= 0x80)
            pm_url_text(s, t, c);
        else if (t->len > 0)
            pm_url_flush(s, t);
    }
}

/* The end of a run of URL characters: the end of its URL, if it holds one. */
void
pm_url_flush(struct pm_scan *s, struct pm_urltok *t)
{
    if (t->len > 0) {
        if (t->held)
            run_feed(t, 0xc2);
        if (t->url.st != URL_OFF)
            url_end(s, &t->url, 0);
    }
    t->len = 0;
    t->held = 0;
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
    unsigned char last = t->len > 0 ? t->last : 0;

    if (c >= 0x80 && c <= 0xbf && last >= 0xc2 && last <= 0xdf) {
        if (last == 0xc2 && (c < 0xa1 || c == 0xab || c == 0xbb)) {
            t->held = 0; /* the 0xc2 was not part of the run */
            t->len--;
            pm_url_flush(s, t);
            return;
        }
    } else if (!url_char(c) && !(c >= 0xc2 && c <= 0xdf)) {
        if (t->len > 0)
            pm_url_flush(s, t);
        return;
    }
    run_push(t, c);
}

/* Start the value of an attribute: kind PM_URL_LINK (a href), PM_URL_IMG
 * (img src), or -1 (only a cid: reference is wanted). */
void
pm_attr_begin(struct pm_attrval *a, int kind)
{
    a->kind = kind;
    a->mode = AV_LEAD;
    a->in_ent = 0;
    a->vlen = 0;
    a->url.st = URL_OFF;
}

/* The first bytes of a value are known: a URL when they start with its scheme. */
static void
attr_head(struct pm_attrval *a)
{
    size_t sl, i;

    if (a->kind < 0 || (sl = scheme_len(a->val, a->vlen)) == 0) {
        a->mode = AV_OFF;
        return;
    }
    a->mode = AV_URL;
    url_start(&a->url, sl);
    for (i = sl; i < a->vlen; i++)
        url_byte(&a->url, (unsigned char)a->val[i]);
}

/* One byte of a value, character references decoded. */
static void
attr_char(struct pm_attrval *a, unsigned char c)
{
    switch (a->mode) {
    case AV_LEAD:
        if (c == ' ')
            return;
        a->mode = AV_HEAD;
        /* fall through */
    case AV_HEAD:
        a->val[a->vlen++] = (char)c;
        if (a->vlen == 4 && strncasecmp(a->val, "cid:", 4) == 0)
            a->mode = AV_CID;
        else if (a->vlen == 8)
            attr_head(a);
        return;
    case AV_CID:
        if (a->vlen < sizeof(a->val))
            a->val[a->vlen++] = (char)c;
        return;
    case AV_URL:
        url_byte(&a->url, c);
        return;
    default:
        return;
    }
}

/* A character reference begun in a value was not one: its bytes stand for themselves. */
static void
attr_ent_flush(struct pm_attrval *a)
{
    size_t i;

    a->in_ent = 0;
    attr_char(a, '&');
    for (i = 0; i < a->elen; i++)
        attr_char(a, (unsigned char)a->ent[i]);
}

/* One byte of the value of a wanted attribute (tabs and line ends are dropped before). */
void
pm_attr_byte(struct pm_scan *s, unsigned char c)
{
    struct pm_attrval *a = &s->html.av;
    char out[4];
    size_t i, k;

    if (a->mode == AV_OFF)
        return;
    if (a->in_ent) {
        /* "&name;" with a name of up to 11 bytes */
        if (c == ';') {
            if ((k = pm_html_entity(a->ent, a->elen, out)) == 0) {
                attr_ent_flush(a);
                attr_char(a, c);
            }
            a->in_ent = 0;
            for (i = 0; i < k; i++)
                attr_char(a, (unsigned char)out[i]);
            return;
        }
        if (c != '&' && a->elen < sizeof(a->ent) - 1) {
            a->ent[a->elen++] = (char)c;
            return;
        }
        attr_ent_flush(a);
    }
    if (c == '&') {
        a->in_ent = 1;
        a->elen = 0;
        return;
    }
    attr_char(a, c);
}

/* The end of the value: a cid: reference, a link or an image, or nothing. */
void
pm_attr_end(struct pm_scan *s)
{
    struct pm_attrval *a = &s->html.av;

    if (a->mode != AV_OFF && a->in_ent)
        attr_ent_flush(a);
    if (a->mode == AV_HEAD)
        attr_head(a);
    if (a->mode == AV_CID)
        pm_cid_ref(s, a->val, a->vlen);
    else if (a->mode == AV_URL)
        url_end(s, &a->url, a->kind == PM_URL_IMG);
    a->mode = AV_OFF;
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
