/*
 * store_redis.c - the Redis implementation of the storage interface.
 *
 * Every request is one round trip: EVALSHA of meter.lua (EVAL with the full
 * text when the server answers NOSCRIPT), which checks and counts atomically
 * with the Redis server's clock. Connections are hiredis contexts in a pool
 * of at most pool_size, shared by the milter's threads under a mutex; a
 * context that saw an I/O or protocol error is freed, never reused, and the
 * idle ones are dropped with it. After a failed connect no new attempt is
 * made until a backoff (retry_min_ms doubling up to retry_max_ms) has passed;
 * meanwhile requests fail at once. One log line per change of state.
 *
 * With Sentinels, connections go to the primary they last named. The first
 * request starts a watcher (sentinel_watch.c) that hears the Sentinels
 * announce a promotion: the pool then forgets every connection to the old
 * primary at once, for a planned switchover leaves it up and writable for
 * seconds, and what it takes then is lost when it is demoted.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "contract.h"
#include "meter_lua.h"
#include "prelude_lua.h"
#include "redis_conn.h"
#include "sentinel_watch.h"
#include "store_redis.h"
#include "store_redis_int.h"
#include "strbuf.h"

#define CURVE_MAX_STAGES 1000
#define MAX_HASHES 100000

/* Milliseconds on the monotonic clock. */
static long long
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* strdup that keeps NULL and maps "" to NULL when empty_null is set. */
static char *
dup_opt(const char *s, int empty_null)
{
    if (!s || (empty_null && !*s))
        return NULL;
    return strdup(s);
}

/* Block SIGPIPE in this thread while writing to a socket Redis may have closed. */
static void
pipe_block(sigset_t *old, int *was_pending)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    *was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

