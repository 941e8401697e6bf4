/*
 * store_redis_pool.c - the Redis store's connections.
 *
 * Connections are hiredis contexts (opened by redis_conn.c, the one way to
 * Redis) in a pool of at most pool_size, shared by the milter's threads
 * under a mutex; a context that saw an I/O or protocol error is freed, never
 * reused, and the idle ones are dropped with it. After a failed connect no
 * new attempt is made until a backoff (retry_min_ms doubling up to
 * retry_max_ms) has passed; meanwhile requests fail at once. One log line
 * per change of state.
 *
 * With Sentinels, connections go to the primary they last named. The first
 * request starts a watcher (sentinel_watch.c) that hears the Sentinels
 * announce a promotion: the pool then forgets every connection to the old
 * primary at once, for a planned switchover leaves it up and writable for
 * seconds, and what it takes then is lost when it is demoted. A primary
 * named on an address that is not a loopback one is logged, once per change
 * (unless redis.network_encrypted): the link to it is in clear.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cidr.h"
#include "clock.h"
#include "log.h"
#include "meter_lua.h"
#include "metrics.h"
#include "redis_conn.h"
#include "sentinel_watch.h"
#include "store_redis_int.h"

/* Close a connection. */
static void
conn_free(struct rs_conn *cn)
{
    redisFree(cn->c);
    free(cn);
}

