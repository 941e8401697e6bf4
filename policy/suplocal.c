/*
 * suplocal.c - this server's copy of the suppression lists.
 *
 * SYNOPSIS
 *   pm_suplocal_setup(max); pm_suplocal_begin(); pm_suplocal_add(...) ...
 *   pm_suplocal_ready(1); then pm_suplocal_add/del as the stream says;
 *   at RCPT: pm_suplocal_maybe(company, rcpt).
 *
 * DESCRIPTION
 *   One open-addressing table (linear probing, at most three quarters
 *   full, doubling as it fills) of 64-bit keyed hashes of "company NUL
 *   address" (SipHash-2-4 under a key drawn at random per process) with the
 *   entry's expiry in store time. The follower (milter/supfollow.c) loads it
 *   and applies the store's stream of changes; the RCPT stage reads it. A
 *   reader-writer lock guards it. 16 bytes per slot: 100,000 entries take a
 *   table of 262,144 slots, 4 MiB.
 *
 *   The copy answers "surely not" only when it is ready (loaded, and
 *   followed without a gap), holds at most max entries (past that it is
 *   full and cannot tell until the next load), max is not 0 and the
 *   company is not "". Anything else answers "may be": the store decides.
 *   Two entries whose 64-bit keyed hashes are equal (about n / 2^64 per
 *   change, under a key no outsider knows) share a slot: a change of one
 *   is taken for the other.
 *   An entry past its expiry (plus PM_SUPLOCAL_SLACK seconds) reads as
 *   absent; expired entries are dropped when the table grows or fills.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "siphash.h"
#include "suplocal.h"

#define MIN_SLOTS 1024
#define KEY_MAX PM_SUPLOCAL_KEY_MAX

struct slot {
    uint64_t h; /* 0: empty */
    long long expires;
};

static pthread_rwlock_t lk = PTHREAD_RWLOCK_INITIALIZER;
static struct slot *slots; /* guarded by lk, as everything below */
static size_t cap, n;
static long long max_entries, offset;
static int ready, full;
static unsigned char key[16];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* Draw the process's hash key. */
static void
key_init(void)
{
    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
        memset(key, 0x5a, sizeof(key)); /* a known key only costs collisions: "may be" */
}

/* The keyed hash of company NUL rcpt (never 0); 0 when too long to hold. */
static uint64_t
hash_of(const char *company, const char *rcpt)
{
    char buf[KEY_MAX];
    size_t c = strlen(company), r = strlen(rcpt);
    uint64_t h;

    if (c + 1 + r > sizeof(buf))
        return 0;
    pthread_once(&key_once, key_init);
    memcpy(buf, company, c);
    buf[c] = '\0';
    memcpy(buf + c + 1, rcpt, r);
    h = pm_siphash(key, buf, c + 1 + r);
    return h ? h : 1;
}

/* 1 when an entry of expiry expires still counts at store time now. */
static int
live(long long expires, long long now)
{
    return expires == 0 || now < expires + PM_SUPLOCAL_SLACK;
}

/* The slot of h, or of the empty slot where it would go (cap > 0). */
static size_t
find(uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);

    while (slots[i].h != 0 && slots[i].h != h)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Empty the table (locked). */
static void
clear(void)
{
    free(slots);
    slots = NULL;
    cap = n = 0;
    ready = full = 0;
}

/* Store time now, as this server reckons it (locked). */
static long long
store_now(void)
{
    return (long long)time(NULL) + offset;
}

/* Rebuild the table with size slots, leaving out entries expired at now;
 * -1 out of memory (the table is kept). */
static int
rehash(size_t size, long long now)
{
    struct slot *old = slots;
    size_t old_cap = cap, i;

    if (!(slots = calloc(size, sizeof(*slots)))) {
        slots = old;
        return -1;
    }
    cap = size;
    n = 0;
    for (i = 0; i < old_cap; i++)
        if (old[i].h && live(old[i].expires, now)) {
            slots[find(old[i].h)] = old[i];
            n++;
        }
    free(old);
    return 0;
}

/* Remove the entry in slot i, shifting back the ones after it (locked). */
static void
remove_at(size_t i)
{
    size_t j = i, home, mask = cap - 1;

    for (;;) {
        j = (j + 1) & mask;
        if (slots[j].h == 0)
            break;
        home = (size_t)slots[j].h & mask;
        /* slot j may fill i when its home is not within (i, j] (cyclically) */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            slots[i] = slots[j];
            i = j;
        }
    }
    slots[i].h = 0;
    n--;
}

/* The answer for hash h at store time now, or -1 for "this server's
 * reckoning of store time" (locked, read). */
