/*
 * store_redis_digest.c - the Redis store's operations for the daily digest
 * of refusals (milter/notice_digest.c):
 *   the election "<prefix>:v2:{@}:digest:<day>": SET NX EX 3 days, so that
 *   exactly one of the servers sharing the store sends the digest of a day;
 *   the record "<prefix>:v2:{C}:hits:<day>" per company C: a hash
 *   "<sender>|<limit name>" -> refusals that day, written by the meter
 *   script, read here whole (the script keeps it to at most 10000 fields);
 *   the companies are found by SCAN (store_redis_companies.c). Layout 1
 *   has one "<prefix>:v1:hits:<day>" and "<prefix>:v1:digest:<day>".
 *   the silent senders: of the senders of the last 7 days' top index
 *   (top.lua), those whose reply-rate hash "{s:S}:rr" (prelude.lua) holds
 *   at least a number of first contacts over the last 30 UTC days and no
 *   reply; one HGETALL per sender, out of the mail path.
 * <day> is the UTC day number of store time, floor(t / 86400).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store_redis_int.h"

#define DIGEST_KEEP "259200" /* the election key lives 3 days */

/* The election key of day into buf ("" out of memory). */
static void
day_key(const struct redis_store *rs, const char *kind, long long day, char *buf, size_t len)
{
    char what[48], *key;

    snprintf(what, sizeof(what), "%s:%lld", kind, day);
    key = pm_key_global(rs->prefix, rs_layout(rs), what);
    snprintf(buf, len, "%s", key ? key : "");
    free(key);
}

/* Claim the digest of day for holder; *won: this call claimed it. */
int
rs_digest_elect(void *impl, long long day, const char *holder, int *won, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char key[320];
    const char *argv[6];
    redisReply *r;
    int rc;

    day_key(rs, "digest", day, key, sizeof(key));
    argv[0] = "SET";
    argv[1] = key;
    argv[2] = holder;
    argv[3] = "NX";
    argv[4] = "EX";
    argv[5] = DIGEST_KEEP;
    if ((rc = rs_call(rs, 6, argv, &r, err, errlen)) < 0)
        return rc;
    *won = r->type == REDIS_REPLY_STATUS; /* "OK"; a nil reply: someone else has it */
    if (!*won && r->type != REDIS_REPLY_NIL) {
        snprintf(err, errlen, "redis %s: unexpected reply to SET NX", rs->name);
        freeReplyObject(r);
        return PM_STORE_ERROR;
    }
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* Give up the claim of day's digest: delete it (only its winner calls this,
 * and while it exists nobody else can claim the day). */
