/*
 * metrics.c - postmeter's process-wide metrics registry.
 *
 * Every counter is a plain integer bumped with __atomic builtins, so the mail
 * path never waits on a lock: decisions look their label set up in a table
 * that only grows (published with a release store) and take a mutex only to
 * add a set never seen before. The table holds at most
 * PM_METRICS_MAX_DECISIONS sets; once it is nearly full, new reasons are
 * counted under reason="other" (room is kept for those). The quota gauges are
 * a snapshot under a mutex, replaced whole by the refresher. Rendering
 * writes the Prometheus text exposition format (version 0.0.4).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "buf.h"

#define N_BUCKETS 11
#define N_STAGES 2
#define N_ACTIONS 5
/* room always left for the (stage, action, dry run) "other" sets */
#define RESERVED (N_STAGES * N_ACTIONS * 2)

/* One decision label set and its count. */
struct decision {
    int stage, action, dry_run;
    char reason[64];
    unsigned long long count;
};

static struct decision decisions[PM_METRICS_MAX_DECISIONS];
static unsigned n_decisions; /* published with release, read with acquire */
static pthread_mutex_t decisions_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned long long messages[2], recipients[2]; /* [0] outgoing, [1] incoming */
static long long connections;
static unsigned long long store_errors[PM_SERR_COUNT];
static unsigned long long store_redirects[3];     /* moved, ask, tryagain */
static unsigned long long buckets[N_BUCKETS + 1]; /* per bucket, not cumulative; +Inf last */
static unsigned long long latency_ns, latency_count;
static unsigned long long reloads, reload_failures;
static unsigned long long first_contact, with_attachments;
static unsigned long long feedback[PM_FB_KIND_COUNT];

static long long senders_in_incident; /* as of the latest refresh */

static pthread_mutex_t quota_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pm_metrics_sender *quota;
static size_t n_quota;
static long long quota_at; /* store time of the latest refresh; 0: none yet */

