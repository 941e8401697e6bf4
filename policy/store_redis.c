/*
 * store_redis.c - the Redis implementation of the storage interface: its
 * making, its key names, and the meter.
 *
 * Every meter request is one round trip: EVALSHA of meter.lua (EVAL with the
 * full text when the server answers NOSCRIPT), which checks and counts
 * atomically with the Redis server's clock; this file encodes the request
 * and decodes the reply by the contract (scripts.contract). The connections
 * are store_redis_pool.c's.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "contract.h"
#include "meter_lua.h"
#include "prelude_lua.h"
#include "store_redis.h"
#include "store_redis_int.h"
#include "buf.h"

#define CURVE_MAX_STAGES 1000
#define MAX_HASHES 100000

/* strdup that keeps NULL and maps "" to NULL when empty_null is set. */
static char *
dup_opt(const char *s, int empty_null)
{
    if (!s || (empty_null && !*s))
        return NULL;
    return strdup(s);
}

/* Check a request before sending it; 0 if sound, -1 with err set. */
static int
req_check(const struct pm_meter_req *req, char *err, size_t errlen)
{
    int s, i;

    if (!req->scope[PM_SCOPE_SENDER].id || !*req->scope[PM_SCOPE_SENDER].id)
        snprintf(err, errlen, "meter request without a sender");
    else if (req->mode < PM_METER_PROBE || req->mode > PM_METER_FORCE)
        snprintf(err, errlen, "meter request with an unknown mode %d", (int)req->mode);
    else if (req->msgs < 0 || req->rcpts < 0)
        snprintf(err, errlen, "meter request with a negative count");
    else if (req->hour_bucket <= 0 || 3600 % req->hour_bucket)
        snprintf(err, errlen, "hour_bucket %d does not divide 3600", req->hour_bucket);
    else if (req->day_bucket <= 0 || 86400 % req->day_bucket)
        snprintf(err, errlen, "day_bucket %d does not divide 86400", req->day_bucket);
    else {
        for (s = 0; s < PM_SCOPE_COUNT; s++)
            for (i = 0; i < PM_C_COUNT; i++)
                if (req->scope[s].limit[i] < 0) {
                    snprintf(err, errlen, "meter request with a negative limit");
                    return -1;
                }
        for (s = 0; s < PM_SCOPE_COUNT; s++)
            if (req->scope[s].warmup.n > CURVE_MAX_STAGES ||
                (req->scope[s].warmup.n && req->scope[s].warmup.dormant_days < 1)) {
                snprintf(err, errlen, "meter request with a bad warm-up curve");
                return -1;
            }
        return 0;
    }
    return -1;
}

/* A sender's ('s') or a domain's ('d') key of a kind; NULL on allocation failure. */
char *
rs_key(const struct redis_store *rs, char tag, const char *id, const char *kind)
{
    return tag == 's' ? pm_key_sender(rs->prefix, rs_layout(rs), id, kind)
                      : pm_key_domain(rs->prefix, rs_layout(rs), id, kind);
}

/* A sender's ":tx:<id>": the recorded reply of a transaction. */
static char *
tx_key(const struct redis_store *rs, const char *sender, const char *id)
{
    size_t len = strlen(id) + 4;
    char *kind = malloc(len), *key;

    if (!kind)
        return NULL;
    snprintf(kind, len, "tx:%s", id);
    key = rs_key(rs, 's', sender, kind);
    free(kind);
    return key;
}

/* A company's suppression entry of rcpt (NULL: the prefix of its entries). */
char *
rs_sup_key(const struct redis_store *rs, const char *company, const char *rcpt)
{
    return pm_key_sup(rs->prefix, rs_layout(rs), company, rcpt);
}

/* The stream of suppression changes. */
char *
rs_supx_key(const struct redis_store *rs)
{
    return pm_key_global(rs->prefix, rs_layout(rs), "supx");
}

/* The hash of a daemon's heartbeat (id NULL: the index of the daemons). */
char *
rs_srv_key(const struct redis_store *rs, const char *id)
{
    char *what, *key;

    if (!id)
        return pm_key_global(rs->prefix, rs_layout(rs), "srv");
    if (!(what = malloc(strlen(id) + 5)))
        return NULL;
    sprintf(what, "srv:%s", id);
    key = pm_key_global(rs->prefix, rs_layout(rs), what);
    free(what);
    return key;
}

/* A company-wide key of the sender's company (what: "top:", "incidents", "hits:", ...). */
char *
rs_company_key(const struct redis_store *rs, const char *sender, const char *what)
{
    size_t tl;
    const char *tag = pm_keys_tag(sender, &tl);
    char *company = strndup(tag, tl), *key;

    if (!company)
        return NULL;
    key = pm_key_company(rs->prefix, rs_layout(rs), company, what);
    free(company);
    return key;
}

