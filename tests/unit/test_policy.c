/*
 * test_policy.c - the engine's orchestration (policy/policy.c) against a
 * scripted, recording fake store: direction, early refusal at RCPT, the
 * end-of-message check-and-count, over-limit actions, dry run, learning
 * mode, store errors, fake replies (the references in the end-of-message
 * call), the decisions taken without the store from what the server knows
 * of a sender (policy/sknow.c) and the decision log line.
 *
 * The fake decides nothing: each test queues the answers the store gives, in
 * order, and the fake records every request it is asked (a request with no
 * answer queued, or an answer never asked for, fails the test). A test
 * asserts what the engine asks (mode, counts, scopes, limits, soft flags,
 * contacts, ids) and what it does with each answer (verdict, reply, log
 * line). Whether an answer is right for a request is the meter script's
 * business, tested against a real Redis by tests/integration (exact.sh,
 * store.sh, ...). The engine's monotonic clock is a fake one too
 * (pm_mono_ms() below): a test that waits moves it forward.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"
#include "feedback.h"
#include "learning.h"
#include "log.h"
#include "policy.h"
#include "siphash.h"
#include "sknow.h"
#include "suplocal.h"
#include "zone.h"

#define NOW 1795699200LL      /* Thursday 2026-11-26 13:20:00 UTC */
#define MIDNIGHT 1795737600LL /* Friday 2026-11-27 00:00:00 UTC */
#define MAX_CALLS 16
#define MAX_ANSWERS 16
#define MAX_HASHES 8
#define MAX_STAGES 8
#define MAX_LOGGED 16

/* One scope of a recorded request. */
struct scope_call {
    int used; /* an id was given */
    char id[PM_ADDR_MAX];
    long long limit[PM_C_COUNT];
    int soft;
    size_t warmup_n;
    long long day_cap[MAX_STAGES], hour_cap[MAX_STAGES]; /* the curve's first stages */
    int dormant_days;
    long long max_bounce_ppm;
};

/* One request the fake store was asked, copied out of struct pm_meter_req. */
struct call {
    enum pm_meter_mode mode;
    long long msgs, rcpts, internal;
    struct scope_call scope[PM_SCOPE_COUNT];
    size_t n_hashes;
    char hashes[MAX_HASHES][17];
    long long cold_before;
    int ttl_days;
    long long contacts_max;
    int company_wide;
    char contacts_domain[PM_ADDR_MAX];
    struct pm_reputation_req reputation;
    int has_sup_rcpt;
    char sup_rcpt[PM_ADDR_MAX];
    char company[PM_ADDR_MAX];
    int has_txid;
    char txid[17];
    int has_msgid;
    char msgid_hash[17];
    int msgid_days;
    long long msgid_max;
    long long wday_offset;
    int hour_bucket, day_bucket;
    int wu_learn;               /* learning: the active days that end a warm-up (0: none) */
    struct pm_incident_req inc; /* its strings: below ("" for NULL) */
    char inc_qid[32], inc_domains[256], inc_net[64];
    size_t n_refs; /* fake replies: the references asked about, the gate */
    char refs[PM_METER_MAX_REFS][17];
    int refs_gate;
};

/* One answer the fake store gives: a return code (and its text) and a result. */
struct answer {
    int rc;
    char err[64];
    struct pm_meter_res res;
};

static struct call calls[MAX_CALLS];
static int n_calls;
static struct answer queue[MAX_ANSWERS];
static int n_queued, n_answered;
static char logged[MAX_LOGGED][PM_LOG_LINE_MAX];
static int n_logged;

/* Copy src (NULL: "") into dst; 1 when src was given. */
static int
keep(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
    return src != NULL;
}

/* Record one scope of a request. */
static void
record_scope(const struct pm_scope_req *sc, struct scope_call *out)
{
    size_t i;

    out->used = keep(out->id, sizeof(out->id), sc->id);
    memcpy(out->limit, sc->limit, sizeof(out->limit));
    out->soft = sc->soft;
    out->warmup_n = sc->warmup.n;
    for (i = 0; i < sc->warmup.n && i < MAX_STAGES; i++) {
        out->day_cap[i] = sc->warmup.day_cap[i];
        out->hour_cap[i] = sc->warmup.hour_cap[i];
    }
    out->dormant_days = sc->warmup.dormant_days;
    out->max_bounce_ppm = sc->warmup.max_bounce_ppm;
}

/* Record a request: the fields the engine fills. */
static void
record(const struct pm_meter_req *req)
{
    struct call *c;
    size_t i;
    int s;

    assert_true(n_calls < MAX_CALLS);
    c = &calls[n_calls++];
    memset(c, 0, sizeof(*c));
    c->mode = req->mode;
    c->msgs = req->msgs;
    c->rcpts = req->rcpts;
    c->internal = req->internal;
    for (s = 0; s < PM_SCOPE_COUNT; s++)
        record_scope(&req->scope[s], &c->scope[s]);
    assert_true(req->contacts.n <= MAX_HASHES);
    c->n_hashes = req->contacts.n;
    for (i = 0; i < req->contacts.n; i++)
        keep(c->hashes[i], sizeof(c->hashes[i]), req->contacts.hashes[i]);
    c->cold_before = req->contacts.cold_before;
    c->ttl_days = req->contacts.ttl_days;
    c->contacts_max = req->contacts.max;
    c->company_wide = req->contacts.company_wide;
    keep(c->contacts_domain, sizeof(c->contacts_domain), req->contacts.domain);
    c->reputation = req->reputation;
    c->has_sup_rcpt = keep(c->sup_rcpt, sizeof(c->sup_rcpt), req->suppressed_rcpt);
    keep(c->company, sizeof(c->company), req->company);
    c->has_txid = keep(c->txid, sizeof(c->txid), req->txid);
    c->has_msgid = keep(c->msgid_hash, sizeof(c->msgid_hash), req->msgid_hash);
    c->msgid_days = req->msgid_days;
    c->msgid_max = req->msgid_max;
    c->wday_offset = req->wday_offset;
    c->hour_bucket = req->hour_bucket;
    c->day_bucket = req->day_bucket;
    c->wu_learn = req->wu_learn;
    c->inc = req->incident;
    keep(c->inc_qid, sizeof(c->inc_qid), req->incident.qid);
    keep(c->inc_domains, sizeof(c->inc_domains), req->incident.domains);
    keep(c->inc_net, sizeof(c->inc_net), req->incident.net);
    c->inc.qid = c->inc.domains = c->inc.net = NULL;
    assert_true(req->n_refs <= PM_METER_MAX_REFS);
    c->n_refs = req->n_refs;
    for (i = 0; i < req->n_refs; i++)
        keep(c->refs[i], sizeof(c->refs[i]), req->ref_hashes[i]);
    c->refs_gate = req->refs_gate;
}

/* The fake store's meter operation: record the request, give the next queued
 * answer; a request no answer was queued for fails the test. */
static int
fake_meter(void *impl, const struct pm_meter_req *req, struct pm_meter_res *res, char *err,
           size_t errlen)
{
    const struct answer *a;

    (void)impl;
    record(req);
    if (n_answered >= n_queued)
        fail_msg("store request %d (mode %d) has no answer queued", n_calls, (int)req->mode);
    a = &queue[n_answered++];
    if (a->rc != PM_STORE_OK) {
        snprintf(err, errlen, "%s", a->err);
        return a->rc;
    }
    *res = a->res;
    return PM_STORE_OK;
}

/* Queue the store's next answer: fits or not, counted or not, decided at NOW,
 * no plan override; returns it for the test to fill in the rest. */
static struct pm_meter_res *
answer(int fits, int counted)
{
    struct answer *a;

    assert_true(n_queued < MAX_ANSWERS);
    a = &queue[n_queued++];
    memset(a, 0, sizeof(*a));
    a->rc = PM_STORE_OK;
    a->res.fits = fits;
    a->res.counted = counted;
    a->res.now = NOW;
    a->res.plan = -1;
    return &a->res;
}

/* Queue an answer that does not fit: counter c of scope s is over limit and
 * fits again at retry_at (-1: never). */
static struct pm_meter_res *
answer_over(enum pm_scope s, enum pm_counter c, long long limit, long long retry_at, int counted)
{
    struct pm_meter_res *r = answer(0, counted);

    r->over_scope = s;
    r->over_counter = c;
    r->over_limit = limit;
    r->over_used = limit;
    r->retry_at = retry_at;
    return r;
}

/* Queue a store failure (PM_STORE_RETRY or PM_STORE_ERROR) with its text. */
static void
answer_fail(int rc, const char *err)
{
    struct answer *a;

    assert_true(n_queued < MAX_ANSWERS);
    a = &queue[n_queued++];
    memset(a, 0, sizeof(*a));
    a->rc = rc;
    snprintf(a->err, sizeof(a->err), "%s", err);
}

/* The log sink: keep the lines. */
static void
log_sink(void *ctx, int level, const char *line)
{
    (void)ctx;
    (void)level;
    if (n_logged < MAX_LOGGED)
        snprintf(logged[n_logged++], sizeof(logged[0]), "%s", line);
}

/* How many logged lines hold text. */
static int
logged_with(const char *text)
{
    int i, n = 0;

    for (i = 0; i < n_logged; i++)
        n += strstr(logged[i], text) != NULL;
    return n;
}

/* The monotonic clock the engine reads (policy/clock.h), here a fake one the
 * tests move: defined here, these two are linked instead of policy/clock.c's
 * (all that file defines), so that a test waits without sleeping. */
static long long mono_ms = 86400000; /* a day after boot: never 0 */

/* Milliseconds on the fake monotonic clock. */
long long
pm_mono_ms(void)
{
    return mono_ms;
}

/* Whole seconds on the fake monotonic clock. */
long long
pm_mono_s(void)
{
    return mono_ms / 1000;
}

static long long learn_start; /* the learning start the fake keeps (0: none) */
static long long learn_shift; /* seconds its clock is ahead of NOW */

/* The fake store's learning start: recorded once, as learning.lua does. */
static int
fake_learning(void *impl, int record, long long keep, long long *start, long long *now, char *err,
              size_t errlen)
{
    (void)impl;
    (void)keep;
    (void)err;
    (void)errlen;
    *now = NOW + learn_shift;
    if (record && !learn_start)
        learn_start = *now;
    *start = learn_start;
    return PM_STORE_OK;
}

static const struct pm_store_ops fake_ops = {.meter = fake_meter, .learning = fake_learning};
static struct pm_store store = {&fake_ops, NULL};
static char *local_domains[] = {"example.com"};
static struct pm_cidr nets[1];
static struct pm_plan plans[3];
static struct pm_assign drules[1];
static struct pm_conf conf;
static struct pm_assign carol_tagged = {PM_MATCH_ADDRESS, "carol@example.com", 1, 1};

