/*
 * store_redis_supx.c - the Redis store's side of a daemon's copy of the
 * suppression lists (policy/suplocal.c).
 *
 * SYNOPSIS
 *   rs_sup_snapshot(): the stream's last id, the intents open, every entry;
 *   rs_sup_follow(): the changes after an id (XREAD BLOCK).
 *
 * DESCRIPTION
 *   Every write of a suppression entry is noted by the writer's C code in
 *   the stream "<prefix>:v2:{@}:supx" (store_redis_supnote.c: fields op, c,
 *   a, x), kept to about RS_SUPX_MAX_TEXT entries: an intent "chk" before
 *   the script that may change the entry, then "add" (x its expiry), "del"
 *   or "end" (nothing changed) once it ran. No script writes the stream:
 *   under Redis Cluster it sits in another slot than the entries. A load
 *   reads the stream's last id first (XREVRANGE + - COUNT 1; "0-0" when
 *   there is none), then the notes of the minute before it (pages of 1,000,
 *   at most REWIND_NOTES), whose intents not closed by then are open at the
 *   load (a writer between its notes may write the entry after the SCAN
 *   passed it, and die before its final note), then every entry: SCAN MATCH "<prefix>:v2:{*}:sup:*"
 * (COUNT 1000, at most SCAN_ROUNDS calls; the caller's stop asked before each page), each page's
 * PTTLs pipelined with a read of the store's clock (the page's entries expire by it: a long load
 * does not shorten the last ones), so that a change made during the SCAN is in the stream after
 * that id and is applied again by the follower: adds and removals are idempotent, and applied in
 * order they leave what the store holds.
 *
 *   Both run on a connection of the follower's own (rs->follow, not the
 *   pool's: a load or a blocked XREAD never takes a connection from the
 *   mail, nor counts in its metrics), opened when needed and dropped after
 *   any failure. XREAD COUNT 1000 BLOCK block_ms; the read timeout is the
 *   block plus redis.command_timeout_ms. After each batch the stream's first
 *   id is read (XRANGE - + COUNT 1): when it is past the id the batch started
 *   after, changes may have been trimmed away unseen, or the stream was
 *   deleted (postmeterctl forget --all, FLUSHALL) and made anew: a gap.
 *   When the caller reads the clock (every 10 s), the stream's last id is
 *   read too (XREVRANGE + - COUNT 1): an entry before ours means the stream
 *   was made anew with lower ids (a Redis whose clock is behind the old
 *   one's), whose changes XREAD after ours skips: a gap. A primary the
 *   Sentinels named since the connection was opened is a gap too, and so is
 *   a change of the key layout since the load (layout 1 names the stream
 *   "<prefix>:v1:supx", its entries "<prefix>:v1:{d:<company>}:sup:*"; the
 *   store's names follow the layout, store_redis_layout.c). Either way, and
 *   after a failure, the caller loads again.
 *
 *   On a Redis Cluster the load scans every primary in turn: it reads the
 *   slot map afresh first and fails unless every slot has a primary (a
 *   primary unknown would leave its entries out), and fails too when an
 *   owner changed before its end (a slot moved from a primary not scanned
 *   yet to one scanned); the caller loads again after its backoff. A slot
 *   whose owner changes after the load is a gap too: a load that ran while
 *   the slot was moving, before the map said so, may have missed the
 *   entries moved between two primaries' SCANs. An error MOVED, ASK or
 *   CLUSTERDOWN on the follower's connection marks the map stale, so that
 *   the next connection goes to the new owner of {@}.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store_redis_int.h"
#include "suplocal.h"

#define FOLLOW_COUNT "1000" /* changes read per XREAD */
#define SCAN_ROUNDS 100000  /* bound on SCAN calls of a load (each sees about 1000 keys) */
#define REWIND_MS 60000ULL  /* a load reads the notes of the minute before its start, */
#define REWIND_NOTES 10000  /* at most this many, */
#define REWIND_PAGE "1000"  /* read this many at a time */
#define REWIND_PAGE_N 1000

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