/* Copy s into out with the glob characters of SCAN MATCH escaped. */
void
rs_glob_escape(const char *s, char *out, size_t len)
{
    size_t o = 0;

    for (; *s && o + 2 < len; s++) {
        if (strchr("*?[]\\", *s))
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

/* Append a warm-up curve as "daycap:hourcap,...". */
static void
curve_text(struct pm_buf *b, const long long *day, const long long *hour, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (i)
            pm_buf_add(b, ",", 1);
        pm_buf_num(b, day[i]);
        pm_buf_add(b, ":", 1);
        pm_buf_num(b, hour[i]);
    }
}

/* The warm-up curve of a scope as the script's "day:hour,..." argument. */
static char *
curve_arg(const struct pm_warmup_req *w)
{
    struct pm_buf b;

    pm_buf_growing(&b);
    curve_text(&b, w->day_cap, w->hour_cap, w->n);
    return pm_buf_take(&b);
}

/* Fill a suppression entry, reckoning its end from the store time now. */
void
rs_sup_fill(struct pm_suppressed *e, long long at, const char *status, const char *sender,
            long long ttl, long long now)
{
    memset(e, 0, sizeof(*e));
    e->found = 1;
    e->since = at;
    snprintf(e->status, sizeof(e->status), "%s", status ? status : "");
    snprintf(e->sender, sizeof(e->sender), "%s", sender ? sender : "");
    e->until = ttl > 0 ? now + ttl : 0;
}

/* The contract's counters are store.h's, in the same order. */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(PM_MC_MH, PM_C_MSGS_HOUR) && SAME(PM_MC_MD, PM_C_MSGS_DAY) &&
                   SAME(PM_MC_RH, PM_C_RCPTS_HOUR) && SAME(PM_MC_RD, PM_C_RCPTS_DAY) &&
                   SAME(PM_MC_ND, PM_C_NEW_DAY) && SAME(PM_MC_IH, PM_C_INT_HOUR) &&
                   SAME(PM_MC_ID, PM_C_INT_DAY) && SAME(PM_MC_WARMUP_DAY, PM_C_WARMUP_DAY) &&
                   SAME(PM_MC_WARMUP_HOUR, PM_C_WARMUP_HOUR) &&
                   SAME(PM_MC_REP_COLD, PM_C_REP_COLD) && SAME(PM_MC_REP_STOP, PM_C_REP_STOP),
               "scripts.contract's counters differ from enum pm_counter");
/* A scope's limits are its block's first values, in counter order. */
_Static_assert(PM_MS_MH == 0 && SAME(PM_MS_ID, PM_C_COUNT - 1), "scope block limits");
_Static_assert(SAME(PM_MR_WARMUP - PM_MR_USED, PM_SCOPE_COUNT *PM_C_COUNT) &&
                   SAME(PM_MR_COLD - PM_MR_WARMUP, PM_SCOPE_COUNT * 6),
               "the reply's blocks");

/* 1 for the incident's string fields of the reply. */
static int
reply_is_str(size_t i)
{
    return i == PM_MR_INC_SIGNAL || i == PM_MR_INC_FIGURES || i == PM_MR_INC_BY ||
           i == PM_MR_INC_NOTE || i == PM_MR_INC_IDS;
}

/* Copy the incident of the script's reply into res. */
static void
reply_incident(const redisReply *r, const long long *v, struct pm_meter_res *res)
{
    struct pm_incident *inc = &res->inc;

    res->inc_state = (enum pm_incident_state)v[PM_MR_INC_STATE];
    if (res->inc_state == PM_INCS_NONE)
        return;
    inc->open = res->inc_state != PM_INCS_WOULD;
    snprintf(inc->signal, sizeof(inc->signal), "%s", r->element[PM_MR_INC_SIGNAL]->str);
    snprintf(inc->figures, sizeof(inc->figures), "%s", r->element[PM_MR_INC_FIGURES]->str);
    snprintf(inc->by, sizeof(inc->by), "%s", r->element[PM_MR_INC_BY]->str);
    snprintf(inc->note, sizeof(inc->note), "%s", r->element[PM_MR_INC_NOTE]->str);
    snprintf(inc->ids, sizeof(inc->ids), "%s", r->element[PM_MR_INC_IDS]->str);
    inc->at = v[PM_MR_INC_AT];
    inc->until = v[PM_MR_INC_UNTIL];
    inc->held = v[PM_MR_INC_HELD];
}