/* Consume a SIGPIPE raised while blocked and restore the thread's mask. */
static void
pipe_restore(const sigset_t *old, int was_pending)
{
    sigset_t set, pending;
    struct timespec zero = {0, 0};

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    if (!was_pending && sigismember(&pending, SIGPIPE))
        sigtimedwait(&set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Describe a dead context's error (a timeout says so). */
static void
io_error(struct redis_store *rs, redisContext *c, int saved_errno, char *err, size_t errlen)
{
    if (c->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
        snprintf(err, errlen, "redis %s: no reply within %d ms", rs->name, rs->command_ms);
    else if (c->err)
        snprintf(err, errlen, "redis %s: %s", rs->name, c->errstr);
    else
        snprintf(err, errlen, "redis %s: connection failed", rs->name);
}

/* Run one set-up command; 0 on success, -1 with err set otherwise. */
static int
setup_cmd(struct redis_store *rs, redisContext *c, int argc, const char **argv, const char *what,
          char *sha, char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int rc = -1;

    if (!r)
        io_error(rs, c, errno, err, errlen);
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "redis %s: %s failed: %s", rs->name, what, r->str);
    else if (sha && (r->type != REDIS_REPLY_STRING || r->len != 40))
        snprintf(err, errlen, "redis %s: %s: unexpected reply", rs->name, what);
    else
        rc = 0;
    if (rc == 0 && sha)
        memcpy(sha, r->str, 41);
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Can the server behind c take writes? 0 with err set when ROLE names a
 * replica or the connection failed; 1 when ROLE says "master" or is refused
 * (an ACL user without it, a busy server: the writes will tell). */
static int
is_primary(struct redis_store *rs, redisContext *c, char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, "ROLE");
    int ok =
        r && (r->type == REDIS_REPLY_ERROR || (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                                               r->element[0]->type == REDIS_REPLY_STRING &&
                                               strcmp(r->element[0]->str, "master") == 0));

    if (!r)
        io_error(rs, c, errno, err, errlen);
    else if (!ok)
        snprintf(err, errlen, "redis %s: %s", rs->name,
                 rs->n_sentinels ? "the server Sentinel named is not a primary (yet)"
                                 : "the server is a replica, not a primary");
    if (r)
        freeReplyObject(r);
    return ok;
}

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

/* Open, authenticate and prepare one connection; NULL with err set on failure. */
static struct rs_conn *
conn_open(struct redis_store *rs, char *err, size_t errlen)
{
    struct rs_conn *cn = calloc(1, sizeof(*cn));
    redisContext *c;
    char db[16], host[256];
    const char *auth[3] = {"AUTH", rs->user ? rs->user : rs->password, rs->password};
    const char *sel[2] = {"SELECT", db};
    const char *load[3] = {"SCRIPT", "LOAD", pm_meter_lua};
    sigset_t old;
    int pend, ok, port = 0;

    if (!cn) {
        snprintf(err, errlen, "redis %s: out of memory", rs->name);
        return NULL;
    }
    if (rs->n_sentinels) {
        if (primary_get(rs, host, sizeof(host), &port, &cn->moves, err, errlen) != 0) {
            free(cn);
            return NULL;
        }
        c = redisConnectWithTimeout(host, port, pm_redis_tv(rs->connect_ms));
    } else if (rs->socket)
        c = redisConnectUnixWithTimeout(rs->socket, pm_redis_tv(rs->connect_ms));
    else
        c = redisConnectWithTimeout(rs->host, rs->port, pm_redis_tv(rs->connect_ms));
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s: %s", rs->name, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        free(cn);
        if (port)
            primary_failed(rs, host, port);
        return NULL;
    }
    ok = redisSetTimeout(c, pm_redis_tv(rs->command_ms)) == REDIS_OK;
    if (!ok)
        snprintf(err, errlen, "redis %s: cannot set the command timeout", rs->name);
    if (!rs->socket)
        redisEnableKeepAlive(c);
    snprintf(db, sizeof(db), "%d", rs->db);
    pipe_block(&old, &pend);
    if (ok && rs->password)
        ok = setup_cmd(rs, c, rs->user ? 3 : 2, auth, "AUTH", NULL, err, errlen) == 0;
    if (ok && rs->db)
        ok = setup_cmd(rs, c, 2, sel, "SELECT", NULL, err, errlen) == 0;
    if (ok)
        ok = is_primary(rs, c, err, errlen);
    if (ok)
        ok = setup_cmd(rs, c, 3, load, "SCRIPT LOAD", cn->sha, err, errlen) == 0;
    pipe_restore(&old, pend);
    if (!ok) {
        redisFree(c);
        free(cn);
        if (port)
            primary_failed(rs, host, port);
        return NULL;
    }
    cn->c = c;
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
        rs->retry_at_ms = mono_ms() + rs->backoff_ms;
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
static struct rs_conn *
pool_get(struct redis_store *rs, char *err, size_t errlen)
{
    long long now = mono_ms(), deadline = now + rs->command_ms;
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
                now = mono_ms();
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
        now = mono_ms();
    }
    pthread_mutex_unlock(&rs->mu);
    return cn;
}

/* Return a connection to the pool, or close it when dead (reason says why)
 * or opened before the last failure. */
static void
pool_put(struct redis_store *rs, struct rs_conn *cn, const char *dead_reason)
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

/* Check a request before sending it; 0 if sound, -1 with err set. */
static int
req_check(const struct pm_meter_req *req, char *err, size_t errlen)
{
    int s, i;

    if (!req->scope[PM_SCOPE_SENDER].id || !*req->scope[PM_SCOPE_SENDER].id)
        snprintf(err, errlen, "meter request without a sender");
    else if (req->mode < PM_METER_PROBE || req->mode > PM_METER_FORCE)
        snprintf(err, errlen, "meter request with an unknown mode %d", (int)req->mode);
    else if (req->msgs < 0 || req->rcpts < 0)
        snprintf(err, errlen, "meter request with a negative count");
    else if (req->hour_bucket <= 0 || 3600 % req->hour_bucket)
        snprintf(err, errlen, "hour_bucket %d does not divide 3600", req->hour_bucket);
    else if (req->day_bucket <= 0 || 86400 % req->day_bucket)
        snprintf(err, errlen, "day_bucket %d does not divide 86400", req->day_bucket);
    else {
        for (s = 0; s < PM_SCOPE_COUNT; s++)
            for (i = 0; i < PM_C_COUNT; i++)
                if (req->scope[s].limit[i] < 0) {
                    snprintf(err, errlen, "meter request with a negative limit");
                    return -1;
                }
        for (s = 0; s < PM_SCOPE_COUNT; s++)
            if (req->scope[s].warmup.n > CURVE_MAX_STAGES ||
                (req->scope[s].warmup.n && req->scope[s].warmup.dormant_days < 1)) {
                snprintf(err, errlen, "meter request with a bad warm-up curve");
                return -1;
            }
        return 0;
    }
    return -1;
}

/* "<prefix>:v1:{<tag>:<id>}:<kind>"; NULL on allocation failure. */
char *
rs_key(const struct redis_store *rs, char tag, const char *id, const char *kind)
{
    size_t len = strlen(rs->prefix) + strlen(id) + strlen(kind) + 16;
    char *key = malloc(len);

    if (key)
        snprintf(key, len, "%s:v1:{%c:%s}:%s", rs->prefix, tag, id, kind);
    return key;
}

/* "<prefix>:v1:{s:<sender>}:tx:<id>": the recorded reply of a transaction. */
static char *
tx_key(const struct redis_store *rs, const char *sender, const char *id)
{
    size_t len = strlen(id) + 4;
    char *kind = malloc(len), *key;

    if (!kind)
        return NULL;
    snprintf(kind, len, "tx:%s", id);
    key = rs_key(rs, 's', sender, kind);
    free(kind);
    return key;
}

/* A company's suppression entry of rcpt (NULL: the prefix of its entries). */
char *
rs_sup_key(const struct redis_store *rs, const char *company, const char *rcpt)
{
    size_t len = strlen(rs->prefix) + strlen(company) + (rcpt ? strlen(rcpt) : 0) + 24;
    char *key = malloc(len);

    if (key)
        snprintf(key, len, "%s:v1:{d:%s}:sup:%s", rs->prefix, company, rcpt ? rcpt : "");
    return key;
}

/* Append a warm-up curve as "daycap:hourcap,...". */
static void
curve_text(struct pm_buf *b, const long long *day, const long long *hour, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (i)
            pm_buf_add(b, ",", 1);
        pm_buf_num(b, day[i]);
        pm_buf_add(b, ":", 1);
        pm_buf_num(b, hour[i]);
    }
}

