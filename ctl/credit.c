/*
 * credit.c - postmeterctl credit add|show|revoke: top-ups ("stamps").
 *
 * A grant is field "g:<id>" of the sender's "cr" hash, value
 * "msgs_left:rcpts_left:expires:msgs_granted:rcpts_granted:granted_at", the
 * id from HINCRBY of field "seq"; every movement is a line of "crlog"
 * (doc/redis-keys.md). Adding and revoking run as one small Lua script each,
 * with the store's clock (Redis TIME plus the test offset), so the grant, its
 * log line, the trim and the TTLs happen together. The meter script spends
 * credits only once the plan's limit is reached.
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
#define MAX_GRANTS 100 /* grants a sender's "cr" hash holds: the live ones refuse more */

/* KEYS: cr, crlog, clock; ARGV: msgs, rcpts, "rel"|"abs", expiry, note.
 * {id, now, expiry}; id 0: the expiry is past; -1: MAX_GRANTS live grants
 * already. A full hash first drops its spent and expired grants. */
static const char add_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + math.floor(tonumber(redis.call('GET', KEYS[3]) or 0) or 0)\n"
    "local exp = tonumber(ARGV[4])\n"
    "if ARGV[3] == 'rel' and exp ~= 0 then exp = now + exp end\n"
    "if exp ~= 0 and exp <= now then return {0, now, exp} end\n"
    "local flat, dead, live = redis.call('HGETALL', KEYS[1]), {}, 0\n"
    "for i = 1, #flat, 2 do\n"
    "    local m, r, e = string.match(flat[i + 1], '^(%d+):(%d+):(%d+):')\n"
    "    if m and string.sub(flat[i], 1, 2) == 'g:' then\n"
    "        e = tonumber(e)\n"
    "        if (m == '0' and r == '0') or (e ~= 0 and e <= now) then\n"
    "            dead[#dead + 1] = flat[i]\n"
    "        else live = live + 1 end\n"
    "    end\n"
    "end\n"
    "if live >= tonumber(ARGV[6]) then return {-1, now, exp} end\n"
    "if live + #dead >= tonumber(ARGV[6]) then redis.call('HDEL', KEYS[1], unpack(dead)) end\n"
    "local id = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
    "redis.call('HSET', KEYS[1], 'g:' .. id, ARGV[1] .. ':' .. ARGV[2] .. ':' .. exp .. ':' ..\n"
    "           ARGV[1] .. ':' .. ARGV[2] .. ':' .. now)\n"
    "redis.call('LPUSH', KEYS[2], now .. '\\tgrant\\t' .. ARGV[1] .. '\\t' .. ARGV[2] .. '\\t' ..\n"
    "           exp .. '\\t' .. ARGV[5])\n"
    "redis.call('LTRIM', KEYS[2], 0, 199)\n"
    "redis.call('EXPIRE', KEYS[1], 400 * 86400)\n"
    "redis.call('EXPIRE', KEYS[2], 400 * 86400)\n"
    "return {id, now, exp}\n";

/* KEYS: cr, crlog, clock; ARGV: id, note. */
static const char revoke_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local v = redis.call('HGET', KEYS[1], 'g:' .. ARGV[1])\n"
    "if not v then return {0, 0, 0} end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + math.floor(tonumber(redis.call('GET', KEYS[3]) or 0) or 0)\n"
    "local m, r, e = string.match(v, '^(%d+):(%d+):(%d+):')\n"
    "redis.call('HDEL', KEYS[1], 'g:' .. ARGV[1])\n"
    "redis.call('LPUSH', KEYS[2], now .. '\\trevoke\\t' .. (m or 0) .. '\\t' .. (r or 0) ..\n"
    "           '\\t' .. (e or 0) .. '\\t' .. ARGV[2])\n"
    "redis.call('LTRIM', KEYS[2], 0, 199)\n"
    "redis.call('EXPIRE', KEYS[1], 400 * 86400)\n"
    "redis.call('EXPIRE', KEYS[2], 400 * 86400)\n"
    "return {1, tonumber(m) or 0, tonumber(r) or 0}\n";

/* 1 when a grant still counts at store time now. */
int
ctl_grant_live(const struct ctl_grant *g, long long now)
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