/* Copy the script's reply into res; 0 if it has the contract's shape. */
static int
reply_parse(const redisReply *r, struct pm_meter_res *res)
{
    long long v[PM_MR_COUNT];
    size_t i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != PM_MR_COUNT)
        return -1;
    for (i = 0; i < PM_MR_COUNT; i++) {
        int str = i == PM_MR_SUP_STATUS || i == PM_MR_SUP_SENDER || reply_is_str(i);

        if (r->element[i]->type != (str ? REDIS_REPLY_STRING : REDIS_REPLY_INTEGER))
            return -1;
        v[i] = str ? 0 : r->element[i]->integer;
    }
    if (v[PM_MR_OVER_SCOPE] < 0 || v[PM_MR_OVER_SCOPE] >= PM_SCOPE_COUNT ||
        v[PM_MR_OVER_COUNTER] < 0 || v[PM_MR_OVER_COUNTER] > PM_C_REP_STOP ||
        v[PM_MR_INC_STATE] < PM_INCS_NONE || v[PM_MR_INC_STATE] > PM_INCS_WOULD)
        return -1;
    reply_incident(r, v, res);
    res->refs_known = (int)v[PM_MR_REFS_KNOWN];
    res->fits = (int)v[PM_MR_FITS];
    res->counted = (int)v[PM_MR_COUNTED];
    res->over_scope = (enum pm_scope)v[PM_MR_OVER_SCOPE];
    res->over_counter = (enum pm_counter)v[PM_MR_OVER_COUNTER];
    res->over_limit = v[PM_MR_OVER_LIMIT];
    res->over_used = v[PM_MR_OVER_USED];
    res->retry_at = v[PM_MR_RETRY_AT];
    res->now = v[PM_MR_NOW];
    if (v[PM_MR_SUP_AT] > 0)
        rs_sup_fill(&res->sup, v[PM_MR_SUP_AT], r->element[PM_MR_SUP_STATUS]->str,
                    r->element[PM_MR_SUP_SENDER]->str, v[PM_MR_SUP_TTL], res->now);
    for (i = 0; i < PM_SCOPE_COUNT * PM_C_COUNT; i++)
        res->used[i / PM_C_COUNT][i % PM_C_COUNT] = v[PM_MR_USED + i];
    for (i = 0; i < PM_SCOPE_COUNT; i++) {
        const long long *w = v + PM_MR_WARMUP + i * 6;

        res->warmup[i].active = (int)w[0];
        res->warmup[i].stage = w[1];
        res->warmup[i].day_cap = w[2];
        res->warmup[i].hour_cap = w[3];
        res->warmup[i].today = w[4];
        res->warmup[i].bounce_ppm = w[5];
    }
    res->cold = v[PM_MR_COLD];
    res->cold_first = (int)v[PM_MR_COLD_FIRST];
    res->plan = (int)v[PM_MR_PLAN];
    res->credits_spent[0] = v[PM_MR_CR_SPENT_M];
    res->credits_spent[1] = v[PM_MR_CR_SPENT_R];
    res->credits_left[0] = v[PM_MR_CR_LEFT_M];
    res->credits_left[1] = v[PM_MR_CR_LEFT_R];
    res->rep.sent = v[PM_MR_REP_SENT];
    res->rep.hard = v[PM_MR_REP_HARD];
    res->rep.blocks = v[PM_MR_REP_BLOCKS];
    res->rep.replies = v[PM_MR_REP_REPLIES];
    res->rep.ppm = v[PM_MR_REP_PPM];
    res->rep.level = (int)v[PM_MR_REP_LEVEL];
    res->rep.first = v[PM_MR_RR_FIRST];
    res->rep.replied = v[PM_MR_RR_REPLIED];
    res->rep.reply_brake = (int)v[PM_MR_RR_BRAKE];
    return 0;
}

#define RS_RESEND 100 /* meter_on: a cluster redirected the request, send it again */

/* Send the request on a connection; PM_STORE_OK, RS_RESEND (t: a cluster's
 * redirection, t says where; the connection is sound), or a failure with err set.
 * argv[clock_at] is the test clock offset's place (rs_clock_arg: a GET first
 * only with redis.test_clock). *dead is set when the connection must not be
 * used again, to 2 when it is because no reply came in time. */
static int
meter_on(struct redis_store *rs, struct rs_conn *cn, const char **argv, int argc, int clock_at,
         struct rs_try *t, struct pm_meter_res *res, int *dead, char *err, size_t errlen)
{
    struct redis_store *top = rs->top;
    int asking = t ? t->asking : 0;
    redisReply *r = NULL;
    sigset_t old;
    int pend, rc = PM_STORE_ERROR, timeout;
    char clock[RS_CLOCK_LEN];

