/*
 * metrics_suplocal.c - the gauges of this server's copy of the suppression
 * lists (suplocal.c): postmeter_suppression_local_entries,
 * postmeter_suppression_local_ready, postmeter_suppression_local_bytes.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "buf.h"
#include "metrics.h"
#include "suplocal.h"

/* Append the copy's gauges to t. */
void
pm_metrics_render_suplocal(struct pm_buf *t)
{
    struct pm_suplocal_stats s;

    pm_suplocal_stats(&s);
    pm_buf_printf(t,
                  "# HELP postmeter_suppression_local_entries Entries of this server's copy of "
                  "the suppression lists.\n# TYPE postmeter_suppression_local_entries gauge\n"
                  "postmeter_suppression_local_entries %lld\n",
                  s.entries);
    pm_buf_printf(t,
                  "# HELP postmeter_suppression_local_ready 1 when the copy is loaded and "
                  "followed (it answers for Redis), else 0 (every recipient is checked in "
                  "Redis).\n# TYPE postmeter_suppression_local_ready gauge\n"
                  "postmeter_suppression_local_ready %d\n",
                  s.ready && !s.full && !s.overflow && s.max > 0);
    pm_buf_printf(t,
                  "# HELP postmeter_suppression_local_bytes Memory of the copy's table.\n"
                  "# TYPE postmeter_suppression_local_bytes gauge\n"
                  "postmeter_suppression_local_bytes %zu\n",
                  s.bytes);
}