/* The warm-up curve of a scope as the script's "day:hour,..." argument. */
static char *
curve_arg(const struct pm_warmup_req *w)
{
    struct pm_buf b;

    pm_buf_growing(&b);
    curve_text(&b, w->day_cap, w->hour_cap, w->n);
    return pm_buf_take(&b);
}

/* Fill a suppression entry, reckoning its end from the store time now. */
void
rs_sup_fill(struct pm_suppressed *e, long long at, const char *status, const char *sender,
            long long ttl, long long now)
{
    memset(e, 0, sizeof(*e));
    e->found = 1;
    e->since = at;
    snprintf(e->status, sizeof(e->status), "%s", status ? status : "");
    snprintf(e->sender, sizeof(e->sender), "%s", sender ? sender : "");
    e->until = ttl > 0 ? now + ttl : 0;
}

/* The contract's counters are store.h's, in the same order. */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(PM_MC_MH, PM_C_MSGS_HOUR) && SAME(PM_MC_MD, PM_C_MSGS_DAY) &&
                   SAME(PM_MC_RH, PM_C_RCPTS_HOUR) && SAME(PM_MC_RD, PM_C_RCPTS_DAY) &&
                   SAME(PM_MC_ND, PM_C_NEW_DAY) && SAME(PM_MC_IH, PM_C_INT_HOUR) &&
                   SAME(PM_MC_ID, PM_C_INT_DAY) && SAME(PM_MC_WARMUP_DAY, PM_C_WARMUP_DAY) &&
                   SAME(PM_MC_WARMUP_HOUR, PM_C_WARMUP_HOUR) &&
                   SAME(PM_MC_REP_COLD, PM_C_REP_COLD) && SAME(PM_MC_REP_STOP, PM_C_REP_STOP),
               "scripts.contract's counters differ from enum pm_counter");
