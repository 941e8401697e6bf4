/*
 * test_suplocal.c - unit tests of this server's copy of the suppression
 * lists (policy/suplocal.c): add, remove, expiry, the bound, readiness, many
 * entries against a reference, its memory at 100,000 entries, readers
 * beside a writer, and the pending marks of the stream's intents.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "suplocal.h"

#define NOW 1000000LL /* store time of the tests */

/* A copy of at most max entries, loaded (empty) and ready. */
static void
fresh(long long max)
{
    pm_suplocal_setup(max);
    pm_suplocal_begin();
    pm_suplocal_clock(NOW);
    pm_suplocal_ready(1);
}

/* The entries held now. */
static long long
entries(void)
{
    struct pm_suplocal_stats s;

    pm_suplocal_stats(&s);
    return s.entries;
}

/* Added: "may be" for that company and address only; removed: "surely not". */
static void
test_add_del(void **state)
{
    (void)state;
    fresh(100);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW), 0);
    pm_suplocal_add("a.example", "bob@x.org", 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW), 1);
    assert_int_equal(pm_suplocal_maybe_at("b.example", "bob@x.org", NOW), 0); /* another company */
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bobx.org", NOW), 0);
    /* company NUL address: "a.ex" + "ample..." is not "a.example" + "..." */
    assert_int_equal(pm_suplocal_maybe_at("a.exampleb", "ob@x.org", NOW), 0);
    pm_suplocal_add("a.example", "bob@x.org", 0); /* again: still one */
    assert_int_equal(entries(), 1);
    pm_suplocal_del("a.example", "bob@x.org");
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW), 0);
    assert_int_equal(entries(), 0);
    pm_suplocal_del("a.example", "bob@x.org"); /* none: nothing happens */
    assert_int_equal(entries(), 0);
    /* the daemon's own clock: the entry is held whatever the time */
    pm_suplocal_add("a.example", "ann@x.org", 0);
    assert_int_equal(pm_suplocal_maybe("a.example", "ann@x.org"), 1);
    assert_int_equal(pm_suplocal_maybe("a.example", "joe@x.org"), 0);
    /* no company (a login without a domain): the store names the list, it decides */
    assert_int_equal(pm_suplocal_maybe("", "joe@x.org"), 1);
    assert_int_equal(pm_suplocal_maybe_at("", "joe@x.org", NOW), 1);
}

/* An entry counts until its expiry plus the slack, then reads as absent. */
static void
test_expiry(void **state)
{
    (void)state;
    fresh(100);
    pm_suplocal_add("a.example", "bob@x.org", NOW + 100);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW + 100), 1);
    assert_int_equal(
        pm_suplocal_maybe_at("a.example", "bob@x.org", NOW + 100 + PM_SUPLOCAL_SLACK - 1), 1);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW + 100 + PM_SUPLOCAL_SLACK),
                     0);
    /* added again with a later expiry (suppress add after a bounce): the later one holds */
    pm_suplocal_add("a.example", "bob@x.org", NOW + 1000);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW + 500), 1);
    assert_int_equal(entries(), 1);
}

/* Past the bound the copy cannot tell: "may be" for everyone until a load;
 * expired entries make room first. */
static void
test_bound(void **state)
{
    struct pm_suplocal_stats s;

    (void)state;
    fresh(3);
    pm_suplocal_add("c", "1@x", 0);
    pm_suplocal_add("c", "2@x", 0);
    pm_suplocal_add("c", "3@x", 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.full, 0);
    assert_int_equal(pm_suplocal_maybe_at("c", "9@x", NOW), 0);
    pm_suplocal_add("c", "4@x", 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.full, 1);
    assert_int_equal(s.entries, 3);
    assert_int_equal(pm_suplocal_maybe_at("c", "9@x", NOW), 1);
    pm_suplocal_begin(); /* a load starts over */
    pm_suplocal_stats(&s);
    assert_int_equal(s.full, 0);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.ready, 0);

    fresh(2); /* one expired entry makes room */
    pm_suplocal_add("c", "old@x", NOW - 1000);
    pm_suplocal_add("c", "1@x", 0);
    pm_suplocal_add("c", "2@x", 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.full, 0);
    assert_int_equal(s.entries, 2);
    assert_int_equal(pm_suplocal_maybe_at("c", "2@x", NOW), 1);
    assert_int_equal(pm_suplocal_maybe_at("c", "3@x", NOW), 0);
}

