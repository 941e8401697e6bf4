/*
 * pf_run.c - postmeterctl runs one of Postfix's tools: "-c DIR" and the
 * arguments, standard input /dev/null, its output handed on piece by piece,
 * what it says on standard error kept (its first line and its last) when
 * asked, and the whole run bounded in time: a tool that hangs is killed
 * (SIGKILL), so postmeterctl never hangs with it.
 *
 * DIAGNOSTICS
 *   -1 with err: what the tool said, or "WHAT failed (exit status N)",
 *   "WHAT was killed by signal N", "WHAT did not finish in N seconds".
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "pf_run.h"

#define STDERR_KEPT 1024
#define EXITED_POLL_MS 20 /* how often a run with no pipe left looks whether the tool ended */

/* What the tool says on stderr: its first line and its last (the fatal
 * one), each bounded, however many warnings come between. */
struct said {
    char first[STDERR_KEPT], last[STDERR_KEPT], cur[STDERR_KEPT];
    size_t ncur;
    int lines; /* complete lines seen */
};

/* Take n bytes of stderr into s. */
static void
said_add(struct said *s, const char *data, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (data[i] == '\n') {
            s->cur[s->ncur] = '\0';
            if (s->lines++ == 0)
                memcpy(s->first, s->cur, s->ncur + 1);
            memcpy(s->last, s->cur, s->ncur + 1);
            s->ncur = 0;
        } else if (s->ncur + 1 < sizeof(s->cur) && (unsigned char)data[i] >= ' ') {
            s->cur[s->ncur++] = data[i];
        }
    }
}

/* Write what the tool said into err: "first; last", or one line, or "". */
static void
said_put(struct said *s, char *err, size_t errlen)
{
    if (s->ncur)
        said_add(s, "\n", 1); /* a last line without its newline */
    if (s->lines == 0)
        err[0] = '\0';
    else if (s->lines == 1 || strcmp(s->first, s->last) == 0)
        snprintf(err, errlen, "%s", s->first);
    else
        snprintf(err, errlen, "%.400s; %.400s", s->first, s->last);
}

/* In the child: wire stdin to /dev/null, stdout and stderr to out and err
 * (-1: ours), and become the tool; never returns. */
static void
exec_tool(const struct pf_run *r, const char **argv, int out, int err)
{
    int devnull = open("/dev/null", O_RDONLY);
    char path[256];

    if (devnull >= 0)
        dup2(devnull, 0);
    if (out >= 0)
        dup2(out, 1);
    if (err >= 0)
        dup2(err, 2);
    if (strchr(r->name, '/')) {
        execv(r->name, (char **)argv);
    } else {
        snprintf(path, sizeof(path), "/usr/sbin/%s", r->name);
        if (access(path, X_OK) == 0)
            execv(path, (char **)argv);
        else
            execvp(r->name, (char **)argv);
    }
    fprintf(stderr, "%scannot run %s: %s\n", err >= 0 ? "" : "postmeterctl: ", r->name,
            strerror(errno));
    _exit(127);
}

/* Fork the tool with its pipes (fd[0]: its stdout, fd[1]: its stderr; -1
 * none); its pid, or -1 with err set. */
static pid_t
spawn(const struct pf_run *r, int fd[2], char *err, size_t errlen)
{
    const char **argv = calloc(r->nargs + 4, sizeof(*argv));
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    size_t n = 0, i;
    pid_t pid = -1;

    if (!argv) {
        snprintf(err, errlen, "%s: out of memory", r->what);
        return -1;
    }
    argv[n++] = r->name;
    if (r->dir) {
        argv[n++] = "-c";
        argv[n++] = r->dir;
    }
    for (i = 0; i < r->nargs; i++)
        argv[n++] = r->args[i];
    if ((r->out && pipe(po) < 0) || (r->keep_stderr && pipe(pe) < 0)) {
        snprintf(err, errlen, "%s: pipe: %s", r->what, strerror(errno));
    } else {
        fflush(NULL);
        if ((pid = fork()) == 0) {
            if (po[0] >= 0)
                close(po[0]);
            if (pe[0] >= 0)
                close(pe[0]);
            exec_tool(r, argv, po[1], pe[1]);
        }
        if (pid < 0)
            snprintf(err, errlen, "%s: fork: %s", r->what, strerror(errno));
    }
    free(argv);
    for (i = 0; i < 2; i++) { /* the parent keeps the read ends of a started child */
        int *p = i == 0 ? po : pe;

        if (p[1] >= 0)
            close(p[1]);
        if (p[0] >= 0 && pid < 0)
            close(p[0]);
        fd[i] = pid < 0 ? -1 : p[0];
    }
    return pid;
}

/* Read the tool's pipes until both end and it exits, at most until deadline;
 * 0 with *status, or -1 (out refused, too slow, poll failed) with err set. */
static int
drain(const struct pf_run *r, pid_t pid, int fd[2], long long deadline, struct said *said,
      int *status, char *err, size_t errlen)
{
    struct pollfd p[2] = {{fd[0], POLLIN, 0}, {fd[1], POLLIN, 0}};
    char chunk[8192];
    ssize_t n;
    int i;

    for (;;) {
        long long left = deadline - pm_mono_ms();
        pid_t w;

        if (p[0].fd < 0 && p[1].fd < 0 && (w = waitpid(pid, status, WNOHANG)) != 0) {
            if (w == pid)
                return 0;
            if (errno != EINTR) {
                snprintf(err, errlen, "%s: waitpid: %s", r->what, strerror(errno));
                return -1;
            }
        }
        if (left <= 0) {
            snprintf(err, errlen, "%s did not finish in %d seconds", r->what, r->seconds);
            return -1;
        }
        if (p[0].fd < 0 && p[1].fd < 0) {
            poll(NULL, 0, left < EXITED_POLL_MS ? (int)left : EXITED_POLL_MS);
            continue;
        }
        if (poll(p, 2, (int)left) < 0 && errno != EINTR) {
            snprintf(err, errlen, "%s: poll: %s", r->what, strerror(errno));
            return -1;
        }
        for (i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if ((n = read(p[i].fd, chunk, sizeof(chunk))) < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                p[i].fd = -1;
            else if (i == 1)
                said_add(said, chunk, (size_t)n);
            else if (r->out(r->arg, chunk, (size_t)n, err, errlen) < 0)
                return -1;
        }
    }
}

/* Run r and wait for it, bounded; 0, or -1 with err set. */
int
pf_run(const struct pf_run *r, char *err, size_t errlen)
{
    long long deadline = pm_mono_ms() + r->seconds * 1000LL;
    struct said said;
    int fd[2], status = 0, rc;
    pid_t pid;

    memset(&said, 0, sizeof(said));
    if ((pid = spawn(r, fd, err, errlen)) < 0)
        return -1;
    rc = drain(r, pid, fd, deadline, &said, &status, err, errlen);
    if (fd[0] >= 0)
        close(fd[0]);
    if (fd[1] >= 0)
        close(fd[1]);
    if (rc < 0) { /* refused, too slow: it ends now */
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    said_put(&said, err, errlen);
    if (err[0])
        return -1;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s failed (exit status %d)", r->what, WEXITSTATUS(status));
    else
        snprintf(err, errlen, "%s was killed by signal %d", r->what, WTERMSIG(status));
    return -1;
}
