/*
 * cluster_slot.h - Redis Cluster arithmetic without I/O: a key's hash slot,
 * the slot map read from a CLUSTER SLOTS reply, MOVED and ASK redirections.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CLUSTER_SLOT_H
#define PM_CLUSTER_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define PM_CLUSTER_SLOTS 16384
/* the most primaries a map holds; a larger cluster is refused */
#define PM_CLUSTER_MAX_PRIMARIES 256
/* room for a host name or address and its NUL (a DNS name has 253 bytes) */
#define PM_CLUSTER_HOST_MAX 256
/* owner[] of a slot no primary serves */
#define PM_CLUSTER_NO_OWNER 0xFFFFu

/* A primary: host "" means the host the reply came from (an unknown endpoint). */
struct pm_cluster_node {
    char host[PM_CLUSTER_HOST_MAX];
    int port;
};

/* Slot -> index into node[] (or PM_CLUSTER_NO_OWNER); the primaries in the order the reply names
 * them. */
struct pm_cluster_map {
    uint16_t owner[PM_CLUSTER_SLOTS];
    unsigned n_nodes;
    unsigned covered; /* slots that have an owner */
    struct pm_cluster_node node[PM_CLUSTER_MAX_PRIMARIES];
};

enum pm_cluster_redirect_kind { PM_CLUSTER_NOT_REDIRECT = 0, PM_CLUSTER_MOVED, PM_CLUSTER_ASK };

/* Where an -ASK or -MOVED error sends a slot (host "": the node that answered). */
struct pm_cluster_redirect {
    unsigned slot;
    char host[PM_CLUSTER_HOST_MAX];
    int port;
};

/* CRC16/XMODEM (poly 0x1021, init 0) of len bytes. */
uint16_t pm_cluster_crc16(const char *buf, size_t len);

/* The hash slot of a key of len bytes: its hash tag's when it has a non-empty one. */
unsigned pm_cluster_slot(const char *key, size_t len);

/* Fill *map from a CLUSTER SLOTS reply; 0, or -1 with a message in err and
 * *map emptied (no primary, no slot served): never a partial map. */
int pm_cluster_map_parse(const redisReply *r, struct pm_cluster_map *map, char *err, size_t errlen);

/* How many of the PM_CLUSTER_SLOTS slots of owner[] have an owner. */
unsigned pm_cluster_served(const uint16_t *owner);

/* Parse an error text "MOVED slot host:port" or "ASK slot host:port" (a leading
 * '-' allowed): PM_CLUSTER_MOVED or PM_CLUSTER_ASK with *out filled,
 * PM_CLUSTER_NOT_REDIRECT for any other error, -1 when malformed. */
int pm_cluster_redirect_parse(const char *s, size_t len, struct pm_cluster_redirect *out);

/* The key a command is routed by (EVAL/EVALSHA: the first declared key;
 * XREAD: the first stream; else argv[1]), or NULL for a command without
 * one (SCAN, PING, TIME, INFO, SCRIPT, CLUSTER, DBSIZE, ROLE, ASKING, an
 * EVAL with no key): any primary may run it. */
const char *pm_cluster_cmd_key(int argc, const char *const *argv);

#endif
