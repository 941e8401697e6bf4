/*
 * redis.c - postmeterctl's way to Redis: one admin connection and the store.
 *
 * Admin reads and writes go over one short-lived hiredis context, opened as
 * the daemon opens its own (redis_conn.c: Sentinel, timeouts, AUTH,
 * SELECT). Usage and warm-up state are read through the policy library's
 * store with a probe (which counts nothing), so the figures are exactly
 * those the milter works with.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "plan.h"
#include "policy.h"
#include "redis_conn.h"
#include "store_redis.h"

/* Check a set-up reply; CTL_OK, or CTL_ERR after printing why. */
static int
setup_reply(struct ctl *c, redisReply *r, const char *what)
{
    int rc = CTL_OK;

    if (!r && c->rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        rc = ctl_fail(CTL_ERR, "cannot reach Redis at %s: no reply within %d ms", c->redis_name,
                      c->conf->command_timeout_ms);
    else if (!r)
        rc = ctl_fail(CTL_ERR, "cannot reach Redis at %s: %s", c->redis_name, c->rc->errstr);
    else if (r->type == REDIS_REPLY_ERROR)
        rc = ctl_fail(CTL_ERR, "Redis at %s: %s failed: %s", c->redis_name, what, r->str);
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Open the admin connection (Sentinel, AUTH, SELECT as configured); CTL_OK or CTL_ERR. */
int
ctl_connect(struct ctl *c)
{
    char err[256];

    if (c->rc)
        return CTL_OK;
    c->rc = pm_redis_connect(c->conf, c->redis_name, sizeof(c->redis_name), err, sizeof(err));
    if (!c->rc)
        return ctl_fail(CTL_ERR, "cannot reach Redis at %s: %s", c->redis_name, err);
    if (setup_reply(c, redisCommand(c->rc, "PING"), "PING")) {
        redisFree(c->rc);
        c->rc = NULL;
        return CTL_ERR;
    }
    return CTL_OK;
}

/* Check a command's reply: NULL (after printing why) for none or an error. */
static redisReply *
cmd_reply(struct ctl *c, redisReply *r)
{
    if (!r) {
        if (c->rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
            ctl_fail(CTL_ERR, "Redis at %s: no reply within %d ms", c->redis_name,
                     c->conf->command_timeout_ms);
        else
            ctl_fail(CTL_ERR, "Redis at %s: %s", c->redis_name,
                     c->rc->errstr[0] ? c->rc->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        ctl_fail(CTL_ERR, "Redis at %s: %s", c->redis_name, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Run one command (hiredis formatting); NULL after printing why. */
redisReply *
ctl_cmd(struct ctl *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    if (ctl_connect(c) != CTL_OK)
        return NULL;
    va_start(ap, fmt);
    r = redisvCommand(c->rc, fmt, ap);
    va_end(ap);
    return cmd_reply(c, r);
}

/* Run one command from an argument vector; NULL after printing why. */
redisReply *
ctl_cmdv(struct ctl *c, int argc, const char **argv)
{
    if (ctl_connect(c) != CTL_OK)
        return NULL;
    return cmd_reply(c, redisCommandArgv(c->rc, argc, argv, NULL));
}

/* "<prefix>:v1:{s:<sender>}:<kind>" into buf. */
void
ctl_key(const struct ctl *c, const char *sender, const char *kind, char *buf, size_t len)
{
    snprintf(buf, len, "%s:v1:{s:%s}:%s", c->conf->key_prefix, sender, kind);
}

/* "<prefix>:v1:{d:<domain>}:<kind>" into buf. */
void
ctl_domain_key(const struct ctl *c, const char *domain, const char *kind, char *buf, size_t len)
{
    snprintf(buf, len, "%s:v1:{d:%s}:%s", c->conf->key_prefix, domain, kind);
}

/* Store time, as the scripts reckon it; CTL_OK or CTL_ERR. */
int
ctl_now(struct ctl *c, long long *now)
{
    struct pm_store *st = NULL;
    char err[512];
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if (pm_store_now(st, now, err, sizeof(err)) != 0)
        return ctl_fail(CTL_ERR, "Redis at %s: %s", c->redis_name, err);
    return CTL_OK;
}

/* The sender's plan as the milter sees it, and where it comes from. */
int
ctl_plan_of(struct ctl *c, const char *sender, int *plan, const char **from, int *line, char *ovr,
            size_t ovrlen)
{
    const struct pm_conf *conf = c->conf;
    redisReply *r;
    char key[PM_ADDR_MAX + 64];
    size_t i;
    int idx = -1;

    ctl_key(c, sender, "plan", key, sizeof(key));
    if (!(r = ctl_cmd(c, "GET %s", key)))
        return CTL_ERR;
    ovr[0] = '\0';
    if (r->type == REDIS_REPLY_STRING) {
        snprintf(ovr, ovrlen, "%s", r->str);
        idx = pm_conf_plan_index(conf, r->str);
    }
    freeReplyObject(r);
    *line = 0;
    if (idx >= 0) {
        *plan = idx;
        *from = "override";
        return CTL_OK;
    }
    /* a sender argument stands for an authenticated sender: its login is itself */
    for (i = 0; i < conf->n_assign; i++)
        if (pm_assign_match(&conf->assign[i], sender, sender)) {
            *plan = conf->assign[i].plan;
            *from = "config rule";
            *line = conf->assign[i].line;
            return CTL_OK;
        }
    *plan = conf->default_plan;
    *from = "default";
    return CTL_OK;
}

/* 1 when a running postmeter reported, within a day, that it does not know the
 * plan the sender's override names (ovr): it applies the configured plan. */
int
ctl_override_unknown(struct ctl *c, const char *sender, const char *ovr)
{
    char key[PM_ADDR_MAX + 64];
    redisReply *r;
    int unknown;

    if (!ovr || !*ovr)
        return 0;
    ctl_key(c, sender, "planerr", key, sizeof(key));
    if (!(r = ctl_cmd(c, "GET %s", key)))
        return 0;
    unknown = r->type == REDIS_REPLY_STRING && strcmp(r->str, ovr) == 0;
    freeReplyObject(r);
    return unknown;
}

/* Discard the store's own log lines: postmeterctl reports errors itself. */
static void
quiet_sink(void *ctx, int level, const char *line)
{
    (void)ctx;
    (void)level;
    (void)line;
}

/* The policy library's store, made once (after the admin connection, which
 * reports an unreachable Redis); CTL_OK or CTL_ERR. */
int
ctl_store(struct ctl *c, struct pm_store **st)
{
    if (ctl_connect(c) != CTL_OK)
        return CTL_ERR;
    if (!c->store) {
        pm_log_set_sink(quiet_sink, NULL);
        if (!(c->store = pm_store_redis_new(c->conf)))
            return ctl_fail(CTL_ERR, "out of memory");
    }
    if (st)
        *st = c->store;
    return CTL_OK;
}

/* Probe the store about the sender the way the milter does; CTL_OK or CTL_ERR. */
int
ctl_probe(struct ctl *c, const char *sender, long long msgs, long long rcpts, long long cold,
          struct pm_meter_res *res)
{
    const struct pm_conf *conf = c->conf;
    char err[512];

    if (ctl_store(c, NULL) != CTL_OK)
        return CTL_ERR;
    /* a sender argument stands for an authenticated sender: its login is itself */
    if (pm_policy_probe_sender(conf, c->store, sender, sender, msgs, rcpts, cold, res, err,
                               sizeof(err)) < 0)
        return ctl_fail(CTL_ERR, "cannot read the counters of %s: %s", sender, err);
    return CTL_OK;
}
