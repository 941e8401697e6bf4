/*
 * store_redis_feedback.c - the Redis store's feedback and suppression list.
 *
 * rs_feedback() runs feedback.lua (after the prelude) for one incoming
 * message and one local mailbox: the failures of a bounce, or a person's
 * message. The suppression list is one hash per company and address,
 * "<prefix>:v2:{<company>}:sup:<address>" with the fields at (store time
 * of the bounce), status and sender (whose mail bounced, or "admin:USER"),
 * and a TTL of suppression.days: fields, so that no address can break them.
 * rs_suppress_migrate() moves the entries of the layout before companies,
 * "<prefix>:v1:sup:<address>" = "<time>|<status>|<sender>", to the company
 * of their sender. Every write of an entry is noted in the stream
 * "<prefix>:v2:{@}:supx", which each daemon's copy of the lists follows
 * (store_redis_supx.c): an intent before the script, what it did after it
 * (store_redis_supnote.c); no script writes the stream.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "contract.h"
#include "feedback_lua.h"
#include "prelude_lua.h"
#include "store_redis_int.h"

#define FB_MAX_FAIL 64       /* failures of one bounce in one call */
#define FB_MAX_REFS 32       /* Message-IDs one message refers to, in one call */
#define SCAN_ROUNDS 100000   /* bound on SCAN calls (each returns about 1000 keys) */
#define ENTRIES_PER_EVAL 200 /* suppression entries read per script call */

/* Read the entries named by KEYS: per key {at, status, sender, ttl}. */
static const char read_lua[] =
    "#!lua\n"
    "local out = {}\n"
    "for i, k in ipairs(KEYS) do\n"
    "    local e = redis.call('HMGET', k, 'at', 'status', 'sender')\n"
    "    out[i] = {e[1] or '', e[2] or '', e[3] or '', redis.call('TTL', k)}\n"
    "end\n"
    "return out\n";

/* After the prelude (ARGV[1] the test clock offset), KEYS[1] the entry;
 * ARGV[2..] status, sender, days. The store time of the write: the entry
 * expires days days after it. */
static const char set_lua[] =
    "redis.call('HSET', KEYS[1], 'at', now, 'status', ARGV[2], 'sender', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]) * DAY)\n"
    "return now\n";

/* After the prelude (ARGV[1] the test clock offset), KEYS[1] the entry. 1
 * when there was an entry to delete. */
static const char del_lua[] = "return redis.call('DEL', KEYS[1])\n";

/* After the prelude (ARGV[1] the test clock offset), KEYS[1] the old
 * entry, KEYS[2..] its new ones; ARGV[2..] at, status, sender. The old
 * entry's TTL carries over; a TTL of none keeps none. {0, 0} when the old
 * entry is gone, else {the new entries' expiry (store time, 0 never), how
 * many were written}. */
static const char move_lua[] =
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "if ttl == -2 then return {0, 0} end\n"
    "local x = ttl > 0 and now + math.ceil(ttl / 1000) or 0\n"
    "for i = 2, #KEYS do\n"
    "    redis.call('HSET', KEYS[i], 'at', ARGV[2], 'status', ARGV[3], 'sender', ARGV[4])\n"
    "    if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return {x, #KEYS - 1}\n";

#define DAY_S 86400LL /* prelude.lua's DAY */

/* A number as a string argument, in buf. */
static const char *
num(char *buf, size_t len, long long v)
{
    snprintf(buf, len, "%lld", v);
    return buf;
}

/* The prelude followed by body, as one script text; NULL on allocation failure. */
static char *
with_prelude(const char *body)
{
    size_t len = sizeof(pm_prelude_lua) + strlen(body);
    char *text = malloc(len);

    if (text)
        snprintf(text, len, "%s%s", pm_prelude_lua, body);
    return text;
}

