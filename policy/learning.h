/*
 * learning.h - learn first, enforce later: the installation's learning
 * period (see learning.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_LEARNING_H
#define PM_LEARNING_H

#include <stddef.h>

#include "conf.h"
#include "store.h"

#define PM_LEARNING_KEEP_DAYS 400 /* the start is kept this long after a daemon last asked */

/* Where the installation stands. */
enum pm_learning_state {
    PM_LEARN_OFF = 0,     /* learning.days is 0: limits are enforced from the start */
    PM_LEARN_NOT_STARTED, /* no postmeter with learning.days has started on this store yet */
    PM_LEARN_ON,          /* learning: everything is counted, nothing is refused */
    PM_LEARN_OVER,        /* the learning period is over: limits are enforced */
};

/* The learning period as the store keeps it. */
struct pm_learning {
    enum pm_learning_state state;
    long long start; /* store time of the first start (0: none kept) */
    long long until; /* store time enforcement begins (start + learning.days days) */
    long long now;   /* store time of the answer */
};

/* Read the learning period from the store (record: a daemon starting, which
 * records now as the start when none is kept); PM_STORE_OK or a failure. */
int pm_learning_read(const struct pm_conf *conf, struct pm_store *st, int record,
                     struct pm_learning *out, char *err, size_t errlen);

/* One sentence for people about l, its times in the configured zone. */
void pm_learning_describe(const struct pm_conf *conf, const struct pm_learning *l, char *buf,
                          size_t len);

/* The daemon, at start and at every reload: record the start if none is
 * kept and log where learning stands. */
void pm_learning_startup(const struct pm_conf *conf, struct pm_store *st);

/* A store time a reply of the store carried (keeps the daemon's store clock). */
void pm_learning_clock(long long store_now);

/* 1 while the installation learns (the daemon's view, asked again hourly). */
int pm_learning_active(const struct pm_conf *conf, struct pm_store *st);

#endif
