/*
 * plan.c - postmeterctl plan set|clear|show: per-sender plan overrides.
 *
 * An override names a plan of the configuration and is kept 400 days from
 * the last set (the store's plan_set). The meter script reads it on every
 * request, so every server applies it at the sender's next message.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* Print where a sender's plan stands now. */
static int
plan_report(struct ctl *c, const char *sender, const char *verb)
{
    struct ctl_plan p;
    const char *name;
    long long days;
    int rc;

    if ((rc = ctl_plan_of(c, sender, &p)) != CTL_OK)
        return rc;
    name = c->conf->plans[p.plan].name;
    if (c->json) {
        fputs("{\"sender\":", stdout);
        out_json_str(stdout, sender);
        fputs(",\"plan\":", stdout);
        out_json_str(stdout, name);
        fputs(",\"plan_from\":", stdout);
        out_json_str(stdout, p.from);
        printf(",\"plan_rule_line\":%d,\"override_unknown_to_a_daemon\":%s,\"override\":", p.line,
               p.unknown ? "true" : "false");
        if (p.ovr.plan[0])
            out_json_str(stdout, p.ovr.plan);
        else
            fputs("null", stdout);
        /* seconds the override is kept; null without one */
        if (p.ovr.ttl >= 0)
            printf(",\"override_ttl\":%lld}\n", p.ovr.ttl);
        else
            fputs(",\"override_ttl\":null}\n", stdout);
        return CTL_OK;
    }
    if (verb)
        printf("%s: ", verb);
    if (p.line)
        printf("%s: plan %s (config rule, line %d)\n", sender, name, p.line);
    else
        printf("%s: plan %s (%s)\n", sender, name, p.from);
    if (p.ovr.plan[0] && strcmp(p.from, "override") == 0) {
        /* whole days left, counted up: 400 just after a plan set */
        days = p.ovr.ttl > 0 ? (p.ovr.ttl + CTL_DAY - 1) / CTL_DAY : 0;
        printf("  override expires in %lld day%s unless set again\n", days, out_s(days));
        if (p.unknown)
            printf("  a running postmeter does not know plan \"%s\" yet and applies its "
                   "configured plan: reload it\n",
                   p.ovr.plan);
    } else if (p.ovr.plan[0]) {
        printf("  override \"%s\" names no plan of the configuration: ignored\n", p.ovr.plan);
    }
    return CTL_OK;
}

/* plan set|clear|show SENDER [PLAN] */
int
cmd_plan(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX], err[512];
    const char *sub = argc > 0 ? argv[0] : "";
    struct pm_store *st;
    int rc, had, set = strcmp(sub, "set") == 0;

    if (!set && strcmp(sub, "clear") != 0 && strcmp(sub, "show") != 0)
        return ctl_fail(CTL_USAGE, "usage: plan set SENDER PLAN | plan clear SENDER | "
                                   "plan show SENDER");
    if ((rc = ctl_getopts("plan", argc - 1, argv + 1, &o)) != CTL_OK)
        return rc;
    if (o.npos != (set ? 2 : 1))
        return ctl_fail(CTL_USAGE, "usage: plan %s SENDER%s", sub, set ? " PLAN" : "");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if (set && pm_conf_plan_index(c->conf, o.pos[1]) < 0)
        return ctl_fail(CTL_USAGE, "plan set: no plan \"%s\" in %s", o.pos[1], c->conf->file);
    if (strcmp(sub, "show") == 0)
        return plan_report(c, sender, NULL);
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_plan_set(st, sender, set ? o.pos[1] : NULL, CTL_KEEP_DAYS * CTL_DAY, &had,
                                err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    return plan_report(c, sender, set ? "set" : had ? "cleared" : "no override was set");
}
