/*
 * test_sknow.c - sender knowledge (policy/sknow.c): what decides a recipient
 * without the store (fresh or stale knowledge, the margin below every limit,
 * the brakes, a sender over a message limit until a time, an incident), the
 * refusals decided locally and carried by the next request, and the table's
 * bound.
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

#include "sknow.h"

#define NOW 1795699200LL /* store time of the answers */
#define T0 1000000LL     /* local monotonic ms they came at */

static const unsigned char key16[16] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
static const unsigned long long conf_a = 1, conf_b = 2; /* two configurations' generations */

/* Knowledge of a sender far from its limits: 10 messages this hour, 50 today,
 * 20 and 80 external recipients, 5 first contacts; received at T0. */
static struct pm_sknow
far(void)
{
    struct pm_sknow kn;

    memset(&kn, 0, sizeof(kn));
    kn.fits = 1;
    kn.plan = -1;
    kn.now = NOW;
    kn.mono_ms = T0;
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 10;
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY] = 50;
    kn.used[PM_SCOPE_SENDER][PM_C_RCPTS_HOUR] = 20;
    kn.used[PM_SCOPE_SENDER][PM_C_RCPTS_DAY] = 80;
    kn.used[PM_SCOPE_SENDER][PM_C_NEW_DAY] = 5;
    return kn;
}

/* A one-recipient external message against limits 100/h, 500/d, 200 and 1000
 * recipients, 100 first contacts; margin 2, fresh 5 s, enforcing. */
static struct pm_sknow_q
question(void)
{
    static const long long lim[PM_C_COUNT] = {100, 500, 200, 1000, 100, 0, 0};
    struct pm_sknow_q q;

    memset(&q, 0, sizeof(q));
    q.nscopes = 1;
    memcpy(q.lim[PM_SCOPE_SENDER], lim, sizeof(lim));
    q.hard[PM_SCOPE_SENDER] = 1;
    q.msgs = 1;
    q.rcpts = 1;
    q.cold = 1;
    q.margin = 2;
    q.fresh_ms = 5000;
    q.enforce = 1;
    return q;
}

/* Assert a decision of the case named name (printed when it is wrong). */
static void
decided(const char *name, enum pm_sknow_act got, enum pm_sknow_act want)
{
    if (got != want)
        print_error("case \"%s\": decided %d, want %d\n", name, (int)got, (int)want);
    assert_int_equal(got, want);
}

/* One decision for a sender whose last answer fitted: far() and question()
 * but for the fields given (0: theirs), asked at T0 + at. */
struct fit_row {
    const char *name;
    long long at;            /* ms after T0 */
    int no_fresh;            /* rcpt_check.fresh_seconds = 0: knowledge decides nothing */
    long long hour, new_day; /* the sender's messages this hour, first contacts today */
    long long margin;
    long long rcpts, known; /* external recipients so far, those known not to be cold */
    int internal;           /* an internal message (adds no message, no recipient) */
    int rep_level, reply_brake;
    long long warmup_today; /* a warm-up (caps 20 a day, 15 an hour) with this many today */
    long long company;      /* the company's messages this hour against its limit of 300 */
    int company_scope;      /* the company's scope is used */
    enum pm_sknow_act want;
};

/* Fresh knowledge far from the limits goes on, stale or future asks; every
 * counter keeps the margin, counted as the store would count the message
 * (used + what the message adds + margin <= limit), every recipient of
 * unknown status taken as cold; the company's scope counts when it is used;
 * the store's brakes (halved limits, the reply-rate brake, the reputation's
 * refusals, the warm-up caps) lower the limits, but an internal message
 * meets none of them. */
