/*
 * cluster_slot.c - Redis Cluster arithmetic without I/O: the hash slot of a
 * key (CRC16/XMODEM of its hash tag, else of the whole key, mod 16384), the
 * slot map of a CLUSTER SLOTS reply and the target of a MOVED or ASK error.
 * Every input is bounded: a reply naming too many primaries, a slot out of
 * range or listed twice, a host too long or a malformed redirection is an
 * error, never a partial map.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster_slot.h"

/* CRC16/XMODEM (poly 0x1021, init 0), a bit at a time: keys are short. */
uint16_t
pm_cluster_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    size_t i;
    int b;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* The slot of a key: the bytes between its first '{' and the next '}' when
 * there are any, else the whole key (the Redis Cluster specification's rule). */
unsigned
pm_cluster_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;

    if (open) {
        close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close && close > open + 1)
            return pm_cluster_crc16(open + 1, (size_t)(close - open - 1)) & (PM_CLUSTER_SLOTS - 1);
    }
    return pm_cluster_crc16(key, len) & (PM_CLUSTER_SLOTS - 1);
}

/* Write a message into err and return -1. */
__attribute__((format(printf, 3, 4))) static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* 1 when the n bytes of a host are all printable and not blank. */
static int
host_ok(const char *h, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f)
            return 0;
    return 1;
}

/* Read a node entry [endpoint, port, ...] into *node; 0 or -1 with err. */
static int
node_parse(const redisReply *r, struct pm_cluster_node *node, char *err, size_t errlen)
{
    const redisReply *h, *p;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return fail(err, errlen, "a node is not an array [endpoint, port, ...]");
    h = r->element[0];
    p = r->element[1];
    if (p->type != REDIS_REPLY_INTEGER || p->integer < 1 || p->integer > 65535)
        return fail(err, errlen, "a node's port is not an integer in 1..65535");
    node->port = (int)p->integer;
    if (h->type == REDIS_REPLY_NIL) { /* unknown endpoint: the host asked */
        node->host[0] = '\0';
        return 0;
    }
    if (h->type != REDIS_REPLY_STRING)
        return fail(err, errlen, "a node's endpoint is not a string");
    if (h->len == 0 || (h->len == 1 && h->str[0] == '?'))
        return fail(err, errlen, "a node of port %d has no endpoint (\"%.*s\")", node->port,
                    (int)h->len, h->str);
    if (h->len >= PM_CLUSTER_HOST_MAX)
        return fail(err, errlen, "a node's endpoint is longer than %d bytes",
                    PM_CLUSTER_HOST_MAX - 1);
    if (!host_ok(h->str, h->len))
        return fail(err, errlen, "a node's endpoint has a blank or control byte");
    memcpy(node->host, h->str, h->len);
    node->host[h->len] = '\0';
    return 0;
}

/* The index of node in map (added when new); -1 with err when the map is full. */
static int
node_index(struct pm_cluster_map *map, const struct pm_cluster_node *node, char *err, size_t errlen)
{
    unsigned i;

    for (i = 0; i < map->n_nodes; i++)
        if (map->node[i].port == node->port && strcmp(map->node[i].host, node->host) == 0)
            return (int)i;
    if (map->n_nodes == PM_CLUSTER_MAX_PRIMARIES)
        return fail(err, errlen, "more than %d primaries", PM_CLUSTER_MAX_PRIMARIES);
    map->node[map->n_nodes] = *node;
    return (int)map->n_nodes++;
}

/* Read one range [start, end, primary, replicas...] into map; 0 or -1 with err. */
static int
range_parse(const redisReply *r, struct pm_cluster_map *map, char *err, size_t errlen)
{
    struct pm_cluster_node node;
    long long start, end, s;
    int idx;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return fail(err, errlen, "a range is not an array [start, end, primary, ...]");
    if (r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER)
        return fail(err, errlen, "a range's bounds are not integers");
    start = r->element[0]->integer;
    end = r->element[1]->integer;
    if (start < 0 || end >= PM_CLUSTER_SLOTS || start > end)
        return fail(err, errlen, "range %lld-%lld is not within 0-%d", start, end,
                    PM_CLUSTER_SLOTS - 1);
    if (node_parse(r->element[2], &node, err, errlen) < 0)
        return -1;
    if ((idx = node_index(map, &node, err, errlen)) < 0)
        return -1;
    for (s = start; s <= end; s++) {
        if (map->owner[s] != PM_CLUSTER_NO_OWNER)
            return fail(err, errlen, "slot %lld is listed twice", s);
        map->owner[s] = (uint16_t)idx;
    }
    map->covered += (unsigned)(end - start + 1);
    return 0;
}

