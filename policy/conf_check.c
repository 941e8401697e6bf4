/*
 * conf_check.c - checks of single configuration values (socket addresses,
 * host:port, names, bucket lengths) and the scan for integer literals that
 * libconfig 1.5 would silently truncate. Each check fills why and returns
 * -1 when the value is bad.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf_load.h"
#include "log.h"

/* The syslog facilities log.facility may name. */
static const char *const facilities[] = {
    "mail",   "daemon", "user",   "local0", "local1", "local2",
    "local3", "local4", "local5", "local6", "local7", NULL,
};

/* milter.socket: unix:/local: with a path, or inet:/inet6: with a port. */
int
pm_conf_check_socket(const char *v, char *why, size_t whylen)
{
    const char *rest;
    char *end = NULL;
    long port;

    if (strncmp(v, "unix:", 5) == 0 || strncmp(v, "local:", 6) == 0) {
        if (strchr(v, ':')[1] == '\0') {
            snprintf(why, whylen, "\"%s\" has no path", v);
            return -1;
        }
        return 0;
    }
    if (strncmp(v, "inet:", 5) == 0 || strncmp(v, "inet6:", 6) == 0) {
        rest = strchr(v, ':') + 1;
        port = isdigit((unsigned char)*rest) ? strtol(rest, &end, 10) : 0;
        if (port < 1 || port > 65535 || (*end != '\0' && *end != '@')) {
            snprintf(why, whylen, "\"%s\" needs a port from 1 to 65535 (inet:PORT@HOST)", v);
            return -1;
        }
        return 0;
    }
    snprintf(why, whylen, "\"%s\" must start with unix:, local:, inet: or inet6:", v);
    return -1;
}

/* A value that must not be empty. */
int
pm_conf_check_nonempty(const char *v, char *why, size_t whylen)
{
    if (*v)
        return 0;
    snprintf(why, whylen, "must not be empty");
    return -1;
}

/* log.facility: mail, daemon, user or local0..local7. */
int
pm_conf_check_facility(const char *v, char *why, size_t whylen)
{
    size_t i;

    for (i = 0; facilities[i]; i++)
        if (strcmp(facilities[i], v) == 0)
            return 0;
    snprintf(why, whylen, "\"%s\" is not one of mail, daemon, user, local0 ... local7", v);
    return -1;
}