/* "host:port", "[v6]:port". */
static void
host_port(char *buf, size_t len, const char *host, int port)
{
    snprintf(buf, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* Forget every pooled connection (called locked): the idle ones now, the
 * ones in use when they are returned. */
static void
pool_drop(struct redis_store *rs)
{
    rs->gen++;
    while (rs->n_idle > 0) {
        conn_free(rs->idle[--rs->n_idle]);
        rs->n_open--;
    }
}

/* The Sentinels name host:port as the primary (called locked; how and
 * sentinel say who, for the log): when it is a new one, log it once and drop
 * every connection to the old one at once. */
static void
primary_is(struct redis_store *rs, const char *host, int port, const char *how,
           const char *sentinel)
{
    char was[300], now[300];

    rs->primary_stale = 0;
    if (rs->primary_port == port && strcmp(rs->primary, host) == 0)
        return;
    if (rs->primary_port) {
        host_port(was, sizeof(was), rs->primary, rs->primary_port);
        host_port(now, sizeof(now), host, port);
        pm_log(PM_LOG_WARNING,
               "redis %s: the primary moved from %s to %s (%s%s%s); its connections to %s are "
               "dropped",
               rs->name, was, now, how, sentinel ? " from the Sentinel at " : "",
               sentinel ? sentinel : "", was);
        pool_drop(rs);
        rs->retry_at_ms = 0; /* no backoff before trying the new one */
    }
    if (!rs->network_encrypted && !pm_cidr_is_loopback(host)) {
        host_port(now, sizeof(now), host, port);
        pm_log(PM_LOG_WARNING,
               "redis %s: the primary %s is not on a loopback address: hiredis has no TLS, so the "
               "password and every counter cross the network in clear (README: Protecting the "
               "link to Redis)",
               rs->name, now);
    }
    snprintf(rs->primary, sizeof(rs->primary), "%s", host);
    rs->primary_port = port;
    rs->moves++;
    pthread_cond_broadcast(&rs->cv);
}

/* The watcher's report (its thread): a Sentinel names host:port. */
static void
primary_announced(void *arg, const char *host, int port, const char *how, const char *sentinel)
{
    struct redis_store *rs = arg;

    pthread_mutex_lock(&rs->mu);
    primary_is(rs, host, port, how, sentinel);
    pthread_mutex_unlock(&rs->mu);
}

/* Where to connect: the primary the Sentinels last named, or their answer now
 * (before the first one, or after a connect to it failed); 0 with *moves the
 * primary's version, or -1 with err set. */
static int
primary_get(struct redis_store *rs, char *host, size_t hostlen, int *port, unsigned *moves,
            char *err, size_t errlen)
{
    pthread_mutex_lock(&rs->mu);
    *moves = rs->moves;
    *port = rs->primary_stale ? 0 : rs->primary_port;
    snprintf(host, hostlen, "%s", rs->primary);
    pthread_mutex_unlock(&rs->mu);
    if (*port)
        return 0;
    if (pm_redis_sentinel_primary(rs->sentinels, rs->n_sentinels, rs->master, rs->connect_ms,
                                  rs->command_ms, rs->name, host, hostlen, port, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&rs->mu);
    if (rs->moves == *moves) { /* else a newer announcement came meanwhile */
        primary_is(rs, host, *port, "get-master-addr-by-name", NULL);
        *moves = rs->moves;
    }
    pthread_mutex_unlock(&rs->mu);
    return 0;
}

/* A connect to host:port failed: ask the Sentinels before the next one. */
static void
primary_failed(struct redis_store *rs, const char *host, int port)
{
    pthread_mutex_lock(&rs->mu);
    if (rs->primary_port == port && strcmp(rs->primary, host) == 0)
        rs->primary_stale = 1;
    pthread_mutex_unlock(&rs->mu);
}

/* Open one connection, ready for writes, and load the meter script; NULL with
 * err set on failure. */
static struct rs_conn *
conn_open(struct redis_store *rs, char *err, size_t errlen)
{
    struct rs_conn *cn = calloc(1, sizeof(*cn));
    const char *load[3] = {"SCRIPT", "LOAD", pm_meter_lua};
    redisReply *r = NULL;
    char host[256];
    sigset_t old;
    int pend, port = 0;

    if (!cn) {
        snprintf(err, errlen, "redis %s: out of memory", rs->name);
        return NULL;
    }
    if (rs->n_sentinels &&
        primary_get(rs, host, sizeof(host), &port, &cn->moves, err, errlen) != 0) {
        free(cn);
        return NULL;
    }
    if ((cn->c = pm_redis_open(&rs->link, port ? host : NULL, port, err, errlen)) != NULL) {
        pm_redis_pipe_block(&old, &pend);
        r = redisCommandArgv(cn->c, 3, load, NULL);
        if (!r)
            pm_redis_io_error(&rs->link, cn->c, errno, err, errlen);
        pm_redis_pipe_restore(&old, pend);
    }
    if (r && (r->type != REDIS_REPLY_STRING || r->len != 40))
        snprintf(err, errlen, "redis %s: SCRIPT LOAD: %s", rs->name,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    else if (r)
        memcpy(cn->sha, r->str, 41);
    if (r && cn->sha[0] && rs_layout_discover(rs, cn->c, err, errlen) < 0)
        cn->sha[0] = '\0';
    if (!r || !cn->sha[0]) {
        if (cn->c)
            redisFree(cn->c);
        free(cn);
        cn = NULL;
        if (port)
            primary_failed(rs, host, port);
    }
    if (r)
        freeReplyObject(r);
    return cn;
}

/* The link works again (called locked): log it once. */
static void
link_up(struct redis_store *rs)
{
    if (rs->state != LINK_UP)
        pm_log(PM_LOG_NOTICE, "redis %s: connected", rs->name);
    rs->state = LINK_UP;
    rs->backoff_ms = 0;
    rs->retry_at_ms = 0;
}

/* The link failed (called locked): log it once, drop idle connections, and
 * after a failed connect wait a growing backoff before the next one. */
static void
link_down(struct redis_store *rs, const char *reason, int connect_failed)
{
    const char *prefix = "redis ";
    size_t skip = strlen(prefix) + strlen(rs->name) + 2;

    /* reason reads "redis NAME: why"; log "why" after our own prefix */
    if (strncmp(reason, prefix, strlen(prefix)) == 0 && strlen(reason) >= skip)
        reason += skip;
    if (rs->state == LINK_UP)
        pm_log(PM_LOG_ERR, "redis %s: connection lost: %s", rs->name, reason);
    else if (rs->state == LINK_UNKNOWN)
        pm_log(PM_LOG_ERR, "redis %s: cannot connect: %s", rs->name, reason);
    rs->state = LINK_DOWN;
    pool_drop(rs);
    if (connect_failed) {
        if (!rs->backoff_ms)
            rs->backoff_ms = rs->retry_min_ms;
        else if (rs->backoff_ms > rs->retry_max_ms / 2)
            rs->backoff_ms = rs->retry_max_ms;
        else
            rs->backoff_ms *= 2;
        rs->retry_at_ms = pm_mono_ms() + rs->backoff_ms;
    }
}

/* Wait on the pool until deadline (monotonic ms); 0 when woken, -1 on timeout. */
static int
pool_wait(struct redis_store *rs, long long deadline)
{
    struct timespec ts = {deadline / 1000, (deadline % 1000) * 1000000};

    return pthread_cond_timedwait(&rs->cv, &rs->mu, &ts) == ETIMEDOUT ? -1 : 0;
}

/* 1 when an idle connection has something to read: the server closed it
 * (an idle connection is owed no reply), or it failed. */
static int
conn_closed(const struct rs_conn *cn)
{
    struct pollfd p = {cn->c->fd, POLLIN, 0};

    return poll(&p, 1, 0) != 0;
}

/* Take an idle connection or open one; NULL with err set when none can be had
 * within command_timeout_ms or the link is backing off. */
struct rs_conn *
rs_pool_get(struct redis_store *rs, char *err, size_t errlen)
{
    long long now = pm_mono_ms(), deadline = now + rs->command_ms;
    struct rs_conn *cn = NULL;
    int probe;

    pthread_mutex_lock(&rs->mu);
    if (rs->n_sentinels && !rs->watching) {
        rs->watching = 1;
        rs->watch = pm_sentinel_watch_start(rs->sentinels, rs->n_sentinels, rs->master,
                                            rs->connect_ms, rs->name, primary_announced, rs);
    }
    for (;;) {
        if (rs->n_idle > 0) {
            cn = rs->idle[--rs->n_idle];
            if (!conn_closed(cn))
                break;
            /* closed by the server while idle (its timeout, a restart): not an
             * error; a server that is down shows when the next connect fails */
            conn_free(cn);
            rs->n_open--;
            cn = NULL;
            continue;
        }
        if (rs->state != LINK_UP && !rs->probing && now < rs->retry_at_ms) {
            snprintf(err, errlen, "redis unavailable, retrying in %lld ms", rs->retry_at_ms - now);
            break;
        }
        if (rs->n_open < rs->pool_size && (rs->state == LINK_UP || !rs->probing)) {
            probe = rs->state != LINK_UP;
            rs->probing |= probe;
            rs->n_open++;
            pthread_mutex_unlock(&rs->mu);
            cn = conn_open(rs, err, errlen);
            pthread_mutex_lock(&rs->mu);
            if (probe)
                rs->probing = 0;
            if (cn && cn->moves != rs->moves) {
                /* the primary moved while it was opened: it may be the old one */
                conn_free(cn);
                rs->n_open--;
                cn = NULL;
                pthread_cond_broadcast(&rs->cv);
                now = pm_mono_ms();
                if (now < deadline)
                    continue;
                snprintf(err, errlen, "redis %s: the primary moved while connecting", rs->name);
                break;
            }
            if (cn) {
                cn->gen = rs->gen;
                link_up(rs);
            } else {
                rs->n_open--;
                link_down(rs, err, 1);
            }
            pthread_cond_broadcast(&rs->cv);
            break;
        }
        if (pool_wait(rs, deadline) < 0) {
            if (rs->state == LINK_UP)
                snprintf(err, errlen, "redis %s: all %d connections busy for %d ms", rs->name,
                         rs->pool_size, rs->command_ms);
            else
                snprintf(err, errlen, "redis unavailable: no connection within %d ms",
                         rs->command_ms);
            break;
        }
        now = pm_mono_ms();
    }
    pthread_mutex_unlock(&rs->mu);
    return cn;
}

/* Return a connection to the pool, or close it when dead (reason says why)
 * or opened before the last failure. */
void
rs_pool_put(struct redis_store *rs, struct rs_conn *cn, const char *dead_reason)
{
    pthread_mutex_lock(&rs->mu);
    if (dead_reason || cn->gen != rs->gen) {
        conn_free(cn);
        rs->n_open--;
        if (dead_reason)
            link_down(rs, dead_reason, 0);
    } else {
        rs->idle[rs->n_idle++] = cn;
    }
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

/* On a cluster: the test clock offset, GET on the "{@}" slot's primary
 * (its last value when that fails: "{@}" out of reach must not stop the
 * others); no layout guard, the layout is 2. */
static void
cluster_clock(struct redis_store *rs, char *buf, size_t len)
{
    struct redis_store *top = rs->top ? rs->top : rs;
    const char *argv[2] = {"GET", top->clock_key[PM_LAYOUT_V2]};
    redisReply *r;
    char err[256];

    pthread_mutex_lock(&top->mu);
    snprintf(buf, len, "%s", top->clock_last[0] ? top->clock_last : "0"); /* the last value */
    pthread_mutex_unlock(&top->mu);
    if (rs_call(top, 2, argv, &r, err, sizeof(err)) != PM_STORE_OK)
        return;
    snprintf(buf, len, "%s", r->type == REDIS_REPLY_STRING && r->len < 24 ? r->str : "0");
    freeReplyObject(r);
    pthread_mutex_lock(&top->mu);
    snprintf(top->clock_last, sizeof(top->clock_last), "%s", buf);
    pthread_mutex_unlock(&top->mu);
}

/* The test clock offset into buf; see store_redis_int.h. */
int
rs_clock_arg(struct redis_store *rs, redisContext *c, char *buf, size_t len, redisReply **fail)
{
    int want = rs_layout_named(rs); /* 0: names of both layouts, refused */
    const char *argv[2] = {"GET", rs->clock_key[want ? want : rs_layout(rs)]};
    redisReply *r;

    if (rs->top || rs->cl) {
        *fail = NULL;
        snprintf(buf, len, "0");
        if (rs->test_clock)
            cluster_clock(rs, buf, len);
        return 0;
    }

    *fail = NULL;
    snprintf(buf, len, "0|%d|%s", want, rs->layout_key);
    if (!rs->test_clock)
        return 0;
    if (!(r = redisCommandArgv(c, 2, argv, NULL)))
        return -1;
    if (r->type == REDIS_REPLY_ERROR) {
        *fail = r;
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING && r->len < 24) /* the prelude reads what is no number as 0 */
        snprintf(buf, len, "%s|%d|%s", r->str, want, rs->layout_key);
    freeReplyObject(r);
    return 0;
}

/* The commands this thread had a connection for: may have sent. */
static __thread unsigned long tl_sends;

/* How many commands this thread may have sent; see store_redis_int.h. */
unsigned long
rs_sends(void)
{
    return tl_sends;
}

/* Send argv on c, after ASKING when asking; see store_redis_int.h. */
redisReply *
rs_send(redisContext *c, int asking, int argc, const char **argv)
{
    void *a = NULL, *r = NULL;

    if (!asking)
        return redisCommandArgv(c, argc, argv, NULL);
    if (redisAppendCommand(c, "ASKING") != REDIS_OK ||
        redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK || redisGetReply(c, &a) != REDIS_OK)
        return NULL;
    if (redisGetReply(c, &r) != REDIS_OK) {
        freeReplyObject(a);
        return NULL;
    }
    /* ASKING refused (an ACL without +asking): the command ran on a node
     * that does not serve its slot, and its reply says nothing of that */
    if (((redisReply *)a)->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return a;
    }
    freeReplyObject(a);
    return r;
}

/* Run one command on a pooled connection; its reply, or NULL with err set.
 * clock_at > 0: argv[clock_at] is a script's test clock offset, read first
 * on the same connection (rs_clock_arg). asking: after ASKING. */
static redisReply *
node_command(struct redis_store *rs, int argc, const char **argv, int clock_at, int asking,
             char *err, size_t errlen)
{
    struct rs_conn *cn;
    redisReply *r = NULL;
    sigset_t old;
    int pend, dead;
    char clock[RS_CLOCK_LEN];

    if (!(cn = rs_pool_get(rs, err, errlen))) {
        pm_metrics_store_error(PM_SERR_CONNECT);
        return NULL;
    }
    tl_sends++;
    pm_redis_pipe_block(&old, &pend);
    if (clock_at <= 0 || rs_clock_arg(rs, cn->c, clock, sizeof(clock), &r) == 0) {
        if (clock_at > 0)
            argv[clock_at] = clock;
        r = rs_send(cn->c, asking, argc, argv);
    }
    if (!r)
        pm_redis_io_error(&rs->link, cn->c, errno, err, errlen);
    pm_redis_pipe_restore(&old, pend);
    /* a replica's READONLY: the primary moved; drop the connection and rediscover */
    dead = r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) == 0);
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "redis %s: %s", rs->name, r->str);
    rs_layout_refused(rs, r);
    rs_pool_put(rs, cn, dead ? err : NULL);
    return r;
}

/* On a cluster: one command, sent to the primary of its key and again where
 * the cluster redirects it (store_redis_route.c); its reply, or NULL with
 * err set. */
static redisReply *
cluster_command(struct redis_store *rs, int argc, const char **argv, int clock_at, char *err,
                size_t errlen)
{
    struct rs_try t;
    redisReply *r;

    if (rs_route_start(rs, argc, argv, &t, err, errlen) < 0)
        return NULL;
    for (;;) {
        r = node_command(t.node, argc, argv, clock_at, t.asking, err, errlen);
        if (!rs_route_again(rs, &t, r, err, errlen))
            return r;
        freeReplyObject(r);
    }
}

/* On a cluster: DEL or UNLINK of several keys, one key a command (keys of
 * several slots are refused together: CROSSSLOT); the sum of the replies. */
static redisReply *
cluster_delete(struct redis_store *rs, int argc, const char **argv, char *err, size_t errlen)
{
    redisReply *r = NULL, *one;
    long long n = 0;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a[2] = {argv[0], argv[i]};

        if (r)
            freeReplyObject(r);
        r = NULL;
        if (!(one = cluster_command(rs, 2, a, 0, err, errlen)) || one->type != REDIS_REPLY_INTEGER)
            return one;
        n += one->integer;
        r = one;
    }
    if (r)
        r->integer = n;
    return r;
}

/* Run one command; its reply, or NULL with err set (see node_command). */
static redisReply *
rs_command(struct redis_store *rs, int argc, const char **argv, int clock_at, char *err,
           size_t errlen)
{
    if (!rs->cl)
        return node_command(rs, argc, argv, clock_at, 0, err, errlen);
    if (argc > 2 && (strcasecmp(argv[0], "UNLINK") == 0 || strcasecmp(argv[0], "DEL") == 0))
        return cluster_delete(rs, argc, argv, err, errlen);
    return cluster_command(rs, argc, argv, clock_at, err, errlen);
}

/* The store error code of an error reply; see store_redis_int.h. */
int
rs_reply_rc(const redisReply *r)
{
    static const char *const transient[] = {"READONLY", "LOADING",     "BUSY",   "MASTERDOWN",
                                            "TRYAGAIN", "CLUSTERDOWN", "MOVED ", "ASK ",
                                            "LAYOUT ",  NULL};
    int i;

    for (i = 0; transient[i]; i++)
        if (strncmp(r->str, transient[i], strlen(transient[i])) == 0)
            return PM_STORE_RETRY;
    return PM_STORE_ERROR;
}

/* rs_call, with a script's test clock offset at argv[clock_at] (0: none). */
static int
call_clock(struct redis_store *rs, int argc, const char **argv, int clock_at, redisReply **out,
           char *err, size_t errlen)
{
    redisReply *r = rs_command(rs, argc, argv, clock_at, err, errlen);
    int rc;

    *out = NULL;
    if (!r)
        return PM_STORE_RETRY;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = rs_reply_rc(r);
        freeReplyObject(r);
        return rc;
    }
    *out = r;
    return PM_STORE_OK;
}