static int
maybe_locked(uint64_t h, long long now)
{
    size_t i;

    if (max_entries <= 0 || !ready || full)
        return 1;
    if (!cap)
        return 0;
    i = find(h);
    return slots[i].h == h && live(slots[i].expires, now < 0 ? store_now() : now);
}

/* 1: may be suppressed, or the copy cannot tell; 0: surely not. */
int
pm_suplocal_maybe_at(const char *company, const char *rcpt, long long now)
{
    uint64_t h = hash_of(company, rcpt);
    int maybe;

    if (!h || !*company)
        return 1; /* no company: the store names the list otherwise */
    pthread_rwlock_rdlock(&lk);
    maybe = maybe_locked(h, now < 0 ? 0 : now);
    pthread_rwlock_unlock(&lk);
    return maybe;
}

/* pm_suplocal_maybe_at() at this server's reckoning of store time. */
int
pm_suplocal_maybe(const char *company, const char *rcpt)
{
    uint64_t h = hash_of(company, rcpt);
    int maybe;

    if (!h || !*company)
        return 1; /* no company: the store names the list otherwise */
    pthread_rwlock_rdlock(&lk);
    maybe = maybe_locked(h, -1);
    pthread_rwlock_unlock(&lk);
    return maybe;
}

/* Set the bound and empty the copy. */
void
pm_suplocal_setup(long long max)
{
    pthread_rwlock_wrlock(&lk);
    clear();
    max_entries = max > 0 ? max : 0;
    pthread_rwlock_unlock(&lk);
}

/* Start a load: empty, not ready. */
void
pm_suplocal_begin(void)
{
    pthread_rwlock_wrlock(&lk);
    clear();
    pthread_rwlock_unlock(&lk);
}

/* Hold an entry, or become full when there is no room for it (locked). */
static void
add_locked(uint64_t h, long long expires)
{
    long long now = store_now();
    size_t i;

    if (cap) {
        i = find(h);
        if (slots[i].h == h) {
            slots[i].expires = expires;
            return;
        }
    }
    if ((long long)n + 1 > max_entries && cap && rehash(cap, now) < 0)
        full = 1;
    if (full || (long long)n + 1 > max_entries) {
        full = 1; /* past the bound: "may be" for everyone until the next load */
        return;
    }
    if (!cap || (n + 1) * 4 > cap * 3) {
        if (rehash(cap ? cap * 2 : MIN_SLOTS, now) < 0) {
            full = 1;
            return;
        }
    }
    i = find(h);
    slots[i].h = h;
    slots[i].expires = expires;
    n++;
}

/* An entry of company's list. */
void
pm_suplocal_add(const char *company, const char *rcpt, long long expires)
{
    uint64_t h = hash_of(company, rcpt);

    if (!h)
        return; /* never held: always "may be" */
    pthread_rwlock_wrlock(&lk);
    if (max_entries > 0 && !full)
        add_locked(h, expires);
    pthread_rwlock_unlock(&lk);
}

/* An entry removed from company's list. */
void
pm_suplocal_del(const char *company, const char *rcpt)
{
    uint64_t h = hash_of(company, rcpt);
    size_t i;

    if (!h)
        return;
    pthread_rwlock_wrlock(&lk);
    if (cap) {
        i = find(h);
        if (slots[i].h == h)
            remove_at(i);
    }
    pthread_rwlock_unlock(&lk);
}

/* A loaded entry (pm_store_sup_snapshot's each): into the copy; arg: NULL,
 * or the store time of the load, which the copy then reckons by. */
void
pm_suplocal_load_one(void *arg, const char *company, const char *rcpt, long long expires)
{
    if (arg)
        pm_suplocal_clock(*(const long long *)arg);
    pm_suplocal_add(company, rcpt, expires);
}

/* A change of the stream (pm_store_sup_follow's each): into the copy. */
void
pm_suplocal_change(void *arg, int add, const char *company, const char *rcpt, long long expires)
{
    (void)arg;
    if (add)
        pm_suplocal_add(company, rcpt, expires);
    else
        pm_suplocal_del(company, rcpt);
}

/* Loaded and followed, or not. */
void
pm_suplocal_ready(int r)
{
    pthread_rwlock_wrlock(&lk);
    ready = r != 0;
    pthread_rwlock_unlock(&lk);
}

/* The store's time now. */
void
pm_suplocal_clock(long long now)
{
    pthread_rwlock_wrlock(&lk);
    offset = now - (long long)time(NULL);
    pthread_rwlock_unlock(&lk);
}

/* What the copy holds now. */
void
pm_suplocal_stats(struct pm_suplocal_stats *out)
{
    pthread_rwlock_rdlock(&lk);
    out->entries = (long long)n;
    out->max = max_entries;
    out->ready = ready;
    out->full = full;
    out->bytes = cap * sizeof(struct slot);
    pthread_rwlock_unlock(&lk);
}
