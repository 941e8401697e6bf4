/*
 * store_redis_layout.c - which key layout the Redis store builds its names
 * for (store_redis_keys.h, doc/redis-keys.md).
 *
 * "<prefix>:layout" holds it: absent or "1", layout 1; "2m", layout 2 while
 * postmeterctl migrate moves the data (the scripts adopt the layout 1 keys
 * they touch: prelude.lua); "2", layout 2. A store learns it on its first
 * connection: when the key is absent and no "<prefix>:v1:*" key exists but
 * the test clock (a new install), it SETs "2" (NX, so that two daemons
 * starting at once agree); otherwise it runs
 * layout 1 until migrate. Every script checks the layout it was built for
 * against the key (the guard, prelude.lua) and refuses with "LAYOUT
 * <value>" when they differ: the store then takes the new layout, rebuilds
 * its names and asks again. A refusal for want of the key ("LAYOUT 1" to a
 * store of layout 2: the data was lost, a Redis restarted empty) sends the
 * store through the start rule again.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store_redis_int.h"

#define START_SCANS 10 /* SCAN calls (COUNT 1000) the start rule makes at most */

/* What this thread built names for since its last refusal: the store, the
 * first layout rs_layout() gave it, whether another came since, whether a
 * script refused its names (the guard sends what names were built for: a
 * flip of the store's layout by another thread between building a call's
 * names and sending it must not pass). */
static __thread const struct redis_store *tl_rs;
static __thread int tl_first, tl_mixed, tl_refused;

/* Note that this thread builds names for layout l of rs. */
static void
tl_note(const struct redis_store *rs, int l)
{
    if (tl_rs != rs || !tl_first) {
        tl_rs = rs;
        tl_first = l;
        tl_mixed = 0;
    } else if (l != tl_first)
        tl_mixed = 1;
}

/* Set the store's layout from a value of the layout key (NULL: absent). */
static void
layout_from(struct redis_store *rs, const char *v)
{
    int l = v && v[0] == '2' ? PM_LAYOUT_V2 : PM_LAYOUT_V1;

    __atomic_store_n(&rs->layout, l, __ATOMIC_RELAXED);
}

/* The layout the store's names are built for. */
int
rs_layout(const struct redis_store *crs)
{
    struct redis_store *rs = (struct redis_store *)crs; /* the pool's state changes */
    int l = __atomic_load_n(&rs->layout, __ATOMIC_RELAXED);
    char err[256];

    if (l) {
        tl_note(rs, l);
        return l;
    }
    if (rs_layout_learn(rs, err, sizeof(err)) < 0) {
        /* no backoff for this attempt: the operation's own connect tells why */
        pthread_mutex_lock(&rs->mu);
        rs->retry_at_ms = 0;
        pthread_mutex_unlock(&rs->mu);
    }
    l = __atomic_load_n(&rs->layout, __ATOMIC_RELAXED);
    /* Redis out of reach: any layout, the guard refuses a wrong one */
    l = l ? l : PM_LAYOUT_V2;
    tl_note(rs, l);
    return l;
}

/* The layout this thread's names were built for (0: both). */
int
rs_layout_named(const struct redis_store *rs)
{
    if (tl_rs != rs || !tl_first)
        return rs_layout(rs);
    return tl_mixed ? 0 : tl_first;
}

/* 1 once after a script refused this thread's names. */
int
rs_layout_was_refused(const struct redis_store *rs)
{
    int r = tl_refused && tl_rs == rs;

    tl_refused = 0;
    return r;
}

/* Learn the layout when it is not known yet (see store_redis_int.h). */
int
rs_layout_learn(struct redis_store *rs, char *err, size_t errlen)
{
    struct rs_conn *cn;

    if (__atomic_load_n(&rs->layout, __ATOMIC_RELAXED))
        return 0;
    if (!(cn = rs_pool_get(rs, err, errlen))) /* a new connection learns it */
        return -1;
    if (rs_layout_discover(rs, cn->c, err, errlen) < 0) { /* an older one: here */
        rs_pool_put(rs, cn, err);
        return -1;
    }
    rs_pool_put(rs, cn, NULL);
    return 0;
}

