/*
 * NAME
 *   slotcli - check policy/cluster_slot.c against a real Redis Cluster (tests)
 *
 * SYNOPSIS
 *   slotcli -p port keyslots N
 *   slotcli -p port map
 *   slotcli -p port set N
 *   slotcli -p port moved OLDMAP
 *
 * DESCRIPTION
 *   Talks to the cluster node on 127.0.0.1:port (and, for set and moved, to
 *   the primaries its CLUSTER SLOTS names). The N test keys are generated,
 *   the same for every run: plain keys, hash tags, empty tags, nested and
 *   reversed braces.
 *
 *   keyslots N   compares pm_cluster_slot() of each key with the node's
 *                CLUSTER KEYSLOT answer. Prints keys=N agree=A.
 *   map          prints the map parsed from the node's CLUSTER SLOTS, one
 *                line "SLOT HOST:PORT" per slot ("-" when no primary has it).
 *   set N        SETs each key on the primary the parsed map gives for its
 *                slot. Prints keys=N ok= moved= other= and per= (keys per
 *                primary, in the map's order: by first slot).
 *   moved OLDMAP for every slot whose owner differs between the map file
 *                OLDMAP (printed by map earlier) and the map parsed now, SETs
 *                a key of that slot on the old owner and parses its answer.
 *                Prints changed= moved= (MOVED answers parsed) agree= (of
 *                those, naming that slot and the new map's owner) other=.
 *
 * DIAGNOSTICS
 *   Exit 0 when the command ran, 2 on bad usage or a failed connection or map.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cluster_slot.h"

#define ADDR_MAX (PM_CLUSTER_HOST_MAX + 8)

static struct pm_cluster_map map;
static redisContext *conn[PM_CLUSTER_MAX_PRIMARIES];
static char old_owner[PM_CLUSTER_SLOTS][ADDR_MAX];

/* Print a message and exit 2. */
static void
die(const char *what)
{
    fprintf(stderr, "slotcli: %s\n", what);
    exit(2);
}

/* Write test key number i into buf. */
static void
key_of(unsigned i, char *buf, size_t size)
{
    switch (i % 8) {
    case 0:
        snprintf(buf, size, "k:%u", i);
        break;
    case 1:
        snprintf(buf, size, "{user%u}.following", i);
        break;
    case 2:
        snprintf(buf, size, "pm:v2:{d%u.example}:s:a@d%u.example:w", i, i);
        break;
    case 3:
        snprintf(buf, size, "foo{}{b%u}", i);
        break;
    case 4:
        snprintf(buf, size, "x{{t%u}}y", i);
        break;
    case 5:
        snprintf(buf, size, "%u}a{b", i);
        break;
    case 6:
        snprintf(buf, size, "{c%u}{z}", i);
        break;
    default:
        snprintf(buf, size, "%u{", i);
        break;
    }
}

/* Connect to host:port (host "" is the node asked: loopback). */
static redisContext *
connect_to(const char *host, int port)
{
    redisContext *c = redisConnect(host[0] ? host : "127.0.0.1", port);

    if (!c || c->err)
        die("cannot connect to a node");
    return c;
}

/* Close the connections to the primaries. */
static void
drop_conns(void)
{
    unsigned i;

    for (i = 0; i < PM_CLUSTER_MAX_PRIMARIES; i++)
        if (conn[i]) {
            redisFree(conn[i]);
            conn[i] = NULL;
        }
}

/* Parse the map from CLUSTER SLOTS of c into map (connections to the old primaries closed). */
static void
load_map(redisContext *c)
{
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    char err[200];

    drop_conns();
    if (pm_cluster_map_parse(r, &map, err, sizeof(err)) < 0)
        die(err);
    freeReplyObject(r);
}

/* The connection to primary i of the map. */
static redisContext *
primary(unsigned i)
{
    if (!conn[i])
        conn[i] = connect_to(map.node[i].host, map.node[i].port);
    return conn[i];
}

/* Write "host:port" of the owner of slot s (or "-") into buf. */
static void
owner_of(unsigned s, char *buf, size_t size)
{
    if (map.owner[s] == PM_CLUSTER_NO_OWNER)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%s:%d", map.node[map.owner[s]].host, map.node[map.owner[s]].port);
}

/* keyslots N: our slot against CLUSTER KEYSLOT. */
static void
cmd_keyslots(redisContext *c, unsigned n)
{
    unsigned i, agree = 0;
    redisReply *r;
    char key[128];

    for (i = 0; i < n; i++) {
        key_of(i, key, sizeof(key));
        r = redisCommand(c, "CLUSTER KEYSLOT %s", key);
        if (!r)
            die("CLUSTER KEYSLOT failed");
        if (r->type == REDIS_REPLY_INTEGER && r->integer == pm_cluster_slot(key, strlen(key)))
            agree++;
        else
            fprintf(stderr, "slotcli: %s: %u, Redis says %lld\n", key,
                    pm_cluster_slot(key, strlen(key)), r->integer);
        freeReplyObject(r);
    }
    printf("keys=%u agree=%u\n", n, agree);
}

/* map: one line per slot. */
static void
cmd_map(redisContext *c)
{
    char addr[ADDR_MAX];
    unsigned s;

    load_map(c);
    for (s = 0; s < PM_CLUSTER_SLOTS; s++) {
        owner_of(s, addr, sizeof(addr));
        printf("%u %s\n", s, addr);
    }
}

