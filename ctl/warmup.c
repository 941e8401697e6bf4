/*
 * warmup.c - postmeterctl warmup reset|skip: restart or shorten a warm-up.
 *
 * reset deletes the warm-up hash of a sender, or with --domain of a domain's
 * company-wide plan: its next message starts the curve at stage 0. skip
 * writes stage N (default: past the end of the curve of its plan) as if it
 * had been active today, so today's cap is stage N's and the curve moves on
 * from there; the hash keeps its TTL of dormant_days + 1 days. A target whose
 * plan has no curve (for a domain: no curve of its own) has no warm-up to
 * skip: that is refused (exit 2). The store does both (policy/warmup.lua),
 * on its own clock and on local warm-up days, as the meter counts them.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "plan.h"
#include "zone.h"

/* Whose warm-up: a sender, or a domain with a company-wide plan. */
struct wu_target {
    const char *who;  /* the sender or the domain */
    const char *kind; /* "sender" or "domain" (the JSON member) */
    int plan;
    int curve; /* the plan warms this target up (a domain plan only with its own curve) */
};

/* Print who, as text ("alice@example.com", "company-wide example.com") or JSON. */
static void
who_out(const struct ctl *c, const struct wu_target *t)
{
    if (c->json) {
        printf("{\"%s\":", t->kind);
        out_json_str(stdout, t->who);
    } else {
        printf("%s%s", strcmp(t->kind, "domain") == 0 ? "company-wide " : "", t->who);
    }
}

/* Reset (stage -1) or skip to a stage a target's warm-up in the store;
 * CTL_OK or CTL_ERR. */
static int
warmup_store(struct ctl *c, const struct wu_target *t, long long stage, int *had)
{
    int sender = strcmp(t->kind, "sender") == 0;
    struct pm_warmup_set w = {sender ? t->who : NULL, sender ? NULL : t->who, stage,
                              (c->conf->warmup_dormant_days + 1) * CTL_DAY,
                              pm_zone_offset((long long)time(NULL))};
    struct pm_store *st;
    long long day;
    char err[512];
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_warmup_set(st, &w, had, &day, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    return CTL_OK;
}

/* warmup reset SENDER | --domain DOMAIN */
static int
warmup_reset(struct ctl *c, const struct wu_target *t)
{
    int had, rc;

    if ((rc = warmup_store(c, t, -1, &had)) != CTL_OK)
        return rc;
    who_out(c, t);
    if (c->json)
        printf(",\"reset\":true,\"had_state\":%s}\n", had ? "true" : "false");
    else
        printf(": warm-up %s; the next message starts at stage 0\n",
               had ? "reset" : "had no state");
    return CTL_OK;
}

/* warmup skip SENDER | --domain DOMAIN [--to-stage N] */
static int
warmup_skip(struct ctl *c, const struct wu_target *t, const char *to)
{
    const struct pm_plan *p = &c->conf->plans[t->plan];
    long long stage = (long long)p->warmup.n;
    int had, rc;

    if (!t->curve)
        return ctl_fail(CTL_USAGE, "warmup skip: %s%s has no warm-up: plan %s has no curve",
                        strcmp(t->kind, "domain") == 0 ? "company-wide " : "", t->who, p->name);
    if (to && ctl_number(to, PM_WARMUP_MAX_STAGES, &stage) < 0)
        return ctl_fail(CTL_USAGE, "warmup skip: bad stage \"%s\" (0 to %d)", to,
                        PM_WARMUP_MAX_STAGES);
    if ((rc = warmup_store(c, t, stage, &had)) != CTL_OK)
        return rc;
    who_out(c, t);
    if (c->json) {
        fputs(",\"plan\":", stdout);
        out_json_str(stdout, p->name);
        printf(",\"stage\":%lld,\"stages\":%zu,\"day_cap\":%lld}\n", stage, p->warmup.n,
               pm_curve_day_cap(&p->warmup, stage));
    } else if ((size_t)stage >= p->warmup.n) {
        printf(": warm-up skipped to its end; plan %s's limits apply\n", p->name);
    } else {
        printf(": warm-up at stage %lld of %zu: %lld message%s today\n", stage, p->warmup.n,
               pm_curve_day_cap(&p->warmup, stage), out_s(pm_curve_day_cap(&p->warmup, stage)));
    }
    return CTL_OK;
}

/* warmup reset|skip SENDER | --domain DOMAIN [--to-stage N] */
int
cmd_warmup(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--to-stage", "--domain", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    struct wu_target t;
    char sender[PM_ADDR_MAX], domain[PM_ADDR_MAX];
    const char *sub = argc > 0 ? argv[0] : "";
    struct ctl_plan p;
    int rc, skip = strcmp(sub, "skip") == 0;
    size_t i;

    if (!skip && strcmp(sub, "reset") != 0)
        return ctl_fail(CTL_USAGE, "usage: warmup reset SENDER|--domain DOMAIN | warmup skip "
                                   "SENDER|--domain DOMAIN [--to-stage N]");
    if ((rc = ctl_getopts("warmup", argc - 1, argv + 1, &o)) != CTL_OK)
        return rc;
    if (o.npos != (o.value[1] ? 0 : 1) || (!skip && o.value[0]))
        return ctl_fail(CTL_USAGE, "usage: warmup %s SENDER|--domain DOMAIN%s", sub,
                        skip ? " [--to-stage N]" : "");
    memset(&t, 0, sizeof(t));
    if (o.value[1]) {
        /* a company-wide warm-up: the domain must have a company-wide plan */
        for (i = 0; o.value[1][i] && i + 1 < sizeof(domain); i++)
            domain[i] = (char)tolower((unsigned char)o.value[1][i]);
        domain[i] = '\0';
        if ((t.plan = pm_plan_for_domain(c->conf, domain)) < 0)
            return ctl_fail(CTL_USAGE, "warmup: no company-wide plan for %s (see domains)", domain);
        t.who = domain;
        t.kind = "domain";
        t.curve = c->conf->plans[t.plan].warmup_set && c->conf->plans[t.plan].warmup.n > 0;
    } else {
        if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
            return rc;
        if (skip && (rc = ctl_plan_of(c, sender, &p)) != CTL_OK)
            return rc;
        t.who = sender;
        t.kind = "sender";
        t.plan = skip ? p.plan : 0;
        t.curve = skip && c->conf->plans[t.plan].warmup.n > 0;
    }
    return skip ? warmup_skip(c, &t, o.value[0]) : warmup_reset(c, &t);
}
