/*
 * coreg.c - the companies this daemon metered, for the store's company
 * registry (the readers that go over every company read it instead of
 * scanning the store). The mail path notes the company of each sender the
 * store metered (pm_coreg_note(): a lock and a lookup, no round trip); a
 * company already noted on that store day is not noted again. A thread
 * that talks to the store anyway (milter/watcher.c) announces the waiting
 * ones a second after the first of them, in one call (pm_coreg_flush()).
 * At most PM_COREG_MAX companies are remembered: when full, the announced
 * ones are forgotten (they are noted again on their next message), and when
 * every one waits, a new company is noted on a later message. The registry
 * tells when it was made: when that changes (forget --all, a Redis restarted
 * empty; pm_coreg_check() looks once a minute), the announced companies are
 * forgotten, so that their next message announces them again.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coreg.h"

#define SLOTS 16384   /* open addressing, a power of two above 1.5 x PM_COREG_MAX */
#define RETRY_MS 5000 /* after a failed announcement */

/* One company: the store day it was noted on, and whether it waits. */
struct slot {
    char *co;
    long long day;
    int waiting;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot table[SLOTS];
static size_t used, n_waiting;
static long long due_ms = -1;
static long long born = -1; /* when the registry announced to was made, -1 unknown */
static void (*on_wait)(void);

/* FNV-1a of the company's n bytes. */
static uint32_t
co_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    while (n--)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The slot of company s (n bytes): its own, or the free one it would take. */
static struct slot *
co_find(const char *s, size_t n)
{
    uint32_t i = co_hash(s, n) & (SLOTS - 1);

    while (table[i].co && (strlen(table[i].co) != n || memcmp(table[i].co, s, n) != 0))
        i = (i + 1) & (SLOTS - 1);
    return &table[i];
}

/* Forget the companies that do not wait (the table is full, or the registry
 * was made anew); under mu. */
static void
co_prune(void)
{
    static struct slot keep[PM_COREG_MAX];
    size_t i, k = 0;

    for (i = 0; i < SLOTS; i++) {
        if (table[i].co && table[i].waiting && k < PM_COREG_MAX)
            keep[k++] = table[i];
        else
            free(table[i].co);
        table[i].co = NULL;
    }
    used = 0;
    for (i = 0; i < k; i++) {
        *co_find(keep[i].co, strlen(keep[i].co)) = keep[i];
        used++;
    }
}

/* Make company s (n bytes) wait, noted on day; 1 when none waited; under mu. */
static int
co_wait(const char *s, size_t n, long long day)
{
    struct slot *e = co_find(s, n);
    int first = n_waiting == 0;

    if (!e->co) {
        if (used >= PM_COREG_MAX) {
            co_prune();
            if (used >= PM_COREG_MAX)
                return 0; /* every one waits: a later message notes it */
            e = co_find(s, n);
        }
        if (!(e->co = strndup(s, n)))
            return 0;
        used++;
        e->waiting = 0;
    }
    e->day = day;
    if (!e->waiting) {
        e->waiting = 1;
        n_waiting++;
    }
    if (first)
        due_ms = pm_mono_ms() + PM_COREG_DELAY_MS;
    return first;
}

/* The registry was made at b (-1: it is gone, -2: the store keeps none now):
 * when another than the one announced to, forget the companies announced
 * (those waiting stay); under mu. */
static void
co_born(long long b)
{
    if (b == -2)
        return;
    if (used > n_waiting && (b == -1 || (born >= 0 && b != born)))
        co_prune();
    born = b;
}

/* Note the company of a sender the store metered at store time now. */
void
pm_coreg_note(const char *sender, long long now)
{
    const char *at = strrchr(sender, '@'), *co = at ? at + 1 : sender;
    size_t n = strlen(co);
    long long day = now / 86400;
    void (*wake)(void) = NULL;
    struct slot *e;

    if (!n)
        return;
    pthread_mutex_lock(&mu);
    e = co_find(co, n);
    if ((!e->co || e->day != day) && co_wait(co, n, day))
        wake = on_wait;
    pthread_mutex_unlock(&mu);
    if (wake)
        wake();
}

/* Set the callback of a first waiting note. */
void
pm_coreg_on_wait(void (*wake)(void))
{
    pthread_mutex_lock(&mu);
    on_wait = wake;
    pthread_mutex_unlock(&mu);
}

/* When the waiting notes are due, or -1. */
long long
pm_coreg_next_due(void)
{
    long long d;

    pthread_mutex_lock(&mu);
    d = n_waiting ? due_ms : -1;
    pthread_mutex_unlock(&mu);
    return d;
}

/* Announce the due companies (see coreg.h). */
int
pm_coreg_flush(struct pm_store *store, int now, char *err, size_t errlen)
{
    static char *co[PM_COREG_BATCH]; /* one flushing thread */
    static long long day[PM_COREG_BATCH];
    size_t i, n = 0;
    long long b = -1;
    int rc;

    pthread_mutex_lock(&mu);
    if (!n_waiting || (!now && pm_mono_ms() < due_ms)) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    for (i = 0; i < SLOTS && n < PM_COREG_BATCH; i++)
        if (table[i].co && table[i].waiting && (co[n] = strdup(table[i].co)) != NULL) {
            day[n++] = table[i].day;
            table[i].waiting = 0;
            n_waiting--;
        }
    if (n_waiting) /* the rest at once */
        due_ms = pm_mono_ms();
    pthread_mutex_unlock(&mu);
    if (!n)
        return 0;
    rc = pm_store_announce(store, (const char *const *)co, n, &b, err, errlen);
    pthread_mutex_lock(&mu);
    if (rc >= 0)
        co_born(b);
    for (i = 0; i < n; i++) {
        if (rc < 0)
            co_wait(co[i], strlen(co[i]), day[i]);
        free(co[i]);
    }
    if (rc < 0 && n_waiting)
        due_ms = pm_mono_ms() + RETRY_MS;
    pthread_mutex_unlock(&mu);
    return rc < 0 ? rc : (int)n;
}

/* Ask the store when its registry was made (see coreg.h). */
int
pm_coreg_check(struct pm_store *store, char *err, size_t errlen)
{
    long long b = -1;
    int rc, announced;

    pthread_mutex_lock(&mu);
    announced = used > n_waiting;
    pthread_mutex_unlock(&mu);
    if (!announced)
        return 0;
    if ((rc = pm_store_announce(store, NULL, 0, &b, err, errlen)) < 0)
        return rc;
    pthread_mutex_lock(&mu);
    co_born(b);
    pthread_mutex_unlock(&mu);
    return 0;
}

/* Forget everything. */
void
pm_coreg_clear(void)
{
    size_t i;

    pthread_mutex_lock(&mu);
    for (i = 0; i < SLOTS; i++) {
        free(table[i].co);
        table[i].co = NULL;
    }
    used = n_waiting = 0;
    due_ms = -1;
    born = -1;
    pthread_mutex_unlock(&mu);
}
