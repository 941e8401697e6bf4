/*
 * pf_run.h - postmeterctl runs one of Postfix's tools (postconf, postqueue,
 * postsuper), bounded in time (pf_run.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CTL_PF_RUN_H
#define PM_CTL_PF_RUN_H

#include <stddef.h>

/* One run of a tool. */
struct pf_run {
    /* "postqueue": /usr/sbin/NAME, else NAME on PATH; a path when it holds a '/' */
    const char *name;
    const char *what;        /* how errors name the run: "postqueue -j" */
    const char *dir;         /* "-c DIR" before args, unless NULL */
    const char *const *args; /* nargs arguments */
    size_t nargs;
    int seconds; /* past this the tool is killed and the run fails */
    /* its standard output, piece by piece (NULL: it goes to ours); -1 (err
     * set) kills the tool and fails the run */
    int (*out)(void *arg, const char *data, size_t n, char *err, size_t errlen);
    void *arg; /* for out */
    /* 1: its standard error is read, and its first and last lines are the
     * error of a failure; 0: it goes to ours */
    int keep_stderr;
};

/* Run r (standard input /dev/null) and wait for it, at most r->seconds; 0
 * when it exited 0, else -1 with why in err. */
int pf_run(const struct pf_run *r, char *err, size_t errlen);

#endif
