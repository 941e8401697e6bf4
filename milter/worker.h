/*
 * worker.h - a background thread of the milter process that waits in
 * ticks, can be woken, and is stopped and joined (see worker.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_WORKER_H
#define PM_MILTER_WORKER_H

#include <pthread.h>

/* One thread; static, initialised with PM_WORKER_INIT. */
struct pm_worker {
    pthread_t tid;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* CLOCK_MONOTONIC */
    int stopping, woken; /* guarded by mu */
};
#define PM_WORKER_INIT                                                                             \
    {                                                                                              \
        .mu = PTHREAD_MUTEX_INITIALIZER                                                            \
    }

/* Start fn(arg) in a thread with every signal blocked; 0, or -1 when it
 * cannot start (logged with what, e.g. "postfix watch"). */
int pm_worker_start(struct pm_worker *w, const char *what, void *(*fn)(void *), void *arg);

/* Ask the thread to stop, wake it and wait for it (nothing when not running). */
void pm_worker_stop(struct pm_worker *w);

/* Wake the thread from pm_worker_wait. */
void pm_worker_wake(struct pm_worker *w);

/* In the thread: wait up to s seconds (1 at least), until woken or asked to
 * stop; 1 when asked to stop. */
int pm_worker_wait(struct pm_worker *w, long long s);

/* In the thread: 1 when asked to stop. */
int pm_worker_stopping(struct pm_worker *w);

#endif