/* This server's copy of the suppression lists (policy/suplocal.c), as the
 * tests want it: off (every recipient may be on a list: ask the store), or,
 * sure, loaded and empty (every recipient is surely on none). */
static void
suplocal_set(int sure)
{
    pm_suplocal_setup(sure ? 1000 : 0);
    if (sure) {
        pm_suplocal_begin();
        pm_suplocal_ready(1);
    }
}

/* A fresh configuration, an empty queue and no records for each test. */
static int
setup(void **state)
{
    (void)state;
    n_calls = n_queued = n_answered = n_logged = 0;
    suplocal_set(0);
    pm_sknow_clear();
    memset(&conf, 0, sizeof(conf));
    memset(plans, 0, sizeof(plans));
    plans[0] = (struct pm_plan){
        .name = "default", .lim = {3, 500, 0, 1000, 100, 4}, .action = PM_ACT_TEMPFAIL};
    plans[1] = (struct pm_plan){.name = "tagged", .lim = {2, 0, 0, 0, 0, 0}, .action = PM_ACT_TAG};
    plans[2] =
        (struct pm_plan){.name = "company", .lim = {5, 0, 0, 0, 0, 0}, .action = PM_ACT_REJECT};
    assert_int_equal(pm_cidr_parse("127.0.0.0/8", &nets[0]), 0);
    memset(conf.contacts_key, 7, sizeof(conf.contacts_key));
    conf.local_domains = local_domains;
    conf.n_local_domains = 1;
    conf.networks = nets;
    conf.n_networks = 1;
    conf.plans = plans;
    conf.n_plans = 3;
    conf.hour_bucket = 60;
    conf.day_bucket = 600;
    conf.header_name = "X-Postmeter";
    conf.contacts_ttl_days = 365;
    conf.contacts_max = 50000;
    conf.msgid_days = 30;
    conf.msgid_max = 5000;
    conf.warmup_dormant_days = 30;
    conf.warmup_max_bounce_rate = 0.03;
    conf.rep_min_sends = 50;
    conf.rep_warn = 0.02;
    conf.rep_halve = 0.03;
    conf.rep_refuse_cold = 0.05;
    conf.rep_refuse_all = 0.10;
    return 0;
}

/* Every queued answer was asked for. */
static int
teardown(void **state)
{
    (void)state;
    assert_int_equal(n_answered, n_queued);
    return 0;
}

/* Start a message from an origin. */
static void
start(struct pm_msg *m, const char *addr, const char *login, const char *from)
{
    struct pm_origin o = {addr, NULL, login, 0};

    pm_policy_mail(&conf, &o, from, m);
}

/* Put the domain's company-wide plan in place: example.com on plan 2. */
static void
company_plan(void)
{
    drules[0] = (struct pm_assign){PM_MATCH_DOMAIN, "example.com", 2, 1};
    conf.domain_assign = drules;
    conf.n_domain_assign = 1;
}

/* The rule "new" in place, alone: a first contact (one cold recipient or
 * more) is refused for approval. Returns it for a test to change. */
static struct pm_rule *
first_contact_rule(void)
{
    static struct pm_cond cold = {PM_F_FIRST_CONTACT, PM_OP_GE, 1};
    static struct pm_rule rule;

    rule = (struct pm_rule){.name = "new",
                            .all = &cold,
                            .n_all = 1,
                            .action = PM_ACT_REJECT,
                            .reply = "first contact needs approval"};
    conf.rules = &rule;
    conf.n_rules = 1;
    return &rule;
}

/* The contact hash of a normalised address, as the engine keys it. */
static void
hash_of(const char *addr, char out[17])
{
    pm_siphash_hex(conf.contacts_key, addr, strlen(addr), out);
}

/* The decision log line of m and v (a static buffer). */
static const char *
log_line(const struct pm_msg *m, const struct pm_verdict *v, const char *stage)
{
    static char line[1024];

    pm_policy_format(&conf, m, v, stage, line, sizeof(line));
    return line;
}

/* Assert the limits a recorded scope carries, in counter order. */
static void
assert_limits(const struct scope_call *sc, const long long want[PM_C_COUNT])
{
    int c;

    for (c = 0; c < PM_C_COUNT; c++)
        assert_int_equal(sc->limit[c], want[c]);
}

/* Assert what a recorded request adds: messages, external recipients, internal messages. */
static void
assert_adds(const struct call *c, enum pm_meter_mode mode, long long msgs, long long rcpts,
            long long internal)
{
    assert_int_equal(c->mode, mode);
    assert_int_equal(c->msgs, msgs);
    assert_int_equal(c->rcpts, rcpts);
    assert_int_equal(c->internal, internal);
}

/* Assert a verdict's action, reason, codes and text (NULL: none). */
static void
assert_verdict(const struct pm_verdict *v, enum pm_action act, const char *reason,
               const char *rcode, const char *xcode, const char *text)
{
    assert_int_equal(v->action, act);
    assert_string_equal(v->reason, reason);
    assert_string_equal(v->rcode, rcode ? rcode : "");
    assert_string_equal(v->xcode, xcode ? xcode : "");
    assert_string_equal(v->text, text ? text : "");
}

/* Incoming mail and the null sender are never metered: the store is never asked. */
static void
test_not_metered(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    start(&m, "198.51.100.1", NULL, "<stranger@example.org>");
    assert_int_equal(m.outgoing, 0);
    assert_int_equal(m.metered, 0);
    pm_policy_rcpt(&conf, &store, &m, "<x@example.com>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    start(&m, "127.0.0.1", NULL, "<>");
    assert_int_equal(m.outgoing, 1);
    assert_int_equal(m.metered, 0);
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_string_equal(log_line(&m, &v, "eom"),
                        "stage=eom action=accept reason=ok sender=<> plan=- rcpts=0 ext=0");
    assert_int_equal(n_calls, 0);
}

/* A probe at RCPT, a commit at end of message, with the sender's plan; given
 * answers fits, fits, fits, then over, the 4th and 5th messages are refused
 * at RCPT with the plan's limit and the answer's retry time. */
static void
test_limit_at_rcpt(void **state)
{
    static const long long lim[PM_C_COUNT] = {3, 500, 0, 1000, 100, 0, 0};
    struct pm_msg m;
    struct pm_verdict v;
    char bob[17];
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        answer(1, 0);
        answer(1, 1);
    }
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 660, 0);
    for (i = 0; i < 5; i++) {
        start(&m, "127.0.0.1", "Alice@Example.com", "<whatever@example.com>");
        assert_string_equal(m.sender, "alice@example.com");
        pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
        if (i < 3) {
            assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
            assert_int_equal(m.nrcpt, 1);
            pm_policy_eom(&conf, &store, &m, &v);
            assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
            assert_adds(&calls[2 * i], PM_METER_PROBE, 1, 1, 0);
            assert_adds(&calls[2 * i + 1], PM_METER_COMMIT, 1, 1, 0);
            continue;
        }
        assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_hour", "451", "4.7.1",
                       i == 3 ? "<alice@example.com>: hourly sending limit reached (3 messages "
                                "per hour); try again after 13:30 UTC"
                              : "<alice@example.com>: hourly sending limit reached (3 messages "
                                "per hour); try again after 13:31 UTC");
        assert_int_equal(m.nrcpt, 0);
        assert_int_equal(m.nrefused, 1);
        assert_adds(&calls[6 + i - 3], PM_METER_PROBE, 1, 1, 0);
    }
    assert_int_equal(n_calls, 8);
    /* the probe: the sender's scope alone, the recipient as contact and to look up */
    hash_of("bob@example.org", bob);
    assert_true(calls[0].scope[PM_SCOPE_SENDER].used);
    assert_string_equal(calls[0].scope[PM_SCOPE_SENDER].id, "alice@example.com");
    assert_limits(&calls[0].scope[PM_SCOPE_SENDER], lim);
    assert_int_equal(calls[0].scope[PM_SCOPE_SENDER].soft, 0);
    assert_int_equal(calls[0].scope[PM_SCOPE_SENDER].warmup_n, 0);
    assert_false(calls[0].scope[PM_SCOPE_DOMAIN].used);
    assert_int_equal(calls[0].n_hashes, 1);
    assert_string_equal(calls[0].hashes[0], bob);
    assert_int_equal(calls[0].cold_before, 0);
    assert_true(calls[0].has_sup_rcpt);
    assert_string_equal(calls[0].sup_rcpt, "bob@example.org");
    assert_string_equal(calls[0].company, "example.com");
    assert_false(calls[0].has_txid);
    assert_false(calls[0].has_msgid);
    /* the configuration's settings go with every request */
    assert_int_equal(calls[0].ttl_days, 365);
    assert_int_equal(calls[0].contacts_max, 50000);
    assert_int_equal(calls[0].company_wide, 0);
    assert_string_equal(calls[0].contacts_domain, "example.com");
    assert_int_equal(calls[0].reputation.min_sends, 50);
    assert_int_equal(calls[0].reputation.warn_ppm, 20000);
    assert_int_equal(calls[0].reputation.halve_ppm, 30000);
    assert_int_equal(calls[0].reputation.cold_ppm, 50000);
    assert_int_equal(calls[0].reputation.stop_ppm, 100000);
    assert_int_equal(calls[0].hour_bucket, 60);
    assert_int_equal(calls[0].day_bucket, 600);
    assert_int_equal(calls[0].wday_offset, 0);
    /* the commit: the same scope and recipient, a transaction id, no lookup */
    assert_string_equal(calls[1].scope[PM_SCOPE_SENDER].id, "alice@example.com");
    assert_limits(&calls[1].scope[PM_SCOPE_SENDER], lim);
    assert_false(calls[1].scope[PM_SCOPE_DOMAIN].used);
    assert_int_equal(calls[1].n_hashes, 1);
    assert_string_equal(calls[1].hashes[0], bob);
    assert_false(calls[1].has_sup_rcpt);
    assert_true(calls[1].has_txid);
    assert_int_equal(strlen(calls[1].txid), 16);
}

/* At end of message the commit's answer decides, even when the probe fitted. */
static void
test_over_at_eom(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    answer(1, 0);
    r = answer_over(PM_SCOPE_SENDER, PM_C_MSGS_DAY, 500, NOW + 5 * 3600, 0);
    memcpy(r->used[PM_SCOPE_SENDER], (long long[PM_C_COUNT]){2, 500, 7, 700, 12, 0, 0},
           sizeof(r->used[0]));
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[1].mode, PM_METER_COMMIT);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_day", "451", "4.7.1",
                   "<alice@example.com>: daily sending limit reached (500 messages per 24 hours); "
                   "try again after 18:20 UTC");
    assert_string_equal(
        log_line(&m, &v, "eom"),
        "stage=eom action=tempfail reason=msgs_day sender=alice@example.com plan=default rcpts=1 "
        "ext=1 msgs_hour=2/3 msgs_day=500/500 rcpts_hour=7/0 rcpts_day=700/1000 "
        "new_rcpts_day=12/100 cold=0 reply=\"451 4.7.1 <alice@example.com>: daily sending limit "
        "reached (500 messages per 24 hours); try again after 18:20 UTC\"");
    assert_int_equal(n_calls, 2);
}

