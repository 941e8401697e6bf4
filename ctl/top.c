/*
 * top.c - postmeterctl top [--by day|hour|bounces|replies] [-n N]: the busiest senders.
 *
 * Candidates come from the daily top index (sorted sets of the senders
 * counted per UTC day; today's and yesterday's cover the rolling 24 hours);
 * every candidate is then probed exactly, as the milter would, and the list
 * is ordered by the chosen window's message count, or by hard
 * bounces over 7 days (among the senders of the last 7 days' index, the
 * days reputation counts), or by reply rate over 30 days, lowest first (the
 * first-contact recipients that replied, of the senders of the last 7 days'
 * index with a first contact in 30 days).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "plan.h"
#include "verdict.h"

#define TOP_MAX 1000
#define SENDER_COLS 34
#define REP_DAYS 7 /* the UTC days reputation counts (meter.lua) */

/* One candidate sender. */
struct top_row {
    char sender[PM_ADDR_MAX];
    struct pm_meter_res res;
    int plan;
};

#define BY_BOUNCES -1
#define BY_REPLIES -2

static int top_counter; /* the counter by_used orders by; BY_BOUNCES, BY_REPLIES */

/* What a row is ranked by: the chosen window's messages, hard bounces, or
 * (replies) its first contacts of 30 days; 0 leaves it out. */
static long long
row_value(const struct top_row *r)
{
    return top_counter == BY_BOUNCES   ? r->res.rep.hard
           : top_counter == BY_REPLIES ? r->res.rep.first
                                       : r->res.used[0][top_counter];
}

/* A row's reply rate, ppm. */
static long long
row_reply_ppm(const struct top_row *r)
{
    return r->res.rep.first > 0 ? r->res.rep.replied * 1000000 / r->res.rep.first : 0;
}

/* Order by the exact count of the chosen window, highest first, then name;
 * by replies: the lowest reply rate first, then the most first contacts. */
static int
by_used(const void *a, const void *b)
{
    const struct top_row *x = a, *y = b;
    long long u = row_value(x), v = row_value(y);

    if (top_counter == BY_REPLIES && (x->res.rep.first == 0) == (y->res.rep.first == 0)) {
        long long pu = row_reply_ppm(x), pv = row_reply_ppm(y);

        if (pu != pv)
            return (pu > pv) - (pu < pv);
    } else if (top_counter == BY_REPLIES) {
        return x->res.rep.first == 0 ? 1 : -1; /* those without any last */
    }
    return u != v ? (u < v) - (u > v) : strcmp(x->sender, y->sender);
}

/* The rows read so far. */
struct top_read {
    struct top_row *rows;
    size_t n;
    int oom;
};

/* Append one sender of the top index (pm_store_top callback); 0 to go on. */
static int
top_add(void *arg, const char *sender)
{
    struct top_read *t = arg;
    struct top_row *grown;

    if (strlen(sender) >= PM_ADDR_MAX)
        return 0;
    if (!(grown = realloc(t->rows, (t->n + 1) * sizeof(*t->rows)))) {
        t->oom = 1;
        return 1;
    }
    t->rows = grown;
    memset(&grown[t->n], 0, sizeof(grown[t->n]));
    snprintf(grown[t->n].sender, sizeof(grown[t->n].sender), "%s", sender);
    t->n++;
    return 0;
}

/* The limit of a plan for the chosen counter (none for bounces). */
static long long
plan_limit(const struct pm_plan *p, int counter)
{
    return counter < 0 ? 0 : counter == PM_C_MSGS_HOUR ? p->lim.msgs_hour : p->lim.msgs_day;
}

