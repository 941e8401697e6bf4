/*
 * status.c - postmeterctl status [SENDER]: where the installation and one
 * sender stand.
 *
 * Without a sender: the learning mode (learning.days), read from the store
 * without recording anything: since when, and when limits are enforced.
 * With a sender, that mode when it is on, and:
 * Two probes of the store, as the milter makes them and counting nothing:
 * one for a message of nothing (the usage of every window and the warm-up
 * state), one for a message to one external recipient (can the sender send
 * now, and if not when). Then the plan and where it comes from, the credit
 * grants, first contacts and reputation; and a line when a server has the
 * no-connection alarm (servers.c), whose mail these figures miss.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "learning.h"
#include "plan.h"
#include "verdict.h"
#include "zone.h"

#define BAR_WIDTH 20

/* What status gathers about one sender. */
struct status {
    char sender[PM_ADDR_MAX];
    struct ctl_plan p;        /* the plan, where it comes from, the override */
    int plan, dplan;          /* the plan the store applied; the domain's, or -1 */
    struct pm_meter_res use;  /* probe of nothing: usage and warm-up */
    struct pm_meter_res next; /* probe of one message to one external recipient */
    struct pm_meter_res cold; /* the same to a first-contact recipient */
    struct pm_credits cr;
    long long credit_msgs, credit_rcpts;
    struct pm_learning learn; /* the installation's learning mode */
    size_t alarms;            /* servers with the no-connection alarm (servers.c) */
    char alarm[400];          /* the first one's text */
};