static void
test_decide(void **state)
{
    static const struct fit_row rows[] = {
        {"fresh", .want = PM_SKNOW_GO},
        {"5 s old: still fresh", .at = 5000, .want = PM_SKNOW_GO},
        {"5.001 s old: stale", .at = 5001, .want = PM_SKNOW_ASK},
        {"from the future", .at = -1, .want = PM_SKNOW_ASK},
        {"fresh, none allowed", .no_fresh = 1, .want = PM_SKNOW_ASK},
        {"97 + 1 + 2 = 100 an hour", .hour = 97, .want = PM_SKNOW_GO},
        {"98 + 1 + 2 > 100 an hour", .hour = 98, .want = PM_SKNOW_ASK},
        {"98 + 1 + 1 = 100 an hour, margin 1", .hour = 98, .margin = 1, .want = PM_SKNOW_GO},
        {"88 + 10 cold + 2 = 100 new", .new_day = 88, .rcpts = 10, .want = PM_SKNOW_GO},
        {"89 + 10 cold + 2 > 100 new", .new_day = 89, .rcpts = 10, .want = PM_SKNOW_ASK},
        {"89 + 9 cold + 2 = 100 new, one recipient known", .new_day = 89, .rcpts = 10, .known = 1,
         .want = PM_SKNOW_GO},
        {"company at 298 of 300, its scope unused", .company = 298, .want = PM_SKNOW_GO},
        {"company at 298 + 1 + 2 > 300", .company = 298, .company_scope = 1, .want = PM_SKNOW_ASK},
        {"halved: 47 + 1 + 2 = 50", .hour = 47, .rep_level = 2, .want = PM_SKNOW_GO},
        {"halved: 48 + 1 + 2 > 50", .hour = 48, .rep_level = 2, .want = PM_SKNOW_ASK},
        {"reply brake: 47 + 1 + 2 = 50 new", .new_day = 47, .reply_brake = 1, .want = PM_SKNOW_GO},
        {"reply brake: 48 + 1 + 2 > 50 new", .new_day = 48, .reply_brake = 1, .want = PM_SKNOW_ASK},
        {"level 3 (no first contact), recipient maybe cold", .rep_level = 3, .want = PM_SKNOW_ASK},
        {"level 3, recipient known", .rep_level = 3, .known = 1, .want = PM_SKNOW_GO},
        {"level 4 (no external mail)", .rep_level = 4, .known = 1, .want = PM_SKNOW_ASK},
        {"level 4, internal message", .rep_level = 4, .internal = 1, .want = PM_SKNOW_GO},
        {"warm-up: 17 + 1 + 2 = 20 today, 12 this hour", .warmup_today = 17, .hour = 12,
         .want = PM_SKNOW_GO},
        {"warm-up: 18 + 1 + 2 > 20 today", .warmup_today = 18, .hour = 12, .want = PM_SKNOW_ASK},
        {"warm-up: 13 + 1 + 2 > 15 this hour", .warmup_today = 1, .hour = 13, .want = PM_SKNOW_ASK},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct fit_row *r = &rows[i];
        struct pm_sknow kn = far();
        struct pm_sknow_q q = question();

        if (r->no_fresh)
            q.fresh_ms = 0;
        if (r->hour)
            kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = r->hour;
        if (r->new_day)
            kn.used[PM_SCOPE_SENDER][PM_C_NEW_DAY] = r->new_day;
        if (r->margin)
            q.margin = r->margin;
        if (r->rcpts)
            q.rcpts = r->rcpts;
        q.cold = q.rcpts - r->known;
        if (r->internal) {
            q.msgs = q.rcpts = q.cold = 0;
            q.internal = 1;
        }
        kn.rep.level = r->rep_level;
        kn.rep.reply_brake = r->reply_brake;
        if (r->warmup_today) {
            kn.warmup[PM_SCOPE_SENDER].active = 1;
            kn.warmup[PM_SCOPE_SENDER].day_cap = 20;
            kn.warmup[PM_SCOPE_SENDER].hour_cap = 15;
            kn.warmup[PM_SCOPE_SENDER].today = r->warmup_today;
        }
        if (r->company) {
            q.lim[PM_SCOPE_DOMAIN][PM_C_MSGS_HOUR] = 300;
            kn.used[PM_SCOPE_DOMAIN][PM_C_MSGS_HOUR] = r->company;
        }
        if (r->company_scope)
            q.nscopes = 2;
        decided(r->name, pm_sknow_decide(&kn, &q, T0 + r->at), r->want);
    }
}

