/*
 * pf_milter.c - milter lists as Postfix reads them, and where they lead.
 *
 * SYNOPSIS
 *   n = pf_milter_parse(list, m, PF_MILTERS_MAX);
 *   pf_milter_where(m[i].addr, service->chroot, queue_dir, here, sizeof(here));
 *   pf_milter_where_pm(conf->milter_socket, pm, sizeof(pm));
 *   if (pf_milter_same(here, pm)) ...
 *
 * DESCRIPTION
 *   A list holds addresses separated by blanks or commas; since Postfix 3.0
 *   an entry may be a group "{ address, name=value, ... }" of per-milter
 *   settings (MILTER_README), where a setting with blanks is itself braced
 *   ("{ name = value }"). Of the settings only default_action matters here.
 *
 *   Every Postfix daemon works in the queue directory, and a chrooted one is
 *   jailed there: "unix:/postmeter/postmeter.sock" is
 *   QUEUE/postmeter/postmeter.sock for a chrooted service and
 *   /postmeter/postmeter.sock for another; a relative path is below QUEUE
 *   either way. libmilter writes inet sockets as "inet:PORT@HOST", Postfix as
 *   "inet:HOST:PORT"; both become "inet:HOST:PORT" here, HOST "*" for any.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "pf.h"

#define SEPARATORS " \t\r\n,"

/* The next token of *s: a word, or a whole {...} group (braces kept);
 * 1, 0 at the end, -1 when it does not fit tok. */
static int
next_token(const char **s, char *tok, size_t len)
{
    const char *p = *s + strspn(*s, SEPARATORS), *start = p;
    int depth = 0;
    size_t n;

    if (!*p)
        return 0;
    if (*p == '{') {
        for (; *p; p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && --depth == 0) {
                p++;
                break;
            }
        }
    } else {
        p += strcspn(p, SEPARATORS "{");
    }
    n = (size_t)(p - start);
    *s = p;
    if (n >= len)
        return -1;
    memcpy(tok, start, n);
    tok[n] = '\0';
    return 1;
}

