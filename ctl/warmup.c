/*
 * warmup.c - postmeterctl warmup reset|skip: restart or shorten a warm-up.
 *
 * reset deletes the sender's warm-up hash: its next message starts the curve
 * at stage 0. skip writes stage N (default: past the end of the curve of the
 * sender's plan) as if the sender had been active today, so today's cap is
 * stage N's and the curve moves on from there; the hash keeps its TTL of
 * dormant_days + 1 days. The day is the store's (Redis TIME plus the test
 * clock offset), computed inside one small script.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* KEYS: wu, clock; ARGV: stage, ttl seconds. Returns {today}. */
static const char skip_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + math.floor(tonumber(redis.call('GET', KEYS[2]) or 0) or 0)\n"
    "local today = math.floor(now / 86400)\n"
    "redis.call('HSET', KEYS[1], 'stage', ARGV[1], 'last', today, 'start', today, 'today', 0)\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return today\n";

/* warmup reset SENDER */
static int
warmup_reset(struct ctl *c, const char *sender)
{
    char key[PM_ADDR_MAX + 64];
    redisReply *r;
    int had;

    ctl_key(c, sender, "wu", key, sizeof(key));
    if (!(r = ctl_cmd(c, "DEL %s", key)))
        return CTL_ERR;
    had = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    if (c->json) {
        fputs("{\"sender\":", stdout);
        out_json_str(stdout, sender);
        printf(",\"reset\":true,\"had_state\":%s}\n", had ? "true" : "false");
    } else {
        printf("%s: warm-up %s; the next message starts at stage 0\n", sender,
               had ? "reset" : "had no state");
    }
    return CTL_OK;
}

/* warmup skip SENDER [--to-stage N] */
static int
warmup_skip(struct ctl *c, const char *sender, const char *to)
{
    const struct pm_plan *p;
    char key[PM_ADDR_MAX + 64], clock[128], st[24], ttl[24], ovr[128];
    const char *argv[7] = {"EVAL", skip_lua, "2", key, clock, st, ttl};
    const char *from;
    long long stage;
    redisReply *r;
    int plan, line, rc;

    if ((rc = ctl_plan_of(c, sender, &plan, &from, &line, ovr, sizeof(ovr))) != CTL_OK)
        return rc;
    p = &c->conf->plans[plan];
    stage = (long long)p->warmup.n;
    if (to && ctl_number(to, PM_WARMUP_MAX_STAGES, &stage) < 0)
        return ctl_fail(CTL_USAGE, "warmup skip: bad stage \"%s\" (0 to %d)", to,
                        PM_WARMUP_MAX_STAGES);
    ctl_key(c, sender, "wu", key, sizeof(key));
    snprintf(clock, sizeof(clock), "%s:v1:clock", c->conf->key_prefix);
    snprintf(st, sizeof(st), "%lld", stage);
    snprintf(ttl, sizeof(ttl), "%lld", (c->conf->warmup_dormant_days + 1) * CTL_DAY);
    if (!(r = ctl_cmdv(c, 7, argv)))
        return CTL_ERR;
    freeReplyObject(r);
    if (c->json) {
        fputs("{\"sender\":", stdout);
        out_json_str(stdout, sender);
        fputs(",\"plan\":", stdout);
        out_json_str(stdout, p->name);
        printf(",\"stage\":%lld,\"stages\":%zu,\"day_cap\":%lld}\n", stage, p->warmup.n,
               pm_curve_day_cap(&p->warmup, stage));
    } else if ((size_t)stage >= p->warmup.n) {
        printf("%s: warm-up skipped to its end; plan %s's limits apply\n", sender, p->name);
    } else {
        printf("%s: warm-up at stage %lld of %zu: %lld message%s today\n", sender, stage,
               p->warmup.n, pm_curve_day_cap(&p->warmup, stage),
               out_s(pm_curve_day_cap(&p->warmup, stage)));
    }
    return CTL_OK;
}

/* warmup reset|skip SENDER [--to-stage N] */
int
cmd_warmup(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--to-stage", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX];
    const char *sub = argc > 0 ? argv[0] : "";
    int rc, skip = strcmp(sub, "skip") == 0;

    if (!skip && strcmp(sub, "reset") != 0)
        return ctl_fail(CTL_USAGE, "usage: warmup reset SENDER | warmup skip SENDER "
                                   "[--to-stage N]");
    if ((rc = ctl_getopts("warmup", argc - 1, argv + 1, &o)) != CTL_OK)
        return rc;
    if (o.npos != 1 || (!skip && o.value[0]))
        return ctl_fail(CTL_USAGE, "usage: warmup %s SENDER%s", sub, skip ? " [--to-stage N]" : "");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    return skip ? warmup_skip(c, sender, o.value[0]) : warmup_reset(c, sender);
}
