/*
 * NAME
 *   scriptcli - run postmeter's Redis scripts through the store, one command
 *   a line (tests)
 *
 * SYNOPSIS
 *   scriptcli [-h host] [-p port] [-x prefix] [-L plan]... <commands
 *
 * DESCRIPTION
 *   Creates one Redis store with pm_store_redis_new() (test clock honoured)
 *   and runs the commands read from standard input against it, in order,
 *   printing exactly one line per command: "NAME=VALUE ..." or "error: TEXT".
 *   Blank lines and lines starting with "#" are skipped and print nothing.
 *   Every state is written by the scripts, through the store's operations;
 *   the tool itself writes nothing but the test clock key.
 *
 *   -L NAME:LIMITS:CURVE:ACTION adds a plan to the store's plan table (for
 *   plan overrides): LIMITS "mh,md,rh,rd,nd,ih,id", CURVE "day:hour,..." or
 *   "-", ACTION tempfail, reject, hold or tag.
 *
 *   Recipients, authors and Message-IDs are given as names; the tool passes
 *   their keyed hash (siphash under a fixed test key), the same for a name
 *   wherever it is used, and a name as the address of a suppression entry.
 *
 * COMMANDS
 *   at T | at +N | at -N
 *       Store time for the commands that follow: before each of them the
 *       clock key <prefix>:v1:clock is set so that store time reads T (a
 *       command that ran in another second than T is an error when it may
 *       have written, and is run again otherwise). Prints at=T.
 *   set KEY=VALUE...  |  reset
 *       Change (or restore) the request defaults. KEYS: lim=mh,md,rh,rd,nd,ih,id
 *       and dlim= (limits, missing ones 0); curve=day:hour,... and dcurve= ("-"
 *       none); dormant=, ddormant= (30), maxppm=, dmaxppm= (30000); soft=s|d|sd|-;
 *       rep=min,warn,halve,cold,stop (0); rr=min_first,min_reply_ppm (0);
 *       m= (1), r= (-1: as many as to=), i=
 *       (0), cold= (cold_before, 0); off= (warm-up day offset, 0); ctttl=
 *       (365), ctmax= (50000), cw= (company_wide, 0), cdom= (contacts
 *       domain), company= (suppression list; default the sender's domain);
 *       b=hour_bucket,day_bucket (60,600); middays= (30), midmax= (10000);
 *       supdays= (180), window= (bounce window, 14), learn= (5), replies= (5).
 *       Prints "ok".
 *       Incidents (meter_incident.lua): inc= mode (0 none, 1 enforce, 2
 *       detect, 3 dry), incc= count (0|1), incr= refusal (0|1), incl=
 *       refusals decided without the store, inclc= their counter, incq= queue
 *       id, incd= recipient domains a,b ("-" none), incn= network ("-"
 *       none), inch= max_hours, inct=burst,multiple,fanout,retry,bounce,
 *       nn_days,nn_pct (0: off).
 *   probe|commit|force SENDER[,DOMAIN] [KEY=VALUE...]
 *       pm_store_meter. KEYS: any of set's, for this request, and to=a,b,...
 *       (external recipients), mid=NAME (Message-ID), tx=ID (transaction id),
 *       refs=NAME,... (Message-IDs referred to), gate=1 (refs_gate),
 *       sup=NAME (the recipient whose suppression entry a probe reads). Prints
 *       fits= counted= over=- or SCOPE:COUNTER (s|d, mh md rh rd nd ih id
 *       warmup_day warmup_hour rep_cold rep_stop) over_limit= over_used=
 *       retry_at= now= used=mh,md,rh,rd,nd,ih,id dused=(the domain's)
 *       wu=active,stage,day_cap,hour_cap,today,bounce_ppm dwu= cold= plan=
 *       cr=spent_m,spent_r,left_m,left_r rep=sent,hard,blocks,replies,ppm,level
 *       rr=first,replied,brake (the reply rate of 30 days)
 *       sup=- or since,status,sender; refs=-1|0|1 (refs_known);
 *       inc=STATE,HELD (0 none, 1 in incident, 2 opened now, 3 would open)
 *       and, with one, sig= by= at= until= ids= fig= (the figures, blanks as
 *       "_").
 *   bounce SENDER RCPT[:hard|:block[:STATUS]]... [KEY=VALUE...]
 *       pm_store_feedback with the failures of one bounce. Prints res=R,...
 *       (hard block unmatched duplicate).
 *   mail SENDER AUTHOR [refs=NAME,...] [KEY=VALUE...]
 *       pm_store_feedback with a person's message. Prints res=R (reply
 *       learned known capped).
 *   grant SENDER [m=N] [r=N] [exp=T | in=S] [note=TEXT]
 *       pm_store_credit_add. Prints result= now= expires= msgs= rcpts=.
 *   revoke SENDER ID [note=TEXT]
 *       pm_store_credit_revoke. Prints the same.
 *   credits SENDER
 *       pm_store_credits. Prints grants=N moves=N g=ID:M:R:EXP:GM:GR,...
 *       mv=EVENT:M:R:EXP:NOTE,... mvt=TIME,... (newest first; "-" none).
 *   warmup SENDER|d:DOMAIN reset|STAGE [keep=S] [off=N]
 *       pm_store_warmup_set. Prints had= day=.
 *   contact SENDER NAME [company=C]
 *       pm_store_contact_days. Prints ct= lc= dct= (-1 none).
 *   top DAYS LIMIT
 *       pm_store_top, after announcing to the company registry the companies
 *       metered so far (policy/coreg.c, as the daemon's watcher thread does a
 *       second after their first request). Prints now= senders=a,b,... ("-" none).
 *   plan SENDER NAME|clear [keep=S]  |  planget SENDER
 *       pm_store_plan_set (prints had=), pm_store_plan_get (plan= unknown=).
 *   now
 *       pm_store_now. Prints now=.
 *   read COMMAND ARGS...
 *       A read-only Redis command (GET HGET HMGET HGETALL HKEYS HLEN HEXISTS
 *       TTL EXISTS LLEN LRANGE ZSCORE ZREVRANGE ZCARD), to check what the
 *       scripts wrote. Prints reply=V (arrays comma-separated; HKEYS sorted,
 *       HGETALL as sorted FIELD=VALUE; nil for none).
 *
 * DIAGNOSTICS
 *   Exit 0 when every command ran (its line may still be "error: ..." for a
 *   store error), 2 on bad usage or when Redis cannot be reached for the clock.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "conf.h"
#include "coreg.h"
#include "log.h"
#include "siphash.h"
#include "store.h"
#include "store_redis.h"
#include "store_redis_keys.h"
#include "buf.h"

#define MAX_WORDS 1024
#define MAX_STAGES 64
#define MAX_NAMES 512
#define MAX_PLANS 8
#define TICK_TRIES 5

static const unsigned char hash_key[16] = "postmeter-tests!";

/* What feedback.lua answers, in enum pm_feedback_kind order. */
static const char *const fb_names[PM_FB_KIND_COUNT] = {"hard",  "block",   "unmatched", "duplicate",
                                                       "reply", "learned", "known",     "capped"};

