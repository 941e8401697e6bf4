/*
 * test_curve.c - table-driven tests of warm-up curves: list and growth
 * forms, caps at the plan's limit and at PM_WARMUP_CAP_MAX, the hourly share,
 * and arguments at and beyond every bound. The stages (one per active day,
 * dormancy, the bounce gate) are the meter script's: store.sh and warmup.sh
 * test them against a real Redis.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>

#include "curve.h"

/* The default list, cut at the plan's daily limit. */
static void
test_list(void **state)
{
    static const long long def[] = {20, 40, 60, 80, 100, 150, 200, 300, 400, 500};
    static const long long bad[] = {20, 40, 40};
    struct pm_curve c;

    (void)state;
    assert_int_equal(pm_curve_from_list(def, 10, 500, &c), 0);
    assert_int_equal(c.n, 9);
    assert_int_equal(pm_curve_day_cap(&c, 0), 20);
    assert_int_equal(pm_curve_day_cap(&c, 2), 60);
    assert_int_equal(pm_curve_day_cap(&c, 8), 400);
    assert_int_equal(pm_curve_day_cap(&c, 9), 0);
    assert_int_equal(pm_curve_from_list(def, 10, 100, &c), 0);
    assert_int_equal(c.n, 4);
    assert_int_equal(pm_curve_from_list(def, 10, 0, &c), 0);
    assert_int_equal(c.n, 10);
    assert_int_equal(pm_curve_from_list(bad, 3, 0, &c), -1);
    assert_int_equal(pm_curve_from_list(def, 0, 500, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(pm_curve_day_cap(&c, 0), 0);
}

/* Every cap within 1..PM_WARMUP_CAP_MAX and strictly increasing. */
static void
assert_curve_bounded(const struct pm_curve *c)
{
    size_t i;

    assert_true(c->n <= PM_WARMUP_MAX_STAGES);
    for (i = 0; i < c->n; i++) {
        assert_true(c->cap[i] >= 1 && c->cap[i] <= PM_WARMUP_CAP_MAX);
        assert_true(i == 0 || c->cap[i] > c->cap[i - 1]);
    }
}

/* start/growth: rounding, strictly increasing, stops below the limit. */
static void
test_growth(void **state)
{
    static const struct {
        long long start;
        double growth;
        long long limit;
        size_t n;
        long long first, second, last;
    } rows[] = {
        {20, 1.4, 500, 10, 20, 28, 413},
        {20, 2.0, 500, 5, 20, 40, 320},
        {1, 1.1, 10, 9, 1, 2, 9},
        {10, 1.5, 11, 1, 10, 10, 10},
        {500, 1.5, 500, 0, 0, 0, 0},
        {20, 2.0, 0, 26, 20, 40, 671088640},
        {1, 10.0, 0, 10, 1, 10, 1000000000},
        {1000000000, 10.0, 0, 1, 0, 0, 1000000000},
        {1000000000, 10.0, 500, 0, 0, 0, 0},
        {999999990, 1.000000001, 0, 10, 999999990, 999999991, 999999999},
    };
    struct pm_curve c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(pm_curve_from_growth(rows[i].start, rows[i].growth, rows[i].limit, &c), 0);
        assert_int_equal(c.n, rows[i].n);
        if (c.n >= 2) {
            assert_int_equal(c.cap[0], rows[i].first);
            assert_int_equal(c.cap[1], rows[i].second);
        }
        if (rows[i].last)
            assert_int_equal(c.cap[c.n - 1], rows[i].last);
        assert_curve_bounded(&c);
    }
    assert_int_equal(pm_curve_from_growth(0, 1.5, 100, &c), -1);
    assert_int_equal(pm_curve_from_growth(20, 1.0, 100, &c), -1);
}

/* The hourly cap is a share of the day's, rounded up, at least 1. */
static void
test_hour_cap(void **state)
{
    static const struct {
        long long day;
        double share;
        long long hour;
    } rows[] = {{20, 0.25, 5},
                {60, 0.25, 15},
                {150, 0.25, 38},
                {3, 0.25, 1},
                {1, 0.01, 1},
                {100, 1.0, 100},
                {0, 0.25, 0},
                {40, 0.5, 20},
                {1000000000, 0.25, 250000000},
                {1000000000, 0.01, 10000000},
                {100, 2.0, 100},
                {100, 1e308, 100},
                {100, 0.0, 1},
                {100, -1.0, 1},
                {-5, 0.25, 0},
                {LLONG_MAX, 1.0, LLONG_MAX},
                {LLONG_MAX, 0.5, 4611686018427387904LL}};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(pm_curve_hour_cap(rows[i].day, rows[i].share), rows[i].hour);
}

/* Whatever the arguments, a curve holds caps within 1..PM_WARMUP_CAP_MAX. */
static void
test_bounds(void **state)
{
    static const long long too_big[] = {20, PM_WARMUP_CAP_MAX + 1};
    static const long long at_max[] = {20, PM_WARMUP_CAP_MAX};
    static const long long huge[] = {999999999999999998LL, 999999999999999999LL};
    struct pm_curve c;

    (void)state;
    assert_int_equal(pm_curve_from_growth(PM_WARMUP_CAP_MAX + 1, 1.5, 0, &c), -1);
    assert_int_equal(pm_curve_from_growth(LLONG_MAX, 10.0, 0, &c), -1);
    assert_int_equal(pm_curve_from_growth(LLONG_MIN, 10.0, 0, &c), -1);
    assert_int_equal(pm_curve_from_growth(20, NAN, 0, &c), -1);
    assert_int_equal(pm_curve_from_growth(20, -INFINITY, 0, &c), -1);
    assert_int_equal(pm_curve_from_growth(20, INFINITY, 0, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.cap[0], 20);
    assert_int_equal(pm_curve_from_growth(20, 1e308, LLONG_MAX, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(pm_curve_from_growth(20, 2.0, LLONG_MAX, &c), 0);
    assert_int_equal(c.n, 26);
    assert_int_equal(c.cap[25], 671088640);
    assert_int_equal(pm_curve_from_growth(20, 2.0, -1, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(pm_curve_from_list(too_big, 2, 0, &c), -1);
    assert_int_equal(pm_curve_from_list(huge, 2, 0, &c), -1);
    assert_int_equal(pm_curve_from_list(huge, 2, 500, &c), -1);
    assert_int_equal(pm_curve_from_list(at_max, 2, 0, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.cap[1], PM_WARMUP_CAP_MAX);
    assert_int_equal(pm_curve_day_cap(&c, LLONG_MAX), 0);
    assert_int_equal(pm_curve_day_cap(&c, LLONG_MIN), 20);
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_hour_cap),
        cmocka_unit_test(test_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
