/*
 * store_redis_migrate.c - postmeterctl migrate: the move of a store's keys
 * from layout 1 to layout 2 (store_redis_keys.h), live, on one Redis.
 *
 * SET "<prefix>:layout" "2m": from then on every script refuses names of
 * layout 1 (the guard, prelude.lua), so the daemons switch to layout 2 and
 * no call writes a layout 1 name again; while "2m", each script first
 * renames the layout 1 keys of the keys it is given to their layout 2 names
 * (adopt, prelude.lua). Then the sweep: SCAN MATCH "<prefix>:v1:*", and per
 * page one script that renames each key with a layout 2 name (a sender's,
 * a domain's, a suppression entry, the test clock, the learning start, the
 * digest's elections) when that name is free; the global indexes (the daily
 * top, the incident index, the digest's hits) are added into each company's
 * (ZINCRBY, ZADD GT: the later time, HINCRBY) and deleted; the stream of
 * suppression changes is deleted (the daemons' copies follow the new one,
 * after a load), and so are the heartbeats (the daemons write layout 2's).
 * Left: the entries of the layout before companies
 * ("<prefix>:v1:sup:<address>", postmeterctl suppress migrate). When the
 * sweep saw the whole keyspace, the company registry is filled from the
 * layout 2 keys (rs_companies_fill()), then SET "<prefix>:layout" "2". Every step can
 * be run again: a second migrate moves nothing.
 *
 * The scripts here name undeclared keys: one Redis only (no Cluster).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store_redis_int.h"

#define SWEEP_SCANS 100000 /* bound on SCAN calls (about 1000 keys each) */

/* KEYS: pairs (layout 1 name, layout 2 name): rename each present one whose
 * layout 2 name is free; {renamed, both present}. */
static const char adopt_lua[] = "#!lua\n"
                                "local moved, both = 0, 0\n"
                                "for i = 1, #KEYS, 2 do\n"
                                "    if redis.call('EXISTS', KEYS[i]) == 1 then\n"
                                "        if redis.call('EXISTS', KEYS[i + 1]) == 0 then\n"
                                "            redis.call('RENAME', KEYS[i], KEYS[i + 1])\n"
                                "            moved = moved + 1\n"
                                "        else\n"
                                "            both = both + 1\n"
                                "        end\n"
                                "    end\n"
                                "end\n"
                                "return {moved, both}\n";

/* KEYS[1]: a global index of layout 1; ARGV: "<prefix>:v2:", its kind (top,
 * hits, incidents), the name after the company's tag (":top:<day>", ...).
 * Adds it into each company's index and deletes it; the entries moved. */
static const char merge_lua[] =
    "#!lua\n"
    "local function tag(s) return string.match(s, '@([^@]*)$') or s end\n"
    "local kind, n, touched = ARGV[2], 0, {}\n"
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "local function key(s) local k = ARGV[1] .. '{' .. tag(s) .. '}' .. ARGV[3]\n"
    "    touched[k] = true return k end\n"
    "if kind == 'hits' then\n"
    "    local f = redis.call('HGETALL', KEYS[1])\n"
    "    for i = 1, #f, 2 do\n"
    "        local s = string.match(f[i], '^(.*)|[^|]*$')\n"
    "        if s then redis.call('HINCRBY', key(s), f[i], f[i + 1]) n = n + 1 end\n"
    "    end\n"
    "else\n"
    "    local f = redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')\n"
    "    for i = 1, #f, 2 do\n"
    "        if kind == 'top' then\n"
    "            redis.call('ZINCRBY', key(f[i]), f[i + 1], f[i])\n"
    "        else\n"
    "            redis.call('ZADD', key(f[i]), 'GT', f[i + 1], f[i])\n"
    "        end\n"
    "        n = n + 1\n"
    "    end\n"
    "end\n"
    "if ttl > 0 then\n"
    "    for k in pairs(touched) do\n"
    "        if redis.call('TTL', k) < 0 then redis.call('EXPIRE', k, math.ceil(ttl / 1000)) end\n"
    "    end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return n\n";

/* The sweep's state. */
struct sweep {
    struct redis_store *rs;
    struct pm_migrate_res *res;
    char *v2base; /* "<prefix>:v2:" */
    char *err;
    size_t errlen;
};

/* Rename the keys of one page that have a layout 2 name (one script). */
static int
adopt_page(struct sweep *x, const redisReply *page)
{
    const char **keys = calloc(2 * page->elements + 1, sizeof(*keys));
    size_t i, n = 0;
    redisReply *r = NULL;
    int rc = PM_STORE_OK;

    if (!keys) {
        snprintf(x->err, x->errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    for (i = 0; i < page->elements; i++) {
        const char *k = page->element[i]->str;
        char *v2 =
            page->element[i]->type == REDIS_REPLY_STRING ? pm_key_v1_to_v2(x->rs->prefix, k) : NULL;

        if (v2) {
            keys[n++] = k;
            keys[n++] = v2;
        }
    }
    if (n && (rc = rs_eval(x->rs, adopt_lua, (int)n, keys, 0, NULL, &r, x->err, x->errlen)) ==
                 PM_STORE_OK) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            x->res->moved += r->element[0]->integer;
            x->res->both += r->element[1]->integer;
        }
        freeReplyObject(r);
    }
    for (i = 1; i < n; i += 2)
        free((char *)keys[i]);
    free(keys);
    return rc;
}

