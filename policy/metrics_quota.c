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
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "metrics.h"
#include "policy.h"
#include "redis_conn.h"

/* Today's top senders: the day from the store's clock, then the sorted set. */
static const char top_lua[] =
    "local t = redis.call('TIME')\n"
    "local off = tonumber(redis.call('GET', KEYS[1]) or 0) or 0\n"
    "local now = tonumber(t[1]) + math.floor(off)\n"
    "local day = math.floor(now / 86400)\n"
    "local top = redis.call('ZREVRANGE', ARGV[1] .. day, 0, tonumber(ARGV[2]) - 1)\n"
    "table.insert(top, 1, tostring(now))\n"
    "return top\n";

/* Read today's top n senders; the reply (an array: store time, then senders) or NULL. */
static redisReply *
read_top(const struct pm_conf *conf, int n, char *err, size_t errlen)
{
    char clock_key[128], top_prefix[128], count[16], where[300], why[256];
    redisContext *c = pm_redis_connect(conf, where, sizeof(where), why, sizeof(why));
    redisReply *r;

    if (!c) {
        snprintf(err, errlen, "redis %s: %s", where, why);
        return NULL;
    }
    snprintf(clock_key, sizeof(clock_key), "%s%s", conf->redis_test_clock ? conf->key_prefix : "",
             conf->redis_test_clock ? ":v1:clock" : "");
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
        if ((p = pm_policy_probe_sender(conf, store, e->str, NULL, 0, 0, 0, &res, err, errlen)) <
            0) {
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