/* Run one command; see store_redis_int.h. */
int
rs_call(struct redis_store *rs, int argc, const char **argv, redisReply **out, char *err,
        size_t errlen)
{
    return call_clock(rs, argc, argv, 0, out, err, errlen);
}

/* EVAL text; with clock, args[0] is the test clock offset's place. */
static int
eval_clock(struct redis_store *rs, const char *text, int nkeys, const char **keys, int nargs,
           const char **args, int clock, redisReply **out, char *err, size_t errlen)
{
    const char **argv = malloc((3 + nkeys + nargs) * sizeof(*argv));
    char n[24];
    int i, argc = 0, rc;

    *out = NULL;
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    snprintf(n, sizeof(n), "%d", nkeys);
    argv[argc++] = "EVAL";
    argv[argc++] = text;
    argv[argc++] = n;
    for (i = 0; i < nkeys; i++)
        argv[argc++] = keys[i];
    for (i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    rc = call_clock(rs, argc, argv, clock && nargs > 0 ? 3 + nkeys : 0, out, err, errlen);
    free(argv);
    return rc;
}

/* Run a script text (EVAL); see store_redis_int.h. */
int
rs_eval(struct redis_store *rs, const char *text, int nkeys, const char **keys, int nargs,
        const char **args, redisReply **out, char *err, size_t errlen)
{
    return eval_clock(rs, text, nkeys, keys, nargs, args, 0, out, err, errlen);
}

/* Run a script of the prelude (EVAL); see store_redis_int.h. */
int
rs_script(struct redis_store *rs, const char *text, int nkeys, const char **keys, int nargs,
          const char **args, redisReply **out, char *err, size_t errlen)
{
    int rc = eval_clock(rs, text, nkeys, keys, nargs, args, 1, out, err, errlen);

    /* a script without keys names none of a layout: ask again at once */
    if (nkeys == 0 && rc == PM_STORE_RETRY && rs_layout_was_refused(rs))
        rc = eval_clock(rs, text, nkeys, keys, nargs, args, 1, out, err, errlen);
    return rc;
}

/* Open a connection of the caller's own, outside the pool. */
struct rs_conn *
rs_conn_own(struct redis_store *rs, char *err, size_t errlen)
{
    struct redis_store *n;
    struct rs_conn *cn;
    unsigned moves;

    if (rs->cl) { /* the primary of the global keys' slot (the stream, "{@}") */
        /* routed first: the map's first read bumps moves */
        if (!(n = rs_route_at(rs, &moves, err, errlen)))
            return NULL;
        pthread_mutex_lock(&rs->mu);
        /* the owner the follower first read the stream from: a connection
         * opened again to a new owner is one that moved (a gap) */
        if (!rs->own_set) {
            rs->own_moves = moves;
            rs->own_set = 1;
        }
        moves = rs->own_moves;
        pthread_mutex_unlock(&rs->mu);
        if ((cn = conn_open(n, err, errlen)) != NULL)
            cn->moves = moves;
        else
            rs_route_stale(rs);
        return cn;
    }
    pthread_mutex_lock(&rs->mu);
    if (rs->n_sentinels && !rs->watching) {
        rs->watching = 1;
        rs->watch = pm_sentinel_watch_start(rs->sentinels, rs->n_sentinels, rs->master,
                                            rs->connect_ms, rs->name, primary_announced, rs);
    }
    pthread_mutex_unlock(&rs->mu);
    return conn_open(rs, err, errlen);
}

/* 1 when the primary moved since cn was opened. */
int
rs_conn_moved(struct redis_store *rs, const struct rs_conn *cn)
{
    int moved;

    pthread_mutex_lock(&rs->mu);
    moved = (rs->n_sentinels || rs->cl) && cn->moves != rs->moves;
    if (moved && rs->cl)
        rs->own_set = 0; /* told once: the next connection is to the owner now */
    pthread_mutex_unlock(&rs->mu);
    return moved;
}

/* Close a connection of rs_conn_own(). */
void
rs_conn_close(struct rs_conn *cn)
{
    if (cn)
        conn_free(cn);
}

/* Close every idle connection and stop the Sentinel watcher (none may be in use). */
void
rs_pool_close(struct redis_store *rs)
{
    rs_conn_close(rs->follow);
    rs->follow = NULL;
    pm_sentinel_watch_stop(rs->watch);
    rs->watch = NULL;
    while (rs->n_idle > 0)
        conn_free(rs->idle[--rs->n_idle]);
    rs_cluster_free(rs);
}

/* SCAN MATCH pattern, a page at a time, each call by call (on one node). */
static int
scan_node(struct redis_store *rs, rs_caller call, const char *pattern, int max_calls,
          int (*page)(void *arg, const redisReply *keys), void *arg, char *err, size_t errlen)
{
    char cursor[32] = "0";
    const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
    int calls = 0, rc;

    do {
        redisReply *r;

        if ((rc = call(rs, 6, argv, &r, err, errlen)) < 0)
            return rc;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "redis %s: unexpected reply to SCAN", rs->name);
            freeReplyObject(r);
            return PM_STORE_ERROR;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        rc = page(arg, r->element[1]);
        freeReplyObject(r);
        if (rc != 0)
            return rc < 0 ? rc : RS_SCAN_STOPPED;
    } while (strcmp(cursor, "0") != 0 && ++calls < max_calls);
    return strcmp(cursor, "0") == 0 ? PM_STORE_OK : RS_SCAN_MORE;
}

