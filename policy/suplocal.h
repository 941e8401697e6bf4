/*
 * suplocal.h - this server's copy of the suppression lists, so that a
 * recipient surely not on its company's list is let through at RCPT without
 * asking the store (see suplocal.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_SUPLOCAL_H
#define PM_SUPLOCAL_H

#include <stddef.h>

#include "store.h"

/* Seconds an entry is still taken as present past its expiry: the copy's
 * reckoning of store time may lag the store's by a little. */
#define PM_SUPLOCAL_SLACK 60

/* "company NUL address" longer than this is never held and always "may be"
 * (a loader's buffer for a company must hold this much). */
#define PM_SUPLOCAL_KEY_MAX 1024

/* Addresses with an open intent held at most (past that: overflow, the
 * copy is loaded again). */
#define PM_SUPLOCAL_PENDING_MAX 10000

/* What the copy holds, for the metrics and the tests. */
struct pm_suplocal_stats {
    long long entries; /* entries held (some may be past their expiry) */
    long long pending; /* addresses with an open intent (a change on its way) */
    long long max;     /* suppression.local_max (0: off) */
    int ready;         /* 1: loaded and followed: it can tell */
    int full;          /* 1: more than max entries: it cannot tell until reloaded */
    int overflow;      /* 1: more than PM_SUPLOCAL_PENDING_MAX pending: load it again */
    size_t bytes;      /* memory of its tables (entries and pending marks) */
};

/* 1 when rcpt (normalised) may be on company's suppression list, or this
 * server's copy cannot tell (not loaded, behind, no company, a change of
 * the entry on its way): ask the store;
 * 0 when it surely is not. */
int pm_suplocal_maybe(const char *company, const char *rcpt);

/* pm_suplocal_maybe() at store time now (seconds). */
int pm_suplocal_maybe_at(const char *company, const char *rcpt, long long now);

/* Set the bound (entries; 0: off, every recipient may be suppressed) and
 * empty the copy, which is not ready. */
void pm_suplocal_setup(long long max);

/* Start a load: empty the copy, not ready until pm_suplocal_ready(1). */
void pm_suplocal_begin(void);

/* An entry of company's list (expires: store time, 0 never). */
void pm_suplocal_add(const char *company, const char *rcpt, long long expires);

/* An entry removed from company's list. */
void pm_suplocal_del(const char *company, const char *rcpt);

/* A loaded entry, as pm_store_sup_snapshot's each: pm_suplocal_add(); arg:
 * NULL, or a long long, the store time of the load (the store sets it before
 * the first entry), given to pm_suplocal_clock() first. */
void pm_suplocal_load_one(void *arg, const char *company, const char *rcpt, long long expires);

/* An intent on company's entry of rcpt (a change on its way): "may be"
 * until as many pm_suplocal_close() calls. */
void pm_suplocal_open(const char *company, const char *rcpt);

/* Close one intent on company's entry of rcpt (none open: nothing). */
void pm_suplocal_close(const char *company, const char *rcpt);

/* A note of the stream, as pm_store_sup_follow's each: chk opens an
 * intent; add, del (pm_suplocal_add(), pm_suplocal_del()) and end (no
 * change) close one; arg unused. */
void pm_suplocal_change(void *arg, enum pm_sup_op op, const char *company, const char *rcpt,
                        long long expires);

/* A note of the stream before a load's start, as pm_store_sup_snapshot's
 * note: chk opens an intent, add, del and end close one (the entries are
 * the load's); arg unused. */
void pm_suplocal_pair(void *arg, enum pm_sup_op op, const char *company, const char *rcpt,
                      long long expires);

/* The copy is loaded and followed (1), or cannot tell (0: a gap, an error). */
void pm_suplocal_ready(int ready);

/* The store's time now (seconds): how pm_suplocal_maybe() reckons expiry. */
void pm_suplocal_clock(long long store_now);

/* What the copy holds now. */
void pm_suplocal_stats(struct pm_suplocal_stats *out);

#endif
