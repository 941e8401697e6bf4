/*
 * store_redis_route.c - the Redis store on a Redis Cluster: which primary
 * serves a key, and what to do when a primary sends a command elsewhere.
 *
 * The top-level store (redis.cluster) keeps the slot map, slot -> one of
 * the primaries it knows, and a store of its own for each primary: a
 * single-node store with that host and port whose pool (store_redis_pool.c)
 * is today's, unchanged. The map is read from CLUSTER SLOTS, asked of the
 * primaries known and then of the seeds, in turn; it is read again when a
 * redirection, a connection that failed or a replica's READONLY marks it
 * stale (by one caller at a time, at most once each 100 ms; the others go
 * on with the old one) and every 30 s. MOVED sets the slot's new owner and
 * sends the command again at once; ASK sends it once to the node named,
 * after ASKING; TRYAGAIN and CLUSTERDOWN wait 5 ms doubling to 50 ms. A
 * call sends again at most 16 times after its first send, each only while
 * redis.cluster_retry_ms since the start has not run out (checked before a
 * send, not during one: at worst 17 sends of redis.command_timeout_ms),
 * then fails as a store it cannot reach (PM_STORE_RETRY: on_store_error).
 * A load of every key (the suppression copy's) reads the map afresh, needs
 * every slot served, and compares the map's generation (bumped on any
 * change of an owner) at its start and end (rs_route_whole).
 * Stores of primaries are never freed before the top-level one: a caller
 * may hold one without the lock.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "clock.h"
#include "cluster_slot.h"
#include "log.h"
#include "metrics.h"
#include "store_redis_int.h"

#define REFRESH_EVERY_MS 30000 /* the map is read again this often */
#define REFRESH_GAP_MS 100     /* and a stale one at most this often */
#define MAX_RESENDS 16         /* sends of one call after the first */
#define DELAY_MIN_MS 5         /* the first wait after TRYAGAIN or CLUSTERDOWN */
#define DELAY_MAX_MS 50        /* doubling up to this */

struct rs_cluster {
    char **seeds; /* "host:port" */
    size_t n_seeds;
    int retry_ms;
    unsigned at_slot; /* the slot of the global keys' tag, "{@}" */
    /* the rest under the top-level store's mu */
    uint16_t owner[PM_CLUSTER_SLOTS]; /* index into node[], or PM_CLUSTER_NO_OWNER */
    struct redis_store *node[PM_CLUSTER_MAX_PRIMARIES];
    unsigned n_nodes;
    unsigned gen; /* bumped on any change of a slot's owner */
    int stale, refreshing;
    long long refreshed_ms, tried_ms; /* monotonic: the last success, the last attempt */
};

/* A store for one primary at host:port, sharing the top-level one's settings
 * (their strings stay the top-level store's); NULL on allocation failure. */
