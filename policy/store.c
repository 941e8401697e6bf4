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

/* Ask the store; 0 on success, -1 on a store error. */
int
pm_store_meter(struct pm_store *st, const struct pm_meter_req *req, struct pm_meter_res *res,
               char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    res->plan = -1;
    return st->ops->meter(st->impl, req, res, err, errlen);
}

/* Say that a store does not implement an operation; -1. */
static int
store_unsupported(const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "this store keeps no %s", what);
    return -1;
}

/* Record what one incoming message says; 0 on success, -1 on a store error. */
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
