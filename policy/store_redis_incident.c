/*
 * store_redis_incident.c - the Redis store's incidents (incident.h): a
 * sender's incident read, opened by hand or released, and the senders in
 * incident listed, for postmeterctl incident and the metrics refresher.
 *
 * Each operation is one run of incident.lua, so that reading an incident
 * and dropping its stale index entry, or deleting the hash and the entry,
 * happen at once for every server. The list reads the index
 * "<prefix>:v2:{C}:incidents" of every company (newest first, at most PM_INCIDENTS_MAX), then
 * asks the script about each sender alone (layout 1: LIST_BATCH at a time);
 * in layout 2 the reads are pipelined, RS_PIPELINE commands sent together.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "contract.h"
#include "incident_lua.h"
#include "store_redis_int.h"

#define LIST_BATCH 100 /* senders per run of the script */

/* The index of the senders in incident of the sender's company (layout 1:
 * the one index); NULL on allocation failure. */
static char *
index_key(const struct redis_store *rs, const char *sender)
{
    return rs_company_key(rs, sender, "incidents");
}

/* Fill inc from an HGETALL array of an incident hash of sender. */
static void
incident_fill(struct pm_incident *inc, const char *sender, const redisReply *h)
{
    size_t i;

    memset(inc, 0, sizeof(*inc));
    inc->open = 1;
    snprintf(inc->sender, sizeof(inc->sender), "%s", sender);
    for (i = 0; i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str, *v = h->element[i + 1]->str;

        if (h->element[i]->type != REDIS_REPLY_STRING ||
            h->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(f, "at") == 0)
            inc->at = strtoll(v, NULL, 10);
        else if (strcmp(f, "until") == 0)
            inc->until = strtoll(v, NULL, 10);
        else if (strcmp(f, "held") == 0)
            inc->held = strtoll(v, NULL, 10);
        else if (strcmp(f, "signal") == 0)
            snprintf(inc->signal, sizeof(inc->signal), "%s", v);
        else if (strcmp(f, "figures") == 0)
            snprintf(inc->figures, sizeof(inc->figures), "%s", v);
        else if (strcmp(f, "by") == 0)
            snprintf(inc->by, sizeof(inc->by), "%s", v);
        else if (strcmp(f, "note") == 0)
            snprintf(inc->note, sizeof(inc->note), "%s", v);
        else if (strcmp(f, "ids") == 0)
            snprintf(inc->ids, sizeof(inc->ids), "%s", v);
    }
}

/* Run incident.lua for one sender with op (open: o); *result and, when it
 * found one, inc; *now store time. */
static int
incident_run(struct redis_store *rs, const char *op, const char *sender,
             const struct pm_incident_open *o, int *result, struct pm_incident *inc, long long *now,
             char *err, size_t errlen)
{
    const char *keys[PM_IK_COUNT], *args[PM_IA_COUNT];
    char *index = index_key(rs, sender), *inc_key = rs_key(rs, 's', sender, "inc"), secs[24];
    char *ir_key = rs_key(rs, 's', sender, "ir");
    redisReply *r = NULL;
    int rc = PM_STORE_ERROR;

    memset(inc, 0, sizeof(*inc));
    if (!index || !inc_key || !ir_key) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(secs, sizeof(secs), "%lld", o ? o->secs : 0);
    keys[PM_IK_INDEX] = index;
    keys[PM_IK_IR] = ir_key;
    keys[PM_IK_INC] = inc_key;
    args[PM_IA_CLOCK] = NULL; /* rs_script's */
    args[PM_IA_OP] = op;
    args[PM_IA_BY] = o && o->by ? o->by : "";
    args[PM_IA_NOTE] = o && o->note ? o->note : "";
    args[PM_IA_SECS] = secs;
    args[PM_IA_FORCE] = o && o->force ? "1" : "0";
    args[PM_IA_SENDER] = sender;
    if ((rc = rs_script(rs, pm_incident_lua, PM_IK_COUNT, keys, PM_IA_COUNT, args, &r, err,
                        errlen)) < 0)
        goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < PM_IR_FIELDS ||
        r->element[PM_IR_NOW]->type != REDIS_REPLY_INTEGER ||
        r->element[PM_IR_RESULT]->type != REDIS_REPLY_INTEGER ||
        (r->elements > PM_IR_FIELDS && r->element[PM_IR_FIELDS]->type != REDIS_REPLY_ARRAY)) {
        snprintf(err, errlen, "redis %s: unexpected reply from the incident script", rs->name);
        rc = PM_STORE_ERROR;
        goto out;
    }
    if (now)
        *now = r->element[PM_IR_NOW]->integer;
    *result = (int)r->element[PM_IR_RESULT]->integer;
    if (r->elements > PM_IR_FIELDS)
        incident_fill(inc, sender, r->element[PM_IR_FIELDS]);
    rc = PM_STORE_OK;