/* Every counter with a limit, each in turn, keeps the margin: 7 + 1 + 2 of
 * 10 goes on, 8 asks, no limit goes on. */
static void
test_margin(void **state)
{
    struct pm_sknow kn;
    struct pm_sknow_q q;
    char name[64];
    int c;

    (void)state;
    for (c = 0; c < PM_C_COUNT; c++) {
        kn = far();
        q = question();
        q.internal = c >= PM_C_INT_HOUR;
        q.msgs = q.rcpts = q.cold = !q.internal;
        q.lim[PM_SCOPE_SENDER][c] = 10;
        kn.used[PM_SCOPE_SENDER][c] = 7;
        snprintf(name, sizeof(name), "counter %d: 7 of 10", c);
        decided(name, pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
        kn.used[PM_SCOPE_SENDER][c] = 8;
        snprintf(name, sizeof(name), "counter %d: 8 of 10", c);
        decided(name, pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
        q.lim[PM_SCOPE_SENDER][c] = 0; /* no limit */
        snprintf(name, sizeof(name), "counter %d: 8, no limit", c);
        decided(name, pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    }
}

/* One decision for a sender the last answer found over a limit (100 used of
 * 100): far() and question() but for these, asked at T0 + at. */
struct over_row {
    const char *name;
    long long at; /* ms after T0 */
    enum pm_scope scope;
    enum pm_counter counter;
    long long retry_at; /* store time it fits again (-1: never) */
    int rep_level;
    long long credits_msgs, credits_rcpts;
    int dry, soft; /* a dry run; a soft scope */
    int internal;  /* an internal message (adds no message, no recipient) */
    enum pm_sknow_act want;
};

/* A sender over a message limit until a store time still to come is refused;
 * not within two seconds of that time (estimated from the local clock), nor
 * at reputation level 3 or more, nor with message credits left, in a dry
 * run, over a soft scope or when the message needs no message counter
 * (internal recipients). */
static void
test_over(void **state)
{
    /* clang-format off */
    static const struct over_row rows[] = {
        /* name, at (ms after T0), over scope and counter, retry_at, reputation level, credits
         * left (messages, recipients), dry run, soft scope, internal message: decision */
        {"over the hour until NOW + 4",      0, PM_SCOPE_SENDER, PM_C_MSGS_HOUR,  NOW + 4,   0, 0, 0, 0, 0, 0, PM_SKNOW_REFUSE},
        {"1.999 s later",                 1999, PM_SCOPE_SENDER, PM_C_MSGS_HOUR,  NOW + 4,   0, 0, 0, 0, 0, 0, PM_SKNOW_REFUSE},
        /* within two seconds of retry_at (the estimate lags by whole seconds) the store decides */
        {"2 s later",                     2000, PM_SCOPE_SENDER, PM_C_MSGS_HOUR,  NOW + 4,   0, 0, 0, 0, 0, 0, PM_SKNOW_ASK},
        {"stale",                         6000, PM_SCOPE_SENDER, PM_C_MSGS_HOUR,  NOW + 4,   0, 0, 0, 0, 0, 0, PM_SKNOW_ASK},
        /* a reputation brake may refuse with its own reply */
        {"reputation level 3",               0, PM_SCOPE_SENDER, PM_C_MSGS_HOUR,  NOW + 4,   3, 0, 0, 0, 0, 0, PM_SKNOW_ASK},
        {"over the warm-up's day",           0, PM_SCOPE_SENDER, PM_C_WARMUP_DAY, NOW + 4,   0, 0, 0, 0, 0, 0, PM_SKNOW_REFUSE},
        /* a recipient limit: fewer recipients may fit */
        {"over a recipient limit",           0, PM_SCOPE_SENDER, PM_C_RCPTS_DAY,  NOW + 4,   0, 0, 0, 0, 0, 0, PM_SKNOW_ASK},
        /* never: not a message limit one more message can be refused for */
        {"over the day, never fits",         0, PM_SCOPE_SENDER, PM_C_MSGS_DAY,   -1,        0, 0, 0, 0, 0, 0, PM_SKNOW_ASK},
        {"message credits left",             0, PM_SCOPE_SENDER, PM_C_MSGS_DAY,   NOW + 600, 0, 1, 0, 0, 0, 0, PM_SKNOW_ASK},
        /* recipient credits buy no message */
        {"recipient credits left",           0, PM_SCOPE_SENDER, PM_C_MSGS_DAY,   NOW + 600, 0, 0, 5, 0, 0, 0, PM_SKNOW_REFUSE},
        {"dry run",                          0, PM_SCOPE_SENDER, PM_C_MSGS_DAY,   NOW + 600, 0, 0, 5, 1, 0, 0, PM_SKNOW_ASK},
        {"soft scope",                       0, PM_SCOPE_SENDER, PM_C_MSGS_DAY,   NOW + 600, 0, 0, 5, 0, 1, 0, PM_SKNOW_ASK},
        /* internal mail counts apart: it fits */
        {"internal message",                 0, PM_SCOPE_SENDER, PM_C_MSGS_DAY,   NOW + 600, 0, 0, 5, 0, 0, 1, PM_SKNOW_GO},
        {"internal, over the internal hour", 0, PM_SCOPE_SENDER, PM_C_INT_HOUR,   NOW + 600, 0, 0, 5, 0, 0, 1, PM_SKNOW_REFUSE},
        /* a scope the message does not use */
        {"internal, the company over it",    0, PM_SCOPE_DOMAIN, PM_C_INT_HOUR,   NOW + 600, 0, 0, 5, 0, 0, 1, PM_SKNOW_GO},
    };
    /* clang-format on */
    struct pm_sknow kn;
    struct pm_sknow_q q;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct over_row *r = &rows[i];

        kn = far();
        q = question();
        kn.fits = 0;
        kn.over_scope = r->scope;
        kn.over_counter = r->counter;
        kn.over_limit = 100;
        kn.retry_at = r->retry_at;
        kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 100;
        kn.rep.level = r->rep_level;
        kn.credits_left[0] = r->credits_msgs;
        kn.credits_left[1] = r->credits_rcpts;
        q.enforce = !r->dry;
        q.hard[PM_SCOPE_SENDER] = !r->soft;
        if (r->internal) {
            q.msgs = q.rcpts = q.cold = 0;
            q.internal = 1;
        }
        decided(r->name, pm_sknow_decide(&kn, &q, T0 + r->at), r->want);
    }
    kn = far(); /* 1.999 s after T0 the store's time is estimated in whole seconds */
    assert_int_equal(pm_sknow_store_time(&kn, T0 + 1999), NOW + 1);
}

/* A sender in incident, or one the last answer opened an incident for, always asks. */
static void
test_incident(void **state)
{
    struct pm_sknow kn = far();
    struct pm_sknow_q q = question();

    (void)state;
    kn.inc_state = PM_INCS_IN;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.inc_state = PM_INCS_OPENED;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.inc_state = PM_INCS_WOULD;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.fits = 0;
    kn.over_counter = PM_C_MSGS_HOUR;
    kn.retry_at = NOW + 600;
    kn.inc_state = PM_INCS_IN;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
}

/* The table keeps an answer per sender and configuration, and gives it back
 * as an answer again (the plan override with it). */
static void
test_table(void **state)
{
    struct pm_sknow_key a = pm_sknow_key(conf_a, key16, "alice@example.com", "", "example.com");
    struct pm_sknow_key a2 = pm_sknow_key(conf_b, key16, "alice@example.com", "", "example.com");
    struct pm_sknow_key b = pm_sknow_key(conf_a, key16, "bob@example.com", "", "example.com");
    struct pm_meter_res res, back;
    struct pm_sknow kn;

    (void)state;
    pm_sknow_clear();
    memset(&res, 0, sizeof(res));
    res.fits = 1;
    res.plan = 2;
    res.now = NOW;
    res.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY] = 42;
    res.rep.level = 1;
    res.warmup[PM_SCOPE_SENDER].active = 1;
    res.warmup[PM_SCOPE_SENDER].day_cap = 60;
    pm_sknow_put(&a, &res, T0);
    assert_int_equal(pm_sknow_get(&a, &kn), 0);
    assert_int_equal(pm_sknow_get(&a2, &kn), -1); /* another configuration */
    assert_int_equal(pm_sknow_get(&b, &kn), -1);
    assert_int_equal(pm_sknow_get(&a, &kn), 0);
    assert_int_equal(kn.mono_ms, T0);
    assert_int_equal(kn.plan, 2);
    pm_sknow_res(&kn, NOW + 4, &back);
    assert_int_equal(back.now, NOW + 4);
    assert_int_equal(back.plan, 2);
    assert_int_equal(back.fits, 1);
    assert_int_equal(back.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY], 42);
    assert_int_equal(back.rep.level, 1);
    assert_int_equal(back.warmup[PM_SCOPE_SENDER].day_cap, 60);
    assert_int_equal(back.refs_known, -1);
    res.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY] = 43; /* the next answer replaces it */
    pm_sknow_put(&a, &res, T0 + 10);
    assert_int_equal(pm_sknow_get(&a, &kn), 0);
    assert_int_equal(kn.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY], 43);
    assert_int_equal(kn.mono_ms, T0 + 10);
}

