/*
 * learn_store.c - write what postmeterctl learn read, through the store.
 *
 * Contacts: each sender's pending contacts go to the store in requests of at
 * most PM_SEED_MAX (pm_store_seed, seed.lua): into the same keyed-hash
 * contacts the milter keeps ("ct", and the company's with
 * contacts.company_wide), each with the UTC day of its last delivery, where
 * that is newer than what the store holds; the script keeps each hash within
 * contacts.max_per_sender and contacts.ttl_days.
 *
 * Established senders: a sender that sent on learning.established_days local
 * days, the last of them within warmup.dormant_days of today, has enough
 * history: its warm-up ends as "postmeterctl warmup skip" ends it (the stage
 * past its plan's curve, pm_store_warmup_set, warmup.lua), unless a probe
 * shows it is not warming up (already past its curve, or a plan without one).
 * A sender is handled once (the state remembers it).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learn.h"
#include "zone.h"

/* Write the pending contacts of one sender. */
int
learn_flush_sender(struct ctl *c, struct learn_tab *t, struct learn_sender *s, int dry,
                   struct learn_written *w)
{
    const char *hashes[PM_SEED_MAX];
    long long days[PM_SEED_MAX];
    struct pm_seed_req req;
    struct pm_seed_res res;
    struct pm_store *st;
    struct lmap_ent *e, *next;
    char err[512];
    size_t i, n = 0;
    int rc;

    if (s->pending.n == 0)
        return CTL_OK;
    if (dry) {
        w->added += (long long)s->pending.n;
        goto done;
    }
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    memset(&req, 0, sizeof(req));
    req.sender = s->addr;
    req.domain = c->conf->contacts_company_wide && *s->domain ? s->domain : NULL;
    req.hashes = hashes;
    req.days = days;
    req.ttl_days = c->conf->contacts_ttl_days;
    req.max = c->conf->contacts_max;
    for (i = 0; i < s->pending.nb; i++)
        for (e = s->pending.b[i]; e; e = next) {
            next = e->next;
            hashes[n] = e->key;
            days[n++] = e->num;
            if (n < PM_SEED_MAX)
                continue;
            req.n = n;
            if ((rc = pm_store_seed(st, &req, &res, err, sizeof(err))) < 0)
                return ctl_store_fail(rc, err);
            w->added += res.added;
            w->newer += res.newer;
            w->old += res.old;
            n = 0;
        }
    if (n > 0) {
        req.n = n;
        if ((rc = pm_store_seed(st, &req, &res, err, sizeof(err))) < 0)
            return ctl_store_fail(rc, err);
        w->added += res.added;
        w->newer += res.newer;
        w->old += res.old;
    }
done:
    t->pending -= s->pending.n;
    lmap_clear(&s->pending, NULL);
    return CTL_OK;
}

/* End a sender's warm-up when it is warming up (dry: count only). */
static int
end_warmup(struct ctl *c, struct learn_sender *s, int dry, struct learn_written *w)
{
    struct ctl_plan p;
    struct pm_meter_res res;
    struct pm_warmup_set ws;
    struct pm_store *st;
    char err[512];
    long long day;
    int rc, had;
    size_t n;

    w->established++;
    s->established = 1;
    if (dry)
        return CTL_OK;
    if ((rc = ctl_plan_of(c, s->addr, &p)) != CTL_OK)
        return rc;
    if ((n = c->conf->plans[p.plan].warmup.n) == 0)
        return CTL_OK; /* its plan has no curve */
    if ((rc = ctl_probe(c, s->addr, 0, 0, 0, &res)) != CTL_OK)
        return rc;
    if (!res.warmup[PM_SCOPE_SENDER].active)
        return CTL_OK; /* past its curve already */
    memset(&ws, 0, sizeof(ws));
    ws.sender = s->addr;
    ws.stage = (long long)n;
    ws.keep = (c->conf->warmup_dormant_days + 1) * CTL_DAY;
    ws.day_offset = pm_zone_offset((long long)time(NULL));
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_warmup_set(st, &ws, &had, &day, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    w->ended++;
    return CTL_OK;
}

/* What the passes over the senders share. */
struct flush_pass {
    struct ctl *c;
    struct learn_tab *t;
    long long today;
    int dry, rc;
    struct learn_written *w;
};

/* Write one sender's contacts. */
static void
flush_contacts(void *arg, struct lmap_ent *e)
{
    struct flush_pass *f = arg;

    if (f->rc == CTL_OK)
        f->rc = learn_flush_sender(f->c, f->t, e->val, f->dry, f->w);
}

/* End one sender's warm-up when its history is enough. */
static void
flush_established(void *arg, struct lmap_ent *e)
{
    struct flush_pass *f = arg;
    struct learn_sender *s = e->val;
    const struct pm_conf *conf = f->c->conf;

    if (f->rc != CTL_OK || s->established || s->ndays < conf->learning_established_days ||
        f->today - s->days[s->ndays - 1] >= conf->warmup_dormant_days)
        return;
    f->rc = end_warmup(f->c, s, f->dry, f->w);
}

/* Write every pending contact, then end the warm-ups of established senders. */
int
learn_flush(struct ctl *c, struct learn_tab *t, long long today, int dry, struct learn_written *w)
{
    struct flush_pass f = {c, t, today, dry, CTL_OK, w};

    lmap_each(&t->senders, flush_contacts, &f);
    if (f.rc == CTL_OK)
        lmap_each(&t->senders, flush_established, &f);
    return f.rc;
}