/* Not ready (not loaded, a gap), or off: "may be" for everyone. */
static void
test_not_ready_off(void **state)
{
    (void)state;
    pm_suplocal_setup(100);
    pm_suplocal_add("c", "1@x", 0);
    assert_int_equal(pm_suplocal_maybe_at("c", "2@x", NOW), 1); /* loading */
    pm_suplocal_ready(1);
    assert_int_equal(pm_suplocal_maybe_at("c", "2@x", NOW), 0);
    assert_int_equal(pm_suplocal_maybe_at("c", "1@x", NOW), 1);
    pm_suplocal_ready(0); /* a gap */
    assert_int_equal(pm_suplocal_maybe_at("c", "2@x", NOW), 1);

    fresh(0); /* off: nothing held, the store decides */
    pm_suplocal_add("c", "1@x", 0);
    assert_int_equal(entries(), 0);
    assert_int_equal(pm_suplocal_maybe_at("c", "2@x", NOW), 1);

    fresh(100); /* an address too long to hold is never "surely not" */
    {
        char longer[2000];

        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = '\0';
        assert_int_equal(pm_suplocal_maybe_at("c", longer, NOW), 1);
    }
}

/* Many entries, a third removed, against what must be: removals shift the
 * probe chains back correctly. */
static void
test_many(void **state)
{
    char a[32];
    int i, wrong = 0;

    (void)state;
    fresh(1000000);
    for (i = 0; i < 20000; i++) {
        snprintf(a, sizeof(a), "u%d@x.org", i);
        pm_suplocal_add(i % 2 ? "a.example" : "b.example", a, 0);
    }
    assert_int_equal(entries(), 20000);
    for (i = 0; i < 20000; i += 3) {
        snprintf(a, sizeof(a), "u%d@x.org", i);
        pm_suplocal_del(i % 2 ? "a.example" : "b.example", a);
    }
    assert_int_equal(entries(), 20000 - 6667);
    for (i = 0; i < 20000; i++) {
        snprintf(a, sizeof(a), "u%d@x.org", i);
        wrong += pm_suplocal_maybe_at(i % 2 ? "a.example" : "b.example", a, NOW) != (i % 3 != 0);
        wrong += pm_suplocal_maybe_at(i % 2 ? "b.example" : "a.example", a, NOW) != 0;
    }
    assert_int_equal(wrong, 0);
}

/* The table's memory at 100,000 entries (the README's figure). */
static void
test_memory(void **state)
{
    struct pm_suplocal_stats s;
    char a[32];
    int i;

    (void)state;
    fresh(1000000);
    for (i = 0; i < 100000; i++) {
        snprintf(a, sizeof(a), "u%d@x.org", i);
        pm_suplocal_add("a.example", a, NOW + 86400);
    }
    pm_suplocal_stats(&s);
    assert_int_equal(s.entries, 100000);
    assert_int_equal(s.bytes, 262144 * 16); /* 4 MiB */
    printf("suplocal: 100000 entries: %zu bytes\n", s.bytes);
}

/* A reader's loop beside the writer (the RCPT path and the follower). */
static void *
reader(void *arg)
{
    int i, *bad = arg;

    for (i = 0; i < 200000; i++)
        *bad += pm_suplocal_maybe_at("a.example", "keep@x.org", NOW) != 1;
    return NULL;
}

/* Readers never see a held entry missing while others come and go. */
static void
test_threads(void **state)
{
    pthread_t t[2];
    int bad[2] = {0, 0}, i;
    char a[32];

    (void)state;
    fresh(1000000);
    pm_suplocal_add("a.example", "keep@x.org", 0);
    assert_int_equal(pthread_create(&t[0], NULL, reader, &bad[0]), 0);
    assert_int_equal(pthread_create(&t[1], NULL, reader, &bad[1]), 0);
    for (i = 0; i < 50000; i++) {
        snprintf(a, sizeof(a), "t%d@x.org", i % 5000);
        if ((i / 5000) % 2)
            pm_suplocal_del("a.example", a);
        else
            pm_suplocal_add("a.example", a, 0);
    }
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    assert_int_equal(bad[0] + bad[1], 0);
    assert_int_equal(entries(), 1);
}

/* An intent (chk) makes its address "may be" until its final note (add,
 * del or end) closes it, whatever the entry; two intents need two closes;
 * a final note without an intent (its intent before the load) only
 * changes the entry; a load's earlier notes open and close intents only. */
