/*
 * store.c - postmeterctl's way to Redis: the policy library's store.
 *
 * Every read and write goes through the store, as the milter's do: the same
 * connection path (Sentinel, timeouts, AUTH, SELECT, and never a replica),
 * the same key names, and usage read with a probe (which counts nothing), so
 * the figures are exactly those the milter works with.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "plan.h"
#include "policy.h"
#include "store_redis.h"

/* Discard the store's own log lines: postmeterctl reports errors itself. */
static void
quiet_sink(void *ctx, int level, const char *line)
{
    (void)ctx;
    (void)level;
    (void)line;
}

/* Print a store failure (rc, err: what the store said); CTL_ERR. */
int
ctl_store_fail(int rc, const char *err)
{
    if (rc == PM_STORE_RETRY)
        return ctl_fail(CTL_ERR, "cannot reach %s", err);
    return ctl_fail(CTL_ERR, "%s", err);
}

/* The store, made and reached once (its clock answers); CTL_OK or CTL_ERR. */
int
ctl_store(struct ctl *c, struct pm_store **st)
{
    char err[512];
    long long now;
    int rc;

    if (!c->store) {
        pm_log_set_sink(quiet_sink, NULL);
        if (!(c->store = pm_store_redis_new(c->conf)))
            return ctl_fail(CTL_ERR, "out of memory");
        if ((rc = pm_store_now(c->store, &now, err, sizeof(err))) < 0) {
            pm_store_free(c->store);
            c->store = NULL;
            return ctl_store_fail(rc, err);
        }
    }
    if (st)
        *st = c->store;
    return CTL_OK;
}

/* Store time, as the scripts reckon it; CTL_OK or CTL_ERR. */
int
ctl_now(struct ctl *c, long long *now)
{
    struct pm_store *st;
    char err[512];
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_now(st, now, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    return CTL_OK;
}

/* The sender's plan as the milter sees it, and where it comes from. */
int
ctl_plan_of(struct ctl *c, const char *sender, struct ctl_plan *p)
{
    const struct pm_conf *conf = c->conf;
    struct pm_store *st;
    char err[512];
    size_t i;
    int rc, idx;

    memset(p, 0, sizeof(*p));
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_plan_get(st, sender, &p->ovr, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    idx = p->ovr.plan[0] ? pm_conf_plan_index(conf, p->ovr.plan) : -1;
    if (idx >= 0) {
        p->plan = idx;
        p->from = "override";
        p->unknown = strcmp(p->ovr.unknown, p->ovr.plan) == 0;
        return CTL_OK;
    }
    /* a sender argument stands for an authenticated sender: its login is itself */
    for (i = 0; i < conf->n_assign; i++)
        if (pm_assign_match(&conf->assign[i], sender, sender)) {
            p->plan = conf->assign[i].plan;
            p->from = "config rule";
            p->line = conf->assign[i].line;
            return CTL_OK;
        }
    p->plan = conf->default_plan;
    p->from = "default";
    return CTL_OK;
}

/* Probe the store about the sender the way the milter does; CTL_OK or CTL_ERR. */
int
ctl_probe(struct ctl *c, const char *sender, long long msgs, long long rcpts, long long cold,
          struct pm_meter_res *res)
{
    struct pm_store *st;
    char err[512];
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    /* a sender argument stands for an authenticated sender: its login is itself */
    if ((rc = pm_policy_probe_sender(c->conf, st, sender, sender, msgs, rcpts, cold, res, err,
                                     sizeof(err))) < 0)
        return ctl_fail(CTL_ERR, "cannot read the counters of %s: %s", sender, err);
    return CTL_OK;
}
