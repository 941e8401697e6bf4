/*
 * cidr.h - IPv4/IPv6 networks in CIDR notation, and matching an address.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CIDR_H
#define PM_CIDR_H

struct pm_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address, host bits cleared */
    int prefix;             /* prefix length in bits */
};

/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address; 0 ok, -1 bad. */
int pm_cidr_parse(const char *text, struct pm_cidr *out);

/* 1 when the textual address addr (v4, v6 or v4-mapped v6) is inside net. */
int pm_cidr_match(const struct pm_cidr *net, const char *addr);

/* 1 when host (an address, bracketed or not, or a name) is this machine's
 * loopback: 127.0.0.0/8, ::1 (or ::ffff:127.x), or the name localhost. */
int pm_cidr_is_loopback(const char *host);

#endif