/* set N: SET each key on its primary by the map. */
static void
cmd_set(redisContext *c, unsigned n)
{
    unsigned i, ok = 0, moved = 0, other = 0, per[PM_CLUSTER_MAX_PRIMARIES] = {0};
    struct pm_cluster_redirect to;
    redisReply *r;
    char key[128];
    int owner;

    load_map(c);
    for (i = 0; i < n; i++) {
        key_of(i, key, sizeof(key));
        owner = map.owner[pm_cluster_slot(key, strlen(key))];
        if (owner == PM_CLUSTER_NO_OWNER) {
            other++;
            continue;
        }
        r = redisCommand(primary((unsigned)owner), "SET %s %u", key, i);
        if (!r)
            die("SET failed");
        if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0)
            ok++, per[owner]++;
        else if (r->type == REDIS_REPLY_ERROR &&
                 pm_cluster_redirect_parse(r->str, r->len, &to) == PM_CLUSTER_MOVED)
            moved++;
        else
            other++;
        freeReplyObject(r);
    }
    printf("keys=%u ok=%u moved=%u other=%u per=", n, ok, moved, other);
    for (i = 0; i < map.n_nodes; i++)
        printf("%s%u", i ? "," : "", per[i]);
    printf("\n");
}

/* Read a map file printed by "map" into old_owner[]. */
static void
read_old_map(const char *file)
{
    FILE *f = fopen(file, "r");
    char addr[ADDR_MAX];
    unsigned s, n = 0;

    if (!f)
        die("cannot open the old map");
    while (fscanf(f, "%u %260s", &s, addr) == 2 && s < PM_CLUSTER_SLOTS && n < PM_CLUSTER_SLOTS) {
        snprintf(old_owner[s], sizeof(old_owner[s]), "%s", addr);
        n++;
    }
    fclose(f);
    if (n != PM_CLUSTER_SLOTS)
        die("the old map does not list every slot");
}

/* Write into key a key of slot s ("{m<j>}", the first j that fits). */
static void
key_in_slot(unsigned s, char *key, size_t size)
{
    unsigned j;

    for (j = 0; j < 4000000; j++) {
        snprintf(key, size, "{m%u}", j);
        if (pm_cluster_slot(key, strlen(key)) == s)
            return;
    }
    die("no key found for a slot");
}

/* SET a key of slot s on old, the connection to its former owner; count the answer. */
static void
probe_moved(redisContext *old, unsigned s, const char *now, unsigned *moved, unsigned *agree,
            unsigned *other)
{
    struct pm_cluster_redirect to;
    char key[64], addr[ADDR_MAX];
    redisReply *r;

    key_in_slot(s, key, sizeof(key));
    r = redisCommand(old, "SET %s moved", key);
    if (!r)
        die("SET failed");
    if (r->type == REDIS_REPLY_ERROR &&
        pm_cluster_redirect_parse(r->str, r->len, &to) == PM_CLUSTER_MOVED) {
        (*moved)++;
        snprintf(addr, sizeof(addr), "%s:%d", to.host, to.port);
        if (to.slot == s && strcmp(addr, now) == 0)
            (*agree)++;
    } else {
        (*other)++;
    }
    freeReplyObject(r);
}

/* moved OLDMAP: the old owners of moved slots redirect to the new map's owners. */
static void
cmd_moved(redisContext *c, const char *file)
{
    unsigned s, changed = 0, moved = 0, agree = 0, other = 0;
    char now[ADDR_MAX], host[ADDR_MAX], *colon;
    redisContext *old;

    read_old_map(file);
    load_map(c);
    for (s = 0; s < PM_CLUSTER_SLOTS; s++) {
        owner_of(s, now, sizeof(now));
        if (strcmp(now, old_owner[s]) == 0)
            continue;
        changed++;
        memcpy(host, old_owner[s], sizeof(host));
        if (!(colon = strrchr(host, ':')))
            die("an old owner has no port");
        *colon = '\0';
        old = connect_to(host, atoi(colon + 1));
        probe_moved(old, s, now, &moved, &agree, &other);
        redisFree(old);
    }
    printf("changed=%u moved=%u agree=%u other=%u\n", changed, moved, agree, other);
}

/* Run one command against the node given with -p. */
int
main(int argc, char **argv)
{
    redisContext *c;
    int opt, port = 0;

    signal(SIGPIPE, SIG_IGN); /* a closed node is an error, not death */
    while ((opt = getopt(argc, argv, "p:")) != -1) {
        if (opt != 'p')
            die("usage: slotcli -p port keyslots N | map | set N | moved OLDMAP");
        port = atoi(optarg);
    }
    if (port <= 0 || optind >= argc)
        die("usage: slotcli -p port keyslots N | map | set N | moved OLDMAP");
    c = connect_to("127.0.0.1", port);
    if (strcmp(argv[optind], "keyslots") == 0 && optind + 1 < argc)
        cmd_keyslots(c, (unsigned)atoi(argv[optind + 1]));
    else if (strcmp(argv[optind], "map") == 0)
        cmd_map(c);
    else if (strcmp(argv[optind], "set") == 0 && optind + 1 < argc)
        cmd_set(c, (unsigned)atoi(argv[optind + 1]));
    else if (strcmp(argv[optind], "moved") == 0 && optind + 1 < argc)
        cmd_moved(c, argv[optind + 1]);
    else
        die("usage: slotcli -p port keyslots N | map | set N | moved OLDMAP");
    redisFree(c);
    drop_conns();
    return 0;
}
