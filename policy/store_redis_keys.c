/*
 * store_redis_keys.c - the names of postmeter's Redis keys in layout 1 and
 * layout 2 (store_redis_keys.h), and the layout 2 name of a layout 1 key.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "store_redis_keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new string formatted as printf would; NULL on allocation failure. */
static char *__attribute__((format(printf, 1, 2))) key_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(s = malloc((size_t)n + 1)))
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* The hash tag of a sender's keys: its domain part, or the sender itself. */
const char *
pm_keys_tag(const char *sender, size_t *len)
{
    const char *at = strrchr(sender, '@');
    const char *t = at ? at + 1 : sender;

    *len = strlen(t);
    return t;
}

/* A sender's key of a kind. */
char *
pm_key_sender(const char *prefix, int layout, const char *sender, const char *kind)
{
    size_t tl;
    const char *tag = pm_keys_tag(sender, &tl);

    if (layout == PM_LAYOUT_V1)
        return key_fmt("%s:v1:{s:%s}:%s", prefix, sender, kind);
    return key_fmt("%s:v2:{%.*s}:s:%s:%s", prefix, (int)tl, tag, sender, kind);
}

/* A domain's key of a kind. */
char *
pm_key_domain(const char *prefix, int layout, const char *domain, const char *kind)
{
    if (layout == PM_LAYOUT_V1)
        return key_fmt("%s:v1:{d:%s}:%s", prefix, domain, kind);
    return key_fmt("%s:v2:{%s}:d:%s", prefix, domain, kind);
}

/* A company's suppression entry of rcpt (NULL: the prefix of its entries). */
char *
pm_key_sup(const char *prefix, int layout, const char *company, const char *rcpt)
{
    if (layout == PM_LAYOUT_V1)
        return key_fmt("%s:v1:{d:%s}:sup:%s", prefix, company, rcpt ? rcpt : "");
    return key_fmt("%s:v2:{%s}:sup:%s", prefix, company, rcpt ? rcpt : "");
}

/* Split a suppression entry's key into company and address. */
int
pm_key_sup_split(const char *prefix, const char *key, char *company, size_t clen, const char **rcpt)
{
    size_t pl = strlen(prefix);
    const char *c = key + pl + 4, *end;

    if (strncmp(key, prefix, pl) != 0 ||
        (strncmp(key + pl, ":v1:{d:", 7) != 0 && strncmp(key + pl, ":v2:{", 5) != 0))
        return -1;
    c += key[pl + 2] == '1' ? 3 : 1;
    if (!(end = strstr(c, "}:sup:")) || end[6] == '\0' || end == c || (size_t)(end - c) >= clen)
        return -1;
    snprintf(company, clen, "%.*s", (int)(end - c), c);
    *rcpt = end + 6;
    return 0;
}

/* A company-wide key (top, incidents, hits) of a company. */
char *
pm_key_company(const char *prefix, int layout, const char *company, const char *what)
{
    if (layout == PM_LAYOUT_V1)
        return key_fmt("%s:v1:%s", prefix, what);
    return key_fmt("%s:v2:{%s}:%s", prefix, company, what);
}

/* A global key. */
char *
pm_key_global(const char *prefix, int layout, const char *what)
{
    if (layout != PM_LAYOUT_V1)
        return key_fmt("%s:v2:{" PM_KEYS_GLOBAL_TAG "}:%s", prefix, what);
    if (strncmp(what, "srv", 3) == 0 && (what[3] == '\0' || what[3] == ':'))
        return key_fmt("%s:v1:{srv}%s", prefix, what + 3);
    return key_fmt("%s:v1:%s", prefix, what);
}

/* "<prefix>:layout". */
char *
pm_key_layout(const char *prefix)
{
    return key_fmt("%s:layout", prefix);
}

/* "<prefix>:v<layout>:". */
char *
pm_key_base(const char *prefix, int layout)
{
    return key_fmt("%s:v%d:", prefix, layout);
}

/* The layout 2 name of a tagged layout 1 key "{s:S}:kind" or "{d:D}:kind"
 * (rest: after "<prefix>:v1:"); NULL when it is not one. */
static char *
tagged_to_v2(const char *prefix, const char *rest)
{
    const char *id = rest + 3, *end = strstr(id, "}:");
    char *name, *key;

    if (!end || end == id || (strncmp(rest, "{s:", 3) != 0 && strncmp(rest, "{d:", 3) != 0))
        return NULL;
    if (!(name = key_fmt("%.*s", (int)(end - id), id)))
        return NULL;
    if (rest[1] == 's')
        key = pm_key_sender(prefix, PM_LAYOUT_V2, name, end + 2);
    else if (strncmp(end + 2, "sup:", 4) == 0)
        key = end[6] ? pm_key_sup(prefix, PM_LAYOUT_V2, name, end + 6) : NULL;
    else
        key = pm_key_domain(prefix, PM_LAYOUT_V2, name, end + 2);
    free(name);
    return key;
}

/* The layout 2 name of a layout 1 key that moves by a rename. */
char *
pm_key_v1_to_v2(const char *prefix, const char *v1)
{
    size_t pl = strlen(prefix);
    const char *rest = v1 + pl + 4;

    if (strncmp(v1, prefix, pl) != 0 || strncmp(v1 + pl, ":v1:", 4) != 0)
        return NULL;
    if (rest[0] == '{' && strncmp(rest, "{srv}", 5) != 0)
        return tagged_to_v2(prefix, rest);
    if (strcmp(rest, "clock") == 0 || strcmp(rest, "learning") == 0 ||
        (strncmp(rest, "digest:", 7) == 0 && rest[7]))
        return pm_key_global(prefix, PM_LAYOUT_V2, rest);
    return NULL;
}
