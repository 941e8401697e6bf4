/*
 * suplocal.c - this server's copy of the suppression lists.
 *
 * SYNOPSIS
 *   pm_suplocal_setup(max); pm_suplocal_begin(); pm_suplocal_add(...) ...
 *   pm_suplocal_ready(1); then pm_suplocal_change() as the stream says;
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
 *   A second such table holds the pending marks: per hash, the intents the
 *   stream noted (op chk) that no final note (add, del, end) closed yet. A
 *   pending address answers "may be": its writer's script may have changed
 *   the entry already. At most PM_SUPLOCAL_PENDING_MAX are held (a writer
 *   that died between its notes leaves one open until the next load); past
 *   that the copy has overflowed: "may be" for everyone, and the follower
 *   loads it again.
 *
 *   The copy answers "surely not" only when it is ready (loaded, and
 *   followed without a gap), holds at most max entries (past that it is
 *   full and cannot tell until the next load), has not overflowed its
 *   pending marks, max is not 0, the company is not "" and no intent on the
 *   address is open. Anything else answers "may be": the store decides.
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
    uint64_t h;        /* 0: empty */
    long long expires; /* the pending marks': the intents open */
};

/* An open-addressing table of slots (cap a power of 2, or 0: none). */
struct table {
    struct slot *slots;
    size_t cap, n;
};

static pthread_rwlock_t lk = PTHREAD_RWLOCK_INITIALIZER;
static struct table ent, pend; /* guarded by lk, as everything below */
static long long max_entries, offset;
static int ready, full, overflow;
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

