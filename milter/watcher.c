/*
 * watcher.c - the milter process's watch over Postfix, and its heartbeat.
 *
 * SYNOPSIS
 *   pm_watcher_start(socket); ... pm_watcher_stop();
 *   xxfi_connect: pm_watcher_connect(); xxfi_close: pm_watcher_close();
 *
 * DESCRIPTION
 *   The callbacks count the milter connections (two atomic counters, no
 *   lock on the mail path). One thread, with every signal blocked, wakes
 *   every tenth of postfix.idle_alarm (1 to 10 s), pins the runtime of the
 *   moment (so it follows reloads), reads whether Postfix's master runs
 *   (policy/watch.c: its pid file under postfix.queue_directory) and hands
 *   the facts to pm_watch_step(): a raised alarm is one warning line, its end
 *   one info line. A connection that comes while the alarm is raised wakes
 *   the thread at once. Every PM_SERVER_BEAT seconds, and at once when the
 *   alarm changes, it writes the daemon's heartbeat through the store
 *   (pm_store_server_beat(): one small script call), which postmeterctl
 *   servers shows. Times are CLOCK_MONOTONIC seconds; the store turns the
 *   ages into its own time. It also sends the refusals decided at RCPT
 *   without the store whose sender made no request for a second
 *   (pm_policy_carry()): it is woken when some start waiting, and looks
 *   again each second while some wait. In the same way it announces the
 *   companies the mail path metered to the store's company registry, a
 *   second after the first of them waits (pm_coreg_flush(): one call), and
 *   with each heartbeat asks whether the registry was made anew meanwhile
 *   (pm_coreg_check(): then its companies are announced again).
 *
 * DIAGNOSTICS
 *   A heartbeat that cannot be written is logged once until one is written
 *   again (at debug level when Redis is unreachable: the store's pool logs
 *   that itself).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <grp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "callbacks.h"
#include "clock.h"
#include "config.h"
#include "coreg.h"
#include "identity.h"
#include "log.h"
#include "notice.h"
#include "policy.h"
#include "sknow.h"
#include "watch.h"
#include "watcher.h"
#include "worker.h"

static atomic_llong n_conns, n_open;
static atomic_int alarmed;
static struct pm_worker worker = PM_WORKER_INIT;
static char sock[1024]; /* milter.socket as bound (a reload cannot change it) */
static char host[256];

/* A milter connection opened. */
void
pm_watcher_connect(void)
{
    atomic_fetch_add(&n_conns, 1);
    atomic_fetch_add(&n_open, 1);
    if (atomic_load(&alarmed)) /* say at once that the alarm is over */
        pm_worker_wake(&worker);
}

/* Refusals decided at RCPT, or companies to announce, started waiting: look. */
static void
wake_for_carry(void)
{
    pm_worker_wake(&worker);
}

/* Shorten a wait of wait_s seconds to when waiting refusals or companies
 * to announce are due (1 s at least). */
static long long
carry_wait(long long wait_s)
{
    long long due = pm_sknow_next_due(), co = pm_coreg_next_due(), s;

    if (due < 0 || (co >= 0 && co < due))
        due = co;
    if (due < 0)
        return wait_s;
    s = (due - pm_mono_ms() + 999) / 1000;
    s = s < 1 ? 1 : s;
    return s < wait_s ? s : wait_s;
}

/* A counted milter connection closed. */
void
pm_watcher_close(void)
{
    atomic_fetch_sub(&n_open, 1);
}

/* Log the warning of a raised alarm, with what the socket looks like now. */
static void
log_raise(const struct pm_watch *w, const struct pm_watch_facts *f, long long master)
{
    struct pm_watch_sock s = {sock, 0, 0, 0, ""};
    char line[PM_LOG_LINE_MAX], gid[24];
    const char *path = NULL;
    struct group *gr;
    struct stat st;

    if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0)
        path = strchr(sock, ':') + 1;
    if (path) {
        s.is_unix = 1;
        if (stat(path, &st) != 0) {
            s.stat_errno = errno;
        } else {
            s.mode = (unsigned)st.st_mode;
            snprintf(gid, sizeof(gid), "%ld", (long)st.st_gid);
            s.group = (gr = getgrgid(st.st_gid)) != NULL ? gr->gr_name : gid;
        }
    }
    pm_watch_format_raise(w, f, master, &s, line, sizeof(line));
    pm_log_line(PM_LOG_WARNING, line);
}

/* Write the heartbeat; *failing: the last one failed (its failure was logged). */
static void
beat(struct pm_runtime *rt, const struct pm_watch *w, const struct pm_watch_facts *f,
     long long master, long long start, int *failing)
{
    struct pm_server_beat b;
    char err[512];
    int rc;

    memset(&b, 0, sizeof(b));
    b.host = host;
    b.socket = sock;
    b.version = PACKAGE_VERSION;
    b.pid = (long long)getppid(); /* the process started, which takes the signals */
    b.up = f->now - start;
    b.conns = w->conns;
    b.conn_ago = w->last_conn >= 0 ? f->now - w->last_conn : -1;
    b.postfix = f->postfix;
    b.postfix_pid = master;
    b.idle_alarm = f->idle_alarm;
    b.quiet = pm_watch_quiet(w, f->now);
    b.alarm_ago = w->alarm ? f->now - w->alarm_at : -1;
    if ((rc = pm_store_server_beat(rt->store, &b, err, sizeof(err))) < 0) {
        if (!*failing)
            pm_log(rc == PM_STORE_RETRY ? PM_LOG_DEBUG : PM_LOG_WARNING,
                   "postfix watch: cannot write the heartbeat: %s", err);
        *failing = 1;
    } else if (*failing) {
        pm_log(PM_LOG_DEBUG, "postfix watch: heartbeat written again");
        *failing = 0;
    }
}