/* A recipient counter that can never fit (retry_at -1): at RCPT that recipient
 * alone is refused (452); in a dry run, where it went through, the end of
 * message answer is a reject: retrying cannot help. */
static void
test_over_never(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    plans[0].lim.rcpts_hour = 1;
    answer(1, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_RCPTS_HOUR, 1, -1, 0);
    answer(1, 1);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<b@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    pm_policy_rcpt(&conf, &store, &m, "<c@example.org>", &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "rcpts_hour", "452", "4.7.1",
                   "<alice@example.com>: too many recipients for the hourly recipient limit (1 "
                   "external recipient per hour); send to the others in another message later");
    assert_int_equal(m.nrcpt, 1);
    assert_int_equal(m.nrefused, 1);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_adds(&calls[1], PM_METER_PROBE, 1, 2, 0);
    assert_adds(&calls[2], PM_METER_COMMIT, 1, 1, 0);

    conf.dry_run = 1;
    answer(1, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_RCPTS_HOUR, 1, -1, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_RCPTS_HOUR, 1, -1, 1);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<b@example.org>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<c@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(m.nrcpt, 2);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_adds(&calls[5], PM_METER_FORCE, 1, 2, 0);
    assert_verdict(&v, PM_ACT_REJECT, "rcpts_hour", "550", "5.7.1",
                   "<alice@example.com>: this message exceeds the hourly recipient limit (1 "
                   "external recipient per hour); send it to fewer recipients");
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(n_calls, 6);
}

/* Internal recipients are not external, a repeated recipient is neither asked
 * about nor counted again, recipients per message are checked without the
 * store; cold recipients: the store's count, passed with the next probe, and
 * at end of message the commit's count is the message's. */
static void
test_recipients(void **state)
{
    static const char *rcpts[] = {"<a@example.com>", "<b@example.org>", "<B@Example.org>",
                                  "<C@EXAMPLE.COM>", "<A@Example.com>", "<d@example.net>",
                                  "<e@example.net>"};
    struct pm_msg m;
    struct pm_verdict v;
    char b[17], d[17];
    size_t i;

    (void)state;
    hash_of("b@example.org", b);
    hash_of("d@example.net", d);
    answer(1, 0);           /* a: internal */
    answer(1, 0)->cold = 1; /* b: a first contact */
    answer(1, 0)->cold = 1; /* C: internal */
    answer(1, 0)->cold = 1; /* d: known */
    answer(1, 1)->cold = 2; /* the commit: its count is the one kept */
    start(&m, "127.0.0.1", NULL, "<alice+x@example.com>");
    for (i = 0; i < 7; i++) {
        pm_policy_rcpt(&conf, &store, &m, rcpts[i], &v);
        if (i < 6)
            assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    }
    assert_verdict(&v, PM_ACT_TEMPFAIL, "rcpts_per_msg", "452", "4.7.1",
                   "<alice@example.com>: too many recipients in one message (4 per message); "
                   "send the rest in another message");
    assert_int_equal(m.nrcpt, 4);
    assert_int_equal(m.next, 2);
    assert_int_equal(m.nrefused, 1);
    assert_int_equal(m.cold, 1);
    assert_string_equal(m.cold_rcpt, "<b@example.org>");
    /* four probes: neither the repeated recipients (external or internal: each
     * counts once) nor the one too many */
    assert_int_equal(n_calls, 4);
    assert_string_equal(calls[0].scope[PM_SCOPE_SENDER].id, "alice@example.com");
    assert_adds(&calls[0], PM_METER_PROBE, 0, 0, 1);
    assert_int_equal(calls[0].n_hashes, 0);
    assert_false(calls[0].has_sup_rcpt);
    assert_adds(&calls[1], PM_METER_PROBE, 1, 1, 0);
    assert_int_equal(calls[1].n_hashes, 1);
    assert_string_equal(calls[1].hashes[0], b);
    assert_string_equal(calls[1].sup_rcpt, "b@example.org");
    assert_int_equal(calls[1].cold_before, 0);
    assert_adds(&calls[2], PM_METER_PROBE, 1, 1, 0);
    assert_int_equal(calls[2].n_hashes, 0);
    assert_false(calls[2].has_sup_rcpt);
    assert_int_equal(calls[2].cold_before, 1);
    assert_adds(&calls[3], PM_METER_PROBE, 1, 2, 0);
    assert_int_equal(calls[3].n_hashes, 1);
    assert_string_equal(calls[3].hashes[0], d);
    assert_string_equal(calls[3].sup_rcpt, "d@example.net");
    assert_int_equal(calls[3].cold_before, 1);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_adds(&calls[4], PM_METER_COMMIT, 1, 2, 0);
    assert_int_equal(calls[4].n_hashes, 2);
    assert_string_equal(calls[4].hashes[0], b);
    assert_string_equal(calls[4].hashes[1], d);
    assert_int_equal(calls[4].cold_before, 0);
    assert_int_equal(m.cold, 2);
    assert_non_null(strstr(log_line(&m, &v, "eom"), " rcpts=4 ext=2 "));
    assert_non_null(strstr(log_line(&m, &v, "eom"), " cold=2"));
}

/* A rule on first contact refuses at end of message, naming the cold
 * recipient the probe found; a refused message is not committed. */
static void
test_first_contact_rule(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    first_contact_rule();
    answer(1, 0)->cold = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<Bob@Example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_REJECT, "rule:new", "550", "5.7.1",
                   "<alice@example.com> to <Bob@Example.org>: first contact needs approval");
    assert_int_equal(n_calls, 1);
}

/* Fake replies: a reply prefix to a first contact without references is
 * refused before the store is asked; with references, the end-of-message
 * call carries them (gated when the fake verdict refuses) and its answer
 * decides; a known recipient is never a fake reply. */
static void
test_fake_reply(void **state)
{
    struct pm_cond fake[2] = {{PM_F_FIRST_CONTACT, PM_OP_EQ, 1}, {PM_F_FAKE_REPLY, PM_OP_EQ, 1}};
    struct pm_rule rule = {
        .name = "fake", .all = fake, .n_all = 2, .action = PM_ACT_TEMPFAIL, .reply = "not a reply"};
    struct pm_msg m;
    struct pm_verdict v;
    char ref[17];

    (void)state;
    conf.rules = &rule;
    conf.n_rules = 1;
    assert_int_equal(pm_feedback_msgid_hash(&conf, "<intro@example.com>", ref), 0); /* as sent */
    /* no references: refused at end of message, the store not asked again */
    answer(1, 0)->cold = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    m.reply_prefix = 1;
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "rule:fake", "451", "4.7.1",
                   "<alice@example.com> to <bob@example.org>: not a reply");
    assert_int_equal(n_calls, 1);
    assert_non_null(strstr(log_line(&m, &v, "eom"), " cold=1"));
    /* references naming a message the sender sent: accepted, counted */
    answer(1, 0)->cold = 1;
    answer(1, 1)->cold = 1;
    queue[n_queued - 1].res.refs_known = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<carol@example.org>", &v);
    pm_policy_header(&conf, &m, "In-Reply-To", " <intro@example.com>");
    m.reply_prefix = 1;
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_int_equal(n_calls, 3);
    assert_int_equal(calls[2].mode, PM_METER_COMMIT);
    assert_int_equal(calls[2].n_refs, 1);
    assert_string_equal(calls[2].refs[0], ref);
    assert_int_equal(calls[2].refs_gate, 1);
    /* references naming nothing the sender sent: the gated call counted nothing */
    answer(1, 0)->cold = 1;
    answer(1, 0)->cold = 1;
    queue[n_queued - 1].res.refs_known = 0;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<dave@example.org>", &v);
    pm_policy_header(&conf, &m, "References", " <a@x.example> <b@x.example>");
    m.reply_prefix = m.scanned = 1; /* as the milter sets them from the scan */
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "rule:fake", "451", "4.7.1",
                   "<alice@example.com> to <dave@example.org>: not a reply");
    assert_int_equal(n_calls, 5);
    assert_int_equal(calls[4].n_refs, 2);
    assert_int_equal(calls[4].refs_gate, 1);
    assert_non_null(strstr(log_line(&m, &v, "eom"), " fake_reply=1"));
    /* the links by place follow the total, as postmeterctl classify names them */
    m.facts[PM_F_LINKS] = 6;
    m.facts[PM_F_SHORTENER_LINKS] = 1;
    m.facts[PM_F_BODY_LINKS] = 3;
    m.facts[PM_F_SIGNATURE_LINKS] = 2;
    m.facts[PM_F_QUOTED_LINKS] = 1;
    assert_non_null(strstr(log_line(&m, &v, "eom"), " links=6 shortener_links=1 body_links=3 "
                                                    "signature_links=2 quoted_links=1 "));
    /* a known recipient: no fake reply, no references asked about */
    answer(1, 0);
    answer(1, 1);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    m.reply_prefix = 1;
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_int_equal(n_calls, 7);
    assert_int_equal(calls[6].n_refs, 0);
    /* the rule in dry run: references asked about without the gate */
    rule.dry_run = 1;
    answer(1, 0)->cold = 1;
    answer(1, 1)->cold = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<erin@example.org>", &v);
    pm_policy_header(&conf, &m, "In-Reply-To", "<nosuch@example.net>");
    m.reply_prefix = 1;
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[8].n_refs, 1);
    assert_int_equal(calls[8].refs_gate, 0);
    assert_int_equal(v.action, PM_ACT_ACCEPT); /* a rule in dry run is only named */
    assert_string_equal(v.reason, "rule:fake?");
}

/* One message from carol (on the "tagged" plan) to one recipient: the RCPT
 * verdict in rv, the end-of-message verdict in v. */
static void
carol_message(struct pm_msg *m, struct pm_verdict *rv, struct pm_verdict *v)
{
    conf.assign = &carol_tagged;
    conf.n_assign = 1;
    start(m, "127.0.0.1", NULL, "<carol@example.com>");
    pm_policy_rcpt(&conf, &store, m, "<x@example.org>", rv);
    pm_policy_eom(&conf, &store, m, v);
}

/* A tag plan's scope is soft; over its limit the message goes, tagged, with a
 * plain commit (not forced); the tag adds no header. */