/* Close the follower's connection: a new one is opened next time. */
static void
own_drop(struct redis_store *rs)
{
    rs_conn_close(rs->follow);
    rs->follow = NULL;
}

/* The follower's connection, opened when there is none; NULL with err set. */
static redisContext *
own(struct redis_store *rs, char *err, size_t errlen)
{
    if (!rs->follow && !(rs->follow = rs_conn_own(rs, err, errlen)))
        return NULL;
    return rs->follow->c;
}

/* 1 when an error reply says the command's slot is served elsewhere, or
 * not at all (MOVED, ASK, CLUSTERDOWN). */
static int
redirected(const char *e)
{
    return strncmp(e, "MOVED ", 6) == 0 || strncmp(e, "ASK ", 4) == 0 ||
           strncmp(e, "CLUSTERDOWN", 11) == 0;
}

/* Read n replies of commands appended to the follower's connection into
 * out[] (n 1: a plain command); PM_STORE_OK, or a failure with every reply
 * freed (out[] NULL) and the connection dropped (an error reply too: it may
 * be a blocked XREAD that a primary turned replica unblocked). */
static int
own_replies(struct redis_store *rs, size_t n, redisReply **out, char *err, size_t errlen)
{
    sigset_t old;
    size_t i, got = 0;
    int pend, rc = PM_STORE_OK;
    void *r;

    pm_redis_pipe_block(&old, &pend);
    for (got = 0; got < n; got++) {
        if (redisGetReply(rs->follow->c, &r) != REDIS_OK) {
            pm_redis_io_error(&rs->link, rs->follow->c, errno, err, errlen);
            rc = PM_STORE_RETRY;
            break;
        }
        out[got] = r;
        if (out[got]->type == REDIS_REPLY_ERROR && rc == PM_STORE_OK) {
            snprintf(err, errlen, "redis %s: %s", rs->name, out[got]->str);
            rc = rs_reply_rc(out[got]);
            if (rs->cl && redirected(out[got]->str))
                rs_route_stale(rs); /* the next connection goes to the slot's owner now */
        }
    }
    pm_redis_pipe_restore(&old, pend);
    if (rc != PM_STORE_OK) {
        for (i = 0; i < got; i++) {
            freeReplyObject(out[i]);
            out[i] = NULL;
        }
        own_drop(rs);
    }
    return rc;
}

/* Run one command on the follower's connection within timeout_ms; its reply
 * (never an error reply) in *out, or a failure. */
static int
own_call(struct redis_store *rs, int timeout_ms, int argc, const char **argv, redisReply **out,
         char *err, size_t errlen)
{
    redisContext *c = own(rs, err, errlen);

    *out = NULL;
    if (!c)
        return PM_STORE_RETRY;
    redisSetTimeout(c, pm_redis_tv(timeout_ms));
    if (redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK) {
        snprintf(err, errlen, "redis %s: out of memory", rs->name);
        own_drop(rs);
        return PM_STORE_ERROR;
    }
    return own_replies(rs, 1, out, err, errlen);
}

/* The test clock offset, the clock script's argument, into buf: "0", or
 * with redis.test_clock the clock key's value read on the follower's
 * connection (as rs_clock_arg on a pooled one). */