/* An answer whose store time is more than 5 s behind the store's time as
 * the knowledge puts it (a commit's recorded reply given again) is not
 * kept; one a little behind is; knowledge over 20 minutes old tells nothing
 * of the store's time, and any answer replaces it. */
static void
test_replayed(void **state)
{
    struct pm_sknow_key a = pm_sknow_key(conf_a, key16, "alice@example.com", "", "example.com");
    struct pm_meter_res res;
    struct pm_sknow kn;

    (void)state;
    pm_sknow_clear();
    memset(&res, 0, sizeof(res));
    res.fits = 1;
    res.now = NOW;
    res.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY] = 40;
    assert_int_equal(pm_sknow_put(&a, &res, T0), 1);
    /* 10 s later, the reply recorded at NOW - 60 given again */
    res.now = NOW - 60;
    res.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY] = 30;
    assert_int_equal(pm_sknow_put(&a, &res, T0 + 10000), 0);
    assert_int_equal(pm_sknow_get(&a, &kn), 0);
    assert_int_equal(kn.now, NOW);
    assert_int_equal(kn.mono_ms, T0);
    assert_int_equal(kn.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY], 40);
    /* NOW + 4 is 6 s behind NOW + 10: a replay too; NOW + 5 is kept */
    res.now = NOW + 4;
    assert_int_equal(pm_sknow_put(&a, &res, T0 + 10000), 0);
    res.now = NOW + 5;
    res.used[PM_SCOPE_SENDER][PM_C_MSGS_DAY] = 41;
    assert_int_equal(pm_sknow_put(&a, &res, T0 + 10000), 1);
    assert_int_equal(pm_sknow_get(&a, &kn), 0);
    assert_int_equal(kn.now, NOW + 5);
    assert_int_equal(kn.mono_ms, T0 + 10000);
    /* knowledge 1200 s old still tells; 1200.001 s no more */
    res.now = NOW;
    assert_int_equal(pm_sknow_put(&a, &res, T0 + 10000 + 1200000), 0);
    assert_int_equal(pm_sknow_put(&a, &res, T0 + 10000 + 1200001), 1);
    assert_int_equal(pm_sknow_get(&a, &kn), 0);
    assert_int_equal(kn.now, NOW);
}

