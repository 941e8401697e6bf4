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

/* Fresh knowledge far from the limits goes on; stale, future or none-allowed asks. */
static void
test_fresh(void **state)
{
    struct pm_sknow kn = far();
    struct pm_sknow_q q = question();

    (void)state;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    assert_int_equal(pm_sknow_decide(&kn, &q, T0 + 5000), PM_SKNOW_GO);
    assert_int_equal(pm_sknow_decide(&kn, &q, T0 + 5001), PM_SKNOW_ASK);
    assert_int_equal(pm_sknow_decide(&kn, &q, T0 - 1), PM_SKNOW_ASK);
    q.fresh_ms = 0; /* rcpt_check.fresh_seconds = 0: always ask */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
}

/* Every counter keeps the margin, counted as the store would count the
 * message: used + what the message adds + margin <= limit. */
static void
test_margin(void **state)
{
    struct pm_sknow kn = far();
    struct pm_sknow_q q = question();
    int c;

    (void)state;
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 97; /* 97 + 1 + 2 = 100 */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 98;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    q.margin = 1;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    /* the recipients of the message so far, every one of unknown status cold */
    kn = far();
    q = question();
    q.rcpts = 10;
    q.cold = 10;
    kn.used[PM_SCOPE_SENDER][PM_C_NEW_DAY] = 88; /* 88 + 10 + 2 = 100 */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn.used[PM_SCOPE_SENDER][PM_C_NEW_DAY] = 89;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    q.cold = 9; /* one of them known not to be */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    /* every counter with a limit, each in turn */
    for (c = 0; c < PM_C_COUNT; c++) {
        kn = far();
        q = question();
        q.internal = c >= PM_C_INT_HOUR;
        q.msgs = q.rcpts = q.cold = !q.internal;
        q.lim[PM_SCOPE_SENDER][c] = 10;
        kn.used[PM_SCOPE_SENDER][c] = 7;
        assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
        kn.used[PM_SCOPE_SENDER][c] = 8;
        assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
        q.lim[PM_SCOPE_SENDER][c] = 0; /* no limit */
        assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    }
    /* the company's scope counts when it is used */
    kn = far();
    q = question();
    q.lim[PM_SCOPE_DOMAIN][PM_C_MSGS_HOUR] = 300;
    kn.used[PM_SCOPE_DOMAIN][PM_C_MSGS_HOUR] = 298;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    q.nscopes = 2;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
}

/* The store's brakes: halved limits, the reply-rate brake, the reputation's
 * refusals, the warm-up caps; an internal message meets none of them. */
static void
test_brakes(void **state)
{
    struct pm_sknow kn = far();
    struct pm_sknow_q q = question();

    (void)state;
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 47; /* 47 + 1 + 2 = 50, half of 100 */
    kn.rep.level = 2;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 48;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn = far();
    kn.rep.reply_brake = 1; /* new recipients: 50 */
    kn.used[PM_SCOPE_SENDER][PM_C_NEW_DAY] = 47;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn.used[PM_SCOPE_SENDER][PM_C_NEW_DAY] = 48;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn = far();
    kn.rep.level = 3; /* no first contact: a recipient of unknown status may be one */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    q.cold = 0;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn.rep.level = 4; /* no external mail */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    q.msgs = q.rcpts = 0;
    q.internal = 1;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn = far();
    q = question();
    kn.warmup[PM_SCOPE_SENDER].active = 1;
    kn.warmup[PM_SCOPE_SENDER].day_cap = 20;
    kn.warmup[PM_SCOPE_SENDER].hour_cap = 15;
    kn.warmup[PM_SCOPE_SENDER].today = 17; /* 17 + 1 + 2 = 20 */
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 12;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn.warmup[PM_SCOPE_SENDER].today = 18;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.warmup[PM_SCOPE_SENDER].today = 1;
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 13;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
}

/* A sender over a message limit until a store time still to come is refused;
 * not within two seconds of that time (estimated from the local clock), nor
 * at reputation level 3 or more, nor with message credits left, in a dry
 * run, over a soft scope or when the message needs no message counter
 * (internal recipients). */
