/*
 * metrics_quota.c - the per-sender quota gauges, read on a bounded schedule.
 *
 * One refresh reads today's top index (the senders by messages counted this
 * UTC day, the store's top operation) and probes each of the first
 * metrics.top_senders senders through the store (mode probe: nothing is
 * counted), then replaces the gauges. Scrapes only read the latest
 * snapshot, so the load on Redis is one read and at most top_senders probes
 * per refresh_seconds, whatever the scrape rate. Each refresh first counts
 * the senders in incident (the store's incident list, which drops stale
 * index entries) for the senders-in-incident gauge.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "policy.h"

/* The senders read so far. */
struct top_list {
    char (*sender)[PM_ADDR_MAX];
    size_t n, max;
};

/* Keep one sender of the top index; 0 to go on. */
static int
top_one(void *arg, const char *sender)
{
    struct top_list *t = arg;

    if (t->n >= t->max)
        return 1;
    if (strlen(sender) < PM_ADDR_MAX)
        snprintf(t->sender[t->n++], PM_ADDR_MAX, "%s", sender);
    return 0;
}

/* Count one sender in incident; 0 to go on. */
static int
incident_one(void *arg, const struct pm_incident *inc)
{
    (void)inc;
    ++*(long long *)arg;
    return 0;
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
    struct top_list top = {NULL, 0, 0};
    struct pm_meter_res res;
    size_t i, n = 0;
    long long now, in_incident = 0;
    char ierr[256];
    int p, rc, inc_rc;

    /* the gauge keeps its value when the list fails; the quotas are read all the same */
    if ((inc_rc = pm_store_incident_list(store, incident_one, &in_incident, &now, ierr,
                                         sizeof(ierr))) < 0)
        snprintf(err, errlen, "senders in incident: %s", ierr);
    else
        pm_metrics_incidents_set(in_incident);
    if (conf->metrics_top_senders <= 0) {
        pm_metrics_quota_set(NULL, 0, 0);
        return inc_rc < 0 ? -1 : 0;
    }
    top.max = (size_t)conf->metrics_top_senders;
    if (!(top.sender = calloc(top.max, sizeof(*top.sender))) ||
        !(rows = calloc(top.max, sizeof(*rows)))) {
        free(top.sender);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = pm_store_top(store, 1, conf->metrics_top_senders, top_one, &top, &now, err, errlen);
    for (i = 0; i < top.n && rc == 0; i++) {
        if ((p = pm_policy_probe_sender(conf, store, top.sender[i], NULL, 0, 0, 0, &res, err,
                                        errlen)) < 0) {
            rc = -1; /* keep the previous gauges rather than show half of them */
            break;
        }
        snprintf(rows[n].sender, sizeof(rows[n].sender), "%s", top.sender[i]);
        fill_row(conf, p, &res, &rows[n++]);
    }
    if (rc == 0)
        pm_metrics_quota_set(rows, n, now);
    free(rows);
    free(top.sender);
    if (rc == 0 && inc_rc < 0)
        snprintf(err, errlen, "senders in incident: %s", ierr);
    return rc < 0 || inc_rc < 0 ? -1 : 0;
}