/* On a cluster: scan_node on every primary in turn, a cursor each; by
 * rs_call on the primary's pool, or by call on the caller's own connection
 * (rs->follow) opened to each primary for its turn. */
static int
scan_cluster(struct redis_store *rs, rs_caller call, const char *pattern, int max_calls,
             int (*page)(void *arg, const redisReply *keys), void *arg, char *err, size_t errlen)
{
    struct redis_store *node[PM_CLUSTER_MAX_PRIMARIES];
    struct rs_conn *saved = rs->follow, *cn;
    size_t n = rs_route_primaries(rs, node, PM_CLUSTER_MAX_PRIMARIES), i;
    int rc = PM_STORE_OK, one;

    if (!n) {
        snprintf(err, errlen, "redis %s: no primary known", rs->name);
        return PM_STORE_RETRY;
    }
    for (i = 0; i < n; i++) {
        if (call == rs_call) {
            one = scan_node(node[i], rs_call, pattern, max_calls, page, arg, err, errlen);
        } else {
            if (!(cn = conn_open(node[i], err, errlen))) {
                rs_route_stale(rs);
                return PM_STORE_RETRY;
            }
            rs->follow = cn;
            one = scan_node(rs, call, pattern, max_calls, page, arg, err, errlen);
            if (rs->follow) /* cn, or one the call opened after dropping it */
                conn_free(rs->follow);
            rs->follow = saved;
        }
        if (one < 0 || one == RS_SCAN_STOPPED)
            return one;
        if (one == RS_SCAN_MORE)
            rc = RS_SCAN_MORE;
    }
    return rc;
}