/* Twice as many senders as slots: the table holds at most PM_SKNOW_SLOTS
 * of them, the latest ones among them. */
static void
test_bound(void **state)
{
    struct pm_meter_res res;
    struct pm_sknow kn;
    struct pm_sknow_key k;
    char sender[64];
    int i, kept = 0, kept_late = 0;

    (void)state;
    pm_sknow_clear();
    memset(&res, 0, sizeof(res));
    for (i = 0; i < 2 * PM_SKNOW_SLOTS; i++) {
        snprintf(sender, sizeof(sender), "s%d@example.com", i);
        k = pm_sknow_key(conf_a, key16, sender, "", "example.com");
        pm_sknow_put(&k, &res, T0 + i);
    }
    for (i = 0; i < 2 * PM_SKNOW_SLOTS; i++) {
        snprintf(sender, sizeof(sender), "s%d@example.com", i);
        k = pm_sknow_key(conf_a, key16, sender, "", "example.com");
        if (pm_sknow_get(&k, &kn) == 0) {
            kept++;
            kept_late += i >= PM_SKNOW_SLOTS;
        }
    }
    assert_true(kept <= PM_SKNOW_SLOTS);
    assert_true(kept_late > kept / 2); /* the oldest of a set goes first */
    assert_true(kept > PM_SKNOW_SLOTS / 2);
}

