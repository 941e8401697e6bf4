/*
 * store.c - the storage interface's dispatch: a store is a table of
 * operations and the implementation's private handle.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* Wrap an implementation; NULL on allocation failure. */
struct pm_store *
pm_store_new(const struct pm_store_ops *ops, void *impl)
{
    struct pm_store *st = calloc(1, sizeof(*st));

    if (st) {
        st->ops = ops;
        st->impl = impl;
    }
    return st;
}

/* Ask the store; PM_STORE_OK, or a failure. */
int
pm_store_meter(struct pm_store *st, const struct pm_meter_req *req, struct pm_meter_res *res,
               char *err, size_t errlen)
{
    int rc;

    memset(res, 0, sizeof(*res));
    res->plan = -1;
    rc = st->ops->meter(st->impl, req, res, err, errlen);
    if (rc == 0 && res->inc_state != PM_INCS_NONE && req->scope[PM_SCOPE_SENDER].id)
        snprintf(res->inc.sender, sizeof(res->inc.sender), "%s", req->scope[PM_SCOPE_SENDER].id);
    return rc;
}

/* Say that a store does not implement an operation; PM_STORE_ERROR. */
static int
store_unsupported(const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "this store keeps no %s", what);
    return PM_STORE_ERROR;
}

/* Record what one incoming message says; PM_STORE_OK, or a failure. */
int
pm_store_feedback(struct pm_store *st, const struct pm_feedback_req *req,
                  enum pm_feedback_kind *out, char *err, size_t errlen)
{
    if (!st->ops->feedback)
        return store_unsupported("feedback", err, errlen);
    return st->ops->feedback(st->impl, req, out, err, errlen);
}

/* The suppression list, entry by entry. */
int
pm_store_suppress_list(struct pm_store *st, const char *company, const char *rcpt,
                       int (*each)(void *arg, const char *company, const char *rcpt,
                                   const struct pm_suppressed *e),
                       void *arg, char *err, size_t errlen)
{
    if (!st->ops->suppress_list)
        return store_unsupported("suppression list", err, errlen);
    return st->ops->suppress_list(st->impl, company, rcpt, each, arg, err, errlen);
}

/* Add or remove a suppression list entry. */
int
pm_store_suppress_set(struct pm_store *st, const char *company, const char *rcpt,
                      const char *status, const char *by, int days, char *err, size_t errlen)
{
    if (!st->ops->suppress_set)
        return store_unsupported("suppression list", err, errlen);
    return st->ops->suppress_set(st->impl, company, rcpt, status, by, days, err, errlen);
}

/* Move suppression entries of the old layout to their companies. */
int
pm_store_suppress_migrate(struct pm_store *st, const char *const *companies, size_t n,
                          long long *moved, char *err, size_t errlen)
{
    if (!st->ops->suppress_migrate)
        return store_unsupported("suppression list", err, errlen);
    return st->ops->suppress_migrate(st->impl, companies, n, moved, err, errlen);
}

/* The store's clock. */
int
pm_store_now(struct pm_store *st, long long *now, char *err, size_t errlen)
{
    if (!st->ops->now)
        return store_unsupported("clock", err, errlen);
    return st->ops->now(st->impl, now, err, errlen);
}

/* A daemon's copy of the suppression lists: every entry and the stream's last id. */
int
pm_store_sup_snapshot(struct pm_store *st, char *last, size_t lastlen,
                      void (*note)(void *arg, enum pm_sup_op op, const char *company,
                                   const char *rcpt, long long expires),
                      void (*each)(void *arg, const char *company, const char *rcpt,
                                   long long expires),
                      void *arg, int (*stop)(void), long long *now, char *err, size_t errlen)
{
    if (!st->ops->sup_snapshot)
        return store_unsupported("stream of suppression changes", err, errlen);
    return st->ops->sup_snapshot(st->impl, last, lastlen, note, each, arg, stop, now, err, errlen);
}

/* The changes of the suppression lists after last. */
int
pm_store_sup_follow(struct pm_store *st, char *last, size_t lastlen, int block_ms,
                    void (*each)(void *arg, enum pm_sup_op op, const char *company,
                                 const char *rcpt, long long expires),
                    void *arg, long long *now, char *err, size_t errlen)
{
    if (!st->ops->sup_follow)
        return store_unsupported("stream of suppression changes", err, errlen);
    return st->ops->sup_follow(st->impl, last, lastlen, block_ms, each, arg, now, err, errlen);
}

/* A sender's plan override. */
int
pm_store_plan_get(struct pm_store *st, const char *sender, struct pm_override *o, char *err,
                  size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->ttl = -1;
    if (!st->ops->plan_get)
        return store_unsupported("plan overrides", err, errlen);
    return st->ops->plan_get(st->impl, sender, o, err, errlen);
}

