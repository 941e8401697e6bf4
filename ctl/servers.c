/*
 * servers.c - postmeterctl servers: every postmeter sharing this Redis, from
 * the heartbeats the daemons write about once a minute (milter/watcher.c):
 * when each started, its last milter connection, whether Postfix's master
 * runs beside it, and the no-connection alarm ("Postfix cannot reach the
 * socket"). status SENDER adds one line when a server has that alarm.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "watch.h"

#define SILENT_AFTER (PM_SERVER_BEAT * 5 / 2) /* a heartbeat this old: stopped, or cut off */

/* The servers read, latest heartbeat first. */
struct server_list {
    struct pm_server *s;
    size_t n, cap;
};

/* Keep a copy of one server; 0 to go on, 1 when memory ran out. */
static int
collect(void *arg, const struct pm_server *s)
{
    struct server_list *l = arg;
    struct pm_server *grown;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        if (!(grown = realloc(l->s, l->cap * sizeof(*grown))))
            return 1;
        l->s = grown;
    }
    l->s[l->n++] = *s;
    return 0;
}

/* Read the servers; CTL_OK or CTL_ERR (printed). */
static int
read_servers(struct ctl *c, struct server_list *l, long long *now)
{
    struct pm_store *st;
    char err[512];
    int rc;

    memset(l, 0, sizeof(*l));
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_servers(st, collect, l, now, err, sizeof(err))) < 0) {
        free(l->s);
        return ctl_store_fail(rc, err);
    }
    return CTL_OK;
}

/* Seconds without a connection while Postfix runs, as of now (-1: not running). */
static long long
quiet_of(const struct pm_server *s, long long now)
{
    return s->quiet_since > 0 ? (now > s->quiet_since ? now - s->quiet_since : 0) : -1;
}

/* "no connection from Postfix for 25 min while Postfix runs" into buf. */
static void
alarm_text(const struct pm_server *s, long long now, char *buf, size_t len)
{
    char d[32];

    if (quiet_of(s, now) >= 0) {
        pm_watch_duration(quiet_of(s, now), d, sizeof(d));
        snprintf(buf, len, "no connection from Postfix for %s while Postfix runs", d);
    } else {
        pm_watch_duration(now - s->alarm_at + s->idle_alarm, d, sizeof(d));
        snprintf(buf, len, "no connection from Postfix for %s; Postfix's master is %s now", d,
                 pm_watch_postfix_name((enum pm_postfix)s->postfix));
    }
}

/* "2026-12-06 14:05 UTC (3 min ago)" into buf. */
static void
when_text(long long t, long long now, char *buf, size_t len)
{
    char at[64], ago[32];

    out_time(at, sizeof(at), t);
    pm_watch_duration(now - t, ago, sizeof(ago));
    snprintf(buf, len, "%s (%s ago)", at, ago);
}

/* One server as lines of text. */
static void
server_text(const struct pm_server *s, long long now)
{
    char a[160], b[160];

    printf("%s  %s\n", s->host, s->socket);
    when_text(s->started, now, a, sizeof(a));
    printf("  postmeter      %s, pid %lld, started %s\n", s->version, s->pid, a);
    when_text(s->beat, now, a, sizeof(a));
    printf("  heartbeat      %s%s\n", a,
           now - s->beat > SILENT_AFTER ? ": stopped, or cannot reach Redis" : "");
    if (s->last_conn > 0) {
        when_text(s->last_conn, now, a, sizeof(a));
        printf("  connections    %lld since start, the last %s\n", s->conns, a);
    } else {
        printf("  connections    none since start\n");
    }
    if (s->postfix == PM_POSTFIX_RUNNING)
        printf("  postfix        running (master pid %lld)\n", s->postfix_pid);
    else
        printf("  postfix        %s\n", pm_watch_postfix_name((enum pm_postfix)s->postfix));
    if (s->alarm) {
        alarm_text(s, now, a, sizeof(a));
        out_time(b, sizeof(b), s->alarm_at);
        printf("  alarm          %s\n", a);
        printf("                 (raised %s; see postmeter's log)\n", b);
    } else if (s->idle_alarm > 0) {
        pm_watch_duration(s->idle_alarm, a, sizeof(a));
        printf("  alarm          none (it comes after %s without a connection while\n"
               "                 Postfix runs)\n",
               a);
    } else {
        printf("  alarm          off (postfix.idle_alarm = 0)\n");
    }
}