static void
test_tag_action(void **state)
{
    static const long long lim[PM_C_COUNT] = {2, 0, 0, 0, 0, 0, 0};
    struct pm_msg m;
    struct pm_verdict rv, v;
    char header[64];
    int i;

    (void)state;
    for (i = 0; i < 2; i++) {
        answer(1, 0);
        answer(1, 1);
    }
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 2, NOW + 600, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 2, NOW + 600, 1);
    for (i = 0; i < 3; i++) {
        carol_message(&m, &rv, &v);
        assert_int_equal(rv.action, PM_ACT_ACCEPT);
        assert_int_equal(m.nrcpt, 1);
        assert_int_equal(calls[2 * i].mode, PM_METER_PROBE);
        assert_int_equal(calls[2 * i + 1].mode, PM_METER_COMMIT);
        assert_int_equal(calls[2 * i + 1].scope[PM_SCOPE_SENDER].soft, 1);
        assert_limits(&calls[2 * i + 1].scope[PM_SCOPE_SENDER], lim);
    }
    assert_verdict(&v, PM_ACT_TAG, "msgs_hour", "451", "4.7.1",
                   "<carol@example.com>: hourly sending limit reached (2 messages per hour); try "
                   "again after 13:30 UTC");
    pm_verdict_header(&v, header, sizeof(header));
    assert_string_equal(header, "");
    /* one probe per recipient and one check-and-count per message */
    assert_int_equal(n_calls, 6);
}

/* A tag of the quota and a tag of a rule: the reason and the text list both,
 * the header names the rule. */
static void
test_tag_both(void **state)
{
    struct pm_rule tag = {.name = "always", .action = PM_ACT_TAG, .reply = "a rule that tags"};
    struct pm_msg m;
    struct pm_verdict rv, v;
    char header[64];

    (void)state;
    conf.rules = &tag;
    conf.n_rules = 1;
    answer(1, 0);
    answer(1, 1);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 2, NOW + 600, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 2, NOW + 600, 1);
    carol_message(&m, &rv, &v);
    assert_int_equal(calls[1].mode, PM_METER_COMMIT);
    assert_verdict(&v, PM_ACT_TAG, "rule:always", NULL, NULL, "always: a rule that tags");
    carol_message(&m, &rv, &v);
    assert_int_equal(calls[3].mode, PM_METER_COMMIT);
    assert_int_equal(v.action, PM_ACT_TAG);
    assert_string_equal(v.reason, "msgs_hour,rule:always");
    assert_string_equal(v.text, "<carol@example.com>: hourly sending limit reached (2 messages per "
                                "hour); try again after 13:30 UTC; always: a rule that tags");
    pm_verdict_header(&v, header, sizeof(header));
    assert_string_equal(header, "rule=always");
}

/* Dry run: every commit is forced; a refusal is computed and marked, the
 * recipient and the message go through; a rule's refusal too, alone or with
 * the quota's (the more severe action and its text, both reasons). */
static void
test_dry_run(void **state)
{
    struct pm_rule refuse = {.name = "all", .action = PM_ACT_REJECT, .reply = "no mail today"};
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    conf.dry_run = 1;
    answer(1, 0);
    answer(1, 1);
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[1].mode, PM_METER_FORCE);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_int_equal(v.dry_run, 0);

    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 1);
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(m.nrcpt, 1);
    assert_int_equal(m.nrefused, 0);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[3].mode, PM_METER_FORCE);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_hour", "451", "4.7.1",
                   "<dave@example.com>: hourly sending limit reached (3 messages per hour); try "
                   "again after 13:30 UTC");
    assert_int_equal(v.dry_run, 1);
    assert_non_null(
        strstr(log_line(&m, &v, "eom"), "stage=eom action=tempfail dry_run=yes reason=msgs_hour "));

    conf.rules = &refuse;
    conf.n_rules = 1;
    answer(1, 0);
    answer(1, 1);
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[5].mode, PM_METER_FORCE);
    assert_verdict(&v, PM_ACT_REJECT, "rule:all", "550", "5.7.1",
                   "<dave@example.com>: no mail today");
    assert_int_equal(v.dry_run, 1);

    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 1);
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[7].mode, PM_METER_FORCE);
    /* the more severe rule's reply whole: its code goes with its text */
    assert_verdict(&v, PM_ACT_REJECT, "msgs_hour,rule:all", "550", "5.7.1",
                   "<dave@example.com>: no mail today");
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(n_calls, 8);

    /* a store failure under on_store_error = tempfail refuses nothing in a dry
     * run, at end of message as at RCPT */
    conf.n_rules = 0;
    conf.on_store_error = PM_ONERR_TEMPFAIL;
    answer(1, 0);
    answer_fail(PM_STORE_RETRY, "fake store down");
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.reason, "store_error");
    assert_int_equal(v.dry_run, 1);
}

/* Learning mode: like a dry run, a refusal is only logged (as learning) and
 * every message counts; the requests ask the store to end warm-ups after the
 * established days; once the store's clock, as its replies carry it, is past
 * the days from the recorded start, limits apply; a restart keeps the start. */
static void
test_learning(void **state)
{
    static const long long later = NOW + 7 * 86400;
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    learn_start = learn_shift = 0;
    conf.learning_days = 7;
    conf.learning_established_days = 3;
    pm_learning_startup(&conf, &store);
    assert_int_equal(learn_start, NOW);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 1);
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(v.learning, 1);
    assert_int_equal(m.nrcpt, 1);
    assert_int_equal(calls[0].wu_learn, 3);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_adds(&calls[1], PM_METER_FORCE, 1, 1, 0);
    assert_int_equal(calls[1].wu_learn, 3);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_hour", "451", "4.7.1",
                   "<dave@example.com>: hourly sending limit reached (3 messages per hour); try "
                   "again after 13:30 UTC");
    assert_int_equal(v.learning, 1);
    assert_non_null(strstr(log_line(&m, &v, "eom"),
                           "stage=eom action=tempfail learning=yes reason=msgs_hour "));

    /* 7 days later by the store's clock: the reply's time ends learning */
    learn_shift = 7 * 86400;
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, later + 600, 0)->now = later;
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(v.dry_run, 0);
    assert_int_equal(v.learning, 0);
    assert_int_equal(m.nrcpt, 0);
    assert_int_equal(calls[2].wu_learn, 3); /* asked while still learning */
    answer(1, 0)->now = later;
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(calls[3].wu_learn, 0);
    /* a restart keeps the start: still over */
    pm_learning_startup(&conf, &store);
    assert_int_equal(learn_start, NOW);
    assert_int_equal(pm_learning_active(&conf, &store), 0);
}

/* Store failures give the configured answer at RCPT and at end of message,
 * and their text is logged. */