out:
    if (r)
        freeReplyObject(r);
    free(index);
    free(inc_key);
    free(ir_key);
    return rc;
}

/* A sender's incident. */
int
rs_incident_get(void *impl, const char *sender, struct pm_incident *inc, long long *now, char *err,
                size_t errlen)
{
    int found;

    return incident_run(impl, "get", sender, NULL, &found, inc, now, err, errlen);
}

/* Open an incident by hand (the sender's company announced to the registry). */
int
rs_incident_open(void *impl, const char *sender, const struct pm_incident_open *o, int *opened,
                 struct pm_incident *inc, char *err, size_t errlen)
{
    size_t tl;
    const char *tag = pm_keys_tag(sender, &tl);
    char *company = strndup(tag, tl);
    int rc;

    if (!company) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    /* first the registry, so that incident list finds what the open makes */
    rc = rs_announce(impl, (const char *const *)&company, 1, NULL, err, errlen);
    free(company);
    if (rc < 0)
        return rc;
    return incident_run(impl, "open", sender, o, opened, inc, NULL, err, errlen);
}

/* End a sender's incident: its hash and its index entry at once. */
int
rs_incident_release(void *impl, const char *sender, struct pm_incident *was, char *err,
                    size_t errlen)
{
    int found;

    return incident_run(impl, "release", sender, NULL, &found, was, NULL, err, errlen);
}

/* Pass the senders in incident of a "list" run's reply r to each; *now
 * store time. 0, 1 when each asked to stop, or a failure. */
static int
list_reply(struct redis_store *rs, const redisReply *r,
           int (*each)(void *arg, const struct pm_incident *inc), void *arg, long long *now,
           char *err, size_t errlen)
{
    struct pm_incident inc;
    size_t i;
    int rc;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < PM_IR_FIELDS ||
        r->element[PM_IR_NOW]->type != REDIS_REPLY_INTEGER ||
        r->element[PM_IR_RESULT]->type != REDIS_REPLY_INTEGER ||
        (r->elements - PM_IR_FIELDS) != 2 * (size_t)r->element[PM_IR_RESULT]->integer) {
        snprintf(err, errlen, "redis %s: unexpected reply from the incident script", rs->name);
        return PM_STORE_ERROR;
    }
    *now = r->element[PM_IR_NOW]->integer;
    for (i = PM_IR_FIELDS, rc = 0; i + 1 < r->elements && rc == 0; i += 2) {
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            r->element[i + 1]->type != REDIS_REPLY_ARRAY)
            continue;
        incident_fill(&inc, r->element[i]->str, r->element[i + 1]);
        rc = each(arg, &inc) != 0;
    }
    return rc;
}

/* Ask incident.lua about n senders of one index (senders[0..n-1], of one
 * company in layout 2); pass those in incident to each. 0, 1 when each
 * asked to stop, or a failure. */
static int
list_batch(struct redis_store *rs, const char *const *senders, size_t n,
           int (*each)(void *arg, const struct pm_incident *inc), void *arg, long long *now,
           char *err, size_t errlen)
{
    const char **keys = calloc(PM_IK_COUNT + n, sizeof(*keys));
    const char **args = calloc(PM_IA_COUNT + n, sizeof(*args));
    char *index = n ? index_key(rs, senders[0]) : NULL;
    redisReply *r = NULL;
    size_t i;
    int rc = PM_STORE_ERROR;

    if (!keys || !args || !index)
        goto oom;
    keys[PM_IK_INDEX] = index;
    args[PM_IA_CLOCK] = NULL; /* rs_script's */
    args[PM_IA_OP] = "list";
    args[PM_IA_BY] = args[PM_IA_NOTE] = args[PM_IA_SECS] = args[PM_IA_FORCE] = "";
    if (n == 0 || !(keys[PM_IK_IR] = rs_key(rs, 's', senders[0], "ir")))
        goto oom;
    for (i = 0; i < n; i++) {
        args[PM_IA_SENDER + i] = senders[i];
        if (!(keys[PM_IK_INC + i] = rs_key(rs, 's', senders[i], "inc")))
            goto oom;
    }
    if ((rc = rs_script(rs, pm_incident_lua, (int)(PM_IK_INC + n), keys, (int)(PM_IA_SENDER + n),
                        args, &r, err, errlen)) < 0)
        goto out;
    rc = list_reply(rs, r, each, arg, now, err, errlen);
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    rc = PM_STORE_ERROR;
out:
    if (r)
        freeReplyObject(r);
    if (keys) {
        free((char *)keys[PM_IK_IR]);
        for (i = 0; i < n; i++)
            free((char *)keys[PM_IK_INC + i]);
    }
    free(keys);
    free(args);
    free(index);
    return rc;
}

