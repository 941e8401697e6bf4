/*
 * metrics_notice.c - the counters of the notices (milter/notice.c):
 * postmeter_notices_total{kind="admin|sender|webhook|digest",result="sent|failed"}.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "buf.h"
#include "metrics.h"

static unsigned long long notices[PM_NOTICE_KIND_COUNT][2]; /* [kind][0 sent, 1 failed] */

static const char *const kind_names[PM_NOTICE_KIND_COUNT] = {"admin", "sender", "webhook",
                                                             "digest"};

/* A notice of kind was sent (ok) or failed. */
void
pm_metrics_notice(enum pm_notice_kind kind, int ok)
{
    if ((unsigned)kind < PM_NOTICE_KIND_COUNT)
        __atomic_fetch_add(&notices[kind][ok ? 0 : 1], 1, __ATOMIC_RELAXED);
}

/* Append the notice counters to t. */
void
pm_metrics_render_notices(struct pm_buf *t)
{
    int k, r;

    pm_buf_printf(t, "# HELP postmeter_notices_total Notices of incidents and digests, by kind "
                     "and result.\n# TYPE postmeter_notices_total counter\n");
    for (k = 0; k < PM_NOTICE_KIND_COUNT; k++)
        for (r = 0; r < 2; r++)
            pm_buf_printf(t, "postmeter_notices_total{kind=\"%s\",result=\"%s\"} %llu\n",
                          kind_names[k], r ? "failed" : "sent",
                          __atomic_load_n(&notices[k][r], __ATOMIC_RELAXED));
}
