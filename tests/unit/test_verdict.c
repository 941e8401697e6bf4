/*
 * test_verdict.c - the SMTP replies people read: codes, texts and retry
 * times for every limit, recipients per message and store errors; the
 * recipients a refusal names; the bounce rate as shown; and what a tag
 * header may tell a recipient.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "verdict.h"

/* 2026-11-26 13:20:00 UTC */
#define NOW 1795699200LL

/* Retry times round up to the minute; another date is spelled out. */
static void
test_format_retry(void **state)
{
    static const struct {
        long long t;
        const char *out;
    } rows[] = {
        {NOW, "13:20 UTC"},
        {NOW + 1, "13:21 UTC"},
        {NOW + 60, "13:21 UTC"},
        {NOW + 45 * 60, "14:05 UTC"},
        {NOW + 10 * 3600 + 39 * 60, "23:59 UTC"},
        {NOW + 10 * 3600 + 39 * 60 + 1, "2026-11-27 00:00 UTC"},
        {NOW + 10 * 3600 + 40 * 60, "2026-11-27 00:00 UTC"},
        {NOW + 20 * 3600, "2026-11-27 09:20 UTC"},
    };
    char buf[40];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pm_verdict_format_retry(NOW, rows[i].t, buf, sizeof(buf));
        assert_string_equal(buf, rows[i].out);
    }
}

/* Every counter and scope gives its own text, codes and log reason. */
static void
test_limit_texts(void **state)
{
    static const struct {
        enum pm_action act;
        enum pm_scope scope;
        enum pm_counter c;
        long long limit, retry;
        enum pm_action out_act;
        const char *code, *xcode, *reason, *text;
    } rows[] = {
        {PM_ACT_TEMPFAIL, PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 100, NOW + 45 * 60, PM_ACT_TEMPFAIL,
         "451", "4.7.1", "msgs_hour",
         "<alice@example.com>: hourly sending limit reached (100 messages per hour); try again "
         "after 14:05 UTC"},
        {PM_ACT_TEMPFAIL, PM_SCOPE_SENDER, PM_C_MSGS_DAY, 500, NOW + 20 * 3600, PM_ACT_TEMPFAIL,
         "451", "4.7.1", "msgs_day",
         "<alice@example.com>: daily sending limit reached (500 messages per 24 hours); try "
         "again after 2026-11-27 09:20 UTC"},
        /* a permanent refusal does not ask the sender to try again */
        {PM_ACT_REJECT, PM_SCOPE_SENDER, PM_C_RCPTS_HOUR, 50, NOW + 60, PM_ACT_REJECT, "550",
         "5.7.1", "rcpts_hour",
         "<alice@example.com>: hourly recipient limit reached (50 external recipients per "
         "hour); not sent: ask your administrator"},
        {PM_ACT_TEMPFAIL, PM_SCOPE_DOMAIN, PM_C_RCPTS_DAY, 1000, NOW + 600, PM_ACT_TEMPFAIL, "451",
         "4.7.1", "domain_rcpts_day",
         "<alice@example.com>: company-wide daily recipient limit for example.com reached (1000 "
         "external recipients per 24 hours); try again after 13:30 UTC"},
        {PM_ACT_TEMPFAIL, PM_SCOPE_SENDER, PM_C_RCPTS_DAY, 10, -1, PM_ACT_REJECT, "550", "5.7.1",
         "rcpts_day",
         "<alice@example.com>: this message exceeds the daily recipient limit (10 external "
         "recipients per 24 hours); send it to fewer recipients"},
        {PM_ACT_TEMPFAIL, PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 1, NOW + 60, PM_ACT_TEMPFAIL, "451",
         "4.7.1", "msgs_hour",
         "<alice@example.com>: hourly sending limit reached (1 message per hour); try again "
         "after 13:21 UTC"},
        {PM_ACT_TAG, PM_SCOPE_SENDER, PM_C_MSGS_HOUR, 100, NOW + 60, PM_ACT_TAG, "451", "4.7.1",
         "msgs_hour",
         "<alice@example.com>: hourly sending limit reached (100 messages per hour); try again "
         "after 13:21 UTC"},
    };
    struct pm_verdict v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pm_verdict_limit(&v, rows[i].act, "alice@example.com", "example.com", rows[i].scope,
                         rows[i].c, rows[i].limit, NOW, rows[i].retry);
        assert_int_equal(v.action, rows[i].out_act);
        assert_string_equal(v.rcode, rows[i].code);
        assert_string_equal(v.xcode, rows[i].xcode);
        assert_string_equal(v.reason, rows[i].reason);
        assert_string_equal(v.text, rows[i].text);
        assert_int_equal(v.dry_run, 0);
    }
}

