/*
 * metrics_quota.c - the per-sender quota gauges, read on a bounded schedule.
 *
 * One refresh reads today's top index (<prefix>:v1:top:<day>, the senders by
 * messages counted that UTC day, the day taken from Redis TIME plus the test
 * clock offset as meter.lua does) over a short-lived connection of its own,
 * then probes each of the first metrics.top_senders senders through the
 * store (mode probe: nothing is counted), and replaces the gauges. Scrapes
 * only read the latest snapshot, so the load on Redis is one read and at
 * most top_senders probes per refresh_seconds, whatever the scrape rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "metrics.h"
#include "policy.h"

/* Today's top senders: the day from the store's clock, then the sorted set. */
static const char top_lua[] =
    "local t = redis.call('TIME')\n"
    "local off = tonumber(redis.call('GET', KEYS[1]) or 0) or 0\n"
    "local now = tonumber(t[1]) + math.floor(off)\n"
    "local day = math.floor(now / 86400)\n"
    "local top = redis.call('ZREVRANGE', ARGV[1] .. day, 0, tonumber(ARGV[2]) - 1)\n"
    "table.insert(top, 1, tostring(now))\n"
    "return top\n";

/* A timeval of ms milliseconds. */
static struct timeval
ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    return tv;
}

/* 0 when a set-up reply is fine, else -1 with err set (the reply is freed). */
static int
setup_ok(redisContext *c, redisReply *r, const char *what, char *err, size_t errlen)
{
    int rc = 0;

    if (!r) {
        snprintf(err, errlen, "%s: %s", what, c->errstr);
        rc = -1;
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s: %s", what, r->str);
        rc = -1;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Ask the Sentinels where the primary is and connect to it; NULL on failure. */
static redisContext *
connect_sentinel(const struct pm_conf *conf, char *err, size_t errlen)
{
    size_t i;

    snprintf(err, errlen, "no Sentinel answered");
    for (i = 0; i < conf->n_sentinels; i++) {
        char host[256];
        const char *s = conf->sentinels[i], *colon = strrchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : 0;
        redisContext *c;
        redisReply *r;
        int port = 0;

        if (s[0] == '[' && n >= 2) {
            s++;
            n -= 2;
        }
        if (!colon || n == 0 || n >= sizeof(host))
            continue;
        snprintf(host, sizeof(host), "%.*s", (int)n, s);
        c = redisConnectWithTimeout(host, atoi(colon + 1), ms_tv(conf->connect_timeout_ms));
        if (!c || c->err) {
            if (c)
                redisFree(c);
            continue;
        }
        redisSetTimeout(c, ms_tv(conf->command_timeout_ms));
        r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", conf->sentinel_master);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(host, sizeof(host), "%s", r->element[0]->str);
            port = atoi(r->element[1]->str);
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (port > 0)
            return redisConnectWithTimeout(host, port, ms_tv(conf->connect_timeout_ms));
    }
    return NULL;
}

/* Open, authenticate and select; NULL with err set on failure. */
static redisContext *
connect_store(const struct pm_conf *conf, char *err, size_t errlen)
{
    redisContext *c;

    if (conf->n_sentinels)
        c = connect_sentinel(conf, err, errlen);
    else if (conf->redis_socket && *conf->redis_socket)
        c = redisConnectUnixWithTimeout(conf->redis_socket, ms_tv(conf->connect_timeout_ms));
    else
        c = redisConnectWithTimeout(conf->redis_host, conf->redis_port,
                                    ms_tv(conf->connect_timeout_ms));
    if (!c || c->err) {
        if (c)
            snprintf(err, errlen, "%s", c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, ms_tv(conf->command_timeout_ms));
    if (conf->redis_password && *conf->redis_password &&
        setup_ok(c,
                 conf->redis_user
                     ? redisCommand(c, "AUTH %s %s", conf->redis_user, conf->redis_password)
                     : redisCommand(c, "AUTH %s", conf->redis_password),
                 "AUTH", err, errlen) != 0) {
        redisFree(c);
        return NULL;
    }
    if (conf->redis_db &&
        setup_ok(c, redisCommand(c, "SELECT %d", conf->redis_db), "SELECT", err, errlen) != 0) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Read today's top n senders; the reply (an array: store time, then senders) or NULL. */
static redisReply *
read_top(const struct pm_conf *conf, int n, char *err, size_t errlen)
{
    char clock_key[128], top_prefix[128], count[16];
    redisContext *c = connect_store(conf, err, errlen);
    redisReply *r;

    if (!c)
        return NULL;
    snprintf(clock_key, sizeof(clock_key), "%s:v1:clock", conf->key_prefix);
    snprintf(top_prefix, sizeof(top_prefix), "%s:v1:top:", conf->key_prefix);
    snprintf(count, sizeof(count), "%d", n);
    r = redisCommand(c, "EVAL %s 1 %s %s %s", top_lua, clock_key, top_prefix, count);
    if (!r)
        snprintf(err, errlen, "top index: %s", c->errstr);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        snprintf(err, errlen, "top index: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        freeReplyObject(r);
        r = NULL;
    }
    redisFree(c);
    return r;
}

/* Fill a gauge row from a probe's answer under plan p. */
static void
fill_row(const struct pm_conf *conf, int p, const struct pm_meter_res *res,
         struct pm_metrics_sender *row)
{
    const struct pm_limits *l = &conf->plans[p].lim;

    row->used_msgs[0] = res->used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR];
    row->used_msgs[1] = res->used[PM_SCOPE_SENDER][PM_C_MSGS_DAY];
    row->used_rcpts[0] = res->used[PM_SCOPE_SENDER][PM_C_RCPTS_HOUR];
    row->used_rcpts[1] = res->used[PM_SCOPE_SENDER][PM_C_RCPTS_DAY];
    row->limit_msgs[0] = l->msgs_hour;
    row->limit_msgs[1] = l->msgs_day;
    row->limit_rcpts[0] = l->rcpts_hour;
    row->limit_rcpts[1] = l->rcpts_day;
    row->warmup_day =
        res->warmup[PM_SCOPE_SENDER].active ? res->warmup[PM_SCOPE_SENDER].stage + 1 : 0;
}

/* Read the top senders and probe each, then replace the quota gauges. */
int
pm_metrics_quota_refresh(const struct pm_conf *conf, struct pm_store *store, char *err,
                         size_t errlen)
{
    struct pm_metrics_sender *rows = NULL;
    struct pm_meter_res res;
    redisReply *r;
    size_t i, n = 0;
    long long now;
    int p, rc = 0;

    if (conf->metrics_top_senders <= 0) {
        pm_metrics_quota_set(NULL, 0, 0);
        return 0;
    }
    if (!(r = read_top(conf, conf->metrics_top_senders, err, errlen)))
        return -1;
    now = r->element[0]->type == REDIS_REPLY_STRING ? strtoll(r->element[0]->str, NULL, 10) : 0;
    if (r->elements > 1 && !(rows = calloc(r->elements - 1, sizeof(*rows)))) {
        snprintf(err, errlen, "out of memory");
        freeReplyObject(r);
        return -1;
    }
    for (i = 1; i < r->elements && rc == 0; i++) {
        const redisReply *e = r->element[i];

        if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len >= sizeof(rows[n].sender))
            continue;
        if ((p = pm_policy_probe_sender(conf, store, e->str, NULL, 0, 0, &res, err, errlen)) < 0) {
            rc = -1; /* keep the previous gauges rather than show half of them */
            break;
        }
        snprintf(rows[n].sender, sizeof(rows[n].sender), "%s", e->str);
        fill_row(conf, p, &res, &rows[n++]);
    }
    if (rc == 0)
        pm_metrics_quota_set(rows, n, now);
    free(rows);
    freeReplyObject(r);
    return rc;
}
