/*
 * zone.h - the time zone people read times in (see zone.c): replies,
 * postmeterctl's output and the boundary of warm-up days.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_ZONE_H
#define PM_ZONE_H

#include <stddef.h>
#include <time.h>

/* Check a zone name ("UTC" or an IANA name with its tzdata file); 0, or -1
 * with why set. */
int pm_zone_check(const char *name, char *why, size_t whylen);

/* Make name the process's time zone (TZ, tzset); 0 or -1. */
int pm_zone_set(const char *name);

/* The zone's offset east of UTC at t, in seconds. */
long long pm_zone_offset(long long t);

/* The broken-down local time of t. */
void pm_zone_tm(long long t, struct tm *tm);

/* "UTC" (offset 0), "UTC+8", "UTC+5:30" or "UTC-3": the zone's offset at t. */
void pm_zone_label(long long t, char *buf, size_t len);

/* Format t with strftime format fmt in the zone; with label, " <label>" after. */
void pm_zone_format(long long t, const char *fmt, int label, char *buf, size_t len);

/* The start of the local day after the one t falls in (store time). */
long long pm_zone_next_midnight(long long t);

/* Days from 1970-01-01 to year y, month m (1-12), day d, proleptic Gregorian. */
long long pm_days_from_civil(long long y, int m, int d);

#endif