/* Announce the companies metered lately to the store's registry (coreg.h);
 * *failing: the last announcement failed (its failure was logged). */
static void
announce(struct pm_runtime *rt, int *failing)
{
    char err[512];
    int rc;

    if ((rc = pm_coreg_flush(rt->store, 0, err, sizeof(err))) < 0) {
        if (!*failing)
            pm_log(rc == PM_STORE_RETRY ? PM_LOG_DEBUG : PM_LOG_WARNING,
                   "company registry: cannot announce companies: %s", err);
        *failing = 1;
    } else if (rc > 0 && *failing) {
        pm_log(PM_LOG_DEBUG, "company registry: companies announced again");
        *failing = 0;
    }
}

/* With the heartbeat: has the registry been made anew (coreg.h)? */
static void
registry_check(struct pm_runtime *rt)
{
    char err[512];

    if (pm_coreg_check(rt->store, err, sizeof(err)) < 0)
        pm_log(PM_LOG_DEBUG, "company registry: cannot look at it: %s", err);
}

/* The seconds between two looks: a tenth of the alarm's delay, 1 to 10. */
static long long
tick(long long idle_alarm)
{
    if (idle_alarm <= 0)
        return PM_SERVER_BEAT;
    return idle_alarm / 10 < 1 ? 1 : idle_alarm / 10 > 10 ? 10 : idle_alarm / 10;
}

/* An incident the refusals carried by this thread opened: tell people, as
 * the mail path does for the incidents its requests open. */
static void
carry_opened(const struct pm_conf *conf, const struct pm_incident *inc)
{
    pm_notice_incident(inc, conf->inc_action == PM_ACT_TEMPFAIL ? "tempfailed" : "held",
                       !pm_is_external(conf, inc->sender));
}

/* The thread: look, step, log, beat; until stopped. */
static void *
watch_loop(void *arg)
{
    struct pm_watch w;
    struct pm_watch_facts f;
    enum pm_watch_event ev;
    enum pm_postfix seen = PM_POSTFIX_UNKNOWN;
    long long start = pm_mono_s(), next_beat = start, master, wait_s;
    char why[512];
    int failing = 0, co_failing = 0;

    (void)arg;
    pm_watch_init(&w);
    do {
        struct pm_runtime *rt = pm_runtime_pin();

        if (!rt)
            break;
        memset(&f, 0, sizeof(f));
        f.now = pm_mono_s();
        f.conns = atomic_load(&n_conns);
        f.open = atomic_load(&n_open);
        f.idle_alarm = rt->conf->postfix_idle_alarm;
        master = 0;
        why[0] = '\0';
        if (f.idle_alarm > 0)
            f.postfix =
                pm_watch_postfix(rt->conf->postfix_queue_directory, &master, why, sizeof(why));
        if (f.postfix != seen)
            pm_log(PM_LOG_DEBUG, "postfix watch: Postfix's master: %s%s%s",
                   pm_watch_postfix_name(f.postfix), why[0] ? ": " : "", why);
        seen = f.postfix;
        ev = pm_watch_step(&w, &f);
        atomic_store(&alarmed, w.alarm);
        if (ev == PM_WATCH_RAISE)
            log_raise(&w, &f, master);
        else if (ev == PM_WATCH_CLEAR)
            pm_log_line(PM_LOG_INFO, pm_watch_format_clear());
        if (ev != PM_WATCH_NONE || f.now >= next_beat) {
            beat(rt, &w, &f, master, start, &failing);
            registry_check(rt);
            next_beat = f.now + PM_SERVER_BEAT;
        }
        pm_policy_carry(rt->conf, rt->store, carry_opened);
        announce(rt, &co_failing);
        pm_runtime_release(rt);
        wait_s = tick(f.idle_alarm);
        if (next_beat - f.now < wait_s)
            wait_s = next_beat - f.now;
        wait_s = carry_wait(wait_s);
    } while (!pm_worker_wait(&worker, wait_s));
    return NULL;
}

/* Start the thread with every signal blocked in it. */
int
pm_watcher_start(const char *socket)
{
    snprintf(sock, sizeof(sock), "%s", socket);
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    if (pm_worker_start(&worker, "postfix watch", watch_loop, NULL) < 0)
        return -1;
    pm_sknow_on_wait(wake_for_carry);
    pm_coreg_on_wait(wake_for_carry);
    return 0;
}

/* Stop the thread and wait for it. */
void
pm_watcher_stop(void)
{
    if (!worker.running)
        return;
    pm_sknow_on_wait(NULL);
    pm_coreg_on_wait(NULL);
    pm_worker_stop(&worker);
}
