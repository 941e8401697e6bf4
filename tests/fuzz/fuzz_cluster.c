/*
 * fuzz_cluster.c - libFuzzer target for policy/cluster_slot.c: the first
 * byte chooses the parser. 0: the rest is an error text for the MOVED/ASK
 * parser; 1: the rest is RESP read by hiredis' reader, and the reply goes to
 * the CLUSTER SLOTS map parser; else: the rest is a key for the slot. What a
 * parser accepts must be within its bounds.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slot.h"

static struct pm_cluster_map map;

/* 1 when the RESP text declares an array of 10,000 elements or more (hiredis
 * 0.14 would allocate it whole: not this parser's concern). */
static int
huge_array(const uint8_t *p, size_t n)
{
    size_t i, digits;

    for (i = 0; i < n; i++) {
        if (p[i] != '*')
            continue;
        for (digits = 0; i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9'; i++)
            digits++;
        if (digits > 4)
            return 1;
    }
    return 0;
}

/* Read one reply from the bytes and parse it as a slot map. */
static void
map_of(const uint8_t *p, size_t n)
{
    redisReader *rd;
    void *reply = NULL;
    unsigned s, covered = 0;
    char err[256];

    if (huge_array(p, n) || !(rd = redisReaderCreate()))
        return;
    if (redisReaderFeed(rd, (const char *)p, n) == REDIS_OK &&
        redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
        if (pm_cluster_map_parse(reply, &map, err, sizeof(err)) == 0) {
            if (map.n_nodes > PM_CLUSTER_MAX_PRIMARIES)
                abort();
            for (s = 0; s < PM_CLUSTER_SLOTS; s++) {
                if (map.owner[s] != PM_CLUSTER_NO_OWNER && map.owner[s] >= map.n_nodes)
                    abort();
                covered += map.owner[s] != PM_CLUSTER_NO_OWNER;
            }
            if (covered != map.covered)
                abort();
        } else if (strlen(err) == 0) {
            abort();
        }
        freeReplyObject(reply);
    }
    redisReaderFree(rd);
}

/* Run one parser on the input, chosen by its first byte. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pm_cluster_redirect r;
    int kind;

    if (size == 0)
        return 0;
    if (data[0] == 0) {
        kind = pm_cluster_redirect_parse((const char *)data + 1, size - 1, &r);
        if (kind > 0 && (r.slot >= PM_CLUSTER_SLOTS || r.port < 1 || r.port > 65535 ||
                         strlen(r.host) >= PM_CLUSTER_HOST_MAX))
            abort();
    } else if (data[0] == 1) {
        map_of(data + 1, size - 1);
    } else if (pm_cluster_slot((const char *)data + 1, size - 1) >= PM_CLUSTER_SLOTS) {
        abort();
    }
    return 0;
}
