/*
 * store_redis_incident.c - the Redis store's incidents (incident.h): a
 * sender's incident read, opened by hand or released, and the senders in
 * incident listed, for postmeterctl incident and the metrics refresher.
 *
 * Each operation is one run of incident.lua, so that reading an incident
 * and dropping its stale index entry, or deleting the hash and the entry,
 * happen at once for every server. The list reads the index
 * "<prefix>:v2:{C}:incidents" of every company (newest first, at most PM_INCIDENTS_MAX), then
 * asks the script about its senders LIST_BATCH at a time.
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
    struct pm_incident inc;
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
    if (r->type != REDIS_REPLY_ARRAY || r->elements < PM_IR_FIELDS ||
        r->element[PM_IR_NOW]->type != REDIS_REPLY_INTEGER ||
        r->element[PM_IR_RESULT]->type != REDIS_REPLY_INTEGER ||
        (r->elements - PM_IR_FIELDS) != 2 * (size_t)r->element[PM_IR_RESULT]->integer) {
        snprintf(err, errlen, "redis %s: unexpected reply from the incident script", rs->name);
        rc = PM_STORE_ERROR;
        goto out;
    }
    *now = r->element[PM_IR_NOW]->integer;
    for (i = PM_IR_FIELDS, rc = 0; i + 1 < r->elements && rc == 0; i += 2) {
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            r->element[i + 1]->type != REDIS_REPLY_ARRAY)
            continue;
        incident_fill(&inc, r->element[i]->str, r->element[i + 1]);
        rc = each(arg, &inc) != 0;
    }
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

/* Each company's index (layout 2): its latest PM_INCIDENTS_MAX entries
 * merged by when they opened, at most PM_INCIDENTS_MAX in all, each sender
 * asked about alone. */
static int
list_companies(struct redis_store *rs, int (*each)(void *arg, const struct pm_incident *inc),
               void *arg, long long *now, char *err, size_t errlen)
{
    char **co = NULL, last[16], *key;
    redisReply **r = NULL;
    struct entry *e = NULL;
    size_t n = 0, i, j, ne = 0, cap = 0;
    int rc;

    snprintf(last, sizeof(last), "%d", PM_INCIDENTS_MAX - 1);
    if ((rc = rs_companies(rs, RS_COMPANIES_ALL, &co, &n, err, errlen)) < 0)
        return rc;
    if (n && !(r = calloc(n, sizeof(*r))))
        goto oom;
    for (i = 0; i < n; i++) {
        const char *argv[5] = {"ZREVRANGE", NULL, "0", last, "WITHSCORES"};

        if (!(key = pm_key_company(rs->prefix, PM_LAYOUT_V2, co[i], "incidents")))
            goto oom;
        argv[1] = key;
        rc = rs_call(rs, 5, argv, &r[i], err, errlen);
        free(key);
        if (rc < 0)
            goto out;
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
    for (i = 0, rc = 0; i < ne && i < PM_INCIDENTS_MAX && rc == 0; i++)
        rc = list_batch(rs, &e[i].sender, 1, each, arg, now, err, errlen);
    rc = rc < 0 ? rc : PM_STORE_OK;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    rc = PM_STORE_ERROR;
out:
    for (i = 0; r && i < n; i++)
        if (r[i])
            freeReplyObject(r[i]);
    free(r);
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