/* Print the list. */
static void
top_print(const struct ctl *c, const struct top_row *rows, size_t n, const char *by, long long now)
{
    char ratio[64], rate[32];
    size_t i;

    if (c->json) {
        printf("{\"by\":\"%s\",\"now\":%lld,\"senders\":[", by, now);
        for (i = 0; i < n; i++) {
            const struct pm_plan *p = &c->conf->plans[rows[i].plan];

            printf("%s{\"rank\":%zu,\"sender\":", i ? "," : "", i + 1);
            out_json_str(stdout, rows[i].sender);
            fputs(",\"plan\":", stdout);
            out_json_str(stdout, p->name);
            printf(",\"used\":%lld,\"limit\":%lld,\"messages_per_hour\":%lld,"
                   "\"messages_per_day\":%lld,\"sent_7d\":%lld,\"hard_bounces_7d\":%lld,"
                   "\"bounce_ppm\":%lld,\"first_contacts_30d\":%lld,"
                   "\"first_contacts_replied\":%lld,\"reply_ppm\":%lld,\"reply_brake\":%s}",
                   row_value(&rows[i]), plan_limit(p, top_counter),
                   rows[i].res.used[0][PM_C_MSGS_HOUR], rows[i].res.used[0][PM_C_MSGS_DAY],
                   rows[i].res.rep.sent, rows[i].res.rep.hard, rows[i].res.rep.ppm,
                   rows[i].res.rep.first, rows[i].res.rep.replied, row_reply_ppm(&rows[i]),
                   rows[i].res.rep.reply_brake ? "true" : "false");
        }
        printf("]}\n");
        return;
    }
    if (top_counter == BY_REPLIES)
        printf("senders with the lowest reply rate of first contacts in 30 days (of those "
               "sending lately)\n");
    else if (top_counter < 0)
        printf("senders with the most hard bounces in 7 days (of those sending lately)\n");
    else
        printf("busiest senders by messages in the last %s\n",
               top_counter == PM_C_MSGS_HOUR ? "hour" : "24 hours");
    if (n == 0) {
        printf("  (none)\n");
        return;
    }
    for (i = 0; i < n; i++) {
        const struct pm_plan *p = &c->conf->plans[rows[i].plan];
        size_t len = strlen(rows[i].sender);

        if (len > SENDER_COLS)
            printf("%3zu  %.*s~", i + 1, SENDER_COLS - 1, rows[i].sender);
        else
            printf("%3zu  %-*s", i + 1, SENDER_COLS, rows[i].sender);
        if (top_counter == BY_REPLIES) {
            snprintf(ratio, sizeof(ratio), "%lld/%lld", rows[i].res.rep.replied,
                     rows[i].res.rep.first);
            pm_verdict_format_rate(row_reply_ppm(&rows[i]), rate, sizeof(rate));
            printf(" %-13s %6s %%  %.12s%s\n", ratio, rate, p->name,
                   rows[i].res.rep.reply_brake ? "  halved" : "");
            continue;
        }
        if (top_counter < 0) {
            snprintf(ratio, sizeof(ratio), "%lld/%lld", rows[i].res.rep.hard, rows[i].res.rep.sent);
            pm_verdict_format_rate(rows[i].res.rep.ppm, rate, sizeof(rate));
            printf(" %-13s %6s %%  %.12s\n", ratio, rate, p->name);
            continue;
        }
        out_ratio(ratio, sizeof(ratio), row_value(&rows[i]), plan_limit(p, top_counter));
        printf(" ");
        out_bar(stdout, row_value(&rows[i]), plan_limit(p, top_counter), 10);
        printf(" %-12s %.12s\n", ratio, p->name);
    }
}

/* top [--by day|hour|bounces|replies] [-n N] */
int
cmd_top(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--by", "-n", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    struct top_read t = {NULL, 0, 0};
    struct top_row *rows;
    struct pm_store *st;
    size_t i, probe;
    long long now, want = 10;
    const char *by = "day";
    char err[512];
    int rc;

    if ((rc = ctl_getopts("top", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos)
        return ctl_fail(CTL_USAGE, "usage: top [--by day|hour|bounces|replies] [-n N]");
    if (o.value[0])
        by = o.value[0];
    if (strcmp(by, "day") != 0 && strcmp(by, "hour") != 0 && strcmp(by, "bounces") != 0 &&
        strcmp(by, "replies") != 0)
        return ctl_fail(CTL_USAGE, "top: --by takes day, hour, bounces or replies, not \"%s\"", by);
    top_counter = strcmp(by, "hour") == 0      ? PM_C_MSGS_HOUR
                  : strcmp(by, "day") == 0     ? PM_C_MSGS_DAY
                  : strcmp(by, "replies") == 0 ? BY_REPLIES
                                               : BY_BOUNCES;
    if (o.value[1] && (ctl_number(o.value[1], TOP_MAX, &want) < 0 || want < 1))
        return ctl_fail(CTL_USAGE, "top: bad count \"%s\" (1 to %d)", o.value[1], TOP_MAX);
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    /* today and yesterday cover the rolling 24 hours; bounces, the 7 days */
    if ((rc = pm_store_top(st, top_counter < 0 ? REP_DAYS : 2, 0, top_add, &t, &now, err,
                           sizeof(err))) < 0 ||
        t.oom) {
        free(t.rows);
        return t.oom ? ctl_fail(CTL_ERR, "out of memory") : ctl_store_fail(rc, err);
    }
    /* the index counts by calendar day, the windows roll: probe every
     * candidate (each once) then order by the exact counts */
    rows = t.rows;
    probe = t.n;
    for (i = 0; i < probe; i++) {
        if ((rc = ctl_probe(c, rows[i].sender, 0, 0, 0, &rows[i].res)) != CTL_OK) {
            free(rows);
            return rc;
        }
        rows[i].plan = rows[i].res.plan >= 0 && (size_t)rows[i].res.plan < c->conf->n_plans
                           ? rows[i].res.plan
                           : pm_plan_for_sender(c->conf, rows[i].sender, rows[i].sender);
    }
    if (probe)
        qsort(rows, probe, sizeof(*rows), by_used);
    while (probe > 0 && row_value(&rows[probe - 1]) == 0)
        probe--; /* nothing in this window */
    top_print(c, rows, probe < (size_t)want ? probe : (size_t)want, by, now);
    free(rows);
    return CTL_OK;
}
