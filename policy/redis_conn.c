/*
 * redis_conn.c - opening a Redis connection as the configuration says.
 *
 * The one way postmeter reaches Redis (the store's pool, store_redis_pool.c,
 * opens every connection the milter, the metrics refresher and postmeterctl
 * use): the primary the Sentinels name when sentinels are configured, else
 * the unix socket, else host:port; then the command timeout, keepalive, AUTH
 * (password, or ACL user and password), SELECT, and ROLE, so that nothing is
 * ever written to a replica. The password never appears in a message.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Block SIGPIPE in this thread while writing to a socket Redis may have closed
 * (nothing to do when the process ignores it, as postmeter and postmeterctl do). */
void
pm_redis_pipe_block(sigset_t *old, int *was_pending)
{
    sigset_t set, pending;
    struct sigaction sa;

    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
        *was_pending = -1;
        return;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    *was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

/* Consume a SIGPIPE raised while blocked and restore the thread's mask. */
void
pm_redis_pipe_restore(const sigset_t *old, int was_pending)
{
    sigset_t set, pending;
    struct timespec zero = {0, 0};

    if (was_pending < 0)
        return;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    if (!was_pending && sigismember(&pending, SIGPIPE))
        sigtimedwait(&set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Describe a context that failed (a timeout says so); 1 when it was a timeout. */
int
pm_redis_io_error(const struct pm_redis_link *l, const redisContext *c, int saved_errno, char *err,
                  size_t errlen)
{
    if (c->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
        snprintf(err, errlen, "redis %s: no reply within %d ms", l->name, l->command_ms);
        return 1;
    }
    if (c->err)
        snprintf(err, errlen, "redis %s: %s", l->name, c->errstr);
    else
        snprintf(err, errlen, "redis %s: connection failed", l->name);
    return 0;
}

/* Run one set-up command; 0, or -1 with err set. */
static int
setup_cmd(const struct pm_redis_link *l, redisContext *c, int argc, const char **argv, char *err,
          size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int rc = -1;

    if (!r)
        pm_redis_io_error(l, c, errno, err, errlen);
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "redis %s: %s failed: %s", l->name, argv[0], r->str);
    else
        rc = 0;
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Can the server behind c take writes? 1 when ROLE says "master" or is refused
 * (an ACL user without it: the writes will tell); else 0 with err set. */
static int
is_primary(const struct pm_redis_link *l, redisContext *c, char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, "ROLE");
    int ok =
        r && (r->type == REDIS_REPLY_ERROR || (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                                               r->element[0]->type == REDIS_REPLY_STRING &&
                                               strcmp(r->element[0]->str, "master") == 0));

    if (!r)
        pm_redis_io_error(l, c, errno, err, errlen);
    else if (!ok)
        snprintf(err, errlen, "redis %s: %s", l->name,
                 l->sentinel ? "the server Sentinel named is not a primary (yet)"
                             : "the server is a replica, not a primary");
    if (r)
        freeReplyObject(r);
    return ok;
}

/* One connection as l says, ready for writes; see redis_conn.h. */
redisContext *
pm_redis_open(const struct pm_redis_link *l, const char *host, int port, char *err, size_t errlen)
{
    const char *auth[3] = {"AUTH", l->user ? l->user : l->password, l->password};
    char db[16];
    const char *sel[2] = {"SELECT", db};
    redisContext *c;
    sigset_t old;
    int pend, ok;

    if (host)
        c = redisConnectWithTimeout(host, port, pm_redis_tv(l->connect_ms));
    else if (l->socket)
        c = redisConnectUnixWithTimeout(l->socket, pm_redis_tv(l->connect_ms));
    else
        c = redisConnectWithTimeout(l->host, l->port, pm_redis_tv(l->connect_ms));
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s: %s", l->name, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    ok = redisSetTimeout(c, pm_redis_tv(l->command_ms)) == REDIS_OK;
    if (!ok)
        snprintf(err, errlen, "redis %s: cannot set the command timeout", l->name);
    if (!l->socket || host)
        redisEnableKeepAlive(c);
    snprintf(db, sizeof(db), "%d", l->db);
    pm_redis_pipe_block(&old, &pend);
    if (ok && l->password)
        ok = setup_cmd(l, c, l->user ? 3 : 2, auth, err, errlen) == 0;
    if (ok && l->db)
        ok = setup_cmd(l, c, 2, sel, err, errlen) == 0;
    if (ok)
        ok = is_primary(l, c, err, errlen);
    pm_redis_pipe_restore(&old, pend);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}
