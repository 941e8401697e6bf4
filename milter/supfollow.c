/*
 * supfollow.c - the thread that loads and follows this server's copy of the
 * suppression lists.
 *
 * SYNOPSIS
 *   pm_supfollow_start(); ... pm_supfollow_stop();
 *
 * DESCRIPTION
 *   One thread, with every signal blocked. It pins the runtime of the
 *   moment (so it follows reloads); with suppression.local_max 0 it keeps no
 *   copy. Otherwise it loads the copy (pm_store_sup_snapshot: the stream's
 *   last id, the intents its last minute leaves open, then every entry, a
 *   stop seen before each page of them) and marks it ready, then follows
 *   the stream of changes (pm_store_sup_follow: XREAD BLOCK of at most
 *   BLOCK_MS, so that a stop is seen within it): intents and what was done
 *   (suplocal.c). A gap, more open intents than the copy holds, a failure,
 *   a reload that names another Redis or key prefix, or a new local_max
 *   marks the copy not ready (every recipient may be suppressed: Redis
 *   decides) until it is loaded again (a reload that keeps them keeps the
 *   copy, followed on the new store); after a failure or an overflow of
 *   the intents the next load waits a backoff (1 s doubling to 30 s, back
 *   to 1 s once a load is followed without either).
 *   Every CLOCK_S seconds it reads the store's clock, by which the copy
 *   reckons expiry.
 *
 * DIAGNOSTICS
 *   A load logs one info line with its entries; a gap one info line; a
 *   failure one warning until a load succeeds again.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "callbacks.h"
#include "conf.h"
#include "clock.h"
#include "log.h"
#include "suplocal.h"
#include "supfollow.h"
#include "worker.h"

#define BLOCK_MS 500  /* the longest XREAD BLOCK: how soon a stop is seen */
#define CLOCK_S 10    /* seconds between reads of the store's clock */
#define BACKOFF_MIN 1 /* seconds before a load again after a failure */
#define BACKOFF_MAX 30

static struct pm_worker worker = PM_WORKER_INIT;

/* Which Redis and prefix conf names, into sig ("" when it does not fit:
 * never the same as another). */
static void
where(const struct pm_conf *conf, char *sig, size_t len)
{
    size_t i, o;

    o = (size_t)snprintf(sig, len, "%s|%d|%s|%d|%s|%s|%d", conf->redis_host, conf->redis_port,
                         conf->redis_socket ? conf->redis_socket : "", conf->redis_db,
                         conf->key_prefix, conf->sentinel_master ? conf->sentinel_master : "",
                         conf->redis_test_clock);
    for (i = 0; i < conf->n_sentinels && o < len; i++)
        o += (size_t)snprintf(sig + o, len - o, "|%s", conf->sentinels[i]);
    if (o >= len)
        sig[0] = '\0';
}

/* 1 when the thread is asked to stop (a load asks it before each page). */
static int
stopping(void)
{
    return pm_worker_stopping(&worker);
}

/* Load the copy from st; 0, or -1 (err says why, or a stop ended it). */
static int
load(struct pm_store *st, char *last, size_t lastlen, char *err, size_t errlen)
{
    struct pm_suplocal_stats s;
    long long now;

    pm_suplocal_begin();
    /* the store sets now before the first entry: the copy reckons expiry by it */
    if (pm_store_sup_snapshot(st, last, lastlen, pm_suplocal_pair, pm_suplocal_load_one, &now,
                              stopping, &now, err, errlen) < 0) {
        pm_suplocal_begin(); /* empty, not ready */
        return -1;
    }
    pm_suplocal_clock(now);
    pm_suplocal_ready(1);
    pm_suplocal_stats(&s);
    if (s.full)
        pm_log(PM_LOG_WARNING,
               "suppression copy: more than suppression.local_max (%lld) entries: every "
               "recipient is checked in Redis",
               s.max);
    else
        pm_log(PM_LOG_INFO, "suppression copy: loaded %lld entries, following from %s", s.entries,
               last);
    return 0;
}

/* 1 when the copy holds more than its bound. */
static int
full_now(void)
{
    struct pm_suplocal_stats s;

    pm_suplocal_stats(&s);
    return s.full;
}

/* 1 when the copy holds more pending marks than it may (open intents:
 * writers that died between their notes, or a burst of changes). */
static int
overflow_now(void)
{
    struct pm_suplocal_stats s;

    pm_suplocal_stats(&s);
    return s.overflow;
}

