/*
 * test_keys.c - unit tests of policy/store_redis_keys.c: the names of every
 * kind of key in layouts 1 and 2, the hash tag rule, the split of a
 * suppression entry's key and the layout 2 name of each layout 1 key.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slot.h"
#include "store_redis_keys.h"

/* Compare a built name with the expected one and free it. */
static void
is(char *got, const char *want)
{
    if (!got || strcmp(got, want) != 0)
        fail_msg("got %s, want %s", got ? got : "(null)", want);
    free(got);
}

/* Every kind of key in both layouts. */
static void
test_names(void **state)
{
    (void)state;
    is(pm_key_sender("pm", 1, "a@example.com", "w"), "pm:v1:{s:a@example.com}:w");
    is(pm_key_sender("pm", 2, "a@example.com", "w"), "pm:v2:{example.com}:s:a@example.com:w");
    is(pm_key_sender("pm", 2, "a@b@example.com", "tx:7"),
       "pm:v2:{example.com}:s:a@b@example.com:tx:7");
    is(pm_key_sender("pm", 2, "login", "ct"), "pm:v2:{login}:s:login:ct");
    is(pm_key_domain("pm", 1, "example.com", "ct"), "pm:v1:{d:example.com}:ct");
    is(pm_key_domain("pm", 2, "example.com", "wu"), "pm:v2:{example.com}:d:wu");
    is(pm_key_sup("pm", 1, "example.com", "r@x.org"), "pm:v1:{d:example.com}:sup:r@x.org");
    is(pm_key_sup("pm", 2, "example.com", "r@x.org"), "pm:v2:{example.com}:sup:r@x.org");
    is(pm_key_sup("pm", 2, "example.com", NULL), "pm:v2:{example.com}:sup:");
    is(pm_key_company("pm", 1, "example.com", "top:20000"), "pm:v1:top:20000");
    is(pm_key_company("pm", 2, "example.com", "top:20000"), "pm:v2:{example.com}:top:20000");
    is(pm_key_company("pm", 2, "example.com", "incidents"), "pm:v2:{example.com}:incidents");
    is(pm_key_company("pm", 2, "example.com", "hits:"), "pm:v2:{example.com}:hits:");
    is(pm_key_global("pm", 1, "clock"), "pm:v1:clock");
    is(pm_key_global("pm", 2, "clock"), "pm:v2:{@}:clock");
    is(pm_key_global("pm", 1, "srv"), "pm:v1:{srv}");
    is(pm_key_global("pm", 1, "srv:h:/s"), "pm:v1:{srv}:h:/s");
    is(pm_key_global("pm", 2, "srv:h:/s"), "pm:v2:{@}:srv:h:/s");
    is(pm_key_global("pm", 2, "supx"), "pm:v2:{@}:supx");
    is(pm_key_global("pm", 2, "co"), "pm:v2:{@}:co");
    is(pm_key_global("pm", 1, "digest:20000"), "pm:v1:digest:20000");
    is(pm_key_global("pm", 2, "learning"), "pm:v2:{@}:learning");
    is(pm_key_layout("pm"), "pm:layout");
    is(pm_key_base("x", 2), "x:v2:");
}

/* A sender's keys and its company's share one hash slot in layout 2. */
static void
test_one_slot(void **state)
{
    static const char *const kinds[] = {"w",   "wu",  "ct",  "plan", "cr",      "crlog",
                                        "rep", "lc",  "mid", "tx:",  "planerr", "inc",
                                        "ir",  "dom", "net", "rr",   "fc"};
    char *k, *c;
    unsigned slot;
    size_t i;

    (void)state;
    k = pm_key_sender("pm", 2, "a@example.com", "w");
    assert_int_equal(pm_cluster_slot(k, strlen(k)), 8592); /* CLUSTER KEYSLOT's answer */
    slot = pm_cluster_slot(k, strlen(k));
    free(k);
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        k = pm_key_sender("pm", 2, "a@example.com", kinds[i]);
        assert_int_equal(pm_cluster_slot(k, strlen(k)), slot);
        free(k);
    }
    c = pm_key_company("pm", 2, "example.com", "top:1");
    assert_int_equal(pm_cluster_slot(c, strlen(c)), slot);
    free(c);
    c = pm_key_sup("pm", 2, "example.com", "r@x.org");
    assert_int_equal(pm_cluster_slot(c, strlen(c)), slot);
    free(c);
    c = pm_key_domain("pm", 2, "example.com", "ct");
    assert_int_equal(pm_cluster_slot(c, strlen(c)), slot);
    free(c);
}

