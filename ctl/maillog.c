/*
 * maillog.c - read one line of Postfix's log for postmeterctl learn.
 *
 * SYNOPSIS
 *   kind = ml_parse(line, len, &ev); t = ml_time(&clock, &ev);
 *
 * DESCRIPTION
 *   A line is a timestamp, a host name, a tag ("postfix/qmgr[123]:",
 *   "postfix/submission/smtpd[9]:", any syslog_name) and a message. The
 *   lines read are those that say who sent what to whom, by queue id:
 *     smtpd  QID: client=HOST[ADDR][, sasl_method=M, sasl_username=LOGIN]
 *     qmgr   QID: from=<SENDER>, size=..., nrcpt=... (queue active)
 *     smtp   QID: to=<RCPT>, [orig_to=<..>,] relay=..., dsn=..., status=sent (...)
 *     lmtp   (as smtp)
 *     qmgr   QID: removed
 *   where the program is the tag's last component. Every other line is of no
 *   interest. The log is written by strangers' mail as much as by Postfix,
 *   so nothing is taken on trust: a line is read within its length (no
 *   terminating NUL is needed), an address ends at the first '>' outside a
 *   quoted string, and what cannot be read whole is a broken line.
 *
 *   Timestamps: traditional syslog ("Dec  6 10:00:01", or "Dec 06" as
 *   Postfix's maillog_file writes) has no year and no zone: it is read in the
 *   zone of the logs (the system's, as the command was started) with the
 *   year that does not put it more than a day after the file's last change;
 *   RFC 3339 ("2026-12-06T10:00:01.5+01:00", rsyslog's high-precision format;
 *   "+0100" as journalctl -o short-iso writes it) carries both.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maillog.h"
#include "zone.h"

/* n decimal digits at p as a number, or -1. */
static int
digits(const char *p, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* "HH:MM:SS" at p into ev; 0 or -1. */
static int
clock_time(const char *p, struct ml_event *ev)
{
    if (p[2] != ':' || p[5] != ':')
        return -1;
    ev->hour = digits(p, 2);
    ev->min = digits(p + 3, 2);
    ev->sec = digits(p + 6, 2);
    return ev->hour < 0 || ev->min < 0 || ev->sec < 0 || ev->hour > 23 || ev->min > 59 ||
                   ev->sec > 60
               ? -1
               : 0;
}

/* A traditional syslog timestamp "Mmm dd HH:MM:SS " at p; its length, or -1. */
static int
ts_syslog(const char *p, size_t n, struct ml_event *ev)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int m;

    if (n < 16 || p[3] != ' ' || p[6] != ' ' || p[15] != ' ')
        return -1;
    for (m = 0; m < 12; m++)
        if (memcmp(p, months + 3 * m, 3) == 0)
            break;
    if (m == 12)
        return -1;
    ev->mon = m + 1;
    ev->mday = p[4] == ' ' ? digits(p + 5, 1) : digits(p + 4, 2);
    ev->year = 0;
    ev->has_offset = 0;
    if (ev->mday < 1 || ev->mday > 31 || clock_time(p + 7, ev) < 0)
        return -1;
    return 16;
}

/* An RFC 3339 timestamp "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) " (or
 * with "+HHMM") at p; its length, or -1. */
static int
ts_rfc3339(const char *p, size_t n, struct ml_event *ev)
{
    size_t i = 19;
    int oh, om, colon;

    if (n < 21 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' '))
        return -1;
    ev->year = digits(p, 4);
    ev->mon = digits(p + 5, 2);
    ev->mday = digits(p + 8, 2);
    if (ev->year < 1970 || ev->mon < 1 || ev->mon > 12 || ev->mday < 1 || ev->mday > 31 ||
        clock_time(p + 11, ev) < 0)
        return -1;
    if (p[i] == '.')
        for (i++; i < n && i < 40 && p[i] >= '0' && p[i] <= '9'; i++)
            ;
    if (i < n && p[i] == 'Z') {
        ev->offset = 0;
        i++;
    } else if (i + 5 <= n && (p[i] == '+' || p[i] == '-')) {
        /* +HH:MM, or +HHMM as journalctl -o short-iso writes it */
        colon = i + 6 <= n && p[i + 3] == ':';
        oh = digits(p + i + 1, 2);
        om = digits(p + i + 3 + colon, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59)
            return -1;
        ev->offset = (p[i] == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
        i += 5 + (size_t)colon;
    } else {
        return -1;
    }
    ev->has_offset = 1;
    return i < n && p[i] == ' ' ? (int)i + 1 : -1;
}