    pm_redis_pipe_block(&old, &pend);
    argv[0] = "EVALSHA";
    argv[1] = cn->sha;
    argv[clock_at] = clock;
    if (rs_clock_arg(rs, cn->c, clock, sizeof(clock), &r) == 0)
        r = rs_send(cn->c, asking, argc, argv);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = pm_meter_lua;
        r = rs_send(cn->c, asking, argc, argv);
    }
    timeout = !r && pm_redis_io_error(&rs->link, cn->c, errno, err, errlen);
    pm_redis_pipe_restore(&old, pend);
    /* a replica's READONLY: the primary moved; drop the connection and rediscover */
    *dead = r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) == 0);
    if (t && rs_route_again(top, t, r, err, errlen)) {
        freeReplyObject(r);
        return RS_RESEND;
    }
    if (!r) {
        *dead += timeout;
        return PM_STORE_RETRY;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis %s: %s", rs->name, r->str);
        rs_layout_refused(rs, r);
        rc = rs_reply_rc(r);
    } else if (reply_parse(r, res) < 0)
        snprintf(err, errlen, "redis %s: unexpected reply from the meter script", rs->name);
    else
        rc = 0;
    freeReplyObject(r);
    return rc;
}

/* Numbers formatted for a request, in slots of their own. */
struct nums {
    char num[PM_MA_COUNT + PM_SCOPE_COUNT * PM_MS_COUNT + 1][24];
    int n;
};

/* A number as an argument string (decimal, as "%lld" would; about 40 per
 * request, so without snprintf). */
static const char *
num(struct nums *a, long long v)
{
    char tmp[24], *start = a->num[a->n++], *out = start;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *out++ = '-';
    while (n)
        *out++ = tmp[--n];
    *out = '\0';
    return start;
}

/* The keys of a request, by the contract's names (k[] points into own[]);
 * 0, or -1 on allocation failure. */
static int
meter_keys(const struct redis_store *rs, const struct pm_meter_req *req, const char *did,
           const char **k, char **own)
{
    const char *sid = req->scope[PM_SCOPE_SENDER].id, *at = strrchr(sid, '@');
    const char *dom = did                                             ? did
                      : req->contacts.domain && *req->contacts.domain ? req->contacts.domain
                      : at                                            ? at + 1
                                                                      : sid;
    const char *company = req->company && *req->company ? req->company : at ? at + 1 : sid;
    int i;

    own[PM_MK_W] = rs_key(rs, 's', sid, "w");
    own[PM_MK_WU] = rs_key(rs, 's', sid, "wu");
    own[PM_MK_CT] = rs_key(rs, 's', sid, "ct");
    own[PM_MK_DCT] = rs_key(rs, 'd', dom, "ct");
    own[PM_MK_PLAN] = rs_key(rs, 's', sid, "plan");
    own[PM_MK_CR] = rs_key(rs, 's', sid, "cr");
    own[PM_MK_CRLOG] = rs_key(rs, 's', sid, "crlog");
    own[PM_MK_REP] = rs_key(rs, 's', sid, "rep");
    own[PM_MK_SUP] = rs_sup_key(rs, company, req->suppressed_rcpt);
    own[PM_MK_LC] = rs_key(rs, 's', sid, "lc");
    own[PM_MK_MID] = rs_key(rs, 's', sid, "mid");
    /* no transaction: "...:tx:", a key nothing writes, under the prefix and the
     * sender's hash tag like the others (a Redis ACL ~<prefix>:* allows it) */
    own[PM_MK_TX] = tx_key(rs, sid, req->txid && req->mode != PM_METER_PROBE ? req->txid : "");
    own[PM_MK_PLANERR] = rs_key(rs, 's', sid, "planerr");
    own[PM_MK_INC] = rs_key(rs, 's', sid, "inc");
    own[PM_MK_INCIDX] = rs_company_key(rs, sid, "incidents");
    own[PM_MK_IR] = rs_key(rs, 's', sid, "ir");
    own[PM_MK_DOM] = rs_key(rs, 's', sid, "dom");
    own[PM_MK_NET] = rs_key(rs, 's', sid, "net");
    own[PM_MK_RR] = rs_key(rs, 's', sid, "rr");
    own[PM_MK_FC] = rs_key(rs, 's', sid, "fc");
    if (did) {
        own[PM_MK_DW] = rs_key(rs, 'd', did, "w");
        own[PM_MK_DWU] = rs_key(rs, 'd', did, "wu");
    }
    for (i = 0; i < (did ? PM_MK_COUNT : PM_MK_DW); i++)
        if (!(k[i] = own[i]))
            return -1;
    return 0;
}

/* The limit names of the script's counters C, space-separated (the digest's). */
static void
limit_names(char *buf, size_t len)
{
    static const char *const more = "warmup_day warmup_hour reputation_first_contact "
                                    "reputation_stop";
    size_t off = 0;
    int c;

    buf[0] = '\0';
    for (c = 0; c < PM_C_COUNT && off < len; c++)
        off += (size_t)snprintf(buf + off, len - off, "%s ", pm_counter_name((enum pm_counter)c));
    if (off < len)
        snprintf(buf + off, len - off, "%s", more);
}