/* A refusal decided here at mono_ms for alice (key a, login al) over limit
 * c: 1 when it stays local (pm_sknow_refused()). */
static int
alice_refused(const struct pm_sknow_key *a, enum pm_counter c, long long mono_ms)
{
    return pm_sknow_refused(a, c, "alice@example.com", "al", "example.com", mono_ms);
}

/* Refusals decided here stay local while a request carried the count less
 * than a second ago; the next request takes them (and their limit); when
 * the sender makes none, they are due a second after its last one. */
static void
test_refusals(void **state)
{
    struct pm_sknow_key a = pm_sknow_key(conf_a, key16, "alice@example.com", "", "example.com");
    struct pm_sknow_key b = pm_sknow_key(conf_a, key16, "bob@example.com", "", "example.com");
    struct pm_meter_res res;
    struct pm_sknow_carry c;
    enum pm_counter counter = PM_C_MSGS_DAY;

    (void)state;
    pm_sknow_clear();
    memset(&res, 0, sizeof(res));
    /* nothing known: ask */
    assert_int_equal(pm_sknow_refused(&b, PM_C_MSGS_HOUR, "bob@example.com", "", "example.com", T0),
                     0);
    assert_int_equal(pm_sknow_take(&a, &counter, T0), 0);
    pm_sknow_put(&a, &res, T0);
    assert_int_equal(pm_sknow_next_due(), -1);
    assert_int_equal(alice_refused(&a, PM_C_MSGS_HOUR, T0 + 1), 1);
    assert_int_equal(pm_sknow_next_due(), T0 + 1000);
    assert_int_equal(alice_refused(&a, PM_C_MSGS_HOUR, T0 + 999), 1);
    /* a second: ask, and the request takes the two */
    assert_int_equal(alice_refused(&a, PM_C_MSGS_HOUR, T0 + 1000), 0);
    assert_int_equal(pm_sknow_take(&a, &counter, T0 + 1000), 2);
    assert_int_equal(counter, PM_C_MSGS_HOUR);
    assert_int_equal(pm_sknow_take(&a, &counter, T0 + 1001), 0);
    assert_int_equal(pm_sknow_next_due(), -1);
    /* no request follows: due a second after the last one, once */
    assert_int_equal(alice_refused(&a, PM_C_WARMUP_DAY, T0 + 1500), 1);
    assert_int_equal(pm_sknow_next_due(), T0 + 2001);
    assert_int_equal(pm_sknow_due(T0 + 2000, &c), 0);
    assert_int_equal(pm_sknow_due(T0 + 2001, &c), 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.counter, PM_C_WARMUP_DAY);
    assert_string_equal(c.sender, "alice@example.com");
    assert_string_equal(c.login, "al");
    assert_string_equal(c.domain, "example.com");
    assert_int_equal(pm_sknow_due(T0 + 2001, &c), 0);
    assert_int_equal(pm_sknow_take(&a, &counter, T0 + 2002), 0);
    assert_int_equal(pm_sknow_next_due(), -1);
    /* refusals of two limits: each request carries one limit's, the most
     * numerous first; the other waits a second more */
    assert_int_equal(alice_refused(&a, PM_C_MSGS_HOUR, T0 + 2100), 1);
    assert_int_equal(alice_refused(&a, PM_C_MSGS_DAY, T0 + 2200), 1);
    assert_int_equal(alice_refused(&a, PM_C_MSGS_DAY, T0 + 2300), 1);
    assert_int_equal(pm_sknow_take(&a, &counter, T0 + 2400), 2);
    assert_int_equal(counter, PM_C_MSGS_DAY);
    assert_int_equal(pm_sknow_next_due(), T0 + 3400);
    assert_int_equal(pm_sknow_due(T0 + 3399, &c), 0);
    assert_int_equal(pm_sknow_due(T0 + 3400, &c), 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.counter, PM_C_MSGS_HOUR);
    assert_int_equal(pm_sknow_next_due(), -1);
    /* given back (the store did not answer), they wait as they were */
    c.n = 3;
    assert_int_equal(pm_sknow_give_back(&c, T0 + 3500), 1);
    c.n = 1;
    c.counter = PM_C_WARMUP_DAY;
    assert_int_equal(pm_sknow_give_back(&c, T0 + 3500), 1);
    assert_int_equal(pm_sknow_due(T0 + 4500, &c), 1);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.counter, PM_C_MSGS_HOUR);
    assert_int_equal(pm_sknow_due(T0 + 5499, &c), 0);
    assert_int_equal(pm_sknow_take(&a, &counter, T0 + 5500), 1);
    assert_int_equal(counter, PM_C_WARMUP_DAY);
    assert_int_equal(pm_sknow_next_due(), -1);
}

