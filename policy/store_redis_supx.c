/*
 * store_redis_supx.c - the Redis store's side of a daemon's copy of the
 * suppression lists (policy/suplocal.c).
 *
 * SYNOPSIS
 *   rs_sup_snapshot(): the stream's last id, then every entry;
 *   rs_sup_follow(): the changes after an id, XREAD BLOCK on the caller's
 *   own connection.
 *
 * DESCRIPTION
 *   Every write of a suppression entry notes it, in the same script, in the
 *   stream "<prefix>:v1:supx" (prelude.lua's supx_note: op, c, a, x), kept
 *   to about RS_SUPX_MAX_TEXT entries. A load reads the stream's last id
 *   first (XREVRANGE + - COUNT 1; "0-0" when there is none), then every
 *   entry (SCAN MATCH "<prefix>:v1:{d:*}:sup:*", 200 entries per script
 *   call), so that a change made during the SCAN is in the stream after that
 *   id and is applied again by the follower: adds and removals are
 *   idempotent, and applied in order they leave what the store holds.
 *
 *   The follower reads with XREAD COUNT 1000 BLOCK on a connection of its
 *   own (not the pool's), whose read timeout is the block plus
 *   redis.command_timeout_ms. After each batch the stream's first id is
 *   read (XRANGE - + COUNT 1): when it is past the id the batch started
 *   after, changes may have been trimmed away unseen, or the stream was
 *   deleted (postmeterctl forget --all, FLUSHALL) and made anew: a gap. A
 *   primary that moved (Sentinel) is a gap too; a broken connection a
 *   failure. Either way the caller loads again.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store_redis_int.h"

#define FOLLOW_COUNT "1000" /* changes read per XREAD */

/* A stream id "ms-seq" as two numbers; -1 when it is not one. */
static int
id_parse(const char *s, unsigned long long *ms, unsigned long long *seq)
{
    char *end;

    errno = 0;
    *ms = strtoull(s, &end, 10);
    if (errno || *end != '-')
        return -1;
    *seq = strtoull(end + 1, &end, 10);
    return errno || *end ? -1 : 0;
}

/* 1 when id a comes after id b (an id that does not parse: 1, the safe way). */
static int
id_after(const char *a, const char *b)
{
    unsigned long long am, as, bm, bs;

    if (id_parse(a, &am, &as) < 0 || id_parse(b, &bm, &bs) < 0)
        return 1;
    return am > bm || (am == bm && as > bs);
}

/* The first (rev 0) or last (rev 1) id of the stream into id ("0-0" when
 * there is none). */
static int
stream_end(struct redis_store *rs, const char *supx, int rev, char *id, size_t idlen, char *err,
           size_t errlen)
{
    const char *argv[6] = {
        rev ? "XREVRANGE" : "XRANGE", supx, rev ? "+" : "-", rev ? "-" : "+", "COUNT", "1"};
    redisReply *r;
    int rc;

    if ((rc = rs_call(rs, 6, argv, &r, err, errlen)) < 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY ||
        (r->elements && (r->element[0]->type != REDIS_REPLY_ARRAY || !r->element[0]->elements ||
                         r->element[0]->element[0]->type != REDIS_REPLY_STRING))) {
        snprintf(err, errlen, "redis %s: unexpected reply to %s", rs->name, argv[0]);
        freeReplyObject(r);
        return PM_STORE_ERROR;
    }
    snprintf(id, idlen, "%s", r->elements ? r->element[0]->element[0]->str : "0-0");
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* What a load passes on. */
struct snap {
    void (*each)(void *arg, const char *company, const char *rcpt, long long expires);
    void *arg;
};

/* One entry of the SCAN: to the caller. */
static int
snap_one(void *arg, const char *company, const char *rcpt, const struct pm_suppressed *e)
{
    struct snap *x = arg;

    x->each(x->arg, company, rcpt, e->until);
    return 0;
}

/* The stream's last id, then every entry. */
int
rs_sup_snapshot(void *impl, char *last, size_t lastlen,
                void (*each)(void *arg, const char *company, const char *rcpt, long long expires),
                void *arg, long long *now, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    struct snap x = {each, arg};
    char *supx = rs_supx_key(rs);
    int rc;

    if (!supx) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    if ((rc = stream_end(rs, supx, 1, last, lastlen, err, errlen)) == PM_STORE_OK &&
        (rc = rs_now(rs, now, err, errlen)) == PM_STORE_OK)
        rc = rs_sup_scan_all(rs, *now, snap_one, &x, err, errlen);
    free(supx);
    return rc;
}

/* The value of field name in a stream entry's [field, value, ...]; "" none. */
static const char *
field(const redisReply *f, const char *name)
{
    size_t i;

    for (i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING &&
            f->element[i + 1]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0)
            return f->element[i + 1]->str;
    return "";
}

/* Apply the entries of an XREAD reply and move last on; PM_STORE_OK or
 * PM_STORE_ERROR (an unexpected reply). */
static int
apply(const redisReply *r, char *last, size_t lastlen,
      void (*each)(void *, int, const char *, const char *, long long), void *arg)
{
    const redisReply *entries;
    size_t i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
        r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
        return PM_STORE_ERROR;
    entries = r->element[0]->element[1];
    for (i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i], *f;
        const char *op, *c, *a;

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            return PM_STORE_ERROR;
        f = e->element[1];
        op = field(f, "op"), c = field(f, "c"), a = field(f, "a");
        if (*c && *a && (strcmp(op, "add") == 0 || strcmp(op, "del") == 0))
            each(arg, op[0] == 'a', c, a, strtoll(field(f, "x"), NULL, 10));
        snprintf(last, lastlen, "%s", e->element[0]->str);
    }
    return PM_STORE_OK;
}