/* 1 when the prefix holds a layout 1 key other than the test clock (or the
 * scan did not end in START_SCANS calls), 0 when none, -1 on failure. */
static int
v1_present(struct redis_store *rs, redisContext *c)
{
    char esc[160], *pattern, *base = pm_key_base(rs->prefix, PM_LAYOUT_V1), cursor[32] = "0";
    redisReply *r;
    int calls, found = 0, failed = 1;
    size_t i;

    rs_glob_escape(rs->prefix, esc, sizeof(esc));
    if (!base || !(pattern = malloc(strlen(esc) + 8))) {
        free(base);
        return -1;
    }
    sprintf(pattern, "%s:v1:*", esc);
    for (calls = 0; calls < START_SCANS && !found; calls++) {
        const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};

        if (!(r = redisCommandArgv(c, 6, argv, NULL)))
            break;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            break;
        }
        for (i = 0; i < r->element[1]->elements; i++)
            if (strcmp(r->element[1]->element[i]->str, rs->clock_key[PM_LAYOUT_V1]) != 0)
                found = 1;
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        freeReplyObject(r);
        if (strcmp(cursor, "0") == 0) {
            failed = 0;
            break;
        }
    }
    free(pattern);
    free(base);
    if (found)
        return 1;
    if (calls == START_SCANS)
        return 1; /* not seen whole: assume data */
    return failed ? -1 : 0;
}

/* GET the layout key on c into *v (NULL: absent; the caller frees it with
 * freeReplyObject(*rep)); 0, or -1. */
static int
layout_get(struct redis_store *rs, redisContext *c, redisReply **rep)
{
    const char *argv[2] = {"GET", rs->layout_key};

    *rep = redisCommandArgv(c, 2, argv, NULL);
    if (*rep && (*rep)->type != REDIS_REPLY_STRING && (*rep)->type != REDIS_REPLY_NIL) {
        freeReplyObject(*rep);
        *rep = NULL;
    }
    return *rep ? 0 : -1;
}

/* Learn the layout on a new connection (see store_redis_int.h). */
int
rs_layout_discover(struct redis_store *rs, redisContext *c, char *err, size_t errlen)
{
    redisReply *r = NULL, *x;
    int v1;

    if (__atomic_load_n(&rs->layout, __ATOMIC_RELAXED))
        return 0;
    if (layout_get(rs, c, &r) < 0)
        goto fail;
    if (r->type == REDIS_REPLY_NIL) {
        if ((v1 = v1_present(rs, c)) < 0)
            goto fail;
        if (!v1) {
            const char *set[4] = {"SET", rs->layout_key, "2", "NX"};

            if (!(x = redisCommandArgv(c, 4, set, NULL)))
                goto fail;
            if (x->type == REDIS_REPLY_STATUS)
                __atomic_store_n(&rs->layout_made, 1, __ATOMIC_RELAXED);
            freeReplyObject(x);
            freeReplyObject(r);
            if (layout_get(rs, c, &r) < 0)
                goto fail;
        }
    }
    layout_from(rs, r->type == REDIS_REPLY_STRING ? r->str : NULL);
    freeReplyObject(r);
    return 0;
fail:
    if (r)
        freeReplyObject(r);
    snprintf(err, errlen, "redis %s: the key layout (%s) cannot be read%s%s", rs->name,
             rs->layout_key, c->err ? ": " : "", c->err ? c->errstr : "");
    return -1;
}

/* 1 when r is a script's "LAYOUT <value>" refusal (the layout is set from it). */
int
rs_layout_refused(struct redis_store *rs, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "LAYOUT ", 7) != 0)
        return 0;
    tl_rs = rs; /* names anew */
    tl_first = 0;
    tl_refused = 1;
    if (r->str[7] == '2')
        layout_from(rs, r->str + 7);
    else /* no layout key: data lost (a Redis restarted empty, forget --all): the start rule again
          */
        __atomic_store_n(&rs->layout, 0, __ATOMIC_RELAXED);
    return 1;
}