/* A scope's limits are its block's first values, in counter order. */
_Static_assert(PM_MS_MH == 0 && SAME(PM_MS_ID, PM_C_COUNT - 1), "scope block limits");
_Static_assert(SAME(PM_MR_WARMUP - PM_MR_USED, PM_SCOPE_COUNT *PM_C_COUNT) &&
                   SAME(PM_MR_COLD - PM_MR_WARMUP, PM_SCOPE_COUNT * 6),
               "the reply's blocks");

/* Copy the script's reply into res; 0 if it has the contract's shape. */
static int
reply_parse(const redisReply *r, struct pm_meter_res *res)
{
    long long v[PM_MR_COUNT];
    size_t i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != PM_MR_COUNT)
        return -1;
    for (i = 0; i < PM_MR_COUNT; i++) {
        int str = i == PM_MR_SUP_STATUS || i == PM_MR_SUP_SENDER;

        if (r->element[i]->type != (str ? REDIS_REPLY_STRING : REDIS_REPLY_INTEGER))
            return -1;
        v[i] = str ? 0 : r->element[i]->integer;
    }
    if (v[PM_MR_OVER_SCOPE] < 0 || v[PM_MR_OVER_SCOPE] >= PM_SCOPE_COUNT ||
        v[PM_MR_OVER_COUNTER] < 0 || v[PM_MR_OVER_COUNTER] > PM_C_REP_STOP)
        return -1;
    res->fits = (int)v[PM_MR_FITS];
    res->counted = (int)v[PM_MR_COUNTED];
    res->over_scope = (enum pm_scope)v[PM_MR_OVER_SCOPE];
    res->over_counter = (enum pm_counter)v[PM_MR_OVER_COUNTER];
    res->over_limit = v[PM_MR_OVER_LIMIT];
    res->over_used = v[PM_MR_OVER_USED];
    res->retry_at = v[PM_MR_RETRY_AT];
    res->now = v[PM_MR_NOW];
    if (v[PM_MR_SUP_AT] > 0)
        rs_sup_fill(&res->sup, v[PM_MR_SUP_AT], r->element[PM_MR_SUP_STATUS]->str,
                    r->element[PM_MR_SUP_SENDER]->str, v[PM_MR_SUP_TTL], res->now);
    for (i = 0; i < PM_SCOPE_COUNT * PM_C_COUNT; i++)
        res->used[i / PM_C_COUNT][i % PM_C_COUNT] = v[PM_MR_USED + i];
    for (i = 0; i < PM_SCOPE_COUNT; i++) {
        const long long *w = v + PM_MR_WARMUP + i * 6;

        res->warmup[i].active = (int)w[0];
        res->warmup[i].stage = w[1];
        res->warmup[i].day_cap = w[2];
        res->warmup[i].hour_cap = w[3];
        res->warmup[i].today = w[4];
        res->warmup[i].bounce_ppm = w[5];
    }
    res->cold = v[PM_MR_COLD];
    res->plan = (int)v[PM_MR_PLAN];
    res->credits_spent[0] = v[PM_MR_CR_SPENT_M];
    res->credits_spent[1] = v[PM_MR_CR_SPENT_R];
    res->credits_left[0] = v[PM_MR_CR_LEFT_M];
    res->credits_left[1] = v[PM_MR_CR_LEFT_R];
    res->rep.sent = v[PM_MR_REP_SENT];
    res->rep.hard = v[PM_MR_REP_HARD];
    res->rep.blocks = v[PM_MR_REP_BLOCKS];
    res->rep.replies = v[PM_MR_REP_REPLIES];
    res->rep.ppm = v[PM_MR_REP_PPM];
    res->rep.level = (int)v[PM_MR_REP_LEVEL];
    return 0;
}

/* Send the request on a connection; 0 on success, -1 with err set. *dead is
 * set when the connection must not be used again, to 2 when it is because no
 * reply came in time. */
static int
meter_on(struct redis_store *rs, struct rs_conn *cn, const char **argv, int argc,
         struct pm_meter_res *res, int *dead, char *err, size_t errlen)
{
    redisReply *r;
    sigset_t old;
    int pend, rc = -1, timeout;

