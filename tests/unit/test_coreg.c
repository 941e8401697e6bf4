/*
 * test_coreg.c - the companies a daemon announces to the company registry
 * (policy/coreg.c), with a fake store that records each announcement: a
 * company is announced once per store day, a second after the first note
 * waits (or at once when asked), the companies noted meanwhile in the same
 * call; a failed announcement leaves them waiting; the table stays bounded;
 * a registry made anew or gone makes the announced ones announced again.
 * The registry itself is tested against a real Redis in
 * tests/integration/registry.sh.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coreg.h"

#define DAY 86400LL

static char announced[64][64]; /* the companies of the last announcement, sorted */
static size_t n_announced, n_calls;
static int fail, woken;
static long long fake_born; /* when the fake registry was made: the store's answer */

/* strcmp for qsort of a char[64] array. */
static int
cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The fake store's announce: record (or fail when asked). */
static int
fake_announce(void *impl, const char *const *co, size_t n, long long *born, char *err,
              size_t errlen)
{
    size_t i;

    (void)impl;
    n_calls++;
    if (fail) {
        snprintf(err, errlen, "down");
        return PM_STORE_RETRY;
    }
    *born = fake_born;
    if (!n)
        return PM_STORE_OK; /* a check */
    for (i = 0; i < n && i < 64; i++)
        snprintf(announced[i], sizeof(announced[i]), "%s", co[i]);
    n_announced = n;
    qsort(announced, n < 64 ? n : 64, sizeof(announced[0]), cmp);
    return PM_STORE_OK;
}

static const struct pm_store_ops fake_ops = {.announce = fake_announce};
static struct pm_store fake = {&fake_ops, NULL};

/* The waiting notes' wake-up. */
static void
wake(void)
{
    woken++;
}

/* Forget the notes and the calls. */
static int
setup(void **state)
{
    (void)state;
    pm_coreg_clear();
    pm_coreg_on_wait(wake);
    n_announced = n_calls = 0;
    fail = woken = 0;
    fake_born = 1000;
    return 0;
}

/* Announce what waits, due or not; the flush's result. */
static int
flush_now(void)
{
    char err[64];

    return pm_coreg_flush(&fake, 1, err, sizeof(err));
}

/* One announcement per company and store day, batched, not before it is due. */
static void
test_once_a_day(void **state)
{
    char err[64];

    (void)state;
    assert_int_equal(pm_coreg_next_due(), -1);
    pm_coreg_note("alice@alpha.example", 100 * DAY + 5);
    assert_int_equal(woken, 1);
    assert_true(pm_coreg_next_due() >= 0);
    pm_coreg_note("carol@alpha.example", 100 * DAY + 6); /* the same company */
    pm_coreg_note("bob@beta.example", 100 * DAY + 7);
    pm_coreg_note("login-without-domain", 100 * DAY + 8); /* the sender is its company */
    assert_int_equal(woken, 1);                           /* once: when the first waits */
    assert_int_equal(pm_coreg_flush(&fake, 0, err, sizeof(err)), 0); /* not due yet */
    assert_int_equal(n_calls, 0);
    assert_int_equal(flush_now(), 3);
    assert_int_equal(n_calls, 1);
    assert_int_equal(n_announced, 3);
    assert_string_equal(announced[0], "alpha.example");
    assert_string_equal(announced[1], "beta.example");
    assert_string_equal(announced[2], "login-without-domain");
    assert_int_equal(pm_coreg_next_due(), -1);
    /* the same store day: nothing more */
    pm_coreg_note("alice@alpha.example", 100 * DAY + 3600);
    pm_coreg_note("dave@beta.example", 101 * DAY - 1);
    assert_int_equal(pm_coreg_next_due(), -1);
    assert_int_equal(flush_now(), 0);
    assert_int_equal(n_calls, 1);
    /* the next store day: again, that company alone */
    pm_coreg_note("alice@alpha.example", 101 * DAY);
    assert_int_equal(woken, 2);
    assert_int_equal(flush_now(), 1);
    assert_int_equal(n_announced, 1);
    assert_string_equal(announced[0], "alpha.example");
    pm_coreg_note("", 101 * DAY); /* no sender: nothing */
    assert_int_equal(pm_coreg_next_due(), -1);
}

