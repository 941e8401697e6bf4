/*
 * store_redis_admin.c - the Redis store's operations for the administrator:
 * plan overrides, credits, warm-up resets and skips, contacts and the daily
 * top index (postmeterctl; the metrics refresher reads the top index).
 *
 * The keys are those the meter script reads (doc/redis-keys.md): a plan
 * override "{s:S}:plan" (a string naming a plan, and "{s:S}:planerr", the
 * override a running postmeter reported it cannot apply); credits in "cr"
 * and "crlog" (grants.lua: their layout; credit.lua grants and revokes);
 * the warm-up hash "wu" (warmup_state.lua; warmup.lua resets and skips);
 * the contacts "ct" (sender and company) and "lc" (learned), field the keyed
 * hash, value the UTC day; the top index "<prefix>:v2:{C}:top:<day>" (top.lua).
 * What needs the store's clock runs as a script after the prelude.
 * rs_forget_all() deletes every key of the prefix ("<prefix>:*"): a SCAN
 * page at a time, each page's keys with one UNLINK.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "contract.h"
#include "credit_lua.h"
#include "store_redis_int.h"
#include "top_lua.h"
#include "warmup_lua.h"

#define TOP_MAX_DAYS 8       /* the top index keeps 8 days */
#define FORGET_ROUNDS 100000 /* bound on SCAN calls (each returns about 1000 keys) */

/* The keys of kinds[] of a sender (tag 's') or a domain ('d') into keys[],
 * in order; PM_STORE_OK, or PM_STORE_ERROR out of memory (the caller frees
 * keys[0..n-1] either way). */
static int
keys_of(const struct redis_store *rs, char tag, const char *id, const char *const *kinds, size_t n,
        char **keys)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!(keys[i] = rs_key(rs, tag, id, kinds[i])))
            return PM_STORE_ERROR;
    return PM_STORE_OK;
}

/* Free keys[0..n-1] as keys_of made them. */
static void
keys_free(char **keys, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(keys[i]);
}

/* An array reply of exactly n integers (0: at least one), or PM_STORE_ERROR
 * with err set (what: the script's name); r is freed on error. */
static int
ints_reply(struct redis_store *rs, redisReply *r, size_t n, const char *what, char *err,
           size_t errlen)
{
    size_t i;

    if (r->type == REDIS_REPLY_ARRAY && (n ? r->elements == n : r->elements > 0)) {
        for (i = 0; i < (n ? n : 1); i++)
            if (r->element[i]->type != REDIS_REPLY_INTEGER)
                break;
        if (i == (n ? n : 1))
            return PM_STORE_OK;
    }
    snprintf(err, errlen, "redis %s: unexpected reply from the %s script", rs->name, what);
    freeReplyObject(r);
    return PM_STORE_ERROR;
}

/* Run one command about one key; PM_STORE_OK with *r, or a failure. */
static int
key_cmd(struct redis_store *rs, const char *cmd, const char *key, redisReply **r, char *err,
        size_t errlen)
{
    const char *argv[2] = {cmd, key};

    return rs_call(rs, 2, argv, r, err, errlen);
}

