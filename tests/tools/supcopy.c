/*
 * NAME
 *   supcopy - load and follow a copy of the suppression lists as a daemon
 *   does, and print what it answers (tests)
 *
 * SYNOPSIS
 *   supcopy -c CONF [-s PAGES] [-a ID] [-f MS] [-n CHANGES] COMPANY RCPT [COMPANY RCPT ...]
 *
 * DESCRIPTION
 *   Reads postmeter's configuration CONF, makes its Redis store, loads the
 *   copy (pm_store_sup_snapshot into policy/suplocal.c, bounded by
 *   suppression.local_max, with the intents the stream's last minute of
 *   notes leaves open) and prints "loaded ENTRIES LAST_ID" (flushed).
 *   With -s, the load is asked to stop once PAGES pages of entries were
 *   read (as a daemon's stop does), and fails so. With -a, the first follow
 *   starts after ID, not after the stream's last id (as a follower that saw
 *   ids the stream, made anew, has not reached).
 *   With -f, follows the stream (pm_store_sup_follow, blocks of 100 ms, the
 *   store's clock read with each, where a daemon reads it every 10 s) for
 *   at most MS milliseconds, or until CHANGES changes were applied with -n
 *   (a change: its final note, add, del or end; its intent, chk, opens it);
 *   a gap loads the copy again ("gap" is printed). Then prints one line per
 *   pair, "maybe COMPANY RCPT ANSWER", ANSWER what pm_suplocal_maybe() says
 *   (1: may be suppressed, or the copy cannot tell; 0: surely not), and
 *   "entries N ready R".
 *
 * DIAGNOSTICS
 *   Exit 0, 1 when the store failed (the error on stderr), 2 on bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "store.h"
#include "store_redis.h"
#include "suplocal.h"

static long changes;         /* changes applied while following */
static long stop_after = -1; /* -s: pages a load reads before it is stopped (-1: never) */
static long pages;           /* pages the load asked about */

/* A load asks before each page whether to stop: after stop_after pages. */
static int
stop_load(void)
{
    return stop_after >= 0 && pages++ >= stop_after;
}

/* A note of the stream: into the copy, its final notes counted. */
static void
change_one(void *arg, enum pm_sup_op op, const char *company, const char *rcpt, long long expires)
{
    pm_suplocal_change(arg, op, company, rcpt, expires);
    changes += op != PM_SUP_CHK; /* an intent is half a change */
}

/* Load the copy; 0, or -1 (printed). */
static int
load(struct pm_store *st, char *last, size_t lastlen)
{
    struct pm_suplocal_stats s;
    char err[512];
    long long now;

    pm_suplocal_begin();
    if (pm_store_sup_snapshot(st, last, lastlen, pm_suplocal_pair, pm_suplocal_load_one, NULL,
                              stop_load, &now, err, sizeof(err)) < 0) {
        fprintf(stderr, "supcopy: load: %s\n", err);
        return -1;
    }
    pm_suplocal_clock(now);
    pm_suplocal_ready(1);
    pm_suplocal_stats(&s);
    printf("loaded %lld %s\n", s.entries, last);
    fflush(stdout);
    return 0;
}

/* Follow for ms milliseconds or until want changes (0: no bound); 0 or -1. */
static int
follow(struct pm_store *st, char *last, size_t lastlen, long long ms, long want)
{
    long long end = pm_mono_ms() + ms, now;
    char err[512];
    int rc;

    while (pm_mono_ms() < end && (!want || changes < want)) {
        rc = pm_store_sup_follow(st, last, lastlen, 100, change_one, NULL, &now, err, sizeof(err));
        if (rc == PM_STORE_GAP) {
            printf("gap\n");
            if (load(st, last, lastlen) < 0)
                return -1;
        } else if (rc < 0) {
            fprintf(stderr, "supcopy: follow: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Say how to call. */
static int
usage(void)
{
    fprintf(stderr,
            "usage: supcopy -c CONF [-s PAGES] [-a ID] [-f MS] [-n CHANGES] COMPANY RCPT ...\n");
    return 2;
}

/* Load, follow, answer. */
int
main(int argc, char **argv)
{
    struct pm_suplocal_stats s;
    struct pm_conf *conf;
    struct pm_store *st;
    const char *file = NULL, *after = NULL;
    char err[1024], last[64];
    long long ms = 0;
    long want = 0;
    int c, i, rc = 0;

    while ((c = getopt(argc, argv, "a:c:f:n:s:")) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'f':
            ms = atoll(optarg);
            break;
        case 'n':
            want = atol(optarg);
            break;
        case 'a':
            after = optarg;
            break;
        case 's':
            stop_after = atol(optarg);
            break;
        default:
            return usage();
        }
    }
    if (!file || (argc - optind) % 2 != 0)
        return usage();
    if (pm_conf_load(file, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "supcopy: %s\n", err);
        return 2;
    }
    if (!(st = pm_store_redis_new(conf))) {
        fprintf(stderr, "supcopy: cannot make the store\n");
        pm_conf_free(conf);
        return 1;
    }
    pm_suplocal_setup(conf->suppress_local_max);
    if (load(st, last, sizeof(last)) < 0)
        rc = 1;
    if (rc == 0 && after)
        snprintf(last, sizeof(last), "%s", after);
    if (rc == 0 && (ms > 0 && follow(st, last, sizeof(last), ms, want) < 0))
        rc = 1;
    for (i = optind; rc == 0 && i + 1 < argc; i += 2)
        printf("maybe %s %s %d\n", argv[i], argv[i + 1], pm_suplocal_maybe(argv[i], argv[i + 1]));
    pm_suplocal_stats(&s);
    printf("entries %lld ready %d\n", s.entries, s.ready && !s.full && s.max > 0);
    pm_store_free(st);
    pm_conf_free(conf);
    return rc;
}