/* Set or clear a sender's plan override. */
int
pm_store_plan_set(struct pm_store *st, const char *sender, const char *plan, long long keep,
                  int *had, char *err, size_t errlen)
{
    *had = 0;
    if (!st->ops->plan_set)
        return store_unsupported("plan overrides", err, errlen);
    return st->ops->plan_set(st->impl, sender, plan, keep, had, err, errlen);
}

/* A sender's credits. */
int
pm_store_credits(struct pm_store *st, const char *sender, struct pm_credits *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!st->ops->credits)
        return store_unsupported("credits", err, errlen);
    return st->ops->credits(st->impl, sender, out, err, errlen);
}

/* Release what pm_store_credits() filled in. */
void
pm_credits_free(struct pm_credits *c)
{
    free(c->grant);
    free(c->move);
    memset(c, 0, sizeof(*c));
}

/* Add a grant of credits. */
int
pm_store_credit_add(struct pm_store *st, const char *sender, const struct pm_grant_req *g,
                    struct pm_grant_res *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    if (!st->ops->credit_set)
        return store_unsupported("credits", err, errlen);
    return st->ops->credit_set(st->impl, sender, g, 0, g->note, res, err, errlen);
}

/* Revoke a grant of credits. */
int
pm_store_credit_revoke(struct pm_store *st, const char *sender, long long id, const char *note,
                       struct pm_grant_res *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    if (!st->ops->credit_set)
        return store_unsupported("credits", err, errlen);
    return st->ops->credit_set(st->impl, sender, NULL, id, note, res, err, errlen);
}

/* Reset or skip a warm-up. */
int
pm_store_warmup_set(struct pm_store *st, const struct pm_warmup_set *w, int *had, long long *day,
                    char *err, size_t errlen)
{
    *had = 0;
    *day = 0;
    if (!st->ops->warmup_set)
        return store_unsupported("warm-up state", err, errlen);
    return st->ops->warmup_set(st->impl, w, had, day, err, errlen);
}

/* Where a recipient stands as a contact. */
int
pm_store_contact_days(struct pm_store *st, const char *sender, const char *company,
                      const char *hash, struct pm_contact_days *out, char *err, size_t errlen)
{
    out->sender = out->learned = out->company = -1;
    if (!st->ops->contact_days)
        return store_unsupported("contacts", err, errlen);
    return st->ops->contact_days(st->impl, sender, company, hash, out, err, errlen);
}

/* The senders of the daily top index. */
int
pm_store_top(struct pm_store *st, int days, int limit, int (*each)(void *arg, const char *sender),
             void *arg, long long *now, char *err, size_t errlen)
{
    *now = 0;
    if (!st->ops->top)
        return store_unsupported("top index", err, errlen);
    return st->ops->top(st->impl, days, limit, each, arg, now, err, errlen);
}

/* The installation's learning start. */
int
pm_store_learning(struct pm_store *st, int record, long long keep, long long *start, long long *now,
                  char *err, size_t errlen)
{
    *start = *now = 0;
    if (!st->ops->learning)
        return store_unsupported("learning start", err, errlen);
    return st->ops->learning(st->impl, record, keep, start, now, err, errlen);
}

/* Write contacts learned from logs. */
int
pm_store_seed(struct pm_store *st, const struct pm_seed_req *req, struct pm_seed_res *res,
              char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    if (!st->ops->seed)
        return store_unsupported("contacts", err, errlen);
    if (req->n > PM_SEED_MAX) {
        snprintf(err, errlen, "a seed request of %zu contacts (at most %d)", req->n, PM_SEED_MAX);
        return PM_STORE_ERROR;
    }
    return st->ops->seed(st->impl, req, res, err, errlen);
}

/* Write a daemon's heartbeat. */
int
pm_store_server_beat(struct pm_store *st, const struct pm_server_beat *b, char *err, size_t errlen)
{
    if (!st->ops->server_beat)
        return store_unsupported("heartbeats", err, errlen);
    return st->ops->server_beat(st->impl, b, err, errlen);
}

/* Announce companies to the company registry. */
int
pm_store_announce(struct pm_store *st, const char *const *companies, size_t n, long long *born,
                  char *err, size_t errlen)
{
    if (!st->ops->announce)
        return store_unsupported("company registry", err, errlen);
    return st->ops->announce(st->impl, companies, n, born, err, errlen);
}

/* The daemons whose heartbeat is recent, one by one. */
int
pm_store_servers(struct pm_store *st, int (*each)(void *arg, const struct pm_server *s), void *arg,
                 long long *now, char *err, size_t errlen)
{
    *now = 0;
    if (!st->ops->servers)
        return store_unsupported("heartbeats", err, errlen);
    return st->ops->servers(st->impl, each, arg, now, err, errlen);
}

