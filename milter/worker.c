/*
 * worker.c - a background thread of the milter process: started with every
 * signal blocked (libmilter's signal thread takes them), waits in ticks on a
 * CLOCK_MONOTONIC condition, woken early by another thread, stopped and
 * joined. The watch over Postfix and the suppression copy's follower run
 * in one each.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "log.h"
#include "worker.h"

/* Start fn(arg) in a thread with every signal blocked; 0 or -1 (logged). */
int
pm_worker_start(struct pm_worker *w, const char *what, void *(*fn)(void *), void *arg)
{
    pthread_condattr_t ca;
    sigset_t all, old;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->stopping = w->woken = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    w->running = pthread_create(&w->tid, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->running) {
        pm_log(PM_LOG_ERR, "%s: cannot start its thread", what);
        pthread_cond_destroy(&w->cv);
        return -1;
    }
    return 0;
}

/* Ask the thread to stop, wake it and join it. */
void
pm_worker_stop(struct pm_worker *w)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->tid, NULL);
    pthread_cond_destroy(&w->cv);
    w->running = 0;
}

/* Wake the thread from its wait. */
void
pm_worker_wake(struct pm_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->woken = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait up to s seconds (1 at least), until woken or stopped; 1 when stopped. */
int
pm_worker_wait(struct pm_worker *w, long long s)
{
    struct timespec ts;
    int stopped;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += s > 0 ? s : 1;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping && !w->woken && pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT)
        ;
    w->woken = 0;
    stopped = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return stopped;
}

/* 1 when the thread is asked to stop. */
int
pm_worker_stopping(struct pm_worker *w)
{
    int s;

    pthread_mutex_lock(&w->mu);
    s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}
