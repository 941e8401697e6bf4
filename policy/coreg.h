/*
 * coreg.h - the companies this daemon metered, announced to the store's
 * company registry off the mail path (see coreg.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_COREG_H
#define PM_COREG_H

#include "store.h"

#define PM_COREG_MAX 10000     /* companies remembered per process */
#define PM_COREG_DELAY_MS 1000 /* a note is announced this long after the first one waits */
#define PM_COREG_BATCH 1000    /* companies announced per pm_coreg_flush() */

/* The store metered sender at store time now: note its company, unless it
 * was noted on that store day already. Cheap: one lock, one hash lookup. */
void pm_coreg_note(const char *sender, long long now);

/* Call wake (NULL: none) when a note starts waiting and none waited. */
void pm_coreg_on_wait(void (*wake)(void));

/* When the waiting notes are due (pm_mono_ms() time), or -1 when none waits. */
long long pm_coreg_next_due(void);

/* Announce up to PM_COREG_BATCH due companies (now: waiting ones, due or
 * not) to store; how many, 0 when none is due, or a store failure (they
 * wait again; err says why). */
int pm_coreg_flush(struct pm_store *store, int now, char *err, size_t errlen);

/* Ask store when its registry was made (one small call, only when some
 * companies were announced): when it was made anew since (forget --all, a
 * Redis restarted empty) or is gone, forget the companies announced, so that
 * their next message announces them again. 0, or a store failure. */
int pm_coreg_check(struct pm_store *store, char *err, size_t errlen);

/* Forget everything (tests). */
void pm_coreg_clear(void);

#endif