/* The incident arguments of a request into v; 0, or -1 for values the script
 * cannot take (a word list with characters it splits on). */
static int
incident_args(const struct pm_meter_req *req, struct nums *nb, const char **v, const char *hits,
              char *names, size_t nlen)
{
    const struct pm_incident_req *in = &req->incident;

    if ((in->qid && strpbrk(in->qid, " \t\r\n")) || (in->net && strpbrk(in->net, " \t\r\n")))
        return -1;
    limit_names(names, nlen);
    v[PM_MA_HITS_PREFIX] = hits;
    v[PM_MA_LIMIT_NAMES] = names;
    v[PM_MA_INC_MODE] = num(nb, in->mode);
    v[PM_MA_INC_COUNT] = in->count ? "1" : "0";
    v[PM_MA_INC_REFUSAL] = in->refusal ? "1" : "0";
    v[PM_MA_INC_LOCAL] = num(nb, in->local > 0 ? in->local : 0);
    v[PM_MA_INC_LOCAL_C] = num(nb, in->local_counter);
    v[PM_MA_INC_QID] = in->qid ? in->qid : "";
    v[PM_MA_INC_DOMAINS] = in->domains ? in->domains : "";
    v[PM_MA_INC_NET] = in->net ? in->net : "";
    v[PM_MA_INC_MAX_HOURS] = num(nb, in->max_hours);
    v[PM_MA_INC_BURST] = num(nb, in->burst_floor);
    v[PM_MA_INC_MULTIPLE] = num(nb, in->burst_multiple);
    v[PM_MA_INC_FANOUT] = num(nb, in->fanout);
    v[PM_MA_INC_RETRY] = num(nb, in->retry);
    v[PM_MA_INC_BOUNCE] = num(nb, in->bounce);
    v[PM_MA_INC_NN_DAYS] = num(nb, in->nn_days);
    v[PM_MA_INC_NN_PCT] = num(nb, in->nn_pct);
    return 0;
}

/* A command for routing by the meter's first key k[0] ("EVAL <text> 1 k[0]"). */
static const char **
argv_key(const char **buf, const char **k)
{
    static const char *const head[3] = {"EVAL", "", "1"};

    memcpy(buf, head, sizeof(head));
    buf[3] = k[0];
    return buf;
}