static void
test_over(void **state)
{
    struct pm_sknow kn = far();
    struct pm_sknow_q q = question();

    (void)state;
    kn.fits = 0;
    kn.over_scope = PM_SCOPE_SENDER;
    kn.over_counter = PM_C_MSGS_HOUR;
    kn.over_limit = 100;
    kn.retry_at = NOW + 4;
    kn.used[PM_SCOPE_SENDER][PM_C_MSGS_HOUR] = 100;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_REFUSE);
    assert_int_equal(pm_sknow_decide(&kn, &q, T0 + 1999), PM_SKNOW_REFUSE);
    assert_int_equal(pm_sknow_store_time(&kn, T0 + 1999), NOW + 1);
    /* within two seconds of retry_at (the estimate lags by whole seconds) the store decides */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0 + 2000), PM_SKNOW_ASK);
    assert_int_equal(pm_sknow_decide(&kn, &q, T0 + 6000), PM_SKNOW_ASK); /* stale */
    kn.rep.level = 3; /* a reputation brake may refuse with its own reply */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.rep.level = 0;
    kn.over_counter = PM_C_WARMUP_DAY;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_REFUSE);
    kn.over_counter = PM_C_RCPTS_DAY; /* a recipient limit: fewer recipients may fit */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.over_counter = PM_C_MSGS_DAY;
    kn.retry_at = -1; /* never: not a message limit one more message can be refused for */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.retry_at = NOW + 600;
    kn.credits_left[0] = 1;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    kn.credits_left[0] = 0;
    kn.credits_left[1] = 5; /* recipient credits buy no message */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_REFUSE);
    q.enforce = 0;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    q.enforce = 1;
    q.hard[PM_SCOPE_SENDER] = 0;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_ASK);
    q.hard[PM_SCOPE_SENDER] = 1;
    q.msgs = q.rcpts = q.cold = 0;
    q.internal = 1; /* internal mail counts apart: it fits */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
    kn.over_counter = PM_C_INT_HOUR;
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_REFUSE);
    kn.over_scope = PM_SCOPE_DOMAIN; /* a scope the message does not use */
    assert_int_equal(pm_sknow_decide(&kn, &q, T0), PM_SKNOW_GO);
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
    assert_int_equal(
        pm_sknow_refused(&a, PM_C_MSGS_HOUR, "alice@example.com", "al", "example.com", T0 + 1), 1);
    assert_int_equal(pm_sknow_next_due(), T0 + 1000);
    assert_int_equal(
        pm_sknow_refused(&a, PM_C_MSGS_HOUR, "alice@example.com", "al", "example.com", T0 + 999),
        1);
    /* a second: ask, and the request takes the two */
    assert_int_equal(
        pm_sknow_refused(&a, PM_C_MSGS_HOUR, "alice@example.com", "al", "example.com", T0 + 1000),
        0);
    assert_int_equal(pm_sknow_take(&a, &counter, T0 + 1000), 2);
    assert_int_equal(counter, PM_C_MSGS_HOUR);
    assert_int_equal(pm_sknow_take(&a, &counter, T0 + 1001), 0);
    assert_int_equal(pm_sknow_next_due(), -1);
    /* no request follows: due a second after the last one, once */
    assert_int_equal(
        pm_sknow_refused(&a, PM_C_WARMUP_DAY, "alice@example.com", "al", "example.com", T0 + 1500),
        1);
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
    assert_int_equal(
        pm_sknow_refused(&a, PM_C_MSGS_HOUR, "alice@example.com", "al", "example.com", T0 + 2100),
        1);
    assert_int_equal(
        pm_sknow_refused(&a, PM_C_MSGS_DAY, "alice@example.com", "al", "example.com", T0 + 2200),
        1);
    assert_int_equal(
        pm_sknow_refused(&a, PM_C_MSGS_DAY, "alice@example.com", "al", "example.com", T0 + 2300),
        1);
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
        cmocka_unit_test(test_fresh),       cmocka_unit_test(test_margin),
        cmocka_unit_test(test_brakes),      cmocka_unit_test(test_over),
        cmocka_unit_test(test_incident),    cmocka_unit_test(test_table),
        cmocka_unit_test(test_bound),       cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_carry_bound), cmocka_unit_test(test_replayed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