/* One recipient too many for a recipient limit at RCPT: that recipient alone is
 * refused with a 452 the client retries in another message (550 for reject). */
static void
test_rcpt_limit(void **state)
{
    struct pm_verdict v;

    (void)state;
    pm_verdict_rcpt_limit(&v, PM_ACT_TEMPFAIL, "alice@example.com", "example.com", PM_SCOPE_SENDER,
                          PM_C_RCPTS_HOUR, 3);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.rcode, "452");
    assert_string_equal(v.xcode, "4.7.1");
    assert_string_equal(v.reason, "rcpts_hour");
    assert_string_equal(v.text, "<alice@example.com>: too many recipients for the hourly "
                                "recipient limit (3 external recipients per hour); send to the "
                                "others in another message later");
    pm_verdict_rcpt_limit(&v, PM_ACT_TEMPFAIL, "alice@example.com", "example.com", PM_SCOPE_DOMAIN,
                          PM_C_NEW_DAY, 1);
    assert_string_equal(v.reason, "domain_new_rcpts_day");
    assert_string_equal(v.text, "<alice@example.com>: too many recipients for the company-wide "
                                "daily limit of new recipients for example.com (1 first-contact "
                                "recipient per 24 hours); send to the others in another message "
                                "later");
    pm_verdict_rcpt_limit(&v, PM_ACT_TEMPFAIL, "alice@example.com", "example.com", PM_SCOPE_SENDER,
                          PM_C_RCPTS_DAY, 100);
    assert_string_equal(v.xcode, "4.5.3");
    pm_verdict_rcpt_limit(&v, PM_ACT_REJECT, "alice@example.com", "example.com", PM_SCOPE_SENDER,
                          PM_C_RCPTS_DAY, 10);
    assert_int_equal(v.action, PM_ACT_REJECT);
    assert_string_equal(v.rcode, "550");
    assert_string_equal(v.xcode, "5.7.1");
}

/* 4.5.3 only from 100 recipients up; 4.7.1 below. */
static void
test_rcpts_per_msg(void **state)
{
    struct pm_verdict v;

    (void)state;
    pm_verdict_rcpts_per_msg(&v, "alice@example.com", 20);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.rcode, "452");
    assert_string_equal(v.xcode, "4.7.1");
    assert_string_equal(v.text, "<alice@example.com>: too many recipients in one message (20 per "
                                "message); send the rest in another message");
    pm_verdict_rcpts_per_msg(&v, "alice@example.com", 100);
    assert_string_equal(v.xcode, "4.5.3");
    pm_verdict_rcpts_per_msg(&v, "alice@example.com", 99);
    assert_string_equal(v.xcode, "4.7.1");
}

/* Store errors: accept silently, or a 451 4.3.0 the client retries. */
static void
test_store_error(void **state)
{
    struct pm_verdict v;

    (void)state;
    pm_verdict_store_error(&v, PM_ONERR_ACCEPT, "alice@example.com");
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_string_equal(v.reason, "store_error");
    pm_verdict_store_error(&v, PM_ONERR_TEMPFAIL, "alice@example.com");
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.rcode, "451");
    assert_string_equal(v.xcode, "4.3.0");
    assert_string_equal(v.text, "<alice@example.com>: sending quota cannot be checked right now; "
                                "try again in a few minutes");
    pm_verdict_accept(&v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_string_equal(v.reason, "ok");
}

/* Warm-up caps: the day of warm-up, today's or the hour's cap, the retry time. */
static void
test_warmup_texts(void **state)
{
    struct pm_verdict v;

    (void)state;
    pm_verdict_warmup(&v, PM_ACT_TEMPFAIL, "bob@example.com", "example.com", PM_SCOPE_SENDER, 0, 2,
                      60, NOW, NOW + 10 * 3600 + 40 * 60 + 600);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.rcode, "451");
    assert_string_equal(v.xcode, "4.7.1");
    assert_string_equal(v.reason, "warmup_day");
    assert_string_equal(v.text, "<bob@example.com>: warm-up limit reached (day 3 of warm-up: 60 "
                                "messages today); try again after 2026-11-27 00:10 UTC");
    pm_verdict_warmup(&v, PM_ACT_TEMPFAIL, "bob@example.com", "example.com", PM_SCOPE_DOMAIN, 1, 0,
                      5, NOW, NOW + 60);
    assert_string_equal(v.reason, "domain_warmup_hour");
    assert_string_equal(v.text, "<bob@example.com>: company-wide warm-up limit for example.com "
                                "reached (day 1 of warm-up: 5 messages per hour); try again after "
                                "13:21 UTC");
    pm_verdict_warmup(&v, PM_ACT_TEMPFAIL, "bob@example.com", NULL, PM_SCOPE_SENDER, 0, 0, 20, NOW,
                      -1);
    assert_int_equal(v.action, PM_ACT_REJECT);
    assert_string_equal(v.rcode, "550");
    /* a plan that rejects: permanent, so no time to try again */
    pm_verdict_warmup(&v, PM_ACT_REJECT, "bob@example.com", NULL, PM_SCOPE_SENDER, 0, 0, 20, NOW,
                      NOW + 3600);
    assert_string_equal(v.rcode, "550");
    assert_string_equal(v.text, "<bob@example.com>: warm-up limit reached (day 1 of warm-up: 20 "
                                "messages today); not sent: ask your administrator");
}

