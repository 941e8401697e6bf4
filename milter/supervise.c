/*
 * supervise.c - the process that takes postmeter's signals, with the milter
 * in a child process.
 *
 * SYNOPSIS
 *   #include "supervise.h"
 *
 *   pm_supervise_block(); ... pid = pm_supervise_fork(&fd);
 *   if (pid == 0) open the socket, pm_supervise_ready(0), serve, reloading
 *   on every byte read from fd and calling pm_supervise_ready() after each;
 *   else exit(pm_supervise(pid, fd, socket));
 *
 * DESCRIPTION
 *   smfi_main() starts a thread that sigwait()s for SIGHUP, SIGINT and
 *   SIGTERM and stops the milter on any of them, with exit status 0; no
 *   smfi_* call turns it off. The kernel gives a signal sent to a process to
 *   any one of its threads that does not block it, and it passes over a
 *   thread that is busy with, or already has, a pending signal: so in the
 *   process that runs libmilter, a SIGHUP meant for a reload can always
 *   reach libmilter's thread instead, and stop the milter.
 *
 *   Hence two processes. The parent (the process started: the pid that
 *   systemd's $MAINPID and the pid file name) never runs libmilter and has
 *   one thread, which takes every signal with sigwaitinfo(2):
 *     SIGHUP           one byte down the control pipe: the child reloads;
 *     SIGTERM, SIGINT  sent on to the child, whose libmilter stops it
 *                      (SIGINT aborting the connections in progress);
 *     SIGCHLD          the child ended: return its exit status;
 *     SIGUSR1, SIGUSR2 from the child only (si_pid): its socket listens, at
 *                      the start or after a reload (SIGUSR2: a refused one).
 *   Signals of one kind do not queue, so a burst of SIGHUPs is one reload
 *   or more, never a stop.
 *
 *   The parent is also the process that tells systemd (notify.c) how
 *   postmeter is doing, since a Type=notify unit listens to its main
 *   process only: READY=1 once the child reports its socket listening
 *   (Postfix's connections wait in its backlog until libmilter accepts
 *   them), RELOADING=1 on SIGHUP and READY=1 again when the child has
 *   reloaded (or refused the file), STOPPING=1 on SIGTERM and SIGINT. The child ignores SIGHUP (a
 * SIGHUP sent to it directly, as `pkill -HUP postmeter` does, is dropped by the kernel: see
 *   main.c). It is killed when the parent dies (PR_SET_PDEATHSIG), so a
 *   SIGKILL to the process started stops postmeter as before; end of file
 *   on the pipe, should it come first, stops it too.
 *
 * DIAGNOSTICS
 *   pm_supervise() returns the child's exit status, or 1 (logged) when the
 *   child stopped without having been asked to (a crash, a signal sent to it
 *   directly), so that a service manager restarts postmeter.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "supervise.h"

/* The signals the parent waits for. */
static void
parent_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
}

/* Block the signals the supervisor takes. */
void
pm_supervise_block(void)
{
    sigset_t set;

    parent_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Fork the milter process. */
pid_t
pm_supervise_fork(int *ctl_fd)
{
    struct sigaction act;
    sigset_t set;
    int fds[2];
    pid_t pid, parent = getpid();

    if (pipe(fds) != 0 || fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0 ||
        (pid = fork()) < 0) {
        pm_log(PM_LOG_ERR, "cannot start the milter process: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        close(fds[0]);
        *ctl_fd = fds[1];
        return pid;
    }
    close(fds[1]);
    *ctl_fd = fds[0];
    /* the milter never outlives the process that takes its signals */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1);
    memset(&act, 0, sizeof(act));
    act.sa_handler = SIG_IGN;
    sigemptyset(&act.sa_mask);
    sigaction(SIGHUP, &act, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &set, NULL); /* SIGTERM, SIGINT stay blocked */
    return 0;
}

/* Tell the parent that the milter serves. */
void
pm_supervise_ready(int refused)
{
    kill(getppid(), refused ? SIGUSR2 : SIGUSR1);
}

/* Microseconds of CLOCK_MONOTONIC, as RELOADING=1 wants them beside it. */
static unsigned long long
monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* The parent's exit status for the child's wait status. */
static int
exit_status(int status, int asked)
{
    if (WIFSIGNALED(status)) {
        pm_log(PM_LOG_ERR, "the milter process was killed by signal %d (%s)", WTERMSIG(status),
               strsignal(WTERMSIG(status)));
        return 1;
    }
    if (WEXITSTATUS(status) != 0) /* it said why */
        return WEXITSTATUS(status);
    if (!asked) {
        pm_log(PM_LOG_ERR, "the milter process stopped without being asked: exiting with status 1");
        return 1;
    }
    return 0;
}

/* Relay signals to child until it ends. */
int
pm_supervise(pid_t child, int ctl_fd, const char *what)
{
    sigset_t set;
    siginfo_t info;
    int sig, status, asked = 0, ready = 0;

    parent_set(&set);
    for (;;) {
        sig = sigwaitinfo(&set, &info);
        if (sig == SIGHUP) {
            if (ready && !asked)
                pm_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", monotonic_usec());
            /* a full pipe already asks for a reload: the byte is not needed */
            if (write(ctl_fd, "r", 1) < 0 && errno != EAGAIN && errno != EPIPE)
                pm_log(PM_LOG_ERR, "cannot ask for a reload: %s", strerror(errno));
        } else if (sig == SIGTERM || sig == SIGINT) {
            if (!asked)
                pm_notify("STOPPING=1\nSTATUS=stopping");
            asked = 1;
            kill(child, sig);
        } else if ((sig == SIGUSR1 || sig == SIGUSR2) && info.si_pid == child) {
            ready = 1;
            if (!asked)
                pm_notify("READY=1\nSTATUS=serving %s%s", what,
                          sig == SIGUSR2 ? "; the last reload was refused (see the log)" : "");
        } else if (sig == SIGCHLD) {
            if (waitpid(child, &status, WNOHANG) == child)
                break;
        } else if (sig < 0 && errno != EINTR) {
            pm_log(PM_LOG_ERR, "sigwaitinfo: %s", strerror(errno));
            kill(child, SIGTERM);
            waitpid(child, &status, 0);
            close(ctl_fd);
            return 1;
        }
    }
    close(ctl_fd);
    return exit_status(status, asked);
}
