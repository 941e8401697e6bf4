/*
 * test_watch.c - unit tests of the no-connection alarm (policy/watch.c):
 * scenarios of steps as tables of rows (the facts at a time, and the event
 * and state each step must give), Postfix's master's pid file, durations,
 * and the exact lines the daemon logs.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "watch.h"

#define R PM_POSTFIX_RUNNING
#define S PM_POSTFIX_STOPPED
#define U PM_POSTFIX_UNKNOWN

/* One step: the facts, then what it must give. */
struct step {
    long long now, conns, open;
    enum pm_postfix postfix;
    long long idle_alarm;
    enum pm_watch_event want;
    int alarm;       /* the alarm after the step */
    long long quiet; /* pm_watch_quiet() after the step */
    long long last;  /* last_conn after the step */
};

/* Run the steps of a scenario from a fresh watch, asserting each row. */
static void
run_steps(const struct step *rows, size_t n)
{
    struct pm_watch w;
    size_t i;

    pm_watch_init(&w);
    for (i = 0; i < n; i++) {
        const struct step *r = &rows[i];
        struct pm_watch_facts f = {r->now, r->conns, r->open, r->postfix, r->idle_alarm};
        enum pm_watch_event ev = pm_watch_step(&w, &f);

        if (ev != r->want || w.alarm != r->alarm || pm_watch_quiet(&w, r->now) != r->quiet ||
            w.last_conn != r->last)
            print_error("row %zu (now %lld): event %d alarm %d quiet %lld last %lld\n", i, r->now,
                        (int)ev, w.alarm, pm_watch_quiet(&w, r->now), w.last_conn);
        assert_int_equal(ev, r->want);
        assert_int_equal(w.alarm, r->alarm);
        assert_int_equal(pm_watch_quiet(&w, r->now), r->quiet);
        assert_int_equal(w.last_conn, r->last);
    }
}

/* No connection at all: raised once at the threshold, cleared by the first
 * connection, raised again only after a whole new stretch. */
static void
test_episodes(void **state)
{
    static const struct step rows[] = {
        {0, 0, 0, R, 600, PM_WATCH_NONE, 0, 0, -1},
        {300, 0, 0, R, 600, PM_WATCH_NONE, 0, 300, -1},
        {599, 0, 0, R, 600, PM_WATCH_NONE, 0, 599, -1},
        {600, 0, 0, R, 600, PM_WATCH_RAISE, 1, 600, -1},
        {610, 0, 0, R, 600, PM_WATCH_NONE, 1, 610, -1},
        {5000, 0, 0, R, 600, PM_WATCH_NONE, 1, 5000, -1}, /* once per stretch */
        {5010, 1, 1, R, 600, PM_WATCH_CLEAR, 0, 0, 5010},
        {5020, 1, 0, R, 600, PM_WATCH_NONE, 0, 10, 5010},
        {5609, 1, 0, R, 600, PM_WATCH_NONE, 0, 599, 5010},
        {5610, 1, 0, R, 600, PM_WATCH_RAISE, 1, 600, 5010}, /* a new stretch */
        {5620, 4, 0, R, 600, PM_WATCH_CLEAR, 0, 0, 5620},   /* connections came and went */
        {5630, 9, 0, R, 600, PM_WATCH_NONE, 0, 0, 5630},
    };

    (void)state;
    run_steps(rows, sizeof(rows) / sizeof(rows[0]));
}

/* Only time while Postfix's master runs counts; a stretch restarts when it
 * is seen again. */
static void
test_postfix_down(void **state)
{
    static const struct step rows[] = {
        {0, 0, 0, S, 600, PM_WATCH_NONE, 0, -1, -1},
        {1000, 0, 0, S, 600, PM_WATCH_NONE, 0, -1, -1},
        {1000, 0, 0, R, 600, PM_WATCH_NONE, 0, 0, -1},
        {1599, 0, 0, R, 600, PM_WATCH_NONE, 0, 599, -1},
        {1600, 0, 0, U, 600, PM_WATCH_NONE, 0, -1, -1}, /* unknown is not running */
        {1700, 0, 0, R, 600, PM_WATCH_NONE, 0, 0, -1},
        {2299, 0, 0, R, 600, PM_WATCH_NONE, 0, 599, -1},
        {2300, 0, 0, R, 600, PM_WATCH_RAISE, 1, 600, -1},
        /* raised, Postfix stops and starts again: no second warning */
        {2400, 0, 0, S, 600, PM_WATCH_NONE, 1, -1, -1},
        {2500, 0, 0, R, 600, PM_WATCH_NONE, 1, 0, -1},
        {9000, 0, 0, R, 600, PM_WATCH_NONE, 1, 6500, -1},
        /* a connection while Postfix is stopped (postfix stop): cleared too */
        {9100, 1, 0, S, 600, PM_WATCH_CLEAR, 0, -1, 9100},
    };

    (void)state;
    run_steps(rows, sizeof(rows) / sizeof(rows[0]));
}