/* The result names feedback.lua answers with, in enum pm_feedback_kind order. */
static int
fb_result(const redisReply *e, enum pm_feedback_kind *out)
{
    static const char *names[PM_FB_KIND_COUNT] = {"hard",  "block",   "unmatched", "duplicate",
                                                  "reply", "learned", "known",     "capped"};
    int k;

    if (e->type != REDIS_REPLY_STRING)
        return -1;
    for (k = 0; k < PM_FB_KIND_COUNT; k++)
        if (strcmp(e->str, names[k]) == 0) {
            *out = (enum pm_feedback_kind)k;
            return 0;
        }
    return -1;
}

/* Record what one incoming message says about one local mailbox, with the
 * names of the store's layout; *now: the script's store time. */
static int
feedback_once(void *impl, const struct pm_feedback_req *req, enum pm_feedback_kind *out,
              long long *now, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    const char *keys[PM_FK_COUNT + FB_MAX_FAIL], *args[PM_FA_COUNT + 3 * FB_MAX_FAIL + FB_MAX_REFS];
    char *owned[PM_FK_COUNT + FB_MAX_FAIL] = {NULL};
    char nb[7][24];
    size_t i, n = req->fail ? req->n_fail : 0, nkeys = PM_FK_COUNT + n, nargs = PM_FA_COUNT, want;
    redisReply *r = NULL;
    int rc = PM_STORE_ERROR;

    if (!req->sender || !*req->sender || !req->company || !*req->company ||
        (!n && !req->author_hash) || n > FB_MAX_FAIL || req->n_refs > FB_MAX_REFS) {
        snprintf(err, errlen, "bad feedback request");
        return PM_STORE_ERROR;
    }
    owned[PM_FK_REP] = rs_key(rs, 's', req->sender, "rep");
    owned[PM_FK_CT] = rs_key(rs, 's', req->sender, "ct");
    owned[PM_FK_LC] = rs_key(rs, 's', req->sender, "lc");
    owned[PM_FK_FB] = rs_key(rs, 's', req->sender, "fb");
    owned[PM_FK_MID] = rs_key(rs, 's', req->sender, "mid");
    owned[PM_FK_IR] = rs_key(rs, 's', req->sender, "ir");
    owned[PM_FK_RR] = rs_key(rs, 's', req->sender, "rr");
    owned[PM_FK_FC] = rs_key(rs, 's', req->sender, "fc");
    for (i = 0; i < n; i++) /* then one suppression entry per failure */
        owned[PM_FK_COUNT + i] = rs_sup_key(rs, req->company, req->fail[i].rcpt);
    for (i = 0; i < nkeys; i++)
        if (!(keys[i] = owned[i])) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    args[PM_FA_CLOCK] = NULL; /* rs_script's */
    args[PM_FA_KIND] = n ? "bounce" : "mail";
    args[PM_FA_CT_TTL] = num(nb[0], 24, req->contacts_ttl_days > 0 ? req->contacts_ttl_days : 365);
    args[PM_FA_CT_MAX] = num(nb[1], 24, req->contacts_max > 0 ? req->contacts_max : 50000);
    args[PM_FA_SUP_DAYS] = num(nb[2], 24, req->suppress_days > 0 ? req->suppress_days : 180);
    args[PM_FA_WINDOW] = num(nb[3], 24, req->bounce_window_days > 0 ? req->bounce_window_days : 14);
    args[PM_FA_LEARN_MAX] = num(nb[4], 24, req->learned_per_day);
    args[PM_FA_REPLY_MAX] = num(nb[5], 24, req->replies_per_day);
    args[PM_FA_MID_DAYS] = num(nb[6], 24, req->message_ids_days > 0 ? req->message_ids_days : 90);
    args[PM_FA_SENDER] = req->sender;
    args[PM_FA_AUTHOR] = n ? "" : req->author_hash;
    for (i = 0; i < n; i++) { /* then per failure: hash, class, status */
        args[nargs++] = req->fail[i].hash;
        args[nargs++] = req->fail[i].hard ? "hard" : "block";
        args[nargs++] = req->fail[i].status ? req->fail[i].status : "";
    }
    for (i = 0; !n && i < req->n_refs; i++) /* or the Message-IDs referred to */
        args[nargs++] = req->ref_hashes[i];
    if ((rc = rs_script(rs, pm_feedback_lua, (int)nkeys, keys, (int)nargs, args, &r, err, errlen)) <
        0)
        goto out;
    rc = PM_STORE_ERROR;
    want = n ? n : 1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != PM_FR_RESULTS + want ||
        r->element[PM_FR_NOW]->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "redis %s: unexpected reply from the feedback script", rs->name);
        goto out;
    }
    for (i = 0; i < want; i++)
        if (fb_result(r->element[PM_FR_RESULTS + i], &out[i]) < 0) {
            snprintf(err, errlen, "redis %s: unexpected reply from the feedback script", rs->name);
            goto out;
        }
    *now = r->element[PM_FR_NOW]->integer;
    rc = PM_STORE_OK;
