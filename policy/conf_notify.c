/*
 * conf_notify.c - the checks of the notify group: who gets the notices of
 * an incident, how they are sent (sendmail, webhook) and the daily digest.
 *
 *   notify = { admin = [ "postmaster@example.com" ]; sender = false;
 *              from = ""; sendmail = "/usr/sbin/sendmail";
 *              postfix_config_dir = ""; timeout_seconds = 30;
 *              smtp = ""; webhook_url = ""; webhook_timeout_ms = 3000;
 *              digest = false; digest_hour = 7; };
 *
 * The single values are checked by the key table (conf.c) with the checks
 * below; pm_conf_check_notify() checks the group as a whole once every key
 * of it is read.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "identity.h"

/* notify.admin[], notify.from: a plain "local@domain" address. */
int
pm_conf_check_notify_address(const char *v, char *why, size_t whylen)
{
    size_t n = strlen(v);

    if (n == 0 || n > PM_NOTIFY_ADDR_MAX) {
        snprintf(why, whylen, "\"%.80s\" must be an address of 1 to %d characters", v,
                 PM_NOTIFY_ADDR_MAX);
        return -1;
    }
    if (!pm_addr_plain(v, PM_NOTIFY_ADDR_MAX)) {
        snprintf(why, whylen, "\"%.80s\" is not an address like postmaster@example.com", v);
        return -1;
    }
    return 0;
}

/* notify.from: "" (postmeter@ the host's name) or an address. */
int
pm_conf_check_notify_from(const char *v, char *why, size_t whylen)
{
    return *v ? pm_conf_check_notify_address(v, why, whylen) : 0;
}

/* notify.sendmail: an absolute path. */
int
pm_conf_check_notify_command(const char *v, char *why, size_t whylen)
{
    if (*v == '/' && strlen(v) < 1024)
        return 0;
    snprintf(why, whylen, "\"%.80s\" must be an absolute path", v);
    return -1;
}

/* notify.webhook_url: "" or an http:// or https:// URL without spaces. */
int
pm_conf_check_webhook_url(const char *v, char *why, size_t whylen)
{
    size_t i, n = strlen(v), scheme;

    if (n == 0)
        return 0;
    scheme = strncmp(v, "http://", 7) == 0 ? 7 : strncmp(v, "https://", 8) == 0 ? 8 : 0;
    if (!scheme) {
        snprintf(why, whylen, "\"%.80s\" must start with http:// or https://", v);
        return -1;
    }
    if (n > PM_NOTIFY_URL_MAX || n == scheme) {
        snprintf(why, whylen, "\"%.80s\" must have a host and at most %d characters", v,
                 PM_NOTIFY_URL_MAX);
        return -1;
    }
    for (i = 0; i < n; i++)
        if (!isgraph((unsigned char)v[i])) {
            snprintf(why, whylen, "\"%.80s\" must not hold spaces or control characters", v);
            return -1;
        }
    return 0;
}

/* Split notify.smtp into an IP address (no brackets) and a port; 0, or -1 with why set. */
int
pm_notify_smtp_split(const char *v, char *host, size_t hostlen, int *port, char *why, size_t whylen)
{
    const char *colon, *p, *h = v;
    unsigned char addr[16];
    char *end;
    size_t hlen;
    long n;

    if (strlen(v) > PM_NOTIFY_SMTP_MAX)
        goto bad;
    if (*v == '[') {
        if (!(p = strchr(v, ']')) || p[1] != ':')
            goto bad;
        h = v + 1;
        hlen = (size_t)(p - h);
        colon = p + 1;
    } else {
        if (!(colon = strrchr(v, ':')) || memchr(v, ':', (size_t)(colon - v)))
            goto bad;
        hlen = (size_t)(colon - v);
    }
    if (hlen == 0 || hlen >= hostlen || !isdigit((unsigned char)colon[1]))
        goto bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    n = strtol(colon + 1, &end, 10);
    if (*end || n < 1 || n > 65535 || (end - colon - 1) > 5)
        goto bad;
    if (inet_pton(*v == '[' ? AF_INET6 : AF_INET, host, addr) != 1)
        goto bad;
    *port = (int)n;
    return 0;
bad:
    snprintf(why, whylen,
             "\"%.80s\" must be an IP address and a port, like 127.0.0.1:25 or [::1]:25", v);
    return -1;
}

/* notify.smtp: "" (sendmail) or an address and port to submit to. */
int
pm_conf_check_notify_smtp(const char *v, char *why, size_t whylen)
{
    char host[64];
    int port;

    return *v ? pm_notify_smtp_split(v, host, sizeof(host), &port, why, whylen) : 0;
}

/* The notify group as a whole: a bounded list of administrators, and someone to send the
 * digest and the sender's notice to. */
int
pm_conf_check_notify(struct loader *ld, const config_setting_t *s, const char *kname)
{
    const struct pm_conf *c = ld->conf;

    (void)kname;
    if (c->n_notify_admin > PM_NOTIFY_ADMIN_MAX)
        return pm_conf_fail(ld, pm_conf_find_setting(ld, "notify", "admin"),
                            "notify.admin: %zu addresses, at most %d", c->n_notify_admin,
                            PM_NOTIFY_ADMIN_MAX);
    if (c->notify_digest && c->n_notify_admin == 0)
        return pm_conf_fail(ld, pm_conf_find_setting(ld, "notify", "digest"),
                            "notify.digest: needs notify.admin (the digest goes to them)");
    if (c->notify_sender && c->n_notify_admin == 0)
        return pm_conf_fail(ld, pm_conf_find_setting(ld, "notify", "sender"),
                            "notify.sender: needs notify.admin (the sender is told to contact "
                            "them)");
    (void)s;
    return 0;
}
