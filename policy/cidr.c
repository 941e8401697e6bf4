/*
 * cidr.c - IPv4/IPv6 networks in CIDR notation, and matching an address.
 *
 * IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) match IPv4 networks, since
 * that is how a dual-stack listener reports IPv4 clients.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cidr.h"

/* Clear the bits of addr after the first prefix bits. */
static void
cidr_mask(unsigned char *addr, int len, int prefix)
{
    int i;

    for (i = 0; i < len; i++) {
        int keep = prefix - i * 8;

        if (keep >= 8)
            continue;
        addr[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
    }
}

/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address; 0 ok, -1 bad. */
int
pm_cidr_parse(const char *text, struct pm_cidr *out)
{
    char buf[64], *slash, *end;
    int max;
    long prefix;

    if (strlen(text) >= sizeof(buf))
        return -1;
    strcpy(buf, text);
    slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    prefix = max;
    if (slash) {
        if (slash[1] == '\0')
            return -1;
        prefix = strtol(slash + 1, &end, 10);
        if (*end != '\0' || prefix < 0 || prefix > max)
            return -1;
    }
    out->prefix = (int)prefix;
    cidr_mask(out->addr, max / 8, out->prefix);
    return 0;
}

/* 1 when the textual address addr is inside net. */
int
pm_cidr_match(const struct pm_cidr *net, const char *addr)
{
    unsigned char a[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[64];
    size_t n;

    if (!addr)
        return 0;
    /* Postfix may bracket IPv6 addresses or prefix them with "IPv6:". */
    if (strncasecmp(addr, "IPv6:", 5) == 0)
        addr += 5;
    n = strlen(addr);
    if (n >= sizeof(buf))
        return 0;
    if (addr[0] == '[' && n > 2 && addr[n - 1] == ']') {
        memcpy(buf, addr + 1, n - 2);
        buf[n - 2] = '\0';
    } else {
        strcpy(buf, addr);
    }
    if (inet_pton(AF_INET, buf, a) == 1) {
        if (net->family != AF_INET)
            return 0;
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        if (net->family == AF_INET) {
            if (memcmp(a, mapped, sizeof(mapped)) != 0)
                return 0;
            memmove(a, a + 12, 4);
        }
    } else {
        return 0;
    }
    cidr_mask(a, net->family == AF_INET ? 4 : 16, net->prefix);
    return memcmp(a, net->addr, net->family == AF_INET ? 4 : 16) == 0;
}

/* 1 when host (an address, bracketed or not, or a name) is this machine's
 * loopback: 127.0.0.0/8, ::1, or the name localhost. */
int
pm_cidr_is_loopback(const char *host)
{
    static const char *const nets[] = {"127.0.0.0/8", "::1/128"};
    struct pm_cidr net;
    size_t i;

    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return 1;
    for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
        if (pm_cidr_parse(nets[i], &net) == 0 && pm_cidr_match(&net, host))
            return 1;
    return 0;
}