static void
test_store_error(void **state)
{
    static const char *down = "<erin@example.com>: sending quota cannot be checked right now; "
                              "try again in a few minutes";
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    pm_log_set_level(PM_LOG_DEBUG); /* a second error within a minute is logged at debug */
    answer_fail(PM_STORE_RETRY, "fake store down");
    answer_fail(PM_STORE_ERROR, "fake script error");
    start(&m, "127.0.0.1", NULL, "<erin@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "store_error", NULL, NULL, NULL);
    assert_int_equal(v.kind, PM_R_STORE_ERROR);
    assert_int_equal(m.nrcpt, 1);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[1].mode, PM_METER_COMMIT);
    assert_verdict(&v, PM_ACT_ACCEPT, "store_error", NULL, NULL, NULL);
    assert_string_equal(log_line(&m, &v, "eom"), "stage=eom action=accept reason=store_error "
                                                 "sender=erin@example.com plan=default rcpts=1 "
                                                 "ext=1 cold=0");
    assert_int_equal(logged_with("store error at RCPT: fake store down"), 1);
    assert_int_equal(logged_with("store error at end of message: fake script error"), 1);

    conf.on_store_error = PM_ONERR_TEMPFAIL;
    answer_fail(PM_STORE_RETRY, "fake store down");
    start(&m, "127.0.0.1", NULL, "<erin@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "store_error", "451", "4.3.0", down);
    assert_int_equal(m.nrcpt, 0);
    assert_int_equal(m.nrefused, 1);

    answer(1, 0);
    answer_fail(PM_STORE_RETRY, "fake store down");
    start(&m, "127.0.0.1", NULL, "<erin@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "store_error", "451", "4.3.0", down);
    assert_int_equal(n_calls, 5);

    /* a failure after an answer leaves no usage behind: the line shows none */
    answer(1, 0);
    answer_fail(PM_STORE_RETRY, "fake store down");
    start(&m, "127.0.0.1", NULL, "<erin@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_non_null(strstr(log_line(&m, &v, "rcpt"), " msgs_hour=0/3 "));
    pm_policy_rcpt(&conf, &store, &m, "<y@example.org>", &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "store_error", "451", "4.3.0", down);
    assert_null(strstr(log_line(&m, &v, "rcpt"), "msgs_hour="));
    assert_int_equal(n_calls, 7);
    pm_log_set_level(PM_LOG_INFO);
}

/* A company-wide plan adds the domain scope with its limits; its refusal has
 * the domain plan's action and text, and the log line shows both scopes. */
static void
test_domain_scope(void **state)
{
    static const long long slim[PM_C_COUNT] = {0, 500, 0, 1000, 100, 0, 0};
    static const long long dlim[PM_C_COUNT] = {5, 0, 0, 0, 0, 0, 0};
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    company_plan();
    plans[0].lim.msgs_hour = 0;
    answer(1, 0);
    answer(1, 1);
    r = answer_over(PM_SCOPE_DOMAIN, PM_C_MSGS_HOUR, 5, NOW + 600, 0);
    memcpy(r->used[PM_SCOPE_SENDER], (long long[PM_C_COUNT]){2, 2, 2, 2, 0, 0, 0},
           sizeof(r->used[0]));
    memcpy(r->used[PM_SCOPE_DOMAIN], (long long[PM_C_COUNT]){5, 5, 5, 5, 0, 0, 0},
           sizeof(r->used[0]));
    start(&m, "127.0.0.1", NULL, "<gina@example.com>");
    assert_int_equal(m.dplan, 2);
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_string_equal(calls[1].scope[PM_SCOPE_SENDER].id, "gina@example.com");
    assert_limits(&calls[1].scope[PM_SCOPE_SENDER], slim);
    assert_true(calls[1].scope[PM_SCOPE_DOMAIN].used);
    assert_string_equal(calls[1].scope[PM_SCOPE_DOMAIN].id, "example.com");
    assert_limits(&calls[1].scope[PM_SCOPE_DOMAIN], dlim);
    assert_int_equal(calls[1].scope[PM_SCOPE_DOMAIN].soft, 0);

    start(&m, "127.0.0.1", NULL, "<frank@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_verdict(&v, PM_ACT_REJECT, "domain_msgs_hour", "550", "5.7.1",
                   "<frank@example.com>: company-wide hourly sending limit for example.com "
                   "reached (5 messages per hour); not sent: ask your administrator");
    assert_string_equal(calls[2].scope[PM_SCOPE_DOMAIN].id, "example.com");
    assert_string_equal(
        log_line(&m, &v, "rcpt"),
        "stage=rcpt action=reject reason=domain_msgs_hour sender=frank@example.com "
        "plan=default rcpts=0 ext=0 msgs_hour=2/0 msgs_day=2/500 rcpts_hour=2/0 "
        "rcpts_day=2/1000 new_rcpts_day=0/100 domain=example.com domain_plan=company "
        "domain_msgs_hour=5/5 domain_msgs_day=5/0 domain_rcpts_hour=5/0 "
        "domain_rcpts_day=5/0 domain_new_rcpts_day=0/0 cold=0 reply=\"550 5.7.1 "
        "<frank@example.com>: company-wide "
        "hourly sending limit for example.com reached (5 messages per hour); not "
        "sent: ask your administrator\"");
    assert_int_equal(n_calls, 3);
}

/* A sender's tempfail plan under a company plan that holds (a soft domain
 * scope): over the company's limit the message is held; over the sender's,
 * refused at RCPT or at end of message; every commit is a plain one. */
static void
test_mixed_actions(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    plans[2].action = PM_ACT_HOLD;
    plans[2].lim.msgs_hour = 2;
    company_plan();
    answer(1, 0);
    answer(1, 1);
    answer_over(PM_SCOPE_DOMAIN, PM_C_MSGS_HOUR, 2, NOW + 600, 0);
    answer_over(PM_SCOPE_DOMAIN, PM_C_MSGS_HOUR, 2, NOW + 600, 1);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    answer(1, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    for (i = 0; i < 4; i++) {
        start(&m, "127.0.0.1", NULL, "<hank@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
        assert_int_equal(v.action, i == 2 ? PM_ACT_TEMPFAIL : PM_ACT_ACCEPT);
        if (i != 2)
            pm_policy_eom(&conf, &store, &m, &v);
        switch (i) {
        case 0:
            assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
            break;
        case 1:
            assert_verdict(&v, PM_ACT_HOLD, "domain_msgs_hour", "451", "4.7.1",
                           "<hank@example.com>: company-wide hourly sending limit for example.com "
                           "reached (2 messages per hour); try again after 13:30 UTC");
            break;
        default:
            assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_hour", "451", "4.7.1",
                           "<hank@example.com>: hourly sending limit reached (3 messages per "
                           "hour); try again after 13:30 UTC");
        }
    }
    assert_int_equal(n_calls, 7);
    for (i = 0; i < 7; i++) {
        assert_int_equal(calls[i].mode,
                         i == 1 || i == 3 || i == 6 ? PM_METER_COMMIT : PM_METER_PROBE);
        assert_int_equal(calls[i].scope[PM_SCOPE_SENDER].soft, 0);
        assert_int_equal(calls[i].scope[PM_SCOPE_DOMAIN].soft, 1);
        assert_int_equal(calls[i].scope[PM_SCOPE_DOMAIN].limit[PM_C_MSGS_HOUR], 2);
    }
}

/* A SASL login that is not an address: its company is the envelope sender's
 * domain; with login_domain, the login becomes an address of that domain. */
static void
test_bare_login(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    company_plan();
    answer(1, 0);
    answer(1, 1);
    start(&m, "198.51.100.7", "Carol", "<carol@example.com>");
    assert_string_equal(m.sender, "carol");
    assert_string_equal(m.domain, "example.com");
    assert_int_equal(m.dplan, 2);
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_string_equal(calls[1].scope[PM_SCOPE_SENDER].id, "carol");
    assert_string_equal(calls[1].scope[PM_SCOPE_DOMAIN].id, "example.com");
    assert_string_equal(calls[1].company, "example.com");
    assert_string_equal(calls[1].contacts_domain, "example.com");
    assert_non_null(strstr(log_line(&m, &v, "eom"), " domain=example.com domain_plan=company "));
    conf.login_domain = "Example.COM";
    start(&m, "198.51.100.7", "Carol", "<other@example.net>");
    assert_string_equal(m.sender, "carol@example.com");
    assert_string_equal(m.domain, "example.com");
    start(&m, "198.51.100.7", "dave@example.net", "<carol@example.com>");
    assert_string_equal(m.sender, "dave@example.net");
    assert_string_equal(m.domain, "example.net");
    assert_int_equal(m.dplan, -1);
    assert_int_equal(n_calls, 2);
}

/* Recipients per message: the lower of the sender's plan and its company's;
 * the one too many is refused without asking the store. */
static void
test_company_rcpts_per_msg(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    plans[2].lim.rcpts_per_msg = 2;
    company_plan();
    answer(1, 0);
    answer(1, 0);
    start(&m, "127.0.0.1", NULL, "<ida@example.com>");
    for (i = 0; i < 3; i++) {
        char rcpt[32];

        snprintf(rcpt, sizeof(rcpt), "<x%d@example.org>", i);
        pm_policy_rcpt(&conf, &store, &m, rcpt, &v);
        assert_int_equal(v.action, i < 2 ? PM_ACT_ACCEPT : PM_ACT_TEMPFAIL);
    }
    assert_string_equal(v.text, "<ida@example.com>: too many recipients in one message (2 per "
                                "message); send the rest in another message");
    assert_int_equal(n_calls, 2);
}

/* Mail to colleagues only: internal, no message or external recipient added,
 * no contact looked up; its own counters' refusal and log fields. */
static void
test_internal_only(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    plans[0].lim.int_msgs_hour = 10;
    answer(1, 0);
    answer(1, 0);
    r = answer_over(PM_SCOPE_SENDER, PM_C_INT_HOUR, 10, NOW + 600, 0);
    r->used[PM_SCOPE_SENDER][PM_C_INT_HOUR] = 10;
    r->used[PM_SCOPE_SENDER][PM_C_INT_DAY] = 30;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<a@example.com>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<b@Example.COM>", &v);
    assert_int_equal(m.nrcpt, 2);
    assert_int_equal(m.next, 0);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_adds(&calls[0], PM_METER_PROBE, 0, 0, 1);
    assert_adds(&calls[1], PM_METER_PROBE, 0, 0, 1);
    assert_adds(&calls[2], PM_METER_COMMIT, 0, 0, 1);
    assert_int_equal(calls[2].n_hashes, 0);
    assert_int_equal(calls[2].scope[PM_SCOPE_SENDER].limit[PM_C_INT_HOUR], 10);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "int_msgs_hour", "451", "4.7.1",
                   "<alice@example.com>: hourly limit of internal messages reached (10 messages "
                   "to colleagues per hour); try again after 13:30 UTC");
    assert_non_null(strstr(log_line(&m, &v, "eom"),
                           " rcpts=2 ext=0 msgs_hour=0/3 msgs_day=0/500 rcpts_hour=0/0 "
                           "rcpts_day=0/1000 new_rcpts_day=0/100 int_msgs_hour=10/10 "
                           "int_msgs_day=30/0 cold=0 "));
    assert_int_equal(n_calls, 3);
}

/* A recipient the store says is suppressed is refused, quoted as given; the
 * lookup was of the normalised address, in the sender's company. */
static void
test_suppressed(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    r = answer(1, 0);
    r->sup.found = 1;
    r->sup.since = NOW - 3 * 86400;
    r->sup.until = NOW + 27 * 86400;
    snprintf(r->sup.status, sizeof(r->sup.status), "5.1.1");
    snprintf(r->sup.sender, sizeof(r->sup.sender), "alice@example.com");
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<Bad+tag@Example.NET>", &v);
    assert_string_equal(calls[0].sup_rcpt, "bad@example.net");
    assert_string_equal(calls[0].company, "example.com");
    assert_verdict(&v, PM_ACT_REJECT, "suppressed", "550", "5.1.1",
                   "<Bad+tag@Example.NET>: this address bounced as invalid on 2026-11-23 "
                   "(5.1.1); postmeter will not send to it before 2026-12-23");
    assert_int_equal(m.nrcpt, 0);
    assert_int_equal(m.nrefused, 1);
    assert_int_equal(n_calls, 1);
}

/* The commit carries a transaction id: the same message sent again gets the
 * same one; the Message-ID's hash goes with it when there is one. */
static void
test_commit_ids(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    char msgid[17];
    int i;

    (void)state;
    assert_int_equal(pm_feedback_msgid_hash(&conf, "<1@example.com>", msgid), 0);
    for (i = 0; i < 4; i++) {
        answer(1, 0);
        answer(1, 1);
        start(&m, "127.0.0.1", NULL, "<alice@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
        if (i < 2)
            pm_policy_header(&conf, &m, "Message-ID", "<1@example.com>");
        pm_policy_eom(&conf, &store, &m, &v);
        assert_int_equal(v.action, PM_ACT_ACCEPT);
        assert_false(calls[2 * i].has_txid);
        assert_false(calls[2 * i].has_msgid);
        assert_true(calls[2 * i + 1].has_txid);
        assert_int_equal(strlen(calls[2 * i + 1].txid), 16);
        assert_int_equal(calls[2 * i + 1].has_msgid, i < 2);
    }
    assert_string_equal(calls[1].msgid_hash, msgid);
    assert_int_equal(calls[1].msgid_days, 30);
    assert_int_equal(calls[1].msgid_max, 5000);
    assert_string_equal(calls[1].txid, calls[3].txid);
    assert_string_not_equal(calls[5].txid, calls[7].txid);
    assert_string_not_equal(calls[1].txid, calls[5].txid);
}

/* A reputation brake refuses at RCPT whatever the plan: all external mail
 * (REP_STOP), or first contacts (REP_COLD) even on a tag plan. */
static void
test_reputation_brake(void **state)
{
    struct pm_msg m;
    struct pm_verdict rv, v;
    struct pm_meter_res *r;

    (void)state;
    r = answer_over(PM_SCOPE_SENDER, PM_C_REP_STOP, 0, -1, 0);
    r->rep = (struct pm_reputation){.sent = 200, .hard = 30, .ppm = 150000, .level = 4};
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "bounce_rate_stop", "451", "4.7.1",
                   "<alice@example.com>: sending paused: 15.0% of your recent mail bounced as "
                   "invalid addresses; ask your administrator");
    assert_int_equal(m.nrcpt, 0);
    assert_non_null(
        strstr(log_line(&m, &v, "rcpt"), " cold=0 bounce_rate_ppm=150000 bounce_level=4 "));

    r = answer_over(PM_SCOPE_SENDER, PM_C_REP_COLD, 0, -1, 0);
    r->rep = (struct pm_reputation){.sent = 100, .hard = 6, .ppm = 60000, .level = 3};
    conf.assign = &carol_tagged;
    conf.n_assign = 1;
    start(&m, "127.0.0.1", NULL, "<carol@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &rv);
    assert_verdict(&rv, PM_ACT_TEMPFAIL, "bounce_rate_first_contact", "451", "4.7.1",
                   "<carol@example.com>: first-contact mail paused: 6.0% of your recent mail "
                   "bounced as invalid addresses; write only to known contacts and ask your "
                   "administrator");
    assert_int_equal(m.nrcpt, 0);
    assert_int_equal(n_calls, 2);
}

/* A bounce rate at the warning level tags the message (no header); at the
 * halving level a limit's reply says so and the log shows the halved limits. */
static void
test_reputation_levels(void **state)
{
    static const long long lim[PM_C_COUNT] = {3, 500, 0, 1000, 100, 0, 0};
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;
    char header[64];

    (void)state;
    answer(1, 0)->rep = (struct pm_reputation){.sent = 400, .hard = 10, .ppm = 25000, .level = 1};
    answer(1, 1)->rep = (struct pm_reputation){.sent = 400, .hard = 10, .ppm = 25000, .level = 1};
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_TAG, "bounce_rate_warning", NULL, NULL,
                   "bounce rate warning: 2.5% of 400 recent external recipients bounced as "
                   "invalid");
    pm_verdict_header(&v, header, sizeof(header));
    assert_string_equal(header, "");
    assert_non_null(strstr(log_line(&m, &v, "eom"),
                           " cold=0 bounce_rate_ppm=25000 bounce_level=1 note=\"bounce rate "
                           "warning: 2.5% of 400 recent external recipients bounced as "
                           "invalid\""));

    r = answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 1, NOW + 600, 0);
    r->rep = (struct pm_reputation){.sent = 500, .hard = 17, .ppm = 34000, .level = 2};
    memcpy(r->used[PM_SCOPE_SENDER], (long long[PM_C_COUNT]){1, 40, 0, 90, 3, 0, 0},
           sizeof(r->used[0]));
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    /* the request carries the plan's limits: the store halves them */
    assert_limits(&calls[2].scope[PM_SCOPE_SENDER], lim);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_hour", "451", "4.7.1",
                   "<alice@example.com>: hourly sending limit reached (1 message per hour, "
                   "halved: 3.4% of your recent mail bounced); try again after 13:30 UTC");
    assert_string_equal(
        log_line(&m, &v, "rcpt"),
        "stage=rcpt action=tempfail reason=msgs_hour sender=alice@example.com plan=default "
        "rcpts=0 ext=0 msgs_hour=1/1 msgs_day=40/250 rcpts_hour=0/0 rcpts_day=90/500 "
        "new_rcpts_day=3/50 limits=halved cold=0 bounce_rate_ppm=34000 bounce_level=2 "
        "reply=\"451 4.7.1 <alice@example.com>: hourly sending limit reached (1 message per "
        "hour, halved: 3.4% of your recent mail bounced); try again after 13:30 UTC\"");
    assert_int_equal(n_calls, 3);
}

/* Warm-up: the sender's scope carries its plan's curve, the domain's only
 * when its plan names one; a day cap's refusal waits for the next midnight,
 * an hourly company cap under a reject plan is refused for good. */
static void
test_warmup(void **state)
{
    static const long long caps[4] = {5, 10, 20, 40}, hours[4] = {2, 3, 5, 10};
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;
    int i;

    (void)state;
    memcpy(plans[0].warmup.cap, caps, sizeof(caps));
    memcpy(plans[0].warmup_hour, hours, sizeof(hours));
    plans[0].warmup.n = 4;
    plans[2].warmup.cap[0] = 50;
    plans[2].warmup.cap[1] = 100;
    plans[2].warmup_hour[0] = 13;
    plans[2].warmup_hour[1] = 25;
    plans[2].warmup.n = 2;
    company_plan();

    r = answer_over(PM_SCOPE_SENDER, PM_C_WARMUP_DAY, 20, MIDNIGHT, 0);
    r->warmup[PM_SCOPE_SENDER] =
        (struct pm_warmup_res){.active = 1, .stage = 2, .day_cap = 20, .hour_cap = 5, .today = 20};
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(calls[0].scope[PM_SCOPE_SENDER].warmup_n, 4);
    for (i = 0; i < 4; i++) {
        assert_int_equal(calls[0].scope[PM_SCOPE_SENDER].day_cap[i], caps[i]);
        assert_int_equal(calls[0].scope[PM_SCOPE_SENDER].hour_cap[i], hours[i]);
    }
    assert_int_equal(calls[0].scope[PM_SCOPE_DOMAIN].warmup_n, 0);
    for (i = 0; i < PM_SCOPE_COUNT; i++) {
        assert_int_equal(calls[0].scope[i].dormant_days, 30);
        assert_int_equal(calls[0].scope[i].max_bounce_ppm, 30000);
    }
    assert_verdict(&v, PM_ACT_TEMPFAIL, "warmup_day", "451", "4.7.1",
                   "<alice@example.com>: warm-up limit reached (day 3 of warm-up: 20 messages "
                   "today); try again after 2026-11-27 00:00 UTC");
    assert_int_equal(m.nrcpt, 0);
    assert_non_null(strstr(log_line(&m, &v, "rcpt"), " warmup_day=3 warmup_today=20/20 "));

    plans[2].warmup_set = 1;
    r = answer_over(PM_SCOPE_DOMAIN, PM_C_WARMUP_HOUR, 13, NOW + 1200, 0);
    r->warmup[PM_SCOPE_DOMAIN] =
        (struct pm_warmup_res){.active = 1, .stage = 0, .day_cap = 50, .hour_cap = 13, .today = 40};
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(calls[1].scope[PM_SCOPE_DOMAIN].warmup_n, 2);
    assert_int_equal(calls[1].scope[PM_SCOPE_DOMAIN].day_cap[1], 100);
    assert_int_equal(calls[1].scope[PM_SCOPE_DOMAIN].hour_cap[1], 25);
    assert_verdict(&v, PM_ACT_REJECT, "domain_warmup_hour", "550", "5.7.1",
                   "<alice@example.com>: company-wide warm-up limit for example.com reached (day "
                   "1 of warm-up: 13 messages per hour); not sent: ask your administrator");
    assert_non_null(
        strstr(log_line(&m, &v, "rcpt"), " domain_warmup_day=1 domain_warmup_today=40/50 "));
    assert_int_equal(n_calls, 2);
}

/* Credits the commit spent show in the log line. */
static void
test_credits(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    answer(1, 0);
    r = answer(1, 1);
    r->credits_spent[0] = 1;
    r->credits_spent[1] = 1;
    r->credits_left[0] = 4;
    r->credits_left[1] = 9;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_null(strstr(log_line(&m, &v, "rcpt"), "credits"));
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_non_null(strstr(log_line(&m, &v, "eom"), " cold=0 credits_spent=1/1 credits_left=4/9"));
    assert_int_equal(n_calls, 2);
}

/* A plan override the store reports is followed from that answer on (its
 * action, its limits in the next request, the log line); one naming a plan
 * this configuration lacks (-2) is logged once and not applied, nor is an
 * index past the table. */
static void
test_plan_override(void **state)
{
    static const long long dflt[PM_C_COUNT] = {3, 500, 0, 1000, 100, 0, 0};
    static const long long tagged[PM_C_COUNT] = {2, 0, 0, 0, 0, 0, 0};
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 2, NOW + 600, 0)->plan = 1;
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 2, NOW + 600, 1)->plan = 1;
    start(&m, "127.0.0.1", NULL, "<olga@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT); /* the tagged plan is soft */
    assert_int_equal(m.plan, 1);
    assert_int_equal(m.plan_override, 1);
    assert_limits(&calls[0].scope[PM_SCOPE_SENDER], dflt);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_limits(&calls[1].scope[PM_SCOPE_SENDER], tagged);
    assert_int_equal(calls[1].scope[PM_SCOPE_SENDER].soft, 1);
    assert_int_equal(calls[1].mode, PM_METER_COMMIT);
    assert_int_equal(v.action, PM_ACT_TAG);
    assert_non_null(strstr(log_line(&m, &v, "eom"),
                           " sender=olga@example.com plan=tagged plan_from=override rcpts=1 "));

    for (i = 0; i < 2; i++) {
        answer(1, 0)->plan = -2;
        answer(1, 1)->plan = -2;
        start(&m, "127.0.0.1", NULL, "<olga@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
        pm_policy_eom(&conf, &store, &m, &v);
        assert_int_equal(v.action, PM_ACT_ACCEPT);
        assert_int_equal(m.plan, 0);
        assert_int_equal(m.plan_override, 0);
        assert_limits(&calls[3 + 2 * i].scope[PM_SCOPE_SENDER], dflt);
        assert_non_null(strstr(log_line(&m, &v, "eom"), " plan=default rcpts=1 "));
    }
    assert_int_equal(logged_with("sender=olga@example.com: the plan override set for this sender "
                                 "names a plan this configuration does not have; plan default "
                                 "applies until postmeter is reloaded with that plan"),
                     1);

    answer(1, 0)->plan = 3;
    start(&m, "127.0.0.1", NULL, "<olga@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(m.plan, 0);
    assert_int_equal(m.plan_override, 0);
    assert_int_equal(n_calls, 7);
}

/* Queue an answer in which the sender is in incident (state: PM_INCS_IN or
 * PM_INCS_OPENED) opened by a burst at NOW - 60. */
static struct pm_meter_res *
answer_incident(enum pm_incident_state state, long long held)
{
    struct pm_meter_res *r = answer(1, 0);

    r->inc_state = state;
    r->inc.open = 1;
    snprintf(r->inc.sender, sizeof(r->inc.sender), "alice@example.com");
    snprintf(r->inc.signal, sizeof(r->inc.signal), "burst");
    snprintf(r->inc.figures, sizeof(r->inc.figures),
             "51 messages in 10 minutes; usual 0.0 per 10 minutes; floor 50, x10");
    snprintf(r->inc.by, sizeof(r->inc.by), "postmeter");
    r->inc.at = NOW - 60;
    r->inc.held = held;
    return r;
}

/* The incidents configuration: on, action act, the documented thresholds. */
static void
incidents_on(enum pm_action act)
{
    conf.inc_enabled = 1;
    conf.inc_action = act;
    conf.inc_burst_floor = 50;
    conf.inc_burst_multiple = 10;
    conf.inc_fanout = 40;
    conf.inc_retry = 50;
    conf.inc_bounce = 20;
    conf.inc_nn_days = 30;
    conf.inc_nn_factor = 0.5;
}

/* Incidents, action hold: every request carries the thresholds, the SASL
 * client's /24 and the queue id; the commit also the recipient domains (each
 * once) and count 1; the message that opens the incident is held
 * (PM_ACT_HOLD, with the note of the reply-text style), logged once as
 * opened and flagged for the notice; in incident, RCPT TO accepts and the end
 * of message holds. */
static void
test_incident_hold(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    const char *held = "<alice@example.com>: sending paused: unusual activity (burst: 51 messages "
                       "in 10 minutes); message held for your mail administrator";

    (void)state;
    incidents_on(PM_ACT_HOLD);
    answer(1, 0);
    answer(1, 0);
    answer(1, 0);
    answer_incident(PM_INCS_OPENED, 1);
    start(&m, "192.0.2.7", "alice@example.com", "<alice@example.com>");
    snprintf(m.qid, sizeof(m.qid), "4AbC1");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    pm_policy_rcpt(&conf, &store, &m, "<carol@Example.ORG>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<dan@example.net>", &v);
    assert_int_equal(calls[0].inc.mode, PM_INCM_DETECT);
    assert_int_equal(calls[0].inc.count, 0); /* a hold refuses nothing at RCPT */
    assert_int_equal(calls[0].inc.refusal, 1);
    assert_string_equal(calls[0].inc_qid, "4AbC1");
    assert_string_equal(calls[0].inc_net, "192.0.2.0/24");
    assert_int_equal(calls[0].inc.burst_floor, 50);
    assert_int_equal(calls[0].inc.burst_multiple, 10);
    assert_int_equal(calls[0].inc.fanout, 40);
    assert_int_equal(calls[0].inc.retry, 50);
    assert_int_equal(calls[0].inc.bounce, 20);
    assert_int_equal(calls[0].inc.nn_days, 30);
    assert_int_equal(calls[0].inc.nn_pct, 50);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[3].mode, PM_METER_COMMIT);
    assert_int_equal(calls[3].inc.count, 1);
    assert_string_equal(calls[3].inc_domains, "example.org example.net");
    assert_verdict(&v, PM_ACT_HOLD, "incident:burst", NULL, NULL, held);
    assert_int_equal(v.dry_run, 0);
    assert_int_equal(m.inc_opened, 1);
    assert_int_equal(logged_with("4AbC1: incident opened: sender=alice@example.com signal=burst "
                                 "figures=\"51 messages in 10 minutes; usual 0.0 per 10 minutes; "
                                 "floor 50, x10\" action=hold"),
                     1);
    assert_int_equal(logged_with("message held, 1 so far"), 1);

    answer_incident(PM_INCS_IN, 1);
    answer_incident(PM_INCS_IN, 2);
    start(&m, "2001:db8:1:2::5", "alice@example.com", "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_string_equal(calls[4].inc_net, "2001:db8:1::/48");
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_HOLD, "incident:burst", NULL, NULL, held);
    assert_int_equal(m.inc_opened, 0);
    assert_int_equal(logged_with("incident opened"), 1);
    assert_int_equal(logged_with("message held, 2 so far"), 1);
    /* without a SASL login there is no network */
    answer(1, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_string_equal(calls[6].inc_net, "");
}

/* Incidents, action tempfail: in incident, the first recipient is refused
 * with 451 4.7.1 and the reply-text style, counted once per message (count 1,
 * then 0); an incident opened by hand says so; a limit refusal is reported as
 * the message's only refusal; with the signals off the request only enforces. */
static void
test_incident_tempfail(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    incidents_on(PM_ACT_TEMPFAIL);
    answer_incident(PM_INCS_IN, 3);
    answer_incident(PM_INCS_IN, 3);
    start(&m, "127.0.0.1", "alice@example.com", "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "incident:burst", "451", "4.7.1",
                   "<alice@example.com>: sending paused: unusual activity (burst: 51 messages in "
                   "10 minutes); contact your mail administrator");
    assert_int_equal(calls[0].inc.count, 1);
    assert_int_equal(calls[0].inc.refusal, 1);
    pm_policy_rcpt(&conf, &store, &m, "<carol@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(calls[1].inc.count, 0);
    assert_int_equal(calls[1].inc.refusal, 0);
    assert_int_equal(m.nrefused, 2);
    assert_int_equal(logged_with("message tempfailed, 3 so far"), 1);

    r = answer_incident(PM_INCS_IN, 0);
    snprintf(r->inc.signal, sizeof(r->inc.signal), "admin");
    snprintf(r->inc.by, sizeof(r->inc.by), "admin:root");
    start(&m, "127.0.0.1", "alice@example.com", "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_verdict(&v, PM_ACT_TEMPFAIL, "incident:admin", "451", "4.7.1",
                   "<alice@example.com>: sending paused: locked by your mail administrator; "
                   "contact your mail administrator");

    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<carol@example.org>", &v);
    assert_int_equal(calls[3].inc.refusal, 1);
    assert_int_equal(calls[4].inc.refusal, 0);

    conf.inc_enabled = 0;
    answer(1, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(calls[5].inc.mode, PM_INCM_ENFORCE);
    assert_int_equal(calls[5].inc.burst_floor, 0);
    assert_int_equal(calls[5].inc.retry, 0);
}

/* Incidents in a dry run: the requests are dry; a signal that trips is only
 * logged; a sender in incident is logged as what would happen, nothing held. */
static void
test_incident_dry(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    incidents_on(PM_ACT_HOLD);
    conf.dry_run = 1;
    answer(1, 0);
    r = answer_incident(PM_INCS_WOULD, 0);
    r->counted = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(calls[0].inc.mode, PM_INCM_DRY);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(calls[1].inc.mode, PM_INCM_DRY);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_int_equal(m.inc_opened, 0);
    assert_int_equal(logged_with("incident would open (dry run, nothing held): "
                                 "sender=alice@example.com signal=burst"),
                     1);

    answer_incident(PM_INCS_IN, 0);
    answer_incident(PM_INCS_IN, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_HOLD);
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(logged_with("would be held (dry run)"), 1);
    assert_int_equal(logged_with("message held"), 0);
}

/* Decisions without the store: the sender's knowledge on (5 s fresh, margin m). */
static void
known_on(int margin)
{
    conf.rcpt_fresh = 5;
    conf.rcpt_margin = margin;
    local_domains[0] = "example.com";
}

/* A sender far from its limits writing to colleagues: the first message
 * probes and commits, the next ones only commit (their RCPT is decided from
 * the last answer, the usage of the log line with it); with the knowledge
 * off, every recipient probes again. */
static void
test_known_internal(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;
    int i;

    (void)state;
    known_on(2);
    answer(1, 0);
    for (i = 0; i < 3; i++) {
        r = answer(1, 1);
        r->used[PM_SCOPE_SENDER][PM_C_INT_HOUR] = i + 1;
        r->used[PM_SCOPE_SENDER][PM_C_MSGS_DAY] = 7;
    }
    for (i = 0; i < 3; i++) {
        start(&m, "127.0.0.1", NULL, "<alice@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<colleague@example.com>", &v);
        assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
        if (i > 0)
            assert_non_null(strstr(log_line(&m, &v, "rcpt"), " msgs_day=7/500 "));
        pm_policy_eom(&conf, &store, &m, &v);
        assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    }
    assert_int_equal(n_calls, 4);
    assert_adds(&calls[0], PM_METER_PROBE, 0, 0, 1);
    assert_adds(&calls[1], PM_METER_COMMIT, 0, 0, 1);
    assert_adds(&calls[2], PM_METER_COMMIT, 0, 0, 1);
    assert_adds(&calls[3], PM_METER_COMMIT, 0, 0, 1);
    /* an external recipient may be suppressed: the store is asked */
    answer(1, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(n_calls, 5);
    assert_adds(&calls[4], PM_METER_PROBE, 1, 1, 0);
    conf.rcpt_fresh = 0;
    answer(1, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<colleague@example.com>", &v);
    assert_int_equal(n_calls, 6);
}

/* A reload (a configuration of a new generation, here at the same address,
 * as a reload may reuse a freed one's) forgets what was known: the plan
 * override and usage learnt under the old plans decide nothing, the first
 * recipient after it asks the store again. */
static void
test_known_reload(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    known_on(2);
    conf.generation = 1;
    answer(1, 0);
    answer(1, 1);
    answer(1, 1);
    answer(1, 0);
    answer(1, 1);
    for (i = 0; i < 3; i++) {
        if (i == 2)
            conf.generation = 2; /* reloaded */
        start(&m, "127.0.0.1", NULL, "<alice@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<colleague@example.com>", &v);
        assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
        pm_policy_eom(&conf, &store, &m, &v);
        assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    }
    assert_int_equal(n_calls, 5);
    assert_adds(&calls[0], PM_METER_PROBE, 0, 0, 1);
    assert_adds(&calls[1], PM_METER_COMMIT, 0, 0, 1);
    assert_adds(&calls[2], PM_METER_COMMIT, 0, 0, 1);
    assert_adds(&calls[3], PM_METER_PROBE, 0, 0, 1);
    assert_adds(&calls[4], PM_METER_COMMIT, 0, 0, 1);
}

/* The margin: with limit 4 internal messages an hour and 1 used, the
 * message goes without asking under margin 2 (1 + 1 + 2 <= 4), not under
 * margin 3; a sender the last answer put in incident always asks. */
static void
test_known_margin(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    known_on(3);
    plans[0].lim.int_msgs_hour = 4;
    r = answer(1, 0);
    r->used[PM_SCOPE_SENDER][PM_C_INT_HOUR] = 1;
    answer(1, 0)->used[PM_SCOPE_SENDER][PM_C_INT_HOUR] = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<a@example.com>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<b@example.com>", &v);
    assert_int_equal(n_calls, 2);
    conf.rcpt_margin = 2;
    pm_policy_rcpt(&conf, &store, &m, "<c@example.com>", &v);
    assert_int_equal(n_calls, 2);
    assert_int_equal(m.nrcpt, 3);
    answer_incident(PM_INCS_IN, 1);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    m.nrcpt = 1;
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(n_calls, 3);
    answer(1, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<a@example.com>", &v);
    assert_int_equal(n_calls, 4);
}

/* A sender over its hourly limit until 13:30: the next messages are refused
 * at RCPT with the same reply, without asking, while the estimated store
 * time is before 13:30; those refusals are carried, with their limit, by the
 * sender's next request; a colleague still gets mail. In a dry run the store
 * is asked. */
static void
test_known_over(void **state)
{
    const char *text = "<alice@example.com>: hourly sending limit reached (3 messages per hour); "
                       "try again after 13:30 UTC";
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    known_on(2);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0)
        ->used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 3;
    for (i = 0; i < 3; i++) {
        start(&m, "127.0.0.1", NULL, "<alice@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
        assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_hour", "451", "4.7.1", text);
        assert_int_equal(m.nrefused, 1);
        /* a second recipient of a refused message is not counted again */
        pm_policy_rcpt(&conf, &store, &m, "<carol@example.org>", &v);
        assert_verdict(&v, PM_ACT_TEMPFAIL, "msgs_hour", "451", "4.7.1", text);
    }
    assert_int_equal(n_calls, 1);
    assert_int_equal(calls[0].inc.local, 0);
    answer(1, 1);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<colleague@example.com>", &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_int_equal(n_calls, 1);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(n_calls, 2);
    assert_adds(&calls[1], PM_METER_COMMIT, 0, 0, 1);
    assert_int_equal(calls[1].inc.local, 2);
    assert_int_equal(calls[1].inc.local_counter, PM_C_MSGS_HOUR);
    /* that commit's answer fits: the sender is known to fit again (internal mail) */
    answer(1, 0);
    conf.dry_run = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(n_calls, 3);
    assert_int_equal(calls[2].inc.local, 0);
}

/* A plan override the store reported is applied from the knowledge: its
 * limits decide (5 an hour, not the default plan's 3) and the log names it. */
static void
test_known_override(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    known_on(0);
    suplocal_set(1);
    r = answer(1, 0);
    r->plan = 2;
    r->used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 2;
    r = answer(1, 1);
    r->plan = 2;
    r->cold = 1;
    r->cold_first = 1;
    r->used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 3;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(m.plan, 2);
    assert_int_equal(m.n_unknown, 0);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(n_calls, 2);
    /* 3 used + 1 <= 5: no probe; the commit says bob is cold */
    r = answer(1, 1);
    r->plan = 2;
    r->cold = 1;
    r->cold_first = 1;
    r->used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 4;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<Dan@Example.org>", &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_int_equal(n_calls, 2);
    assert_int_equal(m.plan, 2);
    assert_int_equal(m.plan_override, 1);
    assert_int_equal(m.n_unknown, 1);
    assert_int_equal(m.cold, 0);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(n_calls, 3);
    assert_adds(&calls[2], PM_METER_COMMIT, 1, 1, 0);
    assert_int_equal(calls[2].n_hashes, 1);
    assert_int_equal(m.cold, 1);
    assert_string_equal(m.cold_rcpt, "<Dan@Example.org>");
    assert_non_null(strstr(log_line(&m, &v, "eom"), " plan=company plan_from=override "));
    /* 4 + 1 + 0 <= 5 still, whatever the recipients (the message limit) */
    r = answer(1, 1);
    r->plan = 2;
    r->used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 5;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<erin@example.org>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<frank@example.org>", &v);
    assert_int_equal(n_calls, 3);
    assert_int_equal(m.n_unknown, 2);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(n_calls, 4);
    assert_adds(&calls[3], PM_METER_COMMIT, 1, 2, 0);
    assert_int_equal(calls[3].n_hashes, 2);
    /* 5 used: the next message asks */
    answer(1, 0);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<gina@example.org>", &v);
    assert_int_equal(n_calls, 5);
    assert_adds(&calls[4], PM_METER_PROBE, 1, 1, 0);
    assert_int_equal(calls[4].n_hashes, 1);
}

/* Recipients let through without the store and a first-contact rule: the
 * rule's verdict depends on how many are cold, so the end of message asks
 * first (a probe that adds nothing, with their hashes), names the first cold
 * one in the reply, and refuses without a commit; a rule about something
 * else matches alike for any count: a commit alone. */
static void
test_known_cold_lookup(void **state)
{
    struct pm_cond big = {PM_F_SIZE, PM_OP_GE, 1000000};
    struct pm_rule *rule;
    char h[2][17];
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    known_on(2);
    suplocal_set(1);
    rule = first_contact_rule();
    answer(1, 1); /* an internal message: the sender is known */
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    m.nrcpt = 1;
    pm_policy_eom(&conf, &store, &m, &v);
    r = answer(0, 0);
    r->cold = 1;
    r->cold_first = 2;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<Carol@example.org>", &v);
    assert_int_equal(n_calls, 1);
    assert_int_equal(m.n_unknown, 2);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(n_calls, 2);
    assert_adds(&calls[1], PM_METER_PROBE, 0, 0, 0);
    assert_int_equal(calls[1].inc.mode, PM_INCM_NONE);
    assert_int_equal(calls[1].n_hashes, 2);
    hash_of("bob@example.org", h[0]);
    hash_of("carol@example.org", h[1]);
    assert_string_equal(calls[1].hashes[0], h[0]);
    assert_string_equal(calls[1].hashes[1], h[1]);
    assert_int_equal(calls[1].cold_before, 0);
    assert_verdict(&v, PM_ACT_REJECT, "rule:new", "550", "5.7.1",
                   "<alice@example.com> to <Carol@example.org>: first contact needs approval");
    /* the same message to known contacts: the look-up says none is cold, the commit counts */
    answer(1, 0)->cold = 0;
    answer(1, 1);
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_int_equal(n_calls, 4);
    assert_adds(&calls[2], PM_METER_PROBE, 0, 0, 0);
    assert_adds(&calls[3], PM_METER_COMMIT, 1, 1, 0);
    /* a rule the cold count does not change: no look-up */
    rule->all = &big;
    answer(1, 1)->cold = 1;
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<dan@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_verdict(&v, PM_ACT_ACCEPT, "ok", NULL, NULL, NULL);
    assert_int_equal(n_calls, 5);
    assert_adds(&calls[4], PM_METER_COMMIT, 1, 1, 0);
    assert_int_equal(m.cold, 1);
}

/* A rule that refuses whatever the cold count still needs every new contact
 * for its reply: the first recipient was looked up (cold), the next two went
 * on from what the server knew; the end of message asks about them before
 * it refuses, so the reply counts all three. */
static void
test_known_cold_named(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    struct pm_meter_res *r;

    (void)state;
    known_on(2);
    suplocal_set(1);
    first_contact_rule();
    answer(1, 0)->cold = 1; /* r1: looked up, a first contact */
    start(&m, "127.0.0.1", NULL, "<alice@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<r1@example.org>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<r2@example.org>", &v);
    pm_policy_rcpt(&conf, &store, &m, "<r3@example.org>", &v);
    assert_int_equal(n_calls, 1);
    assert_int_equal(m.n_unknown, 2);
    r = answer(1, 0);
    r->cold = 3;
    r->cold_first = 1;
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(n_calls, 2);
    assert_adds(&calls[1], PM_METER_PROBE, 0, 0, 0);
    assert_int_equal(calls[1].cold_before, 1);
    assert_verdict(&v, PM_ACT_REJECT, "rule:new", "550", "5.7.1",
                   "<alice@example.com> to <r1@example.org> and 2 other new contacts: first "
                   "contact needs approval");
}

/* Alice (SASL login Alice@Example.com) is over her hourly limit until
 * 13:30: the store refuses her first message, the engine her second without
 * asking; that refusal waits for a request to carry it. */
static void
refused_locally(void)
{
    struct pm_msg m;
    struct pm_verdict v;

    known_on(2);
    answer_over(PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 3, NOW + 600, 0);
    start(&m, "127.0.0.1", "Alice@Example.com", "<whoever@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    start(&m, "127.0.0.1", "Alice@Example.com", "<whoever@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(n_calls, 1);
}

/* Refusals decided without the store whose sender makes no request are
 * sent a second after its last one, in a probe of their own that adds
 * nothing and refuses nothing itself; once. */
static void
test_known_carry(void **state)
{
    (void)state;
    refused_locally();
    assert_int_equal(pm_policy_carry(&conf, &store, NULL), 0); /* not yet a second */
    mono_ms += 1100;
    answer(1, 0);
    assert_int_equal(pm_policy_carry(&conf, &store, NULL), 1);
    assert_int_equal(n_calls, 2);
    assert_adds(&calls[1], PM_METER_PROBE, 0, 0, 0);
    assert_string_equal(calls[1].scope[PM_SCOPE_SENDER].id, "alice@example.com");
    assert_int_equal(calls[1].n_hashes, 0);
    assert_int_equal(calls[1].inc.local, 1);
    assert_int_equal(calls[1].inc.local_counter, PM_C_MSGS_HOUR);
    assert_int_equal(calls[1].inc.refusal, 0);
    assert_int_equal(calls[1].inc.count, 0);
    assert_int_equal(pm_policy_carry(&conf, &store, NULL), 0);
}

static int n_opened; /* incidents passed to carry_opened */

/* The hook pm_policy_carry() passes an incident it opened to. */
static void
carry_opened(const struct pm_conf *c, const struct pm_incident *inc)
{
    (void)c;
    assert_string_equal(inc->sender, "alice@example.com");
    n_opened++;
}

/* A carry the store does not answer waits and goes again; a carry whose
 * refusals open an incident logs and reports it as any request would. */
static void
test_known_carry_outcomes(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    refused_locally();
    mono_ms += 1100;
    answer_fail(PM_STORE_RETRY, "redis: timeout");
    assert_int_equal(pm_policy_carry(&conf, &store, carry_opened), 1);
    assert_int_equal(calls[1].inc.local, 1);
    assert_int_equal(pm_policy_carry(&conf, &store, carry_opened), 0); /* a second later */
    mono_ms += 1100;
    answer_incident(PM_INCS_OPENED, 0);
    n_opened = 0;
    assert_int_equal(pm_policy_carry(&conf, &store, carry_opened), 1);
    assert_int_equal(calls[2].inc.local, 1); /* the same refusal, not lost */
    assert_int_equal(n_opened, 1);
    assert_int_equal(logged_with("incident opened: sender=alice@example.com signal=burst"), 1);
    assert_int_equal(logged_with("in incident"), 0); /* no message of its own */
    /* now known in incident: the next RCPT asks the store */
    answer_incident(PM_INCS_IN, 0);
    start(&m, "127.0.0.1", "Alice@Example.com", "<whoever@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
    assert_int_equal(n_calls, 4);
}

/* Run the tests (times and days in UTC; the log kept for the tests to read). */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_metered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_at_rcpt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_over_at_eom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_over_never, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_contact_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_both, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_learning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_company_rcpts_per_msg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_internal_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suppressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reputation_brake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reputation_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warmup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident_tempfail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident_dry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_internal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_margin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_cold_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_cold_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_carry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_carry_outcomes, setup, teardown),
    };

    pm_zone_set("UTC");
    pm_log_set_sink(log_sink, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