/* An open connection is Postfix reaching us, however long it lasts. */
static void
test_open_connection(void **state)
{
    static const struct step rows[] = {
        {0, 1, 1, R, 600, PM_WATCH_NONE, 0, 0, 0},
        {700, 1, 1, R, 600, PM_WATCH_NONE, 0, 0, 0},
        {1299, 1, 0, R, 600, PM_WATCH_NONE, 0, 599, 0},
        {1300, 1, 0, R, 600, PM_WATCH_RAISE, 1, 600, 0},
        {1310, 1, 1, R, 600, PM_WATCH_CLEAR, 0, 0, 0}, /* a session that stayed open */
    };

    (void)state;
    run_steps(rows, sizeof(rows) / sizeof(rows[0]));
}

/* idle_alarm 0 turns it off and drops a raised alarm without a word; 5 s,
 * the least, works the same. */
static void
test_off_and_short(void **state)
{
    static const struct step rows[] = {
        {0, 0, 0, R, 600, PM_WATCH_NONE, 0, 0, -1},
        {600, 0, 0, R, 600, PM_WATCH_RAISE, 1, 600, -1},
        {610, 0, 0, R, 0, PM_WATCH_NONE, 0, 610, -1},
        {9000, 0, 0, R, 0, PM_WATCH_NONE, 0, 9000, -1},
        {9001, 0, 0, R, 5, PM_WATCH_RAISE, 1, 9001, -1},
        {9002, 1, 0, R, 5, PM_WATCH_CLEAR, 0, 0, 9002},
        {9006, 1, 0, R, 5, PM_WATCH_NONE, 0, 4, 9002},
        {9007, 1, 0, R, 5, PM_WATCH_RAISE, 1, 5, 9002},
    };

    (void)state;
    run_steps(rows, sizeof(rows) / sizeof(rows[0]));
}

static char tmpdir[] = "/tmp/pm-test-watch.XXXXXX";

/* Write text as <tmpdir>/pid/master.pid. */
static void
write_pidfile(const char *text)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/pid", tmpdir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/pid/master.pid", tmpdir);
    assert_non_null(fp = fopen(path, "w"));
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* Postfix's state and the pid read from tmpdir's pid file. */
static enum pm_postfix
postfix_of(long long *pid, char *why, size_t whylen)
{
    why[0] = '\0';
    return pm_watch_postfix(tmpdir, pid, why, whylen);
}

/* The master's pid file: missing, alive (Postfix's "%10d\n"), gone, garbage. */
static void
test_pidfile(void **state)
{
    char text[64], why[512], want[512];
    long long pid;
    pid_t child;

    (void)state;
    assert_non_null(mkdtemp(tmpdir));
    assert_int_equal(postfix_of(&pid, why, sizeof(why)), S);
    snprintf(want, sizeof(want), "%s/pid/master.pid: No such file or directory", tmpdir);
    assert_string_equal(why, want);
    assert_int_equal(pid, 0);

    snprintf(text, sizeof(text), "%10ld\n", (long)getpid());
    write_pidfile(text);
    assert_int_equal(postfix_of(&pid, why, sizeof(why)), R);
    assert_int_equal(pid, getpid());

    /* pid 1 runs; as a user other than root kill() answers EPERM: running too */
    write_pidfile("1\n");
    assert_int_equal(postfix_of(&pid, why, sizeof(why)), R);
    assert_int_equal(pid, 1);

    /* a process of another user: as root, a child turned into nobody asks
     * about this (root's) process, and kill() answers EPERM: running */
    if (getuid() == 0) {
        int status;

        snprintf(text, sizeof(text), "%10ld\n", (long)getpid());
        write_pidfile(text);
        assert_int_equal(chmod(tmpdir, 0755), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(3);
            if (kill(getppid(), 0) == 0 || errno != EPERM)
                _exit(4);
            _exit(postfix_of(&pid, why, sizeof(why)) == R && pid == getppid() ? 0 : 5);
        }
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    /* a process that has ended */
    child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    snprintf(text, sizeof(text), "%10ld\n", (long)child);
    write_pidfile(text);
    assert_int_equal(postfix_of(&pid, why, sizeof(why)), S);
    assert_int_equal(pid, child);
    snprintf(want, sizeof(want), "%s/pid/master.pid: process %ld is gone", tmpdir, (long)child);
    assert_string_equal(why, want);

    static const char *const bad[] = {
        "", "\n", "abc\n", "12x\n", "-5\n", "0\n", "99999999999999999999\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_pidfile(bad[i]);
        assert_int_equal(postfix_of(&pid, why, sizeof(why)), U);
        snprintf(want, sizeof(want), "%s/pid/master.pid: not a process id", tmpdir);
        assert_string_equal(why, want);
    }
    assert_int_equal(pm_watch_postfix("", &pid, why, sizeof(why)), U);
    assert_string_equal(why, "postfix.queue_directory is empty");

    snprintf(text, sizeof(text), "%s/pid/master.pid", tmpdir);
    unlink(text);
    snprintf(text, sizeof(text), "%s/pid", tmpdir);
    rmdir(text);
    rmdir(tmpdir);
}

/* Durations as people read them. */
static void
test_duration(void **state)
{
    static const struct {
        long long s;
        const char *want;
    } rows[] = {
        {-3, "0 s"},     {0, "0 s"},          {5, "5 s"},          {119, "119 s"},
        {120, "2 min"},  {600, "10 min"},     {1500, "25 min"},    {7199, "119 min"},
        {7200, "2 h"},   {7500, "2 h 5 min"}, {86400, "24 h"},     {172799, "47 h 59 min"},
        {172800, "2 d"}, {190800, "2 d 5 h"}, {190859, "2 d 5 h"},
    };
    char buf[32];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pm_watch_duration(rows[i].s, buf, sizeof(buf));
        assert_string_equal(buf, rows[i].want);
    }
    assert_string_equal(pm_watch_postfix_name(R), "running");
    assert_string_equal(pm_watch_postfix_name(S), "stopped");
    assert_string_equal(pm_watch_postfix_name(U), "unknown");
    assert_int_equal(pm_watch_postfix_parse("running"), R);
    assert_int_equal(pm_watch_postfix_parse("stopped"), S);
    assert_int_equal(pm_watch_postfix_parse("x"), U);
    assert_int_equal(pm_watch_postfix_parse(NULL), U);
}

