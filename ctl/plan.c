/*
 * plan.c - postmeterctl plan set|clear|show: per-sender plan overrides.
 *
 * An override is the string key "{s:<sender>}:plan" naming a plan of the
 * configuration, kept 400 days from the last set. The meter script reads it
 * on every request, so every server applies it at the sender's next message.
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
    char ovr[128];
    const char *from;
    int plan, line, rc;
    long long ttl = -2, days;
    char key[PM_ADDR_MAX + 64];
    redisReply *r;

    if ((rc = ctl_plan_of(c, sender, &plan, &from, &line, ovr, sizeof(ovr))) != CTL_OK)
        return rc;
    ctl_key(c, sender, "plan", key, sizeof(key));
    if (!(r = ctl_cmd(c, "TTL %s", key)))
        return CTL_ERR;
    if (r->type == REDIS_REPLY_INTEGER)
        ttl = r->integer;
    freeReplyObject(r);
    if (c->json) {
        fputs("{\"sender\":", stdout);
        out_json_str(stdout, sender);
        fputs(",\"plan\":", stdout);
        out_json_str(stdout, c->conf->plans[plan].name);
        fputs(",\"plan_from\":", stdout);
        out_json_str(stdout, from);
        printf(",\"plan_rule_line\":%d,\"override_unknown_to_a_daemon\":%s,\"override\":", line,
               ctl_override_unknown(c, sender, ovr) ? "true" : "false");
        if (ovr[0])
            out_json_str(stdout, ovr);
        else
            fputs("null", stdout);
        /* seconds the override is kept; null without one (Redis's -2 is no figure) */
        if (ovr[0] && ttl >= 0)
            printf(",\"override_ttl\":%lld}\n", ttl);
        else
            fputs(",\"override_ttl\":null}\n", stdout);
        return CTL_OK;
    }
    if (verb)
        printf("%s: ", verb);
    if (line)
        printf("%s: plan %s (config rule, line %d)\n", sender, c->conf->plans[plan].name, line);
    else
        printf("%s: plan %s (%s)\n", sender, c->conf->plans[plan].name, from);
    if (ovr[0] && strcmp(from, "override") == 0) {
        /* whole days left, counted up: 400 just after a plan set */
        days = ttl > 0 ? (ttl + CTL_DAY - 1) / CTL_DAY : 0;
        printf("  override expires in %lld day%s unless set again\n", days, out_s(days));
        if (ctl_override_unknown(c, sender, ovr))
            printf("  a running postmeter does not know plan \"%s\" yet and applies its "
                   "configured plan: reload it\n",
                   ovr);
    } else if (ovr[0]) {
        printf("  override \"%s\" names no plan of the configuration: ignored\n", ovr);
    }
    return CTL_OK;
}

/* plan set|clear|show SENDER [PLAN] */
int
cmd_plan(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX], key[PM_ADDR_MAX + 64], ttl[24];
    const char *sub = argc > 0 ? argv[0] : "";
    redisReply *r;
    int rc, set = strcmp(sub, "set") == 0;

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
    ctl_key(c, sender, "planerr", key, sizeof(key));
    if (strcmp(sub, "show") != 0) { /* a daemon says so again if it still lacks the plan */
        if (!(r = ctl_cmd(c, "DEL %s", key)))
            return CTL_ERR;
        freeReplyObject(r);
    }
    ctl_key(c, sender, "plan", key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%lld", CTL_KEEP_DAYS * CTL_DAY);
    if (set) {
        const char *cmd[5] = {"SET", key, o.pos[1], "EX", ttl};

        if (!(r = ctl_cmdv(c, 5, cmd)))
            return CTL_ERR;
        freeReplyObject(r);
        return plan_report(c, sender, "set");
    }
    if (strcmp(sub, "clear") == 0) {
        if (!(r = ctl_cmd(c, "DEL %s", key)))
            return CTL_ERR;
        rc = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
        return plan_report(c, sender, rc ? "cleared" : "no override was set");
    }
    return plan_report(c, sender, NULL);
}