/* A failed announcement leaves the companies waiting; the next one sends them. */
static void
test_failure_waits(void **state)
{
    (void)state;
    pm_coreg_note("a@one.example", 7 * DAY);
    pm_coreg_note("b@two.example", 7 * DAY);
    fail = 1;
    assert_int_equal(flush_now(), PM_STORE_RETRY);
    assert_true(pm_coreg_next_due() >= 0);
    pm_coreg_note("a@one.example", 7 * DAY); /* already waiting: one entry */
    fail = 0;
    assert_int_equal(flush_now(), 2);
    assert_int_equal(n_announced, 2);
    assert_string_equal(announced[0], "one.example");
    assert_string_equal(announced[1], "two.example");
    assert_int_equal(flush_now(), 0);
}

/* Bounded: PM_COREG_BATCH per call; a full table forgets the announced ones. */
static void
test_bounded(void **state)
{
    char s[64];
    int i, total = 0, rc;

    (void)state;
    for (i = 0; i < PM_COREG_MAX + 500; i++) {
        snprintf(s, sizeof(s), "x@c%d.example", i);
        pm_coreg_note(s, 9 * DAY);
    }
    /* every one of the first PM_COREG_MAX waits: the last 500 were not noted */
    while ((rc = flush_now()) > 0) {
        assert_true(rc <= PM_COREG_BATCH);
        total += rc;
    }
    assert_int_equal(total, PM_COREG_MAX);
    assert_int_equal(n_calls, PM_COREG_MAX / PM_COREG_BATCH);
    /* the table is full of announced ones: a new company makes room */
    pm_coreg_note("y@new.example", 9 * DAY);
    assert_int_equal(flush_now(), 1);
    assert_string_equal(announced[0], "new.example");
    /* those forgotten are noted again on their next message */
    pm_coreg_note("x@c0.example", 9 * DAY);
    assert_int_equal(flush_now(), 1);
    assert_string_equal(announced[0], "c0.example");
}

/* A registry made anew (or gone) makes the announced companies announced again. */
static void
test_made_anew(void **state)
{
    char err[64];

    (void)state;
    assert_int_equal(pm_coreg_check(&fake, err, sizeof(err)), 0);
    assert_int_equal(n_calls, 0); /* nothing announced: nothing to look at */
    pm_coreg_note("a@one.example", 5 * DAY);
    assert_int_equal(flush_now(), 1);
    assert_int_equal(pm_coreg_check(&fake, err, sizeof(err)), 0); /* the same registry */
    assert_int_equal(n_calls, 2);
    pm_coreg_note("a@one.example", 5 * DAY + 10);
    assert_int_equal(pm_coreg_next_due(), -1);
    fake_born = -2; /* the data went back to layout 1: no registry, nothing to redo */
    assert_int_equal(pm_coreg_check(&fake, err, sizeof(err)), 0);
    pm_coreg_note("a@one.example", 5 * DAY + 20);
    assert_int_equal(pm_coreg_next_due(), -1);
    fake_born = 2000; /* forget --all, then another daemon made it anew */
    assert_int_equal(pm_coreg_check(&fake, err, sizeof(err)), 0);
    pm_coreg_note("a@one.example", 5 * DAY + 30);
    assert_true(pm_coreg_next_due() >= 0);
    assert_int_equal(flush_now(), 1);
    assert_string_equal(announced[0], "one.example");
    fake_born = -1; /* gone (a Redis restarted empty) */
    assert_int_equal(pm_coreg_check(&fake, err, sizeof(err)), 0);
    pm_coreg_note("a@one.example", 5 * DAY + 40);
    fake_born = 3000; /* the announcement makes it anew */
    assert_int_equal(flush_now(), 1);
    fail = 1; /* a check that fails forgets nothing */
    assert_int_equal(pm_coreg_check(&fake, err, sizeof(err)), PM_STORE_RETRY);
    fail = 0;
    pm_coreg_note("a@one.example", 5 * DAY + 50);
    assert_int_equal(pm_coreg_next_due(), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_once_a_day, setup),
        cmocka_unit_test_setup(test_failure_waits, setup),
        cmocka_unit_test_setup(test_bounded, setup),
        cmocka_unit_test_setup(test_made_anew, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