/* SCAN MATCH pattern, a page at a time, each call by call; see store_redis_int.h. */
int
rs_scan_by(struct redis_store *rs, rs_caller call, const char *pattern, int max_calls,
           int (*page)(void *arg, const redisReply *keys), void *arg, char *err, size_t errlen)
{
    if (rs->cl)
        return scan_cluster(rs, call, pattern, max_calls, page, arg, err, errlen);
    return scan_node(rs, call, pattern, max_calls, page, arg, err, errlen);
}

/* SCAN MATCH pattern on pooled connections; see store_redis_int.h. */
int
rs_scan(struct redis_store *rs, const char *pattern, int max_calls,
        int (*page)(void *arg, const redisReply *keys), void *arg, char *err, size_t errlen)
{
    return rs_scan_by(rs, rs_call, pattern, max_calls, page, arg, err, errlen);
}

/* Up to RS_PIPELINE commands sent together on one pooled connection, then
 * their replies read (see rs_call_many). */
static int
node_many(struct redis_store *rs, size_t n, const int *argc, const char ***argv, int clock_at,
          redisReply **out, char *err, size_t errlen)
{
    struct rs_conn *cn;
    redisReply *fail = NULL;
    char clock[RS_CLOCK_LEN];
    sigset_t old;
    size_t sent = 0, got = 0, i;
    int pend, dead = 0, rc = PM_STORE_OK;

    if (!(cn = rs_pool_get(rs, err, errlen))) {
        pm_metrics_store_error(PM_SERR_CONNECT);
        return PM_STORE_RETRY;
    }
    tl_sends++;
    pm_redis_pipe_block(&old, &pend);
    if (clock_at <= 0 || rs_clock_arg(rs, cn->c, clock, sizeof(clock), &fail) == 0) {
        for (sent = 0; sent < n; sent++) {
            if (clock_at > 0)
                argv[sent][clock_at] = clock;
            if (redisAppendCommandArgv(cn->c, argc[sent], argv[sent], NULL) != REDIS_OK)
                break;
        }
        for (got = 0; sent == n && got < n; got++)
            if (redisGetReply(cn->c, (void **)&out[got]) != REDIS_OK)
                break;
    }
    if (fail) { /* the test clock's GET refused */
        snprintf(err, errlen, "redis %s: %s", rs->name, fail->str);
        rc = rs_reply_rc(fail);
        dead = strncmp(fail->str, "READONLY", 8) == 0;
        freeReplyObject(fail);
    } else if (got < n) {
        pm_redis_io_error(&rs->link, cn->c, errno, err, errlen);
        rc = PM_STORE_RETRY;
        dead = 1;
    }
    pm_redis_pipe_restore(&old, pend);
    for (i = 0; i < got; i++) {
        rs_layout_refused(rs, out[i]);
        if (out[i]->type != REDIS_REPLY_ERROR || rc != PM_STORE_OK)
            continue;
        snprintf(err, errlen, "redis %s: %s", rs->name, out[i]->str);
        rc = rs_reply_rc(out[i]);
        /* a replica's READONLY: the primary moved; drop the connection */
        dead = strncmp(out[i]->str, "READONLY", 8) == 0;
    }
    rs_pool_put(rs, cn, dead ? err : NULL);
    if (rc != PM_STORE_OK)
        for (i = 0; i < got; i++) {
            freeReplyObject(out[i]);
            out[i] = NULL;
        }
    return rc;
}

