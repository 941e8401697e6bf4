/*
 * credit.c - postmeterctl credit add|show|revoke: top-ups ("stamps").
 *
 * The store keeps the grants and their movements (policy/grants.lua: the
 * layout, doc/redis-keys.md); adding and revoking happen in one script each,
 * with the store's clock, so the grant, its movement, the trim and the TTLs
 * happen together. The meter script spends credits only once the plan's
 * limit is reached. This file parses the administrator's words and prints.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "zone.h"

#define MAX_AMOUNT 1000000000LL
#define NOTE_MAX 200

/* 1 when a grant still counts at store time now. */
int
ctl_grant_live(const struct pm_grant *g, long long now)
{
    return g->expires == 0 || g->expires > now;
}

/* An expiry as people gave it: "never", "end of 2027-01-31" for a local
 * midnight (a date given to --expires means the end of that day), else
 * "2027-01-31 14:05"; with label, the zone after it (" UTC", " UTC+8"). */
static void
expiry_text(char *buf, size_t len, long long t, int label)
{
    struct tm tm;
    char day[16], zone[16];

    if (t == 0) {
        snprintf(buf, len, "never");
        return;
    }
    pm_zone_tm(t, &tm);
    pm_zone_label(t, zone, sizeof(zone));
    if (tm.tm_hour == 0 && tm.tm_min == 0 && tm.tm_sec == 0) {
        pm_zone_format(t - 1, "%Y-%m-%d", 0, day, sizeof(day));
        snprintf(buf, len, "end of %s%s%s", day, label ? " " : "", label ? zone : "");
        return;
    }
    pm_zone_format(t, "%Y-%m-%d %H:%M", label, buf, len);
}

/* A sender's credits; CTL_OK or CTL_ERR. */
int
ctl_credits(struct ctl *c, const char *sender, struct pm_credits *out)
{
    struct pm_store *st;
    char err[512];
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_credits(st, sender, out, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    return CTL_OK;
}

/* Print grants as a JSON array. */
void
ctl_grants_json(FILE *f, const struct pm_grant *g, size_t n, long long now)
{
    size_t i;

    fputc('[', f);
    for (i = 0; i < n; i++)
        fprintf(f,
                "%s{\"id\":%lld,\"messages_left\":%lld,\"recipients_left\":%lld,"
                "\"messages_granted\":%lld,\"recipients_granted\":%lld,\"expires\":%lld,"
                "\"granted_at\":%lld,\"expired\":%s}",
                i ? "," : "", g[i].id, g[i].msgs, g[i].rcpts, g[i].g_msgs, g[i].g_rcpts,
                g[i].expires, g[i].at, ctl_grant_live(&g[i], now) ? "false" : "true");
    fputc(']', f);
}

/* Print grants as indented lines of text. */
void
ctl_grants_text(FILE *f, const struct pm_grant *g, size_t n, long long now, int indent)
{
    char exp[64], left[48], granted[48];
    size_t i;

    if (n)
        fprintf(f, "%*s%-6s%-14s%-14s%s\n", indent, "", "grant", "left m/r", "granted m/r",
                "expires");
    for (i = 0; i < n; i++) {
        expiry_text(exp, sizeof(exp), g[i].expires, 1);
        snprintf(left, sizeof(left), "%lld/%lld", g[i].msgs, g[i].rcpts);
        snprintf(granted, sizeof(granted), "%lld/%lld", g[i].g_msgs, g[i].g_rcpts);
        fprintf(f, "%*s#%-5lld%-14s%-14s%s%s\n", indent, "", g[i].id, left, granted, exp,
                ctl_grant_live(&g[i], now) ? "" : " (expired)");
    }
}

/* Parse --expires: "never", "<n>s|m|h|d|w" (relative) or "YYYY-MM-DD" (the
 * end of that day in the configured zone). *rel says which; 0 or -1. */
static int
parse_expires(const char *text, int *rel, long long *val)
{
    static const struct {
        char unit;
        long long secs;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char *end, tail;
    int y, mo, d;
    long long n;
    size_t i, len = strlen(text);

    *rel = 1;
    *val = 0;
    if (strcmp(text, "never") == 0)
        return 0;
    if (len == 10 && sscanf(text, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) == 3) {
        if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
            (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))))
            return -1;
        *rel = 0;
        *val = pm_zone_next_midnight(pm_days_from_civil(y, mo, d) * 86400 + 43200 -
                                     pm_zone_offset(pm_days_from_civil(y, mo, d) * 86400));
        return 0;
    }
    if (len < 2 || !isdigit((unsigned char)text[0]))
        return -1;
    n = strtoll(text, &end, 10);
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (end == text + len - 1 && *end == units[i].unit && n > 0 && n <= 3650LL * 86400) {
            *val = n * units[i].secs;
            return *val <= 3650LL * 86400 ? 0 : -1;
        }
    return -1;
}

