/*
 * watch.h - does Postfix reach postmeter? The no-connection alarm.
 *
 * SYNOPSIS
 *   #include "watch.h"
 *
 *   pm_watch_init(&w);
 *   every few seconds: f.postfix = pm_watch_postfix(queue_dir, &pid, why, len);
 *                      ev = pm_watch_step(&w, &f);
 *
 * DESCRIPTION
 *   A Postfix that cannot connect to the milter socket (its user not in the
 *   socket's group, a wrong mode, smtpd_milters naming another path) lets
 *   every message through unmetered when milter_default_action = accept,
 *   and says so only in its own log. The daemon counts the connections it
 *   gets; pm_watch_step() takes that count and whether Postfix's master
 *   runs, and raises the alarm once a stretch of idle_alarm seconds went by
 *   without a connection while Postfix ran. One alarm per stretch: it is
 *   raised once, and cleared by the next connection; only a new stretch of
 *   idle_alarm seconds raises it again. Time is any steady clock in
 *   seconds: nothing here reads a clock.
 *
 *   pm_watch_postfix() reads <queue_dir>/pid/master.pid, Postfix's master's
 *   pid file, and asks the kernel whether that process exists (kill(pid, 0):
 *   a process of another user answers EPERM, and runs).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_WATCH_H
#define PM_WATCH_H

#include <stddef.h>

/* Whether Postfix's master process runs. */
enum pm_postfix {
    PM_POSTFIX_UNKNOWN = 0, /* its pid file cannot be read (or the check is off) */
    PM_POSTFIX_RUNNING,
    PM_POSTFIX_STOPPED, /* no pid file, or its process is gone */
};

/* Where the watch stands. */
struct pm_watch {
    long long conns;       /* connections counted at the last step */
    long long last_conn;   /* when a new connection was last seen; -1 none yet */
    long long quiet_since; /* start of the stretch without a connection while Postfix
                            * runs; -1 when Postfix was not seen running */
    int alarm;             /* 1: raised and not yet cleared */
    long long alarm_at;    /* when it was raised; -1 none */
};

/* What the daemon knows at one step. */
struct pm_watch_facts {
    long long now;   /* seconds of a steady clock */
    long long conns; /* connections since the daemon started */
    long long open;  /* connections open now */
    enum pm_postfix postfix;
    long long idle_alarm; /* postfix.idle_alarm: seconds; 0 off */
};

/* What a step changed. */
enum pm_watch_event {
    PM_WATCH_NONE = 0,
    PM_WATCH_RAISE, /* the alarm is raised: log the warning */
    PM_WATCH_CLEAR, /* a connection came while it was raised: log that it is over */
};

/* Facts about the milter socket for the warning line. */
struct pm_watch_sock {
    const char *conn;  /* milter.socket as configured, "unix:/path" or "inet:..." */
    int is_unix;       /* 1: a unix socket (mode and group below apply) */
    int stat_errno;    /* its path could not be looked at: errno; else 0 */
    unsigned mode;     /* its permission bits */
    const char *group; /* its group's name */
};

/* A watch that has seen nothing yet. */
void pm_watch_init(struct pm_watch *w);

/* Take one step's facts; what changed. */
enum pm_watch_event pm_watch_step(struct pm_watch *w, const struct pm_watch_facts *f);

/* Seconds of the current stretch without a connection while Postfix runs at
 * now, or -1 when Postfix is not seen running. */
long long pm_watch_quiet(const struct pm_watch *w, long long now);

/* Whether the master process of the Postfix whose queue directory is queue_dir
 * runs; *pid its pid (0 when unknown); why says what failed when unknown. */
enum pm_postfix pm_watch_postfix(const char *queue_dir, long long *pid, char *why, size_t whylen);

/* "running", "stopped" or "unknown". */
const char *pm_watch_postfix_name(enum pm_postfix p);

/* Parse a name of pm_watch_postfix_name(); PM_POSTFIX_UNKNOWN for others. */
enum pm_postfix pm_watch_postfix_parse(const char *name);

/* A duration for people: "45 s", "10 min", "2 h 5 min", "3 d 4 h". */
void pm_watch_duration(long long seconds, char *buf, size_t len);

/* The warning line of a raised alarm (w after the step that raised it;
 * master_pid: Postfix's master). */
void pm_watch_format_raise(const struct pm_watch *w, const struct pm_watch_facts *f,
                           long long master_pid, const struct pm_watch_sock *s, char *buf,
                           size_t len);

/* The line that says the alarm is over. */
const char *pm_watch_format_clear(void);

#endif