/* Merge one global index of layout 1 (kind: top, hits, incidents; rest:
 * ":top:<day>", ...) into the companies' indexes. */
static int
merge_one(struct sweep *x, const char *key, const char *kind, const char *rest)
{
    const char *keys[1] = {key}, *args[3] = {x->v2base, kind, rest};
    redisReply *r;
    int rc;

    if ((rc = rs_eval(x->rs, merge_lua, 1, keys, 3, args, &r, x->err, x->errlen)) < 0)
        return rc;
    x->res->merged++;
    x->res->entries += r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* One SCAN page of layout 1 keys: renames, merges, the stream, the rest counted. */
static int
sweep_page(void *arg, const redisReply *page)
{
    struct sweep *x = arg;
    size_t plen = strlen(x->rs->prefix) + 4, i;
    int rc;

    if ((rc = adopt_page(x, page)) < 0)
        return rc;
    for (i = 0; i < page->elements; i++) {
        const char *k = page->element[i]->str, *rest = k + plen;
        char *v2;

        if (page->element[i]->type != REDIS_REPLY_STRING || strlen(k) <= plen)
            continue;
        if ((v2 = pm_key_v1_to_v2(x->rs->prefix, k)) != NULL) {
            free(v2); /* adopt_page's */
            continue;
        }
        if (strncmp(rest, "top:", 4) == 0)
            rc = merge_one(x, k, "top", rest - 1);
        else if (strncmp(rest, "hits:", 5) == 0)
            rc = merge_one(x, k, "hits", rest - 1);
        else if (strcmp(rest, "incidents") == 0)
            rc = merge_one(x, k, "incidents", rest - 1);
        else if (strcmp(rest, "supx") == 0 || strncmp(rest, "{srv}", 5) == 0) {
            const char *argv[2] = {"DEL", k};
            redisReply *r;

            if ((rc = rs_call(x->rs, 2, argv, &r, x->err, x->errlen)) == PM_STORE_OK) {
                x->res->dropped++;
                freeReplyObject(r);
            }
        } else
            x->res->left++;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* SET the layout key to value; PM_STORE_OK or a failure. */
static int
layout_set(struct redis_store *rs, const char *value, char *err, size_t errlen)
{
    const char *argv[3] = {"SET", rs->layout_key, value};
    redisReply *r;
    int rc;

    if ((rc = rs_call(rs, 3, argv, &r, err, errlen)) < 0)
        return rc;
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* Move the store's keys to layout 2 (see the top of the file). */
int
rs_migrate(void *impl, struct pm_migrate_res *res, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    struct sweep x = {rs, res, pm_key_base(rs->prefix, PM_LAYOUT_V2), err, errlen};
    const char *get[2] = {"GET", rs->layout_key};
    char esc[160], pattern[176];
    redisReply *r;
    int rc;

    memset(res, 0, sizeof(*res));
    if (rs->cl) {
        free(x.v2base);
        snprintf(err, errlen,
                 "migrate runs on one Redis server (or the Sentinels' primary), not on a cluster: "
                 "a cluster's keys are always in layout 2 (README: Redis Cluster)");
        return PM_STORE_ERROR;
    }
    if (!x.v2base) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    if ((rc = rs_call(rs, 2, get, &r, err, errlen)) < 0)
        goto out;
    snprintf(res->before, sizeof(res->before), "%s", r->type == REDIS_REPLY_STRING ? r->str : "1");
    freeReplyObject(r);
    if (strcmp(res->before, "2") != 0 && (rc = layout_set(rs, "2m", err, errlen)) < 0)
        goto out;
    __atomic_store_n(&rs->layout, PM_LAYOUT_V2, __ATOMIC_RELAXED);
    rs_glob_escape(rs->prefix, esc, sizeof(esc));
    snprintf(pattern, sizeof(pattern), "%s:v1:*", esc);
    rc = rs_scan(rs, pattern, SWEEP_SCANS, sweep_page, &x, err, errlen);
    if (rc == RS_SCAN_MORE) {
        snprintf(err, errlen,
                 "redis %s: the keys were not seen whole in %d SCAN calls: run it again", rs->name,
                 SWEEP_SCANS);
        rc = PM_STORE_ERROR;
    }
    if (rc >= 0)
        rc = rs_companies_fill(rs, err, errlen);
    if (rc >= 0)
        rc = layout_set(rs, "2", err, errlen);
out:
    free(x.v2base);
    return rc < 0 ? rc : PM_STORE_OK;
}
