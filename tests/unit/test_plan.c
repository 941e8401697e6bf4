/*
 * test_plan.c - table-driven tests of plan assignment for senders and
 * sender domains: first match wins, default plan otherwise.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "plan.h"

static struct pm_plan plans[] = {{.name = "default"}, {.name = "vip"},     {.name = "sales"},
                                 {.name = "bots"},    {.name = "company"}, {.name = "brand"}};
static struct pm_assign rules[] = {
    {PM_MATCH_ADDRESS, "ceo@example.com", 1, 1},      {PM_MATCH_LOGIN, "Robot", 3, 2},
    {PM_MATCH_GLOB, "sales-*@example.com", 2, 3},     {PM_MATCH_DOMAIN, "sales.example.com", 2, 4},
    {PM_MATCH_ADDRESS, "sales-eu@example.com", 1, 5}, /* shadowed by the glob */
};
static struct pm_assign drules[] = {
    {PM_MATCH_DOMAIN, "example.com", 4, 10},
    {PM_MATCH_GLOB, "*.brand.example", 5, 11},
};
static struct pm_conf conf = {
    .plans = plans,
    .n_plans = 6,
    .default_plan = 0,
    .assign = rules,
    .n_assign = 5,
    .domain_assign = drules,
    .n_domain_assign = 2,
};

/* Senders: exact, login, glob, domain, default, first match wins. */
static void
test_sender_plans(void **state)
{
    static const struct {
        const char *sender, *login, *plan;
    } rows[] = {
        {"ceo@example.com", NULL, "vip"},
        {"ceo@example.com", "robot", "vip"},
        {"alice@example.com", "robot", "bots"},
        {"alice@example.com", "ROBOT", "bots"},
        {"sales-eu@example.com", NULL, "sales"},
        {"bob@sales.example.com", NULL, "sales"},
        {"bob@eu.sales.example.com", NULL, "default"},
        {"alice@example.com", NULL, "default"},
        {"alice@example.com", "", "default"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int p = pm_plan_for_sender(&conf, rows[i].sender, rows[i].login);

        assert_string_equal(plans[p].name, rows[i].plan);
    }
}

/* Domains: exact domain, glob, none. */
static void
test_domain_plans(void **state)
{
    (void)state;
    assert_int_equal(pm_plan_for_domain(&conf, "example.com"), 4);
    assert_int_equal(pm_plan_for_domain(&conf, "eu.brand.example"), 5);
    assert_int_equal(pm_plan_for_domain(&conf, "brand.example"), -1);
    assert_int_equal(pm_plan_for_domain(&conf, "example.org"), -1);
    assert_int_equal(pm_plan_for_domain(&conf, ""), -1);
    assert_int_equal(pm_plan_for_domain(&conf, NULL), -1);
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sender_plans),
        cmocka_unit_test(test_domain_plans),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