/* An index entry of layout 2: a sender, when its incident opened. */
struct entry {
    const char *sender;
    double at;
};

/* qsort's order of entries: the latest opened first, then as ZREVRANGE. */
static int
entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->at != y->at)
        return x->at < y->at ? 1 : -1;
    return -strcmp(x->sender, y->sender);
}

/* The words of one "list" run of incident.lua about sender alone (its
 * company's index): EVAL, the script, the key count, PM_IK_INC + 1 keys
 * and PM_IA_SENDER + 1 arguments. */
#define ONE_ARGC (3 + PM_IK_INC + 1 + PM_IA_SENDER + 1)
#define ONE_CLOCK (3 + PM_IK_INC + 1 + PM_IA_CLOCK) /* the test clock's place */

/* Fill argv (ONE_ARGC words) for sender; 0, or -1 on allocation failure
 * (one_free frees what it made either way). */
static int
one_argv(struct redis_store *rs, const char *sender, const char *nkeys, const char **argv)
{
    const char **keys = argv + 3, **args = argv + 3 + PM_IK_INC + 1;

    argv[0] = "EVAL";
    argv[1] = pm_incident_lua;
    argv[2] = nkeys;
    keys[PM_IK_INDEX] = index_key(rs, sender);
    keys[PM_IK_IR] = rs_key(rs, 's', sender, "ir");
    keys[PM_IK_INC] = rs_key(rs, 's', sender, "inc");
    args[PM_IA_CLOCK] = NULL; /* rs_call_many's */
    args[PM_IA_OP] = "list";
    args[PM_IA_BY] = args[PM_IA_NOTE] = args[PM_IA_SECS] = args[PM_IA_FORCE] = "";
    args[PM_IA_SENDER] = sender;
    return keys[PM_IK_INDEX] && keys[PM_IK_IR] && keys[PM_IK_INC] ? 0 : -1;
}

/* Free the key names one_argv made. */
static void
one_free(const char **argv)
{
    free((char *)argv[3 + PM_IK_INDEX]);
    free((char *)argv[3 + PM_IK_IR]);
    free((char *)argv[3 + PM_IK_INC]);
}

/* Ask incident.lua about each of n senders alone (each of its own
 * company), RS_PIPELINE runs sent together; pass those in incident to each.
 * 0, 1 when each asked to stop, or a failure. */
static int
list_each(struct redis_store *rs, const struct entry *e, size_t n,
          int (*each)(void *arg, const struct pm_incident *inc), void *arg, long long *now,
          char *err, size_t errlen)
{
    const char **argv = calloc((size_t)RS_PIPELINE * ONE_ARGC, sizeof(*argv)), **pv[RS_PIPELINE];
    int argc[RS_PIPELINE];
    redisReply *r[RS_PIPELINE];
    char nkeys[8];
    size_t i, j, k, made;
    int rc = 0;

    snprintf(nkeys, sizeof(nkeys), "%d", PM_IK_INC + 1);
    for (i = 0; i < n && rc == 0 && argv; i += k) {
        k = n - i < RS_PIPELINE ? n - i : RS_PIPELINE;
        memset(argv, 0, (size_t)RS_PIPELINE * ONE_ARGC * sizeof(*argv));
        for (j = 0, made = 1; j < k; j++) {
            pv[j] = argv + j * ONE_ARGC;
            argc[j] = ONE_ARGC;
            if (one_argv(rs, e[i + j].sender, nkeys, pv[j]) < 0)
                made = 0;
        }
        if (!made) {
            snprintf(err, errlen, "out of memory");
            rc = PM_STORE_ERROR;
        } else if ((rc = rs_call_many(rs, k, argc, pv, ONE_CLOCK, r, err, errlen)) == 0) {
            for (j = 0; j < k; j++) {
                if (rc == 0)
                    rc = list_reply(rs, r[j], each, arg, now, err, errlen);
                freeReplyObject(r[j]);
            }
        }
        for (j = 0; j < k; j++)
            one_free(pv[j]);
    }
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        rc = PM_STORE_ERROR;
    }
    free(argv);
    return rc;
}

