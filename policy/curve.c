/*
 * curve.c - warm-up curves for new and dormant senders (pure arithmetic).
 *
 * Builds the daily and hourly caps of each stage from the configuration (the
 * meter script applies them: meter_warmup.lua keeps and moves the stages).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <math.h>
#include <string.h>

#include "curve.h"

/* Build a curve from start and growth. */
int
pm_curve_from_growth(long long start, double growth, long long limit, struct pm_curve *out)
{
    double v = (double)start;
    long long cap, prev = 0;

    memset(out, 0, sizeof(*out));
    if (start < 1 || start > PM_WARMUP_CAP_MAX || !(growth > 1.0))
        return -1;
    while (out->n < (limit ? PM_WARMUP_MAX_STAGES : 60)) {
        if (!(v <= (double)PM_WARMUP_CAP_MAX))
            break; /* past the greatest cap (or infinite): llround could not hold it */
        cap = llround(v);
        if (cap <= prev)
            cap = prev + 1;
        if (cap > PM_WARMUP_CAP_MAX || (limit && cap >= limit))
            break;
        out->cap[out->n++] = prev = cap;
        v *= growth;
    }
    return 0;
}

/* Build a curve from an explicit list. */
int
pm_curve_from_list(const long long *caps, size_t n, long long limit, struct pm_curve *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    if (n > PM_WARMUP_MAX_STAGES)
        return -1;
    for (i = 0; i < n; i++)
        if (caps[i] < 1 || caps[i] > PM_WARMUP_CAP_MAX || (i > 0 && caps[i] <= caps[i - 1]))
            return -1;
    for (i = 0; i < n && !(limit && caps[i] >= limit); i++)
        out->cap[out->n++] = caps[i];
    return 0;
}

/* Today's warm-up cap at a 0-based stage, or 0 when warm-up is over. */
long long
pm_curve_day_cap(const struct pm_curve *c, long long stage)
{
    if (stage < 0)
        stage = 0;
    return (unsigned long long)stage < c->n ? c->cap[stage] : 0;
}

/* The hourly cap for a day cap. */
long long
pm_curve_hour_cap(long long day_cap, double share)
{
    double h;

    if (day_cap <= 0)
        return 0;
    h = ceil((double)day_cap * share - 1e-9);
    if (!(h >= 1.0))
        return 1; /* a share of 0, below 0 or NaN */
    if (h >= (double)day_cap)
        return day_cap; /* never above the day's cap, nor beyond a long long */
    return (long long)h;
}