out:
    if (r)
        freeReplyObject(r);
    for (i = 0; i < PM_FK_COUNT + n; i++)
        free(owned[i]);
    return rc;
}

/* Record what one incoming message says about one local mailbox; once more
 * when the script refused the names of a layout the data left meanwhile.
 * A bounce's hard failures may each write an entry: their intents are
 * noted in the stream first (none noted, nothing done), then what the
 * script did (a failed script leaves them open: it may have run; one
 * certainly not sent closes them with "end"). */
int
rs_feedback(void *impl, const struct pm_feedback_req *req, enum pm_feedback_kind *out, char *err,
            size_t errlen)
{
    struct redis_store *rs = impl;
    const char *rcpt[FB_MAX_FAIL];
    int hard[FB_MAX_FAIL], any = 0, rc;
    size_t i, n = req->fail && req->n_fail <= FB_MAX_FAIL ? req->n_fail : 0;
    long long now = 0;
    unsigned long sends;

    for (i = 0; i < n; i++)
        any |= hard[i] = req->fail[i].hard && req->fail[i].rcpt && req->company && *req->company;
    for (i = 0; i < n; i++)
        rcpt[i] = req->fail[i].rcpt;
    if (any && (rc = rs_supnote_intents(rs, req->company, rcpt, hard, n, err, errlen)) < 0)
        return rc;
    sends = rs_sends();
    rc = feedback_once(impl, req, out, &now, err, errlen);
    if (rc == PM_STORE_RETRY && rs_layout_was_refused(rs))
        rc = feedback_once(impl, req, out, &now, err, errlen);
    if (rc < 0 && any && rs_sends() == sends) /* the script certainly did not run */
        rs_supnote_ends(rs, req->company, rcpt, hard, n);
    if (rc < 0 || !any)
        return rc;
    for (i = 0; i < n; i++) {
        int days = req->suppress_days > 0 ? req->suppress_days : 180;
        char e[256]; /* a final note lost leaves the intent open: "may be", no failure */

        if (hard[i])
            (void)rs_supnote(rs, out[i] == PM_FB_HARD ? PM_SUP_ADD : PM_SUP_END, req->company,
                             rcpt[i], now + days * DAY_S, e, sizeof(e));
    }
    return rc;
}

/* The store's clock. */
int
rs_now(void *impl, long long *now, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    const char *args[1] = {NULL}; /* the test clock offset: rs_script's */
    redisReply *r;
    int rc;

    if ((rc = rs_script(rs, rs->now_lua, 0, NULL, 1, args, &r, err, errlen)) < 0)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        snprintf(err, errlen, "redis %s: unexpected reply to the clock script", rs->name);
        return PM_STORE_ERROR;
    }
    *now = r->integer;
    freeReplyObject(r);
    return PM_STORE_OK;
}