/* Remove blanks at both ends of s, in place; s. */
static char *
trim(char *s)
{
    size_t n;

    while (isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Strip one pair of outer braces from tok, in place; tok's inside. */
static char *
unbrace(char *tok)
{
    size_t n = strlen(tok);

    if (n >= 2 && tok[0] == '{' && tok[n - 1] == '}') {
        tok[n - 1] = '\0';
        return trim(tok + 1);
    }
    if (tok[0] == '{') /* unbalanced: Postfix refuses it; keep what follows */
        return trim(tok + 1);
    return tok;
}

/* Read a group's inside: its address, then name=value settings. */
static int
parse_group(char *inside, struct pf_milter *m)
{
    char tok[PF_ADDR_MAX], *set, *eq, *name, *value;
    const char *s = inside;
    int first = 1, r;

    while ((r = next_token(&s, tok, sizeof(tok))) == 1) {
        if (first) {
            snprintf(m->addr, sizeof(m->addr), "%s", tok);
            first = 0;
            continue;
        }
        set = unbrace(tok);
        if (!(eq = strchr(set, '=')))
            continue;
        *eq = '\0';
        name = trim(set);
        value = trim(eq + 1);
        if (strcmp(name, "default_action") == 0)
            snprintf(m->action, sizeof(m->action), "%s", value);
    }
    return r < 0 ? -1 : 0;
}

/* Split a milter list; the number of entries, or -1 when it has more than
 * max or an entry longer than PF_ADDR_MAX. */
int
pf_milter_parse(const char *list, struct pf_milter *out, size_t max)
{
    char tok[PF_ADDR_MAX];
    const char *s = list ? list : "";
    size_t n = 0;
    int r;

    while ((r = next_token(&s, tok, sizeof(tok))) == 1) {
        if (n == max)
            return -1;
        memset(&out[n], 0, sizeof(out[n]));
        if (tok[0] == '{') {
            if (parse_group(unbrace(tok), &out[n]) < 0)
                return -1;
            if (!out[n].addr[0])
                continue; /* "{ }": nothing */
        } else {
            snprintf(out[n].addr, sizeof(out[n].addr), "%s", tok);
        }
        n++;
    }
    return r < 0 ? -1 : (int)n;
}

/* Copy a path into out, "//" squeezed to "/". */
static void
put_path(char *out, size_t len, const char *a, const char *b)
{
    char joined[2 * PF_ADDR_MAX + 2];
    size_t k = 0;
    const char *p;

    snprintf(joined, sizeof(joined), "%s%s%s", a, *a && *b ? "/" : "", b);
    for (p = joined; *p && k + 1 < len; p++)
        if (!(*p == '/' && k > 0 && out[k - 1] == '/'))
            out[k++] = *p;
    out[k] = '\0';
}

/* "inet:HOST:PORT" into out, HOST lower-cased and without brackets. */
static void
put_inet(char *out, size_t len, const char *host, size_t hlen, const char *port)
{
    char h[256];
    size_t i, k = 0;

    for (i = 0; i < hlen && k + 1 < sizeof(h); i++)
        if (host[i] != '[' && host[i] != ']')
            h[k++] = (char)tolower((unsigned char)host[i]);
    h[k] = '\0';
    snprintf(out, len, "inet:%s:%s", k ? h : "*", port);
}

/* Where a Postfix service reaches a milter address (see pf.h). */
void
pf_milter_where(const char *addr, int chroot, const char *queue_dir, char *out, size_t len)
{
    const char *path = NULL, *colon;

    if (strncmp(addr, "unix:", 5) == 0)
        path = addr + 5;
    else if (strncmp(addr, "local:", 6) == 0)
        path = addr + 6;
    if (path) {
        if (path[0] != '/')
            put_path(out, len, queue_dir, path);
        else
            put_path(out, len, chroot ? queue_dir : "", path);
        return;
    }
    if ((strncmp(addr, "inet:", 5) == 0 || strncmp(addr, "inet6:", 6) == 0) &&
        (colon = strrchr(addr, ':')) > strchr(addr, ':')) {
        const char *host = strchr(addr, ':') + 1;

        put_inet(out, len, host, (size_t)(colon - host), colon + 1);
        return;
    }
    snprintf(out, len, "%s", addr);
}

/* Where postmeter's own socket is, as postmeter.conf writes it (see pf.h). */
void
pf_milter_where_pm(const char *sock, char *out, size_t len)
{
    const char *rest, *at;

    if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0) {
        put_path(out, len, "", strchr(sock, ':') + 1);
    } else if (strncmp(sock, "inet:", 5) == 0 || strncmp(sock, "inet6:", 6) == 0) {
        rest = strchr(sock, ':') + 1;
        if ((at = strchr(rest, '@')) != NULL) {
            char port[16];

            snprintf(port, sizeof(port), "%.*s", (int)(at - rest), rest);
            put_inet(out, len, at + 1, strlen(at + 1), port);
        } else {
            put_inet(out, len, "", 0, rest);
        }
    } else {
        put_path(out, len, "", sock);
    }
}

/* 1 when a unix address looks like postmeter's whatever the path: its file
 * name begins with "postmeter", or a directory on the way is "postmeter". */
int
pf_milter_named_pm(const char *addr)
{
    const char *p = strchr(addr, ':') ? strchr(addr, ':') + 1 : addr, *slash;
    size_t n;

    if (strncmp(addr, "unix:", 5) != 0 && strncmp(addr, "local:", 6) != 0)
        return 0;
    for (; *p; p = slash + 1) {
        slash = strchr(p, '/');
        n = slash ? (size_t)(slash - p) : strlen(p);
        if (!slash)
            return strncmp(p, "postmeter", 9) == 0;
        if (n == 9 && strncmp(p, "postmeter", 9) == 0)
            return 1;
    }
    return 0;
}

/* 1 when host names the loopback interface. */
static int
loopback(const char *host, size_t n)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "::1", NULL};
    int i;

    for (i = 0; names[i]; i++)
        if (strlen(names[i]) == n && strncmp(names[i], host, n) == 0)
            return 1;
    return 0;
}

/* 1 when host is any address ("*", 0.0.0.0, ::). */
static int
any_host(const char *host, size_t n)
{
    return (n == 1 && *host == '*') || (n == 7 && strncmp(host, "0.0.0.0", 7) == 0) ||
           (n == 2 && strncmp(host, "::", 2) == 0);
}

/* 1 when two places (pf_milter_where, pf_milter_where_pm) are the same socket. */
int
pf_milter_same(const char *a, const char *b)
{
    const char *pa, *pb;
    size_t ha, hb;

    if (strcmp(a, b) == 0)
        return 1;
    if (strncmp(a, "inet:", 5) != 0 || strncmp(b, "inet:", 5) != 0)
        return 0;
    pa = strrchr(a, ':');
    pb = strrchr(b, ':');
    if (strcmp(pa, pb) != 0)
        return 0;
    ha = (size_t)(pa - (a + 5));
    hb = (size_t)(pb - (b + 5));
    return any_host(a + 5, ha) || any_host(b + 5, hb) ||
           (loopback(a + 5, ha) && loopback(b + 5, hb)) ||
           (ha == hb && strncmp(a + 5, b + 5, ha) == 0);
}
