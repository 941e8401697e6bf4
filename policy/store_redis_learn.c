/*
 * store_redis_learn.c - the Redis store's operations for learning first and
 * enforcing later: the installation's learning start ("<prefix>:v2:{@}:learning",
 * learning.lua: recorded once, by whichever postmeter starts first) and the
 * contacts postmeterctl learn reads from Postfix's logs (seed.lua: into the
 * sender's "ct", and the company's with contacts.company_wide, where newer).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "contract.h"
#include "learning_lua.h"
#include "seed_lua.h"
#include "store_redis_int.h"

/* An array reply of n integers, or PM_STORE_ERROR (r freed) with err set. */
static int
ints_of(struct redis_store *rs, redisReply *r, size_t n, const char *what, char *err, size_t errlen)
{
    size_t i;

    if (r->type == REDIS_REPLY_ARRAY && r->elements == n) {
        for (i = 0; i < n && r->element[i]->type == REDIS_REPLY_INTEGER; i++)
            ;
        if (i == n)
            return PM_STORE_OK;
    }
    snprintf(err, errlen, "redis %s: unexpected reply from the %s script", rs->name, what);
    freeReplyObject(r);
    return PM_STORE_ERROR;
}

/* The learning start, recorded when asked and none is kept (learning.lua). */
int
rs_learning(void *impl, int record, long long keep, long long *start, long long *now, char *err,
            size_t errlen)
{
    struct redis_store *rs = impl;
    const char *keys[PM_LK_COUNT], *args[PM_LA_COUNT];
    char k[24];
    redisReply *r;
    int rc;

    keys[PM_LK_START] = rs->learn_key[rs_layout(rs)];
    snprintf(k, sizeof(k), "%lld", keep > 0 ? keep : 86400);
    args[PM_LA_CLOCK] = NULL; /* rs_script's */
    args[PM_LA_RECORD] = record ? "1" : "0";
    args[PM_LA_KEEP] = k;
    if ((rc = rs_script(rs, pm_learning_lua, PM_LK_COUNT, keys, PM_LA_COUNT, args, &r, err,
                        errlen)) < 0 ||
        (rc = ints_of(rs, r, PM_LR_COUNT, "learning", err, errlen)) < 0)
        return rc;
    *now = r->element[PM_LR_NOW]->integer;
    *start = r->element[PM_LR_START]->integer;
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* Write one sender's contacts learned from logs (seed.lua). */
int
rs_seed(void *impl, const struct pm_seed_req *req, struct pm_seed_res *res, char *err,
        size_t errlen)
{
    struct redis_store *rs = impl;
    const char *keys[PM_SK_COUNT];
    const char **args = malloc((PM_SA_COUNT + 2 * req->n) * sizeof(*args));
    char *ct = rs_key(rs, 's', req->sender, "ct");
    int company = req->domain && *req->domain; /* without it, dct is not declared at all: a key
                                                * outside the prefix ("") fails a Redis ACL */
    char *dct = company ? rs_key(rs, 'd', req->domain, "ct") : NULL;
    char ttl[24], max[24], (*days)[24] = calloc(req->n ? req->n : 1, sizeof(*days));
    redisReply *r;
    size_t i;
    int rc = PM_STORE_ERROR;

    if (!args || !ct || (company && !dct) || !days) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    keys[PM_SK_CT] = ct;
    keys[PM_SK_DCT] = dct;
    snprintf(ttl, sizeof(ttl), "%d", req->ttl_days > 0 ? req->ttl_days : 365);
    snprintf(max, sizeof(max), "%lld", req->max > 0 ? req->max : 50000);
    args[PM_SA_CLOCK] = NULL; /* rs_script's */
    args[PM_SA_CT_TTL] = ttl;
    args[PM_SA_CT_MAX] = max;
    for (i = 0; i < req->n; i++) {
        snprintf(days[i], sizeof(days[i]), "%lld", req->days[i]);
        args[PM_SA_COUNT + 2 * i] = req->hashes[i];
        args[PM_SA_COUNT + 2 * i + 1] = days[i];
    }
    if ((rc = rs_script(rs, pm_seed_lua, company ? PM_SK_COUNT : PM_SK_DCT, keys,
                        (int)(PM_SA_COUNT + 2 * req->n), args, &r, err, errlen)) < 0 ||
        (rc = ints_of(rs, r, PM_SR_COUNT, "seed", err, errlen)) < 0)
        goto out;
    res->now = r->element[PM_SR_NOW]->integer;
    res->added = r->element[PM_SR_ADDED]->integer;
    res->newer = r->element[PM_SR_NEWER]->integer;
    res->old = r->element[PM_SR_OLD]->integer;
    freeReplyObject(r);
out:
    free(args);
    free(ct);
    free(dct);
    free(days);
    return rc;
}
