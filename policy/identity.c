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

/* Reduce an SMTP address to its metering form; see identity.h. */
int
pm_addr_normalise(const char *addr, char *out, size_t outlen)
{
    const char *p = addr, *end, *colon, *at;
    char *plus;
    size_t n, i;
    int quoted = 0;

    if (!addr || outlen == 0)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end > p && *p == '<') {
        p++;
        if (end > p && end[-1] == '>')
            end--;
    }
    /* an obsolete source route: <@a,@b:user@domain> */
    if (p < end && *p == '@' && (colon = memchr(p, ':', (size_t)(end - p))) != NULL)
        p = colon + 1;
    n = (size_t)(end - p);
    if (n == 0) {
        out[0] = '\0';
        return 1;
    }
    if (n >= outlen)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        /* a blank is allowed inside a quoted local part ("john doe"@example.com) */
        if ((c < 0x21 && !(quoted && c == ' ')) || c == 0x7f)
            return -1;
        if (c == '"' && (i == 0 || p[i - 1] != '\\'))
            quoted = !quoted;
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    /* remove "+extension" from the local part (not from a quoted one) */
    at = strrchr(out, '@');
    if (at && out[0] != '"') {
        plus = memchr(out, '+', (size_t)(at - out));
        if (plus && plus > out)
            memmove(plus, at, strlen(at) + 1);
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