    pipe_block(&old, &pend);
    argv[0] = "EVALSHA";
    argv[1] = cn->sha;
    r = redisCommandArgv(cn->c, argc, argv, NULL);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = pm_meter_lua;
        r = redisCommandArgv(cn->c, argc, argv, NULL);
    }
    timeout = !r && cn->c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    if (!r)
        io_error(rs, cn->c, errno, err, errlen);
    pipe_restore(&old, pend);
    /* a replica's READONLY: the primary moved; drop the connection and rediscover */
    *dead = r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) == 0);
    if (!r) {
        *dead += timeout;
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "redis %s: %s", rs->name, r->str);
    else if (reply_parse(r, res) < 0)
        snprintf(err, errlen, "redis %s: unexpected reply from the meter script", rs->name);
    else
        rc = 0;
    freeReplyObject(r);
    return rc;
}

/* Numbers formatted for a request, in slots of their own. */
struct nums {
    char num[PM_MA_COUNT + PM_SCOPE_COUNT * PM_MS_COUNT + 1][24];
    int n;
};

/* A number as an argument string (decimal, as "%lld" would; about 40 per
 * request, so without snprintf). */
static const char *
num(struct nums *a, long long v)
{
    char tmp[24], *start = a->num[a->n++], *out = start;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *out++ = '-';
    while (n)
        *out++ = tmp[--n];
    *out = '\0';
    return start;
}

/* The keys of a request, by the contract's names (k[] points into own[] or
 * at the store's strings); 0, or -1 on allocation failure. */
static int
meter_keys(const struct redis_store *rs, const struct pm_meter_req *req, const char *did,
           const char **k, char **own)
{
    const char *sid = req->scope[PM_SCOPE_SENDER].id, *at = strrchr(sid, '@');
    const char *dom = did                                             ? did
                      : req->contacts.domain && *req->contacts.domain ? req->contacts.domain
                      : at                                            ? at + 1
                                                                      : sid;
    const char *company = req->company && *req->company ? req->company : at ? at + 1 : sid;
    int i;

    own[PM_MK_W] = rs_key(rs, 's', sid, "w");
    own[PM_MK_WU] = rs_key(rs, 's', sid, "wu");
    own[PM_MK_CT] = rs_key(rs, 's', sid, "ct");
    own[PM_MK_DCT] = rs_key(rs, 'd', dom, "ct");
    own[PM_MK_PLAN] = rs_key(rs, 's', sid, "plan");
    own[PM_MK_CR] = rs_key(rs, 's', sid, "cr");
    own[PM_MK_CRLOG] = rs_key(rs, 's', sid, "crlog");
    own[PM_MK_REP] = rs_key(rs, 's', sid, "rep");
    own[PM_MK_SUP] = rs_sup_key(rs, company, req->suppressed_rcpt);
    own[PM_MK_LC] = rs_key(rs, 's', sid, "lc");
    own[PM_MK_MID] = rs_key(rs, 's', sid, "mid");
    own[PM_MK_TX] =
        req->txid && req->mode != PM_METER_PROBE ? tx_key(rs, sid, req->txid) : strdup("");
    own[PM_MK_PLANERR] = rs_key(rs, 's', sid, "planerr");
    if (did) {
        own[PM_MK_DW] = rs_key(rs, 'd', did, "w");
        own[PM_MK_DWU] = rs_key(rs, 'd', did, "wu");
    }
    k[PM_MK_CLOCK] = rs->clock_key;
    for (i = PM_MK_CLOCK + 1; i < (did ? PM_MK_COUNT : PM_MK_DW); i++)
        if (!(k[i] = own[i]))
            return -1;
    return 0;
}

