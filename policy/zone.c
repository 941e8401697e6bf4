/*
 * zone.c - the time zone people read times in.
 *
 * Replies, postmeterctl's output and the boundary of warm-up days follow the
 * configured time zone (the "timezone" key, an IANA name such as
 * "Asia/Shanghai"; default UTC); rolling windows and the days of contacts,
 * reputation and the top index stay UTC, as Redis keeps them. The zone is the
 * process's: pm_zone_set() sets TZ and calls tzset() (the daemon at every
 * (re)load, from its main thread; postmeterctl once), and every time below
 * is read with localtime_r(). A zone is named in a label after each time:
 * "UTC" at offset 0, else "UTC+8", "UTC+5:30", "UTC-3".
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zone.h"

/* 1 when name looks like an IANA zone name (no path tricks). */
static int
zone_name_ok(const char *name)
{
    const char *p;

    if (!*name || *name == '/' || strstr(name, "..") || strlen(name) > 64)
        return 0;
    for (p = name; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            !strchr("/_+-", *p))
            return 0;
    return 1;
}

/* Check a zone name: 0, or -1 with why set (unknown, or no tzdata). */
int
pm_zone_check(const char *name, char *why, size_t whylen)
{
    const char *dir = getenv("TZDIR");
    char path[512], magic[4];
    FILE *f;
    int ok;

    if (strcmp(name, "UTC") == 0)
        return 0;
    if (!zone_name_ok(name)) {
        snprintf(why, whylen, "\"%s\" is not a time zone name (e.g. \"Asia/Shanghai\")", name);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    if (!(f = fopen(path, "rb"))) {
        snprintf(why, whylen, "unknown time zone \"%s\" (no %s; is tzdata installed?)", name, path);
        return -1;
    }
    ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    if (!ok) {
        snprintf(why, whylen, "%s is not a time zone file", path);
        return -1;
    }
    return 0;
}

/* Make name the process's time zone ("UTC" or an IANA name); 0 or -1. */
int
pm_zone_set(const char *name)
{
    char tz[80];

    if (!name || !*name)
        name = "UTC";
    snprintf(tz, sizeof(tz), ":%s", name);
    if (setenv("TZ", tz, 1) != 0)
        return -1;
    tzset();
    return 0;
}

/* The zone's offset east of UTC at t, in seconds. */
long long
pm_zone_offset(long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    return localtime_r(&tt, &tm) ? (long long)tm.tm_gmtoff : 0;
}

/* The broken-down local time of t. */
void
pm_zone_tm(long long t, struct tm *tm)
{
    time_t tt = (time_t)t;

    if (!localtime_r(&tt, tm))
        memset(tm, 0, sizeof(*tm));
}

/* "UTC", "UTC+8", "UTC+5:30" or "UTC-3": the zone's offset at t. */
void
pm_zone_label(long long t, char *buf, size_t len)
{
    long long off = pm_zone_offset(t), a = off < 0 ? -off : off;

    if (off == 0)
        snprintf(buf, len, "UTC");
    else if (a % 3600)
        snprintf(buf, len, "UTC%c%lld:%02lld", off < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
    else
        snprintf(buf, len, "UTC%c%lld", off < 0 ? '-' : '+', a / 3600);
}

/* Format t with strftime format fmt in the zone; with label, " <label>" after. */
void
pm_zone_format(long long t, const char *fmt, int label, char *buf, size_t len)
{
    struct tm tm;
    size_t n;

    pm_zone_tm(t, &tm);
    n = strftime(buf, len, fmt, &tm);
    if (n == 0 && len)
        buf[0] = '\0';
    if (label && n + 1 < len) {
        buf[n] = ' ';
        pm_zone_label(t, buf + n + 1, len - n - 1);
    }
}

/* The start of the local day after the one t falls in (store time). */
long long
pm_zone_next_midnight(long long t)
{
    struct tm tm;
    time_t next;

    pm_zone_tm(t, &tm);
    tm.tm_mday += 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    next = mktime(&tm);
    return next == (time_t)-1 ? (t / 86400 + 1) * 86400 : (long long)next;
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar
 * (Hinnant's algorithm). */
long long
pm_days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