/* The tag rule: the domain part, or the whole sender without '@'. */
static void
test_tag(void **state)
{
    size_t len;
    const char *t;

    (void)state;
    t = pm_keys_tag("a@example.com", &len);
    assert_int_equal(len, 11);
    assert_memory_equal(t, "example.com", 11);
    t = pm_keys_tag("login", &len);
    assert_int_equal(len, 5);
    assert_memory_equal(t, "login", 5);
}

/* A suppression entry's key split in either layout; others refused. */
static void
test_sup_split(void **state)
{
    char company[64];
    const char *rcpt;

    (void)state;
    assert_int_equal(
        pm_key_sup_split("pm", "pm:v1:{d:ex.com}:sup:r@x.org", company, sizeof(company), &rcpt), 0);
    assert_string_equal(company, "ex.com");
    assert_string_equal(rcpt, "r@x.org");
    assert_int_equal(
        pm_key_sup_split("pm", "pm:v2:{ex.com}:sup:r@x.org", company, sizeof(company), &rcpt), 0);
    assert_string_equal(company, "ex.com");
    assert_string_equal(rcpt, "r@x.org");
    assert_int_equal(pm_key_sup_split("pm", "pm:v2:{ex.com}:sup:", company, sizeof(company), &rcpt),
                     -1);
    assert_int_equal(
        pm_key_sup_split("pm", "pm:v2:{ex.com}:s:a@ex.com:w", company, sizeof(company), &rcpt), -1);
    assert_int_equal(
        pm_key_sup_split("qq", "pm:v2:{ex.com}:sup:r", company, sizeof(company), &rcpt), -1);
    assert_int_equal(pm_key_sup_split("pm", "pm:v2:{ex.com}:sup:r", company, 3, &rcpt), -1);
}

/* The layout 2 name of every kind of layout 1 key, or none. */
static void
test_v1_to_v2(void **state)
{
    static const struct {
        const char *v1, *v2;
    } rows[] = {
        {"pm:v1:{s:a@example.com}:w", "pm:v2:{example.com}:s:a@example.com:w"},
        {"pm:v1:{s:a@example.com}:tx:abc", "pm:v2:{example.com}:s:a@example.com:tx:abc"},
        {"pm:v1:{s:login}:ct", "pm:v2:{login}:s:login:ct"},
        {"pm:v1:{d:example.com}:ct", "pm:v2:{example.com}:d:ct"},
        {"pm:v1:{d:example.com}:w", "pm:v2:{example.com}:d:w"},
        {"pm:v1:{d:example.com}:sup:r@x.org", "pm:v2:{example.com}:sup:r@x.org"},
        {"pm:v1:clock", "pm:v2:{@}:clock"},
        {"pm:v1:learning", "pm:v2:{@}:learning"},
        {"pm:v1:digest:20000", "pm:v2:{@}:digest:20000"},
        {"pm:v1:top:20000", NULL},
        {"pm:v1:incidents", NULL},
        {"pm:v1:hits:20000", NULL},
        {"pm:v1:supx", NULL},
        {"pm:v1:{srv}", NULL},
        {"pm:v1:{srv}:h:/s", NULL},
        {"pm:v1:sup:r@x.org", NULL},
        {"pm:v1:{d:example.com}:sup:", NULL},
        {"pm:v2:{example.com}:d:w", NULL},
        {"other:v1:clock", NULL},
    };
    size_t i;
    char *got;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        got = pm_key_v1_to_v2("pm", rows[i].v1);
        if (rows[i].v2)
            is(got, rows[i].v2);
        else if (got)
            fail_msg("%s: got %s, want none", rows[i].v1, got);
    }
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),    cmocka_unit_test(test_one_slot),
        cmocka_unit_test(test_tag),      cmocka_unit_test(test_sup_split),
        cmocka_unit_test(test_v1_to_v2),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
