/*
 * test_metrics.c - unit tests of the metrics registry and its text format.
 *
 * The registry is process-wide, so the tests run in order and each one
 * looks only at the series it creates.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

/* The rendered text (freed by the caller). */
static char *
render(void)
{
    size_t len = 0;
    char *t = pm_metrics_render(&len);

    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    return t;
}

/* 1 when text has exactly this line. */
static int
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
        p += n;
    }
    return 0;
}

/* How many lines of text start with prefix. */
static int
count_lines(const char *text, const char *prefix)
{
    const char *p = text;
    int n = 0;

    for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

/* Decisions: the first reason is the label; empty is "none"; dry run apart. */
static void
test_decisions(void **state)
{
    char *t;

    (void)state;
    pm_metrics_decision("eom", PM_ACT_TAG, 0, "rule:a,rule:b");
    pm_metrics_decision("eom", PM_ACT_TAG, 0, "rule:a");
    pm_metrics_decision("eom", PM_ACT_TAG, 1, "rule:a");
    pm_metrics_decision("rcpt", PM_ACT_TEMPFAIL, 0, "");
    t = render();
    assert_true(has_line(t, "# TYPE postmeter_decisions_total counter"));
    assert_true(has_line(t, "postmeter_decisions_total{stage=\"eom\",action=\"tag\",reason=\"rule:"
                            "a\",dry_run=\"no\"} 2"));
    assert_true(has_line(t, "postmeter_decisions_total{stage=\"eom\",action=\"tag\",reason=\"rule:"
                            "a\",dry_run=\"yes\"} 1"));
    assert_true(has_line(t, "postmeter_decisions_total{stage=\"rcpt\",action=\"tempfail\",reason="
                            "\"none\",dry_run=\"no\"} "
                            "1"));
    free(t);
}

/* Label values are escaped: backslash, double quote, newline. */
static void
test_escape(void **state)
{
    struct pm_metrics_sender q;
    char *t;

    (void)state;
    pm_metrics_decision("eom", PM_ACT_HOLD, 0, "a\"b\\c\nd");
    memset(&q, 0, sizeof(q));
    snprintf(q.sender, sizeof(q.sender), "\"x\"@example.com");
    q.used_msgs[0] = 7;
    q.limit_msgs[0] = 10;
    q.warmup_day = 3;
    pm_metrics_quota_set(&q, 1, 1800000000);
    t = render();
    assert_true(has_line(t, "postmeter_decisions_total{stage=\"eom\",action=\"hold\",reason="
                            "\"a\\\"b\\\\c\\nd\",dry_run=\"no\"} 1"));
    assert_true(has_line(t,
                         "postmeter_sender_used{sender=\"\\\"x\\\"@example.com\",window=\"hour\","
                         "counter=\"messages\"} 7"));
    assert_true(has_line(t,
                         "postmeter_sender_limit{sender=\"\\\"x\\\"@example.com\",window=\"hour\","
                         "counter=\"messages\"} 10"));
    /* limit 0 is no limit: no series */
    assert_int_equal(count_lines(t, "postmeter_sender_limit{"), 1);
    assert_int_equal(count_lines(t, "postmeter_sender_used{"), 4);
    assert_true(has_line(t, "postmeter_sender_warmup_stage{sender=\"\\\"x\\\"@example.com\"} 3"));
    assert_true(has_line(t, "postmeter_quota_refresh_timestamp_seconds 1800000000"));
    free(t);
    pm_metrics_quota_set(NULL, 0, 1800000030);
    t = render();
    assert_int_equal(count_lines(t, "postmeter_sender_used{"), 0);
    assert_true(has_line(t, "postmeter_senders_in_incident 0"));
    free(t);
    pm_metrics_incidents_set(3); /* the refresher counted 3 senders in incident */
    t = render();
    assert_true(has_line(t, "postmeter_senders_in_incident 3"));
    assert_true(has_line(t, "# TYPE postmeter_senders_in_incident gauge"));
    free(t);
}

/* At most 64 label sets; reasons beyond the room count as "other". */
static void
test_bound(void **state)
{
    char reason[32], *t;
    int i, before, added;

    (void)state;
    t = render();
    before = count_lines(t, "postmeter_decisions_total{");
    free(t);
    for (i = 0; i < 100; i++) {
        snprintf(reason, sizeof(reason), "r%d", i);
        pm_metrics_decision("eom", PM_ACT_REJECT, 0, reason);
        pm_metrics_decision("eom", PM_ACT_REJECT, 0, reason);
    }
    pm_metrics_decision("rcpt", PM_ACT_ACCEPT, 1, "late");
    t = render();
    /* 44 sets (64 less room for 20 "other" sets: stage x action x dry run) may
     * have their own reason */
    added = 44 - before;
    assert_true(has_line(t,
                         "postmeter_decisions_total{stage=\"eom\",action=\"reject\",reason=\"r0\","
                         "dry_run=\"no\"} 2"));
    snprintf(reason, sizeof(reason), "reason=\"r%d\"", added - 1);
    assert_non_null(strstr(t, reason));
    snprintf(reason, sizeof(reason), "reason=\"r%d\"", added);
    assert_null(strstr(t, reason));
    {
        char line[160];

        snprintf(line, sizeof(line),
                 "postmeter_decisions_total{stage=\"eom\",action=\"reject\",reason=\"other\","
                 "dry_run=\"no\"} %d",
                 2 * (100 - added));
        assert_true(has_line(t, line));
    }
    assert_true(has_line(t, "postmeter_decisions_total{stage=\"rcpt\",action=\"accept\",reason="
                            "\"other\",dry_run=\"yes\"} 1"));
    assert_int_equal(count_lines(t, "postmeter_decisions_total{"), 46);
    assert_true(count_lines(t, "postmeter_decisions_total{") <= PM_METRICS_MAX_DECISIONS);
    free(t);
}

/* The histogram: cumulative buckets, +Inf, sum and count. */
static void
test_histogram(void **state)
{
    char *t;

    (void)state;
    pm_metrics_store_done(pm_metrics_clock() - 2000000);    /* 2 ms */
    pm_metrics_store_done(pm_metrics_clock() - 2000000000); /* 2 s */
    t = render();
    assert_true(has_line(t, "# TYPE postmeter_store_request_duration_seconds histogram"));
    assert_true(has_line(t, "postmeter_store_request_duration_seconds_bucket{le=\"0.001\"} 0"));
    assert_true(has_line(t, "postmeter_store_request_duration_seconds_bucket{le=\"0.0025\"} 1"));
    assert_true(has_line(t, "postmeter_store_request_duration_seconds_bucket{le=\"1\"} 1"));
    assert_true(has_line(t, "postmeter_store_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
    assert_true(has_line(t, "postmeter_store_request_duration_seconds_count 2"));
    assert_non_null(strstr(t, "postmeter_store_request_duration_seconds_sum 2.00"));
    free(t);
}

/* The plain counters and the gauge. */
static void
test_counters(void **state)
{
    char *t;

    (void)state;
    pm_metrics_message(1);
    pm_metrics_message(0);
    pm_metrics_message(0);
    pm_metrics_recipient(1);
    pm_metrics_connection(1);
    pm_metrics_connection(1);
    pm_metrics_connection(-1);
    pm_metrics_store_error(PM_SERR_TIMEOUT);
    pm_metrics_store_redirect(0);
    pm_metrics_store_redirect(2);
    pm_metrics_store_redirect(2);
    pm_metrics_store_redirect(3); /* no such kind: not counted */
    pm_metrics_reload(1);
    pm_metrics_reload(0);
    pm_metrics_reload(0);
    pm_metrics_scan(1, 0);
    pm_metrics_scan(1, 1);
    pm_metrics_feedback(PM_FB_BLOCK);
    pm_metrics_notice(PM_NOTICE_ADMIN, 1);
    pm_metrics_notice(PM_NOTICE_WEBHOOK, 0);
    pm_metrics_notice(PM_NOTICE_WEBHOOK, 0);
    pm_metrics_incident_opened("burst+new_network");
    pm_metrics_incident_opened("retry_storm");
    pm_metrics_incident_opened("admin"); /* not a signal: not counted */
    pm_metrics_incident_message(0);
    pm_metrics_incident_message(0);
    pm_metrics_incident_message(1);
    t = render();
    assert_true(has_line(t, "postmeter_messages_total{direction=\"outgoing\"} 1"));
    assert_true(has_line(t, "postmeter_messages_total{direction=\"incoming\"} 2"));
    assert_true(has_line(t, "postmeter_recipients_total{direction=\"outgoing\"} 1"));
    assert_true(has_line(t, "postmeter_recipients_total{direction=\"incoming\"} 0"));
    assert_true(has_line(t, "postmeter_milter_connections_open 1"));
    assert_true(has_line(t, "postmeter_store_errors_total{kind=\"timeout\"} 1"));
    assert_true(has_line(t, "postmeter_store_errors_total{kind=\"connect\"} 0"));
    assert_true(has_line(t, "postmeter_store_redirects_total{kind=\"moved\"} 1"));
    assert_true(has_line(t, "postmeter_store_redirects_total{kind=\"ask\"} 0"));
    assert_true(has_line(t, "postmeter_store_redirects_total{kind=\"tryagain\"} 2"));
    assert_true(has_line(t, "postmeter_config_reloads_total 1"));
    assert_true(has_line(t, "postmeter_config_reload_failures_total 2"));
    assert_true(has_line(t, "postmeter_first_contact_messages_total 2"));
    assert_true(has_line(t, "postmeter_attachment_messages_total 1"));
    assert_true(has_line(t, "postmeter_feedback_events_total{kind=\"block\"} 1"));
    assert_true(has_line(t, "postmeter_feedback_events_total{kind=\"hard_bounce\"} 0"));
    assert_true(has_line(t, "postmeter_notices_total{kind=\"admin\",result=\"sent\"} 1"));
    assert_true(has_line(t, "postmeter_notices_total{kind=\"admin\",result=\"failed\"} 0"));
    assert_true(has_line(t, "postmeter_notices_total{kind=\"webhook\",result=\"failed\"} 2"));
    assert_true(has_line(t, "postmeter_notices_total{kind=\"digest\",result=\"sent\"} 0"));
    assert_true(has_line(t, "postmeter_incidents_opened_total{signal=\"burst\"} 1"));
    assert_true(has_line(t, "postmeter_incidents_opened_total{signal=\"fanout\"} 0"));
    assert_true(has_line(t, "postmeter_incidents_opened_total{signal=\"retry_storm\"} 1"));
    assert_true(has_line(t, "postmeter_incidents_opened_total{signal=\"bounce_spike\"} 0"));
    assert_true(has_line(t, "postmeter_incident_messages_total{action=\"held\"} 2"));
    assert_true(has_line(t, "postmeter_incident_messages_total{action=\"tempfailed\"} 1"));
    /* every metric has its HELP and TYPE lines */
    assert_int_equal(count_lines(t, "# HELP "), count_lines(t, "# TYPE "));
    assert_int_equal(count_lines(t, "# TYPE "), 23); /* 15 + senders in incident, notices, incidents
                                                      * opened, incident messages, the three
                                                      * gauges of the suppression copy, the
                                                      * cluster's redirections */
    /* no copy loaded in this process: nothing held, not ready */
    assert_true(has_line(t, "postmeter_suppression_local_entries 0"));
    assert_true(has_line(t, "postmeter_suppression_local_ready 0"));
    assert_true(has_line(t, "postmeter_suppression_local_bytes 0"));
    free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions), cmocka_unit_test(test_escape),
        cmocka_unit_test(test_bound),     cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_counters),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