/* Read the entries named by keys and pass each to each; 0, 1 when each asked
 * to stop, or a failure (< 0). */
static int
read_entries(struct redis_store *rs, long long now, const char **keys, size_t n,
             int (*each)(void *, const char *, const char *, const struct pm_suppressed *),
             void *arg, char *err, size_t errlen)
{
    size_t i;
    redisReply *r;
    int rc;

    if ((rc = rs_eval(rs, read_lua, (int)n, keys, 0, NULL, &r, err, errlen)) < 0)
        return rc;
    for (i = 0; i < n && i < r->elements && rc == 0; i++) {
        const redisReply *e = r->element[i];
        struct pm_suppressed s;
        char company[256];
        const char *rcpt;

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 4 || !*e->element[0]->str ||
            pm_key_sup_split(rs->prefix, keys[i], company, sizeof(company), &rcpt) < 0)
            continue; /* expired between SCAN and the read, or not an entry */
        rs_sup_fill(&s, strtoll(e->element[0]->str, NULL, 10), e->element[1]->str,
                    e->element[2]->str, e->element[3]->integer, now);
        rc = each(arg, company, rcpt, &s) ? 1 : 0;
    }
    freeReplyObject(r);
    return rc;
}

/* What reading the entries of a SCAN needs. */
struct read_scan {
    struct redis_store *rs;
    long long now;
    int (*each)(void *, const char *, const char *, const struct pm_suppressed *);
    void *arg;
    char *err;
    size_t errlen;
};

/* 1 when the keys of page at i and i + 1 may not go in one script: on a
 * cluster, keys of two slots (CROSSSLOT). */
static int
slot_ends(const struct redis_store *rs, const redisReply *page, size_t i)
{
    const redisReply *a = page->element[i], *b = page->element[i + 1];

    return rs->cl && pm_cluster_slot(a->str, a->len) != pm_cluster_slot(b->str, b->len);
}

/* Read one page of entries, ENTRIES_PER_EVAL at a time (an rs_scan page);
 * on a cluster, a call per run of keys of one slot. */
static int
read_page(void *arg, const redisReply *page)
{
    struct read_scan *x = arg;
    const char *keys[ENTRIES_PER_EVAL];
    size_t i, k = 0;
    int rc = 0;

    for (i = 0; i < page->elements && rc == 0; i++) {
        keys[k++] = page->element[i]->str;
        if (k == ENTRIES_PER_EVAL || i + 1 == page->elements || slot_ends(x->rs, page, i)) {
            rc = read_entries(x->rs, x->now, keys, k, x->each, x->arg, x->err, x->errlen);
            k = 0;
        }
    }
    return rc;
}

/* Pass every entry whose key matches pattern to each, a page at a time. */
static int
scan_entries(struct redis_store *rs, const char *pattern, long long now,
             int (*each)(void *, const char *, const char *, const struct pm_suppressed *),
             void *arg, char *err, size_t errlen)
{
    struct read_scan x = {rs, now, each, arg, err, errlen};
    int rc = rs_scan(rs, pattern, SCAN_ROUNDS, read_page, &x, err, errlen);

    return rc < 0 ? rc : PM_STORE_OK;
}

/* The suppression list: entries of company (NULL: all) and rcpt (NULL: all). */
int
rs_suppress_list(void *impl, const char *company, const char *rcpt,
                 int (*each)(void *arg, const char *company, const char *rcpt,
                             const struct pm_suppressed *e),
                 void *arg, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char c[1024], a[1024], *pattern;
    long long now;
    int rc;

    if ((rc = rs_now(rs, &now, err, errlen)) < 0)
        return rc;
    if (company && rcpt) {
        char *key = rs_sup_key(rs, company, rcpt);
        const char *keys[1] = {key};

        if (!key) {
            snprintf(err, errlen, "out of memory");
            return PM_STORE_ERROR;
        }
        rc = read_entries(rs, now, keys, 1, each, arg, err, errlen);
        free(key);
        return rc < 0 ? rc : PM_STORE_OK;
    }
    rs_glob_escape(company ? company : "", c, sizeof(c));
    rs_glob_escape(rcpt ? rcpt : "", a, sizeof(a));
    if (!(pattern = pm_key_sup(rs->prefix, rs_layout(rs), company ? c : "*", rcpt ? a : "*"))) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    rc = scan_entries(rs, pattern, now, each, arg, err, errlen);
    free(pattern);
    return rc;
}

