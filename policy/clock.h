/*
 * clock.h - the monotonic clock, for timeouts, backoffs and ages.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CLOCK_H
#define PM_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC. */
long long pm_mono_ms(void);

/* Whole seconds on CLOCK_MONOTONIC. */
long long pm_mono_s(void);

#endif
