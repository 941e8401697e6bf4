/*
 * warmup.c - postmeterctl warmup reset|skip: restart or shorten a warm-up.
 *
 * reset deletes the warm-up hash of a sender, or with --domain of a domain's
 * company-wide plan: its next message starts the curve at stage 0. skip
 * writes stage N (default: past the end of the curve of its plan) as if it
 * had been active today, so today's cap is stage N's and the curve moves on
 * from there; the hash keeps its TTL of dormant_days + 1 days. A target whose
 * plan has no curve (for a domain: no curve of its own) has no warm-up to
 * skip: that is refused (exit 2). The day is the store's (Redis TIME plus the
 * test clock offset), computed inside one small script.
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

/* KEYS: wu, clock; ARGV: stage, ttl seconds, the zone's offset (warm-up days
 * are local days, as meter_warmup.lua counts them). Returns {today}. */
static const char skip_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + math.floor(tonumber(redis.call('GET', KEYS[2]) or 0) or 0)\n"
    "local today = math.floor((now + tonumber(ARGV[3])) / 86400)\n"
    "redis.call('HSET', KEYS[1], 'stage', ARGV[1], 'last', today, 'start', today, 'today', 0)\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return today\n";

/* Whose warm-up: a sender, or a domain with a company-wide plan. */
struct wu_target {
    const char *who;  /* the sender or the domain */
    const char *kind; /* "sender" or "domain" (the JSON member) */
    char key[PM_ADDR_MAX + 64];
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

/* warmup reset SENDER | --domain DOMAIN */
static int
warmup_reset(struct ctl *c, const struct wu_target *t)
{
    redisReply *r;
    int had;

    if (!(r = ctl_cmd(c, "DEL %s", t->key)))
        return CTL_ERR;
    had = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
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
    char clock[128], st[24], ttl[24], off[24];
    const char *argv[8] = {"EVAL", skip_lua, "2", t->key, clock, st, ttl, off};
    long long stage = (long long)p->warmup.n;
    redisReply *r;

    if (!t->curve)
        return ctl_fail(CTL_USAGE, "warmup skip: %s%s has no warm-up: plan %s has no curve",
                        strcmp(t->kind, "domain") == 0 ? "company-wide " : "", t->who, p->name);
    if (to && ctl_number(to, PM_WARMUP_MAX_STAGES, &stage) < 0)
        return ctl_fail(CTL_USAGE, "warmup skip: bad stage \"%s\" (0 to %d)", to,
                        PM_WARMUP_MAX_STAGES);
    snprintf(clock, sizeof(clock), "%s%s", c->conf->redis_test_clock ? c->conf->key_prefix : "",
             c->conf->redis_test_clock ? ":v1:clock" : "");
    snprintf(st, sizeof(st), "%lld", stage);
    snprintf(ttl, sizeof(ttl), "%lld", (c->conf->warmup_dormant_days + 1) * CTL_DAY);
    snprintf(off, sizeof(off), "%lld", pm_zone_offset((long long)time(NULL)));
    if (!(r = ctl_cmdv(c, 8, argv)))
        return CTL_ERR;
    freeReplyObject(r);
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
    char sender[PM_ADDR_MAX], domain[PM_ADDR_MAX], ovr[128];
    const char *sub = argc > 0 ? argv[0] : "", *from;
    int rc, line, skip = strcmp(sub, "skip") == 0;
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
        ctl_domain_key(c, domain, "wu", t.key, sizeof(t.key));
    } else {
        if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
            return rc;
        if (skip &&
            (rc = ctl_plan_of(c, sender, &t.plan, &from, &line, ovr, sizeof(ovr))) != CTL_OK)
            return rc;
        t.who = sender;
        t.kind = "sender";
        t.curve = skip && c->conf->plans[t.plan].warmup.n > 0;
        ctl_key(c, sender, "wu", t.key, sizeof(t.key));
    }
    return skip ? warmup_skip(c, &t, o.value[0]) : warmup_reset(c, &t);
}
