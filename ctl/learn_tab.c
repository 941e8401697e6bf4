/*
 * learn_tab.c - postmeterctl learn's tables: a small map of strings, the
 * company's senders (their active days, and the contacts read but not yet
 * written) and the messages in flight by queue id (who sent them, and
 * whether one of their deliveries was counted).
 *
 * Every table is bounded: at most LEARN_SENDERS_MAX senders (more are
 * counted and left out), LEARN_QUEUE_MAX messages in flight (past that the
 * older half is forgotten and counted: a log whose "removed" lines are
 * missing cannot grow it), and the pending contacts are written out by the
 * caller before LEARN_PENDING_MAX.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>
#include <string.h>

#include "learn.h"

/* FNV-1a of len bytes. */
static uint64_t
lmap_hash(const char *key, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The entry of key, or NULL. */
struct lmap_ent *
lmap_get(const struct lmap *m, const char *key, size_t len)
{
    uint64_t h = lmap_hash(key, len);
    struct lmap_ent *e;

    if (!m->nb)
        return NULL;
    for (e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

/* Double the buckets when the map holds as many entries; -1 out of memory. */
static int
lmap_grow(struct lmap *m)
{
    size_t nb = m->nb ? m->nb * 2 : 64, i;
    struct lmap_ent **b, *e, *next;

    if (m->n < m->nb)
        return 0;
    if (!(b = calloc(nb, sizeof(*b))))
        return m->nb ? 0 : -1; /* a full map still works, only slower */
    for (i = 0; i < m->nb; i++)
        for (e = m->b[i]; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

/* The entry of key, made when absent. */
struct lmap_ent *
lmap_put(struct lmap *m, const char *key, size_t len, int *made)
{
    struct lmap_ent *e = lmap_get(m, key, len);
    size_t i;

    *made = 0;
    if (e)
        return e;
    if (lmap_grow(m) < 0 || !(e = calloc(1, sizeof(*e) + len + 1)))
        return NULL;
    e->hash = lmap_hash(key, len);
    e->len = len;
    memcpy(e->key, key, len);
    i = e->hash & (m->nb - 1);
    e->next = m->b[i];
    m->b[i] = e;
    m->n++;
    *made = 1;
    return e;
}

/* Remove and free an entry. */
void
lmap_del(struct lmap *m, struct lmap_ent *e)
{
    struct lmap_ent **p = &m->b[e->hash & (m->nb - 1)];

    while (*p && *p != e)
        p = &(*p)->next;
    if (*p) {
        *p = e->next;
        m->n--;
        free(e);
    }
}

/* Free every entry and the buckets. */
void
lmap_clear(struct lmap *m, void (*freeval)(void *))
{
    struct lmap_ent *e, *next;
    size_t i;

    for (i = 0; i < m->nb; i++)
        for (e = m->b[i]; e; e = next) {
            next = e->next;
            if (freeval)
                freeval(e->val);
            free(e);
        }
    free(m->b);
    memset(m, 0, sizeof(*m));
}

/* Call fn for each entry. */
void
lmap_each(const struct lmap *m, void (*fn)(void *arg, struct lmap_ent *e), void *arg)
{
    struct lmap_ent *e, *next;
    size_t i;

    for (i = 0; i < m->nb; i++)
        for (e = m->b[i]; e; e = next) {
            next = e->next;
            fn(arg, e);
        }
}

/* The sender of address addr, made when absent. */
struct learn_sender *
learn_sender(struct learn_tab *t, const char *addr, const char *domain)
{
    struct lmap_ent *e = lmap_get(&t->senders, addr, strlen(addr));
    struct learn_sender *s;
    int made;

    if (e)
        return e->val;
    if (t->senders.n >= LEARN_SENDERS_MAX) {
        t->senders_dropped++;
        return NULL;
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->addr = strdup(addr)) ||
        !(s->domain = strdup(domain ? domain : "")) ||
        !(e = lmap_put(&t->senders, addr, strlen(addr), &made))) {
        if (s) {
            free(s->addr);
            free(s->domain);
        }
        free(s);
        return NULL;
    }
    e->val = s;
    return s;
}

/* Add a local day to a sender's active days (ascending, the newest kept). */
void
learn_sender_day(struct learn_sender *s, long long day)
{
    int lo = 0, hi = s->ndays, mid;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        if (s->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->ndays && s->days[lo] == day)
        return;
    if (s->ndays == LEARN_DAYS_KEPT) {
        if (lo == 0)
            return; /* older than every day kept */
        memmove(s->days, s->days + 1, (size_t)(lo - 1) * sizeof(s->days[0]));
        s->days[lo - 1] = day;
        return;
    }
    memmove(s->days + lo + 1, s->days + lo, (size_t)(s->ndays - lo) * sizeof(s->days[0]));
    s->days[lo] = day;
    s->ndays++;
}

/* Hold a contact of a sender: its latest day. */
int
learn_contact(struct learn_tab *t, struct learn_sender *s, const char *hash, long long day)
{
    struct lmap_ent *e;
    int made;

    if (!(e = lmap_put(&s->pending, hash, 16, &made)))
        return -1;
    if (made) {
        e->num = day;
        t->pending++;
    } else if (day > e->num) {
        e->num = day;
    }
    return 0;
}

/* Free a message in flight. */
static void
queue_free(void *v)
{
    struct learn_queue *q = v;

    if (q)
        free(q->login);
    free(q);
}

/* Bounds of the seq values in the queue. */
struct seq_span {
    long long lo, hi, cut;
    struct lmap *m;
    long long dropped;
};

/* Note the span of seq. */
static void
seq_span_of(void *arg, struct lmap_ent *e)
{
    struct seq_span *s = arg;
    struct learn_queue *q = e->val;

    if (q->seq < s->lo)
        s->lo = q->seq;
    if (q->seq > s->hi)
        s->hi = q->seq;
}

/* Forget an entry at or before the cut. */
static void
seq_drop(void *arg, struct lmap_ent *e)
{
    struct seq_span *s = arg;

    if (((struct learn_queue *)e->val)->seq <= s->cut) {
        queue_free(e->val);
        lmap_del(s->m, e);
        s->dropped++;
    }
}

/* The message in flight of queue id qid. */
struct learn_queue *
learn_queue(struct learn_tab *t, const char *qid, int make)
{
    size_t len = strlen(qid);
    struct lmap_ent *e = lmap_get(&t->queue, qid, len);
    struct seq_span span = {0};
    int made;

    if (e) {
        ((struct learn_queue *)e->val)->seq = ++t->seq;
        return e->val;
    }
    if (!make)
        return NULL;
    if (t->queue.n >= LEARN_QUEUE_MAX) {
        /* the older half goes: a log without "removed" lines cannot grow the table */
        span.lo = t->seq + 1;
        span.hi = -1;
        span.m = &t->queue;
        lmap_each(&t->queue, seq_span_of, &span);
        span.cut = span.lo + (span.hi - span.lo) / 2;
        lmap_each(&t->queue, seq_drop, &span);
        t->queue_dropped += span.dropped;
    }
    if (!(e = lmap_put(&t->queue, qid, len, &made)))
        return NULL;
    if (!(e->val = calloc(1, sizeof(struct learn_queue)))) {
        lmap_del(&t->queue, e);
        return NULL;
    }
    ((struct learn_queue *)e->val)->seq = ++t->seq;
    return e->val;
}

/* Forget the message of queue id qid. */
void
learn_queue_done(struct learn_tab *t, const char *qid)
{
    struct lmap_ent *e = lmap_get(&t->queue, qid, strlen(qid));

    if (e) {
        queue_free(e->val);
        lmap_del(&t->queue, e);
    }
}

/* Free a sender. */
static void
sender_free(void *v)
{
    struct learn_sender *s = v;

    if (!s)
        return;
    lmap_clear(&s->pending, NULL);
    free(s->addr);
    free(s->domain);
    free(s);
}

/* Free everything. */
void
learn_tab_free(struct learn_tab *t)
{
    lmap_clear(&t->queue, queue_free);
    lmap_clear(&t->senders, sender_free);
    t->pending = 0;
}