/* One scope's request values. */
struct scope_set {
    long long lim[PM_C_COUNT];
    long long day[MAX_STAGES], hour[MAX_STAGES];
    size_t n;
    int dormant;
    long long max_ppm;
    int soft;
};

/* The request defaults ("set"), and a request's own values. */
struct settings {
    struct scope_set sc[PM_SCOPE_COUNT];
    struct pm_reputation_req rep;
    long long msgs, rcpts, internal, cold_before, wday_offset, ct_max, mid_max;
    int ct_ttl, company_wide, hour_bucket, day_bucket, mid_days, sup_days, window, learn, replies;
    char ct_domain[128], company[128];
    struct pm_incident_req inc; /* its strings: below */
    char inc_qid[32], inc_dom[512], inc_net[64];
};

struct tool {
    struct pm_store *st;
    redisContext *rc; /* the test clock and read */
    char prefix[80];
    int clock_layout; /* the layout the clock key was set for */
    int have_at;
    long long at;        /* store time the commands run at */
    long long clock_sec; /* the Redis second the clock key was set for, -1 none */
    long long op_now;    /* store time an operation reported, -1 none */
    struct settings def, init;
    struct pm_buf out;
};

/* Names hashed for a request: storage for the hashes and pointers to them. */
struct names {
    char hex[MAX_NAMES][17];
    const char *ptr[MAX_NAMES];
    size_t n;
};

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr, "usage: scriptcli [-h host] [-p port] [-x prefix] "
                    "[-L name:limits:curve:action]... <commands\n");
    exit(2);
}

/* The keyed hash of a name, as postmeter stores contacts and Message-IDs. */
static void
name_hash(const char *name, char out[17])
{
    pm_siphash_hex(hash_key, name, strlen(name), out);
}

/* Hash a comma-separated list of at most max names into h; -1 if too many. */
static int
names_hash(const char *list, struct names *h, size_t max)
{
    char *copy = strdup(list), *p, *save = NULL;

    h->n = 0;
    if (!copy)
        return -1;
    for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (h->n == MAX_NAMES || h->n == max) {
            free(copy);
            return -1;
        }
        name_hash(p, h->hex[h->n]);
        h->ptr[h->n] = h->hex[h->n];
        h->n++;
    }
    free(copy);
    return 0;
}

/* Parse up to n comma-separated integers into out (the rest 0); -1 if bad. */
static int
parse_ints(const char *s, long long *out, size_t n)
{
    char *end;
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = 0;
    for (i = 0; i < n; i++) {
        out[i] = strtoll(s, &end, 10);
        if (end == s || (*end != ',' && *end != '\0'))
            return -1;
        if (*end == '\0')
            return 0;
        s = end + 1;
    }
    return -1;
}

/* Parse one integer; -1 if bad. */
static int
parse_ll(const char *s, long long *out)
{
    return parse_ints(s, out, 1);
}

