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

/* Record one feedback event; 0 on success, -1 on a store error. */
int
pm_store_feedback(struct pm_store *st, const struct pm_feedback_req *req, char *err, size_t errlen)
{
    if (!st->ops->feedback) {
        snprintf(err, errlen, "this store keeps no feedback");
        return -1;
    }
    return st->ops->feedback(st->impl, req, err, errlen);
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
    static const char *names[PM_C_COUNT] = {"messages_per_hour", "messages_per_day",
                                            "recipients_per_hour", "recipients_per_day",
                                            "new_recipients_per_day"};

    return (unsigned)c < PM_C_COUNT ? names[c] : "?";
}
