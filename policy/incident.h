/*
 * incident.h - a mailbox gone bad: the incident state every server shares.
 *
 * An incident is one hash per sender in the store, "<prefix>:v2:{C}:s:S:inc",
 * written by the meter script when a signal trips (or by postmeterctl
 * incident open), deleted by postmeterctl incident release (or expired at
 * "until" when incidents.max_hours is set). Its fields:
 *   at       store time it opened (unix s)
 *   signal   what opened it: "burst", "fanout", "retry_storm", "bounce_spike",
 *            with "+new_network" appended when a login from a new network
 *            lowered the threshold; "admin" for postmeterctl incident open
 *   figures  the figures that tripped it, one line of text
 *            ("41 messages in 10 minutes; usual 2.0 per 10 minutes; floor 30, x10")
 *   by       "postmeter" (a signal) or "admin:USER"
 *   note     the administrator's note ("" none)
 *   until    store time it ends by itself; 0: until released
 *   ids      the first queue ids of mail it held or refused, space-separated
 *            (at most PM_INCIDENT_IDS)
 *   held     messages held or refused since it opened
 * The index "<prefix>:v2:{C}:incidents" of S's company (sorted set: sender -> at) lists the
 * senders in incident; an entry whose hash is gone is stale and dropped.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_INCIDENT_H
#define PM_INCIDENT_H

#include <stddef.h>

#define PM_INCIDENT_IDS 10 /* queue ids an incident keeps */

/* The signals, in the order the meter script tests them. */
enum pm_incident_signal {
    PM_INC_NONE = 0,
    PM_INC_BURST,        /* messages in 10 minutes over a floor and a multiple of the usual */
    PM_INC_FANOUT,       /* new recipient domains in an hour */
    PM_INC_RETRY_STORM,  /* refusals in 10 minutes */
    PM_INC_BOUNCE_SPIKE, /* hard bounces in 24 hours */
    PM_INC_ADMIN,        /* opened by hand */
    PM_INC_SIGNAL_COUNT
};

/* One incident, as the store holds it. */
struct pm_incident {
    int open;                       /* 1: the sender is in incident */
    char sender[320];               /* the mailbox */
    char signal[48];                /* as stored ("burst+new_network") */
    char figures[256];              /* one line */
    char by[160];                   /* "postmeter" or "admin:USER" */
    char note[256];                 /* "" none */
    long long at;                   /* store time opened */
    long long until;                /* store time it ends by itself; 0 never */
    long long held;                 /* messages held or refused since */
    char ids[PM_INCIDENT_IDS * 20]; /* queue ids, space-separated */
};

/* The next of the space-separated queue ids in *s (an incident's ids): its
 * start, its length in *n (no NUL after it), and *s moved past it; NULL when
 * none is left (incident_ids.c). */
const char *pm_incident_id_next(const char **s, size_t *n);

#endif