/* Check and count one request in one round trip, with the names of the store's layout. */
static int
meter_once(void *impl, const struct pm_meter_req *req, struct pm_meter_res *res, char *err,
           size_t errlen)
{
    struct redis_store *rs = impl;
    char *own[PM_MK_COUNT] = {NULL}, *curve[PM_SCOPE_COUNT] = {NULL};
    const char *k[PM_MK_COUNT], *v[PM_MA_COUNT], **argv = NULL;
    const char *did = req->scope[PM_SCOPE_DOMAIN].id;
    struct nums nb;
    int nscopes, nkeys, argc = 0, s, i, dead = 0, rc = PM_STORE_ERROR, attempt;
    long long t0;
    const struct pm_contacts_req *ct = &req->contacts;
    struct rs_conn *cn;
    struct redis_store *node;
    struct rs_try t;
    const char *kv[4];
    char *top = NULL, *hits = NULL, names[400], refs[PM_METER_MAX_REFS * 17 + 1];

    if (req_check(req, err, errlen) < 0)
        return PM_STORE_ERROR;
    if (ct->n > MAX_HASHES) {
        snprintf(err, errlen, "meter request with %zu recipients", ct->n);
        return PM_STORE_ERROR;
    }
    if (did && !*did)
        did = NULL; /* NULL or "": the domain scope is unused */
    nscopes = did ? 2 : 1;
    nkeys = did ? PM_MK_COUNT : PM_MK_DW;
    nb.n = 0;
    argv = malloc((3 + nkeys + PM_MA_COUNT + nscopes * PM_MS_COUNT + ct->n) * sizeof(*argv));
    for (s = 0; s < nscopes; s++)
        curve[s] = curve_arg(&req->scope[s].warmup);
    top = rs_company_key(rs, req->scope[PM_SCOPE_SENDER].id, "top:");
    hits = rs_company_key(rs, req->scope[PM_SCOPE_SENDER].id, "hits:");
    if (meter_keys(rs, req, did, k, own) < 0 || !argv || !curve[0] || (did && !curve[1]) || !top ||
        !hits) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    v[PM_MA_CLOCK] = NULL; /* meter_on's */
    v[PM_MA_SENDER] = req->scope[PM_SCOPE_SENDER].id;
    v[PM_MA_MODE] = num(&nb, req->mode);
    v[PM_MA_MSGS] = num(&nb, req->msgs);
    v[PM_MA_RCPTS] = num(&nb, req->rcpts);
    v[PM_MA_INTERNAL] = num(&nb, req->internal);
    v[PM_MA_HOUR_BUCKET] = num(&nb, req->hour_bucket);
    v[PM_MA_DAY_BUCKET] = num(&nb, req->day_bucket);
    v[PM_MA_CT_TTL] = num(&nb, ct->ttl_days > 0 ? ct->ttl_days : 365);
    v[PM_MA_CT_MAX] = num(&nb, ct->max > 0 ? ct->max : 50000);
    v[PM_MA_COMPANY_WIDE] = ct->company_wide ? "1" : "0";
    v[PM_MA_COLD_BEFORE] = num(&nb, ct->cold_before);
    v[PM_MA_TOP_PREFIX] = top;
    v[PM_MA_PLAN_TABLE] = rs->plan_table;
    v[PM_MA_REP_MIN] = num(&nb, req->reputation.min_sends);
    v[PM_MA_REP_WARN] = num(&nb, req->reputation.warn_ppm);
    v[PM_MA_REP_HALVE] = num(&nb, req->reputation.halve_ppm);
    v[PM_MA_REP_COLD] = num(&nb, req->reputation.cold_ppm);
    v[PM_MA_REP_STOP] = num(&nb, req->reputation.stop_ppm);
    v[PM_MA_RR_MIN_FIRST] = num(&nb, req->reputation.min_first);
    v[PM_MA_RR_MIN_PPM] = num(&nb, req->reputation.min_reply_ppm);
    v[PM_MA_MID_HASH] = req->msgid_hash ? req->msgid_hash : "";
    v[PM_MA_MID_DAYS] = num(&nb, req->msgid_days);
    v[PM_MA_MID_MAX] = num(&nb, req->msgid_max);
    v[PM_MA_WDAY_OFFSET] = num(&nb, req->wday_offset);
    v[PM_MA_WU_LEARN] = num(&nb, req->wu_learn);
    for (i = 0, refs[0] = '\0'; i < (int)req->n_refs && i < PM_METER_MAX_REFS; i++)
        if (strlen(req->ref_hashes[i]) == 16) /* keyed hashes only: no space inside */
            snprintf(refs + strlen(refs), sizeof(refs) - strlen(refs), "%s%s", *refs ? " " : "",
                     req->ref_hashes[i]);
    v[PM_MA_REFS] = refs;
    v[PM_MA_REFS_GATE] = req->refs_gate && *refs ? "1" : "0";
    if (incident_args(req, &nb, v, hits, names, sizeof(names)) < 0) {
        snprintf(err, errlen, "meter request with a bad incident part");
        goto out;
    }
    argv[argc++] = NULL; /* EVALSHA or EVAL, set by meter_on() */
    argv[argc++] = NULL; /* the SHA1 or the script */
    argv[argc++] = num(&nb, nkeys);
    for (i = 0; i < nkeys; i++)
        argv[argc++] = k[i];
    for (i = 0; i < PM_MA_COUNT; i++)
        argv[argc++] = v[i];
    for (s = 0; s < nscopes; s++) {
        const struct pm_scope_req *sc = &req->scope[s];

        for (i = 0; i < PM_C_COUNT; i++)
            argv[argc++] = num(&nb, sc->limit[i]); /* PM_MS_MH .. PM_MS_ID */
        argv[argc++] = num(&nb, sc->warmup.dormant_days);
        argv[argc++] = num(&nb, sc->warmup.max_bounce_ppm);
        argv[argc++] = curve[s];
        argv[argc++] = sc->soft ? "1" : "0";
    }
    for (i = 0; i < (int)ct->n; i++)
        argv[argc++] = ct->hashes[i];

    /* a commit with an id asks once more, on a fresh connection, when its reply
     * was lost to a timeout: the script may have counted it, and then answers
     * with the reply it recorded instead of counting it again */
    if (rs->cl && rs_route_start(rs, 4, argv_key(kv, k), &t, err, errlen) < 0) {
        pm_metrics_store_error(PM_SERR_CONNECT);
        rc = PM_STORE_RETRY;
        goto out;
    }
    node = rs->cl ? t.node : rs;
    for (attempt = req->txid && req->mode != PM_METER_PROBE ? 2 : 1; attempt > 0; attempt--) {
        cn = rs_pool_get(node, err, errlen);
        if (!cn) {
            pm_metrics_store_error(PM_SERR_CONNECT);
            rc = PM_STORE_RETRY;
            break;
        }
        t0 = pm_metrics_clock();
        rc = meter_on(node, cn, argv, argc, 3 + nkeys + PM_MA_CLOCK, rs->cl ? &t : NULL, res, &dead,
                      err, errlen);
        pm_metrics_store_done(t0);
        if (rc == RS_RESEND) { /* t.node: where the cluster sends it */
            rs_pool_put(node, cn, NULL);
            node = t.node;
            attempt++;
            continue;
        }
        if (rc != 0)
            pm_metrics_store_error(!dead       ? PM_SERR_REPLY
                                   : dead == 2 ? PM_SERR_TIMEOUT
                                               : PM_SERR_IO);
        rs_pool_put(node, cn, dead ? err : NULL);
        if (rc == 0 || dead != 2)
            break;
        /* the script may have run: the refusals it carried may be counted
         * already, and counting them twice could open a retry storm */
        argv[3 + nkeys + PM_MA_INC_LOCAL] = "0";
    }
out:
    free(argv);
    free(top);
    free(hits);
    for (i = 0; i < PM_MK_COUNT; i++)
        free(own[i]);
    for (i = 0; i < PM_SCOPE_COUNT; i++)
        free(curve[i]);
    return rc;
}

