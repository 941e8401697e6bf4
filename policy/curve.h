/*
 * curve.h - warm-up curves for new and dormant senders (pure arithmetic).
 *
 * A sender that never sent, or was silent for dormant_days, warms up: its
 * daily cap follows a curve, one stage per active sending day (a UTC day on
 * which it sent), until the curve reaches the plan's own daily limit. The
 * hourly cap is a share of the day's cap. This builds the curves of the
 * configuration; the stages themselves are kept and moved by the meter
 * script (meter_warmup.lua), and tested there against a real Redis
 * (tests/integration/store.sh).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CURVE_H
#define PM_CURVE_H

#include <stddef.h>

#define PM_WARMUP_MAX_STAGES 120

/* The greatest daily cap of a stage: the greatest limit a plan can set (the
 * loader's PM_LIMIT_MAX). A curve ends before a stage above it, so every cap
 * and every product of a cap and a share stays far from overflowing. */
#define PM_WARMUP_CAP_MAX 1000000000LL

/* A curve: the daily cap of each stage, strictly increasing. */
struct pm_curve {
    long long cap[PM_WARMUP_MAX_STAGES];
    size_t n; /* 0: no warm-up */
};

/*
 * Build a curve from start and growth (cap[i] = round(start * growth^i)),
 * stopping at the first stage that reaches limit (0: no limit, then at most
 * 60 stages) or exceeds PM_WARMUP_CAP_MAX. Returns 0, or -1 when start is
 * not within 1..PM_WARMUP_CAP_MAX or growth is not above 1 (NaN included).
 */
int pm_curve_from_growth(long long start, double growth, long long limit, struct pm_curve *out);

/* Build a curve from an explicit list; -1 when it is not strictly increasing,
 * holds a cap outside 1..PM_WARMUP_CAP_MAX or is longer than
 * PM_WARMUP_MAX_STAGES. Entries from limit on are dropped. */
int pm_curve_from_list(const long long *caps, size_t n, long long limit, struct pm_curve *out);

/* Today's warm-up cap at a 0-based stage, or 0 when warm-up is over (the
 * plan's limits apply alone). */
long long pm_curve_day_cap(const struct pm_curve *c, long long stage);

/* The hourly cap for a day cap: ceil(day_cap * share), at least 1 and at
 * most day_cap, for any share (NaN included); 0 for a day cap of 0 or less. */
long long pm_curve_hour_cap(long long day_cap, double share);

#endif