/* A suppressed recipient is quoted as the client gave it in RCPT TO. */
static void
test_suppressed(void **state)
{
    struct pm_suppressed e = {1, NOW - 6 * 86400, NOW + 174 * 86400, "5.1.1", "kim@example.com"};
    struct pm_verdict v;

    (void)state;
    pm_verdict_suppressed(&v, "<bad+tag@example.net>", &e);
    assert_int_equal(v.action, PM_ACT_REJECT);
    assert_string_equal(v.rcode, "550");
    assert_string_equal(v.xcode, "5.1.1");
    assert_string_equal(v.text, "<bad+tag@example.net>: this address bounced as invalid on "
                                "2026-11-20 (5.1.1); postmeter will not send to it before "
                                "2027-05-19");
    pm_verdict_suppressed(&v, "Bad@Example.NET", &e);
    assert_string_equal(v.text, "<Bad@Example.NET>: this address bounced as invalid on "
                                "2026-11-20 (5.1.1); postmeter will not send to it before "
                                "2027-05-19");
}

/* One rounding rule for a bounce rate: one decimal, rounded down. */
static void
test_rate(void **state)
{
    static const struct {
        long long ppm;
        const char *out;
    } rows[] = {
        {0, "0.0"},     {999, "0.0"},   {1000, "0.1"},    {64500, "6.4"},     {64599, "6.4"},
        {49999, "4.9"}, {50000, "5.0"}, {110000, "11.0"}, {1000000, "100.0"}, {-5, "0.0"},
    };
    struct pm_verdict v;
    char buf[32];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pm_verdict_format_rate(rows[i].ppm, buf, sizeof(buf));
        assert_string_equal(buf, rows[i].out);
    }
    /* the reply shows what postmeterctl status shows */
    pm_verdict_reputation(&v, PM_ACT_TEMPFAIL, "carol@example.com", 1, 64500, 200);
    assert_string_equal(v.text, "<carol@example.com>: first-contact mail paused: 6.4% of your "
                                "recent mail bounced as invalid addresses; write only to known "
                                "contacts and ask your administrator");
}

/* A refusal by a first-contact rule names the new recipient (as given). */
static void
test_rules_to(void **state)
{
    struct pm_cond cold[2] = {{PM_F_FIRST_CONTACT, PM_OP_EQ, 1}, {PM_F_ATTACHMENTS, PM_OP_GT, 0}};
    struct pm_cond links = {PM_F_LINKS, PM_OP_GT, 5};
    struct pm_rule rules[2] = {
        {"cold-attachment", cold, 2, NULL, 0, PM_ACT_TEMPFAIL, "no attachments to a new contact", 0,
         1},
        {"many-links", &links, 1, NULL, 0, PM_ACT_REJECT, "too many links", 0, 2},
    };
    int matched[2] = {1, 0};
    struct pm_verdict v;

    (void)state;
    pm_verdict_rules_to(&v, rules, matched, 2, 0, "alice@example.com", "<Bob+x@example.org>", 1);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.text, "<alice@example.com> to <Bob+x@example.org>: no attachments to a "
                                "new contact");
    pm_verdict_rules_to(&v, rules, matched, 2, 0, "alice@example.com", "bob@example.org", 2);
    assert_string_equal(v.text, "<alice@example.com> to <bob@example.org> and 1 other new "
                                "contact: no attachments to a new contact");
    pm_verdict_rules_to(&v, rules, matched, 2, 0, "alice@example.com", "bob@example.org", 4);
    assert_string_equal(v.text, "<alice@example.com> to <bob@example.org> and 3 other new "
                                "contacts: no attachments to a new contact");
    /* without a cold recipient known, or for a rule that is not about first contact */
    pm_verdict_rules(&v, rules, matched, 2, 0, "alice@example.com");
    assert_string_equal(v.text, "<alice@example.com>: no attachments to a new contact");
    matched[0] = 0;
    matched[1] = 1;
    pm_verdict_rules_to(&v, rules, matched, 2, 0, "alice@example.com", "bob@example.org", 1);
    assert_string_equal(v.text, "<alice@example.com>: too many links");
}