/* The store operation: check and count one request in one round trip. */
static int
redis_meter(void *impl, const struct pm_meter_req *req, struct pm_meter_res *res, char *err,
            size_t errlen)
{
    struct redis_store *rs = impl;
    char *own[PM_MK_COUNT] = {NULL}, *curve[PM_SCOPE_COUNT] = {NULL};
    const char *k[PM_MK_COUNT], *v[PM_MA_COUNT], **argv = NULL;
    const char *did = req->scope[PM_SCOPE_DOMAIN].id;
    struct nums nb;
    int nscopes, nkeys, argc = 0, s, i, dead = 0, rc = -1, attempt;
    long long t0;
    const struct pm_contacts_req *ct = &req->contacts;
    struct rs_conn *cn;

    if (req_check(req, err, errlen) < 0)
        return -1;
    if (ct->n > MAX_HASHES) {
        snprintf(err, errlen, "meter request with %zu recipients", ct->n);
        return -1;
    }
    if (did && !*did)
        did = NULL; /* NULL or "": the domain scope is unused */
    nscopes = did ? 2 : 1;
    nkeys = did ? PM_MK_COUNT : PM_MK_DW;
    nb.n = 0;
    argv = malloc((3 + nkeys + PM_MA_COUNT + nscopes * PM_MS_COUNT + ct->n) * sizeof(*argv));
    for (s = 0; s < nscopes; s++)
        curve[s] = curve_arg(&req->scope[s].warmup);
    if (meter_keys(rs, req, did, k, own) < 0 || !argv || !curve[0] || (did && !curve[1])) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    v[PM_MA_MODE] = num(&nb, req->mode);
    v[PM_MA_MSGS] = num(&nb, req->msgs);
    v[PM_MA_RCPTS] = num(&nb, req->rcpts);
    v[PM_MA_INTERNAL] = num(&nb, req->internal);
    v[PM_MA_HOUR_BUCKET] = num(&nb, req->hour_bucket);
    v[PM_MA_DAY_BUCKET] = num(&nb, req->day_bucket);
    v[PM_MA_CT_TTL] = num(&nb, ct->ttl_days > 0 ? ct->ttl_days : 365);
    v[PM_MA_CT_MAX] = num(&nb, ct->max > 0 ? ct->max : 50000);
    v[PM_MA_COMPANY_WIDE] = ct->company_wide ? "1" : "0";
    v[PM_MA_COLD_BEFORE] = num(&nb, ct->cold_before);
    v[PM_MA_TOP_PREFIX] = rs->top_prefix;
    v[PM_MA_PLAN_TABLE] = rs->plan_table;
    v[PM_MA_REP_MIN] = num(&nb, req->reputation.min_sends);
    v[PM_MA_REP_WARN] = num(&nb, req->reputation.warn_ppm);
    v[PM_MA_REP_HALVE] = num(&nb, req->reputation.halve_ppm);
    v[PM_MA_REP_COLD] = num(&nb, req->reputation.cold_ppm);
    v[PM_MA_REP_STOP] = num(&nb, req->reputation.stop_ppm);
    v[PM_MA_MID_HASH] = req->msgid_hash ? req->msgid_hash : "";
    v[PM_MA_MID_DAYS] = num(&nb, req->msgid_days);
    v[PM_MA_MID_MAX] = num(&nb, req->msgid_max);
    v[PM_MA_WDAY_OFFSET] = num(&nb, req->wday_offset);
    argv[argc++] = NULL; /* EVALSHA or EVAL, set by meter_on() */
    argv[argc++] = NULL; /* the SHA1 or the script */
    argv[argc++] = num(&nb, nkeys);
    for (i = 0; i < nkeys; i++)
        argv[argc++] = k[i];
    for (i = 0; i < PM_MA_COUNT; i++)
        argv[argc++] = v[i];
    for (s = 0; s < nscopes; s++) {
        const struct pm_scope_req *sc = &req->scope[s];

        for (i = 0; i < PM_C_COUNT; i++)
            argv[argc++] = num(&nb, sc->limit[i]); /* PM_MS_MH .. PM_MS_ID */
        argv[argc++] = num(&nb, sc->warmup.dormant_days);
        argv[argc++] = num(&nb, sc->warmup.max_bounce_ppm);
        argv[argc++] = curve[s];
        argv[argc++] = sc->soft ? "1" : "0";
    }
    for (i = 0; i < (int)ct->n; i++)
        argv[argc++] = ct->hashes[i];

    /* a commit with an id asks once more, on a fresh connection, when its reply
     * was lost to a timeout: the script may have counted it, and then answers
     * with the reply it recorded instead of counting it again */
    for (attempt = req->txid && req->mode != PM_METER_PROBE ? 2 : 1; attempt > 0; attempt--) {
        cn = pool_get(rs, err, errlen);
        if (!cn) {
            pm_metrics_store_error(PM_SERR_CONNECT);
            break;
        }
        t0 = pm_metrics_clock();
        rc = meter_on(rs, cn, argv, argc, res, &dead, err, errlen);
        pm_metrics_store_done(t0);
        if (rc != 0)
            pm_metrics_store_error(!dead       ? PM_SERR_REPLY
                                   : dead == 2 ? PM_SERR_TIMEOUT
                                               : PM_SERR_IO);
        pool_put(rs, cn, dead ? err : NULL);
        if (rc == 0 || dead != 2)
            break;
    }
out:
    free(argv);
    for (i = 0; i < PM_MK_COUNT; i++)
        free(own[i]);
    for (i = 0; i < PM_SCOPE_COUNT; i++)
        free(curve[i]);
    return rc;
}