int
rs_digest_unclaim(void *impl, long long day, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char key[320];
    const char *argv[2];
    redisReply *r;
    int rc;

    day_key(rs, "digest", day, key, sizeof(key));
    argv[0] = "DEL";
    argv[1] = key;
    if ((rc = rs_call(rs, 2, argv, &r, err, errlen)) < 0)
        return rc;
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* Pass each "<sender>|<limit name>" -> refusals of one record (key) to
 * each; 0, 1 when each asked to stop, or a failure. */
static int
hits_of(struct redis_store *rs, const char *key,
        int (*each)(void *arg, const char *sender, const char *limit, long long n), void *arg,
        char *err, size_t errlen)
{
    char field[512], *bar;
    const char *argv[2] = {"HGETALL", key};
    redisReply *r;
    size_t i;
    int rc;

    if ((rc = rs_call(rs, 2, argv, &r, err, errlen)) < 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        snprintf(err, errlen, "redis %s: unexpected reply to HGETALL %s", rs->name, key);
        freeReplyObject(r);
        return PM_STORE_ERROR;
    }
    for (i = 0; i + 1 < r->elements && rc == 0; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        snprintf(field, sizeof(field), "%s", f->str);
        if (!(bar = strrchr(field, '|')))
            continue; /* not a field the meter script writes */
        *bar = '\0';
        rc = each(arg, field, bar + 1, strtoll(v->str, NULL, 10)) != 0;
    }
    freeReplyObject(r);
    return rc;
}

/* Pass each "<sender>|<limit name>" -> refusals of day's record (layout 2:
 * of every company's) to each (0 to go on). */
int
rs_digest_hits(void *impl, long long day,
               int (*each)(void *arg, const char *sender, const char *limit, long long n),
               void *arg, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char what[48], *key, **co = NULL;
    size_t n = 1, i;
    int rc = 0, layout = rs_layout(rs);

    snprintf(what, sizeof(what), "hits:%lld", day);
    if (layout != PM_LAYOUT_V1 && (rc = rs_companies(rs, day, &co, &n, err, errlen)) < 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++) {
        if (!(key = pm_key_company(rs->prefix, layout, co ? co[i] : "", what))) {
            snprintf(err, errlen, "out of memory");
            rc = PM_STORE_ERROR;
            break;
        }
        rc = hits_of(rs, key, each, arg, err, errlen);
        free(key);
    }
    rs_companies_free(co, co ? n : 0);
    return rc < 0 ? rc : PM_STORE_OK;
}

#define SILENT_DAYS 7      /* the days of the top index the candidates come from */
#define SILENT_MAX 10000   /* candidates read */
#define REPLY_RATE_DAYS 30 /* the reply rate's days (meter_reputation.lua) */

/* The candidates of the silent list. */
struct silent_read {
    char **sender;
    size_t n;
    int oom;
};

/* Keep one sender of the top index; 0 to go on. */
static int
silent_add(void *arg, const char *sender)
{
    struct silent_read *t = arg;
    char **grown;

    if (t->n == SILENT_MAX)
        return 1;
    if (!(grown = realloc(t->sender, (t->n + 1) * sizeof(*grown))) ||
        !(grown[t->n] = strdup(sender))) {
        if (grown)
            t->sender = grown;
        t->oom = 1;
        return 1;
    }
    t->sender = grown;
    t->n++;
    return 0;
}

/* A sender's first contacts and replies of the 30 days before today (reply r of HGETALL). */
static void
silent_sum(const redisReply *r, long long today, long long *first, long long *replied)
{
    size_t i;

    *first = *replied = 0;
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        long long d;
        char kind;

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            sscanf(f->str, "%c:%lld", &kind, &d) != 2 || today - d >= REPLY_RATE_DAYS || d > today)
            continue;
        if (kind == 'f')
            *first += strtoll(v->str, NULL, 10);
        else if (kind == 'y')
            *replied += strtoll(v->str, NULL, 10);
    }
}

/* The digest's silent senders (store.h). */
int
rs_digest_silent(void *impl, long long min_first,
                 int (*each)(void *arg, const char *sender, long long first), void *arg, char *err,
                 size_t errlen)
{
    struct redis_store *rs = impl;
    struct silent_read t = {NULL, 0, 0};
    long long now, first, replied;
    const char *argv[2];
    redisReply *r;
    size_t i;
    int rc, stop = 0;

    if ((rc = rs_top(impl, SILENT_DAYS, 0, silent_add, &t, &now, err, errlen)) >= 0 && t.oom) {
        snprintf(err, errlen, "out of memory");
        rc = PM_STORE_ERROR;
    }
    for (i = 0; rc >= 0 && i < t.n && !stop; i++) {
        char *key = rs_key(rs, 's', t.sender[i], "rr");

        if (!key) {
            snprintf(err, errlen, "out of memory");
            rc = PM_STORE_ERROR;
            break;
        }
        argv[0] = "HGETALL";
        argv[1] = key;
        rc = rs_call(rs, 2, argv, &r, err, errlen);
        free(key);
        if (rc < 0)
            break;
        silent_sum(r, now / 86400, &first, &replied);
        freeReplyObject(r);
        if (first > 0 && first >= min_first && replied == 0)
            stop = each(arg, t.sender[i], first) != 0;
    }
    for (i = 0; i < t.n; i++)
        free(t.sender[i]);
    free(t.sender);
    return rc < 0 ? rc : PM_STORE_OK;
}