/* The store operation: meter_once, and once more when a script refused the
 * names of a layout the data left meanwhile (store_redis_layout.c). */
static int
redis_meter(void *impl, const struct pm_meter_req *req, struct pm_meter_res *res, char *err,
            size_t errlen)
{
    struct redis_store *rs = impl;
    int rc;

    if (rs_layout_learn(rs, err, errlen) < 0) {
        pm_metrics_store_error(PM_SERR_CONNECT);
        return PM_STORE_RETRY;
    }
    rc = meter_once(impl, req, res, err, errlen);

    if (rc == PM_STORE_RETRY && rs_layout_was_refused(rs))
        rc = meter_once(impl, req, res, err, errlen);
    return rc;
}

/* Release the store: close every connection (none may be in use). */
static void
redis_free(void *impl)
{
    struct redis_store *rs = impl;
    int i;

    if (!rs)
        return;
    rs_pool_close(rs);
    free(rs->idle);
    free(rs->host);
    free(rs->socket);
    free(rs->user);
    if (rs->password) {
        explicit_bzero(rs->password, strlen(rs->password));
        free(rs->password);
    }
    free(rs->prefix);
    for (i = 1; i < 3; i++) {
        free(rs->clock_key[i]);
        free(rs->learn_key[i]);
    }
    free(rs->layout_key);
    free(rs->plan_table);
    free(rs->now_lua);
    while (rs->n_sentinels > 0)
        free(rs->sentinels[--rs->n_sentinels]);
    free(rs->sentinels);
    free(rs->master);
    pthread_cond_destroy(&rs->cv);
    pthread_mutex_destroy(&rs->mu);
    free(rs);
}

static const struct pm_store_ops redis_ops = {
    .meter = redis_meter,
    .free = redis_free,
    .feedback = rs_feedback,
    .suppress_list = rs_suppress_list,
    .suppress_set = rs_suppress_set,
    .suppress_migrate = rs_suppress_migrate,
    .sup_snapshot = rs_sup_snapshot,
    .sup_follow = rs_sup_follow,
    .now = rs_now,
    .plan_get = rs_plan_get,
    .plan_set = rs_plan_set,
    .credits = rs_credits,
    .credit_set = rs_credit_set,
    .warmup_set = rs_warmup_set,
    .contact_days = rs_contact_days,
    .top = rs_top,
    .learning = rs_learning,
    .seed = rs_seed,
    .server_beat = rs_server_beat,
    .servers = rs_servers,
    .forget_all = rs_forget_all,
    .migrate = rs_migrate,
    .incident_get = rs_incident_get,
    .incident_list = rs_incident_list,
    .incident_open = rs_incident_open,
    .incident_release = rs_incident_release,
    .digest_elect = rs_digest_elect,
    .digest_unclaim = rs_digest_unclaim,
    .digest_hits = rs_digest_hits,
    .digest_silent = rs_digest_silent,
    .announce = rs_announce,
};

/* The plans as the script's override table: "name|mh|md|rh|rd|nd|ih|id|curve|soft;...". */
static char *
plan_table(const struct pm_conf *conf)
{
    struct pm_buf b;
    long long lim[PM_C_COUNT];
    size_t i, c;

    pm_buf_growing(&b);
    for (i = 0; i < conf->n_plans; i++) {
        const struct pm_plan *p = &conf->plans[i];

        pm_buf_printf(&b, "%s%s|", i ? ";" : "", p->name);
        pm_plan_counter_limits(&p->lim, lim);
        for (c = 0; c < PM_C_COUNT; c++)
            pm_buf_printf(&b, "%lld|", lim[c]);
        curve_text(&b, p->warmup.cap, p->warmup_hour, p->warmup.n);
        pm_buf_printf(&b, "|%d", p->action < PM_ACT_TEMPFAIL);
    }
    return pm_buf_take(&b);
}

/* Copy what the store needs from conf, with the documented defaults for
 * unset fields; 0 on success, -1 on allocation failure. */