/* Release the store: close every connection (none may be in use). */
static void
redis_free(void *impl)
{
    struct redis_store *rs = impl;

    if (!rs)
        return;
    pm_sentinel_watch_stop(rs->watch);
    while (rs->n_idle > 0)
        conn_free(rs->idle[--rs->n_idle]);
    free(rs->idle);
    free(rs->host);
    free(rs->socket);
    free(rs->user);
    if (rs->password) {
        explicit_bzero(rs->password, strlen(rs->password));
        free(rs->password);
    }
    free(rs->prefix);
    free(rs->clock_key);
    free(rs->top_prefix);
    free(rs->plan_table);
    free(rs->now_lua);
    while (rs->n_sentinels > 0)
        free(rs->sentinels[--rs->n_sentinels]);
    free(rs->sentinels);
    free(rs->master);
    pthread_cond_destroy(&rs->cv);
    pthread_mutex_destroy(&rs->mu);
    free(rs);
}

/* Run one command on a pooled connection; its reply, or NULL with err set. */
redisReply *
rs_command(struct redis_store *rs, int argc, const char **argv, char *err, size_t errlen)
{
    struct rs_conn *cn;
    redisReply *r;
    sigset_t old;
    int pend, dead;

    if (!(cn = pool_get(rs, err, errlen))) {
        pm_metrics_store_error(PM_SERR_CONNECT);
        return NULL;
    }
    pipe_block(&old, &pend);
    r = redisCommandArgv(cn->c, argc, argv, NULL);
    if (!r)
        io_error(rs, cn->c, errno, err, errlen);
    pipe_restore(&old, pend);
    /* a replica's READONLY: the primary moved; drop the connection and rediscover */
    dead = r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) == 0);
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "redis %s: %s", rs->name, r->str);
    pool_put(rs, cn, dead ? err : NULL);
    return r;
}

static const struct pm_store_ops redis_ops = {
    .meter = redis_meter,
    .free = redis_free,
    .feedback = rs_feedback,
    .suppress_list = rs_suppress_list,
    .suppress_set = rs_suppress_set,
    .suppress_migrate = rs_suppress_migrate,
    .now = rs_now,
};

/* The plans as the script's override table: "name|mh|md|rh|rd|nd|ih|id|curve|soft;...". */
static char *
plan_table(const struct pm_conf *conf)
{
    struct pm_buf b;
    long long lim[PM_C_COUNT];
    size_t i, c;

    pm_buf_growing(&b);
    for (i = 0; i < conf->n_plans; i++) {
        const struct pm_plan *p = &conf->plans[i];

        pm_buf_printf(&b, "%s%s|", i ? ";" : "", p->name);
        pm_plan_counter_limits(&p->lim, lim);
        for (c = 0; c < PM_C_COUNT; c++)
            pm_buf_printf(&b, "%lld|", lim[c]);
        curve_text(&b, p->warmup.cap, p->warmup_hour, p->warmup.n);
        pm_buf_printf(&b, "|%d", p->action < PM_ACT_TEMPFAIL);
    }
    return pm_buf_take(&b);
}

/* Copy what the store needs from conf, with the documented defaults for
 * unset fields; 0 on success, -1 on allocation failure. */