/* Order grants by id. */
static int
grant_cmp(const void *a, const void *b)
{
    const struct ctl_grant *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

/* Read the sender's grants, sorted by id; CTL_OK or CTL_ERR. */
int
ctl_grants(struct ctl *c, const char *sender, struct ctl_grant **out, size_t *n)
{
    char key[PM_ADDR_MAX + 64];
    struct ctl_grant g;
    redisReply *r;
    size_t i;

    *out = NULL;
    *n = 0;
    ctl_key(c, sender, "cr", key, sizeof(key));
    if (!(r = ctl_cmd(c, "HGETALL %s", key)))
        return CTL_ERR;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        !(*out = calloc(r->elements / 2, sizeof(**out)))) {
        freeReplyObject(r);
        return ctl_fail(CTL_ERR, "out of memory");
    }
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *v = r->element[i + 1]->str;

        if (!f || !v || strncmp(f, "g:", 2) != 0)
            continue;
        g.id = strtoll(f + 2, NULL, 10);
        if (sscanf(v, "%lld:%lld:%lld:%lld:%lld:%lld", &g.msgs, &g.rcpts, &g.expires, &g.g_msgs,
                   &g.g_rcpts, &g.at) == 6)
            (*out)[(*n)++] = g;
    }
    freeReplyObject(r);
    if (*n)
        qsort(*out, *n, sizeof(**out), grant_cmp);
    return CTL_OK;
}

/* Print grants as a JSON array. */
void
ctl_grants_json(FILE *f, const struct ctl_grant *g, size_t n, long long now)
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
ctl_grants_text(FILE *f, const struct ctl_grant *g, size_t n, long long now, int indent)
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

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static long long
days_from_civil(long long y, long long m, long long d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
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
        *val = pm_zone_next_midnight(days_from_civil(y, mo, d) * 86400 + 43200 -
                                     pm_zone_offset(days_from_civil(y, mo, d) * 86400));
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

/* Run one of the scripts for a sender; the reply or NULL (printed). */
static redisReply *
run_script(struct ctl *c, const char *sender, const char *lua, int nargs, const char **args)
{
    char cr[PM_ADDR_MAX + 64], crlog[PM_ADDR_MAX + 64], clock[128];
    const char *argv[12] = {"EVAL", lua, "3", cr, crlog, clock};
    redisReply *r;
    int i;

    ctl_key(c, sender, "cr", cr, sizeof(cr));
    ctl_key(c, sender, "crlog", crlog, sizeof(crlog));
    snprintf(clock, sizeof(clock), "%s%s", c->conf->redis_test_clock ? c->conf->key_prefix : "",
             c->conf->redis_test_clock ? ":v1:clock" : "");
    for (i = 0; i < nargs && i < 6; i++)
        argv[6 + i] = args[i];
    if (!(r = ctl_cmdv(c, 6 + nargs, argv)))
        return NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        ctl_fail(CTL_ERR, "Redis at %s: unexpected reply to the credit script", c->redis_name);
        return NULL;
    }
    return r;
}