/* A store time as JSON: the number, or null for 0. */
static void
json_time(const char *name, long long t)
{
    if (t > 0)
        printf(",\"%s\":%lld", name, t);
    else
        printf(",\"%s\":null", name);
}

/* One server as a JSON object. */
static void
server_json(const struct pm_server *s, long long now)
{
    fputs("{\"host\":", stdout);
    out_json_str(stdout, s->host);
    fputs(",\"socket\":", stdout);
    out_json_str(stdout, s->socket);
    fputs(",\"version\":", stdout);
    out_json_str(stdout, s->version);
    printf(",\"pid\":%lld,\"started\":%lld,\"heartbeat\":%lld,\"silent\":%s,\"connections\":%lld",
           s->pid, s->started, s->beat, now - s->beat > SILENT_AFTER ? "true" : "false", s->conns);
    json_time("last_connection", s->last_conn);
    printf(",\"postfix\":\"%s\"", pm_watch_postfix_name((enum pm_postfix)s->postfix));
    json_time("postfix_pid", s->postfix_pid);
    printf(",\"idle_alarm\":%lld", s->idle_alarm);
    json_time("quiet_since", s->quiet_since);
    printf(",\"alarm\":%s", s->alarm ? "true" : "false");
    json_time("alarm_since", s->alarm ? s->alarm_at : 0);
    fputs("}", stdout);
}

/* servers */
int
cmd_servers(struct ctl *c, int argc, char **argv)
{
    struct server_list l;
    long long now;
    size_t i, alarms = 0;
    int rc;

    (void)argv;
    if (argc > 0)
        return ctl_fail(CTL_USAGE, "usage: servers");
    if ((rc = read_servers(c, &l, &now)) != CTL_OK)
        return rc;
    if (l.n == 0) {
        free(l.s);
        return ctl_fail(CTL_NOTFOUND, "no postmeter has written a heartbeat in the last %d min",
                        PM_SERVER_KEEP / 60);
    }
    for (i = 0; i < l.n; i++)
        alarms += l.s[i].alarm;
    if (c->json) {
        printf("{\"now\":%lld,\"alarms\":%zu,\"servers\":[", now, alarms);
        for (i = 0; i < l.n; i++) {
            fputs(i ? "," : "", stdout);
            server_json(&l.s[i], now);
        }
        fputs("]}\n", stdout);
    } else {
        printf("%zu server%s (heartbeats of the last %d min), %zu alarm%s\n", l.n,
               out_s((long long)l.n), PM_SERVER_KEEP / 60, alarms, out_s((long long)alarms));
        for (i = 0; i < l.n; i++)
            server_text(&l.s[i], now);
    }
    free(l.s);
    return CTL_OK;
}

/* The servers with the no-connection alarm: how many, and the text of the
 * first ("mx1: no connection from Postfix for 25 min while Postfix runs");
 * 0 when none or they cannot be read. */
size_t
ctl_servers_alarmed(struct ctl *c, char *first, size_t len)
{
    struct server_list l;
    struct pm_store *st;
    long long now;
    size_t i, n = 0;
    char a[160], err[512];

    *first = '\0';
    memset(&l, 0, sizeof(l));
    if (ctl_store(c, &st) != CTL_OK ||
        pm_store_servers(st, collect, &l, &now, err, sizeof(err)) < 0) {
        free(l.s);
        return 0;
    }
    for (i = 0; i < l.n; i++)
        if (l.s[i].alarm && n++ == 0) {
            alarm_text(&l.s[i], now, a, sizeof(a));
            snprintf(first, len, "%s: %s", l.s[i].host, a);
        }
    free(l.s);
    return n;
}
