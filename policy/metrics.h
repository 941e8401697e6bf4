/*
 * metrics.h - postmeter's process-wide metrics and their Prometheus text.
 *
 * Counters are bumped with atomic increments from any thread (no lock on the
 * mail path but for the first sight of a decision label set); the quota
 * gauges are a snapshot replaced as a whole by the refresher. No HTTP here:
 * pm_metrics_render() returns the text exposition format, served by
 * milter/metrics_http.c.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_METRICS_H
#define PM_METRICS_H

#include <stddef.h>

#include "conf.h"
#include "store.h"

#define PM_METRICS_MAX_DECISIONS 64 /* distinct decision label sets, "other" included */

/* Why a store request failed. */
enum pm_metrics_store_err {
    PM_SERR_CONNECT = 0, /* no connection could be had (down, backing off, pool busy) */
    PM_SERR_TIMEOUT,     /* no reply within redis.command_timeout_ms */
    PM_SERR_IO,          /* the connection broke */
    PM_SERR_REPLY,       /* Redis answered with an error or an unexpected reply */
    PM_SERR_COUNT
};

/* One sender's quota, as of the latest refresh ([0] hour, [1] day). */
struct pm_metrics_sender {
    char sender[320];
    long long used_msgs[2], used_rcpts[2];
    long long limit_msgs[2], limit_rcpts[2]; /* 0: no limit (no series) */
    long long warmup_day;                    /* 1-based day of warm-up; 0: not warming up */
};

/* A decision as logged: stage "rcpt" or "eom", the action, dry run, and the
 * reason list (only its first item, before a comma, becomes the label). */
void pm_metrics_decision(const char *stage, enum pm_action act, int dry_run, const char *reason);

/* A transaction (MAIL FROM) seen, by direction. */
void pm_metrics_message(int outgoing);

/* A recipient (RCPT TO) seen, by direction. */
void pm_metrics_recipient(int outgoing);

/* A milter connection opened (+1) or closed (-1). */
void pm_metrics_connection(int delta);

/* A monotonic timestamp (ns) to pass to pm_metrics_store_done(). */
long long pm_metrics_clock(void);

/* A store round trip that started at pm_metrics_clock() time start ended. */
void pm_metrics_store_done(long long start);

/* A store request failed. */
void pm_metrics_store_error(enum pm_metrics_store_err kind);

/* A Redis Cluster redirected a store request: kind 0 MOVED, 1 ASK, 2
 * TRYAGAIN or CLUSTERDOWN (postmeter_store_redirects_total). */
void pm_metrics_store_redirect(int kind);

/* A configuration reload succeeded (ok) or failed. */
void pm_metrics_reload(int ok);

/* What the content scan of a metered message found. */
void pm_metrics_scan(int first_contact, int attachments);

/* A feedback event recorded from incoming mail. */
void pm_metrics_feedback(enum pm_feedback_kind kind);

/* Replace the quota gauges with n rows read at store time at (unix s). */
void pm_metrics_quota_set(const struct pm_metrics_sender *rows, size_t n, long long at);

/* Set the senders-in-incident gauge (read from the store's index by the refresher). */
void pm_metrics_incidents_set(long long n);

/* The text exposition of every metric (malloc'd, NUL-terminated, *len set);
 * NULL when out of memory. */
char *pm_metrics_render(size_t *len);

/* Count the senders in incident (the incidents gauge), then read the top
 * senders of today from the store's Redis and probe each (counting
 * nothing), then replace the quota gauges; 0 or -1 (err says why). */
int pm_metrics_quota_refresh(const struct pm_conf *conf, struct pm_store *store, char *err,
                             size_t errlen);

/* The kinds of notice (metrics_notice.c). */
enum pm_notice_kind {
    PM_NOTICE_ADMIN = 0, /* the administrators' mail of an incident */
    PM_NOTICE_SENDER,    /* the sender's mail of an incident */
    PM_NOTICE_WEBHOOK,   /* the webhook of an incident */
    PM_NOTICE_DIGEST,    /* the daily digest */
    PM_NOTICE_KIND_COUNT
};

/* A notice of kind was sent (ok) or failed. */
void pm_metrics_notice(enum pm_notice_kind kind, int ok);

struct pm_buf;
/* Append postmeter_notices_total to t (called by pm_metrics_render). */
void pm_metrics_render_notices(struct pm_buf *t);

/* Append the gauges of this server's copy of the suppression lists to t. */
void pm_metrics_render_suplocal(struct pm_buf *t);
/* Incidents (metrics_incident.c): one opened by this process's request
 * (signal as stored), a message held (0) or tempfailed (1), and their text. */
struct pm_buf;
void pm_metrics_incident_opened(const char *signal);
void pm_metrics_incident_message(int tempfailed);
void pm_metrics_render_incidents(struct pm_buf *t);

#endif