/* credit add SENDER N [--recipients N] [--expires WHEN] [--note TEXT] */
static int
credit_add(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--recipients", "--expires", "--note", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX], m[24], rc_[24], ev[24], note[NOTE_MAX + 80], exp[64], mg[24];
    const char *args[6] = {m, rc_, NULL, ev, note, mg};
    long long msgs, rcpts = 0, val;
    redisReply *r;
    int rc, rel;

    if ((rc = ctl_getopts("credit add", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos != 2)
        return ctl_fail(CTL_USAGE, "usage: credit add SENDER N [--recipients N] "
                                   "[--expires 30d|12h|YYYY-MM-DD] [--note TEXT]");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if (ctl_number(o.pos[1], MAX_AMOUNT, &msgs) < 0)
        return ctl_fail(CTL_USAGE, "credit add: bad number of messages \"%s\"", o.pos[1]);
    if (o.value[0] && ctl_number(o.value[0], MAX_AMOUNT, &rcpts) < 0)
        return ctl_fail(CTL_USAGE, "credit add: bad number of recipients \"%s\"", o.value[0]);
    if (msgs == 0 && rcpts == 0)
        return ctl_fail(CTL_USAGE, "credit add: nothing to add (0 messages, 0 recipients)");
    if (o.value[1] && parse_expires(o.value[1], &rel, &val) < 0)
        return ctl_fail(CTL_USAGE,
                        "credit add: bad expiry \"%s\" (e.g. 30d, 12h, 90m, 2026-12-31, never)",
                        o.value[1]);
    if (!o.value[1])
        rel = 1, val = 0;
    if (o.value[2] && strlen(o.value[2]) > NOTE_MAX)
        return ctl_fail(CTL_USAGE, "credit add: note longer than %d bytes", NOTE_MAX);
    snprintf(m, sizeof(m), "%lld", msgs);
    snprintf(rc_, sizeof(rc_), "%lld", rcpts);
    snprintf(ev, sizeof(ev), "%lld", val);
    args[2] = rel ? "rel" : "abs";
    make_note(note, sizeof(note), o.value[2]);
    snprintf(mg, sizeof(mg), "%d", MAX_GRANTS);
    if (!(r = run_script(c, sender, add_lua, 6, args)))
        return CTL_ERR;
    if (r->element[0]->integer == 0) {
        expiry_text(exp, sizeof(exp), r->element[2]->integer, 1);
        freeReplyObject(r);
        return ctl_fail(CTL_USAGE, "credit add: expiry %s is already past", exp);
    }
    if (r->element[0]->integer < 0) {
        freeReplyObject(r);
        return ctl_fail(CTL_ERR,
                        "credit add: %s has %d grants with credits left; revoke some first "
                        "(credit show, credit revoke)",
                        sender, MAX_GRANTS);
    }
    if (c->json) {
        printf("{\"sender\":");
        out_json_str(stdout, sender);
        printf(",\"id\":%lld,\"messages\":%lld,\"recipients\":%lld,\"expires\":%lld,"
               "\"granted_at\":%lld,\"note\":",
               r->element[0]->integer, msgs, rcpts, r->element[2]->integer, r->element[1]->integer);
        out_json_str(stdout, note);
        printf("}\n");
    } else {
        expiry_text(exp, sizeof(exp), r->element[2]->integer, 1);
        printf("granted #%lld to %s: %lld message%s, %lld recipient%s; expires %s\n",
               r->element[0]->integer, sender, msgs, out_s(msgs), rcpts, out_s(rcpts), exp);
    }
    freeReplyObject(r);
    return CTL_OK;
}

/* credit revoke SENDER ID */
static int
credit_revoke(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX], idbuf[24], note[NOTE_MAX + 80];
    const char *args[2] = {idbuf, note};
    long long id;
    redisReply *r;
    int rc;

    if ((rc = ctl_getopts("credit revoke", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos != 2)
        return ctl_fail(CTL_USAGE, "usage: credit revoke SENDER ID");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if (ctl_number(o.pos[1][0] == '#' ? o.pos[1] + 1 : o.pos[1], MAX_AMOUNT, &id) < 0)
        return ctl_fail(CTL_USAGE, "credit revoke: bad grant id \"%s\"", o.pos[1]);
    snprintf(idbuf, sizeof(idbuf), "%lld", id);
    snprintf(note, sizeof(note), "%s: revoked grant %lld", ctl_who(), id);
    if (!(r = run_script(c, sender, revoke_lua, 2, args)))
        return CTL_ERR;
    if (r->element[0]->integer == 0) {
        freeReplyObject(r);
        return ctl_fail(CTL_NOTFOUND, "credit revoke: %s has no grant #%lld", sender, id);
    }
    if (c->json) {
        printf("{\"sender\":");
        out_json_str(stdout, sender);
        printf(",\"id\":%lld,\"revoked\":true,\"messages_left\":%lld,\"recipients_left\":%lld}\n",
               id, r->element[1]->integer, r->element[2]->integer);
    } else {
        printf("revoked grant #%lld of %s (%lld message%s, %lld recipient%s were left)\n", id,
               sender, r->element[1]->integer, out_s(r->element[1]->integer),
               r->element[2]->integer, out_s(r->element[2]->integer));
    }
    freeReplyObject(r);
    return CTL_OK;
}

/* One movement line "time\tevent\tmsgs\trcpts\texpires\tnote" split up. */
struct movement {
    long long time, msgs, rcpts, expires;
    char event[16];
    const char *note;
};

/* Split a movement line; 0 or -1. */
static int
parse_movement(const char *line, struct movement *mv)
{
    const char *p;
    int n = 0;

    memset(mv, 0, sizeof(*mv));
    if (sscanf(line, "%lld\t%15[^\t]\t%lld\t%lld\t%lld%n", &mv->time, mv->event, &mv->msgs,
               &mv->rcpts, &mv->expires, &n) != 5)
        return -1;
    p = line + n;
    mv->note = *p == '\t' ? p + 1 : p;
    return 0;
}

/* Print the movements log. */
static void
movements_print(const struct ctl *c, const redisReply *log)
{
    struct movement mv;
    char t[64], exp[64];
    size_t i;
    int first = 1;

    if (c->json)
        fputs(",\"log\":[", stdout);
    else if (log->elements) {
        char zone[16];

        pm_zone_label((long long)time(NULL), zone, sizeof(zone));
        printf("movements (newest first, %s)\n", zone);
    }
    for (i = 0; i < log->elements; i++) {
        if (!log->element[i]->str || parse_movement(log->element[i]->str, &mv) < 0)
            continue;
        if (c->json) {
            printf("%s{\"time\":%lld,\"event\":", first ? "" : ",", mv.time);
            out_json_str(stdout, mv.event);
            printf(",\"messages\":%lld,\"recipients\":%lld,\"expires\":%lld,\"note\":", mv.msgs,
                   mv.rcpts, mv.expires);
            out_json_str(stdout, mv.note);
            fputs("}", stdout);
            first = 0;
            continue;
        }
        out_time(t, sizeof(t), mv.time);
        t[16] = '\0'; /* "YYYY-MM-DD HH:MM": the heading names the zone */
        printf("  %s  %-6s  %4lld msgs  %4lld rcpts", t, mv.event, mv.msgs, mv.rcpts);
        if (strcmp(mv.event, "grant") == 0) {
            expiry_text(exp, sizeof(exp), mv.expires, 0);
            printf("  expires %s", exp);
        }
        printf("\n");
        if (*mv.note)
            out_wrap(stdout, mv.note, 20);
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
    char sender[PM_ADDR_MAX], key[PM_ADDR_MAX + 64];
    struct ctl_grant *g;
    long long now, m = 0, r = 0;
    redisReply *log;
    size_t n, i;
    int rc;

    if ((rc = ctl_getopts("credit show", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos != 1)
        return ctl_fail(CTL_USAGE, "usage: credit show SENDER");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    ctl_key(c, sender, "crlog", key, sizeof(key));
    if ((rc = ctl_now(c, &now)) || (rc = ctl_grants(c, sender, &g, &n)))
        return rc;
    if (!(log = ctl_cmd(c, "LRANGE %s 0 -1", key))) {
        free(g);
        return CTL_ERR;
    }
    if (n == 0 && (log->type != REDIS_REPLY_ARRAY || log->elements == 0)) {
        free(g);
        freeReplyObject(log);
        return ctl_fail(CTL_NOTFOUND, "credit show: %s has no credits and no credit history",
                        sender);
    }
    for (i = 0; i < n; i++)
        if (ctl_grant_live(&g[i], now))
            m += g[i].msgs, r += g[i].rcpts;
    if (c->json) {
        fputs("{\"sender\":", stdout);
        out_json_str(stdout, sender);
        printf(",\"now\":%lld,\"messages\":%lld,\"recipients\":%lld,\"grants\":", now, m, r);
        ctl_grants_json(stdout, g, n, now);
    } else {
        printf("credits of %s: %lld message%s, %lld recipient%s left\n", sender, m, out_s(m), r,
               out_s(r));
        ctl_grants_text(stdout, g, n, now, 2);
    }
    if (log->type == REDIS_REPLY_ARRAY)
        movements_print(c, log);
    if (c->json)
        fputs("}\n", stdout);
    free(g);
    freeReplyObject(log);
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
