/*
 * store_redis_learn.c - the Redis store's operations for learning first and
 * enforcing later: the installation's learning start ("<prefix>:v1:learning",
 * learning.lua: recorded once, by whichever postmeter starts first).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>

#include <hiredis/hiredis.h>

#include "contract.h"
#include "learning_lua.h"
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

    keys[PM_LK_CLOCK] = rs->clock_key;
    keys[PM_LK_START] = rs->learn_key;
    snprintf(k, sizeof(k), "%lld", keep > 0 ? keep : 86400);
    args[PM_LA_RECORD] = record ? "1" : "0";
    args[PM_LA_KEEP] = k;
    if ((rc = rs_eval(rs, pm_learning_lua, PM_LK_COUNT, keys, PM_LA_COUNT, args, &r, err, errlen)) <
            0 ||
        (rc = ints_of(rs, r, PM_LR_COUNT, "learning", err, errlen)) < 0)
        return rc;
    *now = r->element[PM_LR_NOW]->integer;
    *start = r->element[PM_LR_START]->integer;
    freeReplyObject(r);
    return PM_STORE_OK;
}
