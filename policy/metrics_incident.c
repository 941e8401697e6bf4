/*
 * metrics_incident.c - the incident counters of postmeter's metrics: the
 * incidents this process's requests opened, by signal, and the messages held
 * or tempfailed because their sender was in incident.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "buf.h"
#include "metrics.h"

static const char *const signals[] = {"burst", "fanout", "retry_storm", "bounce_spike"};
#define N_SIGNALS (sizeof(signals) / sizeof(signals[0]))

static unsigned long long opened[N_SIGNALS];
static unsigned long long messages[2]; /* held, tempfailed */

/* An incident this process's request opened (signal as stored, "burst+new_network"). */
void
pm_metrics_incident_opened(const char *signal)
{
    size_t i, n = strcspn(signal, "+");

    for (i = 0; i < N_SIGNALS; i++)
        if (strlen(signals[i]) == n && strncmp(signals[i], signal, n) == 0)
            __atomic_fetch_add(&opened[i], 1, __ATOMIC_RELAXED);
}

/* A message of a sender in incident held (0) or tempfailed (1). */
void
pm_metrics_incident_message(int tempfailed)
{
    __atomic_fetch_add(&messages[tempfailed ? 1 : 0], 1, __ATOMIC_RELAXED);
}

/* Append the incident counters. */
void
pm_metrics_render_incidents(struct pm_buf *t)
{
    size_t i;

    pm_buf_printf(t, "# HELP postmeter_incidents_opened_total Incidents this process's requests "
                     "opened, by signal.\n# TYPE postmeter_incidents_opened_total counter\n");
    for (i = 0; i < N_SIGNALS; i++)
        pm_buf_printf(t, "postmeter_incidents_opened_total{signal=\"%s\"} %llu\n", signals[i],
                      __atomic_load_n(&opened[i], __ATOMIC_RELAXED));
    pm_buf_printf(t, "# HELP postmeter_incident_messages_total Messages of senders in incident, "
                     "held or tempfailed.\n# TYPE postmeter_incident_messages_total counter\n");
    pm_buf_printf(t, "postmeter_incident_messages_total{action=\"held\"} %llu\n",
                  __atomic_load_n(&messages[0], __ATOMIC_RELAXED));
    pm_buf_printf(t, "postmeter_incident_messages_total{action=\"tempfailed\"} %llu\n",
                  __atomic_load_n(&messages[1], __ATOMIC_RELAXED));
}