/* The slot of h in t, or of the empty slot where it would go (t->cap > 0). */
static size_t
find(const struct table *t, uint64_t h)
{
    size_t i = (size_t)h & (t->cap - 1);

    while (t->slots[i].h != 0 && t->slots[i].h != h)
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* The slot holding h in t, or -1. */
static long
lookup(const struct table *t, uint64_t h)
{
    size_t i;

    if (!t->cap)
        return -1;
    i = find(t, h);
    return t->slots[i].h == h ? (long)i : -1;
}

/* Empty both tables (locked). */
static void
clear(void)
{
    free(ent.slots);
    free(pend.slots);
    memset(&ent, 0, sizeof(ent));
    memset(&pend, 0, sizeof(pend));
    ready = full = overflow = 0;
}

/* Store time now, as this server reckons it (locked). */
static long long
store_now(void)
{
    return (long long)time(NULL) + offset;
}

/* Rebuild t with size slots, leaving out entries expired at now (expiring
 * 0: none, the pending marks); -1 out of memory (the table is kept). */
static int
rehash(struct table *t, size_t size, int expiring, long long now)
{
    struct table old = *t;
    size_t i;

    if (!(t->slots = calloc(size, sizeof(*t->slots)))) {
        t->slots = old.slots;
        return -1;
    }
    t->cap = size;
    t->n = 0;
    for (i = 0; i < old.cap; i++)
        if (old.slots[i].h && (!expiring || live(old.slots[i].expires, now))) {
            t->slots[find(t, old.slots[i].h)] = old.slots[i];
            t->n++;
        }
    free(old.slots);
    return 0;
}

/* Remove the slot i of t, shifting back the ones after it (locked). */
static void
remove_at(struct table *t, size_t i)
{
    size_t j = i, home, mask = t->cap - 1;

    for (;;) {
        j = (j + 1) & mask;
        if (t->slots[j].h == 0)
            break;
        home = (size_t)t->slots[j].h & mask;
        /* slot j may fill i when its home is not within (i, j] (cyclically) */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].h = 0;
    t->n--;
}

/* The answer for hash h at store time now, or -1 for "this server's
 * reckoning of store time" (locked, read). */
static int
maybe_locked(uint64_t h, long long now)
{
    long i;

    if (max_entries <= 0 || !ready || full || overflow || lookup(&pend, h) >= 0)
        return 1;
    i = lookup(&ent, h);
    return i >= 0 && live(ent.slots[i].expires, now < 0 ? store_now() : now);
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
    long at = lookup(&ent, h);
    size_t i;

    if (at >= 0) {
        ent.slots[at].expires = expires;
        return;
    }
    if ((long long)ent.n + 1 > max_entries && ent.cap && rehash(&ent, ent.cap, 1, now) < 0)
        full = 1;
    if (full || (long long)ent.n + 1 > max_entries) {
        full = 1; /* past the bound: "may be" for everyone until the next load */
        return;
    }
    if (!ent.cap || (ent.n + 1) * 4 > ent.cap * 3) {
        if (rehash(&ent, ent.cap ? ent.cap * 2 : MIN_SLOTS, 1, now) < 0) {
            full = 1;
            return;
        }
    }
    i = find(&ent, h);
    ent.slots[i].h = h;
    ent.slots[i].expires = expires;
    ent.n++;
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
    long i;

    if (!h)
        return;
    pthread_rwlock_wrlock(&lk);
    if ((i = lookup(&ent, h)) >= 0)
        remove_at(&ent, (size_t)i);
    pthread_rwlock_unlock(&lk);
}

/* Open an intent on h, or overflow when there is no room for it (locked). */
static void
open_locked(uint64_t h)
{
    long at = lookup(&pend, h);
    size_t i;

    if (at >= 0) {
        pend.slots[at].expires++;
        return;
    }
    if (overflow || pend.n + 1 > PM_SUPLOCAL_PENDING_MAX ||
        ((!pend.cap || (pend.n + 1) * 4 > pend.cap * 3) &&
         rehash(&pend, pend.cap ? pend.cap * 2 : MIN_SLOTS, 0, 0) < 0)) {
        overflow = 1; /* "may be" for everyone until the next load */
        return;
    }
    i = find(&pend, h);
    pend.slots[i].h = h;
    pend.slots[i].expires = 1;
    pend.n++;
}

/* An intent on company's entry of rcpt: "may be" until closed. */
void
pm_suplocal_open(const char *company, const char *rcpt)
{
    uint64_t h = hash_of(company, rcpt);

    if (!h)
        return; /* never held: always "may be" */
    pthread_rwlock_wrlock(&lk);
    if (max_entries > 0)
        open_locked(h);
    pthread_rwlock_unlock(&lk);
}

/* Close one intent on company's entry of rcpt (none open: nothing). */
void
pm_suplocal_close(const char *company, const char *rcpt)
{
    uint64_t h = hash_of(company, rcpt);
    long i;

    if (!h)
        return;
    pthread_rwlock_wrlock(&lk);
    if ((i = lookup(&pend, h)) >= 0 && --pend.slots[i].expires <= 0)
        remove_at(&pend, (size_t)i);
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

/* A note of the stream (pm_store_sup_follow's each): into the copy. The
 * final note's change is made before the intent closes: a reader never
 * sees the address unmarked and unchanged. */
void
pm_suplocal_change(void *arg, enum pm_sup_op op, const char *company, const char *rcpt,
                   long long expires)
{
    (void)arg;
    if (op == PM_SUP_CHK) {
        pm_suplocal_open(company, rcpt);
        return;
    }
    if (op == PM_SUP_ADD)
        pm_suplocal_add(company, rcpt, expires);
    else if (op == PM_SUP_DEL)
        pm_suplocal_del(company, rcpt);
    pm_suplocal_close(company, rcpt);
}

/* A note before the load's start (pm_store_sup_snapshot's note): its
 * intent only, opened or closed. */
void
pm_suplocal_pair(void *arg, enum pm_sup_op op, const char *company, const char *rcpt,
                 long long expires)
{
    (void)arg;
    (void)expires;
    if (op == PM_SUP_CHK)
        pm_suplocal_open(company, rcpt);
    else
        pm_suplocal_close(company, rcpt);
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
    out->entries = (long long)ent.n;
    out->pending = (long long)pend.n;
    out->max = max_entries;
    out->ready = ready;
    out->full = full;
    out->overflow = overflow;
    out->bytes = (ent.cap + pend.cap) * sizeof(struct slot);
    pthread_rwlock_unlock(&lk);
}
