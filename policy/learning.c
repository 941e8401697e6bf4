/*
 * learning.c - learn first, enforce later.
 *
 * With learning.days set, an installation learns for that many days from
 * the first start of a postmeter on its store: every message is counted and
 * its contacts remembered as usual, and what would be refused, held or
 * tagged is only logged ("learning=yes"), as dry_run does; a sender active
 * on learning.established_days days is established (its warm-up ends,
 * meter_warmup.lua). The start is kept in the store (learning.lua), recorded
 * once by whichever postmeter starts first, so it holds across restarts and
 * for every server sharing the store; the period ends by itself.
 *
 * The daemon asks the store at start, at every reload and then hourly (which
 * also keeps the start's key alive), and reckons store time between asks
 * from the latest store time any reply carried (pm_learning_clock) plus the
 * monotonic time since, so the test clock moves it too.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "learning.h"
#include "log.h"
#include "zone.h"

#define DAY 86400LL
#define ASK_SECONDS 3600 /* the daemon asks the store again after this long */
#define RETRY_SECONDS 10 /* ... or this long after a failed ask */

/* The daemon's view, shared by its threads. */
static struct {
    pthread_mutex_t mu;
    int known;           /* start holds the store's answer */
    long long start;     /* store time of the first start */
    long long seen;      /* the latest store time a reply carried */
    long long seen_mono; /* the monotonic second it came */
    long long next_ask;  /* the monotonic second to ask again */
    int asking;          /* a thread is asking */
    int failing;         /* the last ask failed (logged once) */
    int said;            /* the state last logged, or -1 */
} lv = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, -1};

/* Read the learning period from the store. */
int
pm_learning_read(const struct pm_conf *conf, struct pm_store *st, int record,
                 struct pm_learning *out, char *err, size_t errlen)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (conf->learning_days <= 0) {
        out->state = PM_LEARN_OFF;
        return PM_STORE_OK;
    }
    if ((rc = pm_store_learning(st, record, PM_LEARNING_KEEP_DAYS * DAY, &out->start, &out->now,
                                err, errlen)) < 0)
        return rc;
    out->until = out->start ? out->start + conf->learning_days * DAY : 0;
    out->state = !out->start             ? PM_LEARN_NOT_STARTED
                 : out->now < out->until ? PM_LEARN_ON
                                         : PM_LEARN_OVER;
    return PM_STORE_OK;
}

/* One sentence for people about l. */
void
pm_learning_describe(const struct pm_conf *conf, const struct pm_learning *l, char *buf, size_t len)
{
    char since[64], until[64];

    pm_zone_format(l->start, "%Y-%m-%d %H:%M", 1, since, sizeof(since));
    pm_zone_format(l->until, "%Y-%m-%d %H:%M", 1, until, sizeof(until));
    switch (l->state) {
    case PM_LEARN_OFF:
        snprintf(buf, len, "no learning mode (learning.days = 0): limits are enforced");
        break;
    case PM_LEARN_NOT_STARTED:
        snprintf(buf, len,
                 "learning mode for %d days from the first start of a postmeter on this store, "
                 "none yet",
                 conf->learning_days);
        break;
    case PM_LEARN_ON:
        snprintf(buf, len,
                 "learning mode since %s: every message is counted and its contacts learned, "
                 "nothing is refused; limits are enforced from %s",
                 since, until);
        break;
    case PM_LEARN_OVER:
        snprintf(buf, len, "learning mode ended %s (it began %s): limits are enforced", until,
                 since);
        break;
    }
}

/* Ask the store (record the start when none is kept); log a change of state. */
static void
learning_ask(const struct pm_conf *conf, struct pm_store *st, long long mono)
{
    struct pm_learning l;
    char err[256], text[512];
    int rc = pm_learning_read(conf, st, 1, &l, err, sizeof(err)), say = 0, warn = 0;

    pthread_mutex_lock(&lv.mu);
    lv.asking = 0;
    if (rc < 0) {
        lv.next_ask = mono + RETRY_SECONDS;
        warn = !lv.failing;
        lv.failing = 1;
    } else {
        lv.known = 1;
        lv.start = l.start;
        lv.seen = l.now;
        lv.seen_mono = mono;
        lv.next_ask = mono + ASK_SECONDS;
        lv.failing = 0;
        say = lv.said != (int)l.state;
        lv.said = (int)l.state;
    }
    pthread_mutex_unlock(&lv.mu);
    if (warn)
        pm_log(PM_LOG_WARNING,
               "learning mode: cannot read its start from the store (%s); asking again at "
               "the next message, limits are enforced meanwhile",
               err);
    if (say) {
        pm_learning_describe(conf, &l, text, sizeof(text));
        pm_log(l.state == PM_LEARN_ON ? PM_LOG_NOTICE : PM_LOG_INFO, "%s", text);
    }
}

/* The daemon, at start and at every reload. */
void
pm_learning_startup(const struct pm_conf *conf, struct pm_store *st)
{
    pthread_mutex_lock(&lv.mu);
    lv.said = -1; /* say where learning stands again; the answer may differ (another store) */
    lv.asking = conf->learning_days > 0;
    pthread_mutex_unlock(&lv.mu);
    if (conf->learning_days > 0)
        learning_ask(conf, st, pm_mono_s());
}

/* A store time a reply carried. */
void
pm_learning_clock(long long store_now)
{
    long long mono = pm_mono_s();

    pthread_mutex_lock(&lv.mu);
    lv.seen = store_now;
    lv.seen_mono = mono;
    pthread_mutex_unlock(&lv.mu);
}

/* 1 while the installation learns. */
int
pm_learning_active(const struct pm_conf *conf, struct pm_store *st)
{
    struct pm_learning l;
    long long mono = pm_mono_s(), now;
    char text[512];
    int ask, on, ended = 0;

    if (conf->learning_days <= 0)
        return 0;
    pthread_mutex_lock(&lv.mu);
    ask = !lv.asking && (!lv.known || mono >= lv.next_ask);
    if (ask)
        lv.asking = 1;
    pthread_mutex_unlock(&lv.mu);
    if (ask)
        learning_ask(conf, st, mono);
    pthread_mutex_lock(&lv.mu);
    now = lv.seen + (mono - lv.seen_mono);
    l.start = lv.start;
    l.until = lv.start + conf->learning_days * DAY;
    on = lv.known && now < l.until;
    if (lv.known && !on && lv.said == PM_LEARN_ON) {
        lv.said = PM_LEARN_OVER;
        ended = 1;
    }
    pthread_mutex_unlock(&lv.mu);
    if (ended) {
        l.state = PM_LEARN_OVER;
        l.now = now;
        pm_learning_describe(conf, &l, text, sizeof(text));
        pm_log(PM_LOG_NOTICE, "%s", text);
    }
    return on;
}
