/*
 * sknow.c - sender knowledge: the store's last answer about each sender, per
 * process.
 *
 * DESCRIPTION
 *     Every answer of the meter script (a RCPT probe, an end-of-message
 *     commit) is kept for its sender: the counters of every scope, the
 *     warm-up caps, the reputation, the plan override, the incident state,
 *     whether it fitted and, when not, which limit and until when, and the
 *     local monotonic time it came. At RCPT, pm_sknow_decide() answers
 *     without the store when that knowledge is fresh and leaves no doubt:
 *     the message fits every limit with a margin even if every recipient of
 *     unknown status is a first contact (go on), or the sender is over a
 *     message limit until a time still to come (refuse). Anything else, or
 *     an incident, asks the store. The end-of-message commit stays the
 *     authoritative check-and-count.
 *
 *     A refusal decided here is counted for the incident signals and the
 *     digest by the sender's next request to the store; at most one request
 *     a second is made for that (pm_sknow_refused). Refusals waiting are kept
 *     in a second table (PM_SKNOW_CARRY senders, with the names a request
 *     needs): when the sender sends nothing more, pm_sknow_due() hands them
 *     out a second after its last request (the milter's watcher thread sends
 *     them: pm_policy_carry()); when the table is full, the store is asked.
 *     They are counted per limit, and a request carries those of one limit
 *     (the meter script takes one count and its limit): the others wait for
 *     the next request, a second later.
 *
 *     The table is fixed: PM_SKNOW_SLOTS entries, four ways per set, the
 *     oldest of a set replaced; one mutex (libmilter calls from many threads).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "siphash.h"
#include "sknow.h"

#define WAYS 4
#define CARRY_MS 1000 /* local refusals are carried to the store at most this often */
#define REPLAY_S 5    /* an answer this much older than the store's time is a recorded one */
#define REPLAY_MS (1200 * 1000LL) /* ... told so by knowledge at most this old (the tx TTL) */

struct slot {
    struct pm_sknow_key key;
    int used;
    struct pm_sknow kn;
    long long carried_ms; /* when the last request for this sender was sent */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot table[PM_SKNOW_SLOTS];
#define COUNTERS (PM_C_REP_STOP + 1) /* every limit a refusal may name */

/* A sender's refusals waiting for a request, counted per limit (w.n: their
 * sum, 0: the entry is free; w.counter is not used). */
struct waiting {
    struct pm_sknow_carry w;
    long long n[COUNTERS];
};

static struct waiting carry[PM_SKNOW_CARRY];
static int n_carry;
static void (*on_wait)(void);

/* The key of a sender (see sknow.h). */
struct pm_sknow_key
pm_sknow_key(unsigned long long gen, const unsigned char key[16], const char *sender,
             const char *login, const char *domain)
{
    struct pm_sknow_key k;
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s%c%s%c%s", sender, 0, login ? login : "", 0,
                     domain ? domain : "");