/* Free what a batch for rs_call_many held (store_redis_int.h). */
void
rs_many_free(size_t n, const char ***argv, int *argc, redisReply **r)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (r && r[i])
            freeReplyObject(r[i]);
        if (argv && argv[i])
            free((char *)argv[i][1]);
        if (argv)
            free(argv[i]);
    }
    free(argv);
    free(argc);
    free(r);
}

/* Run n commands, pipelined; see store_redis_int.h. */
int
rs_call_many(struct redis_store *rs, size_t n, const int *argc, const char ***argv, int clock_at,
             redisReply **out, char *err, size_t errlen)
{
    size_t i, k;
    int rc = PM_STORE_OK;

    memset(out, 0, n * sizeof(*out));
    for (i = 0; i < n && rc == PM_STORE_OK; i += k) {
        k = n - i < RS_PIPELINE ? n - i : RS_PIPELINE;
        if (rs->cl) /* a command a call, each routed to its key's primary */
            rc = call_clock(rs, argc[i], argv[i], clock_at, &out[i], err, errlen), k = 1;
        else
            rc = node_many(rs, k, argc + i, argv + i, clock_at, out + i, err, errlen);
    }
    if (rc != PM_STORE_OK)
        for (i = 0; i < n; i++) {
            if (out[i])
                freeReplyObject(out[i]);
            out[i] = NULL;
        }
    return rc;
}