/* The tag header names content rules only: never a quota nor the bounce rate. */
static void
test_header(void **state)
{
    static const struct {
        const char *reason, *out;
    } rows[] = {
        {"rule:cold-rich-content", "rule=cold-rich-content"},
        {"msgs_hour,rule:cold-rich-content,rule:many-links",
         "rule=cold-rich-content, rule=many-links"},
        {"rule:a?,rule:b", "rule=b"},
        {"msgs_hour", ""},
        {"domain_warmup_day", ""},
        {"bounce_rate_warning", ""},
        {"msgs_hour,bounce_rate_warning", ""},
        {"ok", ""},
        {"rule:", ""},
    };
    struct pm_verdict v;
    char buf[200];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pm_verdict_accept(&v);
        v.action = PM_ACT_TAG;
        snprintf(v.reason, sizeof(v.reason), "%s", rows[i].reason);
        pm_verdict_header(&v, buf, sizeof(buf));
        assert_string_equal(buf, rows[i].out);
    }
    /* a quota tag and a reputation warning: their texts stay out of the header */
    pm_verdict_limit(&v, PM_ACT_TAG, "kim@example.com", "example.com", PM_SCOPE_SENDER,
                     PM_C_MSGS_HOUR, 2, NOW, NOW + 60);
    pm_verdict_header(&v, buf, sizeof(buf));
    assert_string_equal(buf, "");
    pm_verdict_reputation(&v, PM_ACT_TAG, "kim@example.com", 0, 35000, 28);
    pm_verdict_header(&v, buf, sizeof(buf));
    assert_string_equal(buf, "");
    /* a reason filled to its end: its last code may be cut, so it is left out */
    pm_verdict_accept(&v);
    memset(v.reason, 'x', sizeof(v.reason) - 1);
    memcpy(v.reason, "rule:first,rule:", 16);
    v.reason[sizeof(v.reason) - 1] = '\0';
    pm_verdict_header(&v, buf, sizeof(buf));
    assert_string_equal(buf, "rule=first");
}

/* Run the tests. */
/* A limit the bounce rate halved says so, inside its parenthesis. */
static void
test_halved(void **state)
{
    struct pm_verdict v;

    (void)state;
    pm_verdict_limit(&v, PM_ACT_TEMPFAIL, "half@example.com", "example.com", PM_SCOPE_SENDER,
                     PM_C_MSGS_HOUR, 5, NOW, NOW + 600);
    pm_verdict_halved(&v, 34146);
    assert_string_equal(v.text, "<half@example.com>: hourly sending limit reached (5 messages per "
                                "hour, halved: 3.4% of your recent mail bounced); try again after "
                                "13:30 UTC");
}

/* A local message's recipient refusal, given for the whole message: a 452
 * becomes a permanent 550, other refusals stay. */
static void
test_whole_message(void **state)
{
    struct pm_verdict v;

    (void)state;
    pm_verdict_rcpts_per_msg(&v, "lou@example.com", 50);
    pm_verdict_whole_message(&v);
    assert_int_equal(v.action, PM_ACT_REJECT);
    assert_string_equal(v.rcode, "550");
    assert_string_equal(v.xcode, "5.7.1");
    pm_verdict_limit(&v, PM_ACT_TEMPFAIL, "lou@example.com", "example.com", PM_SCOPE_SENDER,
                     PM_C_MSGS_HOUR, 5, NOW, NOW + 600);
    pm_verdict_whole_message(&v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.rcode, "451");
    assert_int_equal(v.kind, PM_R_LIMIT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_retry), cmocka_unit_test(test_limit_texts),
        cmocka_unit_test(test_rcpt_limit),   cmocka_unit_test(test_rcpts_per_msg),
        cmocka_unit_test(test_store_error),  cmocka_unit_test(test_warmup_texts),
        cmocka_unit_test(test_suppressed),   cmocka_unit_test(test_rate),
        cmocka_unit_test(test_rules_to),     cmocka_unit_test(test_header),
        cmocka_unit_test(test_halved),       cmocka_unit_test(test_whole_message),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