/* Each company's index (layout 2): its latest PM_INCIDENTS_MAX entries
 * merged by when they opened, at most PM_INCIDENTS_MAX in all, each sender
 * asked about alone. The indexes are read, and the senders asked about,
 * RS_PIPELINE commands sent together (rs_call_many). */
static int
list_companies(struct redis_store *rs, int (*each)(void *arg, const struct pm_incident *inc),
               void *arg, long long *now, char *err, size_t errlen)
{
    char **co = NULL, last[16];
    const char ***argv = NULL;
    int *argc = NULL;
    redisReply **r = NULL;
    struct entry *e = NULL;
    size_t n = 0, i, j, ne = 0, cap = 0;
    int rc;

    snprintf(last, sizeof(last), "%d", PM_INCIDENTS_MAX - 1);
    if ((rc = rs_companies(rs, RS_COMPANIES_ALL, &co, &n, err, errlen)) < 0)
        return rc;
    if (n && (!(r = calloc(n, sizeof(*r))) || !(argv = calloc(n, sizeof(*argv))) ||
              !(argc = calloc(n, sizeof(*argc)))))
        goto oom;
    for (i = 0; i < n; i++) {
        if (!(argv[i] = calloc(5, sizeof(**argv))))
            goto oom;
        argc[i] = 5;
        argv[i][0] = "ZREVRANGE";
        argv[i][2] = "0";
        argv[i][3] = last;
        argv[i][4] = "WITHSCORES";
        if (!(argv[i][1] = pm_key_company(rs->prefix, PM_LAYOUT_V2, co[i], "incidents")))
            goto oom;
    }
    if (n && (rc = rs_call_many(rs, n, argc, argv, 0, r, err, errlen)) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        for (j = 0; r[i]->type == REDIS_REPLY_ARRAY && j + 1 < r[i]->elements; j += 2) {
            if (r[i]->element[j]->type != REDIS_REPLY_STRING ||
                r[i]->element[j + 1]->type != REDIS_REPLY_STRING)
                continue;
            if (ne == cap) {
                struct entry *g = realloc(e, (cap * 2 + 16) * sizeof(*e));

                if (!g)
                    goto oom;
                e = g;
                cap = cap * 2 + 16;
            }
            e[ne].sender = r[i]->element[j]->str;
            e[ne++].at = strtod(r[i]->element[j + 1]->str, NULL);
        }
    }
    if (ne)
        qsort(e, ne, sizeof(*e), entry_cmp);
    rc = list_each(rs, e, ne < PM_INCIDENTS_MAX ? ne : PM_INCIDENTS_MAX, each, arg, now, err,
                   errlen);
    rc = rc < 0 ? rc : PM_STORE_OK;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    rc = PM_STORE_ERROR;
out:
    rs_many_free(n, argv, argc, r);
    free(e);
    rs_companies_free(co, n);
    return rc;
}

/* The senders in incident, the latest opened first. */
int
rs_incident_list(void *impl, int (*each)(void *arg, const struct pm_incident *inc), void *arg,
                 long long *now, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char *index, last[16];
    const char *argv[4] = {"ZREVRANGE", NULL, "0", last};
    const char *batch[LIST_BATCH];
    redisReply *r = NULL;
    size_t i, j, n;
    int rc;

    if (rs_layout(rs) != PM_LAYOUT_V1) {
        if ((rc = rs_now(rs, now, err, errlen)) < 0)
            return rc;
        return list_companies(rs, each, arg, now, err, errlen);
    }
    argv[1] = index = index_key(rs, "");
    if (!index) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    if ((rc = rs_now(rs, now, err, errlen)) < 0)
        goto out;
    snprintf(last, sizeof(last), "%d", PM_INCIDENTS_MAX - 1);
    if ((rc = rs_call(rs, 4, argv, &r, err, errlen)) < 0)
        goto out;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis %s: unexpected reply to ZREVRANGE", rs->name);
        rc = PM_STORE_ERROR;
        goto out;
    }
    for (i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            snprintf(err, errlen, "redis %s: unexpected reply to ZREVRANGE", rs->name);
            rc = PM_STORE_ERROR;
            goto out;
        }
    for (i = 0, rc = 0; i < r->elements && rc == 0; i += n) {
        n = r->elements - i < LIST_BATCH ? r->elements - i : LIST_BATCH;
        for (j = 0; j < n; j++)
            batch[j] = r->element[i + j]->str;
        rc = list_batch(rs, batch, n, each, arg, now, err, errlen);
    }
    rc = rc < 0 ? rc : PM_STORE_OK;
out:
    if (r)
        freeReplyObject(r);
    free(index);
    return rc;
}