/* Add (status set) or remove (status NULL) one entry, noting it in the
 * stream before (an intent) and after (what was done): 1 when an entry was
 * written or removed, 0 when there was none to remove, or a failure (< 0). */
int
rs_suppress_set(void *impl, const char *company, const char *rcpt, const char *status,
                const char *by, int days, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char *key = rs_sup_key(rs, company, rcpt), *text = NULL, d[24], e[256];
    const char *keys[1] = {key};
    const char *args[4] = {NULL, status, by, d};
    redisReply *r = NULL;
    int rc = PM_STORE_ERROR;
    unsigned long sends;

    if (!key || !(text = with_prelude(status ? set_lua : del_lua))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    num(d, sizeof(d), days);
    if ((rc = rs_supnote_intents(rs, company, &rcpt, NULL, 1, err, errlen)) < 0)
        goto out;
    /* "at" is the store's time; a failed script leaves the intent open,
     * unless it certainly was not sent */
    sends = rs_sends();
    if ((rc = rs_script(rs, text, 1, keys, status ? 4 : 1, args, &r, err, errlen)) < 0) {
        if (rs_sends() == sends)
            rs_supnote_ends(rs, company, &rcpt, NULL, 1);
        goto out;
    }
    rc = PM_STORE_ERROR;
    if (r->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "redis %s: unexpected reply from the suppression script", rs->name);
        goto out;
    }
    rc = status ? 1 : r->integer > 0;
    /* a final note lost leaves the intent open: "may be", no failure */
    (void)rs_supnote(rs,
                     status ? PM_SUP_ADD
                     : rc   ? PM_SUP_DEL
                            : PM_SUP_END,
                     company, rcpt, status ? r->integer + days * DAY_S : 0, e, sizeof(e));
out:
    if (r)
        freeReplyObject(r);
    free(text);
    free(key);
    return rc;
}

/* The intents, the move by move_lua of the entry old to the companies'
 * new keys, then what it did; the number of entries written, or a failure. */
static int
move_noted(struct redis_store *rs, const char **k, size_t nk, const char **args,
           const char *const *co, const char *rcpt, char *err, size_t errlen)
{
    char *text = with_prelude(move_lua), e[256];
    redisReply *r = NULL;
    size_t i;
    int rc, moved;
    unsigned long sends;

    if (!text) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    for (i = 1; i < nk; i++) /* one intent per company: none noted, nothing moved */
        if ((rc = rs_supnote_intents(rs, co[i - 1], &rcpt, NULL, 1, err, errlen)) < 0) {
            while (--i > 0) /* those noted: nothing is moved */
                rs_supnote_ends(rs, co[i - 1], &rcpt, NULL, 1);
            goto out;
        }
    sends = rs_sends();
    if ((rc = rs_script(rs, text, (int)nk, k, 4, args, &r, err, errlen)) < 0) {
        if (rs_sends() == sends) /* certainly not sent: nothing moved */
            for (i = 1; i < nk; i++)
                rs_supnote_ends(rs, co[i - 1], &rcpt, NULL, 1);
        goto out; /* else it may have run: the intents stay open */
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "redis %s: unexpected reply from the move script", rs->name);
        rc = PM_STORE_ERROR;
        goto out;
    }
    moved = (int)r->element[1]->integer;
    for (i = 1; i < nk; i++) /* a final note lost leaves the intent open: "may be" */
        (void)rs_supnote(rs, moved ? PM_SUP_ADD : PM_SUP_END, co[i - 1], rcpt,
                         r->element[0]->integer, e, sizeof(e));
    rc = moved;