static void
test_pending(void **state)
{
    struct pm_suplocal_stats s;

    (void)state;
    fresh(100);
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "bob@x.org", 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW), 1);
    assert_int_equal(pm_suplocal_maybe("a.example", "bob@x.org"), 1);
    assert_int_equal(pm_suplocal_maybe_at("b.example", "bob@x.org", NOW), 0); /* its company */
    assert_int_equal(pm_suplocal_maybe_at("a.example", "ann@x.org", NOW), 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.pending, 1);
    assert_int_equal(s.bytes, 1024 * 16); /* the pending marks' table counts */
    pm_suplocal_change(NULL, PM_SUP_ADD, "a.example", "bob@x.org", NOW + 100);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW), 1); /* the entry */
    pm_suplocal_stats(&s);
    assert_int_equal(s.entries, 1);
    assert_int_equal(s.pending, 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW + 200), 0); /* expired */

    /* an intent on a held entry, closed by its removal */
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "bob@x.org", 0);
    pm_suplocal_change(NULL, PM_SUP_DEL, "a.example", "bob@x.org", 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "bob@x.org", NOW), 0);

    /* two writers at once: "may be" until both closed; end changes nothing */
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "eve@x.org", 0);
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "eve@x.org", 0);
    pm_suplocal_change(NULL, PM_SUP_END, "a.example", "eve@x.org", 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "eve@x.org", NOW), 1);
    pm_suplocal_stats(&s);
    assert_int_equal(s.pending, 1);
    pm_suplocal_change(NULL, PM_SUP_END, "a.example", "eve@x.org", 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "eve@x.org", NOW), 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.pending, 0);
    assert_int_equal(s.entries, 0);

    /* a final note whose intent came before the load: the entry only */
    pm_suplocal_change(NULL, PM_SUP_ADD, "a.example", "joe@x.org", 0);
    pm_suplocal_change(NULL, PM_SUP_END, "a.example", "joe@x.org", 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.pending, 0);
    assert_int_equal(s.entries, 1);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "joe@x.org", NOW), 1);

    /* a writer that died between its notes: "may be" until the next load */
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "zed@x.org", 0);
    pm_suplocal_begin();
    pm_suplocal_ready(1);
    pm_suplocal_stats(&s);
    assert_int_equal(s.pending, 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "zed@x.org", NOW), 0);

    /* a load's notes of the minute before it: intents only, the entries are the load's */
    pm_suplocal_begin();
    pm_suplocal_pair(NULL, PM_SUP_CHK, "a.example", "kim@x.org", 0);
    pm_suplocal_pair(NULL, PM_SUP_ADD, "a.example", "kim@x.org", NOW + 100);
    pm_suplocal_pair(NULL, PM_SUP_CHK, "a.example", "lee@x.org", 0);
    pm_suplocal_pair(NULL, PM_SUP_DEL, "a.example", "max@x.org", 0); /* its intent before */
    pm_suplocal_add("a.example", "max@x.org", 0);                    /* as loaded */
    pm_suplocal_ready(1);
    pm_suplocal_stats(&s);
    assert_int_equal(s.entries, 1);
    assert_int_equal(s.pending, 1);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "kim@x.org", NOW), 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "lee@x.org", NOW), 1);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "max@x.org", NOW), 1);
    pm_suplocal_change(NULL, PM_SUP_END, "a.example", "lee@x.org", 0); /* followed */
    assert_int_equal(pm_suplocal_maybe_at("a.example", "lee@x.org", NOW), 0);

    /* off: no marks kept, everyone "may be" */
    pm_suplocal_setup(0);
    pm_suplocal_ready(1);
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "zed@x.org", 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.pending, 0);
    assert_int_equal(s.bytes, 0);
}

/* Past PM_SUPLOCAL_PENDING_MAX open intents the copy overflows: "may be"
 * for everyone, whatever closes after, until a load starts over. */
static void
test_pending_overflow(void **state)
{
    struct pm_suplocal_stats s;
    char rcpt[32];
    int i;

    (void)state;
    fresh(100);
    for (i = 0; i < PM_SUPLOCAL_PENDING_MAX; i++) {
        snprintf(rcpt, sizeof(rcpt), "%d@x.org", i);
        pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", rcpt, 0);
    }
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "0@x.org", 0); /* one held: no more room */
    pm_suplocal_stats(&s);
    assert_int_equal(s.pending, PM_SUPLOCAL_PENDING_MAX);
    assert_int_equal(s.overflow, 0);
    assert_int_equal(s.entries, 0); /* marks are not entries: the bound of 100 is theirs */
    assert_int_equal(s.bytes, 16384 * 16);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "nobody@x.org", NOW), 0);
    pm_suplocal_change(NULL, PM_SUP_CHK, "a.example", "one-more@x.org", 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.overflow, 1);
    assert_int_equal(s.pending, PM_SUPLOCAL_PENDING_MAX);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "nobody@x.org", NOW), 1);
    for (i = 0; i < PM_SUPLOCAL_PENDING_MAX; i++) { /* every one closed: still overflowed */
        snprintf(rcpt, sizeof(rcpt), "%d@x.org", i);
        pm_suplocal_change(NULL, PM_SUP_END, "a.example", rcpt, 0);
    }
    pm_suplocal_change(NULL, PM_SUP_END, "a.example", "0@x.org", 0);
    pm_suplocal_stats(&s);
    assert_int_equal(s.pending, 0);
    assert_int_equal(s.overflow, 1);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "nobody@x.org", NOW), 1);
    pm_suplocal_begin(); /* the load the follower makes */
    pm_suplocal_ready(1);
    pm_suplocal_stats(&s);
    assert_int_equal(s.overflow, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(pm_suplocal_maybe_at("a.example", "nobody@x.org", NOW), 0);
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_del),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_not_ready_off),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_pending_overflow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