/* The exact lines: a unix socket, one that is gone, an inet socket; the
 * first stretch (no connection since the start) and a later one. */
static void
test_lines(void **state)
{
    struct pm_watch w;
    struct pm_watch_facts f = {600, 0, 0, R, 600};
    struct pm_watch_sock unix_sock = {"unix:/var/spool/postfix/postmeter/postmeter.sock", 1, 0,
                                      0140660, "postmeter"};
    struct pm_watch_sock gone = {"unix:/var/spool/postfix/postmeter/postmeter.sock", 1, 2, 0, ""};
    struct pm_watch_sock inet = {"inet:10025@127.0.0.1", 0, 0, 0, ""};
    char line[1024];

    (void)state;
    pm_watch_init(&w);
    f.now = 0;
    pm_watch_step(&w, &f);
    f.now = 600;
    assert_int_equal(pm_watch_step(&w, &f), PM_WATCH_RAISE);
    pm_watch_format_raise(&w, &f, 4321, &unix_sock, line, sizeof(line));
    assert_string_equal(
        line, "postfix watch: no connection from Postfix for 10 min while its master runs (pid "
              "4321; none since postmeter started): Postfix may be unable to connect to "
              "unix:/var/spool/postfix/postmeter/postmeter.sock (mode 0660, group postmeter), "
              "and with milter_default_action = accept mail leaves unmetered; check that user "
              "postfix is in group postmeter, the socket's mode, smtpd_milters in main.cf, and "
              "postfix's log: grep 'connect to Milter service'");
    pm_watch_format_raise(&w, &f, 4321, &gone, line, sizeof(line));
    assert_string_equal(
        line, "postfix watch: no connection from Postfix for 10 min while its master runs (pid "
              "4321; none since postmeter started): Postfix cannot connect to "
              "unix:/var/spool/postfix/postmeter/postmeter.sock: No such file or directory "
              "(restart postmeter to make it again), and with milter_default_action = accept "
              "mail leaves unmetered; postfix's log: grep 'connect to Milter service'");
    f.now = 700;
    f.conns = 3;
    assert_int_equal(pm_watch_step(&w, &f), PM_WATCH_CLEAR);
    assert_string_equal(pm_watch_format_clear(),
                        "postfix watch: Postfix connects again: the no-connection alarm is over");
    f.now = 705;
    f.idle_alarm = 5;
    assert_int_equal(pm_watch_step(&w, &f), PM_WATCH_RAISE);
    pm_watch_format_raise(&w, &f, 77, &inet, line, sizeof(line));
    assert_string_equal(line, "postfix watch: no connection from Postfix for 5 s while its master "
                              "runs (pid 77): Postfix may be unable to connect to "
                              "inet:10025@127.0.0.1, and with milter_default_action = accept "
                              "mail leaves unmetered; check smtpd_milters in main.cf, a "
                              "firewall, and postfix's log: grep 'connect to Milter service'");
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_episodes),        cmocka_unit_test(test_postfix_down),
        cmocka_unit_test(test_open_connection), cmocka_unit_test(test_off_and_short),
        cmocka_unit_test(test_pidfile),         cmocka_unit_test(test_duration),
        cmocka_unit_test(test_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