/* A sender's plan override: GET and TTL of "plan", GET of "planerr". */
int
rs_plan_get(void *impl, const char *sender, struct pm_override *o, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    static const char *const kinds[2] = {"plan", "planerr"};
    char *keys[2] = {NULL};
    redisReply *r;
    int rc;

    if ((rc = keys_of(rs, 's', sender, kinds, 2, keys)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((rc = key_cmd(rs, "GET", keys[0], &r, err, errlen)) < 0)
        goto out;
    if (r->type == REDIS_REPLY_STRING)
        snprintf(o->plan, sizeof(o->plan), "%s", r->str);
    freeReplyObject(r);
    if ((rc = key_cmd(rs, "TTL", keys[0], &r, err, errlen)) < 0)
        goto out;
    o->ttl = o->plan[0] && r->type == REDIS_REPLY_INTEGER && r->integer >= 0 ? r->integer : -1;
    freeReplyObject(r);
    if ((rc = key_cmd(rs, "GET", keys[1], &r, err, errlen)) < 0)
        goto out;
    if (r->type == REDIS_REPLY_STRING)
        snprintf(o->unknown, sizeof(o->unknown), "%s", r->str);
    freeReplyObject(r);
out:
    keys_free(keys, 2);
    return rc;
}

/* Set or clear a sender's plan override; either forgets "planerr" (a daemon
 * says so again if it still lacks the plan). */
int
rs_plan_set(void *impl, const char *sender, const char *plan, long long keep, int *had, char *err,
            size_t errlen)
{
    struct redis_store *rs = impl;
    static const char *const kinds[2] = {"plan", "planerr"};
    char *keys[2] = {NULL}, ttl[24];
    const char *set[5] = {"SET", NULL, plan, "EX", ttl};
    redisReply *r;
    int rc;

    if ((rc = keys_of(rs, 's', sender, kinds, 2, keys)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((rc = key_cmd(rs, "DEL", keys[1], &r, err, errlen)) < 0)
        goto out;
    freeReplyObject(r);
    set[1] = keys[0];
    snprintf(ttl, sizeof(ttl), "%lld", keep > 0 ? keep : 1);
    if (plan)
        rc = rs_call(rs, 5, set, &r, err, errlen);
    else
        rc = key_cmd(rs, "DEL", keys[0], &r, err, errlen);
    if (rc < 0)
        goto out;
    *had = !plan && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
out:
    keys_free(keys, 2);
    return rc;
}

/* Order grants by id. */
static int
grant_cmp(const void *a, const void *b)
{
    const struct pm_grant *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

/* The grants of an HGETALL reply of "cr" into out, by id; PM_STORE_OK or PM_STORE_ERROR. */
static int
grants_parse(const redisReply *r, struct pm_credits *out)
{
    struct pm_grant g;
    size_t i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return PM_STORE_OK;
    if (!(out->grant = calloc(r->elements / 2, sizeof(*out->grant))))
        return PM_STORE_ERROR;
    for (i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *v = r->element[i + 1]->str;

        if (!f || !v || strncmp(f, "g:", 2) != 0)
            continue;
        g.id = strtoll(f + 2, NULL, 10);
        if (sscanf(v, "%lld:%lld:%lld:%lld:%lld:%lld", &g.msgs, &g.rcpts, &g.expires, &g.g_msgs,
                   &g.g_rcpts, &g.at) == 6)
            out->grant[out->n_grant++] = g;
    }
    if (out->n_grant)
        qsort(out->grant, out->n_grant, sizeof(*out->grant), grant_cmp);
    return PM_STORE_OK;
}

/* The movements of an LRANGE reply of "crlog" into out, newest first. */
static int
moves_parse(const redisReply *r, struct pm_credits *out)
{
    struct pm_credit_move *mv;
    size_t i;
    int n;

    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return PM_STORE_OK;
    if (!(out->move = calloc(r->elements, sizeof(*out->move))))
        return PM_STORE_ERROR;
    for (i = 0; i < r->elements; i++) {
        const char *line = r->element[i]->str, *p;

        mv = &out->move[out->n_move];
        n = 0;
        if (!line || sscanf(line, "%lld\t%15[^\t]\t%lld\t%lld\t%lld%n", &mv->time, mv->event,
                            &mv->msgs, &mv->rcpts, &mv->expires, &n) != 5)
            continue;
        p = line + n;
        snprintf(mv->note, sizeof(mv->note), "%s", *p == '\t' ? p + 1 : p);
        out->n_move++;
    }
    return PM_STORE_OK;
}

/* A sender's grants (HGETALL "cr") and movements (LRANGE "crlog"). */
int
rs_credits(void *impl, const char *sender, struct pm_credits *out, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    static const char *const kinds[2] = {"cr", "crlog"};
    char *keys[2] = {NULL};
    const char *range[4] = {"LRANGE", NULL, "0", "-1"};
    redisReply *r;
    int rc;

    if ((rc = keys_of(rs, 's', sender, kinds, 2, keys)) < 0)
        goto oom;
    if ((rc = key_cmd(rs, "HGETALL", keys[0], &r, err, errlen)) < 0)
        goto out;
    rc = grants_parse(r, out);
    freeReplyObject(r);
    if (rc < 0)
        goto oom;
    range[1] = keys[1];
    if ((rc = rs_call(rs, 4, range, &r, err, errlen)) < 0)
        goto out;
    rc = moves_parse(r, out);
    freeReplyObject(r);
    if (rc < 0)
        goto oom;
    keys_free(keys, 2);
    return PM_STORE_OK;
oom:
    snprintf(err, errlen, "out of memory");
    rc = PM_STORE_ERROR;
out:
    pm_credits_free(out);
    keys_free(keys, 2);
    return rc;
}

/* Add (g) or revoke (id) a grant with credit.lua. */
int
rs_credit_set(void *impl, const char *sender, const struct pm_grant_req *g, long long id,
              const char *note, struct pm_grant_res *res, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    static const char *const kinds[2] = {"cr", "crlog"};
    char *keys[2] = {NULL}, nb[5][24];
    const char *args[PM_CA_COUNT] = {NULL}; /* [PM_CA_CLOCK]: rs_script's */
    redisReply *r;
    int rc;

    if ((rc = keys_of(rs, 's', sender, kinds, 2, keys)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(nb[0], sizeof(nb[0]), "%lld", g ? g->msgs : 0);
    snprintf(nb[1], sizeof(nb[1]), "%lld", g ? g->rcpts : 0);
    snprintf(nb[2], sizeof(nb[2]), "%lld", g ? g->expires : 0);
    snprintf(nb[3], sizeof(nb[3]), "%d", PM_CREDIT_MAX_GRANTS);
    snprintf(nb[4], sizeof(nb[4]), "%lld", id);
    args[PM_CA_OP] = g ? "add" : "revoke";
    args[PM_CA_MSGS] = nb[0];
    args[PM_CA_RCPTS] = nb[1];
    args[PM_CA_RELATIVE] = g && g->relative ? "1" : "0";
    args[PM_CA_EXPIRES] = nb[2];
    args[PM_CA_MAX_GRANTS] = nb[3];
    args[PM_CA_ID] = nb[4];
    args[PM_CA_NOTE] = note ? note : "";
    if ((rc = rs_script(rs, pm_credit_lua, PM_CK_COUNT, (const char **)keys, PM_CA_COUNT, args, &r,
                        err, errlen)) < 0 ||
        (rc = ints_reply(rs, r, PM_CR_COUNT, "credit", err, errlen)) < 0)
        goto out;
    res->result = r->element[PM_CR_RESULT]->integer;
    res->now = r->element[PM_CR_NOW]->integer;
    res->expires = r->element[PM_CR_EXPIRES]->integer;
    res->msgs = r->element[PM_CR_MSGS]->integer;
    res->rcpts = r->element[PM_CR_RCPTS]->integer;
    freeReplyObject(r);
out:
    keys_free(keys, 2);
    return rc;
}

/* Reset or skip a sender's or a domain's warm-up with warmup.lua. */
int
rs_warmup_set(void *impl, const struct pm_warmup_set *w, int *had, long long *day, char *err,
              size_t errlen)
{
    struct redis_store *rs = impl;
    static const char *const kinds[1] = {"wu"};
    char *keys[1] = {NULL}, nb[3][24];
    const char *args[PM_WA_COUNT] = {NULL}; /* [PM_WA_CLOCK]: rs_script's */
    redisReply *r;
    int rc;

    if ((rc = keys_of(rs, w->sender ? 's' : 'd', w->sender ? w->sender : w->domain, kinds, 1,
                      keys)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(nb[0], sizeof(nb[0]), "%lld", w->stage < 0 ? -1 : w->stage);
    snprintf(nb[1], sizeof(nb[1]), "%lld", w->keep > 0 ? w->keep : 86400);
    snprintf(nb[2], sizeof(nb[2]), "%lld", w->day_offset);
    args[PM_WA_STAGE] = nb[0];
    args[PM_WA_KEEP] = nb[1];
    args[PM_WA_OFFSET] = nb[2];
    if ((rc = rs_script(rs, pm_warmup_lua, PM_WK_COUNT, (const char **)keys, PM_WA_COUNT, args, &r,
                        err, errlen)) < 0 ||
        (rc = ints_reply(rs, r, PM_WR_COUNT, "warm-up", err, errlen)) < 0)
        goto out;
    *had = r->element[PM_WR_HAD]->integer > 0;
    *day = r->element[PM_WR_DAY]->integer;
    freeReplyObject(r);
out:
    keys_free(keys, 1);
    return rc;
}

/* The day stored for hash in one contacts hash, or -1; PM_STORE_OK or a failure. */
static int
contact_day(struct redis_store *rs, char tag, const char *id, const char *kind, const char *hash,
            long long *day, char *err, size_t errlen)
{
    char *key = rs_key(rs, tag, id, kind);
    const char *argv[3] = {"HGET", key, hash};
    redisReply *r;
    int rc;

    *day = -1;
    if (!key) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    rc = rs_call(rs, 3, argv, &r, err, errlen);
    free(key);
    if (rc < 0)
        return rc;
    if (r->type == REDIS_REPLY_STRING)
        *day = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* Where a recipient stands: the sender's "ct" and "lc", the company's "ct". */
int
rs_contact_days(void *impl, const char *sender, const char *company, const char *hash,
                struct pm_contact_days *out, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    int rc;

    if ((rc = contact_day(rs, 's', sender, "ct", hash, &out->sender, err, errlen)) < 0 ||
        (rc = contact_day(rs, 's', sender, "lc", hash, &out->learned, err, errlen)) < 0 ||
        (rc = contact_day(rs, 'd', company, "ct", hash, &out->company, err, errlen)) < 0)
        return rc;
    return PM_STORE_OK;
}

/* The top indexes' prefixes, space-separated, into *out (the caller frees
 * it): layout 1 the one "<prefix>:v1:top:", layout 2 "<prefix>:v2:{C}:top:"
 * of each company the registry holds for the last days days. */
static int
top_prefixes(struct redis_store *rs, int days, char **out, char *err, size_t errlen)
{
    char **co, *key;
    size_t n, i, len = 1;
    int rc;

    *out = NULL;
    if (rs_layout(rs) == PM_LAYOUT_V1) {
        if (!(*out = pm_key_company(rs->prefix, PM_LAYOUT_V1, "", "top:")))
            goto oom;
        return PM_STORE_OK;
    }
    if ((rc = rs_companies(rs, days > 0 ? -(long long)days : -1, &co, &n, err, errlen)) < 0)
        return rc;
    for (i = 0; i < n; i++)
        len += strlen(rs->prefix) + strlen(co[i]) + 16;
    if ((*out = malloc(len)) != NULL)
        for (**out = '\0', i = 0; i < n; i++) {
            if (!(key = pm_key_company(rs->prefix, PM_LAYOUT_V2, co[i], "top:"))) {
                free(*out);
                *out = NULL;
                break;
            }
            strcat(strcat(*out, i ? " " : ""), key);
            free(key);
        }
    rs_companies_free(co, n);
    if (*out)
        return PM_STORE_OK;
oom:
    snprintf(err, errlen, "out of memory");
    return PM_STORE_ERROR;
}

/* One top.lua call for args (with nkeys 1, its top prefix declared: a
 * cluster routes the call to its company's primary); each sender to each,
 * *now store time; PM_STORE_OK, 1 when each stopped, or a failure. */
static int
top_call(struct redis_store *rs, int nkeys, const char **args,
         int (*each)(void *arg, const char *sender), void *arg, long long *now, char *err,
         size_t errlen)
{
    const char *keys[1] = {args[PM_TA_TOP_PREFIX]};
    redisReply *r;
    size_t i;
    int rc;

    rc = rs_script(rs, pm_top_lua, nkeys, keys, PM_TA_COUNT, args, &r, err, errlen);
    if (rc < 0 || (rc = ints_reply(rs, r, 0, "top", err, errlen)) < 0)
        return rc;
    *now = r->element[PM_TR_NOW]->integer;
    for (i = PM_TR_COUNT; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i]->len > 0 &&
            each(arg, r->element[i]->str) != 0) {
            rc = 1;
            break;
        }
    freeReplyObject(r);
    return rc;
}

/* A sender of a company's top index today and its messages. */
struct top_row {
    char *sender;
    long long n;
};

/* Order rows by messages, most first (ties: by name, as ZREVRANGE orders them). */
static int
top_row_cmp(const void *a, const void *b)
{
    const struct top_row *x = a, *y = b;

    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(y->sender, x->sender);
}

/* strcmp of two senders' names through pointers (qsort, bsearch). */
static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One day of the top indexes of np prefixes: their ZREVRANGE WITHSCORES
 * (the first limit of each; 0: all), pipelined (rs_call_many), into *rows
 * (*n, *cap) ordered by messages as top.lua orders them. */
static int
top_day(struct redis_store *rs, char **p, size_t np, long long day, int limit,
        struct top_row **rows, size_t *n, size_t *cap, char *err, size_t errlen)
{
    const char ***argv = calloc(np, sizeof(*argv));
    int *argc = calloc(np, sizeof(*argc));
    redisReply **r = calloc(np, sizeof(*r));
    struct top_row *grown;
    char last[24];
    size_t i, j, want;
    int rc = PM_STORE_ERROR;

    snprintf(last, sizeof(last), "%d", limit > 0 ? limit - 1 : -1);
    if (!argv || !argc || !r)
        goto oom;
    for (i = 0; i < np; i++) {
        size_t len = strlen(p[i]) + 24;
        char *key = malloc(len);

        if (!(argv[i] = calloc(5, sizeof(**argv))) || !key) {
            free(key);
            goto oom;
        }
        snprintf(key, len, "%s%lld", p[i], day);
        argc[i] = 5;
        argv[i][0] = "ZREVRANGE";
        argv[i][1] = key;
        argv[i][2] = "0";
        argv[i][3] = last;
        argv[i][4] = "WITHSCORES";
    }
    if ((rc = rs_call_many(rs, np, argc, argv, 0, r, err, errlen)) < 0)
        goto out;
    for (i = 0; i < np; i++)
        for (j = 0; r[i]->type == REDIS_REPLY_ARRAY && j + 1 < r[i]->elements; j += 2) {
            if (*n == *cap &&
                (grown = realloc(*rows, (want = *cap ? 2 * *cap : 64) * sizeof(**rows)))) {
                *rows = grown;
                *cap = want;
            }
            if (*n == *cap || !((*rows)[*n].sender = strdup(r[i]->element[j]->str)))
                goto oom;
            (*rows)[(*n)++].n = strtoll(r[i]->element[j + 1]->str, NULL, 10);
        }
    if (*n)
        qsort(*rows, *n, sizeof(**rows), top_row_cmp);
    rc = PM_STORE_OK;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    rc = PM_STORE_ERROR;
out:
    rs_many_free(np, argv, argc, r);
    return rc;
}

/* What top.lua gives, read by ZREVRANGE in C: the senders of the last days
 * days (today first) over the space-separated prefixes, each once, by
 * messages within a day (ties by name, the greater first, as ZREVRANGE and
 * the script order them), at most limit a day (0: all); each sender to each,
 * *now store time. The reads are pipelined: no script holds Redis while it
 * reads every company's index. PM_STORE_OK, 1 when each stopped, or a
 * failure. */
static int
top_merged(struct redis_store *rs, char *prefixes, int days, int limit,
           int (*each)(void *arg, const char *sender), void *arg, long long *now, char *err,
           size_t errlen)
{
    struct top_row *rows = NULL;
    char **p = NULL, **grown, *w, *save = NULL, **seen = NULL, **sgrown;
    size_t np = 0, pcap = 0, n = 0, cap = 0, ns = 0, scap = 0, old, i;
    int rc, d;

    if ((rc = rs_now(rs, now, err, errlen)) < 0)
        return rc;
    for (w = strtok_r(prefixes, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (np == pcap) {
            if (!(grown = realloc(p, (pcap * 2 + 64) * sizeof(*p))))
                goto oom;
            p = grown;
            pcap = pcap * 2 + 64;
        }
        p[np++] = w;
    }
    for (d = 0; d < days && np && rc == PM_STORE_OK; d++) {
        if ((rc = top_day(rs, p, np, *now / 86400 - d, limit, &rows, &n, &cap, err, errlen)) < 0)
            break;
        old = ns; /* a sender is once in a day: look only among earlier days' */
        for (i = 0; rc == PM_STORE_OK && i < n && (limit <= 0 || i < (size_t)limit); i++) {
            if (old && bsearch(&rows[i].sender, seen, old, sizeof(*seen), name_cmp))
                continue;
            if (ns == scap) {
                if (!(sgrown = realloc(seen, (scap * 2 + 64) * sizeof(*seen))))
                    goto oom;
                seen = sgrown;
                scap = scap * 2 + 64;
            }
            seen[ns++] = rows[i].sender;
            rows[i].sender = NULL; /* now seen's */
            if (each(arg, seen[ns - 1]) != 0)
                rc = 1;
        }
        if (ns > old)
            qsort(seen, ns, sizeof(*seen), name_cmp);
        for (i = 0; i < n; i++)
            free(rows[i].sender);
        n = 0;
    }
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    rc = PM_STORE_ERROR;
out:
    for (i = 0; i < n; i++)
        free(rows[i].sender);
    for (i = 0; i < ns; i++)
        free(seen[i]);
    free(rows);
    free(seen);
    free(p);
    return rc;
}

/* The senders of the daily top index, with top.lua. */
int
rs_top(void *impl, int days, int limit, int (*each)(void *arg, const char *sender), void *arg,
       long long *now, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    const char *args[PM_TA_COUNT] = {NULL}; /* [PM_TA_CLOCK]: rs_script's */
    char d[16], l[16], *prefixes;
    int rc;

    snprintf(d, sizeof(d), "%d", days < 1 ? 1 : days > TOP_MAX_DAYS ? TOP_MAX_DAYS : days);
    snprintf(l, sizeof(l), "%d", limit < 0 ? 0 : limit);
    if ((rc = top_prefixes(rs, days, &prefixes, err, errlen)) < 0)
        return rc;
    args[PM_TA_DAYS] = d;
    args[PM_TA_LIMIT] = l;
    if (!rs->cl && !strchr(prefixes, ' ')) { /* one index (or none): one script run */
        args[PM_TA_TOP_PREFIX] = prefixes;
        rc = top_call(rs, 0, args, each, arg, now, err, errlen);
    } else if (!rs->cl || limit > 0) { /* several companies: merged in C, as top.lua would */
        rc = top_merged(rs, prefixes, atoi(d), limit, each, arg, now, err, errlen);
    } else { /* a call per company, on the primary of its slot: each names its prefix */
        char *p, *save = NULL;

        for (rc = PM_STORE_OK, p = strtok_r(prefixes, " ", &save); p && rc == PM_STORE_OK;
             p = strtok_r(NULL, " ", &save)) {
            args[PM_TA_TOP_PREFIX] = p;
            rc = top_call(rs, 1, args, each, arg, now, err, errlen);
        }
        if (rc == PM_STORE_OK && !*prefixes) /* no company yet: store time alone */
            rc = rs_now(rs, now, err, errlen);
    }
    free(prefixes);
    return rc < 0 ? rc : PM_STORE_OK;
}

/* UNLINK the keys of one SCAN page (keys: an array reply of names); the
 * number deleted, or a failure (< 0). A name is passed up to a NUL byte, so
 * a key holding one deletes at most another key of the prefix. */
static long long
unlink_page(struct redis_store *rs, const redisReply *keys, char *err, size_t errlen)
{
    const char **argv;
    redisReply *r;
    size_t i, n = 0;
    long long done = 0;
    int rc;

    if (keys->elements == 0)
        return 0;
    if (!(argv = malloc((keys->elements + 1) * sizeof(*argv)))) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    argv[n++] = "UNLINK";
    for (i = 0; i < keys->elements; i++)
        if (keys->element[i]->type == REDIS_REPLY_STRING)
            argv[n++] = keys->element[i]->str;
    rc = n > 1 ? rs_call(rs, (int)n, argv, &r, err, errlen) : PM_STORE_OK;
    free(argv);
    if (rc < 0 || n == 1)
        return rc;
    done = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return done;
}

/* What forgetting needs. */
struct forget_scan {
    struct redis_store *rs;
    long long deleted;
    char *err;
    size_t errlen;
};

/* UNLINK one page (an rs_scan page). */
static int
forget_page(void *arg, const redisReply *page)
{
    struct forget_scan *x = arg;
    long long n = unlink_page(x->rs, page, x->err, x->errlen);

    if (n < 0)
        return (int)n;
    x->deleted += n;
    return 0;
}

/* Delete every key of the prefix: SCAN MATCH "<prefix>:*", UNLINK each page. */
int
rs_forget_all(void *impl, long long *deleted, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    struct forget_scan x = {rs, 0, err, errlen};
    char esc[256], pattern[264];
    int rc;

    rs_glob_escape(rs->prefix, esc, sizeof(esc));
    snprintf(pattern, sizeof(pattern), "%s:*", esc);
    rc = rs_scan(rs, pattern, FORGET_ROUNDS, forget_page, &x, err, errlen);
    /* the layout key this process wrote on an empty prefix was no data of anybody's */
    if (x.deleted > 0 && __atomic_exchange_n(&rs->layout_made, 0, __ATOMIC_RELAXED))
        x.deleted--;
    *deleted = x.deleted;
    if (rc == RS_SCAN_MORE) {
        snprintf(err, errlen,
                 "redis %s: %lld keys deleted, more left after %d SCAN calls: run it "
                 "again",
                 rs->name, *deleted, FORGET_ROUNDS);
        return PM_STORE_ERROR;
    }
    return rc < 0 ? rc : PM_STORE_OK;
}