static const char *const stage_names[N_STAGES] = {"rcpt", "eom"};
static const double bucket_le[N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                            0.05,   0.1,   0.25,   0.5,   1};
static const char *const bucket_text[N_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1"};
static const char *const store_err_names[PM_SERR_COUNT] = {"connect", "timeout", "io", "reply"};

/* Add one to a counter. */
static void
bump(unsigned long long *c)
{
    __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* Read a counter. */
static unsigned long long
get(const unsigned long long *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* The slot of a label set among the first n, or NULL. */
static struct decision *
decision_find(unsigned n, int stage, int action, int dry_run, const char *reason)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (decisions[i].stage == stage && decisions[i].action == action &&
            decisions[i].dry_run == dry_run && strcmp(decisions[i].reason, reason) == 0)
            return &decisions[i];
    return NULL;
}

/* The slot of a label set, added when new (or "other" when the table is full). */
static struct decision *
decision_slot(int stage, int action, int dry_run, const char *reason)
{
    struct decision *d;
    unsigned n = __atomic_load_n(&n_decisions, __ATOMIC_ACQUIRE);

    if ((d = decision_find(n, stage, action, dry_run, reason)) != NULL)
        return d;
    pthread_mutex_lock(&decisions_mu);
    n = n_decisions;
    if (!(d = decision_find(n, stage, action, dry_run, reason))) {
        if (n >= PM_METRICS_MAX_DECISIONS - RESERVED && strcmp(reason, "other") != 0)
            reason = "other";
        if (!(d = decision_find(n, stage, action, dry_run, reason)) &&
            n < PM_METRICS_MAX_DECISIONS) {
            d = &decisions[n];
            d->stage = stage;
            d->action = action;
            d->dry_run = dry_run;
            snprintf(d->reason, sizeof(d->reason), "%s", reason);
            d->count = 0;
            __atomic_store_n(&n_decisions, n + 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&decisions_mu);
    return d;
}

/* A decision as logged. */
void
pm_metrics_decision(const char *stage, enum pm_action act, int dry_run, const char *reason)
{
    char first[64];
    struct decision *d;
    size_t n = reason ? strcspn(reason, ",") : 0;
    int s = stage && strcmp(stage, "rcpt") == 0 ? 0 : 1;

    if (n == 0)
        snprintf(first, sizeof(first), "none");
    else
        snprintf(first, sizeof(first), "%.*s", (int)(n < sizeof(first) ? n : sizeof(first) - 1),
                 reason);
    if ((unsigned)act >= N_ACTIONS)
        act = PM_ACT_ACCEPT;
    if ((d = decision_slot(s, (int)act, dry_run ? 1 : 0, first)) != NULL)
        bump(&d->count);
}

/* A transaction seen, by direction. */
void
pm_metrics_message(int outgoing)
{
    bump(&messages[outgoing ? 0 : 1]);
}

/* A recipient seen, by direction. */
void
pm_metrics_recipient(int outgoing)
{
    bump(&recipients[outgoing ? 0 : 1]);
}

/* A milter connection opened or closed. */
void
pm_metrics_connection(int delta)
{
    __atomic_fetch_add(&connections, delta, __ATOMIC_RELAXED);
}

/* A monotonic timestamp in nanoseconds. */
long long
pm_metrics_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A store round trip ended: observe its duration. */
void
pm_metrics_store_done(long long start)
{
    long long ns = pm_metrics_clock() - start;
    double s;
    int i;

    if (ns < 0)
        ns = 0;
    s = (double)ns / 1e9;
    for (i = 0; i < N_BUCKETS && s > bucket_le[i]; i++)
        ;
    bump(&buckets[i]);
    __atomic_fetch_add(&latency_ns, (unsigned long long)ns, __ATOMIC_RELAXED);
    bump(&latency_count);
}

/* A Redis Cluster redirected a request (0 MOVED, 1 ASK, 2 TRYAGAIN or CLUSTERDOWN). */
void
pm_metrics_store_redirect(int kind)
{
    if (kind >= 0 && kind < 3)
        bump(&store_redirects[kind]);
}

/* A store request failed. */
void
pm_metrics_store_error(enum pm_metrics_store_err kind)
{
    if ((unsigned)kind < PM_SERR_COUNT)
        bump(&store_errors[kind]);
}

/* A configuration reload succeeded or failed. */
void
pm_metrics_reload(int ok)
{
    bump(ok ? &reloads : &reload_failures);
}

/* What the content scan of a metered message found. */
void
pm_metrics_scan(int first, int attachments)
{
    if (first)
        bump(&first_contact);
    if (attachments)
        bump(&with_attachments);
}

/* A feedback event recorded. */
void
pm_metrics_feedback(enum pm_feedback_kind kind)
{
    if ((unsigned)kind < PM_FB_KIND_COUNT)
        bump(&feedback[kind]);
}

/* Set the senders-in-incident gauge. */
void
pm_metrics_incidents_set(long long n)
{
    __atomic_store_n(&senders_in_incident, n, __ATOMIC_RELAXED);
}

/* Replace the quota gauges. */
void
pm_metrics_quota_set(const struct pm_metrics_sender *rows, size_t n, long long at)
{
    struct pm_metrics_sender *copy = NULL, *old;

    if (n && !(copy = malloc(n * sizeof(*copy))))
        return;
    if (n)
        memcpy(copy, rows, n * sizeof(*copy));
    pthread_mutex_lock(&quota_mu);
    old = quota;
    quota = copy;
    n_quota = n;
    quota_at = at;
    pthread_mutex_unlock(&quota_mu);
    free(old);
}

/* Append a label value, escaped (backslash, double quote, newline). */
static void
put_label(struct pm_buf *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            pm_buf_printf(t, "\\\\");
        else if (*v == '"')
            pm_buf_printf(t, "\\\"");
        else if (*v == '\n')
            pm_buf_printf(t, "\\n");
        else
            pm_buf_add(t, v, 1);
    }
}

/* Append the HELP and TYPE lines of a metric. */
static void
put_head(struct pm_buf *t, const char *name, const char *type, const char *help)
{
    pm_buf_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter without labels: its head and its value. */
static void
put_counter(struct pm_buf *t, const char *name, const char *help, unsigned long long v)
{
    put_head(t, name, "counter", help);
    pm_buf_printf(t, "%s %llu\n", name, v);
}

/* A counter by direction: its head, then the outgoing and the incoming value. */
static void
put_directions(struct pm_buf *t, const char *name, const char *help, unsigned long long out,
               unsigned long long in)
{
    put_head(t, name, "counter", help);
    pm_buf_printf(t, "%s{direction=\"outgoing\"} %llu\n", name, out);
    pm_buf_printf(t, "%s{direction=\"incoming\"} %llu\n", name, in);
}

/* The decision counters. */
static void
render_decisions(struct pm_buf *t)
{
    unsigned i, n = __atomic_load_n(&n_decisions, __ATOMIC_ACQUIRE);

    put_head(t, "postmeter_decisions_total", "counter",
             "Decisions logged, by stage, action, first reason and dry run.");
    for (i = 0; i < n; i++) {
        const struct decision *d = &decisions[i];

        pm_buf_printf(t, "postmeter_decisions_total{stage=\"%s\",action=\"%s\",reason=\"",
                      stage_names[d->stage], pm_action_name((enum pm_action)d->action));
        put_label(t, d->reason);
        pm_buf_printf(t, "\",dry_run=\"%s\"} %llu\n", d->dry_run ? "yes" : "no", get(&d->count));
    }
}

/* The traffic, store and process counters. */
static void
render_process(struct pm_buf *t)
{
    unsigned long long cum = 0;
    int i;

    put_directions(t, "postmeter_messages_total", "Transactions (MAIL FROM) seen, by direction.",
                   get(&messages[0]), get(&messages[1]));
    put_directions(t, "postmeter_recipients_total",
                   "Recipients (RCPT TO) seen in followed transactions, by direction.",
                   get(&recipients[0]), get(&recipients[1]));
    put_head(t, "postmeter_milter_connections_open", "gauge", "Milter connections open now.");
    pm_buf_printf(t, "postmeter_milter_connections_open %lld\n",
                  __atomic_load_n(&connections, __ATOMIC_RELAXED));
    put_head(t, "postmeter_store_errors_total", "counter", "Failed store requests, by kind.");
    for (i = 0; i < PM_SERR_COUNT; i++)
        pm_buf_printf(t, "postmeter_store_errors_total{kind=\"%s\"} %llu\n", store_err_names[i],
                      get(&store_errors[i]));
    put_head(t, "postmeter_store_redirects_total", "counter",
             "Requests a Redis Cluster sent elsewhere or asked again, by kind.");
    for (i = 0; i < 3; i++)
        pm_buf_printf(t, "postmeter_store_redirects_total{kind=\"%s\"} %llu\n",
                      i == 0   ? "moved"
                      : i == 1 ? "ask"
                               : "tryagain",
                      get(&store_redirects[i]));
    put_head(t, "postmeter_store_request_duration_seconds", "histogram",
             "Round-trip time of store requests (one Redis script call each).");
    for (i = 0; i <= N_BUCKETS; i++) {
        cum += get(&buckets[i]);
        pm_buf_printf(t, "postmeter_store_request_duration_seconds_bucket{le=\"%s\"} %llu\n",
                      i < N_BUCKETS ? bucket_text[i] : "+Inf", cum);
    }
    pm_buf_printf(t, "postmeter_store_request_duration_seconds_sum %.9f\n",
                  (double)get(&latency_ns) / 1e9);
    pm_buf_printf(t, "postmeter_store_request_duration_seconds_count %llu\n", get(&latency_count));
    put_counter(t, "postmeter_config_reloads_total", "Successful configuration reloads.",
                get(&reloads));
    put_counter(t, "postmeter_config_reload_failures_total",
                "Reloads refused for a bad configuration (the running one was kept).",
                get(&reload_failures));
    put_counter(t, "postmeter_first_contact_messages_total",
                "Metered messages with at least one first-contact recipient.", get(&first_contact));
    put_counter(t, "postmeter_attachment_messages_total",
                "Metered messages in which the content scan found attachments.",
                get(&with_attachments));
    put_head(t, "postmeter_feedback_events_total", "counter",
             "Feedback read from incoming mail, by what it counted as.");
    for (i = 0; i < PM_FB_KIND_COUNT; i++)
        pm_buf_printf(t, "postmeter_feedback_events_total{kind=\"%s\"} %llu\n", pm_feedback_name(i),
                      get(&feedback[i]));
}

/* One quota series per window and counter of a sender (limits: only set ones). */
static void
render_sender(struct pm_buf *t, const struct pm_metrics_sender *q, int limits)
{
    static const char *const win[2] = {"hour", "day"};
    int w, c;

    for (w = 0; w < 2; w++) {
        for (c = 0; c < 2; c++) {
            long long v = limits ? (c ? q->limit_rcpts[w] : q->limit_msgs[w])
                                 : (c ? q->used_rcpts[w] : q->used_msgs[w]);

            if (limits && v <= 0)
                continue;
            pm_buf_printf(t, "postmeter_sender_%s{sender=\"", limits ? "limit" : "used");
            put_label(t, q->sender);
            pm_buf_printf(t, "\",window=\"%s\",counter=\"%s\"} %lld\n", win[w],
                          c ? "recipients" : "messages", v);
        }
    }
}

/* The quota gauges of the latest refresh. */
static void
render_quota(struct pm_buf *t)
{
    size_t i;

    put_head(t, "postmeter_senders_in_incident", "gauge",
             "Senders in incident (their outgoing mail stopped), as of the latest refresh.");
    pm_buf_printf(t, "postmeter_senders_in_incident %lld\n",
                  __atomic_load_n(&senders_in_incident, __ATOMIC_RELAXED));
    pthread_mutex_lock(&quota_mu);
    put_head(t, "postmeter_quota_refresh_timestamp_seconds", "gauge",
             "Store time of the latest read of the sender quota gauges (0: none yet).");
    pm_buf_printf(t, "postmeter_quota_refresh_timestamp_seconds %lld\n", quota_at);
    put_head(t, "postmeter_sender_used", "gauge",
             "Usage of today's busiest senders, per rolling window and counter.");
    for (i = 0; i < n_quota; i++)
        render_sender(t, &quota[i], 0);
    put_head(t, "postmeter_sender_limit", "gauge",
             "Limits of the same senders' plans (no series when unlimited).");
    for (i = 0; i < n_quota; i++)
        render_sender(t, &quota[i], 1);
    put_head(t, "postmeter_sender_warmup_stage", "gauge",
             "Day of warm-up of the same senders (0: not warming up).");
    for (i = 0; i < n_quota; i++) {
        pm_buf_printf(t, "postmeter_sender_warmup_stage{sender=\"");
        put_label(t, quota[i].sender);
        pm_buf_printf(t, "\"} %lld\n", quota[i].warmup_day);
    }
    pthread_mutex_unlock(&quota_mu);
}

/* The text exposition of every metric. */
char *
pm_metrics_render(size_t *len)
{
    struct pm_buf t;

    pm_buf_growing(&t);
    render_decisions(&t);
    render_process(&t);
    pm_metrics_render_incidents(&t);
    render_quota(&t);
    pm_metrics_render_notices(&t);
    pm_metrics_render_suplocal(&t);
    *len = t.len;
    return pm_buf_take(&t);
}