/* Say once that the changes followed filled the copy past its bound (*warned:
 * said already for this load). */
static void
full_warning(int *warned)
{
    struct pm_suplocal_stats s;

    pm_suplocal_stats(&s);
    if (!s.full || *warned)
        return;
    *warned = 1;
    pm_log(PM_LOG_WARNING,
           "suppression copy: more than suppression.local_max (%lld) entries: every "
           "recipient is checked in Redis until the copy is loaded again",
           s.max);
}

/* The thread: load, follow; again after a gap or a failure; until stopped. */
static void *
follow_loop(void *arg)
{
    struct pm_runtime *seen = NULL;
    long long max = -1, next_clock = 0, now, backoff = BACKOFF_MIN;
    char last[64], err[512], sig[2048], seen_sig[2048] = "";
    int loaded = 0, failing = 0, failed, over, tick, rc, warned_full = 0;

    (void)arg;
    while (!pm_worker_stopping(&worker)) {
        struct pm_runtime *rt = pm_runtime_pin();

        if (!rt)
            break;
        if (rt != seen) { /* started, or a reload */
            where(rt->conf, sig, sizeof(sig));
            if (rt->conf->suppress_local_max != max) {
                pm_suplocal_setup(rt->conf->suppress_local_max);
                loaded = 0;
            } else if (!sig[0] || strcmp(sig, seen_sig) != 0) {
                pm_suplocal_ready(0); /* another Redis or prefix: another copy */
                loaded = 0;
            } /* else the same stream: follow it on the new store from last */
            seen = rt;
            max = rt->conf->suppress_local_max;
            snprintf(seen_sig, sizeof(seen_sig), "%s", sig);
        }
        failed = over = tick = 0;
        if (max == 0) {
            pm_runtime_release(rt);
            if (pm_worker_wait(&worker, 1))
                break;
            continue;
        }
        if (!loaded) {
            if (load(rt->store, last, sizeof(last), err, sizeof(err)) == 0) {
                loaded = 1;
                warned_full = full_now(); /* load() said it if it is */
                failing = 0;
                next_clock = pm_mono_s() + CLOCK_S;
            } else if (pm_worker_stopping(&worker)) {
                pm_runtime_release(rt);
                break; /* stopped during the load: nothing to say */
            } else {
                failed = 1;
            }
        } else if ((rc = pm_store_sup_follow(rt->store, last, sizeof(last), BLOCK_MS,
                                             pm_suplocal_change, NULL,
                                             (tick = pm_mono_s() >= next_clock) ? &now : NULL, err,
                                             sizeof(err))) != PM_STORE_OK) {
            pm_suplocal_ready(0); /* "may be" for everyone until loaded again */
            loaded = 0;
            if (rc == PM_STORE_GAP)
                pm_log(PM_LOG_INFO, "suppression copy: %s: loading it again", err);
            else
                failed = 1;
        } else if (overflow_now()) {
            pm_suplocal_ready(0); /* as a gap: "may be" for everyone until loaded again */
            loaded = 0;
            over = 1;
            pm_log(PM_LOG_INFO,
                   "suppression copy: more than %d changes on their way: loading it again in "
                   "%lld s",
                   PM_SUPLOCAL_PENDING_MAX, backoff);
        } else {
            backoff = BACKOFF_MIN; /* loaded and followed */
            if (tick) {            /* the follow read the store's clock */
                pm_suplocal_clock(now);
                next_clock = pm_mono_s() + CLOCK_S;
            }
            full_warning(&warned_full);
        }
        pm_runtime_release(rt);
        if (failed) { /* say it once, wait, load again */
            if (!failing)
                pm_log(PM_LOG_WARNING,
                       "suppression copy: %s: every recipient is checked in Redis until it is "
                       "loaded again",
                       err);
            failing = 1;
        }
        if (failed || over) { /* wait: intents that never close would reload at once */
            if (pm_worker_wait(&worker, backoff))
                break;
            backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
        }
    }
    pm_suplocal_ready(0);
    return NULL;
}

/* Start the thread with every signal blocked in it. */
int
pm_supfollow_start(void)
{
    return pm_worker_start(&worker, "suppression copy", follow_loop, NULL);
}

/* Stop the thread and wait for it. */
void
pm_supfollow_stop(void)
{
    pm_worker_stop(&worker);
}