    k.gen = gen;
    k.id = pm_siphash(key, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
    return k;
}

/* The slot of k (locked), or NULL. */
static struct slot *
sknow_find(const struct pm_sknow_key *k)
{
    size_t set = (size_t)(k->id % (PM_SKNOW_SLOTS / WAYS)) * WAYS, i;

    for (i = set; i < set + WAYS; i++)
        if (table[i].used && table[i].key.id == k->id && table[i].key.gen == k->gen)
            return &table[i];
    return NULL;
}

/* A slot for k (locked): its own, a free one, or the oldest of its set. */
static struct slot *
sknow_claim(const struct pm_sknow_key *k, long long mono_ms)
{
    size_t set = (size_t)(k->id % (PM_SKNOW_SLOTS / WAYS)) * WAYS, i;
    struct slot *s = sknow_find(k), *old = &table[set];

    if (s)
        return s;
    for (i = set; i < set + WAYS; i++) {
        if (!table[i].used) {
            old = &table[i];
            break;
        }
        if (table[i].kn.mono_ms < old->kn.mono_ms)
            old = &table[i];
    }
    memset(old, 0, sizeof(*old));
    old->key = *k;
    old->used = 1;
    old->carried_ms = mono_ms;
    return old;
}

/* Remember a store answer (see sknow.h). */
int
pm_sknow_put(const struct pm_sknow_key *k, const struct pm_meter_res *res, long long mono_ms)
{
    struct pm_sknow kn;
    struct slot *s;
    int kept = 1;

    memset(&kn, 0, sizeof(kn));
    memcpy(kn.used, res->used, sizeof(kn.used));
    memcpy(kn.warmup, res->warmup, sizeof(kn.warmup));
    kn.rep = res->rep;
    kn.plan = res->plan;
    kn.inc_state = res->inc_state;
    kn.fits = res->fits;
    kn.over_scope = res->over_scope;
    kn.over_counter = res->over_counter;
    kn.over_limit = res->over_limit;
    kn.over_used = res->over_used;
    kn.retry_at = res->retry_at;
    memcpy(kn.credits_left, res->credits_left, sizeof(kn.credits_left));
    kn.now = res->now;
    kn.mono_ms = mono_ms;
    pthread_mutex_lock(&mu);
    if ((s = sknow_find(k)) != NULL && mono_ms - s->kn.mono_ms <= REPLAY_MS &&
        res->now < pm_sknow_store_time(&s->kn, mono_ms) - REPLAY_S)
        kept = 0; /* a recorded answer given again: older than what is known */
    else
        sknow_claim(k, mono_ms)->kn = kn;
    pthread_mutex_unlock(&mu);
    return kept;
}

/* The knowledge of k (see sknow.h). */
int
pm_sknow_get(const struct pm_sknow_key *k, struct pm_sknow *out)
{
    struct slot *s;

    pthread_mutex_lock(&mu);
    if ((s = sknow_find(k)) != NULL)
        *out = s->kn;
    pthread_mutex_unlock(&mu);
    return s ? 0 : -1;
}

/* The store time at mono_ms, from kn's. */
long long
pm_sknow_store_time(const struct pm_sknow *kn, long long mono_ms)
{
    return kn->now + (mono_ms - kn->mono_ms) / 1000;
}

/* 1 when kn says the sender is over a message limit the message needs,
 * until a store time still to come, with nothing to make up for it. */
static int
sknow_over(const struct pm_sknow *kn, const struct pm_sknow_q *q, long long mono_ms)
{
    enum pm_counter c = kn->over_counter;
    int msg =
        c == PM_C_MSGS_HOUR || c == PM_C_MSGS_DAY || c == PM_C_WARMUP_DAY || c == PM_C_WARMUP_HOUR;
    int internal = c == PM_C_INT_HOUR || c == PM_C_INT_DAY;

    /* message credits may buy the message, and at reputation level 3 or 4 a
     * brake may refuse it with a reply of its own: the store decides */
    if (!q->enforce || kn->fits || kn->retry_at < 0 || kn->credits_left[0] > 0 ||
        kn->rep.level >= 3)
        return 0;
    if ((int)kn->over_scope < 0 || (int)kn->over_scope >= q->nscopes || !q->hard[kn->over_scope])
        return 0;
    if (!(msg && q->msgs > 0) && !(internal && q->internal > 0))
        return 0;
    /* the estimate may lag the store's clock by up to two seconds (whole
     * seconds): near retry_at the store decides */
    return kn->retry_at > pm_sknow_store_time(kn, mono_ms) + 2;
}

/* 1 when the message fits every limit of scope s in kn with q's margin. */
static int
sknow_scope_fits(const struct pm_sknow *kn, const struct pm_sknow_q *q, int s)
{
    long long lim[PM_C_COUNT],
        add[PM_C_COUNT] = {q->msgs, q->msgs, q->rcpts, q->rcpts, q->cold, q->internal, q->internal};
    const struct pm_warmup_res *w = &kn->warmup[s];
    int c;

    memcpy(lim, q->lim[s], sizeof(lim));
    /* the brakes the store applies to the sender's limits */
    if (s == PM_SCOPE_SENDER && kn->rep.level >= 2)
        pm_plan_halve(lim);
    if (s == PM_SCOPE_SENDER && kn->rep.reply_brake && lim[PM_C_NEW_DAY] > 0)
        lim[PM_C_NEW_DAY] = lim[PM_C_NEW_DAY] / 2 > 0 ? lim[PM_C_NEW_DAY] / 2 : 1;
    for (c = 0; c < PM_C_COUNT; c++)
        if (lim[c] > 0 && add[c] > 0 && kn->used[s][c] + add[c] + q->margin > lim[c])
            return 0;
    if (w->active && q->msgs > 0 &&
        (w->today + q->msgs + q->margin > w->day_cap ||
         kn->used[s][PM_C_MSGS_HOUR] + q->msgs + q->margin > w->hour_cap))
        return 0;
    return 1;
}

/* Decide with knowledge (see sknow.h). */
enum pm_sknow_act
pm_sknow_decide(const struct pm_sknow *kn, const struct pm_sknow_q *q, long long mono_ms)
{
    long long age = mono_ms - kn->mono_ms;
    int s;

    if (q->fresh_ms <= 0 || age < 0 || age > q->fresh_ms || kn->inc_state != PM_INCS_NONE)
        return PM_SKNOW_ASK;
    if (sknow_over(kn, q, mono_ms))
        return PM_SKNOW_REFUSE;
    /* the reputation brakes refuse first contacts, or all external mail */
    if ((kn->rep.level >= 4 && q->rcpts > 0) || (kn->rep.level >= 3 && q->cold > 0))
        return PM_SKNOW_ASK;
    for (s = 0; s < q->nscopes && s < PM_SCOPE_COUNT; s++)
        if (!sknow_scope_fits(kn, q, s))
            return PM_SKNOW_ASK;
    return PM_SKNOW_GO;
}

/* An answer like kn's at store time now (see sknow.h). */
void
pm_sknow_res(const struct pm_sknow *kn, long long now, struct pm_meter_res *res)
{
    memset(res, 0, sizeof(*res));
    memcpy(res->used, kn->used, sizeof(res->used));
    memcpy(res->warmup, kn->warmup, sizeof(res->warmup));
    res->rep = kn->rep;
    res->plan = kn->plan;
    res->inc_state = kn->inc_state;
    res->fits = kn->fits;
    res->over_scope = kn->over_scope;
    res->over_counter = kn->over_counter;
    res->over_limit = kn->over_limit;
    res->over_used = kn->over_used;
    res->retry_at = kn->retry_at;
    memcpy(res->credits_left, kn->credits_left, sizeof(res->credits_left));
    res->now = now;
    res->refs_known = -1;
}

/* The waiting refusals of k (locked), or NULL. */
static struct waiting *
carry_find(const struct pm_sknow_key *k)
{
    int i;

    for (i = 0; i < PM_SKNOW_CARRY && n_carry > 0; i++)
        if (carry[i].w.n > 0 && carry[i].w.key.id == k->id && carry[i].w.key.gen == k->gen)
            return &carry[i];
    return NULL;
}

/* A free entry for waiting refusals (locked), or NULL. */
static struct waiting *
carry_free(void)
{
    int i;

    for (i = 0; i < PM_SKNOW_CARRY; i++)
        if (carry[i].w.n == 0)
            return &carry[i];
    return NULL;
}

/* Add n refusals of counter c to w (locked). */
static void
carry_add(struct waiting *w, enum pm_counter c, long long n)
{
    if ((int)c < 0 || (int)c >= COUNTERS)
        c = PM_C_MSGS_HOUR;
    w->n[c] += n;
    w->w.n += n;
}

/* Take from w (locked) into out the refusals of one limit (the most
 * numerous, the first of equals): the others wait again, due a second after
 * mono_ms. */
static void
carry_take(struct waiting *w, long long mono_ms, struct pm_sknow_carry *out)
{
    int c, most = 0;

    for (c = 1; c < COUNTERS; c++)
        if (w->n[c] > w->n[most])
            most = c;
    *out = w->w;
    out->n = w->n[most];
    out->counter = (enum pm_counter)most;
    w->n[most] = 0;
    w->w.n -= out->n;
    w->w.since_ms = mono_ms;
    if (w->w.n == 0)
        n_carry--;
}

/* A refusal decided here (see sknow.h). */
int
pm_sknow_refused(const struct pm_sknow_key *k, enum pm_counter c, const char *sender,
                 const char *login, const char *domain, long long mono_ms)
{
    struct waiting *w = NULL;
    struct slot *s;
    void (*wake)(void) = NULL;

    pthread_mutex_lock(&mu);
    if ((s = sknow_find(k)) != NULL && mono_ms - s->carried_ms < CARRY_MS &&
        (w = carry_find(k)) == NULL && (w = carry_free()) != NULL) {
        memset(w, 0, sizeof(*w));
        w->w.key = *k;
        snprintf(w->w.sender, sizeof(w->w.sender), "%s", sender);
        snprintf(w->w.login, sizeof(w->w.login), "%s", login ? login : "");
        snprintf(w->w.domain, sizeof(w->w.domain), "%s", domain ? domain : "");
        w->w.since_ms = s->carried_ms;
        if (n_carry++ == 0)
            wake = on_wait;
    }
    if (w)
        carry_add(w, c, 1);
    pthread_mutex_unlock(&mu);
    if (wake)
        wake();
    return w != NULL;
}

/* Take the refusals decided here (see sknow.h). */
long long
pm_sknow_take(const struct pm_sknow_key *k, enum pm_counter *c, long long mono_ms)
{
    struct pm_sknow_carry out;
    struct waiting *w;
    struct slot *s;
    long long n = 0;

    pthread_mutex_lock(&mu);
    if ((s = sknow_find(k)) != NULL)
        s->carried_ms = mono_ms;
    if ((w = carry_find(k)) != NULL) {
        carry_take(w, mono_ms, &out);
        n = out.n;
        *c = out.counter;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

/* Refusals due for a request of their own (see sknow.h). */
int
pm_sknow_due(long long mono_ms, struct pm_sknow_carry *out)
{
    struct slot *s;
    int i, found = 0;

    pthread_mutex_lock(&mu);
    for (i = 0; i < PM_SKNOW_CARRY && n_carry > 0 && !found; i++) {
        if (carry[i].w.n == 0 || mono_ms - carry[i].w.since_ms < CARRY_MS)
            continue;
        carry_take(&carry[i], mono_ms, out);
        found = 1;
        if ((s = sknow_find(&out->key)) != NULL)
            s->carried_ms = mono_ms;
    }
    pthread_mutex_unlock(&mu);
    return found;
}

/* Give back refusals a request could not carry (see sknow.h). */
int
pm_sknow_give_back(const struct pm_sknow_carry *c, long long mono_ms)
{
    struct waiting *w;

    if (c->n <= 0)
        return 1;
    pthread_mutex_lock(&mu);
    if ((w = carry_find(&c->key)) == NULL && (w = carry_free()) != NULL) {
        memset(w, 0, sizeof(*w));
        w->w = *c;
        w->w.n = 0;
        n_carry++;
    }
    if (w) {
        carry_add(w, c->counter, c->n);
        w->w.since_ms = mono_ms;
    }
    pthread_mutex_unlock(&mu);
    return w != NULL;
}

/* When the next refusals are due (see sknow.h). */
long long
pm_sknow_next_due(void)
{
    long long due = -1;
    int i;

    pthread_mutex_lock(&mu);
    for (i = 0; i < PM_SKNOW_CARRY && n_carry > 0; i++)
        if (carry[i].w.n > 0 && (due < 0 || carry[i].w.since_ms + CARRY_MS < due))
            due = carry[i].w.since_ms + CARRY_MS;
    pthread_mutex_unlock(&mu);
    return due;
}

/* Who to wake when refusals start waiting (see sknow.h). */
void
pm_sknow_on_wait(void (*wake)(void))
{
    pthread_mutex_lock(&mu);
    on_wait = wake;
    pthread_mutex_unlock(&mu);
}

/* Forget everything (see sknow.h). */
void
pm_sknow_clear(void)
{
    pthread_mutex_lock(&mu);
    memset(table, 0, sizeof(table));
    memset(carry, 0, sizeof(carry));
    n_carry = 0;
    pthread_mutex_unlock(&mu);
}