/* Parse an int value; -1 if bad. */
static int
parse_int(const char *s, int *out)
{
    long long v;

    if (parse_ll(s, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* Parse a curve "day:hour,..." ("-": none) into a scope; -1 if bad. */
static int
parse_curve(const char *s, struct scope_set *sc)
{
    char *end;

    sc->n = 0;
    if (strcmp(s, "-") == 0)
        return 0;
    while (*s) {
        if (sc->n == MAX_STAGES)
            return -1;
        sc->day[sc->n] = strtoll(s, &end, 10);
        if (end == s || *end != ':')
            return -1;
        s = end + 1;
        sc->hour[sc->n] = strtoll(s, &end, 10);
        if (end == s || (*end != ',' && *end != '\0'))
            return -1;
        sc->n++;
        s = *end ? end + 1 : end;
    }
    return sc->n ? 0 : -1;
}

/* Apply one incident setting (KEY without "inc"); 1 done, -1 bad value. */
static int
inc_setting(struct settings *s, const char *k, const char *v)
{
    struct pm_incident_req *in = &s->inc;
    long long r[7], m;
    int rc = 0;
    char *p;

    if (strcmp(k, "") == 0) {
        rc = parse_ll(v, &m);
        in->mode = (enum pm_incident_mode)m;
    } else if (strcmp(k, "c") == 0)
        rc = parse_int(v, &in->count);
    else if (strcmp(k, "r") == 0)
        rc = parse_int(v, &in->refusal);
    else if (strcmp(k, "l") == 0)
        rc = parse_ll(v, &in->local);
    else if (strcmp(k, "lc") == 0) {
        rc = parse_ll(v, &m);
        in->local_counter = (enum pm_counter)m;
    } else if (strcmp(k, "h") == 0)
        rc = parse_ll(v, &in->max_hours);
    else if (strcmp(k, "q") == 0)
        snprintf(s->inc_qid, sizeof(s->inc_qid), "%s", strcmp(v, "-") ? v : "");
    else if (strcmp(k, "n") == 0)
        snprintf(s->inc_net, sizeof(s->inc_net), "%s", strcmp(v, "-") ? v : "");
    else if (strcmp(k, "d") == 0) {
        snprintf(s->inc_dom, sizeof(s->inc_dom), "%s", strcmp(v, "-") ? v : "");
        for (p = s->inc_dom; (p = strchr(p, ',')) != NULL;)
            *p = ' ';
    } else if (strcmp(k, "t") == 0) {
        if ((rc = parse_ints(v, r, 7)) == 0) {
            in->burst_floor = r[0];
            in->burst_multiple = r[1];
            in->fanout = r[2];
            in->retry = r[3];
            in->bounce = r[4];
            in->nn_days = r[5];
            in->nn_pct = r[6];
        }
    } else
        return -1;
    return rc < 0 ? -1 : 1;
}

/* Apply one KEY=VALUE of the settings; 1 done, 0 not a setting, -1 bad value. */
static int
setting(struct settings *s, const char *k, const char *v)
{
    long long r[5];
    /* dlim, dcurve, ddormant, dmaxppm: the domain scope's */
    int d = k[0] == 'd' && strcmp(k, "dormant") != 0 ? PM_SCOPE_DOMAIN : PM_SCOPE_SENDER;
    const char *base = d == PM_SCOPE_DOMAIN ? k + 1 : k;
    int rc = 0;

    if (strcmp(base, "lim") == 0)
        rc = parse_ints(v, s->sc[d].lim, PM_C_COUNT);
    else if (strcmp(base, "curve") == 0)
        rc = parse_curve(v, &s->sc[d]);
    else if (strcmp(base, "dormant") == 0)
        rc = parse_int(v, &s->sc[d].dormant);
    else if (strcmp(base, "maxppm") == 0)
        rc = parse_ll(v, &s->sc[d].max_ppm);
    else if (strcmp(k, "soft") == 0) {
        if (strspn(v, "sd-") != strlen(v) || !*v)
            return -1;
        s->sc[PM_SCOPE_SENDER].soft = strchr(v, 's') != NULL;
        s->sc[PM_SCOPE_DOMAIN].soft = strchr(v, 'd') != NULL;
    } else if (strcmp(k, "rep") == 0) {
        if ((rc = parse_ints(v, r, 5)) == 0)
            s->rep = (struct pm_reputation_req){
                r[0], r[1], r[2], r[3], r[4], s->rep.min_first, s->rep.min_reply_ppm};
    } else if (strcmp(k, "rr") == 0) {
        if ((rc = parse_ints(v, r, 2)) == 0) {
            s->rep.min_first = r[0];
            s->rep.min_reply_ppm = r[1];
        }
    } else if (strcmp(k, "m") == 0)
        rc = parse_ll(v, &s->msgs);
    else if (strcmp(k, "r") == 0)
        rc = parse_ll(v, &s->rcpts);
    else if (strcmp(k, "i") == 0)
        rc = parse_ll(v, &s->internal);
    else if (strcmp(k, "cold") == 0)
        rc = parse_ll(v, &s->cold_before);
    else if (strcmp(k, "off") == 0)
        rc = parse_ll(v, &s->wday_offset);
    else if (strcmp(k, "ctttl") == 0)
        rc = parse_int(v, &s->ct_ttl);
    else if (strcmp(k, "ctmax") == 0)
        rc = parse_ll(v, &s->ct_max);
    else if (strcmp(k, "cw") == 0)
        rc = parse_int(v, &s->company_wide);
    else if (strcmp(k, "cdom") == 0)
        snprintf(s->ct_domain, sizeof(s->ct_domain), "%s", v);
    else if (strcmp(k, "company") == 0)
        snprintf(s->company, sizeof(s->company), "%s", v);
    else if (strcmp(k, "b") == 0) {
        if ((rc = parse_ints(v, r, 2)) == 0) {
            s->hour_bucket = (int)r[0];
            s->day_bucket = (int)r[1];
        }
    } else if (strcmp(k, "middays") == 0)
        rc = parse_int(v, &s->mid_days);
    else if (strcmp(k, "midmax") == 0)
        rc = parse_ll(v, &s->mid_max);
    else if (strcmp(k, "supdays") == 0)
        rc = parse_int(v, &s->sup_days);
    else if (strcmp(k, "window") == 0)
        rc = parse_int(v, &s->window);
    else if (strcmp(k, "learn") == 0)
        rc = parse_int(v, &s->learn);
    else if (strcmp(k, "replies") == 0)
        rc = parse_int(v, &s->replies);
    else if (strncmp(k, "inc", 3) == 0)
        return inc_setting(s, k + 3, v);
    else
        return 0;
    return rc < 0 ? -1 : 1;
}

/* The initial request defaults. */
static void
settings_init(struct settings *s)
{
    int i;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < PM_SCOPE_COUNT; i++) {
        s->sc[i].dormant = 30;
        s->sc[i].max_ppm = 30000;
    }
    s->msgs = 1;
    s->rcpts = -1;
    s->ct_ttl = 365;
    s->ct_max = 50000;
    s->hour_bucket = 60;
    s->day_bucket = 600;
    s->mid_days = 30;
    s->mid_max = 10000;
    s->sup_days = 180;
    s->window = 14;
    s->learn = 5;
    s->replies = 5;
}

/* The domain of an address (after its last '@'), or the text itself. */
static const char *
domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');

    return at ? at + 1 : addr;
}

/* Redis's own clock (TIME): seconds and microseconds; -1 on failure. */
static int
redis_time(struct tool *t, long long *sec, long long *usec)
{
    redisReply *r = redisCommand(t->rc, "TIME");
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;

    if (ok) {
        *sec = strtoll(r->element[0]->str, NULL, 10);
        *usec = strtoll(r->element[1]->str, NULL, 10);
    }
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* The key layout the data is in ("<prefix>:layout": "1", 1; else 2, also
 * when absent: the tool's store starts a new installation on layout 2,
 * store_redis_layout.c). */
static int
clock_layout(struct tool *t)
{
    redisReply *r = redisCommand(t->rc, "GET %s:layout", t->prefix);
    int layout =
        r && r->type == REDIS_REPLY_STRING && r->str[0] == '1' ? PM_LAYOUT_V1 : PM_LAYOUT_V2;

    if (r)
        freeReplyObject(r);
    return layout;
}

/* Make store time read t->at for the command about to run: wait for the
 * next second when less than 200 ms are left of this one, and set the clock
 * key when the second changed. *sec: the Redis second it was set for. */
static int
clock_align(struct tool *t, long long *sec)
{
    long long s, us;
    redisReply *r;
    int i, layout;

    for (i = 0; i < 4; i++) {
        if (redis_time(t, &s, &us) < 0)
            return -1;
        if (us <= 800000)
            break;
        usleep((useconds_t)(1000000 - us + 2000));
    }
    layout = clock_layout(t);
    if (s != t->clock_sec || layout != t->clock_layout) {
        char *key = pm_key_global(t->prefix, layout, "clock");

        r = key ? redisCommand(t->rc, "SET %s %lld EX 86400", key, t->at - s) : NULL;
        free(key);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            if (r)
                freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
        t->clock_sec = s;
        t->clock_layout = layout;
    }
    *sec = s;
    return 0;
}

/* Append the error of a store operation. */
static void
out_err(struct tool *t, const char *err)
{
    pm_buf_printf(&t->out, "error: %s", *err ? err : "unknown");
}

/* Append "name=a,b,c" of n numbers. */
static void
out_list(struct pm_buf *b, const char *name, const long long *v, size_t n)
{
    size_t i;

    pm_buf_printf(b, " %s=", name);
    for (i = 0; i < n; i++)
        pm_buf_printf(b, "%s%lld", i ? "," : "", v[i]);
}

/* The short name of a counter, as scripts.contract names it. */
static const char *
counter_name(enum pm_counter c)
{
    static const char *const names[] = {"mh",          "md",       "rh",      "rd",
                                        "nd",          "ih",       "id",      "warmup_day",
                                        "warmup_hour", "rep_cold", "rep_stop"};

    return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

/* Append a meter reply's incident: inc=STATE,HELD sig= by= at= until= ids=a,b
 * fig=FIGURES (blanks as "_"). */
static void
out_incident(struct pm_buf *b, const struct pm_meter_res *r)
{
    const struct pm_incident *i = &r->inc;
    char ids[sizeof(i->ids)], fig[sizeof(i->figures)], *p;

    pm_buf_printf(b, " inc=%d,%lld", (int)r->inc_state, i->held);
    if (r->inc_state == PM_INCS_NONE)
        return;
    snprintf(ids, sizeof(ids), "%s", i->ids[0] ? i->ids : "-");
    for (p = ids; (p = strchr(p, ' ')) != NULL;)
        *p = ',';
    snprintf(fig, sizeof(fig), "%s", i->figures);
    for (p = fig; (p = strchr(p, ' ')) != NULL;)
        *p = '_';
    pm_buf_printf(b, " sig=%s by=%s at=%lld until=%lld ids=%s fig=%s", i->signal, i->by, i->at,
                  i->until, ids, fig);
}

/* Append a meter reply. */
static void
out_meter(struct pm_buf *b, const struct pm_meter_res *r)
{
    long long v[6];
    int s;

    pm_buf_printf(b, "fits=%d counted=%d over=", r->fits, r->counted);
    if (r->fits)
        pm_buf_str(b, "-");
    else
        pm_buf_printf(b, "%s:%s", r->over_scope == PM_SCOPE_DOMAIN ? "d" : "s",
                      counter_name(r->over_counter));
    pm_buf_printf(b, " over_limit=%lld over_used=%lld retry_at=%lld now=%lld", r->over_limit,
                  r->over_used, r->retry_at, r->now);
    out_list(b, "used", r->used[PM_SCOPE_SENDER], PM_C_COUNT);
    out_list(b, "dused", r->used[PM_SCOPE_DOMAIN], PM_C_COUNT);
    for (s = 0; s < PM_SCOPE_COUNT; s++) {
        const struct pm_warmup_res *w = &r->warmup[s];

        v[0] = w->active;
        v[1] = w->stage;
        v[2] = w->day_cap;
        v[3] = w->hour_cap;
        v[4] = w->today;
        v[5] = w->bounce_ppm;
        out_list(b, s ? "dwu" : "wu", v, 6);
    }
    pm_buf_printf(b, " cold=%lld plan=%d", r->cold, r->plan);
    v[0] = r->credits_spent[0];
    v[1] = r->credits_spent[1];
    v[2] = r->credits_left[0];
    v[3] = r->credits_left[1];
    out_list(b, "cr", v, 4);
    v[0] = r->rep.sent;
    v[1] = r->rep.hard;
    v[2] = r->rep.blocks;
    v[3] = r->rep.replies;
    v[4] = r->rep.ppm;
    v[5] = r->rep.level;
    out_list(b, "rep", v, 6);
    v[0] = r->rep.first;
    v[1] = r->rep.replied;
    v[2] = r->rep.reply_brake;
    out_list(b, "rr", v, 3);
    if (r->sup.found)
        pm_buf_printf(b, " sup=%lld,%s,%s", r->sup.since, r->sup.status, r->sup.sender);
    else
        pm_buf_str(b, " sup=-");
    pm_buf_printf(b, " refs=%d", r->refs_known);
    out_incident(b, r);
}

/* probe|commit|force SENDER[,DOMAIN] [KEY=VALUE...] */
static void
cmd_meter(struct tool *t, int argc, char **argv)
{
    struct settings s = t->def;
    static struct names to, refs;
    struct pm_meter_req req;
    struct pm_meter_res res;
    char sender[320], *comma, mid[17], err[512] = "";
    const char *sup = NULL, *tx = NULL, *midname = NULL;
    int i, sc;

    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    to.n = refs.n = 0;
    req.mode = strcmp(argv[0], "probe") == 0    ? PM_METER_PROBE
               : strcmp(argv[0], "commit") == 0 ? PM_METER_COMMIT
                                                : PM_METER_FORCE;
    if (argc < 2) {
        pm_buf_str(&t->out, "error: usage: probe|commit|force SENDER[,DOMAIN] [KEY=VALUE...]");
        return;
    }
    snprintf(sender, sizeof(sender), "%s", argv[1]);
    req.scope[PM_SCOPE_SENDER].id = sender;
    if ((comma = strchr(sender, ',')) != NULL) {
        *comma = '\0';
        req.scope[PM_SCOPE_DOMAIN].id = comma + 1;
    }
    for (i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '='), *k = argv[i];
        int rc;

        if (!eq) {
            pm_buf_printf(&t->out, "error: not KEY=VALUE: %s", argv[i]);
            return;
        }
        *eq = '\0';
        if (strcmp(k, "to") == 0)
            rc = names_hash(eq + 1, &to, MAX_NAMES) < 0 ? -1 : 1;
        else if (strcmp(k, "mid") == 0)
            rc = (midname = eq + 1) != NULL;
        else if (strcmp(k, "refs") == 0)
            rc = names_hash(eq + 1, &refs, PM_METER_MAX_REFS) < 0 ? -1 : 1;
        else if (strcmp(k, "gate") == 0)
            rc = (req.refs_gate = atoi(eq + 1)) >= 0;
        else if (strcmp(k, "tx") == 0)
            rc = (tx = eq + 1) != NULL;
        else if (strcmp(k, "sup") == 0)
            rc = (sup = eq + 1) != NULL;
        else
            rc = setting(&s, k, eq + 1);
        if (rc <= 0) {
            pm_buf_printf(&t->out, "error: bad %s: %s", k, eq + 1);
            return;
        }
    }
    for (sc = 0; sc < PM_SCOPE_COUNT; sc++) {
        struct pm_scope_req *q = &req.scope[sc];

        memcpy(q->limit, s.sc[sc].lim, sizeof(q->limit));
        q->warmup.n = s.sc[sc].n;
        q->warmup.day_cap = s.sc[sc].day;
        q->warmup.hour_cap = s.sc[sc].hour;
        q->warmup.dormant_days = s.sc[sc].dormant;
        q->warmup.max_bounce_ppm = s.sc[sc].max_ppm;
        q->soft = s.sc[sc].soft;
    }
    req.msgs = s.msgs;
    req.rcpts = s.rcpts >= 0 ? s.rcpts : (long long)to.n;
    req.internal = s.internal;
    req.contacts = (struct pm_contacts_req){to.ptr,
                                            to.n,
                                            s.cold_before,
                                            s.ct_ttl,
                                            s.ct_max,
                                            s.company_wide,
                                            s.ct_domain[0] ? s.ct_domain : NULL};
    req.reputation = s.rep;
    req.suppressed_rcpt = sup;
    req.company = s.company[0] ? s.company : NULL;
    if (midname) {
        name_hash(midname, mid);
        req.msgid_hash = mid;
    }
    req.ref_hashes = refs.ptr;
    req.n_refs = refs.n;
    req.wday_offset = s.wday_offset;
    req.txid = tx;
    req.msgid_days = s.mid_days;
    req.msgid_max = s.mid_max;
    req.hour_bucket = s.hour_bucket;
    req.day_bucket = s.day_bucket;
    req.incident = s.inc;
    req.incident.qid = s.inc_qid;
    req.incident.domains = s.inc_dom;
    req.incident.net = s.inc_net;
    if (pm_store_meter(t->st, &req, &res, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    t->op_now = res.now;
    if (req.scope[PM_SCOPE_SENDER].id) /* as the daemon does, for the company registry */
        pm_coreg_note(req.scope[PM_SCOPE_SENDER].id, res.now);
    out_meter(&t->out, &res);
}

/* bounce SENDER RCPT[:hard|:block[:STATUS]]... [KEY=VALUE...] */
static void
cmd_bounce(struct tool *t, int argc, char **argv)
{
    struct settings s = t->def;
    struct pm_feedback_failure fail[64];
    enum pm_feedback_kind out[64];
    char hex[64][17], err[512] = "";
    struct pm_feedback_req req;
    size_t n = 0, i;
    int a;

    memset(&req, 0, sizeof(req));
    for (a = 2; a < argc; a++) {
        char *eq = strchr(argv[a], '='), *c1, *c2;

        if (eq) {
            *eq = '\0';
            if (setting(&s, argv[a], eq + 1) <= 0) {
                pm_buf_printf(&t->out, "error: bad %s", argv[a]);
                return;
            }
            continue;
        }
        if (n == 64) {
            pm_buf_str(&t->out, "error: too many failures");
            return;
        }
        c1 = strchr(argv[a], ':');
        c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c1)
            *c1 = '\0';
        if (c2)
            *c2 = '\0';
        fail[n].rcpt = argv[a];
        name_hash(argv[a], hex[n]);
        fail[n].hash = hex[n];
        fail[n].hard = !c1 || strcmp(c1 + 1, "block") != 0;
        fail[n].status = c2 ? c2 + 1 : fail[n].hard ? "5.1.1" : "5.7.1";
        n++;
    }
    if (argc < 3 || n == 0) {
        pm_buf_str(&t->out, "error: usage: bounce SENDER RCPT[:hard|:block[:STATUS]]...");
        return;
    }
    req.sender = argv[1];
    req.company = s.company[0] ? s.company : domain_of(argv[1]);
    req.fail = fail;
    req.n_fail = n;
    req.contacts_ttl_days = s.ct_ttl;
    req.contacts_max = s.ct_max;
    req.suppress_days = s.sup_days;
    req.bounce_window_days = s.window;
    req.learned_per_day = s.learn;
    req.replies_per_day = s.replies;
    req.message_ids_days = s.mid_days;
    if (pm_store_feedback(t->st, &req, out, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_str(&t->out, "res=");
    for (i = 0; i < n; i++)
        pm_buf_printf(&t->out, "%s%s", i ? "," : "", fb_names[out[i]]);
}

/* mail SENDER AUTHOR [refs=NAME,...] [KEY=VALUE...] */
static void
cmd_mail(struct tool *t, int argc, char **argv)
{
    struct settings s = t->def;
    static struct names refs;
    struct pm_feedback_req req;
    enum pm_feedback_kind out[1];
    char author[17], err[512] = "";
    int a;

    memset(&req, 0, sizeof(req));
    refs.n = 0;
    if (argc < 3) {
        pm_buf_str(&t->out, "error: usage: mail SENDER AUTHOR [refs=NAME,...]");
        return;
    }
    for (a = 3; a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        int rc;

        if (!eq) {
            pm_buf_printf(&t->out, "error: not KEY=VALUE: %s", argv[a]);
            return;
        }
        *eq = '\0';
        if (strcmp(argv[a], "refs") == 0)
            rc = names_hash(eq + 1, &refs, 32) < 0 ? -1 : 1;
        else
            rc = setting(&s, argv[a], eq + 1);
        if (rc <= 0) {
            pm_buf_printf(&t->out, "error: bad %s", argv[a]);
            return;
        }
    }
    name_hash(argv[2], author);
    req.sender = argv[1];
    req.company = s.company[0] ? s.company : domain_of(argv[1]);
    req.author_hash = author;
    req.ref_hashes = refs.ptr;
    req.n_refs = refs.n;
    req.contacts_ttl_days = s.ct_ttl;
    req.contacts_max = s.ct_max;
    req.suppress_days = s.sup_days;
    req.bounce_window_days = s.window;
    req.learned_per_day = s.learn;
    req.replies_per_day = s.replies;
    req.message_ids_days = s.mid_days;
    if (pm_store_feedback(t->st, &req, out, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_printf(&t->out, "res=%s", fb_names[out[0]]);
}

/* Append a grant result. */
static void
out_grant(struct pm_buf *b, const struct pm_grant_res *r)
{
    pm_buf_printf(b, "result=%lld now=%lld expires=%lld msgs=%lld rcpts=%lld", r->result, r->now,
                  r->expires, r->msgs, r->rcpts);
}

/* grant SENDER [m=N] [r=N] [exp=T | in=S] [note=TEXT] */
static void
cmd_grant(struct tool *t, int argc, char **argv)
{
    struct pm_grant_req g = {0, 0, 0, 0, ""};
    struct pm_grant_res res;
    char err[512] = "";
    int a, bad = argc < 2;

    for (a = 2; a < argc && !bad; a++) {
        char *eq = strchr(argv[a], '=');

        if (!eq) {
            bad = 1;
            break;
        }
        *eq = '\0';
        if (strcmp(argv[a], "m") == 0)
            bad = parse_ll(eq + 1, &g.msgs) < 0;
        else if (strcmp(argv[a], "r") == 0)
            bad = parse_ll(eq + 1, &g.rcpts) < 0;
        else if (strcmp(argv[a], "exp") == 0)
            bad = parse_ll(eq + 1, &g.expires) < 0;
        else if (strcmp(argv[a], "in") == 0) {
            bad = parse_ll(eq + 1, &g.expires) < 0;
            g.relative = 1;
        } else if (strcmp(argv[a], "note") == 0)
            g.note = eq + 1;
        else
            bad = 1;
    }
    if (bad) {
        pm_buf_str(&t->out, "error: usage: grant SENDER [m=N] [r=N] [exp=T | in=S] [note=TEXT]");
        return;
    }
    memset(&res, 0, sizeof(res));
    if (pm_store_credit_add(t->st, argv[1], &g, &res, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    t->op_now = res.now;
    out_grant(&t->out, &res);
}

/* revoke SENDER ID [note=TEXT] */
static void
cmd_revoke(struct tool *t, int argc, char **argv)
{
    struct pm_grant_res res;
    const char *note = "";
    char err[512] = "";
    long long id;

    if (argc < 3 || argc > 4 || parse_ll(argv[2], &id) < 0 ||
        (argc == 4 && strncmp(argv[3], "note=", 5) != 0)) {
        pm_buf_str(&t->out, "error: usage: revoke SENDER ID [note=TEXT]");
        return;
    }
    if (argc == 4)
        note = argv[3] + 5;
    memset(&res, 0, sizeof(res));
    if (pm_store_credit_revoke(t->st, argv[1], id, note, &res, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    t->op_now = res.now;
    out_grant(&t->out, &res);
}

/* credits SENDER */
static void
cmd_credits(struct tool *t, int argc, char **argv)
{
    struct pm_credits c;
    char err[512] = "";
    size_t i;

    if (argc != 2) {
        pm_buf_str(&t->out, "error: usage: credits SENDER");
        return;
    }
    memset(&c, 0, sizeof(c));
    if (pm_store_credits(t->st, argv[1], &c, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_printf(&t->out, "grants=%zu moves=%zu g=", c.n_grant, c.n_move);
    for (i = 0; i < c.n_grant; i++) {
        const struct pm_grant *g = &c.grant[i];

        pm_buf_printf(&t->out, "%s%lld:%lld:%lld:%lld:%lld:%lld", i ? "," : "", g->id, g->msgs,
                      g->rcpts, g->expires, g->g_msgs, g->g_rcpts);
    }
    pm_buf_str(&t->out, c.n_grant ? " mv=" : "- mv=");
    for (i = 0; i < c.n_move; i++) {
        const struct pm_credit_move *m = &c.move[i];

        pm_buf_printf(&t->out, "%s%s:%lld:%lld:%lld:%s", i ? "," : "", m->event, m->msgs, m->rcpts,
                      m->expires, m->note);
    }
    pm_buf_str(&t->out, c.n_move ? " mvt=" : "- mvt=");
    for (i = 0; i < c.n_move; i++)
        pm_buf_printf(&t->out, "%s%lld", i ? "," : "", c.move[i].time);
    if (!c.n_move)
        pm_buf_str(&t->out, "-");
    pm_credits_free(&c);
}

/* warmup SENDER|d:DOMAIN reset|STAGE [keep=S] [off=N] */
static void
cmd_warmup(struct tool *t, int argc, char **argv)
{
    struct pm_warmup_set w = {NULL, NULL, -1, 31LL * 86400, t->def.wday_offset};
    char err[512] = "";
    long long day = 0;
    int had = 0, a, bad = argc < 3;

    if (!bad && strncmp(argv[1], "d:", 2) == 0)
        w.domain = argv[1] + 2;
    else if (!bad)
        w.sender = argv[1];
    if (!bad && strcmp(argv[2], "reset") != 0)
        bad = parse_ll(argv[2], &w.stage) < 0 || w.stage < 0;
    for (a = 3; a < argc && !bad; a++) {
        if (strncmp(argv[a], "keep=", 5) == 0)
            bad = parse_ll(argv[a] + 5, &w.keep) < 0;
        else if (strncmp(argv[a], "off=", 4) == 0)
            bad = parse_ll(argv[a] + 4, &w.day_offset) < 0;
        else
            bad = 1;
    }
    if (bad) {
        pm_buf_str(&t->out, "error: usage: warmup SENDER|d:DOMAIN reset|STAGE [keep=S] [off=N]");
        return;
    }
    if (pm_store_warmup_set(t->st, &w, &had, &day, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_printf(&t->out, "had=%d day=%lld", had, day);
}

/* contact SENDER NAME [company=C] */
static void
cmd_contact(struct tool *t, int argc, char **argv)
{
    struct pm_contact_days d;
    const char *company;
    char hex[17], err[512] = "";

    if (argc < 3 || argc > 4 || (argc == 4 && strncmp(argv[3], "company=", 8) != 0)) {
        pm_buf_str(&t->out, "error: usage: contact SENDER NAME [company=C]");
        return;
    }
    company = argc == 4 ? argv[3] + 8 : domain_of(argv[1]);
    name_hash(argv[2], hex);
    if (pm_store_contact_days(t->st, argv[1], company, hex, &d, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_printf(&t->out, "ct=%lld lc=%lld dct=%lld", d.sender, d.learned, d.company);
}

/* Append one sender of the top index. */
static int
top_each(void *arg, const char *sender)
{
    struct pm_buf *b = arg;

    pm_buf_printf(b, "%s%s", b->p[b->len - 1] == '=' ? "" : ",", sender);
    return 0;
}

/* top DAYS LIMIT */
static void
cmd_top(struct tool *t, int argc, char **argv)
{
    struct pm_buf list;
    long long days, limit, now = 0;
    char err[512] = "", *text;

    if (argc != 3 || parse_ll(argv[1], &days) < 0 || parse_ll(argv[2], &limit) < 0) {
        pm_buf_str(&t->out, "error: usage: top DAYS LIMIT");
        return;
    }
    /* the companies metered so far, announced as the daemon's watcher does a second later */
    if (pm_coreg_flush(t->st, 1, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_growing(&list);
    pm_buf_str(&list, "senders=");
    if (pm_store_top(t->st, (int)days, (int)limit, top_each, &list, &now, err, sizeof(err)) < 0) {
        free(pm_buf_take(&list));
        out_err(t, err);
        return;
    }
    text = pm_buf_take(&list);
    t->op_now = now;
    pm_buf_printf(&t->out, "now=%lld %s%s", now, text ? text : "",
                  text && strcmp(text, "senders=") == 0 ? "-" : "");
    free(text);
}

/* plan SENDER NAME|clear [keep=S] */
static void
cmd_plan(struct tool *t, int argc, char **argv)
{
    long long keep = 86400;
    char err[512] = "";
    int had = 0;

    if (argc < 3 || argc > 4 ||
        (argc == 4 && (strncmp(argv[3], "keep=", 5) != 0 || parse_ll(argv[3] + 5, &keep) < 0))) {
        pm_buf_str(&t->out, "error: usage: plan SENDER NAME|clear [keep=S]");
        return;
    }
    if (pm_store_plan_set(t->st, argv[1], strcmp(argv[2], "clear") ? argv[2] : NULL, keep, &had,
                          err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_printf(&t->out, "had=%d", had);
}

/* planget SENDER */
static void
cmd_planget(struct tool *t, int argc, char **argv)
{
    struct pm_override o;
    char err[512] = "";

    memset(&o, 0, sizeof(o));
    if (argc != 2) {
        pm_buf_str(&t->out, "error: usage: planget SENDER");
        return;
    }
    if (pm_store_plan_get(t->st, argv[1], &o, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    pm_buf_printf(&t->out, "plan=%s unknown=%s", o.plan[0] ? o.plan : "-",
                  o.unknown[0] ? o.unknown : "-");
}

/* now */
static void
cmd_now(struct tool *t, int argc, char **argv)
{
    char err[512] = "";
    long long now;

    (void)argc;
    (void)argv;
    if (pm_store_now(t->st, &now, err, sizeof(err)) < 0) {
        out_err(t, err);
        return;
    }
    t->op_now = now;
    pm_buf_printf(&t->out, "now=%lld", now);
}

/* Order strings (qsort). */
static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a reply's value: a scalar, or an array's elements comma-separated
 * (sorted when asked; pairs as FIELD=VALUE). */
static void
out_reply(struct pm_buf *b, const redisReply *r, int sorted, int pairs)
{
    char **items;
    size_t i, n, step = pairs ? 2 : 1;

    if (r->type == REDIS_REPLY_INTEGER) {
        pm_buf_printf(b, "%lld", r->integer);
        return;
    }
    if (r->type == REDIS_REPLY_NIL) {
        pm_buf_str(b, "nil");
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        pm_buf_str(b, r->str ? r->str : "?");
        return;
    }
    if (r->elements == 0) {
        pm_buf_str(b, "-");
        return;
    }
    n = r->elements / step;
    items = calloc(n, sizeof(*items));
    for (i = 0; items && i < n; i++) {
        struct pm_buf e;

        pm_buf_growing(&e);
        out_reply(&e, r->element[i * step], 0, 0);
        if (pairs) {
            pm_buf_str(&e, "=");
            out_reply(&e, r->element[i * step + 1], 0, 0);
        }
        items[i] = pm_buf_take(&e);
    }
    if (!items)
        return;
    if (sorted)
        qsort(items, n, sizeof(*items), str_cmp);
    for (i = 0; i < n; i++) {
        pm_buf_printf(b, "%s%s", i ? "," : "", items[i] ? items[i] : "?");
        free(items[i]);
    }
    free(items);
}

/* read COMMAND ARGS...: a read-only command, to check what the scripts wrote. */
static void
cmd_read(struct tool *t, int argc, char **argv)
{
    static const char *const ok[] = {"GET",    "HGET",      "HMGET",  "HGETALL", "HKEYS",
                                     "HLEN",   "TTL",       "EXISTS", "LLEN",    "LRANGE",
                                     "ZSCORE", "ZREVRANGE", "ZCARD",  "HEXISTS"};
    redisReply *r;
    size_t i;

    for (i = 0; argc > 1 && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcasecmp(argv[1], ok[i]) == 0)
            break;
    if (argc < 3 || i == sizeof(ok) / sizeof(ok[0])) {
        pm_buf_str(&t->out, "error: usage: read COMMAND ARGS... (a read-only command)");
        return;
    }
    r = redisCommandArgv(t->rc, argc - 1, (const char **)argv + 1, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        pm_buf_printf(&t->out, "error: %s", r ? r->str : "no reply");
        if (r)
            freeReplyObject(r);
        return;
    }
    pm_buf_str(&t->out, "reply=");
    out_reply(&t->out, r, strcasecmp(argv[1], "HKEYS") == 0 || strcasecmp(argv[1], "HGETALL") == 0,
              strcasecmp(argv[1], "HGETALL") == 0);
    freeReplyObject(r);
}

/* set KEY=VALUE... */
static void
cmd_set(struct tool *t, int argc, char **argv)
{
    struct settings s = t->def;
    int a;

    for (a = 1; a < argc; a++) {
        char *eq = strchr(argv[a], '=');

        if (eq)
            *eq = '\0';
        if (!eq || setting(&s, argv[a], eq + 1) <= 0) {
            pm_buf_printf(&t->out, "error: bad setting %s", argv[a]);
            return;
        }
    }
    t->def = s;
    pm_buf_str(&t->out, "ok");
}

/* reset */
static void
cmd_reset(struct tool *t, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    t->def = t->init;
    pm_buf_str(&t->out, "ok");
}

/* A command: its name, its function, whether it may write to the store. */
struct command {
    const char *name;
    void (*run)(struct tool *t, int argc, char **argv);
    int writes; /* 0: read-only, run again when the store's second ticked */
    int clock;  /* 1: runs against the store at t->at */
};

static const struct command commands[] = {
    {"probe", cmd_meter, 0, 1},     {"commit", cmd_meter, 1, 1},    {"force", cmd_meter, 1, 1},
    {"bounce", cmd_bounce, 1, 1},   {"mail", cmd_mail, 1, 1},       {"grant", cmd_grant, 1, 1},
    {"revoke", cmd_revoke, 1, 1},   {"credits", cmd_credits, 0, 1}, {"warmup", cmd_warmup, 1, 1},
    {"contact", cmd_contact, 0, 1}, {"top", cmd_top, 0, 1},         {"plan", cmd_plan, 1, 1},
    {"planget", cmd_planget, 0, 1}, {"now", cmd_now, 0, 1},         {"read", cmd_read, 0, 0},
    {"set", cmd_set, 0, 0},         {"reset", cmd_reset, 0, 0},
};

/* Run one command against the store at t->at, again while a read-only one
 * ran in another second; its line goes to t->out. */
static void
run_command(struct tool *t, const struct command *c, int argc, char **argv)
{
    char *copy[MAX_WORDS];
    long long sec = 0, s2, us;
    int try, i;

    for (try = 0; try < TICK_TRIES; try++) {
        for (i = 0; i < argc; i++)
            copy[i] = strdup(argv[i]); /* the commands cut their words */
        free(pm_buf_take(&t->out));
        t->op_now = -1;
        if (c->clock && t->have_at && clock_align(t, &sec) < 0) {
            pm_buf_str(&t->out, "error: cannot set the test clock");
            goto next;
        }
        c->run(t, argc, copy);
        if (!c->clock || !t->have_at || strncmp(t->out.p ? t->out.p : "", "error", 5) == 0)
            try = TICK_TRIES;
        else if (t->op_now >= 0 ? t->op_now == t->at : redis_time(t, &s2, &us) == 0 && s2 == sec)
            try = TICK_TRIES;
        else if (c->writes) {
            free(pm_buf_take(&t->out));
            pm_buf_printf(&t->out, "error: store time ticked past %lld", t->at);
            try = TICK_TRIES;
        }
    next:
        for (i = 0; i < argc; i++)
            free(copy[i]);
    }
}

/* at T | at +N | at -N */
static void
cmd_at(struct tool *t, int argc, char **argv)
{
    long long v;

    free(pm_buf_take(&t->out));
    if (argc != 2 || parse_ll(argv[1][0] == '+' ? argv[1] + 1 : argv[1], &v) < 0) {
        pm_buf_str(&t->out, "error: usage: at T | at +N | at -N");
        return;
    }
    if (argv[1][0] == '+' || argv[1][0] == '-') {
        if (!t->have_at) {
            pm_buf_str(&t->out, "error: at +N before any at T");
            return;
        }
        v += t->at;
    }
    t->at = v;
    t->have_at = 1;
    t->clock_sec = -1;
    pm_buf_printf(&t->out, "at=%lld", t->at);
}

/* Read and run the commands of standard input. */
static void
run(struct tool *t)
{
    char line[65536], *words[MAX_WORDS], *save, *w;
    int n;
    size_t i;

    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        n = 0;
        for (w = strtok_r(line, " \t", &save); w && n < MAX_WORDS; w = strtok_r(NULL, " \t", &save))
            words[n++] = w;
        if (n == 0 || words[0][0] == '#')
            continue;
        if (strcmp(words[0], "at") == 0)
            cmd_at(t, n, words);
        else {
            for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(words[0], commands[i].name) == 0)
                    break;
            if (i == sizeof(commands) / sizeof(commands[0])) {
                free(pm_buf_take(&t->out));
                pm_buf_printf(&t->out, "error: unknown command %s", words[0]);
            } else
                run_command(t, &commands[i], n, words);
        }
        w = pm_buf_take(&t->out);
        printf("%s\n", w ? w : "error: out of memory");
        fflush(stdout);
        free(w);
    }
}

/* Add a plan "NAME:LIMITS:CURVE:ACTION" to conf (the curve holds ':'
 * itself: the action follows the last one); -1 if bad. */
static int
add_plan(struct pm_conf *conf, const char *spec)
{
    const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *last = strrchr(spec, ':');
    char field[1024];
    struct scope_set sc;
    long long lim[PM_C_COUNT];
    struct pm_plan *p = &conf->plans[conf->n_plans];
    size_t i;

    if (!c2 || last <= c2 || conf->n_plans == MAX_PLANS || (size_t)(last - c2) >= sizeof(field))
        return -1;
    memset(p, 0, sizeof(*p));
    snprintf(field, sizeof(field), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    if (parse_ints(field, lim, PM_C_COUNT) < 0)
        return -1;
    snprintf(field, sizeof(field), "%.*s", (int)(last - c2 - 1), c2 + 1);
    if (parse_curve(field, &sc) < 0 || pm_action_parse(last + 1, &p->action) < 0)
        return -1;
    p->name = strndup(spec, (size_t)(c1 - spec));
    p->lim.msgs_hour = lim[PM_C_MSGS_HOUR];
    p->lim.msgs_day = lim[PM_C_MSGS_DAY];
    p->lim.rcpts_hour = lim[PM_C_RCPTS_HOUR];
    p->lim.rcpts_day = lim[PM_C_RCPTS_DAY];
    p->lim.new_rcpts_day = lim[PM_C_NEW_DAY];
    p->lim.int_msgs_hour = lim[PM_C_INT_HOUR];
    p->lim.int_msgs_day = lim[PM_C_INT_DAY];
    for (i = 0; i < sc.n; i++) {
        p->warmup.cap[i] = sc.day[i];
        p->warmup_hour[i] = sc.hour[i];
    }
    p->warmup.n = sc.n;
    p->warmup_set = sc.n > 0;
    conf->n_plans++;
    return p->name ? 0 : -1;
}

/* Parse the options into conf. */
static void
parse_options(int argc, char **argv, struct pm_conf *conf)
{
    int c;

    while ((c = getopt(argc, argv, "h:p:x:L:")) != -1) {
        switch (c) {
        case 'h':
            conf->redis_host = optarg;
            break;
        case 'p':
            conf->redis_port = atoi(optarg);
            break;
        case 'x':
            conf->key_prefix = optarg;
            break;
        case 'L':
            if (add_plan(conf, optarg) < 0)
                usage();
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
}

/* Run the commands of standard input against one store. */
int
main(int argc, char **argv)
{
    static struct tool t;
    struct pm_conf *conf = calloc(1, sizeof(*conf));
    struct pm_plan *plans = calloc(MAX_PLANS, sizeof(*plans));
    size_t i;

    if (!conf || !plans)
        return 2;
    conf->redis_host = "127.0.0.1";
    conf->redis_port = 6379;
    conf->key_prefix = "pm";
    conf->connect_timeout_ms = 500;
    conf->command_timeout_ms = 2000;
    conf->retry_min_ms = 10;
    conf->retry_max_ms = 100;
    conf->pool_size = 2;
    conf->redis_test_clock = 1;
    conf->plans = plans;
    parse_options(argc, argv, conf);

    pm_log_set_level(PM_LOG_WARNING);
    t.st = pm_store_redis_new(conf);
    t.rc = redisConnect(conf->redis_host, conf->redis_port);
    snprintf(t.prefix, sizeof(t.prefix), "%s", conf->key_prefix);
    for (i = 0; i < conf->n_plans; i++)
        free(plans[i].name);
    free(plans);
    free(conf); /* the store keeps its own copies */
    if (!t.st || !t.rc || t.rc->err) {
        fprintf(stderr, "scriptcli: cannot reach redis: %s\n", t.rc ? t.rc->errstr : "no memory");
        return 2;
    }
    t.clock_sec = -1;
    settings_init(&t.init);
    t.def = t.init;
    pm_buf_growing(&t.out);
    run(&t);
    free(pm_buf_take(&t.out));
    pm_store_free(t.st);
    redisFree(t.rc);
    return 0;
}