/* 1 when the n bytes at p begin with the string s. */
static int
starts(const char *p, size_t n, const char *s)
{
    size_t k = strlen(s);

    return n >= k && memcmp(p, s, k) == 0;
}

/* The end of an address that begins at p (after '<'): the offset of its
 * closing '>' outside a quoted string, or -1. */
static long
addr_end(const char *p, size_t n)
{
    size_t i;
    int quoted = 0;

    for (i = 0; i < n; i++) {
        if (quoted && p[i] == '\\')
            i++;
        else if (p[i] == '"')
            quoted = !quoted;
        else if (p[i] == '>' && !quoted)
            return (long)i;
    }
    return -1;
}

/* The first occurrence of the string s in the n bytes at p, or NULL. */
static const char *
find(const char *p, size_t n, const char *s)
{
    const char *end = p + n, *q;
    size_t k = strlen(s);

    while ((q = memchr(p, s[0], (size_t)(end - p))) != NULL) {
        if ((size_t)(end - q) < k)
            return NULL;
        if (memcmp(q, s, k) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

/* The message after "QID: " for the programs read; fills ev. */
static int
parse_message(const char *prog, size_t plen, const char *p, size_t n, struct ml_event *ev)
{
    const char *q;
    long e;

    if (plen == 5 && memcmp(prog, "smtpd", 5) == 0) {
        if (!starts(p, n, "client="))
            return ML_OTHER;
        if ((q = memchr(p, '[', n)) != NULL && (e = (long)(n - (size_t)(q - p))) > 1) {
            const char *close = memchr(q + 1, ']', (size_t)e - 1);

            if (close) { /* the client's address: HOST[ADDR] */
                ev->addr = q + 1;
                ev->addr_len = (size_t)(close - q - 1);
            }
        }
        if ((q = find(p, n, ", sasl_username=")) != NULL) {
            q += 16;
            ev->login = q;
            ev->login_len = n - (size_t)(q - p);
            if ((p = find(q, ev->login_len, ", ")) != NULL)
                ev->login_len = (size_t)(p - q);
        }
        return ev->kind = ML_CLIENT;
    }
    if (plen == 6 && memcmp(prog, "pickup", 6) == 0)
        return starts(p, n, "uid=") ? (ev->kind = ML_LOCAL) : ML_OTHER;
    if (plen == 4 && memcmp(prog, "qmgr", 4) == 0) {
        if (n == 7 && memcmp(p, "removed", 7) == 0)
            return ev->kind = ML_REMOVED;
        if (!starts(p, n, "from=<"))
            return ML_OTHER;
        if ((e = addr_end(p + 6, n - 6)) < 0)
            return -1;
        ev->addr = p + 6;
        ev->addr_len = (size_t)e;
        return ev->kind = ML_FROM;
    }
    if (plen == 4 && (memcmp(prog, "smtp", 4) == 0 || memcmp(prog, "lmtp", 4) == 0)) {
        if (!starts(p, n, "to=<"))
            return ML_OTHER;
        if ((e = addr_end(p + 4, n - 4)) < 0)
            return -1;
        ev->addr = p + 4;
        ev->addr_len = (size_t)e;
        p += 4 + e;
        n -= 4 + (size_t)e;
        if ((q = find(p, n, ", status=")) == NULL)
            return -1;
        q += 9;
        n -= (size_t)(q - p);
        ev->sent = starts(q, n, "sent") && (n == 4 || q[4] == ' ');
        return ev->kind = ML_TO;
    }
    return ML_OTHER;
}

/* 1 when c may be part of a queue id. */
static int
qid_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Parse one line of a Postfix log; see maillog.h. */
int
ml_parse(const char *line, size_t len, struct ml_event *ev)
{
    const char *p = line, *end = line + len, *tag, *sp, *tend, *prog;
    size_t qlen;
    int k;

    memset(ev, 0, sizeof(*ev));
    if (len > 0 && line[0] >= '0' && line[0] <= '9')
        k = ts_rfc3339(p, len, ev);
    else
        k = ts_syslog(p, len, ev);
    if (k < 0)
        return -1;
    p += k;
    /* the host name, then the tag "name/.../program[pid]:" */
    if (!(sp = memchr(p, ' ', (size_t)(end - p))))
        return ML_OTHER;
    tag = sp + 1;
    if (!(sp = memchr(tag, ' ', (size_t)(end - tag))) || sp == tag || sp[-1] != ':')
        return ML_OTHER;
    tend = sp - 1;
    if (tend > tag && tend[-1] == ']')
        for (tend--; tend > tag && *tend != '['; tend--)
            ;
    for (prog = tend; prog > tag && prog[-1] != '/'; prog--)
        ;
    if (prog == tag || prog == tend)
        return ML_OTHER; /* not a Postfix program's line */
    /* the queue id, then ": " */
    p = sp + 1;
    for (qlen = 0; p + qlen < end && qid_char(p[qlen]); qlen++)
        ;
    if (qlen < 5 || p + qlen + 2 > end || p[qlen] != ':' || p[qlen + 1] != ' ')
        return ML_OTHER;
    if (qlen > ML_QID_MAX)
        return -1;
    memcpy(ev->qid, p, qlen);
    ev->qid[qlen] = '\0';
    p += qlen + 2;
    return parse_message(prog, (size_t)(tend - prog), p, (size_t)(end - p), ev);
}

/* Make tz (NULL: unset, the system's /etc/localtime) the process's zone. */
static void
use_tz(const char *tz)
{
    if (tz)
        setenv("TZ", tz, 1);
    else
        unsetenv("TZ");
    tzset();
}

/* Set the reference date of a file from its modification time. */
void
ml_clock_file(struct ml_clock *clk, long long mtime)
{
    time_t t = (time_t)mtime;
    struct tm tm;

    use_tz(clk->log_tz);
    if (!localtime_r(&t, &tm))
        memset(&tm, 0, sizeof(tm));
    use_tz(clk->tz);
    clk->ref_year = tm.tm_year + 1900;
    clk->ref_mon = tm.tm_mon + 1;
    clk->ref_mday = tm.tm_mday;
    clk->hour_key = -1;
}

/* The Unix time of an event's timestamp; -1 when it is not a valid time. */
long long
ml_time(struct ml_clock *clk, const struct ml_event *ev)
{
    long long key;
    struct tm tm;
    time_t t;
    int year;

    if (ev->has_offset)
        return pm_days_from_civil(ev->year, ev->mon, ev->mday) * 86400LL + ev->hour * 3600LL +
               ev->min * 60LL + ev->sec - ev->offset;
    /* no year: the file's, unless that puts the line more than a day after it */
    year = clk->ref_year;
    if (ev->mon * 32 + ev->mday > clk->ref_mon * 32 + clk->ref_mday + 1)
        year--;
    key = ((long long)year * 13 + ev->mon) * 32 * 24 + ev->mday * 24 + ev->hour;
    if (key != clk->hour_key) {
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = year - 1900;
        tm.tm_mon = ev->mon - 1;
        tm.tm_mday = ev->mday;
        tm.tm_hour = ev->hour;
        tm.tm_isdst = -1;
        use_tz(clk->log_tz);
        t = mktime(&tm);
        use_tz(clk->tz);
        if (t == (time_t)-1 || tm.tm_mday != ev->mday)
            return -1; /* no such day (Feb 30) */
        clk->hour_key = key;
        clk->hour_start = (long long)t - tm.tm_min * 60LL - tm.tm_sec;
    }
    return clk->hour_start + ev->min * 60LL + ev->sec;
}
