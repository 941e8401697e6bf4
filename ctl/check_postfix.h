/*
 * check_postfix.h - postmeterctl check-postfix: what it found, shared by
 * the checks (check_postfix.c, check_postfix_socket.c) and the findings'
 * keeping and printing (check_postfix_out.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CTL_CHECK_POSTFIX_H
#define PM_CTL_CHECK_POSTFIX_H

#include "ctl.h"
#include "pf.h"

#define CP_FINDINGS_MAX 100
#define CP_SEEN_MAX 32
#define CP_FIX_MAX (3 * PF_ADDR_MAX + 256)

/* One thing missing or risky. */
struct cp_finding {
    int error;               /* 1 error, 0 warning */
    char where[PF_ADDR_MAX]; /* "submission/inet", "main.cf", a path */
    char problem[2048];
    char fix[CP_FIX_MAX];
};

/* One run of the checks. */
struct cp {
    struct pf_conf pc;
    const char *queue;    /* queue_directory */
    char pm[PF_ADDR_MAX]; /* where postmeter listens (pf_milter_where_pm) */
    struct cp_finding f[CP_FINDINGS_MAX];
    size_t n, dropped;                   /* findings kept, and those beyond CP_FINDINGS_MAX */
    char seen[CP_SEEN_MAX][PF_ADDR_MAX]; /* addresses already reported by check_paths() */
    size_t n_seen;
};

/* Add a finding (at most CP_FINDINGS_MAX are kept; the others are counted):
 * error 1 or 0 (a warning), where it is, the fix, the problem. */
void cp_add(struct cp *k, int error, const char *where, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Check postmeter's unix socket as Postfix's user meets it. */
void cp_check_socket(struct cp *k);

/* Print the findings (text or JSON); CTL_OK when there are none, else CTL_ERR. */
int cp_print(const struct ctl *c, const struct cp *k);

/* Print why postconf could not be read (dir: --config-dir or NULL); CTL_ERR. */
int cp_print_failure(const struct ctl *c, const char *dir, const char *err);

#endif