/* Delete every key of the store's prefix. */
int
pm_store_forget_all(struct pm_store *st, long long *deleted, char *err, size_t errlen)
{
    *deleted = 0;
    if (!st->ops->forget_all)
        return store_unsupported("keys to forget", err, errlen);
    return st->ops->forget_all(st->impl, deleted, err, errlen);
}

/* Move the keys to the current key layout. */
int
pm_store_migrate(struct pm_store *st, struct pm_migrate_res *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    if (!st->ops->migrate)
        return store_unsupported("key layouts", err, errlen);
    return st->ops->migrate(st->impl, res, err, errlen);
}

/* Claim the digest of day. */
int
pm_store_digest_elect(struct pm_store *st, long long day, const char *holder, int *won, char *err,
                      size_t errlen)
{
    *won = 0;
    if (!st->ops->digest_elect)
        return store_unsupported("the daily digest", err, errlen);
    return st->ops->digest_elect(st->impl, day, holder, won, err, errlen);
}

/* Give up the claim of day's digest. */
int
pm_store_digest_unclaim(struct pm_store *st, long long day, char *err, size_t errlen)
{
    if (!st->ops->digest_unclaim)
        return store_unsupported("the daily digest", err, errlen);
    return st->ops->digest_unclaim(st->impl, day, err, errlen);
}

/* The refusal counts of day. */
int
pm_store_digest_hits(struct pm_store *st, long long day,
                     int (*each)(void *arg, const char *sender, const char *limit, long long n),
                     void *arg, char *err, size_t errlen)
{
    if (!st->ops->digest_hits)
        return store_unsupported("the daily digest", err, errlen);
    return st->ops->digest_hits(st->impl, day, each, arg, err, errlen);
}

/* The name of a feedback result, as logged ("feedback=hard_bounce"). */
const char *
pm_feedback_name(enum pm_feedback_kind k)
{
    static const char *names[PM_FB_KIND_COUNT] = {
        "hard_bounce", "block", "unmatched", "duplicate", "reply", "learned", "known", "capped"};

    return (unsigned)k < PM_FB_KIND_COUNT ? names[k] : "?";
}

/* Release a store and its implementation. */
void
pm_store_free(struct pm_store *st)
{
    if (!st)
        return;
    if (st->ops->free)
        st->ops->free(st->impl);
    free(st);
}

/* The configuration key's name for a counter. */
const char *
pm_counter_name(enum pm_counter c)
{
    static const char *names[PM_C_COUNT] = {
        "messages_per_hour",        "messages_per_day",       "recipients_per_hour",
        "recipients_per_day",       "new_recipients_per_day", "internal_messages_per_hour",
        "internal_messages_per_day"};

    return (unsigned)c < PM_C_COUNT ? names[c] : "?";
}

/* A sender's incident. */
int
pm_store_incident_get(struct pm_store *st, const char *sender, struct pm_incident *inc,
                      long long *now, char *err, size_t errlen)
{
    memset(inc, 0, sizeof(*inc));
    if (!st->ops->incident_get)
        return store_unsupported("incidents", err, errlen);
    return st->ops->incident_get(st->impl, sender, inc, now, err, errlen);
}

/* The senders in incident. */
int
pm_store_incident_list(struct pm_store *st, int (*each)(void *arg, const struct pm_incident *inc),
                       void *arg, long long *now, char *err, size_t errlen)
{
    if (!st->ops->incident_list)
        return store_unsupported("incidents", err, errlen);
    return st->ops->incident_list(st->impl, each, arg, now, err, errlen);
}

/* Open an incident by hand. */
int
pm_store_incident_open(struct pm_store *st, const char *sender, const struct pm_incident_open *o,
                       int *opened, struct pm_incident *inc, char *err, size_t errlen)
{
    memset(inc, 0, sizeof(*inc));
    *opened = 0;
    if (!st->ops->incident_open)
        return store_unsupported("incidents", err, errlen);
    return st->ops->incident_open(st->impl, sender, o, opened, inc, err, errlen);
}

/* End a sender's incident. */
int
pm_store_incident_release(struct pm_store *st, const char *sender, struct pm_incident *was,
                          char *err, size_t errlen)
{
    memset(was, 0, sizeof(*was));
    if (!st->ops->incident_release)
        return store_unsupported("incidents", err, errlen);
    return st->ops->incident_release(st->impl, sender, was, err, errlen);
}

/* The digest's silent senders. */
int
pm_store_digest_silent(struct pm_store *st, long long min_first,
                       int (*each)(void *arg, const char *sender, long long first), void *arg,
                       char *err, size_t errlen)
{
    if (!st->ops->digest_silent)
        return store_unsupported("the daily digest", err, errlen);
    return st->ops->digest_silent(st->impl, min_first, each, arg, err, errlen);
}
