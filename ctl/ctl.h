/*
 * ctl.h - postmeterctl: shared state and helpers of the administrator's tool.
 *
 * Every command gets one struct ctl: the loaded configuration, the output
 * mode and, once asked for, the policy library's store, which owns every key
 * in Redis (reads, writes, and exact probes counted the way the milter
 * counts). Commands return an exit status (CTL_*).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CTL_H
#define PM_CTL_H

#include <stddef.h>
#include <stdio.h>

#include "conf.h"
#include "identity.h"
#include "store.h"

/* Exit statuses scripts can rely on. */
enum {
    CTL_OK = 0,       /* done */
    CTL_ERR = 1,      /* a runtime error: Redis unreachable, bad config file */
    CTL_USAGE = 2,    /* bad usage or argument */
    CTL_NOTFOUND = 3, /* nothing stored for what was asked */
};

#define CTL_DAY 86400LL
#define CTL_KEEP_DAYS 400 /* TTL of overrides and credits, renewed when changed */

struct ctl {
    const char *conf_path;
    struct pm_conf *conf;   /* loaded before any command that needs it */
    int json;               /* --json: one JSON object on stdout */
    struct pm_store *store; /* made and reached by ctl_store() */
    const char *system_tz;  /* TZ as the command started (NULL: unset): the zone of the system's
                             * logs, before the configured zone is set */
};

/* A sender's plan as the milter sees it. */
struct ctl_plan {
    int plan;               /* index in the configuration */
    const char *from;       /* "override", "config rule" or "default" */
    int line;               /* the config rule's line, else 0 */
    struct pm_override ovr; /* the override as stored (ovr.plan "" none) */
    int unknown;            /* the override applies here, but a running postmeter reported, within a
                             * day, that it lacks the plan (it applies the configured one) */
};

/* Command options: names of options taking a value; values come back in the
 * same order (NULL when absent). Positionals are what is left. */
struct ctl_opts {
    const char *const *names; /* NULL-terminated, e.g. {"--expires", "-n", NULL} */
    const char *value[8];
    char *pos[8];
    int npos;
};

/* Split a command's arguments; CTL_OK or CTL_USAGE (message printed). */
int ctl_getopts(const char *cmd, int argc, char **argv, struct ctl_opts *o);

/* Print "postmeterctl: ..." on stderr and return status. */
int ctl_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a whole non-negative number within [0, max]; 0 or -1. */
int ctl_number(const char *text, long long max, long long *out);

/* Normalise a sender argument as the daemon does; CTL_OK or CTL_USAGE. */
int ctl_sender(const char *arg, char *out, size_t outlen);

/* The store, made and reached once (NULL st: only that); CTL_OK, or CTL_ERR
 * after printing why. */
int ctl_store(struct ctl *c, struct pm_store **st);

/* Print a store failure (rc and err, as a store operation gave them); CTL_ERR. */
int ctl_store_fail(int rc, const char *err);

/* Store time, as the scripts reckon it; CTL_OK or CTL_ERR. */
int ctl_now(struct ctl *c, long long *now);

/* The sender's plan as the milter sees it; CTL_OK or CTL_ERR. */
int ctl_plan_of(struct ctl *c, const char *sender, struct ctl_plan *p);

/* Ask the store about the sender the way the milter does (mode probe): msgs
 * messages with rcpts external recipients, cold of them first contacts.
 * CTL_OK or CTL_ERR. */
int ctl_probe(struct ctl *c, const char *sender, long long msgs, long long rcpts, long long cold,
              struct pm_meter_res *res);

/* The user running the command (SUDO_USER when run through sudo). */
const char *ctl_who(void);

/* --- credit.c: grants, shared with status ------------------------------- */

/* A sender's credits (pm_credits_free() them); CTL_OK or CTL_ERR. */
int ctl_credits(struct ctl *c, const char *sender, struct pm_credits *out);

/* 1 when a grant still counts at store time now. */
int ctl_grant_live(const struct pm_grant *g, long long now);

/* Print grants as a JSON array. */
void ctl_grants_json(FILE *f, const struct pm_grant *g, size_t n, long long now);

/* Print grants as indented lines of text. */
void ctl_grants_text(FILE *f, const struct pm_grant *g, size_t n, long long now, int indent);

/* --- out.c: output helpers ----------------------------------------------- */

/* Write s as a JSON string (with quotes). */
void out_json_str(FILE *f, const char *s);

/* A bar of width cells for used against limit (limit 0: blank). */
void out_bar(FILE *f, long long used, long long limit, int width);

/* "used/limit" or "used (no limit)" into buf. */
void out_ratio(char *buf, size_t len, long long used, long long limit);

/* "s" after a count other than 1, else "": "%lld message%s". */
const char *out_s(long long n);

/* "2026-11-27 14:05 UTC" for store time t. */
void out_time(char *buf, size_t len, long long t);

/* Print text word-wrapped to 80 columns, every line indented by indent. */
void out_wrap(FILE *f, const char *text, int indent);

/* The warm-up curve as a small chart, today's stage marked (indent spaces). */
void out_curve_chart(FILE *f, const long long *caps, size_t n, long long stage, int indent);

/* --- commands -------------------------------------------------------------- */

int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_top(struct ctl *c, int argc, char **argv);
int cmd_credit(struct ctl *c, int argc, char **argv);
int cmd_plan(struct ctl *c, int argc, char **argv);
int cmd_warmup(struct ctl *c, int argc, char **argv);
int cmd_contact(struct ctl *c, int argc, char **argv);
int cmd_suppress(struct ctl *c, int argc, char **argv);
int cmd_classify(struct ctl *c, int argc, char **argv);
int cmd_check_postfix(struct ctl *c, int argc, char **argv);
int cmd_learn(struct ctl *c, int argc, char **argv);
int cmd_servers(struct ctl *c, int argc, char **argv);
int cmd_forget(struct ctl *c, int argc, char **argv);
int cmd_migrate(struct ctl *c, int argc, char **argv);
int cmd_incident(struct ctl *c, int argc, char **argv);

/* --- servers.c: the daemons' heartbeats, shared with status ---------------- */

/* The servers with the no-connection alarm: how many, and the first one's text
 * ("HOST: no connection from Postfix for 25 min while Postfix runs") in first;
 * 0 when none or they cannot be read. */
size_t ctl_servers_alarmed(struct ctl *c, char *first, size_t len);

#endif
