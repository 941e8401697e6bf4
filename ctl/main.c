/*
 * main.c - postmeterctl: see and steer every sender of postmeter.
 *
 * SYNOPSIS
 *   postmeterctl [-c file] [--json] command [arguments]
 *
 * DESCRIPTION
 *   Reads the daemon's configuration (default
 *   PM_SYSCONFDIR/postmeter/postmeter.conf) to find Redis and the plans, then
 *   runs one command: status, top, credit, plan, warmup, contact, suppress,
 *   classify, learn, check-config, check-postfix, servers, forget or
 *   incident. Every command prints text
 *   for an 80-column terminal, or one JSON object with --json.
 *
 * DIAGNOSTICS
 *   Exit 0 on success, 1 on a runtime error (Redis unreachable, unreadable
 *   configuration), 2 on bad usage or a bad argument, 3 when nothing is stored
 *   for what was asked. check-postfix exits 1 when it finds a problem.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "zone.h"

#define DEFAULT_CONF PM_SYSCONFDIR "/postmeter/postmeter.conf"

static const char usage_text[] =
    "usage: postmeterctl [-c file] [--json] command [arguments]\n"
    "commands:\n"
    "  status [SENDER]               learning mode; usage, limits, warm-up, credits of a sender\n"
    "  top [--by day|hour|bounces|replies] [-n N]  the busiest senders\n"
    "  credit add SENDER N [--recipients N] [--expires 30d|12h|YYYY-MM-DD] [--note TEXT]\n"
    "  credit show SENDER            credit grants and movements\n"
    "  credit revoke SENDER ID       withdraw what is left of a grant\n"
    "  plan set SENDER PLAN | plan clear SENDER | plan show SENDER\n"
    "  warmup reset SENDER|--domain D | warmup skip SENDER|--domain D [--to-stage N]\n"
    "  contact check SENDER RCPT     is RCPT a known contact of SENDER\n"
    "  suppress list [-n N] [--domain D]   suppressed (hard-bounced) addresses, per company\n"
    "  suppress add RCPT [--domain D] [--days N] [--status X.Y.Z]\n"
    "  suppress del|check RCPT [--domain D] | suppress migrate\n"
    "  classify FILE [--recipients N] [--external N] [--cold N]\n"
    "  learn --maillog FILE... [--state FILE] [--checkpoint N] [--dry-run]\n"
    "                                seed contacts and established senders from Postfix's logs\n"
    "  check-config [FILE]           check a configuration file\n"
    "  check-postfix [--config-dir DIR]  what Postfix's configuration misses or risks\n"
    "  servers                       every postmeter: last connection from Postfix, alarm\n"
    "  forget --all [--yes]          delete every key of the configured prefix from Redis\n"
    "  migrate                       move the keys of an earlier key layout to the current one\n"
    "  incident list | incident show SENDER   senders whose outgoing mail is stopped\n"
    "  incident open SENDER [--note TEXT] [--hours N] [--force]   stop a sender's mail by hand\n"
    "  incident release SENDER [--requeue | --drop] [--config-dir DIR]\n"
    "                                end it everywhere; deliver or delete this server's held mail\n"
    "default configuration file: " DEFAULT_CONF "\n";

/* Print usage to stderr; return the bad-usage status. */
static int
usage(void)
{
    fputs(usage_text, stderr);
    return CTL_USAGE;
}