/* The name of a learning state, as --json shows it. */
static const char *
learn_state_name(enum pm_learning_state s)
{
    static const char *const names[] = {"off", "not_started", "on", "over"};

    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* The learning mode as a JSON object. */
static void
learning_json(const struct ctl *c, const struct pm_learning *l)
{
    printf("{\"days\":%d,\"state\":\"%s\",\"start\":%lld,\"until\":%lld}", c->conf->learning_days,
           learn_state_name(l->state), l->start, l->until);
}

/* Read the learning mode from the store (recording nothing); CTL_OK or CTL_ERR. */
static int
learning_of(struct ctl *c, struct pm_learning *l)
{
    struct pm_store *st;
    char err[512];
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_learning_read(c->conf, st, 0, l, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    return CTL_OK;
}

/* status without a sender: the installation's learning mode. */
static int
status_learning(struct ctl *c)
{
    struct pm_learning l;
    char text[512];
    int rc;

    if ((rc = learning_of(c, &l)) != CTL_OK)
        return rc;
    if (c->json) {
        fputs("{\"learning\":", stdout);
        learning_json(c, &l);
        fputs("}\n", stdout);
        return CTL_OK;
    }
    pm_learning_describe(c->conf, &l, text, sizeof(text));
    printf("%s\n", text);
    return CTL_OK;
}

/* The limits of a plan in counter order; halved (at least 1) when the
 * sender's reputation says so, as the meter script does. */
static void
plan_limits(const struct pm_plan *p, int halve, long long lim[PM_C_COUNT])
{
    pm_plan_counter_limits(&p->lim, lim);
    if (halve)
        pm_plan_halve(lim);
}

/* The reply rate: first contacts that replied per first contact, ppm (0: none mailed). */
static long long
reply_ppm(const struct pm_reputation *r)
{
    return r->first > 0 ? r->replied * 1000000 / r->first : 0;
}

/* The sender's limits in force: the plan's, halved by the bounce rate, the
 * new-recipient limit halved again by the reply-rate brake (as the script). */
static void
sender_limits(const struct pm_plan *p, const struct pm_reputation *r, long long lim[PM_C_COUNT])
{
    plan_limits(p, r->level >= 2, lim);
    if (r->reply_brake && lim[PM_C_NEW_DAY] > 0)
        lim[PM_C_NEW_DAY] = lim[PM_C_NEW_DAY] / 2 > 0 ? lim[PM_C_NEW_DAY] / 2 : 1;
}

/* The name of a reputation level. */
static const char *
rep_level_name(int level)
{
    static const char *const names[] = {"fine", "warn", "halved", "no_first_contact", "stopped"};

    return level >= 0 && level <= 4 ? names[level] : "?";
}

/* The name of what blocks the next message ("messages_per_day", "warmup_day"). */
static const char *
over_name(enum pm_counter c)
{
    if (c == PM_C_WARMUP_DAY)
        return "warmup_day";
    if (c == PM_C_WARMUP_HOUR)
        return "warmup_hour";
    if (c == PM_C_REP_COLD)
        return "reputation_first_contact";
    if (c == PM_C_REP_STOP)
        return "reputation_stop";
    return pm_counter_name(c);
}

/* Human label of a counter. */
static const char *
counter_label(enum pm_counter c)
{
    static const char *const label[PM_C_COUNT] = {
        "messages per hour",    "messages per day",       "recipients per hour",
        "recipients per day",   "new recipients per day", "internal msgs per hour",
        "internal msgs per day"};

    return label[c];
}

/* The unit of a limit of n for counter c (or a warm-up cap): "messages per
 * hour", "message per hour" for 1. */
static const char *
limit_unit(enum pm_counter c, long long n)
{
    static const char *const one[PM_C_COUNT] = {"message per hour",      "message per day",
                                                "recipient per hour",    "recipient per day",
                                                "new recipient per day", "internal msg per hour",
                                                "internal msg per day"};

    if (c == PM_C_WARMUP_DAY)
        return n == 1 ? "message today" : "messages today";
    if (c == PM_C_WARMUP_HOUR)
        return n == 1 ? "message per hour" : "messages per hour";
    return n == 1 ? one[c] : counter_label(c);
}

/* Usage of one scope as a JSON object. */
static void
usage_json(const struct pm_meter_res *r, enum pm_scope s, const long long lim[PM_C_COUNT])
{
    int i;

    fputs("{", stdout);
    for (i = 0; i < PM_C_COUNT; i++)
        printf("%s\"%s\":{\"used\":%lld,\"limit\":%lld}", i ? "," : "",
               pm_counter_name((enum pm_counter)i), r->used[s][i], lim[i]);
    fputs("}", stdout);
}

/* Usage of one scope as bars. */
static void
usage_text(const struct pm_meter_res *r, enum pm_scope s, const long long lim[PM_C_COUNT])
{
    char ratio[64];
    int i;

    for (i = 0; i < PM_C_COUNT; i++) {
        /* mail to colleagues: shown when there is some, or a limit */
        if (i >= PM_C_INT_HOUR && !r->used[s][i] && !lim[i])
            continue;
        out_ratio(ratio, sizeof(ratio), r->used[s][i], lim[i]);
        printf("    %-24s", counter_label((enum pm_counter)i));
        out_bar(stdout, r->used[s][i], lim[i], BAR_WIDTH);
        printf("  %s\n", ratio);
    }
}

/* The warm-up state word of scope s under plan p: warming_up, over or none. */
static const char *
warmup_state(const struct status *st, enum pm_scope s, const struct pm_plan *p)
{
    if (p->warmup.n == 0)
        return "none";
    return st->use.warmup[s].active ? "warming_up" : "over";
}

/* The warm-up of scope s under plan p as a JSON object. */
static void
warmup_json(const struct status *st, enum pm_scope s, const struct pm_plan *p)
{
    const struct pm_warmup_res *w = &st->use.warmup[s];
    size_t i;

    printf("{\"state\":\"%s\",\"stage\":%lld,\"stages\":%zu,\"day_cap\":%lld,"
           "\"hour_cap\":%lld,\"today\":%lld,\"bounce_ppm\":%lld,\"curve\":[",
           warmup_state(st, s, p), w->stage, p->warmup.n, w->day_cap, w->hour_cap, w->today,
           w->bounce_ppm);
    for (i = 0; i < p->warmup.n; i++)
        printf("%s%lld", i ? "," : "", p->warmup.cap[i]);
    fputs("]}", stdout);
}

/* "can_send":...,"retry_at":... of probe r (JSON members, no braces). */
static void
next_json(const struct pm_meter_res *r)
{
    printf("\"can_send\":%s,\"spends_credits\":%s,\"blocked_by\":", r->fits ? "true" : "false",
           r->credits_spent[0] || r->credits_spent[1] ? "true" : "false");
    if (r->fits)
        fputs("null,\"blocked_scope\":null,\"blocked_limit\":null,\"retry_at\":null", stdout);
    else
        printf("\"%s\",\"blocked_scope\":\"%s\",\"blocked_limit\":%lld,\"retry_at\":%lld",
               over_name(r->over_counter), r->over_scope == PM_SCOPE_DOMAIN ? "domain" : "sender",
               r->over_limit, r->retry_at);
}

/* The whole status as one JSON object. */
static void
status_json(const struct ctl *c, const struct status *st)
{
    const struct pm_plan *p = &c->conf->plans[st->plan];
    long long lim[PM_C_COUNT];

    fputs("{\"sender\":", stdout);
    out_json_str(stdout, st->sender);
    fputs(",\"plan\":", stdout);
    out_json_str(stdout, p->name);
    fputs(",\"plan_from\":", stdout);
    out_json_str(stdout, st->p.from);
    printf(",\"plan_rule_line\":%d,\"override_unknown_to_a_daemon\":%s,\"override\":", st->p.line,
           st->p.unknown ? "true" : "false");
    if (st->p.ovr.plan[0])
        out_json_str(stdout, st->p.ovr.plan);
    else
        fputs("null", stdout);
    printf(",\"now\":%lld,\"usage\":", st->use.now);
    sender_limits(p, &st->use.rep, lim);
    usage_json(&st->use, PM_SCOPE_SENDER, lim);
    fputs(",\"domain\":", stdout);
    if (st->dplan >= 0) {
        fputs("{\"domain\":", stdout);
        out_json_str(stdout, pm_addr_domain(st->sender));
        fputs(",\"plan\":", stdout);
        out_json_str(stdout, c->conf->plans[st->dplan].name);
        fputs(",\"usage\":", stdout);
        plan_limits(&c->conf->plans[st->dplan], 0, lim);
        usage_json(&st->use, PM_SCOPE_DOMAIN, lim);
        fputs(",\"warmup\":", stdout);
        warmup_json(st, PM_SCOPE_DOMAIN, &c->conf->plans[st->dplan]);
        fputs("}", stdout);
    } else {
        fputs("null", stdout);
    }
    fputs(",", stdout);
    next_json(&st->next);
    fputs(",\"first_contact\":{", stdout);
    next_json(&st->cold);
    fputs("}", stdout);
    fputs(",\"warmup\":", stdout);
    warmup_json(st, PM_SCOPE_SENDER, p);
    printf(",\"credits\":{\"messages\":%lld,\"recipients\":%lld,\"grants\":", st->credit_msgs,
           st->credit_rcpts);
    ctl_grants_json(stdout, st->cr.grant, st->cr.n_grant, st->use.now);
    fputs("},\"learning\":", stdout);
    learning_json(c, &st->learn);
    printf(",\"first_contacts\":%lld,\"reputation\":{\"sent\":%lld,\"hard_bounces\":%lld,"
           "\"blocks\":%lld,\"replies\":%lld,\"bounce_ppm\":%lld,\"level\":%d,"
           "\"level_name\":\"%s\",\"first_contacts_30d\":%lld,\"first_contacts_replied\":%lld,"
           "\"reply_ppm\":%lld,\"reply_brake\":%s},\"servers_alarmed\":%zu}\n",
           st->use.used[0][PM_C_NEW_DAY], st->use.rep.sent, st->use.rep.hard, st->use.rep.blocks,
           st->use.rep.replies, st->use.rep.ppm, st->use.rep.level,
           rep_level_name(st->use.rep.level), st->use.rep.first, st->use.rep.replied,
           reply_ppm(&st->use.rep), st->use.rep.reply_brake ? "true" : "false", st->alarms);
}

/* The "next message" line (label: "next message", "first contact") for probe r. */
static void
next_text(const char *label, const struct pm_meter_res *r)
{
    char when[64], rate[32];

    if (r->fits) {
        printf("  %-13s can be sent now%s\n", label,
               r->credits_spent[0] || r->credits_spent[1] ? ", spending credits" : "");
        return;
    }
    if (r->over_counter == PM_C_REP_COLD || r->over_counter == PM_C_REP_STOP) {
        pm_verdict_format_rate(r->rep.ppm, rate, sizeof(rate));
        printf("  %-13s refused: a bounce rate of %s %% stops %s\n", label, rate,
               r->over_counter == PM_C_REP_STOP ? "all external mail" : "first-contact mail");
        return;
    }
    printf("  %-13s held back by the %s%s of %lld %s\n", label,
           r->over_scope == PM_SCOPE_DOMAIN ? "company-wide " : "",
           r->over_counter >= PM_C_WARMUP_DAY ? "warm-up cap" : "limit", r->over_limit,
           limit_unit(r->over_counter, r->over_limit));
    if (r->retry_at < 0) {
        printf("                (one message is larger than that limit)\n");
    } else {
        pm_verdict_format_retry(r->now, r->retry_at, when, sizeof(when));
        printf("                next slot at %s\n", when);
    }
}

/* The warm-up lines of scope s under plan p; lead is the label column
 * ("  warm-up       " for the sender, indented under the company-wide block
 * for the domain). */
static void
warmup_text(const struct status *st, enum pm_scope s, const struct pm_plan *p, const char *lead)
{
    const struct pm_warmup_res *w = &st->use.warmup[s];

    if (p->warmup.n == 0) {
        printf("%snot warming up (plan %s has no curve)\n", lead, p->name);
        return;
    }
    if (!w->active) {
        printf("%swarm-up over (after %zu stage%s)\n", lead, p->warmup.n,
               out_s((long long)p->warmup.n));
        return;
    }
    printf("%sstage %lld (day %lld of %zu): %lld today, %lld an hour; %lld sent today\n", lead,
           w->stage, w->stage + 1, p->warmup.n, w->day_cap, w->hour_cap, w->today);
    out_curve_chart(stdout, p->warmup.cap, p->warmup.n, w->stage, 16);
}

/* The reputation lines; want_ppm: reputation.min_reply_rate (0: no brake). */
static void
reputation_text(const struct pm_reputation *r, long long want_ppm)
{
    static const char *const what[] = {"fine", "warning", "limits halved, warm-up held",
                                       "first-contact mail refused", "external mail refused"};
    char rate[32];

    pm_verdict_format_rate(r->ppm, rate, sizeof(rate));
    printf("  reputation    7 days: %lld sent, %lld hard bounce%s (%s %%), %lld block%s, "
           "%lld repl%s\n",
           r->sent, r->hard, out_s(r->hard), rate, r->blocks, out_s(r->blocks), r->replies,
           r->replies == 1 ? "y" : "ies");
    if (r->level > 0 && r->level <= 4)
        printf("                level %d: %s\n", r->level, what[r->level]);
    pm_verdict_format_rate(reply_ppm(r), rate, sizeof(rate));
    printf("  reply rate    30 days: %lld of %lld first contact%s replied (%s %%)\n", r->replied,
           r->first, out_s(r->first), rate);
    if (r->reply_brake) {
        pm_verdict_format_rate(want_ppm, rate, sizeof(rate));
        printf("                first-contact limit halved: at least %s %% wanted\n", rate);
    }
}

/* The whole status as text. */
static void
status_text(const struct ctl *c, const struct status *st)
{
    const struct pm_plan *p = &c->conf->plans[st->plan];
    long long lim[PM_C_COUNT];

    printf("%s\n", st->sender);
    if (st->p.line)
        printf("  plan          %s (config rule, line %d)\n", p->name, st->p.line);
    else
        printf("  plan          %s (%s)\n", p->name,
               strcmp(st->p.from, "default") == 0 ? "default plan" : st->p.from);
    if (st->p.ovr.plan[0] && strcmp(st->p.from, "override") != 0)
        printf("                override \"%s\" names no plan of the configuration: ignored\n",
               st->p.ovr.plan);
    else if (st->p.unknown)
        printf("                a running postmeter does not know plan \"%s\" yet and applies "
               "its configured plan: reload it\n",
               st->p.ovr.plan);
    if (st->learn.state == PM_LEARN_ON) {
        char until[64];

        pm_zone_format(st->learn.until, "%Y-%m-%d %H:%M", 1, until, sizeof(until));
        printf("  mode          learning until %s: nothing is refused\n", until);
    } else if (st->learn.state == PM_LEARN_NOT_STARTED) {
        printf("  mode          learning for %d days from the first start of postmeter\n",
               c->conf->learning_days);
    }
    printf("  usage%s%s\n", st->use.rep.level >= 2 ? " (limits halved: bounce rate)" : "",
           st->use.rep.reply_brake ? " (first-contact limit halved: reply rate)" : "");
    sender_limits(p, &st->use.rep, lim);
    usage_text(&st->use, PM_SCOPE_SENDER, lim);
    if (st->dplan >= 0) {
        printf("  company-wide  %s, plan %s\n", pm_addr_domain(st->sender),
               c->conf->plans[st->dplan].name);
        plan_limits(&c->conf->plans[st->dplan], 0, lim);
        usage_text(&st->use, PM_SCOPE_DOMAIN, lim);
        if (c->conf->plans[st->dplan].warmup.n)
            warmup_text(st, PM_SCOPE_DOMAIN, &c->conf->plans[st->dplan],
                        "    warm-up                 ");
    }
    next_text("next message", &st->next);
    /* to a first contact, when that differs (new-recipient cap, bounce rate) */
    if (st->next.fits && !st->cold.fits)
        next_text("first contact", &st->cold);
    warmup_text(st, PM_SCOPE_SENDER, p, "  warm-up       ");
    if (st->cr.n_grant == 0)
        printf("  credits       none\n");
    else
        printf("  credits       %lld message%s, %lld recipient%s left\n", st->credit_msgs,
               out_s(st->credit_msgs), st->credit_rcpts, out_s(st->credit_rcpts));
    ctl_grants_text(stdout, st->cr.grant, st->cr.n_grant, st->use.now, 16);
    printf("  new contacts  %lld first-contact recipient%s in the last 24 hours\n",
           st->use.used[0][PM_C_NEW_DAY], out_s(st->use.used[0][PM_C_NEW_DAY]));
    reputation_text(&st->use.rep, llround(c->conf->rep_min_reply_rate * 1e6));
    /* mail that never reaches postmeter is not in these figures */
    if (st->alarms)
        printf("  servers       %s%s (postmeterctl servers)\n", st->alarm,
               st->alarms > 1 ? ", and more" : "");
}

/* status SENDER */
int
cmd_status(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    struct status st;
    size_t i;
    int rc;

    if ((rc = ctl_getopts("status", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos == 0)
        return status_learning(c);
    if (o.npos != 1)
        return ctl_fail(CTL_USAGE, "usage: status [SENDER]");
    memset(&st, 0, sizeof(st));
    if ((rc = ctl_sender(o.pos[0], st.sender, sizeof(st.sender))) != CTL_OK)
        return rc;
    if ((rc = ctl_plan_of(c, st.sender, &st.p)) ||
        (rc = ctl_probe(c, st.sender, 0, 0, 0, &st.use)) ||
        (rc = ctl_probe(c, st.sender, 1, 1, 0, &st.next)) ||
        (rc = ctl_probe(c, st.sender, 1, 1, 1, &st.cold)) ||
        (rc = ctl_credits(c, st.sender, &st.cr)) || (rc = learning_of(c, &st.learn)))
        return rc;
    st.plan = st.p.plan;
    if (st.use.plan >= 0 && (size_t)st.use.plan < c->conf->n_plans)
        st.plan = st.use.plan; /* what the store applied */
    st.dplan = pm_plan_for_domain(c->conf, pm_addr_domain(st.sender));
    st.alarms = ctl_servers_alarmed(c, st.alarm, sizeof(st.alarm));
    for (i = 0; i < st.cr.n_grant; i++)
        if (ctl_grant_live(&st.cr.grant[i], st.use.now)) {
            st.credit_msgs += st.cr.grant[i].msgs;
            st.credit_rcpts += st.cr.grant[i].rcpts;
        }
    if (c->json)
        status_json(c, &st);
    else
        status_text(c, &st);
    pm_credits_free(&st.cr);
    return CTL_OK;
}