static int
copy_conf(struct redis_store *rs, const struct pm_conf *conf)
{
    rs->host = dup_opt(conf->redis_host && *conf->redis_host ? conf->redis_host : "127.0.0.1", 0);
    rs->socket = dup_opt(conf->redis_socket, 1);
    rs->user = dup_opt(conf->redis_user, 1);
    rs->password = dup_opt(conf->redis_password, 1);
    rs->prefix = dup_opt(conf->key_prefix && *conf->key_prefix ? conf->key_prefix : "pm", 0);
    rs->port = conf->redis_port > 0 ? conf->redis_port : 6379;
    rs->db = conf->redis_db > 0 ? conf->redis_db : 0;
    rs->connect_ms = conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 200;
    rs->command_ms = conf->command_timeout_ms > 0 ? conf->command_timeout_ms : 500;
    rs->retry_min_ms = conf->retry_min_ms > 0 ? conf->retry_min_ms : 100;
    rs->retry_max_ms = conf->retry_max_ms > 0 ? conf->retry_max_ms : 5000;
    if (rs->retry_max_ms < rs->retry_min_ms)
        rs->retry_max_ms = rs->retry_min_ms;
    rs->pool_size = conf->pool_size > 0 ? conf->pool_size : 16;
    if (rs->socket)
        snprintf(rs->name, sizeof(rs->name), "%s", rs->socket);
    else if (strchr(rs->host, ':'))
        snprintf(rs->name, sizeof(rs->name), "[%s]:%d", rs->host, rs->port);
    else
        snprintf(rs->name, sizeof(rs->name), "%s:%d", rs->host, rs->port);
    rs->idle = calloc(rs->pool_size, sizeof(*rs->idle));
    /* the test clock only when a test asks for it: "" reads as no offset */
    if (rs->prefix && (rs->clock_key = malloc(strlen(rs->prefix) + 10)))
        sprintf(rs->clock_key, "%s", conf->redis_test_clock ? rs->prefix : "");
    if (rs->clock_key && conf->redis_test_clock)
        strcat(rs->clock_key, ":v1:clock");
    if (rs->prefix && (rs->top_prefix = malloc(strlen(rs->prefix) + 10)))
        sprintf(rs->top_prefix, "%s:v1:top:", rs->prefix);
    rs->plan_table = plan_table(conf);
    if ((rs->now_lua = malloc(sizeof(pm_prelude_lua) + 16)) != NULL)
        snprintf(rs->now_lua, sizeof(pm_prelude_lua) + 16, "%sreturn now\n", pm_prelude_lua);
    if (conf->n_sentinels) {
        size_t i;

        rs->sentinels = calloc(conf->n_sentinels, sizeof(*rs->sentinels));
        rs->master = dup_opt(conf->sentinel_master ? conf->sentinel_master : "mymaster", 0);
        if (!rs->sentinels || !rs->master)
            return -1;
        for (i = 0; i < conf->n_sentinels; i++)
            if (!(rs->sentinels[rs->n_sentinels++] = strdup(conf->sentinels[i])))
                return -1;
        snprintf(rs->name, sizeof(rs->name), "%s (Sentinel)", rs->master);
    }
    if (!rs->host || !rs->prefix || !rs->clock_key || !rs->top_prefix || !rs->plan_table ||
        !rs->now_lua || !rs->idle || (conf->redis_socket && *conf->redis_socket && !rs->socket))
        return -1;
    if ((conf->redis_user && *conf->redis_user && !rs->user) ||
        (conf->redis_password && *conf->redis_password && !rs->password))
        return -1;
    return 0;
}

/* A store that talks to the Redis named by conf; NULL on allocation failure. */
struct pm_store *
pm_store_redis_new(const struct pm_conf *conf)
{
    struct redis_store *rs = calloc(1, sizeof(*rs));
    pthread_condattr_t ca;
    struct pm_store *st;

    if (!rs)
        return NULL;
    pthread_mutex_init(&rs->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rs->cv, &ca);
    pthread_condattr_destroy(&ca);
    rs->state = LINK_UNKNOWN;
    if (copy_conf(rs, conf) < 0) {
        redis_free(rs);
        return NULL;
    }
    st = pm_store_new(&redis_ops, rs);
    if (!st)
        redis_free(rs);
    return st;
}