/* Load the configuration; CTL_OK or CTL_ERR. */
static int
load_conf(struct ctl *c, const char *path)
{
    char err[1024];

    if (pm_conf_load(path, &c->conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return CTL_ERR;
    }
    pm_zone_set(c->conf->timezone); /* times are shown in the configured zone */
    return CTL_OK;
}

/* check-config's JSON answer. */
static void
check_config_json(const char *path, const struct pm_conf *conf, const char *user)
{
    size_t i;

    fputs("{\"file\":", stdout);
    out_json_str(stdout, path);
    if (!conf) {
        fputs(",\"ok\":false}\n", stdout);
        return;
    }
    printf(",\"ok\":true,\"plans\":%zu,\"rules\":%zu,\"user\":", conf->n_plans, conf->n_rules);
    if (user)
        out_json_str(stdout, user);
    else
        fputs("null", stdout);
    fputs(",\"warnings\":[", stdout);
    for (i = 0; i < conf->n_warnings; i++) {
        fputs(i ? "," : "", stdout);
        out_json_str(stdout, conf->warnings[i]);
    }
    fputs("]}\n", stdout);
}

/* check-config [FILE]: load and validate a configuration file, as the user
 * postmeter runs as too when run as root. */
static int
cmd_check_config(struct ctl *c, int argc, char **argv)
{
    const char *path = argc > 0 ? argv[0] : c->conf_path, *user;
    char err[1024];
    int rc, check;
    size_t i;

    if (argc > 1)
        return ctl_fail(CTL_USAGE, "check-config: too many arguments");
    if ((rc = load_conf(c, path)) != CTL_OK) {
        if (c->json)
            check_config_json(path, NULL, NULL);
        return rc;
    }
    if ((check = pm_conf_check_as_user(path, c->conf, err, sizeof(err))) < 0) {
        fprintf(stderr, "%s\n", err);
        if (c->json)
            check_config_json(path, NULL, NULL);
        return CTL_ERR;
    }
    for (i = 0; i < c->conf->n_warnings; i++)
        fprintf(stderr, "%s\n", c->conf->warnings[i]);
    if (check == PM_CONF_USER_CANNOT)
        fprintf(stderr, "%s\n", err);
    user = check == PM_CONF_USER_OK ? c->conf->user : NULL;
    if (c->json)
        check_config_json(path, c->conf, user);
    else if (user)
        printf("%s: configuration OK (and readable by user %s)\n", path, user);
    else
        printf("%s: configuration OK\n", path);
    return CTL_OK;
}

/* One command of the dispatch table. */
struct command {
    const char *name;
    int (*run)(struct ctl *c, int argc, char **argv);
    int needs_conf; /* load the configuration first */
};

static const struct command commands[] = {
    {"status", cmd_status, 1},
    {"top", cmd_top, 1},
    {"credit", cmd_credit, 1},
    {"plan", cmd_plan, 1},
    {"warmup", cmd_warmup, 1},
    {"contact", cmd_contact, 1},
    {"suppress", cmd_suppress, 1},
    {"classify", cmd_classify, 1},
    {"learn", cmd_learn, 1},
    {"check-config", cmd_check_config, 0},
    {"check-postfix", cmd_check_postfix, 1},
    {"servers", cmd_servers, 1},
    {"forget", cmd_forget, 1},
    {"migrate", cmd_migrate, 1},
    {"incident", cmd_incident, 1},
};

/* Entry point. */
int
main(int argc, char **argv)
{
    struct ctl c;
    char **rest = calloc((size_t)argc + 1, sizeof(*rest));
    int nrest = 0, i, rc;
    size_t k;

    signal(SIGPIPE, SIG_IGN); /* a write to a closed Redis socket is an error, not death */
    memset(&c, 0, sizeof(c));
    c.conf_path = DEFAULT_CONF;
    c.system_tz = getenv("TZ"); /* before the configured zone replaces it */
    if (c.system_tz)
        c.system_tz = strdup(c.system_tz);
    if (!rest || (getenv("TZ") && !c.system_tz)) {
        free(rest);
        return ctl_fail(CTL_ERR, "out of memory");
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
            c.json = 1;
        } else if (nrest == 0 && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)) {
            if (++i == argc) {
                rc = ctl_fail(CTL_USAGE, "%s needs a file", argv[i - 1]);
                goto out;
            }
            c.conf_path = argv[i];
        } else if (nrest == 0 && strncmp(argv[i], "--config=", 9) == 0) {
            c.conf_path = argv[i] + 9;
        } else if (nrest == 0 && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
                                  strcmp(argv[i], "help") == 0)) {
            fputs(usage_text, stdout);
            rc = CTL_OK;
            goto out;
        } else if (nrest == 0 &&
                   (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0)) {
            printf("postmeterctl %s\n", PACKAGE_VERSION);
            rc = CTL_OK;
            goto out;
        } else if (nrest == 0 && argv[i][0] == '-') {
            ctl_fail(CTL_USAGE, "unknown option %s", argv[i]);
            rc = usage();
            goto out;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (nrest == 0) {
        rc = usage();
        goto out;
    }
    for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (strcmp(commands[k].name, rest[0]) == 0)
            break;
    if (k == sizeof(commands) / sizeof(commands[0])) {
        ctl_fail(CTL_USAGE, "unknown command \"%s\"", rest[0]);
        rc = usage();
        goto out;
    }
    if (commands[k].needs_conf && (rc = load_conf(&c, c.conf_path)) != CTL_OK)
        goto out;
    rc = commands[k].run(&c, nrest - 1, rest + 1);
out:
    fflush(stdout);
    if (c.store)
        pm_store_free(c.store);
    if (c.conf)
        pm_conf_free(c.conf);
    free((char *)c.system_tz);
    free(rest);
    return rc;
}