static int
own_clock(struct redis_store *rs, char *buf, size_t len, char *err, size_t errlen)
{
    const char *argv[2] = {"GET", rs->clock_key[rs_layout(rs)]};
    redisReply *r;
    int rc;

    snprintf(buf, len, "0");
    if (!rs->test_clock)
        return PM_STORE_OK;
    /* on a cluster the follower's connection may be another slot's primary's */
    if ((rc = rs->cl ? rs_call(rs, 2, argv, &r, err, errlen)
                     : own_call(rs, rs->command_ms, 2, argv, &r, err, errlen)) < 0)
        return rc;
    if (r->type == REDIS_REPLY_STRING && r->len < len)
        snprintf(buf, len, "%s", r->str);
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* Store time now (the scripts' clock), on the follower's connection. */
static int
own_now(struct redis_store *rs, long long *now, char *err, size_t errlen)
{
    char clock[RS_CLOCK_LEN];
    const char *argv[4] = {"EVAL", rs->now_lua, "0", clock};
    redisReply *r;
    int rc;

    if ((rc = own_clock(rs, clock, sizeof(clock), err, errlen)) < 0 ||
        (rc = own_call(rs, rs->command_ms, 4, argv, &r, err, errlen)) < 0)
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? PM_STORE_OK : PM_STORE_ERROR;
    if (rc == PM_STORE_OK)
        *now = r->integer;
    else
        snprintf(err, errlen, "redis %s: unexpected reply to the clock script", rs->name);
    freeReplyObject(r);
    return rc;
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

    if ((rc = own_call(rs, rs->command_ms, 6, argv, &r, err, errlen)) < 0)
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

/* The entries of one SCAN page: their PTTLs pipelined with the store's
 * clock (into *now, by which the page's expiry is stamped: a long load does
 * not shorten the entries of its last pages), each live one to each. */
static int
load_page(struct redis_store *rs, const redisReply *page, long long *now,
          void (*each)(void *, const char *, const char *, long long), void *arg, char *err,
          size_t errlen)
{
    size_t i, n = page->elements;
    char offset[RS_CLOCK_LEN];
    const char *clock[4] = {"EVAL", rs->now_lua, "0", offset};
    redisReply **r;
    int rc = PM_STORE_OK;

    if (!n)
        return PM_STORE_OK;
    /* the test clock offset first: a round trip more, with redis.test_clock only */
    if ((rc = own_clock(rs, offset, sizeof(offset), err, errlen)) < 0)
        return rc;
    if (!(r = calloc(n + 1, sizeof(*r)))) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    redisSetTimeout(rs->follow->c, pm_redis_tv(rs->command_ms));
    for (i = 0; i <= n && rc == PM_STORE_OK; i++) {
        const char *argv[2] = {"PTTL", i < n ? page->element[i]->str : ""};

        if (redisAppendCommandArgv(rs->follow->c, i < n ? 2 : 4, i < n ? argv : clock, NULL) !=
            REDIS_OK) {
            snprintf(err, errlen, "redis %s: out of memory", rs->name);
            own_drop(rs);
            rc = PM_STORE_ERROR;
        }
    }
    if (rc == PM_STORE_OK && (rc = own_replies(rs, n + 1, r, err, errlen)) == PM_STORE_OK &&
        r[n]->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "redis %s: unexpected reply to the clock script", rs->name);
        own_drop(rs);
        rc = PM_STORE_ERROR;
    }
    if (rc == PM_STORE_OK)
        *now = r[n]->integer;
    for (i = 0; i <= n && r[n]; i++) { /* every reply, or none (a failure freed them) */
        if (rc == PM_STORE_OK && i < n) {
            char company[PM_SUPLOCAL_KEY_MAX]; /* longer: never asked about (suplocal.h) */
            const char *rcpt;

            if (r[i]->type == REDIS_REPLY_INTEGER && r[i]->integer != -2 &&
                pm_key_sup_split(rs->prefix, page->element[i]->str, company, sizeof(company),
                                 &rcpt) == 0)
                each(arg, company, rcpt,
                     r[i]->integer > 0 ? *now + (r[i]->integer + 999) / 1000 : 0);
        }
        freeReplyObject(r[i]);
    }
    free(r);
    return rc;
}

/* What load_all's pages need. */
struct load_ctx {
    struct redis_store *rs;
    long long *now;
    void (*each)(void *, const char *, const char *, long long);
    void *arg;
    int (*stop)(void);
    char *err;
    size_t errlen;
};

/* One SCAN on the follower's connection (rs_scan_by's call). */
static int
own_scan_call(struct redis_store *rs, int argc, const char **argv, redisReply **out, char *err,
              size_t errlen)
{
    return own_call(rs, rs->command_ms, argc, argv, out, err, errlen);
}

/* One SCAN page of load_all (rs_scan_by's page); 1 (stop) when x->stop
 * says so. */
static int
load_scanned(void *arg, const redisReply *keys)
{
    struct load_ctx *x = arg;

    if (x->stop && x->stop())
        return 1;
    return load_page(x->rs, keys, x->now, x->each, x->arg, x->err, x->errlen);
}

/* Every entry of every company to each (SCAN, a page at a time). */
static int
load_all(struct redis_store *rs, long long *now,
         void (*each)(void *, const char *, const char *, long long), void *arg, int (*stop)(void),
         char *err, size_t errlen)
{
    struct load_ctx x = {rs, now, each, arg, stop, err, errlen};
    char esc[256], pattern[300];
    unsigned gen = 0, gen_end = 0;
    int rc;

    rs_glob_escape(rs->prefix, esc, sizeof(esc));
    {
        char *p = pm_key_sup(esc, rs_layout(rs), "*", "*");

        snprintf(pattern, sizeof(pattern), "%s", p ? p : "");
        free(p);
    }
    /* on a cluster: the map read afresh, every slot served, and no owner
     * changed before the end (a slot moved may take entries past the SCAN) */
    if (rs->cl && (rc = rs_route_whole(rs, &gen, err, errlen)) < 0)
        return rc;
    rc = rs_scan_by(rs, own_scan_call, pattern, SCAN_ROUNDS, load_scanned, &x, err, errlen);
    if (rc == PM_STORE_OK && rs->cl && (rc = rs_route_whole(rs, &gen_end, err, errlen)) < 0)
        return rc;
    if (rc == PM_STORE_OK && rs->cl && gen_end != gen) {
        snprintf(err, errlen, "redis %s: the slot map changed during the load", rs->name);
        return PM_STORE_RETRY;
    }
    rs->follow_gen = gen_end;
    if (rc == RS_SCAN_MORE) {
        snprintf(err, errlen,
                 "redis %s: the suppression lists were not read whole in %d SCAN calls", rs->name,
                 SCAN_ROUNDS);
        return PM_STORE_ERROR;
    }
    if (rc == RS_SCAN_STOPPED) {
        snprintf(err, errlen, "redis %s: the load of the suppression lists was stopped", rs->name);
        return PM_STORE_ERROR;
    }
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

/* The op of a stream entry ("add", "del", "chk", "end"); -1 another. */
static int
op_parse(const char *op, enum pm_sup_op *out)
{
    static const char *names[] = {"add", "del", "chk", "end"}; /* enum pm_sup_op order */
    int i;

    for (i = 0; i < 4; i++)
        if (strcmp(op, names[i]) == 0) {
            *out = (enum pm_sup_op)i;
            return 0;
        }
    return -1;
}

/* One page of the rewind: XREVRANGE (rev) or XRANGE of supx from a to b, at
 * most REWIND_PAGE notes, in *out (an array); PM_STORE_OK or a failure. */
static int
rewind_page(struct redis_store *rs, int rev, const char *supx, const char *a, const char *b,
            redisReply **out, char *err, size_t errlen)
{
    const char *argv[6] = {rev ? "XREVRANGE" : "XRANGE", supx, a, b, "COUNT", REWIND_PAGE};
    int rc;

    if ((rc = own_call(rs, rs->command_ms, 6, argv, out, err, errlen)) < 0)
        return rc;
    if ((*out)->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis %s: unexpected reply to %s", rs->name, argv[0]);
        freeReplyObject(*out);
        return PM_STORE_ERROR;
    }
    return PM_STORE_OK;
}

/* The id of stream entry e ("" not one). */
static const char *
entry_id(const redisReply *e)
{
    return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
                   e->element[0]->type == REDIS_REPLY_STRING
               ? e->element[0]->str
               : "";
}

/* The notes of the stream from REWIND_MS before last up to it (at most
 * REWIND_NOTES, the latest), oldest first, to note: the intents open at the
 * load's start. Read a page at a time (one reply of 10,000 notes took about
 * 5 MB of the daemon's memory, bench/suplocal-load): back from last to find
 * the oldest of them, then forward from it, applying. */
static int
recent(struct redis_store *rs, const char *supx, const char *last,
       void (*note)(void *, enum pm_sup_op, const char *, const char *, long long), void *arg,
       char *err, size_t errlen)
{
    unsigned long long ms, seq;
    char from[48], start[48] = "", at[sizeof(start) + 1]; /* "(" and an id */
    redisReply *r;
    size_t i, seen = 0;
    int rc;

    if (!note || strcmp(last, "0-0") == 0 || id_parse(last, &ms, &seq) < 0)
        return PM_STORE_OK;
    snprintf(from, sizeof(from), "%llu-0", ms > REWIND_MS ? ms - REWIND_MS : 0);
    snprintf(at, sizeof(at), "%s", last);
    while (seen < REWIND_NOTES) { /* back: the oldest of the latest REWIND_NOTES */
        if ((rc = rewind_page(rs, 1, supx, at, from, &r, err, errlen)) < 0)
            return rc;
        seen += r->elements;
        if (r->elements)
            snprintf(start, sizeof(start), "%s", entry_id(r->element[r->elements - 1]));
        i = r->elements;
        freeReplyObject(r);
        if (i < REWIND_PAGE_N || !*start)
            break;
        snprintf(at, sizeof(at), "(%s", start);
    }
    for (seen = 0; *start && seen < REWIND_NOTES;) { /* forward from it, applying */
        if ((rc = rewind_page(rs, 0, supx, start, last, &r, err, errlen)) < 0)
            return rc;
        for (i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            enum pm_sup_op o;

            if (*entry_id(e) && e->element[1]->type == REDIS_REPLY_ARRAY &&
                *field(e->element[1], "c") && *field(e->element[1], "a") &&
                op_parse(field(e->element[1], "op"), &o) == 0)
                note(arg, o, field(e->element[1], "c"), field(e->element[1], "a"),
                     strtoll(field(e->element[1], "x"), NULL, 10));
        }
        seen += r->elements;
        i = r->elements;
        if (i)
            snprintf(start, sizeof(start), "(%s", entry_id(r->element[i - 1]));
        freeReplyObject(r);
        if (i < REWIND_PAGE_N || !start[1] || strcmp(start + 1, last) == 0)
            break;
    }
    return PM_STORE_OK;
}

/* The stream's last id, the intents open then, then every entry. */
int
rs_sup_snapshot(void *impl, char *last, size_t lastlen,
                void (*note)(void *arg, enum pm_sup_op op, const char *company, const char *rcpt,
                             long long expires),
                void (*each)(void *arg, const char *company, const char *rcpt, long long expires),
                void *arg, int (*stop)(void), long long *now, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    redisContext *c = own(rs, err, errlen); /* its opening learns the layout */
    char *supx;
    int rc;

    if (!c)
        return PM_STORE_RETRY;
    if (rs_layout_discover(rs, c, err, errlen) < 0) { /* when it was forgotten since */
        own_drop(rs);
        return PM_STORE_RETRY;
    }
    rs->follow_layout = rs_layout(rs);
    if (!(supx = rs_supx_key(rs))) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    if (rs->follow && rs_conn_moved(rs, rs->follow))
        own_drop(rs);
    if ((rc = stream_end(rs, supx, 1, last, lastlen, err, errlen)) == PM_STORE_OK &&
        (rc = recent(rs, supx, last, note, arg, err, errlen)) == PM_STORE_OK &&
        (rc = own_now(rs, now, err, errlen)) == PM_STORE_OK)
        rc = load_all(rs, now, each, arg, stop, err, errlen);
    free(supx);
    return rc;
}

/* Apply the entries of an XREAD reply and move last on; PM_STORE_OK or
 * PM_STORE_ERROR (an unexpected reply). */
static int
apply(const redisReply *r, char *last, size_t lastlen,
      void (*each)(void *, enum pm_sup_op, const char *, const char *, long long), void *arg)
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
        enum pm_sup_op o;

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            return PM_STORE_ERROR;
        f = e->element[1];
        op = field(f, "op"), c = field(f, "c"), a = field(f, "a");
        if (*c && *a && op_parse(op, &o) == 0)
            each(arg, o, c, a, strtoll(field(f, "x"), NULL, 10));
        snprintf(last, lastlen, "%s", e->element[0]->str);
    }
    return PM_STORE_OK;
}

/* Wait up to block_ms for changes after last; see store.h. */
int
rs_sup_follow(void *impl, char *last, size_t lastlen, int block_ms,
              void (*each)(void *arg, enum pm_sup_op op, const char *company, const char *rcpt,
                           long long expires),
              void *arg, long long *now, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char *supx = rs_supx_key(rs), before[64], ms[24], head[64];
    const char *argv[8] = {"XREAD", "COUNT", FOLLOW_COUNT, "BLOCK", ms, "STREAMS", supx, last};
    redisReply *r = NULL;
    int rc = PM_STORE_ERROR;

    if (!supx) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    if (rs->follow && rs_conn_moved(rs, rs->follow)) {
        own_drop(rs);
        snprintf(err, errlen, "redis %s: %s", rs->name,
                 rs->cl ? "the stream's slot has another primary" /* the map changed */
                        : "the Sentinels named another primary");
        rc = PM_STORE_GAP;
        goto out;
    }
    /* a slot that changed primary since the load: its entries may have moved
     * between two primaries' SCANs of a load that ran while the slot moved */
    if (rs->cl && rs_route_gen(rs) != rs->follow_gen) {
        snprintf(err, errlen, "redis %s: a slot moved to another primary since the load", rs->name);
        rc = PM_STORE_GAP;
        goto out;
    }
    if (!rs->follow_layout) /* a store made anew (a reload) follows the same stream */
        rs->follow_layout = rs_layout(rs);
    if (rs_layout(rs) != rs->follow_layout) {
        snprintf(err, errlen, "redis %s: the keys moved to layout %d", rs->name, rs_layout(rs));
        rc = PM_STORE_GAP;
        goto out;
    }
    snprintf(ms, sizeof(ms), "%d", block_ms);
    snprintf(before, sizeof(before), "%s", last);
    if ((rc = own_call(rs, block_ms + rs->command_ms, 8, argv, &r, err, errlen)) < 0)
        goto out;
    if (r->type != REDIS_REPLY_NIL && apply(r, last, lastlen, each, arg) != PM_STORE_OK) {
        snprintf(err, errlen, "redis %s: unexpected reply to XREAD", rs->name);
        own_drop(rs);
        rc = PM_STORE_ERROR;
        goto out;
    }
    /* the stream's first entry past where this batch started: some were lost */
    if (r->type != REDIS_REPLY_NIL &&
        (rc = stream_end(rs, supx, 0, head, sizeof(head), err, errlen)) == PM_STORE_OK &&
        id_after(head, before)) {
        snprintf(err, errlen, "redis %s: the stream of suppression changes starts at %s, after %s",
                 rs->name, head, before);
        rc = PM_STORE_GAP;
    }
    /* with the clock: the stream's last entry before ours, it was made anew
     * with lower ids, whose changes XREAD after ours skips (an empty stream
     * holds none to miss: its next entry tells) */
    if (rc == PM_STORE_OK && now &&
        (rc = stream_end(rs, supx, 1, head, sizeof(head), err, errlen)) == PM_STORE_OK &&
        strcmp(head, "0-0") != 0 && id_after(last, head)) {
        snprintf(err, errlen, "redis %s: the stream of suppression changes ends at %s, before %s",
                 rs->name, head, last);
        rc = PM_STORE_GAP;
    }
    if (rc == PM_STORE_OK && now)
        rc = own_now(rs, now, err, errlen);
out:
    if (r)
        freeReplyObject(r);
    free(supx);
    return rc;
}