/* "who: note" with tabs and line breaks turned into spaces. */
static void
make_note(char *buf, size_t len, const char *note)
{
    char *p;

    if (note && *note)
        snprintf(buf, len, "%s: %s", ctl_who(), note);
    else
        snprintf(buf, len, "%s", ctl_who());
    for (p = buf; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
}

/* credit add SENDER N [--recipients N] [--expires WHEN] [--note TEXT] */
static int
credit_add(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--recipients", "--expires", "--note", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX], note[NOTE_MAX + 80], exp[64], err[512];
    struct pm_grant_req g = {0, 0, 1, 0, note};
    struct pm_grant_res res;
    struct pm_store *st;
    int rc;

    if ((rc = ctl_getopts("credit add", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos != 2)
        return ctl_fail(CTL_USAGE, "usage: credit add SENDER N [--recipients N] "
                                   "[--expires 30d|12h|YYYY-MM-DD] [--note TEXT]");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if (ctl_number(o.pos[1], MAX_AMOUNT, &g.msgs) < 0)
        return ctl_fail(CTL_USAGE, "credit add: bad number of messages \"%s\"", o.pos[1]);
    if (o.value[0] && ctl_number(o.value[0], MAX_AMOUNT, &g.rcpts) < 0)
        return ctl_fail(CTL_USAGE, "credit add: bad number of recipients \"%s\"", o.value[0]);
    if (g.msgs == 0 && g.rcpts == 0)
        return ctl_fail(CTL_USAGE, "credit add: nothing to add (0 messages, 0 recipients)");
    if (o.value[1] && parse_expires(o.value[1], &g.relative, &g.expires) < 0)
        return ctl_fail(CTL_USAGE,
                        "credit add: bad expiry \"%s\" (e.g. 30d, 12h, 90m, 2026-12-31, never)",
                        o.value[1]);
    if (o.value[2] && strlen(o.value[2]) > NOTE_MAX)
        return ctl_fail(CTL_USAGE, "credit add: note longer than %d bytes", NOTE_MAX);
    make_note(note, sizeof(note), o.value[2]);
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_credit_add(st, sender, &g, &res, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (res.result == 0) {
        expiry_text(exp, sizeof(exp), res.expires, 1);
        return ctl_fail(CTL_USAGE, "credit add: expiry %s is already past", exp);
    }
    if (res.result < 0)
        return ctl_fail(CTL_ERR,
                        "credit add: %s has %d grants with credits left; revoke some first "
                        "(credit show, credit revoke)",
                        sender, PM_CREDIT_MAX_GRANTS);
    if (c->json) {
        printf("{\"sender\":");
        out_json_str(stdout, sender);
        printf(",\"id\":%lld,\"messages\":%lld,\"recipients\":%lld,\"expires\":%lld,"
               "\"granted_at\":%lld,\"note\":",
               res.result, g.msgs, g.rcpts, res.expires, res.now);
        out_json_str(stdout, note);
        printf("}\n");
    } else {
        expiry_text(exp, sizeof(exp), res.expires, 1);
        printf("granted #%lld to %s: %lld message%s, %lld recipient%s; expires %s\n", res.result,
               sender, g.msgs, out_s(g.msgs), g.rcpts, out_s(g.rcpts), exp);
    }
    return CTL_OK;
}

/* credit revoke SENDER ID */
static int
credit_revoke(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX], note[NOTE_MAX + 80], err[512];
    struct pm_grant_res res;
    struct pm_store *st;
    long long id;
    int rc;

    if ((rc = ctl_getopts("credit revoke", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos != 2)
        return ctl_fail(CTL_USAGE, "usage: credit revoke SENDER ID");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if (ctl_number(o.pos[1][0] == '#' ? o.pos[1] + 1 : o.pos[1], MAX_AMOUNT, &id) < 0)
        return ctl_fail(CTL_USAGE, "credit revoke: bad grant id \"%s\"", o.pos[1]);
    snprintf(note, sizeof(note), "%s: revoked grant %lld", ctl_who(), id);
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_credit_revoke(st, sender, id, note, &res, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (res.result == 0)
        return ctl_fail(CTL_NOTFOUND, "credit revoke: %s has no grant #%lld", sender, id);
    if (c->json) {
        printf("{\"sender\":");
        out_json_str(stdout, sender);
        printf(",\"id\":%lld,\"revoked\":true,\"messages_left\":%lld,\"recipients_left\":%lld}\n",
               id, res.msgs, res.rcpts);
    } else {
        printf("revoked grant #%lld of %s (%lld message%s, %lld recipient%s were left)\n", id,
               sender, res.msgs, out_s(res.msgs), res.rcpts, out_s(res.rcpts));
    }
    return CTL_OK;
}

/* Print the movements log. */
static void
movements_print(const struct ctl *c, const struct pm_credits *cr)
{
    const struct pm_credit_move *mv;
    char t[64], exp[64], zone[16];
    size_t i;

    if (c->json)
        fputs(",\"log\":[", stdout);
    else if (cr->n_move) {
        pm_zone_label((long long)time(NULL), zone, sizeof(zone));
        printf("movements (newest first, %s)\n", zone);
    }
    for (i = 0; i < cr->n_move; i++) {
        mv = &cr->move[i];
        if (c->json) {
            printf("%s{\"time\":%lld,\"event\":", i ? "," : "", mv->time);
            out_json_str(stdout, mv->event);
            printf(",\"messages\":%lld,\"recipients\":%lld,\"expires\":%lld,\"note\":", mv->msgs,
                   mv->rcpts, mv->expires);
            out_json_str(stdout, mv->note);
            fputs("}", stdout);
            continue;
        }
        out_time(t, sizeof(t), mv->time);
        t[16] = '\0'; /* "YYYY-MM-DD HH:MM": the heading names the zone */
        printf("  %s  %-6s  %4lld msgs  %4lld rcpts", t, mv->event, mv->msgs, mv->rcpts);
        if (strcmp(mv->event, "grant") == 0) {
            expiry_text(exp, sizeof(exp), mv->expires, 0);
            printf("  expires %s", exp);
        }
        printf("\n");
        if (*mv->note)
            out_wrap(stdout, mv->note, 20);
    }
    if (c->json)
        fputs("]", stdout);
}

/* credit show SENDER */
static int
credit_show(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX];
    struct pm_credits cr;
    long long now, m = 0, r = 0;
    size_t i;
    int rc;

    if ((rc = ctl_getopts("credit show", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos != 1)
        return ctl_fail(CTL_USAGE, "usage: credit show SENDER");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if ((rc = ctl_now(c, &now)) || (rc = ctl_credits(c, sender, &cr)))
        return rc;
    if (cr.n_grant == 0 && cr.n_move == 0) {
        pm_credits_free(&cr);
        return ctl_fail(CTL_NOTFOUND, "credit show: %s has no credits and no credit history",
                        sender);
    }
    for (i = 0; i < cr.n_grant; i++)
        if (ctl_grant_live(&cr.grant[i], now))
            m += cr.grant[i].msgs, r += cr.grant[i].rcpts;
    if (c->json) {
        fputs("{\"sender\":", stdout);
        out_json_str(stdout, sender);
        printf(",\"now\":%lld,\"messages\":%lld,\"recipients\":%lld,\"grants\":", now, m, r);
        ctl_grants_json(stdout, cr.grant, cr.n_grant, now);
    } else {
        printf("credits of %s: %lld message%s, %lld recipient%s left\n", sender, m, out_s(m), r,
               out_s(r));
        ctl_grants_text(stdout, cr.grant, cr.n_grant, now, 2);
    }
    movements_print(c, &cr);
    if (c->json)
        fputs("}\n", stdout);
    pm_credits_free(&cr);
    return CTL_OK;
}

/* credit add|show|revoke ... */
int
cmd_credit(struct ctl *c, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "add") == 0)
        return credit_add(c, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "show") == 0)
        return credit_show(c, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "revoke") == 0)
        return credit_revoke(c, argc - 1, argv + 1);
    return ctl_fail(CTL_USAGE, "usage: credit add|show|revoke SENDER ...");
}
