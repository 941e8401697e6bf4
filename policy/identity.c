/*
 * identity.c - direction of a message and the identity of its sender.
 *
 * Pure functions of the configuration and the facts Postfix passes: the
 * client address, {daemon_name}, {auth_authen} and the envelope addresses.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "identity.h"

/* 1 when a message from this origin is outgoing (metered). */
int
pm_is_outgoing(const struct pm_conf *conf, const struct pm_origin *o)
{
    size_t i;

    if (o->local || (o->auth_login && *o->auth_login))
        return 1;
    if (o->daemon_name && *o->daemon_name)
        for (i = 0; i < conf->n_daemon_names; i++)
            if (strcmp(conf->daemon_names[i], o->daemon_name) == 0)
                return 1;
    if (o->client_addr)
        for (i = 0; i < conf->n_networks; i++)
            if (pm_cidr_match(&conf->networks[i], o->client_addr))
                return 1;
    return 0;
}

/* 1 when c may stand unquoted in a local part (RFC 5322 atext; 8-bit bytes for SMTPUTF8). */
static int
addr_atext(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* 1 when s[0..n) is a dot-atom: runs of atext joined by single dots. */
static int
addr_dot_atom(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] == '.' ? s[i - 1] == '.' : !addr_atext((unsigned char)s[i]))
            return 0;
    return 1;
}

/*
 * Write the local part s[0..n), which holds quoted strings, in its canonical
 * form: the quoted strings decoded ("al\ice".x is alice.x), the whole quoted
 * again only when it is not a dot-atom ("john doe"), escaping only '"' and
 * '\'. Returns the length written, or -1 when it does not fit in outlen.
 */
static int
addr_local_canon(const char *s, size_t n, char *out, size_t outlen)
{
    char dec[PM_ADDR_MAX];
    size_t i, d = 0, o = 0;
    int quoted = 0;

    for (i = 0; i < n && d < sizeof(dec); i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (quoted && s[i] == '\\' && i + 1 < n)
            dec[d++] = s[++i];
        else
            dec[d++] = s[i];
    }
    if (i < n)
        return -1;
    if (addr_dot_atom(dec, d)) {
        if (d >= outlen)
            return -1;
        memcpy(out, dec, d);
        return (int)d;
    }
    if (outlen < 3)
        return -1;
    out[o++] = '"';
    for (i = 0; i < d; i++) {
        if (o + 3 >= outlen)
            return -1;
        if (dec[i] == '"' || dec[i] == '\\')
            out[o++] = '\\';
        out[o++] = dec[i];
    }
    out[o++] = '"';
    return (int)o;
}

/* Strip blanks, angle brackets and source routes (<@a,@b:user@dom>) around [*s, *e). */
static void
addr_unwrap(const char **s, const char **e)
{
    const char *p = *s, *end = *e, *was, *colon;

    do {
        was = p;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (p < end && *p == '<') {
            p++;
            if (end > p && end[-1] == '>')
                end--;
        }
        if (p < end && *p == '@' && (colon = memchr(p, ':', (size_t)(end - p))) != NULL)
            p = colon + 1;
    } while (p != was);
    *s = p;
    *e = end;
}

/* Reduce an SMTP address to its metering form; see identity.h. */
int
pm_addr_normalise(const char *addr, char *out, size_t outlen)
{
    const char *p = addr, *end, *at = NULL, *lend;
    size_t i, n, o, lo, dn;
    char *plus;
    int quoted = 0, esc = 0, len;

    if (!addr || outlen == 0)
        return -1;
    end = p + strlen(p);
    addr_unwrap(&p, &end);
    n = (size_t)(end - p);
    if (n == 0) {
        out[0] = '\0';
        return 1;
    }
    /* no control characters; blanks only inside quotes ("john doe"@example.com) */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if ((c < 0x21 && !(quoted && c == ' ')) || c == 0x7f)
            return -1;
        if (esc)
            esc = 0;
        else if (c == '"')
            quoted = !quoted;
        else if (c == '\\' && quoted)
            esc = 1;
        else if (c == '@' && !quoted)
            at = p + i; /* the domain follows the last '@' outside quotes */
    }
    if (quoted) /* an unterminated quote: kept as written, the domain after the last '@' */
        for (at = NULL, i = 0; i < n; i++)
            if (p[i] == '@')
                at = p + i;
    lend = at ? at : end;
    if (!quoted && memchr(p, '"', (size_t)(lend - p))) {
        if ((len = addr_local_canon(p, (size_t)(lend - p), out, outlen)) < 0)
            return -1;
        o = (size_t)len;
    } else {
        if ((size_t)(lend - p) >= outlen)
            return -1;
        o = (size_t)(lend - p);
        memcpy(out, p, o);
    }
    lo = o;
    if (at) {
        dn = (size_t)(end - at);
        /* a trailing dot ends a domain without changing it (not in "@.", "..", " .") */
        if (dn > 2 && end[-1] == '.' && addr_atext((unsigned char)end[-2]))
            dn--;
        if (o + dn >= outlen)
            return -1;
        memcpy(out + o, at, dn);
        o += dn;
    }
    out[o] = '\0';
    for (i = 0; i < o; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    /* remove "+extension" from the local part (not from one with quotes) */
    if (at && !memchr(out, '"', lo)) {
        plus = memchr(out, '+', lo);
        if (plus && plus > out)
            memmove(plus, out + lo, o - lo + 1);
    }
    return 0;
}

/* The sender identity of a message; see identity.h. */
int
pm_sender_identity(const char *auth_login, const char *envfrom, char *out, size_t outlen)
{
    if (auth_login && *auth_login)
        return pm_addr_normalise(auth_login, out, outlen) == 0 ? 0 : -1;
    return pm_addr_normalise(envfrom ? envfrom : "", out, outlen);
}

/* The domain part of a normalised address, or "". */
const char *
pm_addr_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');

    return at ? at + 1 : "";
}

/* 1 when s is a plain address (see identity.h). */
int
pm_addr_plain(const char *s, size_t max)
{
    const char *at = strchr(s, '@');
    size_t i, n = strlen(s);

    if (n == 0 || n > max || s[0] == '-' || !at || at == s || !at[1] || strchr(at + 1, '@') ||
        !strchr(at + 1, '.'))
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || strchr("<>\"(),;:\\[]", s[i]))
            return 0;
    return 1;
}

/* 1 when a recipient's domain is not one of local_domains. */
int
pm_is_external(const struct pm_conf *conf, const char *rcpt)
{
    const char *dom = pm_addr_domain(rcpt);
    size_t i;

    for (i = 0; i < conf->n_local_domains; i++)
        if (strcasecmp(conf->local_domains[i], dom) == 0)
            return 0;
    return 1;
}
