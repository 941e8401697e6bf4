/*
 * redis_conn.c - opening a Redis connection as the configuration says.
 *
 * The store's pool (store_redis.c), the metrics refresher (metrics_quota.c)
 * and postmeterctl all reach Redis the same way: the primary the Sentinels
 * name when sentinels are configured, else the unix socket, else host:port;
 * then the command timeout, AUTH (password, or ACL user and password) and
 * SELECT. The password never appears in a message.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_conn.h"

/* A timeval of ms milliseconds. */
struct timeval
pm_redis_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    return tv;
}

/* Split "host:port" / "[v6]:port" into host and port; -1 when malformed. */
int
pm_redis_split_hostport(const char *hp, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(hp, ':');
    size_t n;

    if (!colon)
        return -1;
    n = (size_t)(colon - hp);
    if (hp[0] == '[' && n >= 2 && hp[n - 1] == ']') {
        hp++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, hp, n);
    host[n] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

/* The config-epoch of a SENTINEL MASTER reply (field, value, ...), or -1. */
static long long
config_epoch(const redisReply *r)
{
    size_t i;

    if (!r || r->type != REDIS_REPLY_ARRAY)
        return -1;
    for (i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[i]->str, "config-epoch") == 0 &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            return atoll(r->element[i + 1]->str);
    return -1;
}

/* Ask one Sentinel where the primary is and how new its word is (its
 * config-epoch, -1 when it does not say); 0, or -1 with err set. */
static int
sentinel_ask(const char *sentinel, const char *master, int connect_ms, int command_ms,
             const char *name, char *host, size_t hostlen, int *port, long long *epoch, char *err,
             size_t errlen)
{
    char shost[256];
    redisContext *c;
    redisReply *r = NULL, *m = NULL;
    int sport, ok = 0;

    if (pm_redis_split_hostport(sentinel, shost, sizeof(shost), &sport) != 0)
        return -1;
    c = redisConnectWithTimeout(shost, sport, pm_redis_tv(connect_ms));
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s: Sentinel %s: %s", name, sentinel,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    redisSetTimeout(c, pm_redis_tv(command_ms));
    if (redisAppendCommand(c, "SENTINEL get-master-addr-by-name %s", master) == REDIS_OK &&
        redisAppendCommand(c, "SENTINEL MASTER %s", master) == REDIS_OK &&
        redisGetReply(c, (void **)&r) == REDIS_OK)
        redisGetReply(c, (void **)&m);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < hostlen) {
        snprintf(host, hostlen, "%s", r->element[0]->str);
        *port = atoi(r->element[1]->str);
        *epoch = config_epoch(m);
        ok = *port > 0;
    }
    if (!ok)
        snprintf(err, errlen, "redis %s: Sentinel %s does not know the primary", name, sentinel);
    if (r)
        freeReplyObject(r);
    if (m)
        freeReplyObject(m);
    redisFree(c);
    return ok ? 0 : -1;
}

/* Ask every Sentinel where the primary is and take the word of the one with
 * the newest configuration; 0 and host/port, or -1. */
int
pm_redis_sentinel_primary(char *const *sentinels, size_t n, const char *master, int connect_ms,
                          int command_ms, const char *name, char *host, size_t hostlen, int *port,
                          char *err, size_t errlen)
{
    char h[256];
    long long epoch, best = -2;
    size_t i;
    int p;

    snprintf(err, errlen, "redis %s: no Sentinel answered", name);
    for (i = 0; i < n; i++)
        if (sentinel_ask(sentinels[i], master, connect_ms, command_ms, name, h, sizeof(h), &p,
                         &epoch, err, errlen) == 0 &&
            epoch > best && strlen(h) < hostlen) {
            best = epoch;
            snprintf(host, hostlen, "%s", h);
            *port = p;
        }
    return best > -2 ? 0 : -1;
}

/* 0 when a set-up reply is fine, else -1 with err set (the reply is freed). */
static int
setup_ok(redisContext *c, redisReply *r, const char *what, char *err, size_t errlen)
{
    int rc = 0;

    if (!r) {
        snprintf(err, errlen, "%s", c->errstr);
        rc = -1;
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s failed: %s", what, r->str);
        rc = -1;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* One connection as conf says, timeouts, AUTH and SELECT done; see redis_conn.h. */
redisContext *
pm_redis_connect(const struct pm_conf *conf, char *where, size_t wherelen, char *err, size_t errlen)
{
    const char *auth[3] = {"AUTH", conf->redis_user ? conf->redis_user : conf->redis_password,
                           conf->redis_password};
    char host[256], name[128], db[16];
    const char *sel[2] = {"SELECT", db};
    redisContext *c;
    int port;

    if (conf->n_sentinels) {
        snprintf(name, sizeof(name), "%s (Sentinel)", conf->sentinel_master);
        snprintf(where, wherelen, "%s", name);
        if (pm_redis_sentinel_primary(conf->sentinels, conf->n_sentinels, conf->sentinel_master,
                                      conf->connect_timeout_ms, conf->command_timeout_ms, name,
                                      host, sizeof(host), &port, err, errlen) != 0)
            return NULL;
        snprintf(where, wherelen, "%s at %s:%d", name, host, port);
        c = redisConnectWithTimeout(host, port, pm_redis_tv(conf->connect_timeout_ms));
    } else if (conf->redis_socket && *conf->redis_socket) {
        snprintf(where, wherelen, "%s", conf->redis_socket);
        c = redisConnectUnixWithTimeout(conf->redis_socket, pm_redis_tv(conf->connect_timeout_ms));
    } else {
        snprintf(where, wherelen, "%s:%d", conf->redis_host, conf->redis_port);
        c = redisConnectWithTimeout(conf->redis_host, conf->redis_port,
                                    pm_redis_tv(conf->connect_timeout_ms));
    }
    if (!c || c->err) {
        snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, pm_redis_tv(conf->command_timeout_ms));
    snprintf(db, sizeof(db), "%d", conf->redis_db);
    if ((conf->redis_password && *conf->redis_password &&
         setup_ok(c, redisCommandArgv(c, conf->redis_user ? 3 : 2, auth, NULL), "AUTH", err,
                  errlen) != 0) ||
        (conf->redis_db &&
         setup_ok(c, redisCommandArgv(c, 2, sel, NULL), "SELECT", err, errlen) != 0)) {
        redisFree(c);
        return NULL;
    }
    return c;
}