/* How many of the PM_CLUSTER_SLOTS slots of owner[] have an owner. */
unsigned
pm_cluster_served(const uint16_t *owner)
{
    unsigned n = 0, s;

    for (s = 0; s < PM_CLUSTER_SLOTS; s++)
        n += owner[s] != PM_CLUSTER_NO_OWNER;
    return n;
}

/* Empty a map: no primary, no slot served. */
static void
map_clear(struct pm_cluster_map *map)
{
    size_t i;

    map->n_nodes = 0;
    map->covered = 0;
    for (i = 0; i < PM_CLUSTER_SLOTS; i++)
        map->owner[i] = PM_CLUSTER_NO_OWNER;
}

/* Fill *map from a CLUSTER SLOTS reply; 0, or -1 with a message and an empty map. */
int
pm_cluster_map_parse(const redisReply *r, struct pm_cluster_map *map, char *err, size_t errlen)
{
    size_t i;

    map_clear(map);
    if (!r)
        return fail(err, errlen, "no reply");
    if (r->type == REDIS_REPLY_ERROR)
        return fail(err, errlen, "CLUSTER SLOTS: %.*s", (int)r->len, r->str);
    if (r->type != REDIS_REPLY_ARRAY)
        return fail(err, errlen, "the reply is not an array");
    for (i = 0; i < r->elements; i++)
        if (range_parse(r->element[i], map, err, errlen) < 0) {
            map_clear(map); /* never a partial map */
            return -1;
        }
    return 0;
}

/* Read a decimal number of 1 to 5 digits at s[*i], at most max; -1 when none. */
static long
number(const char *s, size_t len, size_t *i, long max)
{
    long v = 0;
    size_t n = 0;

    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && n < 6) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    return n == 0 || n > 5 || v > max ? -1 : v;
}

/* Parse "MOVED slot host:port" or "ASK slot host:port" (a leading '-' allowed). */
int
pm_cluster_redirect_parse(const char *s, size_t len, struct pm_cluster_redirect *out)
{
    const char *host, *colon;
    size_t i, hlen;
    long slot, port;
    int kind;

    if (len > 0 && s[0] == '-')
        s++, len--;
    if (len >= 5 && memcmp(s, "MOVED", 5) == 0 && (len == 5 || s[5] == ' '))
        kind = PM_CLUSTER_MOVED, i = 5;
    else if (len >= 3 && memcmp(s, "ASK", 3) == 0 && (len == 3 || s[3] == ' '))
        kind = PM_CLUSTER_ASK, i = 3;
    else
        return PM_CLUSTER_NOT_REDIRECT;
    if (i == len || s[i++] != ' ' || (slot = number(s, len, &i, PM_CLUSTER_SLOTS - 1)) < 0)
        return -1;
    if (i == len || s[i++] != ' ')
        return -1;
    host = s + i;
    for (colon = NULL; i < len; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon)
        return -1;
    hlen = (size_t)(colon - host);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') /* [v6]:port */
        host++, hlen -= 2;
    else if (memchr(host, '[', hlen) || memchr(host, ']', hlen))
        return -1; /* a bracket not around the whole host */
    if (hlen >= PM_CLUSTER_HOST_MAX || !host_ok(host, hlen))
        return -1;
    i = (size_t)(colon + 1 - s);
    if ((port = number(s, len, &i, 65535)) < 1 || i != len)
        return -1;
    out->slot = (unsigned)slot;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (int)port;
    return kind;
}

/* The key a command is routed by: EVAL and EVALSHA's first declared key,
 * XREAD's first stream, none for the commands without a key, else argv[1]. */
const char *
pm_cluster_cmd_key(int argc, const char *const *argv)
{
    static const char *const keyless[] = {"SCAN",    "PING",   "TIME", "INFO",   "SCRIPT",
                                          "CLUSTER", "DBSIZE", "ROLE", "ASKING", NULL};
    int i;

    if (argc < 2)
        return NULL;
    for (i = 0; keyless[i]; i++)
        if (strcasecmp(argv[0], keyless[i]) == 0)
            return NULL;
    if (strcasecmp(argv[0], "EVAL") == 0 || strcasecmp(argv[0], "EVALSHA") == 0)
        return argc > 3 && atoi(argv[2]) > 0 ? argv[3] : NULL;
    if (strcasecmp(argv[0], "XREAD") == 0) {
        for (i = 1; i + 1 < argc; i++)
            if (strcasecmp(argv[i], "STREAMS") == 0)
                return argv[i + 1];
        return NULL;
    }
    return argv[1];
}