/* Close the follower's connection: a new one is opened next time. */
static void
follow_drop(struct redis_store *rs)
{
    rs_conn_close(rs->follow);
    rs->follow = NULL;
}

/* Wait up to block_ms for changes after last; see store.h. */
int
rs_sup_follow(void *impl, char *last, size_t lastlen, int block_ms,
              void (*each)(void *arg, int add, const char *company, const char *rcpt,
                           long long expires),
              void *arg, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char *supx = rs_supx_key(rs), before[64], ms[24], head[64];
    const char *argv[8] = {"XREAD", "COUNT", FOLLOW_COUNT, "BLOCK", ms, "STREAMS", supx, last};
    redisReply *r = NULL;
    sigset_t old;
    int pend, rc = PM_STORE_ERROR;

    if (!supx) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    if (rs->follow && rs_conn_moved(rs, rs->follow)) {
        follow_drop(rs);
        snprintf(err, errlen, "redis %s: the primary moved", rs->name);
        rc = PM_STORE_GAP;
        goto out;
    }
    if (!rs->follow) {
        if (!(rs->follow = rs_conn_own(rs, err, errlen))) {
            rc = PM_STORE_RETRY;
            goto out;
        }
        redisSetTimeout(rs->follow->c, pm_redis_tv(block_ms + rs->command_ms));
    }
    snprintf(ms, sizeof(ms), "%d", block_ms);
    snprintf(before, sizeof(before), "%s", last);
    pm_redis_pipe_block(&old, &pend);
    r = redisCommandArgv(rs->follow->c, 8, argv, NULL);
    if (!r)
        pm_redis_io_error(&rs->link, rs->follow->c, errno, err, errlen);
    pm_redis_pipe_restore(&old, pend);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            snprintf(err, errlen, "redis %s: XREAD: %s", rs->name, r->str);
        rc = r ? rs_reply_rc(r) : PM_STORE_RETRY;
        follow_drop(rs);
        goto out;
    }
    if (r->type == REDIS_REPLY_NIL) { /* nothing within block_ms */
        rc = PM_STORE_OK;
        goto out;
    }
    if (apply(r, last, lastlen, each, arg) != PM_STORE_OK) {
        snprintf(err, errlen, "redis %s: unexpected reply to XREAD", rs->name);
        follow_drop(rs);
        goto out;
    }
    /* the stream's first entry past where this batch started: some were lost */
    if ((rc = stream_end(rs, supx, 0, head, sizeof(head), err, errlen)) == PM_STORE_OK &&
        id_after(head, before)) {
        snprintf(err, errlen, "redis %s: the stream of suppression changes starts at %s, after %s",
                 rs->name, head, before);
        rc = PM_STORE_GAP;
    }
out:
    if (r)
        freeReplyObject(r);
    free(supx);
    return rc;
}