out:
    if (r)
        freeReplyObject(r);
    free(text);
    return rc;
}

/* Move one entry of the old layout (key old, value v) to its companies;
 * the number of entries written, or a failure (< 0). */
static int
migrate_one(struct redis_store *rs, const char *old, const char *v, const char *const *companies,
            size_t n, char *err, size_t errlen)
{
    char at[24], status[16], *keys[16] = {NULL};
    const char *k[17], *co[16], *args[4] = {NULL, at, status, NULL}, *bar1, *bar2, *rcpt;
    size_t plen = strlen(rs->prefix) + 8, nk = 0, want, i;
    int rc = PM_STORE_ERROR;

    /* "<time>|<status>|<sender>": the sender is the rest (it may hold '|') */
    if (strlen(old) <= plen || !(bar1 = strchr(v, '|')) || !(bar2 = strchr(bar1 + 1, '|')))
        return 0;
    rcpt = old + plen;
    snprintf(at, sizeof(at), "%.*s", (int)(bar1 - v < 23 ? bar1 - v : 23), v);
    snprintf(status, sizeof(status), "%.*s", (int)(bar2 - bar1 - 1 < 15 ? bar2 - bar1 - 1 : 15),
             bar1 + 1);
    args[3] = bar2 + 1;
    k[nk++] = old;
    if (strncmp(args[3], "admin:", 6) == 0 || !strrchr(args[3], '@')) {
        for (want = 0; want < n && want < 16; want++)
            keys[want] = rs_sup_key(rs, co[want] = companies[want], rcpt);
    } else {
        keys[0] = rs_sup_key(rs, co[0] = strrchr(args[3], '@') + 1, rcpt);
        want = 1;
    }
    while (nk < 17 && keys[nk - 1])
        k[nk] = keys[nk - 1], nk++;
    if (nk - 1 < want) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = nk == 1 ? 0 /* an administrator's entry and no company to give it to */
                 : move_noted(rs, k, nk, args, co, rcpt, err, errlen);
out:
    for (i = 0; i < 16; i++)
        free(keys[i]);
    return rc;
}

/* What moving the entries of a SCAN needs. */
struct move_scan {
    struct redis_store *rs;
    const char *const *companies;
    size_t n;
    long long moved;
    char *err;
    size_t errlen;
};

/* Move the entries of one page (an rs_scan page). */
static int
move_page(void *arg, const redisReply *page)
{
    struct move_scan *x = arg;
    size_t i;
    int w;

    for (i = 0; i < page->elements; i++) {
        const char *key = page->element[i]->str;
        const char *get[2] = {"GET", key};
        redisReply *v;

        if ((w = rs_call(x->rs, 2, get, &v, x->err, x->errlen)) < 0)
            return w;
        if (v->type == REDIS_REPLY_STRING)
            w = migrate_one(x->rs, key, v->str, x->companies, x->n, x->err, x->errlen);
        freeReplyObject(v);
        if (w < 0)
            return w;
        x->moved += w > 0;
    }
    return 0;
}

/* Move the entries of the layout before companies to their companies. */
int
rs_suppress_migrate(void *impl, const char *const *companies, size_t n, long long *moved, char *err,
                    size_t errlen)
{
    struct redis_store *rs = impl;
    struct move_scan x = {rs, companies, n, 0, err, errlen};
    char pattern[128];
    int rc;

    snprintf(pattern, sizeof(pattern), "%s:v1:sup:*", rs->prefix);
    rc = rs_scan(rs, pattern, SCAN_ROUNDS, move_page, &x, err, errlen);
    *moved = x.moved;
    return rc < 0 ? rc : PM_STORE_OK;
}