static struct redis_store *
node_new(struct redis_store *top, const char *host, int port)
{
    struct redis_store *n = calloc(1, sizeof(*n));
    pthread_condattr_t ca;

    if (!n)
        return NULL;
    if (!(n->host = strdup(host)) || !(n->idle = calloc(top->pool_size, sizeof(*n->idle)))) {
        free(n->host);
        free(n);
        return NULL;
    }
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    n->top = top;
    n->port = port;
    n->user = top->user;
    n->password = top->password;
    n->prefix = top->prefix;
    n->layout = PM_LAYOUT_V2; /* no layout key on a cluster */
    n->layout_key = top->layout_key;
    memcpy(n->clock_key, top->clock_key, sizeof(n->clock_key));
    memcpy(n->learn_key, top->learn_key, sizeof(n->learn_key));
    n->test_clock = top->test_clock;
    n->plan_table = top->plan_table;
    n->now_lua = top->now_lua;
    n->connect_ms = top->connect_ms;
    n->command_ms = top->command_ms;
    n->retry_min_ms = top->retry_min_ms;
    n->retry_max_ms = top->retry_max_ms;
    n->pool_size = top->pool_size;
    n->network_encrypted = top->network_encrypted;
    snprintf(n->name, sizeof(n->name), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    n->link = (struct pm_redis_link){n->host, n->port,       NULL,          n->user, n->password,
                                     0,       n->connect_ms, n->command_ms, n->name, 0};
    n->state = LINK_UNKNOWN;
    return n;
}

/* Free a primary's store (none of its connections in use). */
static void
node_free(struct redis_store *n)
{
    rs_pool_close(n);
    free(n->idle);
    free(n->host);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

/* The index of the primary at host:port, added when new (called locked);
 * -1 when there is no room or memory. */
static int
node_index(struct redis_store *rs, const char *host, int port)
{
    struct rs_cluster *cl = rs->cl;
    unsigned i;

    for (i = 0; i < cl->n_nodes; i++)
        if (cl->node[i]->port == port && strcmp(cl->node[i]->host, host) == 0)
            return (int)i;
    if (cl->n_nodes == PM_CLUSTER_MAX_PRIMARIES || !(cl->node[i] = node_new(rs, host, port)))
        return -1;
    if (!rs->network_encrypted && !pm_cidr_is_loopback(host))
        pm_log(PM_LOG_WARNING,
               "redis %s: the node %s is not on a loopback address: hiredis has no TLS, so the "
               "password and every counter cross the network in clear (README: Protecting the "
               "link to Redis)",
               rs->name, cl->node[i]->name);
    return (int)cl->n_nodes++;
}

/* Set the owner of slot (called locked): a change bumps the map's generation,
 * and a new owner of the global keys' slot is a move of their primary
 * (rs_conn_moved). */
static void
owner_set(struct redis_store *rs, unsigned slot, uint16_t idx)
{
    struct rs_cluster *cl = rs->cl;

    if (cl->owner[slot] == idx)
        return;
    if (slot == cl->at_slot)
        rs->moves++;
    cl->gen++;
    cl->owner[slot] = idx;
}

/* Make rs (redis.cluster) a cluster's top-level store; 0, or -1 on allocation failure. */
int
rs_cluster_init(struct redis_store *rs, char *const *seeds, size_t n, int retry_ms)
{
    struct rs_cluster *cl = calloc(1, sizeof(*cl));
    size_t i;

    if (!cl || !(cl->seeds = calloc(n, sizeof(*cl->seeds)))) {
        free(cl);
        return -1;
    }
    rs->cl = cl;
    for (i = 0; i < n; i++)
        if (!(cl->seeds[cl->n_seeds++] = strdup(seeds[i])))
            return -1;
    cl->retry_ms = retry_ms > 0 ? retry_ms : 1000;
    cl->at_slot = pm_cluster_slot("{@}", 3);
    for (i = 0; i < PM_CLUSTER_SLOTS; i++)
        cl->owner[i] = PM_CLUSTER_NO_OWNER;
    cl->stale = 1;
    rs->layout = PM_LAYOUT_V2;
    snprintf(rs->name, sizeof(rs->name), "cluster %s", seeds[0]);
    return 0;
}

/* Free the cluster's state and every primary's store. */
void
rs_cluster_free(struct redis_store *rs)
{
    struct rs_cluster *cl = rs->cl;

    if (!cl)
        return;
    while (cl->n_nodes > 0)
        node_free(cl->node[--cl->n_nodes]);
    while (cl->n_seeds > 0)
        free(cl->seeds[--cl->n_seeds]);
    free(cl->seeds);
    free(cl);
    rs->cl = NULL;
}

/* Ask n (a primary's store) for the slot map, into *map; 0, or -1 with err set. */
static int
map_from(struct redis_store *n, struct pm_cluster_map *map, char *err, size_t errlen)
{
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    redisReply *r;
    char why[256];
    unsigned i;
    int rc;

    if (rs_call(n, 2, argv, &r, err, errlen) != PM_STORE_OK)
        return -1;
    rc = pm_cluster_map_parse(r, map, why, sizeof(why));
    freeReplyObject(r);
    if (rc < 0) {
        snprintf(err, errlen, "redis %.200s: CLUSTER SLOTS: %.200s", n->name, why);
        return -1;
    }
    for (i = 0; i < map->n_nodes; i++) /* an unknown endpoint: the node asked */
        if (!map->node[i].host[0])
            snprintf(map->node[i].host, sizeof(map->node[i].host), "%s", n->host);
    return 0;
}

/* 1 when n is among the n_ask stores of ask[]. */
static int
asked(struct redis_store *const *ask, size_t n_ask, const struct redis_store *n)
{
    size_t i;

    for (i = 0; i < n_ask; i++)
        if (ask[i] == n)
            return 1;
    return 0;
}

/* Read the slot map from the primaries known, else from the seeds; 0, or -1
 * with err set (the old map stays). */
static int
refresh(struct redis_store *rs, char *err, size_t errlen)
{
    struct rs_cluster *cl = rs->cl;
    struct pm_cluster_map *map = malloc(sizeof(*map));
    struct redis_store *ask[PM_CLUSTER_MAX_PRIMARIES + 32];
    size_t n_ask = 0, i, s;
    uint16_t idx[PM_CLUSTER_MAX_PRIMARIES];
    char host[PM_CLUSTER_HOST_MAX];
    int port, got = -1, k;

    snprintf(err, errlen, "redis %s: no node to ask for the slot map", rs->name);
    if (!map)
        return -1;
    pthread_mutex_lock(&rs->mu);
    for (i = 0; i < cl->n_nodes; i++)
        ask[n_ask++] = cl->node[i];
    for (i = 0; i < cl->n_seeds; i++)
        if (pm_redis_split_hostport(cl->seeds[i], host, sizeof(host), &port) == 0 &&
            (k = node_index(rs, host, port)) >= 0 && !asked(ask, n_ask, cl->node[k]))
            ask[n_ask++] = cl->node[k]; /* a seed that is no primary known yet */
    pthread_mutex_unlock(&rs->mu);
    for (i = 0; i < n_ask && got < 0; i++)
        got = map_from(ask[i], map, err, errlen);
    if (got == 0) {
        pthread_mutex_lock(&rs->mu);
        for (i = 0; i < map->n_nodes; i++) {
            k = node_index(rs, map->node[i].host, map->node[i].port);
            idx[i] = k < 0 ? PM_CLUSTER_NO_OWNER : (uint16_t)k;
        }
        for (s = 0; s < PM_CLUSTER_SLOTS; s++)
            owner_set(rs, (unsigned)s,
                      map->owner[s] == PM_CLUSTER_NO_OWNER ? PM_CLUSTER_NO_OWNER
                                                           : idx[map->owner[s]]);
        if (!cl->refreshed_ms || cl->stale)
            pm_log(PM_LOG_INFO, "redis %s: slot map read: %u primaries, %u slots served", rs->name,
                   map->n_nodes, map->covered);
        cl->stale = 0;
        cl->refreshed_ms = pm_mono_ms();
        pthread_mutex_unlock(&rs->mu);
    }
    free(map);
    return got;
}

/* Read the map again when it is stale or old and nobody else is at it (at
 * most once each REFRESH_GAP_MS); must (the map has no primary for the
 * caller's slot): wait for a read under way; when no map was ever read, read
 * it now; else mark it stale. */
static void
maybe_refresh(struct redis_store *rs, int must)
{
    struct rs_cluster *cl = rs->cl;
    long long now = pm_mono_ms();
    char err[512];
    int go;

    pthread_mutex_lock(&rs->mu);
    /* nothing to go on: wait (bounded) for the read under way to end */
    while (must && cl->refreshing && pm_mono_ms() - now < rs->connect_ms + 2 * rs->command_ms) {
        struct timespec ts = {0, 5000000L};

        pthread_mutex_unlock(&rs->mu);
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&rs->mu);
    }
    if (must && cl->refreshed_ms) { /* a map was read (maybe meanwhile): a slot without */
        must = 0;                   /* an owner in it reads it again, at most each 100 ms */
        cl->stale = 1;
    }
    go = !cl->refreshing && (must || now - cl->tried_ms >= REFRESH_GAP_MS) &&
         (must || cl->stale || now - cl->refreshed_ms >= REFRESH_EVERY_MS);
    if (go) {
        cl->refreshing = 1;
        cl->tried_ms = now;
    }
    pthread_mutex_unlock(&rs->mu);
    if (!go)
        return;
    if (refresh(rs, err, sizeof(err)) < 0)
        pm_log(PM_LOG_WARNING, "redis %s: the slot map cannot be read: %s", rs->name, err);
    pthread_mutex_lock(&rs->mu);
    cl->refreshing = 0;
    pthread_mutex_unlock(&rs->mu);
}

/* The store of the primary serving slot (PM_CLUSTER_SLOTS: any primary);
 * NULL with err set when none is known. */
struct redis_store *
rs_route_slot(struct redis_store *rs, unsigned slot, char *err, size_t errlen)
{
    struct rs_cluster *cl = rs->cl;
    struct redis_store *n = NULL;
    int pass;

    for (pass = 0; pass < 2 && !n; pass++) {
        maybe_refresh(rs, pass == 1);
        pthread_mutex_lock(&rs->mu);
        if (slot < PM_CLUSTER_SLOTS && cl->owner[slot] != PM_CLUSTER_NO_OWNER)
            n = cl->node[cl->owner[slot]];
        else if (slot >= PM_CLUSTER_SLOTS && cl->n_nodes &&
                 cl->owner[cl->at_slot] != PM_CLUSTER_NO_OWNER)
            n = cl->node[cl->owner[cl->at_slot]];
        pthread_mutex_unlock(&rs->mu);
    }
    if (!n)
        snprintf(err, errlen, "redis %s: no primary serves slot %u", rs->name, slot);
    return n;
}

/* The slot of the global keys ("{@}"). */
unsigned
rs_route_at_slot(const struct redis_store *rs)
{
    return rs->cl->at_slot;
}

/* Start a call of argc/argv: its slot and primary; 0, or -1 with err set. */
int
rs_route_start(struct redis_store *rs, int argc, const char **argv, struct rs_try *t, char *err,
               size_t errlen)
{
    const char *key = pm_cluster_cmd_key(argc, argv);

    memset(t, 0, sizeof(*t));
    t->slot = key ? pm_cluster_slot(key, strlen(key)) : PM_CLUSTER_SLOTS;
    t->deadline = pm_mono_ms() + rs->cl->retry_ms;
    t->delay_ms = DELAY_MIN_MS;
    t->node = rs_route_slot(rs, t->slot, err, errlen);
    return t->node ? 0 : -1;
}

/* The map is stale: read it again soon (a node failed or is a replica now). */
void
rs_route_stale(struct redis_store *rs)
{
    pthread_mutex_lock(&rs->mu);
    rs->cl->stale = 1;
    pthread_mutex_unlock(&rs->mu);
}

/* Whether to send the call again after reply r (NULL: none came): 1 with
 * t->node and t->asking set for the next send, else 0 (err says why when
 * the budget ran out). */
int
rs_route_again(struct redis_store *rs, struct rs_try *t, const redisReply *r, char *err,
               size_t errlen)
{
    struct rs_cluster *cl = rs->cl;
    struct pm_cluster_redirect to;
    int kind, k;

    t->asking = 0;
    if (!r) {
        rs_route_stale(rs);
        return 0;
    }
    if (r->type != REDIS_REPLY_ERROR)
        return 0;
    if (strncmp(r->str, "READONLY", 8) == 0) {
        rs_route_stale(rs);
        return 0;
    }
    kind = pm_cluster_redirect_parse(r->str, r->len, &to);
    if (kind <= 0 && strncmp(r->str, "TRYAGAIN", 8) != 0 && strncmp(r->str, "CLUSTERDOWN", 11) != 0)
        return 0;
    if (t->tries >= MAX_RESENDS || pm_mono_ms() >= t->deadline) {
        snprintf(err, errlen, "redis %s: %s (after %d sends in %d ms)", rs->name, r->str,
                 t->tries + 1, cl->retry_ms);
        return 0;
    }
    t->tries++;
    if (kind == PM_CLUSTER_MOVED || kind == PM_CLUSTER_ASK) {
        pthread_mutex_lock(&rs->mu);
        if (!to.host[0])
            snprintf(to.host, sizeof(to.host), "%s", t->node->host);
        if ((k = node_index(rs, to.host, to.port)) >= 0) {
            if (kind == PM_CLUSTER_MOVED && to.slot < PM_CLUSTER_SLOTS) {
                owner_set(rs, to.slot, (uint16_t)k);
                cl->stale = 1;
            }
            t->node = cl->node[k];
        } else {
            snprintf(err, errlen, "redis %s: no room for node %s:%d", rs->name, to.host, to.port);
        }
        pthread_mutex_unlock(&rs->mu);
        pm_metrics_store_redirect(kind == PM_CLUSTER_MOVED ? 0 : 1);
        t->asking = kind == PM_CLUSTER_ASK;
        return k >= 0;
    }
    pm_metrics_store_redirect(2);
    {
        struct timespec ts = {0, t->delay_ms * 1000000L};

        nanosleep(&ts, NULL);
    }
    t->delay_ms = t->delay_ms * 2 > DELAY_MAX_MS ? DELAY_MAX_MS : t->delay_ms * 2;
    if ((t->node = rs_route_slot(rs, t->slot, err, errlen)) == NULL)
        return 0;
    return 1;
}

/* The primaries that serve a slot now, into out (at most max); how many. */
size_t
rs_route_primaries(struct redis_store *rs, struct redis_store **out, size_t max)
{
    struct rs_cluster *cl = rs->cl;
    unsigned char seen[PM_CLUSTER_MAX_PRIMARIES] = {0};
    size_t n = 0, s;
    char err[256];

    rs_route_slot(rs, PM_CLUSTER_SLOTS, err, sizeof(err)); /* a map read first, when none */
    pthread_mutex_lock(&rs->mu);
    for (s = 0; s < PM_CLUSTER_SLOTS; s++) {
        uint16_t o = cl->owner[s];

        if (o != PM_CLUSTER_NO_OWNER && !seen[o] && n < max) {
            seen[o] = 1;
            out[n++] = cl->node[o];
        }
    }
    pthread_mutex_unlock(&rs->mu);
    return n;
}

/* The primary of the global keys' slot and rs->moves, read together (the
 * first map read bumps moves); NULL with err set when none is known. */
struct redis_store *
rs_route_at(struct redis_store *rs, unsigned *moves, char *err, size_t errlen)
{
    struct rs_cluster *cl = rs->cl;
    struct redis_store *n = rs_route_slot(rs, cl->at_slot, err, errlen);

    if (!n)
        return NULL;
    pthread_mutex_lock(&rs->mu);
    if (cl->owner[cl->at_slot] != PM_CLUSTER_NO_OWNER)
        n = cl->node[cl->owner[cl->at_slot]];
    *moves = rs->moves;
    pthread_mutex_unlock(&rs->mu);
    return n;
}

/* The slot map's generation as this process knows it. */
unsigned
rs_route_gen(struct redis_store *rs)
{
    unsigned gen;

    pthread_mutex_lock(&rs->mu);
    gen = rs->cl->gen;
    pthread_mutex_unlock(&rs->mu);
    return gen;
}

/* Read the map now (not the cached one: a primary given slots lately) and
 * take its generation into *gen: PM_STORE_OK when every slot has a primary,
 * else PM_STORE_RETRY with err set (a scan of the primaries would miss the
 * keys of the others). */
int
rs_route_whole(struct redis_store *rs, unsigned *gen, char *err, size_t errlen)
{
    struct rs_cluster *cl = rs->cl;
    unsigned served;

    if (refresh(rs, err, errlen) < 0)
        return PM_STORE_RETRY;
    pthread_mutex_lock(&rs->mu);
    served = pm_cluster_served(cl->owner);
    *gen = cl->gen;
    pthread_mutex_unlock(&rs->mu);
    if (served < PM_CLUSTER_SLOTS) {
        snprintf(err, errlen, "redis %s: %u of %u slots have no primary", rs->name,
                 PM_CLUSTER_SLOTS - served, PM_CLUSTER_SLOTS);
        return PM_STORE_RETRY;
    }
    return PM_STORE_OK;
}