static int woken; /* times the wake hook was called */

/* The wake hook of the tests. */
static void
wake(void)
{
    woken++;
}

/* The refusals waiting are bounded: past PM_SKNOW_CARRY senders, the store
 * is asked; the hook is called when the first starts waiting. */
static void
test_carry_bound(void **state)
{
    struct pm_meter_res res;
    struct pm_sknow_key k;
    struct pm_sknow_carry c;
    char sender[64];
    int i, local = 0, due = 0;

    (void)state;
    pm_sknow_clear();
    woken = 0;
    pm_sknow_on_wait(wake);
    memset(&res, 0, sizeof(res));
    for (i = 0; i < PM_SKNOW_CARRY + 10; i++) {
        snprintf(sender, sizeof(sender), "c%d@example.com", i);
        k = pm_sknow_key(conf_a, key16, sender, "", "example.com");
        pm_sknow_put(&k, &res, T0);
        local += pm_sknow_refused(&k, PM_C_MSGS_HOUR, sender, "", "example.com", T0 + 1);
    }
    assert_int_equal(local, PM_SKNOW_CARRY);
    assert_int_equal(woken, 1);
    while (pm_sknow_due(T0 + 1000, &c))
        due++;
    assert_int_equal(due, PM_SKNOW_CARRY);
    pm_sknow_on_wait(NULL);
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),   cmocka_unit_test(test_margin),
        cmocka_unit_test(test_over),     cmocka_unit_test(test_incident),
        cmocka_unit_test(test_table),    cmocka_unit_test(test_bound),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_carry_bound),
        cmocka_unit_test(test_replayed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
