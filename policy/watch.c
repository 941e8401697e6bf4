/*
 * watch.c - does Postfix reach postmeter? The no-connection alarm: its
 * arithmetic over plain facts and times, Postfix's master's pid file, and
 * the lines people read (see watch.h).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "watch.h"

#define PID_MAX_TEXT 64 /* Postfix writes "%10ld\n" */

/* A watch that has seen nothing yet. */
void
pm_watch_init(struct pm_watch *w)
{
    memset(w, 0, sizeof(*w));
    w->last_conn = -1;
    w->quiet_since = -1;
    w->alarm_at = -1;
}

/* Take one step's facts; what changed. */
enum pm_watch_event
pm_watch_step(struct pm_watch *w, const struct pm_watch_facts *f)
{
    int fresh = f->conns != w->conns;

    if (fresh) {
        w->conns = f->conns;
        w->last_conn = f->now;
    }
    if (fresh || f->open > 0) { /* Postfix reaches us: the stretch starts again */
        w->quiet_since = f->postfix == PM_POSTFIX_RUNNING ? f->now : -1;
        if (w->alarm) {
            w->alarm = 0;
            w->alarm_at = -1;
            return PM_WATCH_CLEAR;
        }
        return PM_WATCH_NONE;
    }
    if (f->postfix != PM_POSTFIX_RUNNING) {
        w->quiet_since = -1; /* no connection is due while Postfix is not running */
        return PM_WATCH_NONE;
    }
    if (w->quiet_since < 0)
        w->quiet_since = f->now;
    if (f->idle_alarm <= 0) { /* off: a raised alarm goes without a word */
        w->alarm = 0;
        w->alarm_at = -1;
        return PM_WATCH_NONE;
    }
    if (!w->alarm && f->now - w->quiet_since >= f->idle_alarm) {
        w->alarm = 1;
        w->alarm_at = f->now;
        return PM_WATCH_RAISE;
    }
    return PM_WATCH_NONE;
}

/* Seconds of the current quiet stretch at now, or -1. */
long long
pm_watch_quiet(const struct pm_watch *w, long long now)
{
    if (w->quiet_since < 0)
        return -1;
    return now > w->quiet_since ? now - w->quiet_since : 0;
}

/* Whether Postfix's master runs, from <queue_dir>/pid/master.pid. */
enum pm_postfix
pm_watch_postfix(const char *queue_dir, long long *pid, char *why, size_t whylen)
{
    char path[4096], text[PID_MAX_TEXT + 1], *end;
    ssize_t n;
    long long v;
    int fd;

    *pid = 0;
    if (!queue_dir || !*queue_dir) {
        snprintf(why, whylen, "postfix.queue_directory is empty");
        return PM_POSTFIX_UNKNOWN;
    }
    snprintf(path, sizeof(path), "%s/pid/master.pid", queue_dir);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? PM_POSTFIX_STOPPED : PM_POSTFIX_UNKNOWN;
    }
    n = read(fd, text, PID_MAX_TEXT);
    close(fd);
    if (n < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return PM_POSTFIX_UNKNOWN;
    }
    text[n] = '\0';
    errno = 0;
    v = strtoll(text, &end, 10);
    while (*end == ' ' || *end == '\n' || *end == '\t')
        end++;
    if (n == 0 || errno || *end || v <= 0 || v != (long long)(pid_t)v) {
        snprintf(why, whylen, "%s: not a process id", path);
        return PM_POSTFIX_UNKNOWN;
    }
    *pid = v;
    if (kill((pid_t)v, 0) == 0 || errno == EPERM) /* EPERM: it exists, as another user */
        return PM_POSTFIX_RUNNING;
    if (errno == ESRCH) {
        snprintf(why, whylen, "%s: process %lld is gone", path, v);
        return PM_POSTFIX_STOPPED;
    }
    snprintf(why, whylen, "%s: process %lld: %s", path, v, strerror(errno));
    return PM_POSTFIX_UNKNOWN;
}

/* "running", "stopped" or "unknown". */
const char *
pm_watch_postfix_name(enum pm_postfix p)
{
    return p == PM_POSTFIX_RUNNING ? "running" : p == PM_POSTFIX_STOPPED ? "stopped" : "unknown";
}

/* Parse a name of pm_watch_postfix_name(). */
enum pm_postfix
pm_watch_postfix_parse(const char *name)
{
    if (name && strcmp(name, "running") == 0)
        return PM_POSTFIX_RUNNING;
    if (name && strcmp(name, "stopped") == 0)
        return PM_POSTFIX_STOPPED;
    return PM_POSTFIX_UNKNOWN;
}

/* A duration for people: "45 s", "10 min", "2 h 5 min", "3 d 4 h". */
void
pm_watch_duration(long long s, char *buf, size_t len)
{
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(buf, len, "%lld s", s);
    else if (s < 7200)
        snprintf(buf, len, "%lld min", s / 60);
    else if (s < 2 * 86400 && s % 3600 / 60)
        snprintf(buf, len, "%lld h %lld min", s / 3600, s % 3600 / 60);
    else if (s < 2 * 86400)
        snprintf(buf, len, "%lld h", s / 3600);
    else if (s % 86400 / 3600)
        snprintf(buf, len, "%lld d %lld h", s / 86400, s % 86400 / 3600);
    else
        snprintf(buf, len, "%lld d", s / 86400);
}

/* The warning line of a raised alarm. */
void
pm_watch_format_raise(const struct pm_watch *w, const struct pm_watch_facts *f,
                      long long master_pid, const struct pm_watch_sock *s, char *buf, size_t len)
{
    static const char unmetered[] = "with milter_default_action = accept mail leaves unmetered";
    static const char grep[] = "postfix's log: grep 'connect to Milter service'";
    char idle[32], head[256];

    pm_watch_duration(f->idle_alarm, idle, sizeof(idle));
    snprintf(head, sizeof(head),
             "postfix watch: no connection from Postfix for %s while its master runs (pid %lld%s)",
             idle, master_pid, w->last_conn < 0 ? "; none since postmeter started" : "");
    if (!s->is_unix)
        snprintf(buf, len,
                 "%s: Postfix may be unable to connect to %s, and %s; check smtpd_milters in "
                 "main.cf, a firewall, and %s",
                 head, s->conn, unmetered, grep);
    else if (s->stat_errno)
        snprintf(buf, len,
                 "%s: Postfix cannot connect to %s: %s (restart postmeter to make it again), "
                 "and %s; %s",
                 head, s->conn, strerror(s->stat_errno), unmetered, grep);
    else
        snprintf(buf, len,
                 "%s: Postfix may be unable to connect to %s (mode %04o, group %s), and %s; "
                 "check that user postfix is in group %s, the socket's mode, smtpd_milters in "
                 "main.cf, and %s",
                 head, s->conn, s->mode & 07777, s->group, unmetered, s->group, grep);
}

/* The line that says the alarm is over. */
const char *
pm_watch_format_clear(void)
{
    return "postfix watch: Postfix connects again: the no-connection alarm is over";
}