/* redis.key_prefix: 1-64 characters of [A-Za-z0-9_.-]. */
int
pm_conf_check_key_prefix(const char *v, char *why, size_t whylen)
{
    size_t n = strlen(v);

    if (n >= 1 && n <= 64 &&
        strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789_.-") == n)
        return 0;
    snprintf(why, whylen, "\"%s\" must be 1 to 64 characters of A-Z a-z 0-9 _ . -", v);
    return -1;
}

/* header_name: a header field name, printable ASCII without colon or space. */
int
pm_conf_check_header_name(const char *v, char *why, size_t whylen)
{
    const char *p;

    for (p = v; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == ':')
            break;
    if (*v && !*p)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a header field name (printable, no colon or space)", v);
    return -1;
}

/* A domain of local_domains: not empty, no '@', no blanks. */
int
pm_conf_check_domain(const char *v, char *why, size_t whylen)
{
    const char *p;

    for (p = v; *p; p++)
        if (*p == '@' || isspace((unsigned char)*p))
            break;
    if (*v && !*p)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a domain (no '@', not empty)", v);
    return -1;
}

/* login_domain: empty, or a domain. */
int
pm_conf_check_login_domain(const char *v, char *why, size_t whylen)
{
    return *v ? pm_conf_check_domain(v, why, whylen) : 0;
}

/* Check that a bucket of v seconds divides a window of span seconds. */
static int
pm_conf_check_bucket(long long v, long long span, const char *what, char *why, size_t whylen)
{
    if (span % v == 0)
        return 0;
    snprintf(why, whylen, "%lld does not divide %lld (the %s must hold a whole number of buckets)",
             v, span, what);
    return -1;
}

/* windows.hour_bucket divides 3600. */
int
pm_conf_check_hour_bucket(long long v, char *why, size_t whylen)
{
    return pm_conf_check_bucket(v, 3600, "hour", why, whylen);
}

/* windows.day_bucket divides 86400. */
int
pm_conf_check_day_bucket(long long v, char *why, size_t whylen)
{
    return pm_conf_check_bucket(v, 86400, "day", why, whylen);
}

/* A directory: "" or an absolute path. */
int
pm_conf_check_abs_path(const char *v, char *why, size_t whylen)
{
    if (!*v || *v == '/')
        return 0;
    snprintf(why, whylen, "\"%s\" is not an absolute path", v);
    return -1;
}

/* postfix.idle_alarm: 0 (off) or at least 5 seconds. */
int
pm_conf_check_idle_alarm(long long v, char *why, size_t whylen)
{
    if (v == 0 || v >= 5)
        return 0;
    snprintf(why, whylen, "%lld must be 0 (off) or from 5 to 86400 seconds", v);
    return -1;
}

/* A Sentinel address: "host:port" or "[v6]:port". */
int
pm_conf_check_hostport(const char *v, char *why, size_t whylen)
{
    const char *colon = strrchr(v, ':');
    char *end;
    long port;

    if (!colon || colon == v) {
        snprintf(why, whylen, "\"%s\" is not host:port", v);
        return -1;
    }
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) {
        snprintf(why, whylen, "\"%s\" has no valid port", v);
        return -1;
    }
    return 0;
}

/* The metrics address: "" (off), "a.b.c.d:port" or "[v6]:port", numeric. */
int
pm_conf_check_listen(const char *v, char *why, size_t whylen)
{
    char host[64];
    unsigned char addr[16];
    const char *colon = strrchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : 0;
    int v6 = v[0] == '[';

    if (!*v)
        return 0;
    if (pm_conf_check_hostport(v, why, whylen) != 0)
        return -1;
    if (v6 && (n < 3 || v[n - 1] != ']')) {
        snprintf(why, whylen, "\"%s\": write an IPv6 address as [addr]:port", v);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(v6 ? n - 2 : n), v6 ? v + 1 : v);
    if (n >= sizeof(host) || inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
        snprintf(why, whylen, "\"%s\" is not a numeric address:port", v);
        return -1;
    }
    return 0;
}

/*
 * libconfig 1.5 silently truncates an integer literal beyond 32 bits that
 * has no L suffix (5000000000 reads as 705032704). Scan the text of one file
 * for such literals, outside strings and comments; -1 after an error.
 */
int
pm_conf_scan_integers(struct loader *ld, const char *name, const char *text)
{
    const char *p = text, *start;
    unsigned int line = 1;
    unsigned long long v;

    while (*p) {
        if (*p == '\n') {
            line++;
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            p += *p ? 2 : 0;
        } else if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                line += *p == '\n';
                if (*p == '\\' && p[1])
                    p++;
            }
            p += *p ? 1 : 0;
        } else if (isalpha((unsigned char)*p) || *p == '_' || *p == '*') {
            p += strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_*-");
        } else if (isdigit((unsigned char)*p)) {
            start = p;
            if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
                p += 2 + strspn(p + 2, "0123456789abcdefABCDEF");
            else
                p += strspn(p, "0123456789");
            errno = 0;
            v = strtoull(start, NULL, start[1] == 'x' || start[1] == 'X' ? 16 : 10);
            if (*p != 'L' && (errno == ERANGE || v > 2147483647ULL)) {
                snprintf(ld->err, ld->errlen,
                         "%s:%u: %.*s is too large (at most 2147483647 without an L suffix)", name,
                         line, (int)(p - start > 40 ? 40 : p - start), start);
                return -1;
            }
        } else {
            p++;
        }
    }
    return 0;
}