static int
copy_conf(struct redis_store *rs, const struct pm_conf *conf)
{
    int i;

    rs->host = dup_opt(conf->redis_host && *conf->redis_host ? conf->redis_host : "127.0.0.1", 0);
    rs->socket = dup_opt(conf->redis_socket, 1);
    rs->user = dup_opt(conf->redis_user, 1);
    rs->password = dup_opt(conf->redis_password, 1);
    rs->prefix = dup_opt(conf->key_prefix && *conf->key_prefix ? conf->key_prefix : "pm", 0);
    rs->port = conf->redis_port > 0 ? conf->redis_port : 6379;
    rs->db = conf->redis_db > 0 ? conf->redis_db : 0;
    rs->connect_ms = conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 200;
    rs->command_ms = conf->command_timeout_ms > 0 ? conf->command_timeout_ms : 500;
    rs->retry_min_ms = conf->retry_min_ms > 0 ? conf->retry_min_ms : 100;
    rs->retry_max_ms = conf->retry_max_ms > 0 ? conf->retry_max_ms : 5000;
    if (rs->retry_max_ms < rs->retry_min_ms)
        rs->retry_max_ms = rs->retry_min_ms;
    rs->pool_size = conf->pool_size > 0 ? conf->pool_size : 16;
    rs->network_encrypted = conf->redis_network_encrypted;
    if (rs->socket)
        snprintf(rs->name, sizeof(rs->name), "%s", rs->socket);
    else if (strchr(rs->host, ':'))
        snprintf(rs->name, sizeof(rs->name), "[%s]:%d", rs->host, rs->port);
    else
        snprintf(rs->name, sizeof(rs->name), "%s:%d", rs->host, rs->port);
    rs->idle = calloc(rs->pool_size, sizeof(*rs->idle));
    /* the test clock only when a test asks for it: read by C before each
     * script, passed as its first argument (else 0 and no read at all) */
    rs->test_clock = conf->redis_test_clock;
    rs->layout = 0; /* learned on the first connection */
    for (i = 1; rs->prefix && i < 3; i++) {
        rs->clock_key[i] = pm_key_global(rs->prefix, i, "clock");
        rs->learn_key[i] = pm_key_global(rs->prefix, i, "learning");
    }
    rs->layout_key = rs->prefix ? pm_key_layout(rs->prefix) : NULL;
    rs->plan_table = plan_table(conf);
    if ((rs->now_lua = malloc(sizeof(pm_prelude_lua) + 16)) != NULL)
        snprintf(rs->now_lua, sizeof(pm_prelude_lua) + 16, "%sreturn now\n", pm_prelude_lua);
    if (conf->n_sentinels) {
        size_t i;

        rs->sentinels = calloc(conf->n_sentinels, sizeof(*rs->sentinels));
        rs->master = dup_opt(conf->sentinel_master ? conf->sentinel_master : "mymaster", 0);
        if (!rs->sentinels || !rs->master)
            return -1;
        for (i = 0; i < conf->n_sentinels; i++)
            if (!(rs->sentinels[rs->n_sentinels++] = strdup(conf->sentinels[i])))
                return -1;
        snprintf(rs->name, sizeof(rs->name), "%s (Sentinel)", rs->master);
    }
    if (conf->n_cluster) {
        if (rs_cluster_init(rs, conf->cluster, conf->n_cluster, conf->cluster_retry_ms) < 0)
            return -1;
        rs->db = 0;
    }
    rs->link = (struct pm_redis_link){
        rs->host, rs->port,       rs->socket,     rs->user, rs->password,
        rs->db,   rs->connect_ms, rs->command_ms, rs->name, rs->n_sentinels > 0};
    if (!rs->host || !rs->prefix || !rs->clock_key[1] || !rs->clock_key[2] || !rs->learn_key[1] ||
        !rs->learn_key[2] || !rs->layout_key || !rs->plan_table || !rs->now_lua || !rs->idle ||
        (conf->redis_socket && *conf->redis_socket && !rs->socket))
        return -1;
    if ((conf->redis_user && *conf->redis_user && !rs->user) ||
        (conf->redis_password && *conf->redis_password && !rs->password))
        return -1;
    return 0;
}

/* A store that talks to the Redis named by conf; NULL on allocation failure. */
struct pm_store *
pm_store_redis_new(const struct pm_conf *conf)
{
    struct redis_store *rs = calloc(1, sizeof(*rs));
    pthread_condattr_t ca;
    struct pm_store *st;

    if (!rs)
        return NULL;
    pthread_mutex_init(&rs->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rs->cv, &ca);
    pthread_condattr_destroy(&ca);
    rs->state = LINK_UNKNOWN;
    if (copy_conf(rs, conf) < 0) {
        redis_free(rs);
        return NULL;
    }
    st = pm_store_new(&redis_ops, rs);
    if (!st)
        redis_free(rs);
    return st;
}
