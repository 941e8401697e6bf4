/*
 * dsn_util.c - the small helpers the bounce parser's files share: find an
 * enhanced status code, an SMTP reply code, a phrase (case-insensitively)
 * or the first address in a text, squeeze whitespace, and add a recipient
 * to the result (merged with an earlier one of the same address).
 *
 * These are the bottom of the dsn*.c files: dsn.c, the readers
 * (dsn_report.c, dsn_text.c) and dsn_class.c call them; they call nothing
 * in those files.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dsn_util.h"

/* Case-insensitive search of needle in hay[0..hlen). */
const char *
pm_dsn_memcasestr(const char *hay, size_t hlen, const char *needle)
{
    size_t nl = strlen(needle), i;

    if (nl == 0 || hlen < nl)
        return nl == 0 ? hay : NULL;
    for (i = 0; i + nl <= hlen; i++)
        if (tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[0]) &&
            strncasecmp(hay + i, needle, nl) == 0)
            return hay + i;
    return NULL;
}

/* Length of a run of at most max digits at s. */
static size_t
digits(const char *s, size_t max)
{
    size_t n = 0;

    while (n <= max && isdigit((unsigned char)s[n]))
        n++;
    return n;
}

/* Is s[0..] an enhanced status code ([245].d{1,3}.d{1,3}) not inside a number? Its length or 0. */
static size_t
status_at(const char *s, const char *start)
{
    size_t a, b;

    if (s > start && (isalnum((unsigned char)s[-1]) || s[-1] == '.'))
        return 0;
    if (*s != '2' && *s != '4' && *s != '5')
        return 0;
    if (s[1] != '.')
        return 0;
    a = digits(s + 2, 3);
    if (a == 0 || a > 3 || s[2 + a] != '.')
        return 0;
    b = digits(s + 3 + a, 3);
    if (b == 0 || b > 3)
        return 0;
    if (s[3 + a + b] == '.' && isdigit((unsigned char)s[4 + a + b]))
        return 0; /* an IP address or version number */
    if (isalnum((unsigned char)s[3 + a + b]))
        return 0;
    return 3 + a + b;
}

/* Find an enhanced status code in s; 0 or -1. */
int
pm_dsn_find_status(const char *s, char *out, size_t outlen)
{
    const char *p;

    out[0] = '\0';
    if (s == NULL)
        return -1;
    for (p = s; *p; p++) {
        size_t n = status_at(p, s);

        if (n > 0 && n < outlen) {
            memcpy(out, p, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* Find a three-digit SMTP reply code (4xx or 5xx, not inside a word,
 * number or address) in s; the code or 0. */
int
pm_dsn_find_reply(const char *s)
{
    const char *p;

    if (s == NULL)
        return 0;
    for (p = s; *p; p++) {
        char before = p > s ? p[-1] : ' ', after;

        if ((*p != '4' && *p != '5') || p[1] < '0' || p[1] > '5' || !isdigit((unsigned char)p[2]))
            continue;
        after = p[3];
        if (isalnum((unsigned char)before) || before == '.' || before == '@')
            continue;
        if (after == ' ' || after == '-' || after == '\0' || after == '\n' || after == '\t')
            return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    }
    return 0;
}

/* Copy s to out with whitespace runs collapsed to one space, trimmed. */
void
pm_dsn_squeeze(char *out, size_t outlen, const char *s, size_t slen)
{
    size_t i, o = 0;
    int sp = 0;

    if (outlen == 0)
        return;
    while (slen > 0 && *s != '\0' && (isspace((unsigned char)*s) || *s == ':')) {
        s++; /* leading blanks and the colon after an address */
        slen--;
    }
    for (i = 0; i < slen && s[i] != '\0' && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];

        if (isspace(c)) {
            sp = o > 0;
            continue;
        }
        if (sp && o + 2 < outlen)
            out[o++] = ' ';
        sp = 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* Is c allowed in the local part or domain of an address we take? */
static int
addr_char(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL) || c >= 0x80;
}

/* Skip to after the last full-width or ideographic punctuation in [b, at)
 * (UTF-8 EF BC xx, EF BD xx, E3 80 xx: a colon or bracket of a CJK text). */
static const char *
past_punct(const char *b, const char *at)
{
    const char *p;

    for (p = at - 1; p >= b + 2; p--) {
        unsigned char c0 = (unsigned char)p[-2], c1 = (unsigned char)p[-1];

        if ((c0 == 0xef && (c1 == 0xbc || c1 == 0xbd)) || (c0 == 0xe3 && c1 == 0x80))
            return p + 1;
    }
    return b;
}

/* Copy the first address of s (lower case, no brackets) to out; 0 or -1. */
int
pm_dsn_addr(const char *s, char *out, size_t outlen)
{
    const char *at;

    out[0] = '\0';
    if (s == NULL)
        return -1;
    for (at = strchr(s, '@'); at != NULL; at = strchr(at + 1, '@')) {
        const char *b = at, *e = at + 1;
        size_t n, i;

        if (at > s + 1 && at[-1] == '"') {
            /* a quoted local part: "john..doe"@example.org */
            const char *q = at - 2;

            while (q > s && *q != '"' && *q != '\n' && at - q < 65)
                q--;
            if (*q == '"')
                b = q;
        }
        if (b == at)
            while (b > s && addr_char((unsigned char)b[-1]))
                b--;
        while (isalnum((unsigned char)*e) || *e == '.' || *e == '-' || *e == '_')
            e++;
        while (e > at + 1 && (e[-1] == '.' || e[-1] == '-'))
            e--;
        if (*b != '"') {
            b = past_punct(b, at);
            while (b < at && b[0] == '.')
                b++;
        }
        if (b == at || e == at + 1 || memchr(at + 1, '.', (size_t)(e - at - 1)) == NULL)
            continue;
        if (*b == '/' || *b == '|' || *b == '#')
            continue; /* a file or pipe delivery, not an address */
        n = (size_t)(e - b);
        if (n >= outlen)
            return -1;
        for (i = 0; i < n; i++)
            out[i] = (char)tolower((unsigned char)b[i]);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

/* Add a recipient (merged with an existing one of the same address). */
struct pm_bounce_rcpt *
pm_dsn_add(struct pm_bounce *out, const char *addr)
{
    size_t i;

    if (addr[0] == '\0' || strlen(addr) >= sizeof(out->rcpt[0].rcpt))
        return NULL;
    for (i = 0; i < out->n; i++)
        if (strcmp(out->rcpt[i].rcpt, addr) == 0)
            return &out->rcpt[i];
    if (out->n >= PM_BOUNCE_MAX_RCPTS)
        return NULL;
    memset(&out->rcpt[out->n], 0, sizeof(out->rcpt[0]));
    snprintf(out->rcpt[out->n].rcpt, sizeof(out->rcpt[0].rcpt), "%s", addr);
    return &out->rcpt[out->n++];
}
