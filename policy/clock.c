/*
 * clock.c - the monotonic clock, for timeouts, backoffs and ages (never for
 * what a sender used: that is the store's time, Redis's clock).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <time.h>

#include "clock.h"

/* Milliseconds on CLOCK_MONOTONIC. */
long long
pm_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whole seconds on CLOCK_MONOTONIC. */
long long
pm_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec;
}
